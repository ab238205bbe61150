/*
 * test_esl_proto: the ESL wire codec (firmware/proto/esl_proto.c,
 * firmware/PROTOCOL.md). CRC-16/CCITT-FALSE known vector; frame round trips
 * for every frame type and payload sizes 0..max; every message's encode /
 * decode round trip, short payloads and small buffers; the streaming decoder
 * fed one byte at a time and in random slices, with random garbage between
 * frames, a corrupted byte, an oversize length, and a real frame hidden
 * inside a damaged one; the byte accounting (every byte pushed is in a frame
 * or counted as garbage).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "esl_proto.h"

static const uint8_t all_types[] = {
	ESL_T_ACK,	 ESL_T_NAK,	    ESL_T_HELLO,     ESL_T_HELLO_R,	ESL_T_BOOT,
	ESL_T_IMG_BEGIN, ESL_T_IMG_BEGIN_R, ESL_T_IMG_CHUNK, ESL_T_IMG_CHUNK_R, ESL_T_IMG_ABORT,
	ESL_T_FLASH,	 ESL_T_PAGE,	    ESL_T_RESULT,    ESL_T_CHECKIN,	ESL_T_LABELS_REQ,
	ESL_T_ERROR,	 ESL_T_BATCH,
};

/* A deterministic PRNG so failures replay. */
static uint32_t rng_state = 12345;
static uint32_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

/* Encode a frame with a payload of @len bytes derived from @tag into @out. */
static int make_frame(uint8_t *out, size_t cap, uint8_t type, uint8_t seq, uint16_t len,
		      uint8_t tag)
{
	static uint8_t pl[ESL_MAX_PAYLOAD];
	struct esl_frame f = {.type = type,
			      .seq = seq,
			      .ack = (uint8_t)(seq + 7),
			      .sid = (uint16_t)(0x1234 + tag),
			      .psid = 0xBEEF,
			      .len = len,
			      .payload = pl};

	for (unsigned i = 0; i < len; i++)
		pl[i] = (uint8_t)(i * 31 + tag);
	return esl_frame_encode(&f, out, cap);
}

static void check_frame(const struct esl_frame *f, uint8_t type, uint8_t seq, uint16_t len,
			uint8_t tag)
{
	assert_int_equal(f->type, type);
	assert_int_equal(f->seq, seq);
	assert_int_equal(f->ack, (uint8_t)(seq + 7));
	assert_int_equal(f->sid, (uint16_t)(0x1234 + tag));
	assert_int_equal(f->psid, 0xBEEF);
	assert_int_equal(f->len, len);
	for (unsigned i = 0; i < len; i++)
		if (f->payload[i] != (uint8_t)(i * 31 + tag))
			fail_msg("payload byte %u of frame tag %u differs", i, tag);
}

static void test_crc_vector(void **state)
{
	(void)state;
	assert_int_equal(esl_crc16(0xFFFF, (const uint8_t *)"123456789", 9), 0x29B1);
	assert_int_equal(esl_crc16(0xFFFF, NULL, 0), 0xFFFF);
	/* incremental == one shot */
	assert_int_equal(esl_crc16(esl_crc16(0xFFFF, (const uint8_t *)"1234", 4),
				   (const uint8_t *)"56789", 5),
			 0x29B1);
	/* the error codes are Linux errno values */
	assert_int_equal(ESL_EAGAIN, EAGAIN);
	assert_int_equal(ESL_EINVAL, EINVAL);
	assert_int_equal(ESL_ENOSPC, ENOSPC);
	assert_int_equal(ESL_EMSGSIZE, EMSGSIZE);
	assert_int_equal(ESL_ETIMEDOUT, ETIMEDOUT);
}

static void test_frame_layout(void **state)
{
	uint8_t buf[64];
	const uint8_t pl[3] = {1, 2, 3};
	struct esl_frame f = {.type = ESL_T_HELLO,
			      .seq = 5,
			      .ack = 9,
			      .sid = 0x0102,
			      .psid = 0x0304,
			      .len = 3,
			      .payload = pl};
	int n = esl_frame_encode(&f, buf, sizeof(buf));

	(void)state;
	assert_int_equal(n, ESL_OVERHEAD + 3);
	const uint8_t want_hdr[10] = {0xA5, 0x10, 5, 9, 0x02, 0x01, 0x04, 0x03, 3, 0};

	assert_memory_equal(buf, want_hdr, sizeof(want_hdr));
	assert_int_equal(esl_get16(buf + 10), esl_crc16(0xFFFF, buf + 1, 9));
	assert_memory_equal(buf + 12, pl, 3);
	assert_int_equal(esl_get16(buf + 15), esl_crc16(0xFFFF, buf + 1, 14));
}

