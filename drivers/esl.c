/*
 * esl: the gateway end of the ESL base-station protocol. See esl.h and
 * firmware/PROTOCOL.md (§6 procedures, §7 throughput).
 *
 * One "op" per label outstanding at the station:
 *   BEGIN      IMG_BEGIN to send (new job, or resume after GAP/NO_XFER)
 *   WAIT_R     IMG_BEGIN sent, waiting for IMG_BEGIN_R
 *   STREAM     sending IMG_CHUNKs from next_send
 *   SENT_ALL   every chunk sent, waiting for the IMG_CHUNK_R that says done
 *   RESULT     the station has the image; waiting for its RESULT
 *   BUSY       the station was full; IMG_BEGIN again at retry_at
 * Ops end with a RESULT (or ALREADY, or a permanent refusal), which goes to
 * the host. A station reset, a link give-up or a lost port ends them all at
 * once: the host queues those jobs again (they resume or are ALREADY).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "esl.h"
#include "esl_link.h"
#include "esl_proto.h"
#include "log.h"
#include "serdev.h"
#include "util.h"

#define ESL_OPS_MAX 24 /* labels outstanding at the station */
#define ESL_STREAMING 2 /* labels with image data in flight on the wire */
#define ESL_FLASH_MAX 32
#define ESL_OUT_MAX (256 * 1024) /* bytes queued for the port (a few windows) */
#define ESL_RTO_MS 300
#define ESL_MAX_RETRIES 6
#define ESL_BUSY_MIN_MS 100

enum op_state { OP_FREE = 0, OP_BEGIN, OP_WAIT_R, OP_STREAM, OP_SENT_ALL, OP_RESULT, OP_BUSY };

struct esl_op {
	enum op_state state;
	char label[ESL_LABEL_ID_LEN + 1];
	uint32_t label_id;
	uint8_t type;
	uint64_t hash;
	uint16_t xfer;
	uint8_t enc;
	uint16_t width, height;
	uint8_t planes;
	uint32_t raw_len;
	uint32_t enc_len;
	uint8_t *data; /* enc_len bytes, owned */
	uint32_t next_send;
	int64_t retry_at;
};

/* A command in the command lane (FLASH or PAGE), until its RESULT. */
struct esl_flash_req {
	uint8_t kind; /* ESL_K_FLASH or ESL_K_PAGE */
	uint32_t label;
	uint16_t req;
	uint8_t page;
	uint16_t duration_s;
	bool sent;
};

struct esl_priv {
	struct device *dev;
	const struct esl_host *host;
	struct serdev sd;
	struct esl_link link;
	struct esl_hello_r info;
	bool ready; /* HELLO_R seen on this open */
	bool have_boot;
	uint32_t boot_id;
	uint16_t next_xfer;
	uint16_t next_req;
	struct esl_op ops[ESL_OPS_MAX];
	struct esl_flash_req flash[ESL_FLASH_MAX];
	size_t n_flash;
	struct dynbuf out; /* bytes waiting for the port */
	int timer;
	int64_t timer_at;
	bool in_pump;
	struct esl_stats st;
	uint8_t img_buf[ESL_IMG_MAX_BYTES];
	uint8_t enc_buf[ESL_IMG_MAX_BYTES];
	uint8_t frame_buf[ESL_MAX_PAYLOAD];
};

static void pump(struct esl_priv *p);

static uint32_t now32(void)
{
	return (uint32_t)now_mono_ms();
}

static const char *reason_text(uint8_t status)
{
	switch (status) {
	case ESL_ST_NO_LABEL:
		return "no such label at the base station";
	case ESL_ST_NO_RESPONSE:
		return "label not responding over the air";
	case ESL_ST_DECODE:
		return "label could not decode the image";
	case ESL_ST_HASH:
		return "label image did not match its content hash";
	case ESL_ST_TYPE_MISMATCH:
		return "image does not fit the label's display";
	case ESL_ST_LOW_BATTERY:
		return "label battery too low";
	case ESL_ST_TOO_LARGE:
		return "image too large for the base station";
	case ESL_ST_BUSY:
		return "base station busy";
	default:
		return esl_status_name(status);
	}
}

