/*
 * test_esl_link: the reliable link (firmware/proto/esl_link.c) between two
 * ends joined by fake wires, driven by a fake millisecond clock. In-order
 * delivery and cumulative acks; the send window (-EAGAIN when full);
 * retransmit on timeout (never early, backoff, wire time of queued bytes);
 * duplicates re-acked and dropped; a gap answered by one NAK and a go-back-N
 * resend; the retry limit (-ETIMEDOUT, new session, the peer resyncs); a
 * peer restart; piggy-backed acks; receive back-pressure; sequence wrap with
 * random loss and corruption in both directions (every frame delivered once,
 * in order).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "esl_link.h"

#define WIRE_CAP (1u << 20)

/* One direction of the serial line: bytes written by one end, read by the other. */
struct wire {
	uint8_t *buf;
	size_t n;
	unsigned drop_next; /* drop the next N frames written */
	bool cut; /* drop everything */
	unsigned loss_pct; /* random frame loss */
	unsigned corrupt_pct; /* random single-byte corruption */
	unsigned frames;
};

struct end {
	struct esl_link l;
	struct wire out;
	/* delivered frames: type and first payload bytes (a counter) */
	uint32_t got[4096];
	unsigned ngot;
};

static uint32_t rng_state = 4242;
static uint32_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

static int wire_write(void *arg, const uint8_t *p, size_t n)
{
	struct wire *w = arg;

	w->frames++;
	if (w->cut)
		return 0;
	if (w->drop_next) {
		w->drop_next--;
		return 0;
	}
	if (w->loss_pct && rnd() % 100 < w->loss_pct)
		return 0;
	assert_true(w->n + n <= WIRE_CAP);
	memcpy(w->buf + w->n, p, n);
	if (w->corrupt_pct && rnd() % 100 < w->corrupt_pct)
		w->buf[w->n + rnd() % n] ^= (uint8_t)(1 + rnd() % 255);
	w->n += n;
	return 0;
}

static struct end *end_new(uint16_t sid, uint8_t window)
{
	struct end *e = calloc(1, sizeof(*e));
	struct esl_link_cfg c = {.write = wire_write,
				 .sid = sid,
				 .window = window,
				 .max_retries = 5,
				 .rto_ms = 100,
				 .byte_us = 0,
				 .max_payload = ESL_MAX_PAYLOAD};

	assert_non_null(e);
	e->out.buf = malloc(WIRE_CAP);
	assert_non_null(e->out.buf);
	c.arg = &e->out;
	esl_link_init(&e->l, &c);
	return e;
}

static void end_free(struct end *e)
{
	if (e) {
		free(e->out.buf);
		free(e);
	}
}

/* Move everything @from wrote into @to (in random slices), collecting @to's deliveries. */
static void deliver(struct end *from, struct end *to, uint32_t now)
{
	size_t off = 0;
	struct esl_frame f;

	while (off < from->out.n) {
		size_t k = 1 + rnd() % 700;

		if (k > from->out.n - off)
			k = from->out.n - off;
		while (k) {
			size_t used = esl_link_feed(&to->l, from->out.buf + off, k);

			off += used;
			k -= used;
			while (esl_link_next(&to->l, now, &f)) {
				assert_true(f.len >= 4);
				assert_true(to->ngot < 4096);
				to->got[to->ngot++] = esl_get32(f.payload);
			}
		}
	}
	from->out.n = 0;
}

static int send_num(struct end *e, uint32_t v, uint16_t len, uint32_t now)
{
	static uint8_t pl[ESL_MAX_PAYLOAD];

	memset(pl, (int)v, len);
	esl_put32(pl, v);
	return esl_link_send(&e->l, ESL_T_IMG_CHUNK, pl, len, now);
}

static void test_in_order_and_ack(void **state)
{
	struct end *a = end_new(0x100, 4), *b = end_new(0x200, 4);

	(void)state;
	for (uint32_t i = 0; i < 3; i++)
		assert_int_equal(send_num(a, i, 20, 0), 0);
	assert_int_equal(esl_link_in_flight(&a->l), 3);
	deliver(a, b, 1);
	assert_int_equal(b->ngot, 3);
	for (uint32_t i = 0; i < 3; i++)
		assert_int_equal(b->got[i], i);
	assert_int_equal(esl_link_timeout(&b->l, 1), 0); /* an ack is owed */
	assert_int_equal(esl_link_poll(&b->l, 1), 0);
	assert_int_equal(b->l.st.tx_acks, 1); /* one cumulative ack for three frames */
	deliver(b, a, 2);
	assert_int_equal(esl_link_in_flight(&a->l), 0);
	assert_int_equal(esl_link_timeout(&a->l, 2), -1);
	assert_int_equal(a->l.st.rx_acks, 1);
	end_free(a);
	end_free(b);
}

