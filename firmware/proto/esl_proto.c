/*
 * esl_proto: frame and message codec (see esl_proto.h, PROTOCOL.md).
 * Freestanding: no libc, no allocation.
 */
#include "esl_proto.h"

void esl_memcpy(void *dst, const void *src, size_t n)
{
	uint8_t *d = dst;
	const uint8_t *s = src;

	while (n--)
		*d++ = *s++;
}

void esl_memmove(void *dst, const void *src, size_t n)
{
	uint8_t *d = dst;
	const uint8_t *s = src;

	if (d == s || n == 0)
		return;
	if (d < s) {
		while (n--)
			*d++ = *s++;
	} else {
		d += n;
		s += n;
		while (n--)
			*--d = *--s;
	}
}

void esl_memset(void *dst, int c, size_t n)
{
	uint8_t *d = dst;

	while (n--)
		*d++ = (uint8_t)c;
}

/* Bitwise CRC-16/CCITT-FALSE: small (no 512-byte table in flash) and fast enough for 115200 baud. */
uint16_t esl_crc16(uint16_t crc, const uint8_t *p, size_t n)
{
	while (n--) {
		crc ^= (uint16_t)(*p++ << 8);
		for (int i = 0; i < 8; i++)
			crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021)
					     : (uint16_t)(crc << 1);
	}
	return crc;
}

/* ---- frames ---- */

int esl_frame_encode(const struct esl_frame *f, uint8_t *out, size_t cap)
{
	size_t total = (size_t)ESL_OVERHEAD + f->len;

	if (f->len > ESL_MAX_PAYLOAD || total > cap)
		return -ESL_EMSGSIZE;
	if (f->len && !f->payload)
		return -ESL_EINVAL;
	out[0] = ESL_SOF;
	out[1] = f->type;
	out[2] = f->seq;
	out[3] = f->ack;
	esl_put16(out + 4, f->sid);
	esl_put16(out + 6, f->psid);
	esl_put16(out + 8, f->len);
	esl_put16(out + 10, esl_crc16(0xFFFF, out + 1, 9));
	esl_memmove(out + ESL_HDR_LEN, f->payload, f->len);
	esl_put16(out + ESL_HDR_LEN + f->len, esl_crc16(0xFFFF, out + 1, ESL_HDR_LEN - 1 + f->len));
	return (int)total;
}

void esl_dec_init(struct esl_dec *d, uint16_t max_payload)
{
	esl_memset(d, 0, sizeof(*d));
	d->max_payload = max_payload > ESL_MAX_PAYLOAD ? ESL_MAX_PAYLOAD : max_payload;
}

/* Drop the first @k bytes of the buffer. */
static void dec_drop(struct esl_dec *d, uint16_t k)
{
	esl_memmove(d->buf, d->buf + k, d->n - k);
	d->n = (uint16_t)(d->n - k);
	d->expired = d->expired > k ? (uint16_t)(d->expired - k) : 0;
}

/* Drop the frame returned by the previous esl_dec_next(). */
static void dec_release(struct esl_dec *d)
{
	if (d->hold) {
		dec_drop(d, d->hold);
		d->hold = 0;
	}
}

size_t esl_dec_push(struct esl_dec *d, const uint8_t *p, size_t n)
{
	size_t room;

	dec_release(d);
	room = sizeof(d->buf) - d->n;
	if (n > room)
		n = room;
	esl_memcpy(d->buf + d->n, p, n);
	d->n = (uint16_t)(d->n + n);
	d->st.bytes += (uint32_t)n;
	return n;
}