/* Failures worth retrying later (with the job's backoff). */
static bool retryable(uint8_t status)
{
	return status != ESL_ST_TYPE_MISMATCH && status != ESL_ST_TOO_LARGE &&
	       status != ESL_ST_BAD_REQUEST && status != ESL_ST_UNSUPPORTED;
}

static void label_name(uint32_t id, char out[ESL_LABEL_ID_LEN + 1])
{
	snprintf(out, ESL_LABEL_ID_LEN + 1, "%08X", id);
}

static bool label_parse(const char *s, uint32_t *id)
{
	uint32_t v = 0;

	if (!s || strlen(s) != ESL_LABEL_ID_LEN)
		return false;
	for (int i = 0; i < ESL_LABEL_ID_LEN; i++) {
		char c = s[i];
		unsigned d = c >= '0' && c <= '9'   ? (unsigned)(c - '0')
			     : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
			     : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10)
						    : 16;

		if (d > 15)
			return false;
		v = v << 4 | d;
	}
	*id = v;
	return true;
}

static void op_free(struct esl_op *op)
{
	free(op->data);
	memset(op, 0, sizeof(*op));
}

static unsigned ops_count(const struct esl_priv *p, bool streaming_only)
{
	unsigned n = 0;

	for (size_t i = 0; i < ESL_OPS_MAX; i++) {
		enum op_state s = p->ops[i].state;

		if (s == OP_FREE)
			continue;
		if (!streaming_only || s == OP_BEGIN || s == OP_WAIT_R || s == OP_STREAM)
			n++;
	}
	return n;
}

/* Drop every op (their jobs go back to the host's queue) and pending flashes' sent marks. */
static void drop_all(struct esl_priv *p, const char *why)
{
	unsigned n = ops_count(p, false);

	for (size_t i = 0; i < ESL_OPS_MAX; i++)
		op_free(&p->ops[i]);
	for (size_t i = 0; i < p->n_flash; i++)
		p->flash[i].sent = false;
	p->st.in_flight = 0;
	if (n)
		log_info("device %s: %s: %u label(s) in flight will be sent again",
			 p->dev->conf->name, why, n);
	p->host->reset(p->host->arg);
}

/* --- output --- */

static void flush_out(struct esl_priv *p)
{
	int fd = p->sd.fd;

	while (fd >= 0 && p->out.len) {
		ssize_t n = write(fd, p->out.buf, p->out.len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			serdev_want_write(&p->sd, true);
			return;
		}
		if (n <= 0) {
			char why[160];

			snprintf(why, sizeof(why), "port %s: write: %s", p->dev->conf->port,
				 strerror(errno));
			serdev_fail(&p->sd, why);
			return;
		}
		p->st.bytes_out += (uint64_t)n;
		memmove(p->out.buf, p->out.buf + n, p->out.len - (size_t)n);
		p->out.len -= (size_t)n;
	}
	serdev_want_write(&p->sd, false);
}

/* esl_link's write function: queue the frame for the port. */
static int link_write(void *arg, const uint8_t *buf, size_t n)
{
	struct esl_priv *p = arg;

	if (p->sd.fd < 0)
		return -1;
	return dynbuf_add(&p->out, buf, n) == 0 ? 0 : -1;
}

static int send_msg(struct esl_priv *p, uint8_t type, int len)
{
	if (len < 0)
		return len;
	return esl_link_send(&p->link, type, p->frame_buf, (uint16_t)len, now32());
}

/* --- timers --- */

static void on_timer(struct loop *l, void *arg);

static void arm_timer(struct esl_priv *p)
{
	int64_t now = now_mono_ms(), at = -1;
	int32_t t = esl_link_timeout(&p->link, (uint32_t)now);

	if (p->sd.fd >= 0 && t >= 0)
		at = now + t;
	for (size_t i = 0; i < ESL_OPS_MAX; i++) {
		if (p->ops[i].state == OP_BUSY && (at < 0 || p->ops[i].retry_at < at))
			at = p->ops[i].retry_at;
	}
	if (at == p->timer_at && p->timer)
		return;
	loop_timer_del(p->dev->host->loop, p->timer);
	p->timer = 0;
	p->timer_at = at;
	if (at >= 0)
		p->timer = loop_timer_add(p->dev->host->loop, at > now ? at - now : 0, on_timer, p);
}

/* --- incoming messages --- */