/* The examples in PROTOCOL.md §2, byte for byte. */
static void test_protocol_md_examples(void **state)
{
	const uint8_t hello_want[] = {0xa5, 0x10, 0x00, 0x00, 0x34, 0x12, 0x00, 0x00,
				      0x08, 0x00, 0xd1, 0xab, 0x01, 0x01, 0x08, 0x00,
				      0x2d, 0x00, 0x00, 0x00, 0x3b, 0xf3};
	const uint8_t ack_want[] = {0xa5, 0x01, 0x00, 0x01, 0x78, 0x56, 0x34,
				    0x12, 0x00, 0x00, 0x42, 0x10, 0x6a, 0x12};
	struct esl_hello h = {1, 1, 8, 0x2d};
	uint8_t pl[ESL_HELLO_LEN], buf[64];
	struct esl_frame f = {
		.type = ESL_T_HELLO, .sid = 0x1234, .len = ESL_HELLO_LEN, .payload = pl};

	(void)state;
	assert_int_equal(esl_enc_hello(pl, sizeof(pl), &h), ESL_HELLO_LEN);
	assert_int_equal(esl_frame_encode(&f, buf, sizeof(buf)), sizeof(hello_want));
	assert_memory_equal(buf, hello_want, sizeof(hello_want));
	f = (struct esl_frame){.type = ESL_T_ACK, .ack = 1, .sid = 0x5678, .psid = 0x1234};
	assert_int_equal(esl_frame_encode(&f, buf, sizeof(buf)), sizeof(ack_want));
	assert_memory_equal(buf, ack_want, sizeof(ack_want));
}

static void test_frame_roundtrip_all_types(void **state)
{
	static uint8_t buf[ESL_FRAME_MAX];
	const uint16_t lens[] = {0, 1, 2, 30, 1029, ESL_MAX_PAYLOAD};
	struct esl_dec d;
	struct esl_frame f;

	(void)state;
	for (size_t t = 0; t < sizeof(all_types); t++) {
		for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
			int n = make_frame(buf, sizeof(buf), all_types[t], (uint8_t)(t * 13 + k),
					   lens[k], (uint8_t)k);

			assert_int_equal(n, ESL_OVERHEAD + lens[k]);
			esl_dec_init(&d, ESL_MAX_PAYLOAD);
			assert_int_equal(esl_dec_push(&d, buf, (size_t)n), (size_t)n);
			assert_int_equal(esl_dec_next(&d, &f), 1);
			check_frame(&f, all_types[t], (uint8_t)(t * 13 + k), lens[k], (uint8_t)k);
			assert_int_equal(esl_dec_next(&d, &f), 0);
			assert_int_equal(d.st.frames, 1);
			assert_int_equal(d.st.garbage, 0);
		}
	}
}

static void test_encode_errors(void **state)
{
	static uint8_t buf[ESL_FRAME_MAX + 8];
	struct esl_frame f = {.type = ESL_T_IMG_CHUNK, .len = ESL_MAX_PAYLOAD + 1, .payload = buf};

	(void)state;
	assert_int_equal(esl_frame_encode(&f, buf, sizeof(buf)), -ESL_EMSGSIZE);
	f.len = 10;
	assert_int_equal(esl_frame_encode(&f, buf, ESL_OVERHEAD + 9), -ESL_EMSGSIZE);
	f.payload = NULL;
	assert_int_equal(esl_frame_encode(&f, buf, sizeof(buf)), -ESL_EINVAL);
	f.len = 0;
	assert_int_equal(esl_frame_encode(&f, buf, sizeof(buf)), ESL_OVERHEAD);
}

/* Build a stream of @nf frames (lengths vary) into @s; returns its length. */
static size_t build_stream(uint8_t *s, size_t cap, unsigned nf, size_t *offs)
{
	size_t n = 0;

	for (unsigned i = 0; i < nf; i++) {
		uint16_t len = (uint16_t)((i * 97) % 300);
		int k;

		if (i % 7 == 3)
			len = ESL_MAX_PAYLOAD;
		if (offs)
			offs[i] = n;
		k = make_frame(s + n, cap - n, all_types[i % sizeof(all_types)], (uint8_t)i, len,
			       (uint8_t)i);
		assert_true(k > 0);
		n += (size_t)k;
	}
	return n;
}

/* Feed @n bytes in slices chosen by @slice(); collect frames, check them in order. */
static unsigned feed_all(struct esl_dec *d, const uint8_t *s, size_t n, size_t (*slice)(void),
			 unsigned first)
{
	struct esl_frame f;
	unsigned got = first;
	size_t off = 0;

	while (off < n) {
		size_t k = slice();

		if (k > n - off)
			k = n - off;
		while (k) {
			size_t used = esl_dec_push(d, s + off, k);

			off += used;
			k -= used;
			while (esl_dec_next(d, &f)) {
				uint16_t len = (uint16_t)((got * 97) % 300);

				if (got % 7 == 3)
					len = ESL_MAX_PAYLOAD;
				check_frame(&f, all_types[got % sizeof(all_types)], (uint8_t)got,
					    len, (uint8_t)got);
				got++;
			}
		}
	}
	return got;
}

static size_t one(void)
{
	return 1;
}

static size_t random_slice(void)
{
	return 1 + rnd() % 3000;
}

static size_t huge(void)
{
	return 1u << 20;
}