static void test_window(void **state)
{
	struct end *a = end_new(0x100, 4), *b = end_new(0x200, 4);

	(void)state;
	for (uint32_t i = 0; i < 4; i++)
		assert_int_equal(send_num(a, i, 8, 0), 0);
	assert_false(esl_link_can_send(&a->l));
	assert_int_equal(send_num(a, 4, 8, 0), -ESL_EAGAIN);
	deliver(a, b, 1);
	esl_link_poll(&b->l, 1);
	deliver(b, a, 1);
	assert_true(esl_link_can_send(&a->l));
	assert_int_equal(send_num(a, 4, 8, 1), 0);
	/* bad arguments */
	assert_int_equal(esl_link_send(&a->l, ESL_T_ACK, NULL, 0, 1), -ESL_EINVAL);
	assert_int_equal(esl_link_send(&a->l, ESL_T_HELLO, NULL, 3, 1), -ESL_EINVAL);
	assert_int_equal(esl_link_send(&a->l, ESL_T_HELLO, a->out.buf, ESL_MAX_PAYLOAD + 1, 1),
			 -ESL_EMSGSIZE);
	/* window clamped */
	struct end *c = end_new(1, 200);

	assert_int_equal(c->l.cfg.window, ESL_LINK_WINDOW_MAX);
	end_free(a);
	end_free(b);
	end_free(c);
}

static void test_retransmit_timeout(void **state)
{
	struct end *a = end_new(0x100, 4), *b = end_new(0x200, 4);

	(void)state;
	a->out.drop_next = 1;
	assert_int_equal(send_num(a, 7, 50, 1000), 0);
	assert_int_equal(a->out.n, 0); /* lost on the wire */
	assert_int_equal(esl_link_timeout(&a->l, 1000), 100);
	assert_int_equal(esl_link_poll(&a->l, 1099), 0);
	assert_int_equal(a->l.st.retransmits, 0); /* never early */
	assert_int_equal(esl_link_poll(&a->l, 1100), 0);
	assert_int_equal(a->l.st.retransmits, 1);
	assert_int_equal(a->l.st.timeouts, 1);
	/* backoff: the next timeout is twice as long */
	assert_int_equal(esl_link_timeout(&a->l, 1100), 200);
	deliver(a, b, 1101);
	assert_int_equal(b->ngot, 1);
	assert_int_equal(b->got[0], 7);
	end_free(a);
	end_free(b);
}

static void test_byte_time_in_deadline(void **state)
{
	struct end *a = end_new(0x100, 4);

	(void)state;
	a->l.cfg.byte_us = 87; /* 115200 baud */
	for (uint32_t i = 0; i < 4; i++)
		assert_int_equal(send_num(a, i, 1000, 0), 0);
	/* the 4th frame waits behind 3 others: 4 * 1014 bytes of wire time before its timer runs */
	assert_int_equal(a->l.slot[3].deadline, 100 + (4 * 1014 * 87 + 999) / 1000);
	assert_int_equal(a->l.slot[0].deadline, 100 + (1014 * 87 + 999) / 1000);
	end_free(a);
}

static void test_duplicate(void **state)
{
	struct end *a = end_new(0x100, 4), *b = end_new(0x200, 4);

	(void)state;
	assert_int_equal(send_num(a, 1, 10, 0), 0);
	deliver(a, b, 1);
	b->out.drop_next = 1; /* b's ack is lost */
	esl_link_poll(&b->l, 1);
	deliver(b, a, 1);
	assert_int_equal(esl_link_in_flight(&a->l), 1);
	esl_link_poll(&a->l, 200); /* timeout: resend */
	deliver(a, b, 201);
	assert_int_equal(b->ngot, 1); /* not delivered twice */
	assert_int_equal(b->l.st.rx_dup, 1);
	esl_link_poll(&b->l, 201); /* re-ack */
	deliver(b, a, 202);
	assert_int_equal(esl_link_in_flight(&a->l), 0);
	end_free(a);
	end_free(b);
}