static struct esl_op *op_by_xfer(struct esl_priv *p, uint32_t label, uint16_t xfer, bool any_label)
{
	for (size_t i = 0; i < ESL_OPS_MAX; i++) {
		struct esl_op *op = &p->ops[i];

		if (op->state != OP_FREE && op->xfer == xfer &&
		    (any_label || op->label_id == label))
			return op;
	}
	return NULL;
}

static void finish(struct esl_priv *p, struct esl_op *op, bool delivered, uint8_t status)
{
	if (delivered)
		p->st.delivered++;
	else
		p->st.failed++;
	if (!delivered)
		device_note(p->dev, "label %s: %s", op->label, reason_text(status));
	p->host->result(p->host->arg, op->label, op->hash, delivered,
			delivered ? NULL : reason_text(status), retryable(status));
	op_free(op);
}

static void on_hello(struct esl_priv *p, const struct esl_frame *f)
{
	struct esl_hello_r m;
	bool reset;

	if (esl_dec_hello_r(f->payload, f->len, &m) < 0)
		return;
	if (m.status != ESL_ST_OK) {
		device_error(p->dev, "base station speaks protocol %u, not ours (%u): %s", m.proto,
			     ESL_PROTO_VERSION, esl_status_name(m.status));
		p->ready = false;
		return;
	}
	/* The first BOOT after our own start is no news: nothing was in flight. */
	reset = p->have_boot && (f->type == ESL_T_BOOT || m.boot_id != p->boot_id);
	if (reset) {
		p->st.station_resets++;
		log_warn("device %s: base station restarted (boot id %08x)", p->dev->conf->name,
			 m.boot_id);
		drop_all(p, "base station restarted");
	}
	if (!p->ready)
		log_info("device %s: base station fw %u.%u, %u labels, %u buffers, boot id %08x",
			 p->dev->conf->name, m.fw_version >> 8, m.fw_version & 0xff, m.labels,
			 m.buffers, m.boot_id);
	p->info = m;
	p->boot_id = m.boot_id;
	p->have_boot = true;
	p->ready = true;
	p->st.ready = true;
	p->st.boot_id = m.boot_id;
	p->st.fw_version = m.fw_version;
	p->st.station_labels = m.labels;
	p->st.station_buffers = m.buffers;
	if (f->type == ESL_T_BOOT)
		send_msg(p, ESL_T_LABELS_REQ, 0);
}

static void on_begin_r(struct esl_priv *p, const struct esl_frame *f)
{
	struct esl_img_begin_r m;
	struct esl_op *op;

	if (esl_dec_img_begin_r(f->payload, f->len, &m) < 0)
		return;
	op = op_by_xfer(p, m.label, m.xfer, false);
	if (!op || op->state != OP_WAIT_R)
		return; /* an answer to a transfer we gave up on */
	switch (m.status) {
	case ESL_ST_OK:
		if (m.next_offset > 0 && m.next_offset <= op->enc_len)
			p->st.resumes++;
		op->next_send = m.next_offset <= op->enc_len ? m.next_offset : 0;
		op->state = op->next_send < op->enc_len ? OP_STREAM : OP_SENT_ALL;
		break;
	case ESL_ST_ALREADY:
		p->st.already++;
		finish(p, op, true, ESL_ST_OK);
		break;
	case ESL_ST_IN_PROGRESS:
		op->state = OP_RESULT;
		break;
	case ESL_ST_BUSY:
		p->st.busy++;
		op->state = OP_BUSY;
		op->retry_at = now_mono_ms() +
			       (m.retry_ms > ESL_BUSY_MIN_MS ? m.retry_ms : ESL_BUSY_MIN_MS);
		break;
	default:
		finish(p, op, false, m.status);
		break;
	}
}

static void on_chunk_r(struct esl_priv *p, const struct esl_frame *f)
{
	struct esl_img_chunk_r m;
	struct esl_op *op;

	if (esl_dec_img_chunk_r(f->payload, f->len, &m) < 0)
		return;
	op = op_by_xfer(p, 0, m.xfer, true);
	if (!op || (op->state != OP_STREAM && op->state != OP_SENT_ALL))
		return;
	if (m.status == ESL_ST_NO_XFER || m.status == ESL_ST_GAP) {
		op->state = OP_BEGIN; /* ask where to resume */
		return;
	}
	if (m.status != ESL_ST_OK) {
		finish(p, op, false, m.status);
		return;
	}
	if (m.done)
		op->state = OP_RESULT;
}