static void test_split_feeds(void **state)
{
	static uint8_t s[200 * ESL_FRAME_MAX];
	size_t n = build_stream(s, sizeof(s), 200, NULL);
	struct esl_dec d;

	(void)state;
	esl_dec_init(&d, ESL_MAX_PAYLOAD);
	assert_int_equal(feed_all(&d, s, n, one, 0), 200);
	assert_int_equal(d.st.garbage, 0);
	assert_int_equal(d.st.bytes, n);
	esl_dec_init(&d, ESL_MAX_PAYLOAD);
	assert_int_equal(feed_all(&d, s, n, random_slice, 0), 200);
	esl_dec_init(&d, ESL_MAX_PAYLOAD);
	assert_int_equal(feed_all(&d, s, n, huge, 0), 200);
	assert_int_equal(d.st.frames, 200);
}

/* Random bytes (with plenty of SOFs) between frames: every frame is found. */
static void test_garbage_between_frames(void **state)
{
	static uint8_t s[300 * (ESL_FRAME_MAX + 600)];
	static uint8_t fr[ESL_FRAME_MAX];
	size_t n = 0, garbage = 0;
	struct esl_dec d;

	(void)state;
	rng_state = 777;
	for (unsigned i = 0; i < 300; i++) {
		uint16_t len = (uint16_t)((i * 97) % 300);
		unsigned g = rnd() % 600;
		int k;

		if (i % 7 == 3)
			len = ESL_MAX_PAYLOAD;
		for (unsigned j = 0; j < g; j++)
			s[n++] = (rnd() % 8 == 0) ? ESL_SOF : (uint8_t)rnd();
		garbage += g;
		k = make_frame(fr, sizeof(fr), all_types[i % sizeof(all_types)], (uint8_t)i, len,
			       (uint8_t)i);
		memcpy(s + n, fr, (size_t)k);
		n += (size_t)k;
	}
	esl_dec_init(&d, ESL_MAX_PAYLOAD);
	assert_int_equal(feed_all(&d, s, n, random_slice, 0), 300);
	assert_int_equal(d.st.frames, 300);
	/* every garbage byte was counted, and only those */
	assert_int_equal(d.st.garbage, garbage);
	assert_true(d.st.hdr_err > 0);
	/* one byte at a time gives the same result */
	esl_dec_init(&d, ESL_MAX_PAYLOAD);
	assert_int_equal(feed_all(&d, s, n, one, 0), 300);
	assert_int_equal(d.st.garbage, garbage);
}

/* One flipped byte kills exactly the frame it is in. */
static void test_corrupted_byte(void **state)
{
	static uint8_t s[20 * ESL_FRAME_MAX];
	size_t offs[20];
	size_t n = build_stream(s, sizeof(s), 20, offs);
	struct esl_dec d;
	struct esl_frame f;
	unsigned got = 0;
	bool seen[20] = {false};

	(void)state;
	s[offs[5] + ESL_HDR_LEN + 10] ^= 0x40; /* payload byte of frame 5 */
	s[offs[9] + 8] ^= 0x01; /* length byte of frame 9 (header CRC catches it) */
	esl_dec_init(&d, ESL_MAX_PAYLOAD);
	for (size_t off = 0; off < n;) {
		off += esl_dec_push(&d, s + off, n - off);
		while (esl_dec_next(&d, &f)) {
			seen[f.seq] = true;
			got++;
		}
	}
	assert_int_equal(got, 18);
	assert_false(seen[5]);
	assert_false(seen[9]);
	assert_true(seen[6] && seen[10] && seen[19]);
	assert_int_equal(d.st.crc_err, 1);
	assert_true(d.st.hdr_err >= 1); /* payload bytes equal to SOF add more */
	assert_int_equal(d.st.garbage, (offs[6] - offs[5]) + (offs[10] - offs[9]));
}

/* A valid header with a length over the maximum is refused; the next frame is found. */
static void test_oversize(void **state)
{
	static uint8_t s[3 * ESL_FRAME_MAX];
	struct esl_dec d;
	struct esl_frame f;
	int k1, k2;

	(void)state;
	k1 = make_frame(s, sizeof(s), ESL_T_IMG_CHUNK, 0, 600, 0);
	k2 = make_frame(s + k1, sizeof(s) - (size_t)k1, ESL_T_HELLO, 1, 8, 1);
	esl_dec_init(&d, 512); /* this decoder takes payloads up to 512 bytes */
	assert_int_equal(esl_dec_push(&d, s, (size_t)(k1 + k2)), (size_t)(k1 + k2));
	assert_int_equal(esl_dec_next(&d, &f), 1);
	check_frame(&f, ESL_T_HELLO, 1, 8, 1);
	assert_int_equal(d.st.oversize, 1);
	assert_int_equal(d.st.garbage, (unsigned)k1);
	/* a header claiming a huge length (bad header CRC) is dropped at once */
	uint8_t bad[ESL_HDR_LEN] = {ESL_SOF, ESL_T_IMG_CHUNK, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0, 0};

	esl_dec_init(&d, ESL_MAX_PAYLOAD);
	esl_dec_push(&d, bad, sizeof(bad));
	esl_dec_push(&d, s + k1, (size_t)k2);
	assert_int_equal(esl_dec_next(&d, &f), 1);
	check_frame(&f, ESL_T_HELLO, 1, 8, 1);
	assert_int_equal(d.st.hdr_err, 1);
}

