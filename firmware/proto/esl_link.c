/*
 * esl_link: Go-back-N reliability over esl_proto frames (see esl_link.h,
 * PROTOCOL.md §3). Freestanding.
 */
#include "esl_link.h"

#define SLOT(l, seq) (&(l)->slot[(uint8_t)(seq) % ESL_LINK_WINDOW_MAX])

static bool time_reached(uint32_t now, uint32_t deadline)
{
	return (int32_t)(now - deadline) >= 0;
}

void esl_link_init(struct esl_link *l, const struct esl_link_cfg *cfg)
{
	esl_memset(l, 0, sizeof(*l));
	l->cfg = *cfg;
	if (l->cfg.window == 0)
		l->cfg.window = 1;
	if (l->cfg.window > ESL_LINK_WINDOW_MAX)
		l->cfg.window = ESL_LINK_WINDOW_MAX;
	if (l->cfg.max_payload == 0 || l->cfg.max_payload > ESL_MAX_PAYLOAD)
		l->cfg.max_payload = ESL_MAX_PAYLOAD;
	if (l->cfg.sid == 0)
		l->cfg.sid = 1;
	if (l->cfg.rto_ms == 0)
		l->cfg.rto_ms = 1;
	if (l->cfg.rx_idle_ms == 0)
		l->cfg.rx_idle_ms = 100;
	esl_dec_init(&l->dec, l->cfg.max_payload);
}

void esl_link_reset(struct esl_link *l, uint16_t sid)
{
	if (sid == 0)
		sid = (uint16_t)(l->cfg.sid + 1);
	if (sid == 0)
		sid = 1;
	l->cfg.sid = sid;
	l->tx_base = l->tx_next = 0;
}

unsigned esl_link_in_flight(const struct esl_link *l)
{
	return (uint8_t)(l->tx_next - l->tx_base);
}

bool esl_link_can_send(const struct esl_link *l)
{
	return esl_link_in_flight(l) < l->cfg.window;
}

static void link_write(struct esl_link *l, const uint8_t *p, size_t n)
{
	if (l->cfg.write(l->cfg.arg, p, n) < 0)
		l->st.write_errors++;
	else
		l->st.tx_bytes += (uint32_t)n;
}

/* A stand-alone ACK or NAK carrying our receive state. */
static void send_control(struct esl_link *l, uint8_t type)
{
	struct esl_frame f = {
		.type = type, .ack = l->rx_expect, .sid = l->cfg.sid, .psid = l->peer_sid};
	uint8_t buf[ESL_OVERHEAD];
	int n = esl_frame_encode(&f, buf, sizeof(buf));

	if (n > 0)
		link_write(l, buf, (size_t)n);
	l->ack_pending = false;
	if (type == ESL_T_ACK)
		l->st.tx_acks++;
	else
		l->st.tx_naks++;
}

/* Retransmit timeout of a frame after @retries resends, with the queue ahead of it. */
static uint32_t rto(const struct esl_link *l, uint8_t retries, uint32_t queued_bytes)
{
	uint32_t t = (uint32_t)l->cfg.rto_ms << (retries < 3 ? retries : 3);

	/* queued_bytes <= window * ESL_FRAME_MAX, so this fits in 32 bits (no libgcc division) */
	return t + (queued_bytes * l->cfg.byte_us + 999u) / 1000u;
}

/* Bytes of unacked frames from tx_base up to and including @seq. */
static uint32_t queued_upto(const struct esl_link *l, uint8_t seq)
{
	uint32_t sum = 0;

	for (uint8_t s = l->tx_base;; s++) {
		sum += SLOT(l, s)->len;
		if (s == seq)
			break;
	}
	return sum;
}

/* Refresh the piggy-backed ack of a stored frame (both CRCs) before a resend. */
static void refresh_ack(struct esl_link *l, struct esl_link_slot *s)
{
	uint16_t len = (uint16_t)(s->len - ESL_OVERHEAD);

	s->buf[3] = l->rx_expect;
	esl_put16(s->buf + 6, l->peer_sid);
	esl_put16(s->buf + 10, esl_crc16(0xFFFF, s->buf + 1, 9));
	esl_put16(s->buf + ESL_HDR_LEN + len, esl_crc16(0xFFFF, s->buf + 1, ESL_HDR_LEN - 1 + len));
}

/* Go back N: resend every unacked frame, oldest first. */
static void resend_all(struct esl_link *l, uint32_t now)
{
	uint32_t queued = 0;

	for (uint8_t s = l->tx_base; s != l->tx_next; s++) {
		struct esl_link_slot *sl = SLOT(l, s);

		refresh_ack(l, sl);
		link_write(l, sl->buf, sl->len);
		queued += sl->len;
		sl->deadline = now + rto(l, SLOT(l, l->tx_base)->retries, queued);
		l->st.retransmits++;
	}
	l->ack_pending = false;
}