static void on_result(struct esl_priv *p, const struct esl_frame *f)
{
	struct esl_result m;
	char label[ESL_LABEL_ID_LEN + 1];

	if (esl_dec_result(f->payload, f->len, &m) < 0)
		return;
	label_name(m.label, label);
	if (m.kind == ESL_K_IMAGE) {
		for (size_t i = 0; i < ESL_OPS_MAX; i++) {
			struct esl_op *op = &p->ops[i];

			if (op->state != OP_FREE && op->label_id == m.label && op->hash == m.hash) {
				if (m.status != ESL_ST_ABORTED)
					finish(p, op, m.status == ESL_ST_OK, m.status);
				return;
			}
		}
		/* A result for a job from before a reset or restart: the host matches the hash. */
		if (m.status == ESL_ST_OK)
			p->host->result(p->host->arg, label, m.hash, true, NULL, false);
		return;
	}
	for (size_t i = 0; i < p->n_flash; i++) {
		if (p->flash[i].req != m.tag)
			continue;
		if (p->host->flash_result)
			p->host->flash_result(p->host->arg, label, m.status == ESL_ST_OK,
					      reason_text(m.status));
		p->flash[i] = p->flash[--p->n_flash];
		return;
	}
}

static void on_checkin(struct esl_priv *p, const struct esl_frame *f)
{
	int n = esl_dec_checkin_count(f->payload, f->len);

	for (int i = 0; i < n; i++) {
		struct esl_checkin m;
		struct esl_checkin_report c;

		esl_dec_checkin_at(f->payload, (unsigned)i, &m);
		memset(&c, 0, sizeof(c));
		label_name(m.label, c.label);
		c.type = m.type;
		c.battery_mv = m.battery_mv;
		c.temp_c = m.temp_c;
		c.rssi = m.rssi;
		c.lqi = m.lqi;
		c.hash = m.hash;
		c.replay = m.flags & ESL_CI_REPLAY;
		c.low_battery = m.flags & ESL_CI_LOW_BATT;
		p->st.checkins++;
		p->host->checkin(p->host->arg, &c);
	}
}

static void dispatch(struct esl_priv *p, const struct esl_frame *f)
{
	switch (f->type) {
	case ESL_T_HELLO_R:
	case ESL_T_BOOT:
		on_hello(p, f);
		break;
	case ESL_T_IMG_BEGIN_R:
		on_begin_r(p, f);
		break;
	case ESL_T_IMG_CHUNK_R:
		on_chunk_r(p, f);
		break;
	case ESL_T_RESULT:
		on_result(p, f);
		break;
	case ESL_T_CHECKIN:
		on_checkin(p, f);
		break;
	case ESL_T_ERROR: {
		struct esl_error m;

		if (esl_dec_error(f->payload, f->len, &m) == 0)
			device_error(p->dev, "base station refused a %s frame: %s",
				     esl_type_name(m.type), esl_status_name(m.code));
		break;
	}
	case ESL_T_BATCH: {
		struct esl_frame sub;
		size_t off = 0;

		while (esl_batch_next(f, &off, &sub) == 1)
			dispatch(p, &sub);
		break;
	}
	default:
		break;
	}
}

/* Link housekeeping after input or a timer: acks, resends, give-ups. */
static void link_poll(struct esl_priv *p)
{
	struct esl_frame f;
	int rc = esl_link_poll(&p->link, now32());

	/*
	 * The poll may have given up a half-received frame after a silence,
	 * releasing whole frames that were queued behind it.
	 */
	while (p->sd.fd >= 0 && esl_link_next(&p->link, now32(), &f) == 1) {
		p->dev->st.lines_ok++;
		dispatch(p, &f);
	}
	if (rc == -ESL_ETIMEDOUT) {
		p->st.link_failures++;
		device_error(p->dev, "base station not answering on %s: link reset",
			     p->dev->conf->port);
		drop_all(p, "link reset");
		p->ready = false;
		/* Ask again; the station answers when it is back. */
		struct esl_hello h = {.proto = ESL_PROTO_VERSION,
				      .min_proto = ESL_PROTO_MIN_VERSION,
				      .window = ESL_LINK_WINDOW_MAX,
				      .caps = ESL_CAP_PACKBITS | ESL_CAP_BWR | ESL_CAP_FLASH |
					      ESL_CAP_LABELS_REQ | ESL_CAP_RESUME};
		send_msg(p, ESL_T_HELLO, esl_enc_hello(p->frame_buf, sizeof(p->frame_buf), &h));
	}
}