/* A frame cut short by a glitch hides the next frame until the bytes run out; rescan finds it. */
static void test_frame_inside_damaged_frame(void **state)
{
	static uint8_t s[4 * ESL_FRAME_MAX];
	static uint8_t big[ESL_FRAME_MAX];
	struct esl_dec d;
	struct esl_frame f;
	size_t n = 0;
	unsigned got = 0;
	int k;

	(void)state;
	k = make_frame(big, sizeof(big), ESL_T_IMG_CHUNK, 0, 800, 0);
	memcpy(s, big, 100); /* only its first 100 bytes made it */
	n = 100;
	for (unsigned i = 1; i <= 3; i++) {
		k = make_frame(s + n, sizeof(s) - n, ESL_T_RESULT, (uint8_t)i, 18, (uint8_t)i);
		n += (size_t)k;
	}
	/* then the link goes on: the next full frame */
	k = make_frame(s + n, sizeof(s) - n, ESL_T_IMG_CHUNK, 4, 800, 4);
	n += (size_t)k;
	esl_dec_init(&d, ESL_MAX_PAYLOAD);
	for (size_t off = 0; off < n;) {
		off += esl_dec_push(&d, s + off, 1);
		while (esl_dec_next(&d, &f)) {
			got++;
			assert_true(f.seq >= 1 && f.seq <= 4);
		}
	}
	assert_int_equal(got, 4);
	assert_int_equal(d.st.crc_err, 1);
	assert_int_equal(d.st.garbage, 100);
}

/*
 * Two messages are the same when they encode to the same bytes (struct
 * padding makes memcmp of the structs meaningless).
 */
#define SAME(enc, a, z)                                                                            \
	do {                                                                                       \
		uint8_t ba_[ESL_MAX_PAYLOAD], bz_[ESL_MAX_PAYLOAD];                                \
		int na_ = enc(ba_, sizeof(ba_), &(a));                                             \
		int nz_ = enc(bz_, sizeof(bz_), &(z));                                             \
		assert_int_equal(na_, nz_);                                                        \
		assert_memory_equal(ba_, bz_, (size_t)na_);                                        \
	} while (0)

/*
 * Random bytes and randomly mutated frame streams: no crash (ASan), every
 * decoded frame passes both CRCs, and bytes pushed = garbage + frame bytes
 * + bytes still buffered. Every frame's payload goes through every message
 * decoder, which must not read past it.
 */
static void test_random_streams(void **state)
{
	static uint8_t s[64 * 1024];
	struct esl_dec d;
	struct esl_frame f;
	uint64_t frame_bytes = 0;
	unsigned frames = 0;

	(void)state;
	rng_state = 4711;
	for (int round = 0; round < 40; round++) {
		size_t n = round % 2 ? build_stream(s, sizeof(s), 40, NULL) : sizeof(s);

		for (size_t i = 0; i < n; i++)
			if (round % 2 == 0 || rnd() % 200 == 0)
				s[i] = round % 4 == 0 ? (uint8_t)rnd() : (uint8_t)(s[i] ^ rnd());
		esl_dec_init(&d, (uint16_t)(round % 3 ? ESL_MAX_PAYLOAD : 100));
		frame_bytes = 0;
		for (size_t off = 0; off < n;) {
			size_t k = 1 + rnd() % 2000;

			off += esl_dec_push(&d, s + off, k > n - off ? n - off : k);
			while (esl_dec_next(&d, &f)) {
				union {
					struct esl_hello a;
					struct esl_hello_r b;
					struct esl_img_begin c;
					struct esl_img_begin_r e;
					struct esl_img_chunk g;
					struct esl_img_chunk_r h;
					struct esl_img_abort i;
					struct esl_flash j;
					struct esl_page k;
					struct esl_result l;
					struct esl_error m;
					struct esl_checkin ci;
					struct esl_frame fr;
				} u;
				size_t boff = 0;
				int cnt;

				frames++;
				frame_bytes += ESL_OVERHEAD + f.len;
				esl_dec_hello(f.payload, f.len, &u.a);
				esl_dec_hello_r(f.payload, f.len, &u.b);
				esl_dec_img_begin(f.payload, f.len, &u.c);
				esl_dec_img_begin_r(f.payload, f.len, &u.e);
				esl_dec_img_chunk(f.payload, f.len, &u.g);
				esl_dec_img_chunk_r(f.payload, f.len, &u.h);
				esl_dec_img_abort(f.payload, f.len, &u.i);
				esl_dec_flash(f.payload, f.len, &u.j);
				esl_dec_page(f.payload, f.len, &u.k);
				esl_dec_result(f.payload, f.len, &u.l);
				esl_dec_error(f.payload, f.len, &u.m);
				cnt = esl_dec_checkin_count(f.payload, f.len);
				for (int c = 0; c < cnt; c++)
					esl_dec_checkin_at(f.payload, (unsigned)c, &u.ci);
				while (esl_batch_next(&f, &boff, &u.fr) == 1)
					;
			}
		}
		assert_int_equal(d.st.bytes, n);
		assert_true(d.st.garbage + frame_bytes + d.n == n);
	}
	assert_true(frames > 0);
}

