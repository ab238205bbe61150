/*
 * esl_link: the reliable, in-order frame link both ends of the base-station
 * serial line run on top of esl_proto (PROTOCOL.md §3). Freestanding C, no
 * allocation, no callbacks that block, no clock of its own: every call that
 * needs the time takes the caller's millisecond clock @now (any monotonic
 * u32 that wraps; differences are taken modulo 2^32).
 *
 * Go-back-N with cumulative acks: up to @window sequenced frames in flight;
 * every frame carries the sender's session id, its seq, and a piggy-backed
 * ack (the next seq expected from the peer); stand-alone ACK frames are sent
 * by esl_link_poll() when nothing else carried the ack. The receiver delivers
 * only the next expected seq: duplicates are re-acked and dropped; a frame
 * from beyond a gap is dropped and answered with one NAK, which makes the
 * sender resend from the missing frame at once instead of waiting for its
 * timeout. A frame unacknowledged after its retransmit timeout (rto_ms,
 * doubling per retry up to 8x, plus the wire time of the bytes queued ahead
 * of it) is resent with everything after it; after max_retries resends the
 * link gives up: the unacked frames are dropped, esl_link_poll() returns
 * -ESL_ETIMEDOUT once, and the link starts a new session (sid + 1) so that
 * the peer restarts its receive sequence with ours.
 *
 * A frame whose sid differs from the peer's last one means the peer restarted
 * (or failed and resynced): its receive sequence is adopted from that frame.
 * A received frame left unfinished for rx_idle_ms (its sender died or the
 * line glitched) is given up, so that it cannot hold back the frames after it.
 *
 * Ownership: struct esl_link is the caller's (static on the MCU); the link
 * keeps a copy of every unacked frame (window x ESL_FRAME_MAX bytes inside
 * the struct). The write function gets whole frames; it must copy or send
 * them before returning and must not block; a negative return means the frame
 * was not sent (it is counted and retransmitted on timeout).
 */
#ifndef ESL_LINK_H
#define ESL_LINK_H

#include "esl_proto.h"

#define ESL_LINK_WINDOW_MAX 8

/* Write one whole frame of @n bytes. 0 (or any value >= 0), or negative when not sent. */
typedef int (*esl_write_fn)(void *arg, const uint8_t *p, size_t n);

struct esl_link_cfg {
	esl_write_fn write;
	void *arg; /* passed to write */
	uint16_t sid; /* this end's session id, non-zero, new at every start */
	uint8_t window; /* 1..ESL_LINK_WINDOW_MAX frames in flight */
	uint8_t max_retries; /* resends of one frame before the link gives up */
	uint16_t rto_ms; /* base retransmit timeout */
	uint16_t byte_us; /* wire time of one byte (10^7 / baud for 8N1); 0: ignore */
	uint16_t max_payload; /* largest payload accepted (<= ESL_MAX_PAYLOAD) */
	uint16_t
		rx_idle_ms; /* a frame unfinished this long after the last byte is dropped (0: 100) */
};

struct esl_link_stats {
	uint32_t tx_frames; /* sequenced frames sent (first transmissions) */
	uint32_t tx_bytes; /* every byte written, all frame kinds */
	uint32_t tx_acks; /* stand-alone ACK frames */
	uint32_t tx_naks;
	uint32_t retransmits; /* frames resent (timeout or NAK) */
	uint32_t timeouts; /* retransmit timer expiries */
	uint32_t failures; /* times the link gave up (max_retries) */
	uint32_t write_errors;
	uint32_t rx_frames; /* sequenced frames delivered to the caller */
	uint32_t rx_dup; /* duplicates dropped (re-acked) */
	uint32_t rx_ooo; /* frames after a gap, dropped */
	uint32_t rx_paused; /* frames dropped unacked while paused (back-pressure) */
	uint32_t rx_acks;
	uint32_t rx_naks;
	uint32_t peer_sessions; /* peer session changes seen (restarts) */
	uint32_t rx_expired; /* unfinished frames given up after rx_idle_ms */
};