static void on_bytes(struct serdev *s, const uint8_t *buf, size_t n)
{
	struct esl_priv *p = s->dev->priv;
	struct esl_frame f;
	size_t off = 0;

	p->st.bytes_in += n;
	while (off < n) {
		off += esl_link_feed(&p->link, buf + off, n - off);
		while (esl_link_next(&p->link, now32(), &f) == 1) {
			p->dev->st.lines_ok++;
			dispatch(p, &f);
			if (p->sd.fd < 0)
				return;
		}
	}
	p->st.garbage_in = p->link.dec.st.garbage;
	p->st.crc_errors = p->link.dec.st.crc_err + p->link.dec.st.hdr_err;
	link_poll(p);
	pump(p);
}

/* --- outgoing work --- */

/* Encode the job's image (PackBits when it pays) into a new op. */
static int op_start(struct esl_priv *p, struct esl_op *op, const struct esl_job *job)
{
	uint32_t raw = esl_img_bytes(job->img.width, job->img.height, job->img.planes);
	size_t enc = esl_pack_encode(job->img.data, raw, p->enc_buf, raw - 1);
	const uint8_t *src = enc ? p->enc_buf : job->img.data;

	memset(op, 0, sizeof(*op));
	op->enc_len = enc ? (uint32_t)enc : raw;
	op->data = malloc(op->enc_len);
	if (!op->data)
		return -ENOMEM;
	memcpy(op->data, src, op->enc_len);
	if (!label_parse(job->label, &op->label_id)) {
		free(op->data);
		op->data = NULL;
		return -EINVAL;
	}
	str_copy(op->label, sizeof(op->label), job->label);
	op->type = job->type;
	op->hash = job->hash;
	op->enc = enc ? ESL_IMG_ENC_PACKBITS : ESL_IMG_ENC_RAW;
	op->width = job->img.width;
	op->height = job->img.height;
	op->planes = job->img.planes;
	op->raw_len = raw;
	if (++p->next_xfer == 0)
		p->next_xfer = 1;
	op->xfer = p->next_xfer;
	op->state = OP_BEGIN;
	p->st.images_sent++;
	p->st.image_bytes += op->enc_len;
	return 0;
}

static int send_begin(struct esl_priv *p, struct esl_op *op)
{
	struct esl_img_begin m = {
		.label = op->label_id,
		.xfer = op->xfer,
		.enc = op->enc,
		.type = op->type,
		.hash = op->hash,
		.width = op->width,
		.height = op->height,
		.planes = op->planes,
		.raw_len = op->raw_len,
		.enc_len = op->enc_len,
	};
	int rc = send_msg(p, ESL_T_IMG_BEGIN,
			  esl_enc_img_begin(p->frame_buf, sizeof(p->frame_buf), &m));

	if (rc == 0)
		op->state = OP_WAIT_R;
	return rc;
}

static int send_chunk(struct esl_priv *p, struct esl_op *op)
{
	uint32_t max = p->info.max_chunk && p->info.max_chunk < ESL_CHUNK_MAX ? p->info.max_chunk
									      : ESL_CHUNK_MAX;
	uint32_t n = op->enc_len - op->next_send;
	struct esl_img_chunk m;
	int rc;

	if (n > max)
		n = max;
	m.xfer = op->xfer;
	m.offset = op->next_send;
	m.len = (uint16_t)n;
	m.data = op->data + op->next_send;
	rc = send_msg(p, ESL_T_IMG_CHUNK,
		      esl_enc_img_chunk(p->frame_buf, sizeof(p->frame_buf), &m));
	if (rc == 0) {
		op->next_send += n;
		if (op->next_send >= op->enc_len)
			op->state = OP_SENT_ALL;
	}
	return rc;
}