static void test_gap_nak(void **state)
{
	struct end *a = end_new(0x100, 8), *b = end_new(0x200, 8);

	(void)state;
	assert_int_equal(send_num(a, 0, 10, 0), 0);
	a->out.drop_next = 1;
	for (uint32_t i = 1; i < 6; i++)
		assert_int_equal(send_num(a, i, 10, 0), 0);
	deliver(a, b, 1);
	assert_int_equal(b->ngot, 1);
	assert_int_equal(b->l.st.rx_ooo, 4);
	assert_int_equal(b->l.st.tx_naks, 1); /* one NAK for the gap, not four */
	deliver(b, a, 2);
	assert_int_equal(a->l.st.rx_naks, 1);
	assert_int_equal(a->l.st.retransmits, 5); /* go back N: frames 1..5 at once */
	deliver(a, b, 3);
	assert_int_equal(b->ngot, 6);
	for (uint32_t i = 0; i < 6; i++)
		assert_int_equal(b->got[i], i);
	esl_link_poll(&b->l, 3);
	deliver(b, a, 4);
	assert_int_equal(esl_link_in_flight(&a->l), 0);
	end_free(a);
	end_free(b);
}

static void test_retry_limit_and_resync(void **state)
{
	struct end *a = end_new(0x100, 4), *b = end_new(0x200, 4);
	uint32_t now = 0;
	int rc = 0, polls = 0;

	(void)state;
	assert_int_equal(send_num(a, 1, 10, 0), 0);
	assert_int_equal(send_num(a, 2, 10, 0), 0);
	deliver(a, b, 0); /* b has 1 and 2 */
	b->out.cut = true; /* but b can no longer answer */
	esl_link_poll(&b->l, 0);
	assert_int_equal(send_num(a, 3, 10, 0), 0);
	a->out.n = 0; /* and frame 3 is lost */
	while (rc == 0 && polls < 100) {
		int32_t t = esl_link_timeout(&a->l, now);

		assert_true(t >= 0);
		now += (uint32_t)t;
		rc = esl_link_poll(&a->l, now);
		a->out.n = 0;
		polls++;
	}
	assert_int_equal(rc, -ESL_ETIMEDOUT);
	assert_int_equal(a->l.st.retransmits, 5 * 3); /* max_retries resends of the window */
	assert_int_equal(a->l.st.failures, 1);
	assert_int_equal(esl_link_in_flight(&a->l), 0);
	assert_int_equal(a->l.cfg.sid, 0x101); /* new session */
	/* a new session restarts at seq 0: b takes it up and delivers */
	b->out.cut = false;
	assert_int_equal(send_num(a, 4, 10, now), 0);
	deliver(a, b, now);
	assert_int_equal(b->ngot, 3);
	assert_int_equal(b->got[2], 4);
	assert_int_equal(b->l.st.peer_sessions, 2);
	esl_link_poll(&b->l, now);
	deliver(b, a, now);
	assert_int_equal(esl_link_in_flight(&a->l), 0);
	end_free(a);
	end_free(b);
}

static void test_peer_restart(void **state)
{
	struct end *a = end_new(0x100, 4), *b = end_new(0x200, 4);
	struct esl_link_cfg c;

	(void)state;
	for (uint32_t i = 0; i < 10; i++) {
		assert_int_equal(send_num(b, i, 10, 0), 0);
		deliver(b, a, 0);
		esl_link_poll(&a->l, 0);
		deliver(a, b, 0);
	}
	assert_int_equal(a->ngot, 10);
	/* b reboots: all state lost, a new sid, seq from 0 */
	c = b->l.cfg;
	c.sid = 0x201;
	esl_link_init(&b->l, &c);
	b->ngot = 0;
	assert_int_equal(send_num(b, 100, 10, 0), 0);
	deliver(b, a, 0);
	assert_int_equal(a->ngot, 11); /* not taken for a duplicate of seq 0 */
	assert_int_equal(a->got[10], 100);
	/* a's acks for the old session do not confuse b */
	esl_link_poll(&a->l, 0);
	deliver(a, b, 0);
	assert_int_equal(esl_link_in_flight(&b->l), 0);
	end_free(a);
	end_free(b);
}

static void test_piggyback(void **state)
{
	struct end *a = end_new(0x100, 4), *b = end_new(0x200, 4);

	(void)state;
	assert_int_equal(send_num(a, 1, 10, 0), 0);
	deliver(a, b, 0);
	/* b answers with data: the ack rides along, no stand-alone ACK */
	assert_int_equal(send_num(b, 2, 10, 0), 0);
	assert_int_equal(esl_link_timeout(&b->l, 0), 100);
	esl_link_poll(&b->l, 0);
	assert_int_equal(b->l.st.tx_acks, 0);
	deliver(b, a, 0);
	assert_int_equal(esl_link_in_flight(&a->l), 0);
	end_free(a);
	end_free(b);
}