int esl_link_send(struct esl_link *l, uint8_t type, const uint8_t *payload, uint16_t len,
		  uint32_t now)
{
	struct esl_link_slot *s;
	struct esl_frame f;
	int n;

	if (!esl_type_sequenced(type) || (len && !payload))
		return -ESL_EINVAL;
	if (len > ESL_MAX_PAYLOAD)
		return -ESL_EMSGSIZE;
	if (!esl_link_can_send(l))
		return -ESL_EAGAIN;
	s = SLOT(l, l->tx_next);
	f = (struct esl_frame){.type = type,
			       .seq = l->tx_next,
			       .ack = l->rx_expect,
			       .sid = l->cfg.sid,
			       .psid = l->peer_sid,
			       .len = len,
			       .payload = payload};
	n = esl_frame_encode(&f, s->buf, sizeof(s->buf));
	if (n < 0)
		return n;
	s->len = (uint16_t)n;
	s->retries = 0;
	l->tx_next++;
	s->deadline = now + rto(l, 0, queued_upto(l, f.seq));
	link_write(l, s->buf, s->len);
	l->st.tx_frames++;
	if (l->peer_sid)
		l->ack_pending = false; /* carried by this frame */
	return 0;
}

size_t esl_link_feed(struct esl_link *l, const uint8_t *p, size_t n)
{
	return esl_dec_push(&l->dec, p, n);
}

void esl_link_pause_rx(struct esl_link *l, bool paused)
{
	l->rx_paused = paused;
}

/* The peer acknowledged everything before @ack (of our session). */
static void handle_ack(struct esl_link *l, uint8_t ack)
{
	uint8_t k = (uint8_t)(ack - l->tx_base);

	if (k == 0 || k > esl_link_in_flight(l))
		return; /* old or bogus */
	l->tx_base = ack;
}

int esl_link_next(struct esl_link *l, uint32_t now, struct esl_frame *f)
{
	if (l->dec.st.bytes != l->rx_seen) {
		l->rx_seen = l->dec.st.bytes;
		l->rx_last = now;
	}
	while (esl_dec_next(&l->dec, f)) {
		bool seqd = esl_type_sequenced(f->type);
		uint8_t d;

		if (f->psid == l->cfg.sid)
			handle_ack(l, f->ack);
		if (f->type == ESL_T_ACK) {
			l->st.rx_acks++;
			continue;
		}
		if (f->type == ESL_T_NAK) {
			l->st.rx_naks++;
			/* resend from the frame the peer misses, if it is still ours to send */
			if (f->psid == l->cfg.sid && f->ack == l->tx_base && esl_link_in_flight(l))
				resend_all(l, now);
			continue;
		}
		if (!seqd)
			continue;
		if (f->sid != l->peer_sid) {
			/* the peer (re)started a session: take up its sequence here */
			l->peer_sid = f->sid;
			l->rx_expect = f->seq;
			l->nak_sent = false;
			l->st.peer_sessions++;
		}
		d = (uint8_t)(f->seq - l->rx_expect);
		if (d == 0) {
			if (l->rx_paused) {
				l->st.rx_paused++;
				continue;
			}
			l->rx_expect++;
			l->ack_pending = true;
			l->nak_sent = false;
			l->st.rx_frames++;
			return 1;
		}
		if (d < 128) {
			/* a frame from beyond a gap: ask for the missing one, once */
			l->st.rx_ooo++;
			if (!l->nak_sent) {
				send_control(l, ESL_T_NAK);
				l->nak_sent = true;
			}
			continue;
		}
		/* behind: a resend of something we already have; our ack was lost */
		l->st.rx_dup++;
		l->ack_pending = true;
	}
	return 0;
}

int esl_link_poll(struct esl_link *l, uint32_t now)
{
	int ret = 0;

	if (esl_link_in_flight(l)) {
		struct esl_link_slot *base = SLOT(l, l->tx_base);

		if (time_reached(now, base->deadline)) {
			l->st.timeouts++;
			if (base->retries >= l->cfg.max_retries) {
				/* give up: drop the window, resync the peer with a new session */
				l->st.failures++;
				esl_link_reset(l, 0);
				ret = -ESL_ETIMEDOUT;
			} else {
				base->retries++;
				resend_all(l, now);
			}
		}
	}
	if (l->ack_pending)
		send_control(l, ESL_T_ACK);
	if (esl_dec_pending(&l->dec) && l->dec.st.bytes == l->rx_seen &&
	    time_reached(now, l->rx_last + l->cfg.rx_idle_ms)) {
		/* the line went quiet inside a frame: it will not be finished */
		esl_dec_expire(&l->dec);
		l->st.rx_expired++;
		l->rx_last = now;
	}
	return ret;
}

int32_t esl_link_timeout(const struct esl_link *l, uint32_t now)
{
	int32_t d = INT32_MAX;
	bool any = false;

	if (l->ack_pending)
		return 0;
	if (esl_link_in_flight(l)) {
		d = (int32_t)(l->slot[l->tx_base % ESL_LINK_WINDOW_MAX].deadline - now);
		any = true;
	}
	if (esl_dec_pending(&l->dec)) {
		int32_t r = (int32_t)(l->rx_last + l->cfg.rx_idle_ms - now);

		if (r < d)
			d = r;
		any = true;
	}
	if (!any)
		return -1;
	return d < 0 ? 0 : d;
}
