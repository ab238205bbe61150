/*
 * bs_core: base-station logic (see bs_core.h, PROTOCOL.md). Freestanding.
 */
#include "bs_core.h"

enum { BS_X_FREE = 0, BS_X_RECEIVING, BS_X_RADIO };

#define NO_BLOCK ((uint16_t)BS_POOL_BLOCKS)

static bool reached(uint32_t now, uint32_t t)
{
	return (int32_t)(now - t) >= 0;
}

/* ---- outgoing queue ---- */

static unsigned outq_free(const struct bs *bs)
{
	return BS_OUTQ - bs->outq_n;
}

/* Queue one small message (payload already encoded, @len <= BS_OUTQ_MSG). */
static void outq_push(struct bs *bs, uint8_t type, const uint8_t *payload, int len)
{
	struct bs_outmsg *m;

	if (len < 0 || len > (int)BS_OUTQ_MSG || bs->outq_n == BS_OUTQ) {
		bs->st.outq_full++;
		return;
	}
	m = &bs->outq[(bs->outq_head + bs->outq_n) % BS_OUTQ];
	m->type = type;
	m->len = (uint8_t)len;
	esl_memcpy(m->payload, payload, (size_t)len);
	bs->outq_n++;
}

static void fill_hello_r(const struct bs *bs, struct esl_hello_r *r, uint8_t status)
{
	esl_memset(r, 0, sizeof(*r));
	r->proto = ESL_PROTO_VERSION;
	r->status = status;
	r->fw_version = BS_FW_VERSION;
	r->caps = bs->cfg.caps;
	r->boot_id = bs->cfg.boot_id;
	r->max_chunk = ESL_CHUNK_MAX;
	r->buffers = BS_MAX_XFERS;
	r->window = BS_LINK_WINDOW;
	r->pool_bytes = BS_POOL_BLOCKS * BS_BLOCK_SIZE;
	r->labels = bs->nlabels;
	r->max_labels = BS_MAX_LABELS;
}

static void queue_hello_r(struct bs *bs, uint8_t type, uint8_t status)
{
	struct esl_hello_r r;
	uint8_t b[ESL_HELLO_R_LEN];

	fill_hello_r(bs, &r, status);
	outq_push(bs, type, b, esl_enc_hello_r(b, sizeof(b), &r));
}

static void queue_error(struct bs *bs, const struct esl_frame *f, uint8_t code)
{
	struct esl_error e = {.type = f->type, .seq = f->seq, .code = code};
	uint8_t b[ESL_ERROR_LEN];

	bs->st.bad_frames++;
	outq_push(bs, ESL_T_ERROR, b, esl_enc_error(b, sizeof(b), &e));
}

static void queue_begin_r(struct bs *bs, const struct esl_img_begin *m, uint8_t status,
			  uint32_t next)
{
	struct esl_img_begin_r r = {.label = m->label,
				    .xfer = m->xfer,
				    .status = status,
				    .next_offset = next,
				    .retry_ms = status == ESL_ST_BUSY ? BS_BUSY_RETRY_MS : 0};
	uint8_t b[ESL_IMG_BEGIN_R_LEN];

	if (status == ESL_ST_BUSY)
		bs->st.busy++;
	outq_push(bs, ESL_T_IMG_BEGIN_R, b, esl_enc_img_begin_r(b, sizeof(b), &r));
}

static void queue_chunk_r(struct bs *bs, uint16_t xfer, uint8_t status, uint32_t next, bool done)
{
	struct esl_img_chunk_r r = {
		.xfer = xfer, .status = status, .done = done ? 1 : 0, .next_offset = next};
	uint8_t b[ESL_IMG_CHUNK_R_LEN];

	if (status != ESL_ST_OK)
		bs->st.chunk_errors++;
	outq_push(bs, ESL_T_IMG_CHUNK_R, b, esl_enc_img_chunk_r(b, sizeof(b), &r));
}