int esl_dec_next(struct esl_dec *d, struct esl_frame *f)
{
	dec_release(d);
	for (;;) {
		uint16_t i = 0, len, total;

		/* skip to the next SOF */
		while (i < d->n && d->buf[i] != ESL_SOF)
			i++;
		if (i) {
			d->st.garbage += i;
			dec_drop(d, i);
		}
		if (d->n < ESL_HDR_LEN) {
			if (d->expired)
				goto rescan; /* a cut-off header: it will not be completed */
			return 0;
		}
		if (esl_crc16(0xFFFF, d->buf + 1, 9) != esl_get16(d->buf + 10)) {
			d->st.hdr_err++;
			goto rescan;
		}
		len = esl_get16(d->buf + 8);
		if (len > d->max_payload) {
			d->st.oversize++;
			goto rescan;
		}
		total = (uint16_t)(ESL_OVERHEAD + len);
		if (d->n < total) {
			if (d->expired)
				goto rescan; /* cut short: look for frames inside it */
			return 0;
		}
		if (esl_crc16(0xFFFF, d->buf + 1, ESL_HDR_LEN - 1 + len) !=
		    esl_get16(d->buf + ESL_HDR_LEN + len)) {
			d->st.crc_err++;
			goto rescan;
		}
		f->type = d->buf[1];
		f->seq = d->buf[2];
		f->ack = d->buf[3];
		f->sid = esl_get16(d->buf + 4);
		f->psid = esl_get16(d->buf + 6);
		f->len = len;
		f->payload = d->buf + ESL_HDR_LEN;
		d->hold = total;
		d->st.frames++;
		return 1;
	rescan:
		/* not a frame after all: the SOF was garbage, look again from the next byte */
		d->st.garbage++;
		dec_drop(d, 1);
	}
}

bool esl_dec_pending(const struct esl_dec *d)
{
	return d->n > d->hold;
}

void esl_dec_expire(struct esl_dec *d)
{
	d->expired = d->n;
}

/* ---- messages ---- */

int esl_enc_hello(uint8_t *out, size_t cap, const struct esl_hello *m)
{
	if (cap < ESL_HELLO_LEN)
		return -ESL_EMSGSIZE;
	out[0] = m->proto;
	out[1] = m->min_proto;
	esl_put16(out + 2, m->window);
	esl_put32(out + 4, m->caps);
	return ESL_HELLO_LEN;
}

int esl_dec_hello(const uint8_t *p, size_t n, struct esl_hello *m)
{
	if (n < ESL_HELLO_LEN)
		return -ESL_EINVAL;
	m->proto = p[0];
	m->min_proto = p[1];
	m->window = esl_get16(p + 2);
	m->caps = esl_get32(p + 4);
	return 0;
}

int esl_enc_hello_r(uint8_t *out, size_t cap, const struct esl_hello_r *m)
{
	if (cap < ESL_HELLO_R_LEN)
		return -ESL_EMSGSIZE;
	out[0] = m->proto;
	out[1] = m->status;
	esl_put16(out + 2, m->fw_version);
	esl_put32(out + 4, m->caps);
	esl_put32(out + 8, m->boot_id);
	esl_put16(out + 12, m->max_chunk);
	out[14] = m->buffers;
	out[15] = m->window;
	esl_put32(out + 16, m->pool_bytes);
	esl_put16(out + 20, m->labels);
	esl_put16(out + 22, m->max_labels);
	return ESL_HELLO_R_LEN;
}

int esl_dec_hello_r(const uint8_t *p, size_t n, struct esl_hello_r *m)
{
	if (n < ESL_HELLO_R_LEN)
		return -ESL_EINVAL;
	m->proto = p[0];
	m->status = p[1];
	m->fw_version = esl_get16(p + 2);
	m->caps = esl_get32(p + 4);
	m->boot_id = esl_get32(p + 8);
	m->max_chunk = esl_get16(p + 12);
	m->buffers = p[14];
	m->window = p[15];
	m->pool_bytes = esl_get32(p + 16);
	m->labels = esl_get16(p + 20);
	m->max_labels = esl_get16(p + 22);
	return 0;
}

int esl_enc_img_begin(uint8_t *out, size_t cap, const struct esl_img_begin *m)
{
	if (cap < ESL_IMG_BEGIN_LEN)
		return -ESL_EMSGSIZE;
	esl_put32(out, m->label);
	esl_put16(out + 4, m->xfer);
	out[6] = m->enc;
	out[7] = m->type;
	esl_put64(out + 8, m->hash);
	esl_put16(out + 16, m->width);
	esl_put16(out + 18, m->height);
	out[20] = m->planes;
	out[21] = 0;
	esl_put32(out + 22, m->raw_len);
	esl_put32(out + 26, m->enc_len);
	return ESL_IMG_BEGIN_LEN;
}