static struct esl_op *free_op(struct esl_priv *p)
{
	for (size_t i = 0; i < ESL_OPS_MAX; i++) {
		if (p->ops[i].state == OP_FREE)
			return &p->ops[i];
	}
	return NULL;
}

/* Credits (PROTOCOL.md §6.4): stay under the station's slots and pool. */
static bool may_take(const struct esl_priv *p)
{
	unsigned limit = ESL_OPS_MAX, out = ops_count(p, false);
	uint64_t pool = 0;

	if (p->info.buffers && p->info.buffers > 2 && p->info.buffers - 2u < limit)
		limit = p->info.buffers - 2u;
	for (size_t i = 0; i < ESL_OPS_MAX; i++) {
		if (p->ops[i].state != OP_FREE)
			pool += (p->ops[i].enc_len + 1023) / 1024 * 1024;
	}
	if (p->info.pool_bytes && pool + ESL_IMG_MAX_BYTES > p->info.pool_bytes)
		return false;
	return out < limit && ops_count(p, true) < ESL_STREAMING;
}

/* Fill the link window: flashes first, then BEGINs, chunks, and new jobs. */
static void pump(struct esl_priv *p)
{
	int64_t now = now_mono_ms();

	if (p->in_pump || p->sd.fd < 0)
		return;
	p->in_pump = true;
	while (p->ready && esl_link_can_send(&p->link)) {
		struct esl_op *pick = NULL;
		bool sent = false;

		for (size_t i = 0; i < p->n_flash && !sent; i++) {
			struct esl_flash_req *q = &p->flash[i];
			struct esl_flash m = {.label = q->label,
					      .req = q->req,
					      .colour = ESL_LED_GREEN,
					      .count = 5,
					      .on_ms = 300,
					      .off_ms = 300};
			struct esl_page pg = {.label = q->label,
					      .req = q->req,
					      .page = q->page,
					      .duration_s = q->duration_s};
			int rc;

			if (q->sent)
				continue;
			if (q->kind == ESL_K_PAGE)
				rc = send_msg(
					p, ESL_T_PAGE,
					esl_enc_page(p->frame_buf, sizeof(p->frame_buf), &pg));
			else
				rc = send_msg(
					p, ESL_T_FLASH,
					esl_enc_flash(p->frame_buf, sizeof(p->frame_buf), &m));
			if (rc < 0)
				break;
			q->sent = true;
			if (q->kind == ESL_K_PAGE)
				p->st.pages++;
			else
				p->st.flashes++;
			sent = true;
		}
		if (sent)
			continue;
		/* A BEGIN (new, resume, or after BUSY) first, then chunks. */
		for (size_t i = 0; i < ESL_OPS_MAX; i++) {
			struct esl_op *op = &p->ops[i];

			if (op->state == OP_BUSY && op->retry_at <= now)
				op->state = OP_BEGIN;
			if (op->state == OP_BEGIN) {
				pick = op;
				break;
			}
			if (op->state == OP_STREAM && !pick)
				pick = op;
		}
		if (pick) {
			if ((pick->state == OP_BEGIN ? send_begin(p, pick) : send_chunk(p, pick)) <
			    0)
				break;
			continue;
		}
		if (may_take(p)) {
			struct esl_op *op = free_op(p);
			struct esl_job job;
			int rc;

			if (!op)
				break;
			memset(&job, 0, sizeof(job));
			rc = p->host->take_job(p->host->arg, &job, p->img_buf);
			if (rc <= 0)
				break;
			if (op_start(p, op, &job) < 0) {
				p->host->result(p->host->arg, job.label, job.hash, false,
						"gateway out of memory", true);
				break;
			}
			continue;
		}
		break;
	}
	p->st.in_flight = ops_count(p, false);
	p->in_pump = false;
	flush_out(p);
	arm_timer(p);
}

static void on_timer(struct loop *l, void *arg)
{
	struct esl_priv *p = arg;

	p->timer = 0;
	p->timer_at = -1;
	if (p->sd.fd < 0)
		return;
	link_poll(p);
	pump(p);
}

static void on_writable(struct serdev *s)
{
	flush_out(s->dev->priv);
}