static void queue_result(struct bs *bs, uint32_t label, uint16_t tag, uint8_t kind, uint8_t status,
			 uint64_t hash, uint8_t attempts)
{
	struct esl_result r = {.label = label,
			       .tag = tag,
			       .kind = kind,
			       .status = status,
			       .hash = hash,
			       .attempts = attempts};
	uint8_t b[ESL_RESULT_LEN];

	if (status == ESL_ST_OK)
		bs->st.delivered++;
	else
		bs->st.failed++;
	outq_push(bs, ESL_T_RESULT, b, esl_enc_result(b, sizeof(b), &r));
}

/* ---- label table ---- */

static struct bs_label *label_find(struct bs *bs, uint32_t id)
{
	for (unsigned i = 0; i < bs->nlabels; i++)
		if (bs->labels[i].id == id)
			return &bs->labels[i];
	return NULL;
}

const struct bs_label *bs_label_find(const struct bs *bs, uint32_t id)
{
	return label_find((struct bs *)bs, id);
}

/* Find or add @id; when the table is full the label heard least recently makes room. */
static struct bs_label *label_get(struct bs *bs, uint32_t id)
{
	struct bs_label *l = label_find(bs, id);

	if (l)
		return l;
	if (bs->nlabels < BS_MAX_LABELS) {
		l = &bs->labels[bs->nlabels++];
	} else {
		l = &bs->labels[0];
		for (unsigned i = 1; i < bs->nlabels; i++)
			if ((int32_t)(bs->labels[i].last_ms - l->last_ms) < 0)
				l = &bs->labels[i];
		bs->st.labels_evicted++;
	}
	esl_memset(l, 0, sizeof(*l));
	l->id = id;
	l->last_ms = bs->now;
	return l;
}

/* ---- image pool ---- */

static void pool_init(struct bs *bs)
{
	for (uint16_t i = 0; i < BS_POOL_BLOCKS; i++)
		bs->block_next[i] = (uint16_t)(i + 1);
	bs->free_block = 0;
	bs->free_blocks = BS_POOL_BLOCKS;
}

/* Take @n blocks as one chain; returns its first block. Caller checked free_blocks. */
static uint16_t pool_alloc(struct bs *bs, uint16_t n)
{
	uint16_t first = bs->free_block, last = first;

	if (n == 0)
		return NO_BLOCK;
	for (uint16_t i = 1; i < n; i++)
		last = bs->block_next[last];
	bs->free_block = bs->block_next[last];
	bs->block_next[last] = NO_BLOCK;
	bs->free_blocks = (uint16_t)(bs->free_blocks - n);
	return first;
}

static void pool_free(struct bs *bs, uint16_t first)
{
	while (first != NO_BLOCK) {
		uint16_t next = bs->block_next[first];

		bs->block_next[first] = bs->free_block;
		bs->free_block = first;
		bs->free_blocks++;
		first = next;
	}
}

/* Copy between an image's block chain and flat memory; @to_pool picks the direction. */
static void pool_copy(struct bs *bs, uint16_t first, uint32_t off, uint8_t *mem, uint32_t n,
		      bool to_pool)
{
	uint16_t b = first;

	for (uint32_t k = off / BS_BLOCK_SIZE; k; k--)
		b = bs->block_next[b];
	off %= BS_BLOCK_SIZE;
	while (n) {
		uint32_t k = BS_BLOCK_SIZE - off;

		if (k > n)
			k = n;
		if (to_pool)
			esl_memcpy(bs->pool[b] + off, mem, k);
		else
			esl_memcpy(mem, bs->pool[b] + off, k);
		mem += k;
		n -= k;
		off = 0;
		b = bs->block_next[b];
	}
}

int bs_image_read(const struct bs *bs, uint16_t handle, uint32_t off, uint8_t *dst, uint32_t n)
{
	const struct bs_xfer *x;

	if (handle >= BS_MAX_XFERS)
		return -ESL_EINVAL;
	x = &bs->xfer[handle];
	if (x->state == BS_X_FREE || x->kind != ESL_K_IMAGE || off > x->img.enc_len ||
	    n > x->img.enc_len - off)
		return -ESL_EINVAL;
	pool_copy((struct bs *)bs, x->first_block, off, dst, n, false);
	return 0;
}