int esl_dec_img_begin(const uint8_t *p, size_t n, struct esl_img_begin *m)
{
	if (n < ESL_IMG_BEGIN_LEN)
		return -ESL_EINVAL;
	m->label = esl_get32(p);
	m->xfer = esl_get16(p + 4);
	m->enc = p[6];
	m->type = p[7];
	m->hash = esl_get64(p + 8);
	m->width = esl_get16(p + 16);
	m->height = esl_get16(p + 18);
	m->planes = p[20];
	m->raw_len = esl_get32(p + 22);
	m->enc_len = esl_get32(p + 26);
	return 0;
}

int esl_enc_img_begin_r(uint8_t *out, size_t cap, const struct esl_img_begin_r *m)
{
	if (cap < ESL_IMG_BEGIN_R_LEN)
		return -ESL_EMSGSIZE;
	esl_put32(out, m->label);
	esl_put16(out + 4, m->xfer);
	out[6] = m->status;
	out[7] = 0;
	esl_put32(out + 8, m->next_offset);
	esl_put16(out + 12, m->retry_ms);
	esl_put16(out + 14, 0);
	return ESL_IMG_BEGIN_R_LEN;
}

int esl_dec_img_begin_r(const uint8_t *p, size_t n, struct esl_img_begin_r *m)
{
	if (n < ESL_IMG_BEGIN_R_LEN)
		return -ESL_EINVAL;
	m->label = esl_get32(p);
	m->xfer = esl_get16(p + 4);
	m->status = p[6];
	m->next_offset = esl_get32(p + 8);
	m->retry_ms = esl_get16(p + 12);
	return 0;
}

int esl_enc_img_chunk(uint8_t *out, size_t cap, const struct esl_img_chunk *m)
{
	size_t total = (size_t)ESL_IMG_CHUNK_HDR + m->len;

	if (m->len > ESL_CHUNK_MAX || total > cap)
		return -ESL_EMSGSIZE;
	esl_put16(out, m->xfer);
	esl_put32(out + 2, m->offset);
	esl_memmove(out + ESL_IMG_CHUNK_HDR, m->data, m->len);
	return (int)total;
}

int esl_dec_img_chunk(const uint8_t *p, size_t n, struct esl_img_chunk *m)
{
	if (n <= ESL_IMG_CHUNK_HDR || n - ESL_IMG_CHUNK_HDR > ESL_CHUNK_MAX)
		return -ESL_EINVAL;
	m->xfer = esl_get16(p);
	m->offset = esl_get32(p + 2);
	m->len = (uint16_t)(n - ESL_IMG_CHUNK_HDR);
	m->data = p + ESL_IMG_CHUNK_HDR;
	return 0;
}

int esl_enc_img_chunk_r(uint8_t *out, size_t cap, const struct esl_img_chunk_r *m)
{
	if (cap < ESL_IMG_CHUNK_R_LEN)
		return -ESL_EMSGSIZE;
	esl_put16(out, m->xfer);
	out[2] = m->status;
	out[3] = m->done;
	esl_put32(out + 4, m->next_offset);
	return ESL_IMG_CHUNK_R_LEN;
}

int esl_dec_img_chunk_r(const uint8_t *p, size_t n, struct esl_img_chunk_r *m)
{
	if (n < ESL_IMG_CHUNK_R_LEN)
		return -ESL_EINVAL;
	m->xfer = esl_get16(p);
	m->status = p[2];
	m->done = p[3];
	m->next_offset = esl_get32(p + 4);
	return 0;
}

int esl_enc_img_abort(uint8_t *out, size_t cap, const struct esl_img_abort *m)
{
	if (cap < ESL_IMG_ABORT_LEN)
		return -ESL_EMSGSIZE;
	esl_put32(out, m->label);
	esl_put16(out + 4, m->xfer);
	return ESL_IMG_ABORT_LEN;
}

int esl_dec_img_abort(const uint8_t *p, size_t n, struct esl_img_abort *m)
{
	if (n < ESL_IMG_ABORT_LEN)
		return -ESL_EINVAL;
	m->label = esl_get32(p);
	m->xfer = esl_get16(p + 4);
	return 0;
}