static void test_pause(void **state)
{
	struct end *a = end_new(0x100, 4), *b = end_new(0x200, 4);

	(void)state;
	esl_link_pause_rx(&b->l, true);
	assert_int_equal(send_num(a, 1, 10, 0), 0);
	deliver(a, b, 0);
	assert_int_equal(b->ngot, 0);
	assert_int_equal(b->l.st.rx_paused, 1);
	esl_link_poll(&b->l, 0);
	assert_int_equal(b->l.st.tx_acks, 0); /* nothing acked while paused */
	esl_link_pause_rx(&b->l, false);
	esl_link_poll(&a->l, 100);
	deliver(a, b, 100);
	assert_int_equal(b->ngot, 1);
	end_free(a);
	end_free(b);
}

/* The peer died in the middle of a long frame: after rx_idle_ms what follows gets through. */
static void test_unfinished_frame(void **state)
{
	struct end *a = end_new(0x100, 4), *b = end_new(0x200, 4);
	struct esl_frame f;

	(void)state;
	assert_int_equal(send_num(a, 1, 1000, 0), 0);
	a->out.n = 30; /* only the start of it arrives */
	deliver(a, b, 0);
	assert_int_equal(esl_link_timeout(&b->l, 0), 100);
	/* a new incarnation of a sends small frames: they sit behind the cut-off one */
	{
		struct esl_link_cfg c = a->l.cfg;

		c.sid = 0x101;
		esl_link_init(&a->l, &c);
	}
	assert_int_equal(send_num(a, 2, 10, 50), 0);
	deliver(a, b, 50);
	assert_int_equal(b->ngot, 0);
	assert_int_equal(esl_link_timeout(&b->l, 60), 90); /* counted from the last byte */
	esl_link_poll(&b->l, 149);
	assert_int_equal(b->l.st.rx_expired, 0);
	esl_link_poll(&b->l, 150);
	assert_int_equal(b->l.st.rx_expired, 1);
	assert_int_equal(esl_link_next(&b->l, 150, &f), 1);
	assert_int_equal(esl_get32(f.payload), 2);
	end_free(a);
	end_free(b);
}

/* Both ends talk at once over lossy, corrupting wires; thousands of frames, seq wraps. */
static void test_lossy_both_ways(void **state)
{
	struct end *a = end_new(0x100, 8), *b = end_new(0x200, 4);
	uint32_t now = 0, na = 0, nb = 0;
	const uint32_t want = 3000;

	(void)state;
	a->out.loss_pct = 5;
	a->out.corrupt_pct = 5;
	b->out.loss_pct = 5;
	b->out.corrupt_pct = 5;
	a->l.cfg.max_retries = 50;
	b->l.cfg.max_retries = 50;
	while ((a->ngot < want || b->ngot < want) && now < 10000000) {
		while (na < want && esl_link_can_send(&a->l))
			assert_int_equal(send_num(a, na++, (uint16_t)(4 + rnd() % 600), now), 0);
		while (nb < want && esl_link_can_send(&b->l))
			assert_int_equal(send_num(b, nb++, (uint16_t)(4 + rnd() % 100), now), 0);
		deliver(a, b, now);
		deliver(b, a, now);
		assert_int_equal(esl_link_poll(&a->l, now), 0);
		assert_int_equal(esl_link_poll(&b->l, now), 0);
		now += 10;
	}
	assert_int_equal(b->ngot, want);
	assert_int_equal(a->ngot, want);
	for (uint32_t i = 0; i < want; i++) {
		if (b->got[i] != i || a->got[i] != i)
			fail_msg("frame %u delivered out of order or twice", i);
	}
	assert_true(a->l.st.retransmits > 0);
	assert_true(b->l.dec.st.crc_err + b->l.dec.st.hdr_err > 0);
	print_message("lossy: %u ms simulated, a: %u resends %u NAKs rx; b: dup %u ooo %u crc %u\n",
		      now, a->l.st.retransmits, a->l.st.rx_naks, b->l.st.rx_dup, b->l.st.rx_ooo,
		      b->l.dec.st.crc_err);
	end_free(a);
	end_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_in_order_and_ack),
		cmocka_unit_test(test_window),
		cmocka_unit_test(test_retransmit_timeout),
		cmocka_unit_test(test_byte_time_in_deadline),
		cmocka_unit_test(test_duplicate),
		cmocka_unit_test(test_gap_nak),
		cmocka_unit_test(test_retry_limit_and_resync),
		cmocka_unit_test(test_peer_restart),
		cmocka_unit_test(test_piggyback),
		cmocka_unit_test(test_pause),
		cmocka_unit_test(test_unfinished_frame),
		cmocka_unit_test(test_lossy_both_ways),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