static void xfer_free(struct bs *bs, struct bs_xfer *x)
{
	pool_free(bs, x->first_block);
	esl_memset(x, 0, sizeof(*x));
	x->first_block = NO_BLOCK;
}

unsigned bs_xfers_active(const struct bs *bs)
{
	unsigned n = 0;

	for (unsigned i = 0; i < BS_MAX_XFERS; i++)
		n += bs->xfer[i].state != BS_X_FREE;
	return n;
}

static struct bs_xfer *xfer_slot(struct bs *bs)
{
	for (unsigned i = 0; i < BS_MAX_XFERS; i++)
		if (bs->xfer[i].state == BS_X_FREE)
			return &bs->xfer[i];
	return NULL;
}

/* Drop the receiving transfer idle longest, if it has been idle BS_XFER_IDLE_MS. */
static bool evict_stalled(struct bs *bs)
{
	struct bs_xfer *v = NULL;

	for (unsigned i = 0; i < BS_MAX_XFERS; i++) {
		struct bs_xfer *x = &bs->xfer[i];

		if (x->state == BS_X_RECEIVING && reached(bs->now, x->last_ms + BS_XFER_IDLE_MS) &&
		    (!v || (int32_t)(x->last_ms - v->last_ms) < 0))
			v = x;
	}
	if (!v)
		return false;
	xfer_free(bs, v);
	bs->st.evicted++;
	return true;
}

static uint16_t handle_of(const struct bs *bs, const struct bs_xfer *x)
{
	return (uint16_t)(x - bs->xfer);
}

/* ---- requests ---- */

static uint8_t check_begin(const struct bs *bs, const struct esl_img_begin *m)
{
	uint16_t w, h;
	uint8_t planes;
	const struct bs_label *l;

	if (m->planes < 1 || m->planes > 2 || m->width == 0 || m->height == 0 ||
	    m->width > ESL_IMG_MAX_W || m->height > ESL_IMG_MAX_H ||
	    m->raw_len != esl_img_bytes(m->width, m->height, m->planes))
		return ESL_ST_BAD_REQUEST;
	if (m->enc == ESL_IMG_ENC_RAW) {
		if (m->enc_len != m->raw_len)
			return ESL_ST_BAD_REQUEST;
	} else if (m->enc == ESL_IMG_ENC_PACKBITS) {
		if (m->enc_len == 0 || m->enc_len > m->raw_len + m->raw_len / 128 + 2)
			return ESL_ST_BAD_REQUEST;
	} else {
		return ESL_ST_UNSUPPORTED;
	}
	if ((m->enc_len + BS_BLOCK_SIZE - 1) / BS_BLOCK_SIZE > BS_POOL_BLOCKS)
		return ESL_ST_TOO_LARGE;
	if (m->type) {
		if (esl_label_geometry(m->type, &w, &h, &planes) != 0 || w != m->width ||
		    h != m->height || planes != m->planes)
			return ESL_ST_BAD_REQUEST;
	}
	l = bs_label_find(bs, m->label);
	if (l && l->type) {
		if (esl_label_geometry(l->type, &w, &h, &planes) == 0 &&
		    (w != m->width || h != m->height || planes != m->planes))
			return ESL_ST_TYPE_MISMATCH;
	}
	return ESL_ST_OK;
}