struct esl_link_slot {
	uint32_t deadline;
	uint16_t len;
	uint8_t retries;
	uint8_t buf[ESL_FRAME_MAX];
};

struct esl_link {
	struct esl_link_cfg cfg;
	struct esl_dec dec;
	uint16_t peer_sid; /* 0: no frame from the peer yet */
	uint8_t tx_base; /* oldest unacked seq */
	uint8_t tx_next; /* seq of the next new frame */
	uint8_t rx_expect; /* next seq expected from the peer */
	bool ack_pending;
	bool nak_sent; /* one NAK per gap */
	bool rx_paused;
	uint32_t rx_last; /* when bytes last came in (seen by esl_link_next) */
	uint32_t rx_seen; /* decoder byte count at that time */
	struct esl_link_stats st;
	struct esl_link_slot slot[ESL_LINK_WINDOW_MAX];
};

/*
 * Set up @l with @cfg (copied). Out-of-range values are clamped: window to
 * 1..ESL_LINK_WINDOW_MAX, max_payload to ESL_MAX_PAYLOAD, a zero sid to 1.
 */
void esl_link_init(struct esl_link *l, const struct esl_link_cfg *cfg);

/*
 * Start a new session with @sid (0: current sid + 1): drop every unacked
 * frame and restart our sequence at 0. Receive state is kept.
 */
void esl_link_reset(struct esl_link *l, uint16_t sid);

/*
 * Send one sequenced frame of @type with @len payload bytes (copied).
 * Returns 0; -ESL_EAGAIN when the window is full (try again after acks
 * arrive: see esl_link_can_send); -ESL_EMSGSIZE when @len > ESL_MAX_PAYLOAD;
 * -ESL_EINVAL for ACK/NAK or a NULL payload with @len > 0. A failed write is
 * not an error here: the frame is kept and retransmitted on timeout.
 */
int esl_link_send(struct esl_link *l, uint8_t type, const uint8_t *payload, uint16_t len,
		  uint32_t now);

/* True when esl_link_send() would not return -ESL_EAGAIN. */
bool esl_link_can_send(const struct esl_link *l);

/* Sequenced frames sent and not yet acknowledged. */
unsigned esl_link_in_flight(const struct esl_link *l);

/*
 * Pass received bytes to the decoder. Returns how many were taken; when fewer
 * than @n, call esl_link_next() until it returns 0 and feed the rest.
 */
size_t esl_link_feed(struct esl_link *l, const uint8_t *p, size_t n);

/*
 * Process decoded frames (acks, NAKs, duplicates) until the next in-order
 * frame for the caller: returns 1 with it in *@f, 0 when no more are
 * available. f->payload is valid until the next esl_link_feed/esl_link_next.
 * May write NAK frames and resends.
 */
int esl_link_next(struct esl_link *l, uint32_t now, struct esl_frame *f);

/*
 * Back-pressure: while paused, in-order frames are dropped without an ack (the
 * peer resends them after its timeout); acks and NAKs are still processed.
 */
void esl_link_pause_rx(struct esl_link *l, bool paused);

/*
 * Timers and pending acks: resend on timeout, write a stand-alone ACK if one
 * is owed, and give up a received frame left unfinished for rx_idle_ms (then
 * frames found inside it become available: call esl_link_next() until it
 * returns 0 after this, too). Call after every batch of input and when
 * esl_link_timeout() says. Returns 0, or -ESL_ETIMEDOUT when the link gave
 * up on a frame it sent (the unacked frames are gone and a new session has
 * started).
 */
int esl_link_poll(struct esl_link *l, uint32_t now);

/* Milliseconds until esl_link_poll() has work: 0 now, -1 when nothing is pending. */
int32_t esl_link_timeout(const struct esl_link *l, uint32_t now);

#endif