int esl_enc_flash(uint8_t *out, size_t cap, const struct esl_flash *m)
{
	if (cap < ESL_FLASH_LEN)
		return -ESL_EMSGSIZE;
	esl_put32(out, m->label);
	esl_put16(out + 4, m->req);
	out[6] = m->colour;
	out[7] = m->count;
	esl_put16(out + 8, m->on_ms);
	esl_put16(out + 10, m->off_ms);
	return ESL_FLASH_LEN;
}

int esl_dec_flash(const uint8_t *p, size_t n, struct esl_flash *m)
{
	if (n < ESL_FLASH_LEN)
		return -ESL_EINVAL;
	m->label = esl_get32(p);
	m->req = esl_get16(p + 4);
	m->colour = p[6];
	m->count = p[7];
	m->on_ms = esl_get16(p + 8);
	m->off_ms = esl_get16(p + 10);
	return 0;
}

int esl_enc_page(uint8_t *out, size_t cap, const struct esl_page *m)
{
	if (cap < ESL_PAGE_LEN)
		return -ESL_EMSGSIZE;
	esl_put32(out, m->label);
	esl_put16(out + 4, m->req);
	out[6] = m->page;
	out[7] = 0;
	esl_put16(out + 8, m->duration_s);
	return ESL_PAGE_LEN;
}

int esl_dec_page(const uint8_t *p, size_t n, struct esl_page *m)
{
	if (n < ESL_PAGE_LEN)
		return -ESL_EINVAL;
	m->label = esl_get32(p);
	m->req = esl_get16(p + 4);
	m->page = p[6];
	m->duration_s = esl_get16(p + 8);
	return 0;
}

int esl_enc_result(uint8_t *out, size_t cap, const struct esl_result *m)
{
	if (cap < ESL_RESULT_LEN)
		return -ESL_EMSGSIZE;
	esl_put32(out, m->label);
	esl_put16(out + 4, m->tag);
	out[6] = m->kind;
	out[7] = m->status;
	esl_put64(out + 8, m->hash);
	out[16] = m->attempts;
	out[17] = 0;
	return ESL_RESULT_LEN;
}

int esl_dec_result(const uint8_t *p, size_t n, struct esl_result *m)
{
	if (n < ESL_RESULT_LEN)
		return -ESL_EINVAL;
	m->label = esl_get32(p);
	m->tag = esl_get16(p + 4);
	m->kind = p[6];
	m->status = p[7];
	m->hash = esl_get64(p + 8);
	m->attempts = p[16];
	return 0;
}

int esl_enc_checkin(uint8_t *out, size_t cap, const struct esl_checkin *v, unsigned count)
{
	size_t total = ESL_CHECKIN_HDR + (size_t)count * ESL_CHECKIN_ENTRY;

	if (count == 0 || count > ESL_CHECKIN_MAX || total > cap)
		return -ESL_EMSGSIZE;
	out[0] = (uint8_t)count;
	out[1] = 0;
	for (unsigned i = 0; i < count; i++) {
		uint8_t *e = out + ESL_CHECKIN_HDR + i * ESL_CHECKIN_ENTRY;

		esl_put32(e, v[i].label);
		e[4] = v[i].type;
		e[5] = v[i].page;
		esl_put16(e + 6, v[i].fw);
		esl_put16(e + 8, v[i].battery_mv);
		e[10] = (uint8_t)v[i].temp_c;
		e[11] = (uint8_t)v[i].rssi;
		e[12] = v[i].lqi;
		e[13] = v[i].flags;
		esl_put16(e + 14, v[i].age_s);
		esl_put64(e + 16, v[i].hash);
	}
	return (int)total;
}

int esl_dec_checkin_count(const uint8_t *p, size_t n)
{
	if (n < ESL_CHECKIN_HDR + ESL_CHECKIN_ENTRY || p[0] == 0 || p[0] > ESL_CHECKIN_MAX ||
	    n < ESL_CHECKIN_HDR + (size_t)p[0] * ESL_CHECKIN_ENTRY)
		return -ESL_EINVAL;
	return p[0];
}

void esl_dec_checkin_at(const uint8_t *p, unsigned i, struct esl_checkin *m)
{
	const uint8_t *e = p + ESL_CHECKIN_HDR + i * ESL_CHECKIN_ENTRY;

	m->label = esl_get32(e);
	m->type = e[4];
	m->page = e[5];
	m->fw = esl_get16(e + 6);
	m->battery_mv = esl_get16(e + 8);
	m->temp_c = (int8_t)e[10];
	m->rssi = (int8_t)e[11];
	m->lqi = e[12];
	m->flags = e[13];
	m->age_s = esl_get16(e + 14);
	m->hash = esl_get64(e + 16);
}