static void handle_begin(struct bs *bs, const struct esl_img_begin *m)
{
	uint8_t st = check_begin(bs, m);
	const struct bs_label *l;
	struct bs_xfer *x;
	uint16_t nblocks;

	if (st != ESL_ST_OK) {
		queue_begin_r(bs, m, st, 0);
		return;
	}
	l = bs_label_find(bs, m->label);
	if (l && l->hash == m->hash) {
		queue_begin_r(bs, m, ESL_ST_ALREADY, m->enc_len);
		return;
	}
	/* the same content again: resume it; other content for this label: supersede */
	for (unsigned i = 0; i < BS_MAX_XFERS; i++) {
		x = &bs->xfer[i];
		if (x->state == BS_X_FREE || x->kind != ESL_K_IMAGE || x->img.label != m->label)
			continue;
		if (x->img.hash == m->hash && x->img.enc == m->enc &&
		    x->img.enc_len == m->enc_len) {
			x->tag = m->xfer;
			x->last_ms = bs->now;
			if (x->state == BS_X_RADIO) {
				queue_begin_r(bs, m, ESL_ST_IN_PROGRESS, x->img.enc_len);
			} else {
				bs->st.images_resumed++;
				queue_begin_r(bs, m, ESL_ST_OK, x->received);
			}
			return;
		}
		if (x->state == BS_X_RECEIVING)
			xfer_free(bs, x);
	}
	nblocks = (uint16_t)((m->enc_len + BS_BLOCK_SIZE - 1) / BS_BLOCK_SIZE);
	for (;;) {
		x = xfer_slot(bs);
		if (x && bs->free_blocks >= nblocks)
			break;
		if (!evict_stalled(bs)) {
			queue_begin_r(bs, m, ESL_ST_BUSY, 0);
			return;
		}
	}
	x->state = BS_X_RECEIVING;
	x->kind = ESL_K_IMAGE;
	x->tag = m->xfer;
	x->first_block = pool_alloc(bs, nblocks);
	x->nblocks = nblocks;
	x->received = 0;
	x->last_ms = bs->now;
	x->img = (struct bs_image){.label = m->label,
				   .hash = m->hash,
				   .enc = m->enc,
				   .type = m->type,
				   .width = m->width,
				   .height = m->height,
				   .planes = m->planes,
				   .raw_len = m->raw_len,
				   .enc_len = m->enc_len};
	bs->st.images_begun++;
	queue_begin_r(bs, m, ESL_ST_OK, 0);
}

static void handle_chunk(struct bs *bs, const struct esl_img_chunk *c)
{
	struct bs_xfer *x = NULL;
	uint8_t st;

	for (unsigned i = 0; i < BS_MAX_XFERS; i++) {
		struct bs_xfer *y = &bs->xfer[i];

		if (y->state != BS_X_FREE && y->kind == ESL_K_IMAGE && y->tag == c->xfer &&
		    (!x || y->state == BS_X_RECEIVING))
			x = y;
	}
	if (!x) {
		queue_chunk_r(bs, c->xfer, ESL_ST_NO_XFER, 0, false);
		return;
	}
	if (x->state == BS_X_RADIO) {
		/* a resend after the image was complete: nothing to do */
		queue_chunk_r(bs, c->xfer, ESL_ST_OK, x->img.enc_len, true);
		return;
	}
	if (c->offset > x->received) {
		queue_chunk_r(bs, c->xfer, ESL_ST_GAP, x->received, false);
		return;
	}
	if (c->offset > x->img.enc_len || c->len > x->img.enc_len - c->offset) {
		queue_chunk_r(bs, c->xfer, ESL_ST_BAD_REQUEST, x->received, false);
		return;
	}
	pool_copy(bs, x->first_block, c->offset, (uint8_t *)c->data, c->len, true);
	if (c->offset + c->len > x->received)
		x->received = c->offset + c->len;
	x->last_ms = bs->now;
	bs->st.chunks++;
	if (x->received < x->img.enc_len) {
		queue_chunk_r(bs, c->xfer, ESL_ST_OK, x->received, false);
		return;
	}
	/* complete: over to the radio; the chunk reply goes before any RESULT */
	queue_chunk_r(bs, c->xfer, ESL_ST_OK, x->received, true);
	x->state = BS_X_RADIO;
	bs->st.images_complete++;
	st = bs->cfg.radio->image(bs->cfg.radio_arg, handle_of(bs, x), &x->img);
	if (st != ESL_ST_OK) {
		queue_result(bs, x->img.label, x->tag, ESL_K_IMAGE, st, x->img.hash, 0);
		xfer_free(bs, x);
	}
}

static void handle_abort(struct bs *bs, const struct esl_img_abort *a)
{
	for (unsigned i = 0; i < BS_MAX_XFERS; i++) {
		struct bs_xfer *x = &bs->xfer[i];

		/* once with the radio an image cannot be called back */
		if (x->state == BS_X_RECEIVING && x->img.label == a->label && x->tag == a->xfer)
			xfer_free(bs, x);
	}
}

