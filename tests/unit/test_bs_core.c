/*
 * test_bs_core: the base-station logic (firmware/bs/bs_core.c) against a
 * gateway made of the real esl_link, over fake wires, with a fake radio and
 * a fake clock. BOOT at start; HELLO / HELLO_R (and an unsupported version);
 * a whole image transfer (PackBits, chunked, per-chunk replies, radio reads
 * back the same bytes, RESULT, then ALREADY); resume after an interrupted
 * transfer (gateway link session reset mid-image); a station reset (new
 * boot_id in BOOT, transfer state gone, the gateway resends from 0); BUSY
 * when slots or pool run out, and eviction of stalled transfers; chunk
 * errors (NO_XFER, GAP, beyond the end); superseding content; flash and
 * page results; radio refusing at once; check-in batching and LABELS_REQ
 * replay; request validation (TYPE_MISMATCH, BAD_REQUEST, UNSUPPORTED);
 * ERROR for unknown and malformed frames.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bs_core.h"

#define WIRE_CAP (1u << 20)

struct wire {
	uint8_t buf[WIRE_CAP];
	size_t n;
	bool cut;
};

struct rxmsg {
	uint8_t type;
	uint16_t len;
	uint8_t p[ESL_MAX_PAYLOAD];
};

/* Fake radio: records each operation; the test completes them with bs_radio_done. */
struct radio_op {
	uint8_t kind;
	uint16_t handle;
	uint32_t label;
	struct bs_image img;
};

static struct bs bs;
static struct wire to_gw, to_bs;
static struct esl_link gw;
static struct rxmsg rx[512];
static unsigned nrx, nbatch;
static struct radio_op ops[128];
static unsigned nops;
static uint8_t radio_refuse; /* non-zero: the radio answers this at once */
static uint32_t now;