/* A cut-off header announcing a long frame holds back what follows until expired. */
static void test_expire(void **state)
{
	static uint8_t s[2 * ESL_FRAME_MAX];
	struct esl_dec d;
	struct esl_frame f;
	size_t n = 0;
	int k;

	(void)state;
	k = make_frame(s, sizeof(s), ESL_T_IMG_CHUNK, 0, 1000, 0);
	n = 40; /* only its header and a few bytes made it */
	for (unsigned i = 1; i <= 3; i++) {
		k = make_frame(s + n, sizeof(s) - n, ESL_T_HELLO, (uint8_t)i, 8, (uint8_t)i);
		n += (size_t)k;
	}
	esl_dec_init(&d, ESL_MAX_PAYLOAD);
	assert_false(esl_dec_pending(&d));
	assert_int_equal(esl_dec_push(&d, s, n), n);
	assert_int_equal(esl_dec_next(&d, &f), 0); /* waiting for 1014 bytes */
	assert_true(esl_dec_pending(&d));
	esl_dec_expire(&d);
	for (unsigned i = 1; i <= 3; i++) {
		assert_int_equal(esl_dec_next(&d, &f), 1);
		check_frame(&f, ESL_T_HELLO, (uint8_t)i, 8, (uint8_t)i);
	}
	assert_int_equal(esl_dec_next(&d, &f), 0);
	assert_false(esl_dec_pending(&d));
	assert_int_equal(d.st.garbage, 40);
	/* expiry only gives up frames still incomplete when esl_dec_next looks at them */
	k = make_frame(s, sizeof(s), ESL_T_RESULT, 9, 18, 9);
	esl_dec_push(&d, s, 5);
	esl_dec_expire(&d);
	esl_dec_push(&d, s + 5, (size_t)k - 5);
	assert_int_equal(esl_dec_next(&d, &f), 1);
	esl_dec_push(&d, s, 20);
	esl_dec_expire(&d);
	assert_int_equal(esl_dec_next(&d, &f), 0);
	esl_dec_push(&d, s + 20, (size_t)k - 20); /* too late: its start was dropped */
	assert_int_equal(esl_dec_next(&d, &f), 0);
	assert_false(esl_dec_pending(&d));
	/* a frame split across pushes is not cut by an expiry of nothing */
	esl_dec_init(&d, ESL_MAX_PAYLOAD);
	esl_dec_expire(&d);
	esl_dec_push(&d, s, 5);
	esl_dec_push(&d, s + 5, (size_t)k - 5);
	assert_int_equal(esl_dec_next(&d, &f), 1);
}

static void test_hello(void **state)
{
	uint8_t b[64];
	struct esl_hello a = {ESL_PROTO_VERSION, 1, 8, ESL_CAP_PACKBITS | ESL_CAP_FLASH}, z;

	(void)state;
	assert_int_equal(esl_enc_hello(b, sizeof(b), &a), ESL_HELLO_LEN);
	memset(&z, 0, sizeof(z));
	assert_int_equal(esl_dec_hello(b, ESL_HELLO_LEN, &z), 0);
	SAME(esl_enc_hello, a, z);
	assert_int_equal(esl_dec_hello(b, ESL_HELLO_LEN - 1, &z), -ESL_EINVAL);
	assert_int_equal(esl_enc_hello(b, ESL_HELLO_LEN - 1, &a), -ESL_EMSGSIZE);
	/* extra bytes from a newer peer are ignored */
	assert_int_equal(esl_dec_hello(b, ESL_HELLO_LEN + 4, &z), 0);
}

static void test_hello_r(void **state)
{
	uint8_t b[64];
	struct esl_hello_r a = {.proto = 1,
				.status = ESL_ST_UNSUPPORTED,
				.fw_version = 0x0102,
				.caps = 0x3F,
				.boot_id = 0xDEADBEEF,
				.max_chunk = 1024,
				.buffers = 64,
				.window = 8,
				.pool_bytes = 131072,
				.labels = 2000,
				.max_labels = 2048},
			   z;

	(void)state;
	memset(&z, 0, sizeof(z));
	assert_int_equal(esl_enc_hello_r(b, sizeof(b), &a), ESL_HELLO_R_LEN);
	assert_int_equal(esl_dec_hello_r(b, ESL_HELLO_R_LEN, &z), 0);
	SAME(esl_enc_hello_r, a, z);
	assert_int_equal(esl_get32(b + 8), 0xDEADBEEF); /* boot_id at offset 8, LE */
	assert_int_equal(esl_dec_hello_r(b, 23, &z), -ESL_EINVAL);
	assert_int_equal(esl_enc_hello_r(b, 23, &a), -ESL_EMSGSIZE);
}

static void test_img_begin(void **state)
{
	uint8_t b[64];
	struct esl_img_begin a = {.label = 0xE1000001,
				  .xfer = 0xABCD,
				  .enc = 1,
				  .type = 2,
				  .hash = 0x0123456789ABCDEFull,
				  .width = 296,
				  .height = 128,
				  .planes = 2,
				  .raw_len = 9472,
				  .enc_len = 1234},
			     z;

	(void)state;
	memset(&z, 0, sizeof(z));
	assert_int_equal(esl_enc_img_begin(b, sizeof(b), &a), ESL_IMG_BEGIN_LEN);
	assert_int_equal(esl_dec_img_begin(b, ESL_IMG_BEGIN_LEN, &z), 0);
	SAME(esl_enc_img_begin, a, z);
	assert_int_equal(b[0], 0x01); /* label LE */
	assert_int_equal(b[3], 0xE1);
	assert_int_equal(esl_dec_img_begin(b, ESL_IMG_BEGIN_LEN - 1, &z), -ESL_EINVAL);
	assert_int_equal(esl_enc_img_begin(b, 10, &a), -ESL_EMSGSIZE);
}