/* FLASH and PAGE: a slot without pool blocks, the RESULT comes from the radio. */
static void handle_cmd(struct bs *bs, uint8_t kind, uint32_t label, uint16_t req, const void *m)
{
	struct bs_xfer *x = xfer_slot(bs);
	uint8_t st;

	if (!x) {
		queue_result(bs, label, req, kind, ESL_ST_BUSY, 0, 0);
		return;
	}
	x->state = BS_X_RADIO;
	x->kind = kind;
	x->tag = req;
	x->first_block = NO_BLOCK;
	x->img.label = label;
	x->last_ms = bs->now;
	if (kind == ESL_K_FLASH)
		st = bs->cfg.radio->flash(bs->cfg.radio_arg, handle_of(bs, x), m);
	else
		st = bs->cfg.radio->page(bs->cfg.radio_arg, handle_of(bs, x), m);
	if (st != ESL_ST_OK) {
		queue_result(bs, label, req, kind, st, 0, 0);
		xfer_free(bs, x);
	}
}

static void handle_frame(struct bs *bs, const struct esl_frame *f);

/* The messages of a BATCH, one by one; a malformed rest is answered with ERROR. */
static void handle_batch(struct bs *bs, const struct esl_frame *f)
{
	struct esl_frame m;
	size_t off = 0;
	int rc;

	while ((rc = esl_batch_next(f, &off, &m)) == 1)
		handle_frame(bs, &m);
	if (rc < 0)
		queue_error(bs, f, ESL_ST_BAD_REQUEST);
}

static void handle_frame(struct bs *bs, const struct esl_frame *f)
{
	union {
		struct esl_hello hello;
		struct esl_img_begin begin;
		struct esl_img_chunk chunk;
		struct esl_img_abort abort;
		struct esl_flash flash;
		struct esl_page page;
	} m;

	switch (f->type) {
	case ESL_T_HELLO:
		if (esl_dec_hello(f->payload, f->len, &m.hello) != 0)
			break;
		bs->st.hellos++;
		queue_hello_r(bs, ESL_T_HELLO_R,
			      (m.hello.proto >= ESL_PROTO_MIN_VERSION &&
			       m.hello.min_proto <= ESL_PROTO_VERSION)
				      ? ESL_ST_OK
				      : ESL_ST_UNSUPPORTED);
		return;
	case ESL_T_IMG_BEGIN:
		if (esl_dec_img_begin(f->payload, f->len, &m.begin) != 0)
			break;
		handle_begin(bs, &m.begin);
		return;
	case ESL_T_IMG_CHUNK:
		if (esl_dec_img_chunk(f->payload, f->len, &m.chunk) != 0)
			break;
		handle_chunk(bs, &m.chunk);
		return;
	case ESL_T_IMG_ABORT:
		if (esl_dec_img_abort(f->payload, f->len, &m.abort) != 0)
			break;
		handle_abort(bs, &m.abort);
		return;
	case ESL_T_FLASH:
		if (esl_dec_flash(f->payload, f->len, &m.flash) != 0)
			break;
		handle_cmd(bs, ESL_K_FLASH, m.flash.label, m.flash.req, &m.flash);
		return;
	case ESL_T_PAGE:
		if (esl_dec_page(f->payload, f->len, &m.page) != 0)
			break;
		handle_cmd(bs, ESL_K_PAGE, m.page.label, m.page.req, &m.page);
		return;
	case ESL_T_LABELS_REQ:
		bs->replay = 0;
		return;
	case ESL_T_BATCH:
		handle_batch(bs, f);
		return;
	case ESL_T_ERROR:
		bs->st.bad_frames++; /* the gateway could not use something we sent; nothing to redo */
		return;
	default:
		queue_error(bs, f, ESL_ST_UNSUPPORTED);
		return;
	}
	queue_error(bs, f, ESL_ST_BAD_REQUEST);
}

/* ---- output ---- */