/* The port opened (say hello, ask for the label table) or was lost. */
static void on_state(struct serdev *s, bool open)
{
	struct esl_priv *p = s->dev->priv;
	struct esl_hello h = {.proto = ESL_PROTO_VERSION,
			      .min_proto = ESL_PROTO_MIN_VERSION,
			      .window = ESL_LINK_WINDOW_MAX,
			      .caps = ESL_CAP_PACKBITS | ESL_CAP_BWR | ESL_CAP_FLASH |
				      ESL_CAP_LABELS_REQ | ESL_CAP_RESUME};

	dynbuf_reset(&p->out);
	p->ready = false;
	p->st.ready = false;
	/* Whatever was in flight on the old port is unknown now. */
	drop_all(p, open ? "port reopened" : "port lost");
	esl_link_reset(&p->link, 0);
	if (!open) {
		loop_timer_del(p->dev->host->loop, p->timer);
		p->timer = 0;
		p->timer_at = -1;
		return;
	}
	send_msg(p, ESL_T_HELLO, esl_enc_hello(p->frame_buf, sizeof(p->frame_buf), &h));
	send_msg(p, ESL_T_LABELS_REQ, 0);
	flush_out(p);
	arm_timer(p);
}

static const struct serdev_raw_ops raw_ops = {
	.bytes = on_bytes,
	.state = on_state,
	.writable = on_writable,
};

static int esl_start(struct device *d)
{
	struct esl_priv *p;
	struct esl_link_cfg cfg = {
		.write = link_write,
		.window = ESL_LINK_WINDOW_MAX,
		.max_retries = ESL_MAX_RETRIES,
		.rto_ms = ESL_RTO_MS,
		.max_payload = ESL_MAX_PAYLOAD,
	};

	if (!d->kind_host)
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->dev = d;
	p->host = d->kind_host;
	p->timer_at = -1;
	dynbuf_init(&p->out, ESL_OUT_MAX);
	cfg.arg = p;
	cfg.sid = (uint16_t)(now_wall_ms() ^ (getpid() << 4));
	cfg.byte_us = (uint16_t)(d->conf->baud ? 10000000u / d->conf->baud : 87);
	esl_link_init(&p->link, &cfg);
	d->priv = p;
	return serdev_start_raw(&p->sd, d, &raw_ops);
}

static void esl_stop(struct device *d)
{
	struct esl_priv *p = d->priv;

	if (!p)
		return;
	serdev_stop(&p->sd);
	loop_timer_del(d->host->loop, p->timer);
	for (size_t i = 0; i < ESL_OPS_MAX; i++)
		op_free(&p->ops[i]);
	dynbuf_free(&p->out);
	free(p);
	d->priv = NULL;
}

const struct device_ops esl_ops = {
	.kind = "esl",
	.start = esl_start,
	.stop = esl_stop,
};

void esl_kick(struct device *d)
{
	if (d && d->priv)
		pump(d->priv);
}

/* Queue a command in the command lane. */
static int command(struct device *d, uint8_t kind, const char *label, uint8_t page,
		   uint16_t duration_s)
{
	struct esl_priv *p = d ? d->priv : NULL;
	struct esl_flash_req *q;
	uint32_t id;

	if (!label_parse(label, &id))
		return -EINVAL;
	if (!p || p->sd.fd < 0 || !p->ready)
		return -ENOTCONN;
	if (p->n_flash == ESL_FLASH_MAX)
		return -ENOSPC;
	if (++p->next_req == 0)
		p->next_req = 1;
	q = &p->flash[p->n_flash++];
	memset(q, 0, sizeof(*q));
	q->kind = kind;
	q->label = id;
	q->req = p->next_req;
	q->page = page;
	q->duration_s = duration_s;
	pump(p);
	return 0;
}

int esl_flash(struct device *d, const char *label)
{
	return command(d, ESL_K_FLASH, label, 0, 0);
}

int esl_page(struct device *d, const char *label, unsigned page, unsigned duration_s)
{
	if (page > 255 || duration_s > 65535)
		return -EINVAL;
	return command(d, ESL_K_PAGE, label, (uint8_t)page, (uint16_t)duration_s);
}

void esl_get_stats(const struct device *d, struct esl_stats *st)
{
	const struct esl_priv *p = d ? d->priv : NULL;

	memset(st, 0, sizeof(*st));
	if (p)
		*st = p->st;
}