static void test_img_begin_r(void **state)
{
	uint8_t b[64];
	struct esl_img_begin_r a = {0xE1000002, 7, ESL_ST_BUSY, 4096, 500}, z;

	(void)state;
	memset(&z, 0, sizeof(z));
	assert_int_equal(esl_enc_img_begin_r(b, sizeof(b), &a), ESL_IMG_BEGIN_R_LEN);
	assert_int_equal(esl_dec_img_begin_r(b, ESL_IMG_BEGIN_R_LEN, &z), 0);
	SAME(esl_enc_img_begin_r, a, z);
	assert_int_equal(esl_dec_img_begin_r(b, 5, &z), -ESL_EINVAL);
	assert_int_equal(esl_enc_img_begin_r(b, 5, &a), -ESL_EMSGSIZE);
}

static void test_img_chunk(void **state)
{
	static uint8_t data[ESL_CHUNK_MAX + 1], b[ESL_MAX_PAYLOAD];
	struct esl_img_chunk a = {.xfer = 9, .offset = 70000, .len = ESL_CHUNK_MAX, .data = data},
			     z;

	(void)state;
	for (unsigned i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i ^ 0x5A);
	assert_int_equal(esl_enc_img_chunk(b, sizeof(b), &a), ESL_IMG_CHUNK_HDR + ESL_CHUNK_MAX);
	assert_int_equal(esl_dec_img_chunk(b, ESL_IMG_CHUNK_HDR + ESL_CHUNK_MAX, &z), 0);
	assert_int_equal(z.xfer, 9);
	assert_int_equal(z.offset, 70000);
	assert_int_equal(z.len, ESL_CHUNK_MAX);
	assert_memory_equal(z.data, data, ESL_CHUNK_MAX);
	/* no data, or too much, is malformed */
	assert_int_equal(esl_dec_img_chunk(b, ESL_IMG_CHUNK_HDR, &z), -ESL_EINVAL);
	assert_int_equal(esl_dec_img_chunk(b, ESL_IMG_CHUNK_HDR + ESL_CHUNK_MAX + 1, &z),
			 -ESL_EINVAL);
	a.len = ESL_CHUNK_MAX + 1;
	assert_int_equal(esl_enc_img_chunk(b, sizeof(b), &a), -ESL_EMSGSIZE);
	a.len = 100;
	assert_int_equal(esl_enc_img_chunk(b, 105, &a), -ESL_EMSGSIZE);
}

static void test_small_messages(void **state)
{
	uint8_t b[64];
	struct esl_img_chunk_r cr = {3, ESL_ST_GAP, 0, 2048}, crz;
	struct esl_img_abort ab = {0xE1000009, 44}, abz;
	struct esl_flash fl = {0xE100000A, 5, ESL_LED_RED | ESL_LED_BLUE, 3, 100, 400}, flz;
	struct esl_page pg = {0xE100000B, 6, 2, 30}, pgz;
	struct esl_result rs = {0xE100000C, 77, ESL_K_IMAGE, ESL_ST_HASH, 0xFEDCBA9876543210ull, 3},
			  rsz;
	struct esl_error er = {0x99, 17, ESL_ST_UNSUPPORTED}, erz;

	(void)state;
	memset(&crz, 0, sizeof(crz));
	memset(&abz, 0, sizeof(abz));
	memset(&flz, 0, sizeof(flz));
	memset(&pgz, 0, sizeof(pgz));
	memset(&rsz, 0, sizeof(rsz));
	memset(&erz, 0, sizeof(erz));
	assert_int_equal(esl_enc_img_chunk_r(b, sizeof(b), &cr), ESL_IMG_CHUNK_R_LEN);
	assert_int_equal(esl_dec_img_chunk_r(b, ESL_IMG_CHUNK_R_LEN, &crz), 0);
	SAME(esl_enc_img_chunk_r, cr, crz);
	assert_int_equal(esl_dec_img_chunk_r(b, 7, &crz), -ESL_EINVAL);
	assert_int_equal(esl_enc_img_chunk_r(b, 7, &cr), -ESL_EMSGSIZE);

	assert_int_equal(esl_enc_img_abort(b, sizeof(b), &ab), ESL_IMG_ABORT_LEN);
	assert_int_equal(esl_dec_img_abort(b, ESL_IMG_ABORT_LEN, &abz), 0);
	SAME(esl_enc_img_abort, ab, abz);
	assert_int_equal(esl_dec_img_abort(b, 5, &abz), -ESL_EINVAL);
	assert_int_equal(esl_enc_img_abort(b, 5, &ab), -ESL_EMSGSIZE);

	assert_int_equal(esl_enc_flash(b, sizeof(b), &fl), ESL_FLASH_LEN);
	assert_int_equal(esl_dec_flash(b, ESL_FLASH_LEN, &flz), 0);
	SAME(esl_enc_flash, fl, flz);
	assert_int_equal(esl_dec_flash(b, 11, &flz), -ESL_EINVAL);
	assert_int_equal(esl_enc_flash(b, 11, &fl), -ESL_EMSGSIZE);

	assert_int_equal(esl_enc_page(b, sizeof(b), &pg), ESL_PAGE_LEN);
	assert_int_equal(esl_dec_page(b, ESL_PAGE_LEN, &pgz), 0);
	SAME(esl_enc_page, pg, pgz);
	assert_int_equal(esl_dec_page(b, 9, &pgz), -ESL_EINVAL);
	assert_int_equal(esl_enc_page(b, 9, &pg), -ESL_EMSGSIZE);

	assert_int_equal(esl_enc_result(b, sizeof(b), &rs), ESL_RESULT_LEN);
	assert_int_equal(esl_dec_result(b, ESL_RESULT_LEN, &rsz), 0);
	SAME(esl_enc_result, rs, rsz);
	assert_int_equal(esl_dec_result(b, 17, &rsz), -ESL_EINVAL);
	assert_int_equal(esl_enc_result(b, 17, &rs), -ESL_EMSGSIZE);

	assert_int_equal(esl_enc_error(b, sizeof(b), &er), ESL_ERROR_LEN);
	assert_int_equal(esl_dec_error(b, ESL_ERROR_LEN, &erz), 0);
	SAME(esl_enc_error, er, erz);
	assert_int_equal(esl_dec_error(b, 3, &erz), -ESL_EINVAL);
	assert_int_equal(esl_enc_error(b, 3, &er), -ESL_EMSGSIZE);
}