static bool send_checkins(struct bs *bs)
{
	unsigned n = 0;
	int len;

	if (!bs->ciq_n || (bs->ciq_n < ESL_CHECKIN_MAX &&
			   !reached(bs->now, bs->ciq_since + BS_CHECKIN_LINGER_MS)))
		return false;
	while (bs->ciq_n && n < ESL_CHECKIN_MAX) {
		bs->batch[n++] = bs->ciq[bs->ciq_head];
		bs->ciq_head = (uint16_t)((bs->ciq_head + 1) % BS_CHECKIN_Q);
		bs->ciq_n--;
	}
	bs->ciq_since = bs->now;
	len = esl_enc_checkin(bs->scratch, sizeof(bs->scratch), bs->batch, n);
	if (len > 0)
		esl_link_send(&bs->link, ESL_T_CHECKIN, bs->scratch, (uint16_t)len, bs->now);
	return true;
}

static bool send_replay(struct bs *bs)
{
	unsigned n = 0;
	int len;

	if (bs->replay < 0)
		return false;
	while ((unsigned)bs->replay < bs->nlabels && n < ESL_CHECKIN_MAX) {
		const struct bs_label *l = &bs->labels[bs->replay++];
		uint32_t age = (bs->now - l->last_ms) / 1000;

		bs->batch[n++] =
			(struct esl_checkin){.label = l->id,
					     .type = l->type,
					     .page = l->page,
					     .fw = l->fw,
					     .battery_mv = l->battery_mv,
					     .temp_c = l->temp_c,
					     .rssi = l->rssi,
					     .lqi = l->lqi,
					     .flags = (uint8_t)(l->flags | ESL_CI_REPLAY),
					     .age_s = age > 0xFFFF ? 0xFFFF : (uint16_t)age,
					     .hash = l->hash};
	}
	if ((unsigned)bs->replay >= bs->nlabels)
		bs->replay = -1;
	if (!n)
		return false;
	len = esl_enc_checkin(bs->scratch, sizeof(bs->scratch), bs->batch, n);
	if (len > 0)
		esl_link_send(&bs->link, ESL_T_CHECKIN, bs->scratch, (uint16_t)len, bs->now);
	return true;
}

/* Fill the link window: replies and results first, then check-ins, then a table replay. */
static void send_ready(struct bs *bs)
{
	while (esl_link_can_send(&bs->link)) {
		if (bs->outq_n == 1) {
			struct bs_outmsg *m = &bs->outq[bs->outq_head];

			esl_link_send(&bs->link, m->type, m->payload, m->len, bs->now);
			bs->outq_head = (uint16_t)((bs->outq_head + 1) % BS_OUTQ);
			bs->outq_n--;
			continue;
		}
		if (bs->outq_n > 1) {
			/* several waiting: one BATCH frame, so the few frames in flight carry them all */
			int len = 0;

			while (bs->outq_n) {
				struct bs_outmsg *m = &bs->outq[bs->outq_head];
				int k = esl_batch_add(bs->scratch, sizeof(bs->scratch), (size_t)len,
						      m->type, m->payload, m->len);

				if (k < 0)
					break;
				len = k;
				bs->outq_head = (uint16_t)((bs->outq_head + 1) % BS_OUTQ);
				bs->outq_n--;
			}
			esl_link_send(&bs->link, ESL_T_BATCH, bs->scratch, (uint16_t)len, bs->now);
			continue;
		}
		if (send_checkins(bs))
			continue;
		if (send_replay(bs))
			continue;
		break;
	}
}

void bs_init(struct bs *bs, const struct bs_config *cfg, uint32_t now)
{
	struct esl_link_cfg lc = {.write = cfg->write,
				  .arg = cfg->write_arg,
				  .sid = (uint16_t)(cfg->boot_id ^ (cfg->boot_id >> 16)),
				  .window = BS_LINK_WINDOW,
				  .max_retries = BS_LINK_RETRIES,
				  .rto_ms = BS_LINK_RTO_MS,
				  .byte_us = cfg->byte_us,
				  .max_payload = ESL_MAX_PAYLOAD};

	esl_memset(bs, 0, sizeof(*bs));
	bs->cfg = *cfg;
	bs->now = now;
	bs->replay = -1;
	esl_link_init(&bs->link, &lc);
	pool_init(bs);
	for (unsigned i = 0; i < BS_MAX_XFERS; i++)
		bs->xfer[i].first_block = NO_BLOCK;
	queue_hello_r(bs, ESL_T_BOOT, ESL_ST_OK);
	send_ready(bs);
}