static uint32_t rnd_next(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static int wire_write(void *arg, const uint8_t *p, size_t n)
{
	struct wire *w = arg;

	if (w->cut)
		return 0;
	assert_true(w->n + n <= WIRE_CAP);
	memcpy(w->buf + w->n, p, n);
	w->n += n;
	return 0;
}

static uint8_t r_image(void *arg, uint16_t handle, const struct bs_image *img)
{
	(void)arg;
	if (radio_refuse)
		return radio_refuse;
	ops[nops++] = (struct radio_op){ESL_K_IMAGE, handle, img->label, *img};
	return ESL_ST_OK;
}

static uint8_t r_flash(void *arg, uint16_t handle, const struct esl_flash *f)
{
	(void)arg;
	ops[nops++] = (struct radio_op){.kind = ESL_K_FLASH, .handle = handle, .label = f->label};
	return ESL_ST_OK;
}

static uint8_t r_page(void *arg, uint16_t handle, const struct esl_page *p)
{
	(void)arg;
	if (radio_refuse)
		return radio_refuse;
	ops[nops++] = (struct radio_op){.kind = ESL_K_PAGE, .handle = handle, .label = p->label};
	return ESL_ST_OK;
}

static const struct bs_radio_ops radio = {r_image, r_flash, r_page};

static void station_start(uint32_t boot_id)
{
	struct bs_config c = {.write = wire_write,
			      .write_arg = &to_gw,
			      .radio = &radio,
			      .boot_id = boot_id,
			      .caps = ESL_CAP_PACKBITS | ESL_CAP_FLASH | ESL_CAP_PAGE};

	nops = 0;
	bs_init(&bs, &c, now);
}

static void gw_start(uint16_t sid)
{
	struct esl_link_cfg c = {.write = wire_write,
				 .arg = &to_bs,
				 .sid = sid,
				 .window = 8,
				 .max_retries = 5,
				 .rto_ms = 200,
				 .max_payload = ESL_MAX_PAYLOAD};

	esl_link_init(&gw, &c);
}

static int setup(void **state)
{
	(void)state;
	now = 1000;
	nrx = 0;
	nbatch = 0;
	nops = 0;
	radio_refuse = 0;
	to_gw.n = to_bs.n = 0;
	to_gw.cut = to_bs.cut = false;
	gw_start(0x4000);
	station_start(0xB0070001);
	return 0;
}

static void collect(const struct esl_frame *f)
{
	assert_true(nrx < 512);
	rx[nrx].type = f->type;
	rx[nrx].len = f->len;
	memcpy(rx[nrx].p, f->payload, f->len);
	nrx++;
}

/* Move bytes both ways until the line is quiet; the gateway collects what it receives. */
static void pump(void)
{
	struct esl_frame f;

	for (int round = 0; round < 100; round++) {
		bool moved = to_gw.n || to_bs.n;

		if (to_bs.n) {
			size_t n = to_bs.n;

			to_bs.n = 0;
			bs_input(&bs, to_bs.buf, n, now);
		}
		for (size_t off = 0; off < to_gw.n;) {
			off += esl_link_feed(&gw, to_gw.buf + off, to_gw.n - off);
			while (esl_link_next(&gw, now, &f)) {
				if (f.type == ESL_T_BATCH) {
					struct esl_frame m;
					size_t boff = 0;
					int rc;

					nbatch++;
					while ((rc = esl_batch_next(&f, &boff, &m)) == 1)
						collect(&m);
					assert_int_equal(rc, 0);
				} else {
					collect(&f);
				}
			}
		}
		to_gw.n = 0;
		esl_link_poll(&gw, now);
		bs_poll(&bs, now);
		if (!moved && !to_gw.n && !to_bs.n)
			return;
	}
	fail_msg("the line never went quiet");
}

static void gw_send(uint8_t type, const uint8_t *p, int len)
{
	assert_true(len >= 0);
	/* let the window drain first */
	for (int i = 0; i < 10 && !esl_link_can_send(&gw); i++)
		pump();
	assert_int_equal(esl_link_send(&gw, type, p, (uint16_t)len, now), 0);
}

/* The @k-th from last received message of @type (0: last), or NULL. */
static const struct rxmsg *last_of(uint8_t type, unsigned k)
{
	for (unsigned i = nrx; i-- > 0;)
		if (rx[i].type == type && k-- == 0)
			return &rx[i];
	return NULL;
}

static unsigned count_of(uint8_t type)
{
	unsigned n = 0;

	for (unsigned i = 0; i < nrx; i++)
		n += rx[i].type == type;
	return n;
}

/* A test image 296 x 128 x @planes with a pattern depending on @seed, PackBits-encoded. */
struct img {
	uint8_t raw[ESL_IMG_MAX_BYTES];
	uint8_t enc[ESL_IMG_MAX_BYTES + 512];
	uint32_t raw_len, enc_len;
	struct esl_image im;
	uint64_t hash;
};

static struct img img_a, img_b;

static void make_img(struct img *g, uint16_t w, uint16_t h, uint8_t planes, unsigned seed)
{
	g->raw_len = esl_img_bytes(w, h, planes);
	for (uint32_t i = 0; i < g->raw_len; i++)
		g->raw[i] = ((i / 37) % 5 == seed % 5) ? (uint8_t)(i * seed) : 0;
	g->im = (struct esl_image){w, h, planes, g->raw};
	g->hash = esl_img_hash(&g->im);
	g->enc_len = (uint32_t)esl_pack_encode(g->raw, g->raw_len, g->enc, sizeof(g->enc));
	assert_true(g->enc_len > 0);
}

static void send_begin(uint32_t label, uint16_t xfer, const struct img *g, uint8_t type)
{
	struct esl_img_begin m = {.label = label,
				  .xfer = xfer,
				  .enc = ESL_IMG_ENC_PACKBITS,
				  .type = type,
				  .hash = g->hash,
				  .width = g->im.width,
				  .height = g->im.height,
				  .planes = g->im.planes,
				  .raw_len = g->raw_len,
				  .enc_len = g->enc_len};
	uint8_t b[64];

	gw_send(ESL_T_IMG_BEGIN, b, esl_enc_img_begin(b, sizeof(b), &m));
	pump();
}

static void send_chunks(uint16_t xfer, const struct img *g, uint32_t from, uint32_t to)
{
	static uint8_t b[ESL_MAX_PAYLOAD];

	for (uint32_t off = from; off < to; off += ESL_CHUNK_MAX) {
		uint32_t n = to - off < ESL_CHUNK_MAX ? to - off : ESL_CHUNK_MAX;
		struct esl_img_chunk c = {xfer, off, (uint16_t)n, g->enc + off};

		gw_send(ESL_T_IMG_CHUNK, b, esl_enc_img_chunk(b, sizeof(b), &c));
	}
	pump();
}

static struct esl_img_begin_r last_begin_r(void)
{
	struct esl_img_begin_r r;
	const struct rxmsg *m = last_of(ESL_T_IMG_BEGIN_R, 0);

	assert_non_null(m);
	assert_int_equal(esl_dec_img_begin_r(m->p, m->len, &r), 0);
	return r;
}

static struct esl_img_chunk_r last_chunk_r(void)
{
	struct esl_img_chunk_r r;
	const struct rxmsg *m = last_of(ESL_T_IMG_CHUNK_R, 0);

	assert_non_null(m);
	assert_int_equal(esl_dec_img_chunk_r(m->p, m->len, &r), 0);
	return r;
}

static struct esl_result last_result(void)
{
	struct esl_result r;
	const struct rxmsg *m = last_of(ESL_T_RESULT, 0);

	assert_non_null(m);
	assert_int_equal(esl_dec_result(m->p, m->len, &r), 0);
	return r;
}

/* What the radio would send over the air equals what the gateway encoded. */
static void check_radio_copy(const struct radio_op *op, const struct img *g)
{
	static uint8_t got[ESL_IMG_MAX_BYTES + 512], dec[ESL_IMG_MAX_BYTES];

	assert_int_equal(op->img.enc_len, g->enc_len);
	assert_int_equal(bs_image_read(&bs, op->handle, 0, got, g->enc_len), 0);
	assert_memory_equal(got, g->enc, g->enc_len);
	assert_int_equal(esl_pack_decode(got, g->enc_len, dec, g->raw_len), 0);
	assert_memory_equal(dec, g->raw, g->raw_len);
	assert_int_equal(bs_image_read(&bs, op->handle, 1, got, g->enc_len), -ESL_EINVAL);
}

static void test_boot_and_hello(void **state)
{
	struct esl_hello h = {ESL_PROTO_VERSION, ESL_PROTO_MIN_VERSION, 8, ESL_CAP_PACKBITS};
	struct esl_hello_r r;
	uint8_t b[32];

	(void)state;
	pump();
	assert_int_equal(count_of(ESL_T_BOOT), 1);
	assert_int_equal(esl_dec_hello_r(last_of(ESL_T_BOOT, 0)->p, ESL_HELLO_R_LEN, &r), 0);
	assert_int_equal(r.boot_id, 0xB0070001);
	gw_send(ESL_T_HELLO, b, esl_enc_hello(b, sizeof(b), &h));
	pump();
	assert_int_equal(esl_dec_hello_r(last_of(ESL_T_HELLO_R, 0)->p, ESL_HELLO_R_LEN, &r), 0);
	assert_int_equal(r.status, ESL_ST_OK);
	assert_int_equal(r.proto, ESL_PROTO_VERSION);
	assert_int_equal(r.boot_id, 0xB0070001);
	assert_int_equal(r.max_chunk, ESL_CHUNK_MAX);
	assert_int_equal(r.buffers, BS_MAX_XFERS);
	assert_int_equal(r.pool_bytes, BS_POOL_BLOCKS * BS_BLOCK_SIZE);
	assert_true(r.caps & ESL_CAP_PACKBITS);
	/* a gateway that only speaks a future version */
	h.proto = 9;
	h.min_proto = 9;
	gw_send(ESL_T_HELLO, b, esl_enc_hello(b, sizeof(b), &h));
	pump();
	assert_int_equal(esl_dec_hello_r(last_of(ESL_T_HELLO_R, 0)->p, ESL_HELLO_R_LEN, &r), 0);
	assert_int_equal(r.status, ESL_ST_UNSUPPORTED);
	assert_int_equal(esl_link_in_flight(&gw), 0);
	assert_int_equal(esl_link_in_flight(&bs.link), 0);
}

static void test_image_transfer(void **state)
{
	struct esl_img_begin_r br;
	struct esl_img_chunk_r cr;
	struct esl_result res;

	(void)state;
	make_img(&img_a, 296, 128, 2, 3);
	assert_true(img_a.enc_len > 2 * ESL_CHUNK_MAX); /* several chunks */
	pump();
	send_begin(0xE1000001, 11, &img_a, ESL_LT_29_BWR);
	br = last_begin_r();
	assert_int_equal(br.status, ESL_ST_OK);
	assert_int_equal(br.next_offset, 0);
	assert_int_equal(br.xfer, 11);
	send_chunks(11, &img_a, 0, img_a.enc_len);
	assert_int_equal(count_of(ESL_T_IMG_CHUNK_R),
			 (img_a.enc_len + ESL_CHUNK_MAX - 1) / ESL_CHUNK_MAX);
	cr = last_chunk_r();
	assert_int_equal(cr.status, ESL_ST_OK);
	assert_int_equal(cr.done, 1);
	assert_int_equal(cr.next_offset, img_a.enc_len);
	assert_int_equal(nops, 1);
	assert_int_equal(ops[0].kind, ESL_K_IMAGE);
	assert_int_equal(ops[0].label, 0xE1000001);
	assert_true(ops[0].img.hash == img_a.hash);
	check_radio_copy(&ops[0], &img_a);
	/* while the radio has it, the same BEGIN says IN_PROGRESS */
	send_begin(0xE1000001, 12, &img_a, 0);
	assert_int_equal(last_begin_r().status, ESL_ST_IN_PROGRESS);
	assert_int_equal(count_of(ESL_T_RESULT), 0);
	bs_radio_done(&bs, ops[0].handle, ESL_ST_OK, 1);
	pump();
	res = last_result();
	assert_int_equal(res.status, ESL_ST_OK);
	assert_int_equal(res.kind, ESL_K_IMAGE);
	assert_int_equal(res.label, 0xE1000001);
	assert_int_equal(res.tag, 12); /* the newest tag the gateway used */
	assert_true(res.hash == img_a.hash);
	assert_int_equal(bs_xfers_active(&bs), 0);
	assert_int_equal(bs.free_blocks, BS_POOL_BLOCKS);
	/* the label shows it now: ALREADY */
	send_begin(0xE1000001, 13, &img_a, 0);
	assert_int_equal(last_begin_r().status, ESL_ST_ALREADY);
	/* a late chunk of the finished transfer: NO_XFER */
	send_chunks(11, &img_a, 0, 100);
	assert_int_equal(last_chunk_r().status, ESL_ST_NO_XFER);
	assert_int_equal(bs.st.outq_full, 0);
}

static void test_resume_after_glitch(void **state)
{
	struct esl_img_begin_r br;

	(void)state;
	make_img(&img_a, 296, 128, 2, 4);
	pump();
	send_begin(0xE1000002, 20, &img_a, 0);
	send_chunks(20, &img_a, 0, 2 * ESL_CHUNK_MAX);
	/* the line drops out while the next chunk is on it; the gateway's link gives up */
	to_bs.cut = true;
	send_chunks(20, &img_a, 2 * ESL_CHUNK_MAX, 3 * ESL_CHUNK_MAX);
	to_bs.cut = false;
	esl_link_reset(&gw, 0);
	/* the gateway asks again: the station wants the rest only */
	send_begin(0xE1000002, 21, &img_a, 0);
	br = last_begin_r();
	assert_int_equal(br.status, ESL_ST_OK);
	assert_int_equal(br.next_offset, 2 * ESL_CHUNK_MAX);
	assert_int_equal(bs.st.images_resumed, 1);
	/* a chunk past what the station has is refused with GAP */
	send_chunks(21, &img_a, 3 * ESL_CHUNK_MAX, 4 * ESL_CHUNK_MAX);
	assert_int_equal(last_chunk_r().status, ESL_ST_GAP);
	assert_int_equal(last_chunk_r().next_offset, 2 * ESL_CHUNK_MAX);
	send_chunks(21, &img_a, br.next_offset, img_a.enc_len);
	assert_int_equal(last_chunk_r().done, 1);
	assert_int_equal(nops, 1);
	check_radio_copy(&ops[0], &img_a);
}

static void test_station_reset(void **state)
{
	struct esl_hello_r r;

	(void)state;
	make_img(&img_a, 296, 128, 1, 2);
	pump();
	send_begin(0xE1000003, 30, &img_a, 0);
	send_chunks(30, &img_a, 0, ESL_CHUNK_MAX);
	nrx = 0;
	/* power cut: the station comes back with a new boot_id and nothing in RAM */
	station_start(0xB0070002);
	pump();
	assert_int_equal(count_of(ESL_T_BOOT), 1);
	assert_int_equal(esl_dec_hello_r(last_of(ESL_T_BOOT, 0)->p, ESL_HELLO_R_LEN, &r), 0);
	assert_int_equal(r.boot_id, 0xB0070002);
	assert_int_equal(gw.st.peer_sessions, 2);
	/* the gateway re-sends what is pending: from 0 this time */
	send_begin(0xE1000003, 31, &img_a, 0);
	assert_int_equal(last_begin_r().status, ESL_ST_OK);
	assert_int_equal(last_begin_r().next_offset, 0);
	send_chunks(31, &img_a, 0, img_a.enc_len);
	assert_int_equal(last_chunk_r().done, 1);
	check_radio_copy(&ops[0], &img_a);
}

static void test_busy_and_eviction(void **state)
{
	unsigned fit = BS_POOL_BLOCKS / 15, i;
	struct esl_img_begin_r br;

	(void)state;
	make_img(&img_b, 400, 300, 2, 1); /* 30000 raw bytes */
	/* send it raw so each takes 30 blocks */
	pump();
	for (i = 0; i < BS_POOL_BLOCKS / 30; i++) {
		struct esl_img_begin m = {.label = 0xE2000000 + i,
					  .xfer = (uint16_t)(100 + i),
					  .enc = ESL_IMG_ENC_RAW,
					  .hash = img_b.hash,
					  .width = 400,
					  .height = 300,
					  .planes = 2,
					  .raw_len = img_b.raw_len,
					  .enc_len = img_b.raw_len};
		uint8_t b[64];

		gw_send(ESL_T_IMG_BEGIN, b, esl_enc_img_begin(b, sizeof(b), &m));
		pump();
		assert_int_equal(last_begin_r().status, ESL_ST_OK);
	}
	(void)fit;
	{
		struct esl_img_begin m = {.label = 0xE2000100,
					  .xfer = 199,
					  .enc = ESL_IMG_ENC_RAW,
					  .hash = img_b.hash,
					  .width = 400,
					  .height = 300,
					  .planes = 2,
					  .raw_len = img_b.raw_len,
					  .enc_len = img_b.raw_len};
		uint8_t b[64];

		gw_send(ESL_T_IMG_BEGIN, b, esl_enc_img_begin(b, sizeof(b), &m));
		pump();
		br = last_begin_r();
		assert_int_equal(br.status, ESL_ST_BUSY);
		assert_int_equal(br.retry_ms, BS_BUSY_RETRY_MS);
		/* after the others stalled long enough, one of them makes room */
		now += BS_XFER_IDLE_MS;
		gw_send(ESL_T_IMG_BEGIN, b, esl_enc_img_begin(b, sizeof(b), &m));
		pump();
		assert_int_equal(last_begin_r().status, ESL_ST_OK);
		assert_int_equal(bs.st.evicted, 1);
	}
	/* slots run out too: small images, each in flight with the radio */
	setup(NULL);
	make_img(&img_a, 296, 128, 1, 1);
	pump();
	for (i = 0; i < BS_MAX_XFERS; i++) {
		send_begin(0xE3000000 + i, (uint16_t)(300 + i), &img_a, 0);
		assert_int_equal(last_begin_r().status, ESL_ST_OK);
		send_chunks((uint16_t)(300 + i), &img_a, 0, img_a.enc_len);
	}
	assert_int_equal(nops, BS_MAX_XFERS);
	send_begin(0xE3000100, 999, &img_a, 0);
	assert_int_equal(last_begin_r().status, ESL_ST_BUSY);
	/* with the radio they are never evicted; a result frees a slot */
	now += 10 * BS_XFER_IDLE_MS;
	send_begin(0xE3000100, 999, &img_a, 0);
	assert_int_equal(last_begin_r().status, ESL_ST_BUSY);
	/* flash requests share the slots: BUSY result at once */
	{
		struct esl_flash fl = {0xE3000001, 5, ESL_LED_GREEN, 2, 100, 100};
		uint8_t b[32];

		gw_send(ESL_T_FLASH, b, esl_enc_flash(b, sizeof(b), &fl));
		pump();
		assert_int_equal(last_result().status, ESL_ST_BUSY);
		assert_int_equal(last_result().kind, ESL_K_FLASH);
	}
	bs_radio_done(&bs, ops[0].handle, ESL_ST_NO_RESPONSE, 3);
	pump();
	assert_int_equal(last_result().status, ESL_ST_NO_RESPONSE);
	assert_int_equal(last_result().attempts, 3);
	send_begin(0xE3000100, 999, &img_a, 0);
	assert_int_equal(last_begin_r().status, ESL_ST_OK);
	assert_int_equal(bs.st.outq_full, 0);
}

static void test_chunk_errors_and_supersede(void **state)
{
	(void)state;
	make_img(&img_a, 296, 128, 1, 1);
	make_img(&img_b, 296, 128, 1, 2);
	pump();
	send_chunks(77, &img_a, 0, 10);
	assert_int_equal(last_chunk_r().status, ESL_ST_NO_XFER);
	send_begin(0xE1000004, 40, &img_a, 0);
	send_chunks(40, &img_a, 0, ESL_CHUNK_MAX);
	/* a chunk running past the end of the image */
	{
		static uint8_t b[ESL_MAX_PAYLOAD], data[ESL_CHUNK_MAX];
		struct esl_img_chunk c = {40, img_a.enc_len - 10, 20, data};

		if (img_a.enc_len - 10 <= ESL_CHUNK_MAX) {
			c.offset = ESL_CHUNK_MAX;
			c.len = (uint16_t)(img_a.enc_len - ESL_CHUNK_MAX + 1);
		}
		gw_send(ESL_T_IMG_CHUNK, b, esl_enc_img_chunk(b, sizeof(b), &c));
		pump();
		assert_true(last_chunk_r().status == ESL_ST_BAD_REQUEST ||
			    last_chunk_r().status == ESL_ST_GAP);
	}
	/* new content for the same label replaces the half-received one */
	send_begin(0xE1000004, 41, &img_b, 0);
	assert_int_equal(last_begin_r().status, ESL_ST_OK);
	assert_int_equal(last_begin_r().next_offset, 0);
	assert_int_equal(bs_xfers_active(&bs), 1);
	send_chunks(40, &img_a, ESL_CHUNK_MAX, 2 * ESL_CHUNK_MAX);
	assert_int_equal(last_chunk_r().status, ESL_ST_NO_XFER);
	/* IMG_ABORT frees it */
	{
		struct esl_img_abort a = {0xE1000004, 41};
		uint8_t b[16];

		gw_send(ESL_T_IMG_ABORT, b, esl_enc_img_abort(b, sizeof(b), &a));
		pump();
		assert_int_equal(bs_xfers_active(&bs), 0);
		assert_int_equal(bs.free_blocks, BS_POOL_BLOCKS);
	}
}

static void test_flash_page_and_refusal(void **state)
{
	struct esl_flash fl = {0xE1000005, 7, ESL_LED_RED, 3, 200, 300};
	struct esl_page pg = {0xE1000005, 8, 1, 10};
	uint8_t b[32];
	struct esl_result r;

	(void)state;
	pump();
	gw_send(ESL_T_FLASH, b, esl_enc_flash(b, sizeof(b), &fl));
	gw_send(ESL_T_PAGE, b, esl_enc_page(b, sizeof(b), &pg));
	pump();
	assert_int_equal(nops, 2);
	assert_int_equal(ops[0].kind, ESL_K_FLASH);
	assert_int_equal(ops[1].kind, ESL_K_PAGE);
	bs_radio_done(&bs, ops[1].handle, ESL_ST_OK, 1);
	bs_radio_done(&bs, ops[0].handle, ESL_ST_NO_RESPONSE, 2);
	bs_radio_done(&bs, ops[0].handle, ESL_ST_OK, 2); /* twice: ignored */
	pump();
	assert_int_equal(count_of(ESL_T_RESULT), 2);
	assert_int_equal(esl_dec_result(last_of(ESL_T_RESULT, 1)->p, ESL_RESULT_LEN, &r), 0);
	assert_int_equal(r.kind, ESL_K_PAGE);
	assert_int_equal(r.tag, 8);
	assert_int_equal(r.status, ESL_ST_OK);
	r = last_result();
	assert_int_equal(r.kind, ESL_K_FLASH);
	assert_int_equal(r.tag, 7);
	assert_int_equal(r.status, ESL_ST_NO_RESPONSE);
	/* the radio refuses at once (no such label): RESULT right after the last CHUNK_R */
	radio_refuse = ESL_ST_NO_LABEL;
	make_img(&img_a, 296, 128, 1, 3);
	send_begin(0xEEEEEEEE, 50, &img_a, 0);
	send_chunks(50, &img_a, 0, img_a.enc_len);
	r = last_result();
	assert_int_equal(r.status, ESL_ST_NO_LABEL);
	assert_int_equal(r.tag, 50);
	assert_true(r.hash == img_a.hash);
	assert_true(last_of(ESL_T_IMG_CHUNK_R, 0) < last_of(ESL_T_RESULT, 0));
	gw_send(ESL_T_PAGE, b, esl_enc_page(b, sizeof(b), &pg));
	pump();
	assert_int_equal(last_result().status, ESL_ST_NO_LABEL);
	assert_int_equal(bs_xfers_active(&bs), 0);
}

static void test_checkins(void **state)
{
	struct esl_checkin ci, got;
	unsigned total = 0, frames = 0;

	(void)state;
	pump();
	for (unsigned i = 0; i < 100; i++) {
		ci = (struct esl_checkin){.label = 0xE1000100 + i,
					  .type = ESL_LT_29_BW,
					  .battery_mv = (uint16_t)(3000 - i),
					  .temp_c = 20,
					  .rssi = -60,
					  .lqi = 180,
					  .hash = 1000 + i};
		bs_radio_checkin(&bs, &ci);
	}
	pump();
	now += BS_CHECKIN_LINGER_MS;
	pump();
	for (unsigned i = 0; i < nrx; i++) {
		int n;

		if (rx[i].type != ESL_T_CHECKIN)
			continue;
		n = esl_dec_checkin_count(rx[i].p, rx[i].len);
		assert_true(n > 0 && n <= ESL_CHECKIN_MAX);
		for (int k = 0; k < n; k++) {
			esl_dec_checkin_at(rx[i].p, (unsigned)k, &got);
			assert_int_equal(got.label, 0xE1000100 + total);
			assert_true(got.hash == 1000 + total);
			assert_int_equal(got.flags & ESL_CI_REPLAY, 0);
			total++;
		}
		frames++;
	}
	assert_int_equal(total, 100);
	assert_int_equal(frames, 3); /* 43 + 43 + 14 */
	assert_int_equal(bs.nlabels, 100);
	/* the known label's type is checked against an image */
	make_img(&img_b, 400, 300, 2, 1);
	send_begin(0xE1000100, 60, &img_b, 0);
	assert_int_equal(last_begin_r().status, ESL_ST_TYPE_MISMATCH);
	/* LABELS_REQ: the whole table comes back, flagged as replay */
	nrx = 0;
	gw_send(ESL_T_LABELS_REQ, NULL, 0);
	pump();
	total = 0;
	for (unsigned i = 0; i < nrx; i++) {
		int n;

		if (rx[i].type != ESL_T_CHECKIN)
			continue;
		n = esl_dec_checkin_count(rx[i].p, rx[i].len);
		for (int k = 0; k < n; k++) {
			esl_dec_checkin_at(rx[i].p, (unsigned)k, &got);
			assert_true(got.flags & ESL_CI_REPLAY);
			total++;
		}
	}
	assert_int_equal(total, 100);
}

static void test_bad_requests(void **state)
{
	struct esl_img_begin m;
	struct esl_error e;
	uint8_t b[64];

	(void)state;
	make_img(&img_a, 296, 128, 1, 1);
	pump();
	/* geometry not matching the type asked for */
	send_begin(0xE1000006, 70, &img_a, ESL_LT_42_BWR);
	assert_int_equal(last_begin_r().status, ESL_ST_BAD_REQUEST);
	m = (struct esl_img_begin){.label = 1,
				   .xfer = 71,
				   .enc = ESL_IMG_ENC_RAW,
				   .hash = 5,
				   .width = 296,
				   .height = 128,
				   .planes = 1,
				   .raw_len = 4736,
				   .enc_len = 4000};
	gw_send(ESL_T_IMG_BEGIN, b, esl_enc_img_begin(b, sizeof(b), &m));
	pump();
	assert_int_equal(last_begin_r().status, ESL_ST_BAD_REQUEST); /* raw must be whole */
	m.raw_len = 4000;
	gw_send(ESL_T_IMG_BEGIN, b, esl_enc_img_begin(b, sizeof(b), &m));
	pump();
	assert_int_equal(last_begin_r().status, ESL_ST_BAD_REQUEST);
	m.raw_len = 4736;
	m.enc = 7;
	gw_send(ESL_T_IMG_BEGIN, b, esl_enc_img_begin(b, sizeof(b), &m));
	pump();
	assert_int_equal(last_begin_r().status, ESL_ST_UNSUPPORTED);
	m.enc = ESL_IMG_ENC_RAW;
	m.width = 1000;
	gw_send(ESL_T_IMG_BEGIN, b, esl_enc_img_begin(b, sizeof(b), &m));
	pump();
	assert_int_equal(last_begin_r().status, ESL_ST_BAD_REQUEST);
	/* a short payload and an unknown type: ERROR */
	gw_send(ESL_T_IMG_BEGIN, b, 5);
	pump();
	assert_int_equal(esl_dec_error(last_of(ESL_T_ERROR, 0)->p, ESL_ERROR_LEN, &e), 0);
	assert_int_equal(e.type, ESL_T_IMG_BEGIN);
	assert_int_equal(e.code, ESL_ST_BAD_REQUEST);
	gw_send(0x7E, b, 3);
	pump();
	assert_int_equal(esl_dec_error(last_of(ESL_T_ERROR, 0)->p, ESL_ERROR_LEN, &e), 0);
	assert_int_equal(e.type, 0x7E);
	assert_int_equal(e.code, ESL_ST_UNSUPPORTED);
	assert_int_equal(bs_xfers_active(&bs), 0);
}

/* Replies that wait for the station's link window go out together in BATCH frames. */
static void test_replies_batched(void **state)
{
	struct esl_flash fl = {0xE1000008, 0, ESL_LED_BLUE, 1, 50, 50};
	uint8_t b[32];

	(void)state;
	pump();
	for (uint16_t i = 0; i < 8; i++) {
		fl.req = (uint16_t)(100 + i);
		gw_send(ESL_T_FLASH, b, esl_enc_flash(b, sizeof(b), &fl));
	}
	/* the station gets all eight before the gateway reads anything */
	bs_input(&bs, to_bs.buf, to_bs.n, now);
	to_bs.n = 0;
	assert_int_equal(nops, 8);
	for (unsigned i = 0; i < 8; i++)
		bs_radio_done(&bs, ops[i].handle, ESL_ST_OK, 1);
	assert_int_equal(esl_link_in_flight(&bs.link), BS_LINK_WINDOW);
	pump();
	assert_int_equal(count_of(ESL_T_RESULT), 8);
	assert_int_equal(nbatch, 1); /* four alone, then the other four in one frame */
	for (unsigned i = 0; i < 8; i++) {
		struct esl_result r;

		assert_int_equal(
			esl_dec_result(last_of(ESL_T_RESULT, 7 - i)->p, ESL_RESULT_LEN, &r), 0);
		assert_int_equal(r.tag, 100 + i); /* in order */
	}
}

/* The gateway may batch too; a malformed batch is answered with ERROR. */
static void test_batch_from_gateway(void **state)
{
	struct esl_hello h = {ESL_PROTO_VERSION, ESL_PROTO_MIN_VERSION, 8, 0};
	struct esl_page pg = {0xE1000007, 9, 1, 0};
	uint8_t m[32], b[128];
	struct esl_error e;
	int n;

	(void)state;
	pump();
	n = esl_batch_add(b, sizeof(b), 0, ESL_T_HELLO, m,
			  (uint16_t)esl_enc_hello(m, sizeof(m), &h));
	n = esl_batch_add(b, sizeof(b), (size_t)n, ESL_T_PAGE, m,
			  (uint16_t)esl_enc_page(m, sizeof(m), &pg));
	assert_true(n > 0);
	gw_send(ESL_T_BATCH, b, n);
	pump();
	assert_non_null(last_of(ESL_T_HELLO_R, 0));
	assert_int_equal(nops, 1);
	assert_int_equal(ops[0].kind, ESL_K_PAGE);
	b[n++] = ESL_T_PAGE;
	b[n++] = 40; /* runs past the end */
	gw_send(ESL_T_BATCH, b, n);
	pump();
	assert_int_equal(esl_dec_error(last_of(ESL_T_ERROR, 0)->p, ESL_ERROR_LEN, &e), 0);
	assert_int_equal(e.type, ESL_T_BATCH);
	assert_int_equal(e.code, ESL_ST_BAD_REQUEST);
	assert_int_equal(nops, 2); /* the good records before it were carried out */
}

/*
 * Robustness: thousands of well-framed but random requests (every gateway
 * message type, random lengths and contents, half of them built from valid
 * messages with random fields), with radio results and check-ins mixed in.
 * The station must not crash (run it under ASan), must keep its pool
 * accounting exact and must keep answering HELLO.
 */
static void test_random_requests(void **state)
{
	static const uint8_t types[] = {
		ESL_T_HELLO,  ESL_T_IMG_BEGIN,	ESL_T_IMG_CHUNK, ESL_T_IMG_ABORT, ESL_T_FLASH,
		ESL_T_PAGE,   ESL_T_LABELS_REQ, ESL_T_ERROR,	 ESL_T_BATCH,	  0x7F,
		ESL_T_RESULT, ESL_T_BOOT};
	static uint8_t b[ESL_MAX_PAYLOAD];
	uint32_t rs = 99;

	(void)state;
	pump();
	for (int i = 0; i < 4000; i++) {
		uint8_t type = types[rnd_next(&rs) % sizeof(types)];
		uint16_t len = (uint16_t)(rnd_next(&rs) % 64);

		if (rnd_next(&rs) % 8 == 0)
			len = (uint16_t)(rnd_next(&rs) % ESL_MAX_PAYLOAD);
		for (unsigned k = 0; k < len; k++)
			b[k] = (uint8_t)rnd_next(&rs);
		if (type == ESL_T_IMG_BEGIN && rnd_next(&rs) % 2) {
			/* plausible geometry, random everything else */
			struct esl_img_begin m = {.label = 0xE1000000 + rnd_next(&rs) % 50,
						  .xfer = (uint16_t)(rnd_next(&rs) % 64),
						  .enc = (uint8_t)(rnd_next(&rs) % 3),
						  .type = (uint8_t)(rnd_next(&rs) % 4),
						  .hash = rnd_next(&rs) % 8,
						  .width = 296,
						  .height = 128,
						  .planes = (uint8_t)(1 + rnd_next(&rs) % 2)};

			m.raw_len = esl_img_bytes(m.width, m.height, m.planes);
			m.enc_len = m.enc == ESL_IMG_ENC_RAW ? m.raw_len
							     : 1 + rnd_next(&rs) % m.raw_len;
			len = (uint16_t)esl_enc_img_begin(b, sizeof(b), &m);
		} else if (type == ESL_T_IMG_CHUNK && len > ESL_IMG_CHUNK_HDR) {
			esl_put16(b, (uint16_t)(rnd_next(&rs) % 64));
			esl_put32(b + 2, (rnd_next(&rs) % 12) * 512);
		}
		gw_send(type, b, len);
		if (i % 16 == 0) {
			pump();
			/* the radio finishes some of what it was given */
			for (unsigned k = 0; k < nops; k++)
				if (rnd_next(&rs) % 2)
					bs_radio_done(&bs, ops[k].handle,
						      (uint8_t)(rnd_next(&rs) % 16), 1);
			nops = 0;
			if (rnd_next(&rs) % 4 == 0) {
				struct esl_checkin ci = {.label = 0xE1000000 + rnd_next(&rs) % 50,
							 .type = (uint8_t)(rnd_next(&rs) % 5),
							 .hash = rnd_next(&rs) % 8};

				bs_radio_checkin(&bs, &ci);
			}
			nrx = 0;
			now += rnd_next(&rs) % 2000;
		}
	}
	pump();
	/* pool accounting: free blocks + blocks held by transfers = all */
	{
		unsigned held = 0;

		for (unsigned i = 0; i < BS_MAX_XFERS; i++)
			if (bs.xfer[i].state)
				held += bs.xfer[i].nblocks;
		assert_int_equal(held + bs.free_blocks, BS_POOL_BLOCKS);
	}
	assert_int_equal(bs.st.outq_full, 0);
	assert_true(bs.st.bad_frames > 0);
	nrx = 0;
	{
		struct esl_hello h = {ESL_PROTO_VERSION, ESL_PROTO_MIN_VERSION, 8, 0};

		gw_send(ESL_T_HELLO, b, esl_enc_hello(b, sizeof(b), &h));
		pump();
		assert_non_null(last_of(ESL_T_HELLO_R, 0));
	}
}

/* The gateway is gone: the station's link gives up, and talks again when it is back. */
static void test_gateway_absent(void **state)
{
	struct esl_hello h = {ESL_PROTO_VERSION, ESL_PROTO_MIN_VERSION, 8, 0};
	uint8_t b[16];

	(void)state;
	to_gw.cut = true;
	for (int i = 0; i < 200 && bs.st.link_failures == 0; i++) {
		now += 500;
		bs_poll(&bs, now);
	}
	assert_int_equal(bs.st.link_failures, 1);
	to_gw.cut = false;
	gw_send(ESL_T_HELLO, b, esl_enc_hello(b, sizeof(b), &h));
	pump();
	assert_non_null(last_of(ESL_T_HELLO_R, 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_boot_and_hello, setup),
		cmocka_unit_test_setup(test_image_transfer, setup),
		cmocka_unit_test_setup(test_resume_after_glitch, setup),
		cmocka_unit_test_setup(test_station_reset, setup),
		cmocka_unit_test_setup(test_busy_and_eviction, setup),
		cmocka_unit_test_setup(test_chunk_errors_and_supersede, setup),
		cmocka_unit_test_setup(test_flash_page_and_refusal, setup),
		cmocka_unit_test_setup(test_checkins, setup),
		cmocka_unit_test_setup(test_bad_requests, setup),
		cmocka_unit_test_setup(test_replies_batched, setup),
		cmocka_unit_test_setup(test_batch_from_gateway, setup),
		cmocka_unit_test_setup(test_random_requests, setup),
		cmocka_unit_test_setup(test_gateway_absent, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