int esl_enc_error(uint8_t *out, size_t cap, const struct esl_error *m)
{
	if (cap < ESL_ERROR_LEN)
		return -ESL_EMSGSIZE;
	out[0] = m->type;
	out[1] = m->seq;
	out[2] = m->code;
	out[3] = 0;
	return ESL_ERROR_LEN;
}

int esl_dec_error(const uint8_t *p, size_t n, struct esl_error *m)
{
	if (n < ESL_ERROR_LEN)
		return -ESL_EINVAL;
	m->type = p[0];
	m->seq = p[1];
	m->code = p[2];
	return 0;
}

static bool batchable(uint8_t type)
{
	return esl_type_sequenced(type) && type != ESL_T_BATCH;
}

int esl_batch_add(uint8_t *out, size_t cap, size_t used, uint8_t type, const uint8_t *payload,
		  uint16_t len)
{
	if (!batchable(type))
		return -ESL_EINVAL;
	if (len > ESL_BATCH_REC_MAX || used > cap || cap - used < (size_t)ESL_BATCH_REC_HDR + len ||
	    used + ESL_BATCH_REC_HDR + len > ESL_MAX_PAYLOAD)
		return -ESL_EMSGSIZE;
	out[used] = type;
	out[used + 1] = (uint8_t)len;
	esl_memmove(out + used + ESL_BATCH_REC_HDR, payload, len);
	return (int)(used + ESL_BATCH_REC_HDR + len);
}

int esl_batch_next(const struct esl_frame *batch, size_t *off, struct esl_frame *f)
{
	size_t o = *off;
	uint8_t len;

	if (o >= batch->len)
		return 0;
	if (batch->len - o < ESL_BATCH_REC_HDR)
		return -ESL_EINVAL;
	len = batch->payload[o + 1];
	if (!batchable(batch->payload[o]) || batch->len - o - ESL_BATCH_REC_HDR < len)
		return -ESL_EINVAL;
	*f = *batch;
	f->type = batch->payload[o];
	f->len = len;
	f->payload = batch->payload + o + ESL_BATCH_REC_HDR;
	*off = o + ESL_BATCH_REC_HDR + len;
	return 1;
}

const char *esl_type_name(uint8_t type)
{
	switch (type) {
	case ESL_T_ACK:
		return "ACK";
	case ESL_T_NAK:
		return "NAK";
	case ESL_T_HELLO:
		return "HELLO";
	case ESL_T_HELLO_R:
		return "HELLO_R";
	case ESL_T_BOOT:
		return "BOOT";
	case ESL_T_IMG_BEGIN:
		return "IMG_BEGIN";
	case ESL_T_IMG_BEGIN_R:
		return "IMG_BEGIN_R";
	case ESL_T_IMG_CHUNK:
		return "IMG_CHUNK";
	case ESL_T_IMG_CHUNK_R:
		return "IMG_CHUNK_R";
	case ESL_T_IMG_ABORT:
		return "IMG_ABORT";
	case ESL_T_FLASH:
		return "FLASH";
	case ESL_T_PAGE:
		return "PAGE";
	case ESL_T_RESULT:
		return "RESULT";
	case ESL_T_CHECKIN:
		return "CHECKIN";
	case ESL_T_LABELS_REQ:
		return "LABELS_REQ";
	case ESL_T_ERROR:
		return "ERROR";
	case ESL_T_BATCH:
		return "BATCH";
	}
	return "?";
}

const char *esl_status_name(uint8_t status)
{
	static const char *const names[] = {
		"OK",	       "ALREADY", "IN_PROGRESS",   "BUSY",	  "NO_LABEL",
		"NO_RESPONSE", "DECODE",  "HASH",	   "BAD_REQUEST", "NO_XFER",
		"GAP",	       "ABORTED", "TYPE_MISMATCH", "UNSUPPORTED", "TOO_LARGE",
		"LOW_BATTERY",
	};

	return status < sizeof(names) / sizeof(names[0]) ? names[status] : "?";
}