/* Handle every frame the link has for us, keeping room for the reply of each. */
static void rx_frames(struct bs *bs, uint32_t now)
{
	struct esl_frame f;

	esl_link_pause_rx(&bs->link, outq_free(bs) < 2);
	while (esl_link_next(&bs->link, now, &f)) {
		handle_frame(bs, &f);
		esl_link_pause_rx(&bs->link, outq_free(bs) < 2);
		send_ready(bs);
	}
}

void bs_input(struct bs *bs, const uint8_t *p, size_t n, uint32_t now)
{
	size_t used = 0;

	bs->now = now;
	for (;;) {
		rx_frames(bs, now);
		if (used == n)
			break;
		used += esl_link_feed(&bs->link, p + used, n - used);
	}
	bs_poll(bs, now);
}

void bs_poll(struct bs *bs, uint32_t now)
{
	bs->now = now;
	send_ready(bs);
	if (esl_link_poll(&bs->link, now) == -ESL_ETIMEDOUT)
		bs->st.link_failures++; /* the gateway is gone; what was in flight is lost */
	rx_frames(bs, now); /* frames found in an unfinished one the link gave up */
	send_ready(bs);
}

int32_t bs_timeout(const struct bs *bs, uint32_t now)
{
	int32_t t = esl_link_timeout(&bs->link, now);

	if (esl_link_can_send(&bs->link)) {
		if (bs->outq_n || (bs->replay >= 0 && (unsigned)bs->replay < bs->nlabels))
			return 0;
		if (bs->ciq_n) {
			int32_t c = (int32_t)(bs->ciq_since + BS_CHECKIN_LINGER_MS - now);

			if (c < 0 || bs->ciq_n >= ESL_CHECKIN_MAX)
				c = 0;
			if (t < 0 || c < t)
				t = c;
		}
	}
	return t;
}

void bs_radio_done(struct bs *bs, uint16_t handle, uint8_t status, uint8_t attempts)
{
	struct bs_xfer *x;

	if (handle >= BS_MAX_XFERS)
		return;
	x = &bs->xfer[handle];
	if (x->state != BS_X_RADIO)
		return;
	if (x->kind == ESL_K_IMAGE && status == ESL_ST_OK) {
		struct bs_label *l = label_get(bs, x->img.label);

		l->hash = x->img.hash;
		l->last_ms = bs->now;
		if (!l->type)
			l->type = x->img.type;
	}
	queue_result(bs, x->img.label, x->tag, x->kind, status,
		     x->kind == ESL_K_IMAGE ? x->img.hash : 0, attempts);
	xfer_free(bs, x);
	send_ready(bs);
}

void bs_radio_checkin(struct bs *bs, const struct esl_checkin *ci)
{
	struct bs_label *l = label_get(bs, ci->label);

	l->hash = ci->hash;
	l->type = ci->type;
	l->page = ci->page;
	l->fw = ci->fw;
	l->battery_mv = ci->battery_mv;
	l->temp_c = ci->temp_c;
	l->rssi = ci->rssi;
	l->lqi = ci->lqi;
	l->flags = ci->flags & (uint8_t)~ESL_CI_REPLAY;
	l->last_ms = bs->now;
	bs->st.checkins++;
	if (bs->ciq_n == BS_CHECKIN_Q) {
		/* the gateway is not keeping up: the oldest report goes */
		bs->ciq_head = (uint16_t)((bs->ciq_head + 1) % BS_CHECKIN_Q);
		bs->ciq_n--;
		bs->st.checkins_dropped++;
	}
	if (!bs->ciq_n)
		bs->ciq_since = bs->now;
	bs->ciq[(bs->ciq_head + bs->ciq_n) % BS_CHECKIN_Q] = *ci;
	bs->ciq_n++;
	send_ready(bs);
}