static void test_checkin(void **state)
{
	static struct esl_checkin v[ESL_CHECKIN_MAX + 1], z;
	static uint8_t b[ESL_MAX_PAYLOAD + 64];
	int n;

	(void)state;
	assert_int_equal(ESL_CHECKIN_MAX, 43);
	for (unsigned i = 0; i <= ESL_CHECKIN_MAX; i++) {
		v[i] = (struct esl_checkin){.label = 0xE1000001 + i,
					    .type = (uint8_t)(1 + i % 3),
					    .page = (uint8_t)(i % 2),
					    .fw = 0x0203,
					    .battery_mv = (uint16_t)(3000 - i),
					    .temp_c = (int8_t)(i % 2 ? -5 : 21),
					    .rssi = (int8_t)(-40 - (int)i),
					    .lqi = (uint8_t)(200 + i),
					    .flags = ESL_CI_REPLAY,
					    .age_s = (uint16_t)(i * 10),
					    .hash = 0x1111111111111111ull * (i + 1)};
	}
	n = esl_enc_checkin(b, sizeof(b), v, ESL_CHECKIN_MAX);
	assert_int_equal(n, ESL_CHECKIN_HDR + ESL_CHECKIN_MAX * ESL_CHECKIN_ENTRY);
	assert_true(n <= ESL_MAX_PAYLOAD);
	assert_int_equal(esl_dec_checkin_count(b, (size_t)n), ESL_CHECKIN_MAX);
	for (unsigned i = 0; i < ESL_CHECKIN_MAX; i++) {
		memset(&z, 0, sizeof(z));
		esl_dec_checkin_at(b, i, &z);
		assert_memory_equal(&z, &v[i], sizeof(z));
	}
	assert_int_equal(esl_enc_checkin(b, sizeof(b), v, 0), -ESL_EMSGSIZE);
	assert_int_equal(esl_enc_checkin(b, sizeof(b), v, ESL_CHECKIN_MAX + 1), -ESL_EMSGSIZE);
	assert_int_equal(esl_enc_checkin(b, 30, v, 2), -ESL_EMSGSIZE);
	n = esl_enc_checkin(b, sizeof(b), v, 2);
	assert_int_equal(esl_dec_checkin_count(b, (size_t)n - 1), -ESL_EINVAL);
	assert_int_equal(esl_dec_checkin_count(b, 1), -ESL_EINVAL);
	b[0] = 0;
	assert_int_equal(esl_dec_checkin_count(b, (size_t)n), -ESL_EINVAL);
}

static void test_batch(void **state)
{
	static uint8_t b[ESL_MAX_PAYLOAD + 16], big[300];
	struct esl_result r = {0xE1000001, 5, ESL_K_IMAGE, ESL_ST_OK, 77, 1};
	uint8_t rp[ESL_RESULT_LEN], cp[ESL_IMG_CHUNK_R_LEN];
	struct esl_img_chunk_r c = {5, ESL_ST_OK, 1, 4000};
	struct esl_frame bf = {.type = ESL_T_BATCH, .seq = 9, .sid = 3}, m;
	size_t off = 0;
	int n = 0, k = 0;

	(void)state;
	esl_enc_result(rp, sizeof(rp), &r);
	esl_enc_img_chunk_r(cp, sizeof(cp), &c);
	n = esl_batch_add(b, sizeof(b), 0, ESL_T_IMG_CHUNK_R, cp, sizeof(cp));
	assert_int_equal(n, 2 + ESL_IMG_CHUNK_R_LEN);
	n = esl_batch_add(b, sizeof(b), (size_t)n, ESL_T_RESULT, rp, sizeof(rp));
	assert_int_equal(n, 4 + ESL_IMG_CHUNK_R_LEN + ESL_RESULT_LEN);
	n = esl_batch_add(b, sizeof(b), (size_t)n, ESL_T_LABELS_REQ, NULL, 0);
	bf.len = (uint16_t)n;
	bf.payload = b;
	assert_int_equal(esl_batch_next(&bf, &off, &m), 1);
	assert_int_equal(m.type, ESL_T_IMG_CHUNK_R);
	assert_int_equal(m.seq, 9);
	assert_memory_equal(m.payload, cp, sizeof(cp));
	assert_int_equal(esl_batch_next(&bf, &off, &m), 1);
	assert_int_equal(m.type, ESL_T_RESULT);
	assert_int_equal(m.len, ESL_RESULT_LEN);
	assert_int_equal(esl_batch_next(&bf, &off, &m), 1);
	assert_int_equal(m.type, ESL_T_LABELS_REQ);
	assert_int_equal(m.len, 0);
	assert_int_equal(esl_batch_next(&bf, &off, &m), 0);
	/* what cannot go in */
	assert_int_equal(esl_batch_add(b, sizeof(b), 0, ESL_T_ACK, NULL, 0), -ESL_EINVAL);
	assert_int_equal(esl_batch_add(b, sizeof(b), 0, ESL_T_BATCH, NULL, 0), -ESL_EINVAL);
	assert_int_equal(esl_batch_add(b, sizeof(b), 0, ESL_T_RESULT, big, 256), -ESL_EMSGSIZE);
	assert_int_equal(esl_batch_add(b, 10, 0, ESL_T_RESULT, rp, sizeof(rp)), -ESL_EMSGSIZE);
	/* it stops at ESL_MAX_PAYLOAD */
	for (n = 0, k = 0;
	     (n = esl_batch_add(b, sizeof(b), (size_t)n, ESL_T_RESULT, big, 255)) > 0;)
		k++;
	assert_int_equal(k, ESL_MAX_PAYLOAD / 257);
	/* malformed: a record running past the end, a nested batch */
	b[0] = ESL_T_RESULT;
	b[1] = 30;
	bf.len = 20;
	off = 0;
	assert_int_equal(esl_batch_next(&bf, &off, &m), -ESL_EINVAL);
	b[0] = ESL_T_BATCH;
	b[1] = 0;
	off = 0;
	assert_int_equal(esl_batch_next(&bf, &off, &m), -ESL_EINVAL);
	b[0] = ESL_T_RESULT;
	bf.len = 1;
	off = 0;
	assert_int_equal(esl_batch_next(&bf, &off, &m), -ESL_EINVAL);
}

static void test_names(void **state)
{
	(void)state;
	for (size_t t = 0; t < sizeof(all_types); t++)
		assert_string_not_equal(esl_type_name(all_types[t]), "?");
	assert_string_equal(esl_type_name(0xEE), "?");
	assert_string_equal(esl_status_name(ESL_ST_HASH), "HASH");
	assert_string_equal(esl_status_name(ESL_ST_LOW_BATTERY), "LOW_BATTERY");
	assert_string_equal(esl_status_name(200), "?");
}

static void test_byte_helpers(void **state)
{
	uint8_t a[16], b[8];

	(void)state;
	for (int i = 0; i < 16; i++)
		a[i] = (uint8_t)i;
	esl_memmove(a + 2, a, 8); /* overlapping, forwards */
	assert_int_equal(a[2], 0);
	assert_int_equal(a[9], 7);
	esl_memmove(a, a + 2, 8); /* overlapping, backwards */
	assert_int_equal(a[0], 0);
	assert_int_equal(a[7], 7);
	esl_memset(b, 0xAB, sizeof(b));
	assert_int_equal(b[7], 0xAB);
	esl_memcpy(b, a, 4);
	assert_int_equal(b[3], 3);
	esl_put64(a, 0x0102030405060708ull);
	assert_int_equal(a[0], 8);
	assert_true(esl_get64(a) == 0x0102030405060708ull);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc_vector),
		cmocka_unit_test(test_frame_layout),
		cmocka_unit_test(test_protocol_md_examples),
		cmocka_unit_test(test_frame_roundtrip_all_types),
		cmocka_unit_test(test_encode_errors),
		cmocka_unit_test(test_split_feeds),
		cmocka_unit_test(test_garbage_between_frames),
		cmocka_unit_test(test_corrupted_byte),
		cmocka_unit_test(test_oversize),
		cmocka_unit_test(test_frame_inside_damaged_frame),
		cmocka_unit_test(test_random_streams),
		cmocka_unit_test(test_expire),
		cmocka_unit_test(test_hello),
		cmocka_unit_test(test_hello_r),
		cmocka_unit_test(test_img_begin),
		cmocka_unit_test(test_img_begin_r),
		cmocka_unit_test(test_img_chunk),
		cmocka_unit_test(test_small_messages),
		cmocka_unit_test(test_checkin),
		cmocka_unit_test(test_batch),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_byte_helpers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
