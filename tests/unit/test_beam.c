/*
 * test_beam: the counter's direction logic (beam.h). Two lines: A then B =
 * in, B then A = out, A only = U-turn, starts 75 ms apart still count, equal
 * starts are ambiguous, the second block too late = two U-turns; a beam
 * blocked too long (alert once, unblocked on clear, no pass, its crossing
 * dropped); chatter (alert above N edges/s, end after a quiet second); a
 * 5 ms glitch with and without debounce; contact bounce; one-line mode;
 * tailgating; the deadlines; and that when the caller ticks never changes
 * the outcome.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "beam.h"

#define MS(x) ((int64_t)(x)*1000000LL)
#define A 0
#define B 1

struct pass_rec {
	int dir;
	int64_t t;
};

struct alert_rec {
	enum beam_alert a;
	int line;
	int64_t t;
};

struct rec {
	struct pass_rec p[32];
	size_t np;
	struct alert_rec al[32];
	size_t na;
};

static void on_pass(void *arg, int dir, int64_t t_ns)
{
	struct rec *r = arg;

	assert_true(r->np < 32);
	r->p[r->np].dir = dir;
	r->p[r->np].t = t_ns;
	r->np++;
}

static void on_alert(void *arg, enum beam_alert a, int line, int64_t t_ns)
{
	struct rec *r = arg;

	assert_true(r->na < 32);
	r->al[r->na].a = a;
	r->al[r->na].line = line;
	r->al[r->na].t = t_ns;
	r->na++;
}

static void setup(struct beam *b, struct rec *r, bool two_lines, unsigned debounce_ms)
{
	struct beam_conf c;
	struct beam_cbs cbs = {.pass = on_pass, .alert = on_alert, .arg = r};

	memset(r, 0, sizeof(*r));
	beam_conf_defaults(&c);
	c.two_lines = two_lines;
	c.debounce_ms = debounce_ms;
	beam_init(b, &c, &cbs);
}

static void ev(struct beam *b, int line, bool blocked, int64_t ms)
{
	beam_edge(b, line, blocked, MS(ms));
}

static void test_defaults_and_names(void **state)
{
	struct beam_conf c;

	beam_conf_defaults(&c);
	assert_true(c.two_lines);
	assert_int_equal(c.debounce_ms, 30);
	assert_int_equal(c.min_pulse_ms, 40);
	assert_int_equal(c.cross_ms, 1500);
	assert_int_equal(c.block_alert_ms, 10000);
	assert_int_equal(c.chatter_edges, 50);
	assert_string_equal(beam_alert_name(BEAM_BLOCKED), "blocked");
	assert_string_equal(beam_alert_name(BEAM_UNBLOCKED), "unblocked");
	assert_string_equal(beam_alert_name(BEAM_CHATTER), "chatter");
	assert_string_equal(beam_alert_name(BEAM_CHATTER_END), "chatter_end");
}

static void test_a_then_b_is_in(void **state)
{
	struct beam b;
	struct rec r;

	setup(&b, &r, true, 30);
	ev(&b, A, true, 1000);
	ev(&b, B, true, 1100);
	ev(&b, A, false, 1300);
	ev(&b, B, false, 1400);
	/* Reported once both beams are clear again, i.e. B's clear confirmed. */
	beam_tick(&b, MS(1429));
	assert_int_equal(r.np, 0);
	beam_tick(&b, MS(1430));
	assert_int_equal(r.np, 1);
	assert_int_equal(r.p[0].dir, +1);
	assert_int_equal(r.p[0].t, MS(1000)); /* the first block's first edge */
	assert_int_equal(b.counts.in, 1);
	assert_int_equal(b.counts.out, 0);
	assert_int_equal(b.counts.uturn, 0);
	assert_int_equal(b.counts.edges, 4);
	assert_int_equal(r.na, 0);
}

static void test_b_then_a_is_out(void **state)
{
	struct beam b;
	struct rec r;

	setup(&b, &r, true, 30);
	ev(&b, B, true, 0);
	ev(&b, A, true, 100);
	ev(&b, B, false, 300);
	ev(&b, A, false, 400);
	beam_tick(&b, MS(1000));
	assert_int_equal(r.np, 1);
	assert_int_equal(r.p[0].dir, -1);
	assert_int_equal(r.p[0].t, 0);
	assert_int_equal(b.counts.out, 1);
	assert_int_equal(b.counts.in, 0);
}

static void test_a_only_is_uturn(void **state)
{
	struct beam b;
	struct rec r;

	setup(&b, &r, true, 30);
	ev(&b, A, true, 0);
	ev(&b, A, false, 400);
	beam_tick(&b, MS(5000));
	assert_int_equal(r.np, 0);
	assert_int_equal(b.counts.uturn, 1);
	/* B only, too. */
	ev(&b, B, true, 6000);
	ev(&b, B, false, 6400);
	beam_tick(&b, MS(7000));
	assert_int_equal(r.np, 0);
	assert_int_equal(b.counts.uturn, 2);
	assert_int_equal(b.counts.in + b.counts.out, 0);
}

static void test_within_75ms(void **state)
{
	struct beam b;
	struct rec r;

	/* A at 0, B at 75 ms: in. */
	setup(&b, &r, true, 30);
	ev(&b, A, true, 0);
	ev(&b, B, true, 75);
	ev(&b, A, false, 350);
	ev(&b, B, false, 420);
	beam_tick(&b, MS(1000));
	assert_int_equal(r.np, 1);
	assert_int_equal(r.p[0].dir, +1);
	assert_int_equal(r.p[0].t, 0);

	/* B at 0, A at 75 ms: out. */
	setup(&b, &r, true, 30);
	ev(&b, B, true, 0);
	ev(&b, A, true, 75);
	ev(&b, B, false, 350);
	ev(&b, A, false, 420);
	beam_tick(&b, MS(1000));
	assert_int_equal(r.np, 1);
	assert_int_equal(r.p[0].dir, -1);

	/* B at 75 ms but A clears first: still in (order of starts decides). */
	setup(&b, &r, true, 30);
	ev(&b, A, true, 0);
	ev(&b, B, true, 75);
	ev(&b, B, false, 300);
	ev(&b, A, false, 420);
	beam_tick(&b, MS(1000));
	assert_int_equal(r.np, 1);
	assert_int_equal(r.p[0].dir, +1);

	/* Equal starts, and starts under 1 ms apart: ambiguous, no pass. */
	setup(&b, &r, true, 30);
	ev(&b, A, true, 0);
	ev(&b, B, true, 0);
	ev(&b, A, false, 300);
	ev(&b, B, false, 300);
	beam_tick(&b, MS(1000));
	beam_edge(&b, B, true, MS(2000));
	beam_edge(&b, A, true, MS(2000) + 500000);
	beam_edge(&b, A, false, MS(2300));
	beam_edge(&b, B, false, MS(2300));
	beam_tick(&b, MS(3000));
	assert_int_equal(r.np, 0);
	assert_int_equal(b.counts.ambiguous, 2);
	assert_int_equal(b.counts.in + b.counts.out + b.counts.uturn, 0);
}

static void test_second_too_late(void **state)
{
	struct beam b;
	struct rec r;

	setup(&b, &r, true, 30);
	/* B starts 1600 ms after A (cross_ms 1500): two lone beams. */
	ev(&b, A, true, 0);
	ev(&b, B, true, 1600);
	ev(&b, A, false, 2000);
	ev(&b, B, false, 2100);
	beam_tick(&b, MS(3000));
	assert_int_equal(r.np, 0);
	assert_int_equal(b.counts.uturn, 2);
	/* Exactly cross_ms apart still pairs. */
	ev(&b, A, true, 10000);
	ev(&b, B, true, 11500);
	ev(&b, A, false, 11600);
	ev(&b, B, false, 11700);
	beam_tick(&b, MS(12000));
	assert_int_equal(r.np, 1);
	assert_int_equal(r.p[0].dir, +1);
	assert_int_equal(r.p[0].t, MS(10000));
}

static void test_blocked(void **state)
{
	struct beam b;
	struct rec r;

	setup(&b, &r, true, 30);
	ev(&b, A, true, 0);
	ev(&b, B, true, 100);
	ev(&b, B, false, 400);
	beam_tick(&b, MS(9999));
	assert_int_equal(r.na, 0);
	assert_int_equal(beam_next_deadline(&b), MS(10000));
	beam_tick(&b, MS(10000));
	assert_int_equal(r.na, 1);
	assert_int_equal(r.al[0].a, BEAM_BLOCKED);
	assert_int_equal(r.al[0].line, A);
	assert_int_equal(r.al[0].t, MS(10000));
	assert_true(b.l[A].block_alerted);
	/* Once. */
	beam_tick(&b, MS(20000));
	ev(&b, B, true, 20500);
	ev(&b, B, false, 20800);
	assert_int_equal(r.na, 1);
	assert_int_equal(beam_next_deadline(&b), MS(20830));
	/* Clears: unblocked at the clear's first edge, once confirmed. */
	ev(&b, A, false, 25000);
	beam_tick(&b, MS(25029));
	assert_int_equal(r.na, 1);
	beam_tick(&b, MS(25030));
	assert_int_equal(r.na, 2);
	assert_int_equal(r.al[1].a, BEAM_UNBLOCKED);
	assert_int_equal(r.al[1].line, A);
	assert_int_equal(r.al[1].t, MS(25000));
	assert_false(b.l[A].block_alerted);
	/* No person came of it; B's block while A was stuck is a lone one. */
	assert_int_equal(r.np, 0);
	assert_int_equal(b.counts.in + b.counts.out, 0);
	assert_int_equal(b.counts.uturn, 1);
	/* Counting resumes. */
	ev(&b, A, true, 30000);
	ev(&b, B, true, 30100);
	ev(&b, A, false, 30300);
	ev(&b, B, false, 30400);
	beam_tick(&b, MS(31000));
	assert_int_equal(r.np, 1);
	assert_int_equal(r.p[0].dir, +1);
	assert_int_equal(beam_next_deadline(&b), INT64_MAX);

	/* A clear that starts just before the limit but bounces back: alert late. */
	setup(&b, &r, false, 30);
	ev(&b, A, true, 0);
	ev(&b, A, false, 9990);
	ev(&b, A, true, 10005);
	assert_int_equal(r.na, 1);
	assert_int_equal(r.al[0].a, BEAM_BLOCKED);
	assert_int_equal(r.al[0].t, MS(10000));
	assert_int_equal(b.counts.bounce, 1);
	ev(&b, A, false, 12000);
	beam_tick(&b, MS(13000));
	assert_int_equal(r.na, 2);
	assert_int_equal(r.np, 0); /* one line: a block that long is no person either */
}

static void test_chatter(void **state)
{
	struct beam b;
	struct rec r;
	int64_t t;

	setup(&b, &r, true, 30);
	/* 50 edges in a second: at the limit, no alert. */
	for (int i = 0; i < 50; i++)
		ev(&b, A, (i % 2) == 0, i * 10);
	beam_tick(&b, MS(3000));
	assert_int_equal(r.na, 0);
	assert_int_equal(b.counts.edges, 50);

	setup(&b, &r, true, 30);
	for (int i = 0; i < 60; i++)
		ev(&b, A, (i % 2) == 0, i * 10);
	assert_int_equal(r.na, 1);
	assert_int_equal(r.al[0].a, BEAM_CHATTER);
	assert_int_equal(r.al[0].line, A);
	assert_int_equal(r.al[0].t, MS(500)); /* the 51st edge */
	assert_true(b.l[A].chattering);
	/* The window with the chatter ends at 1 s; the quiet one after at 2 s. */
	t = beam_next_deadline(&b);
	assert_int_equal(t, MS(1000));
	beam_tick(&b, t);
	assert_int_equal(r.na, 1);
	assert_int_equal(beam_next_deadline(&b), MS(2000));
	beam_tick(&b, MS(1999));
	assert_int_equal(r.na, 1);
	beam_tick(&b, MS(2000));
	assert_int_equal(r.na, 2);
	assert_int_equal(r.al[1].a, BEAM_CHATTER_END);
	assert_int_equal(r.al[1].t, MS(2000));
	assert_false(b.l[A].chattering);
	assert_int_equal(beam_next_deadline(&b), INT64_MAX);
	/* The bounces were counted, nobody passed. */
	assert_int_equal(r.np, 0);
	assert_int_equal(b.counts.bounce, 30);

	/* Still chattering in the next second: no end until a quiet one. */
	setup(&b, &r, true, 0);
	for (int i = 0; i < 200; i++)
		ev(&b, B, (i % 2) == 0, i * 10); /* 100 edges/s for 2 s */
	assert_int_equal(r.na, 1);
	assert_int_equal(r.al[0].line, B);
	beam_tick(&b, MS(2999));
	assert_int_equal(r.na, 1);
	beam_tick(&b, MS(3000));
	assert_int_equal(r.na, 2);
	assert_int_equal(r.al[1].a, BEAM_CHATTER_END);
	assert_int_equal(r.al[1].t, MS(3000));
	/* A new burst alerts again (by edges alone, without ticks). */
	for (int i = 0; i < 52; i++)
		ev(&b, B, (i % 2) == 0, 10000 + i * 5);
	assert_int_equal(r.na, 3);
	assert_int_equal(r.al[2].a, BEAM_CHATTER);
	ev(&b, B, true, 12500); /* a second and more later: ends the chatter */
	assert_int_equal(r.na, 4);
	assert_int_equal(r.al[3].a, BEAM_CHATTER_END);
	assert_int_equal(r.al[3].t, MS(12000));
}

static void test_glitch_5ms(void **state)
{
	struct beam b;
	struct rec r;

	/* Debounce 30: the block reverts before it is confirmed. */
	setup(&b, &r, true, 30);
	ev(&b, A, true, 0);
	ev(&b, A, false, 5);
	beam_tick(&b, MS(1000));
	assert_int_equal(b.counts.glitch, 1);
	assert_int_equal(b.counts.bounce, 1);
	assert_int_equal(b.counts.uturn, 0);
	assert_int_equal(r.np, 0);
	assert_false(b.l[A].stable);

	/* Debounce 0: confirmed at once, but under min_pulse. */
	setup(&b, &r, true, 0);
	ev(&b, A, true, 0);
	assert_true(b.l[A].stable);
	ev(&b, A, false, 5);
	assert_int_equal(b.counts.glitch, 1);
	assert_int_equal(b.counts.bounce, 0);
	assert_int_equal(b.counts.uturn, 0);
	assert_int_equal(r.np, 0);

	/* A glitch on B during A's block does not make a crossing: A is a U-turn. */
	for (unsigned deb = 0; deb <= 30; deb += 30) {
		setup(&b, &r, true, deb);
		ev(&b, A, true, 0);
		ev(&b, B, true, 100);
		ev(&b, B, false, 105);
		ev(&b, A, false, 400);
		beam_tick(&b, MS(1000));
		assert_int_equal(b.counts.glitch, 1);
		assert_int_equal(b.counts.uturn, 1);
		assert_int_equal(r.np, 0);
	}

	/* Debounce 0, a 35 ms block (over debounce, under min_pulse): glitch. */
	setup(&b, &r, false, 0);
	ev(&b, A, true, 0);
	ev(&b, A, false, 35);
	ev(&b, A, true, 100);
	ev(&b, A, false, 140); /* exactly min_pulse: a person */
	assert_int_equal(b.counts.glitch, 1);
	assert_int_equal(r.np, 1);
	assert_int_equal(r.p[0].t, MS(100));
}

static void test_contact_bounce(void **state)
{
	struct beam b;
	struct rec r;

	setup(&b, &r, true, 30);
	/* A bounces as it blocks (0/3/6) and as it clears (300/302/304). */
	ev(&b, A, true, 0);
	ev(&b, A, false, 3);
	ev(&b, A, true, 6);
	ev(&b, B, true, 100);
	ev(&b, A, false, 300);
	ev(&b, A, true, 302);
	ev(&b, A, false, 304);
	ev(&b, B, false, 400);
	ev(&b, B, true, 410); /* B bounces after clearing */
	ev(&b, B, false, 412);
	beam_tick(&b, MS(1000));
	assert_int_equal(r.np, 1);
	assert_int_equal(r.p[0].dir, +1);
	assert_int_equal(r.p[0].t, MS(6));
	assert_int_equal(b.counts.bounce, 3);
	assert_int_equal(b.counts.glitch, 1); /* the reverted block at 3 ms */
	assert_int_equal(b.counts.uturn, 0);
	/* A repeated level is not a change. */
	ev(&b, A, false, 2000);
	beam_tick(&b, MS(3000));
	assert_int_equal(b.counts.bounce, 3);
	assert_int_equal(beam_next_deadline(&b), INT64_MAX);
}

static void test_one_line(void **state)
{
	struct beam b;
	struct rec r;

	setup(&b, &r, false, 30);
	ev(&b, A, true, 0);
	ev(&b, A, false, 200);
	ev(&b, A, true, 500);
	ev(&b, A, false, 700);
	ev(&b, A, true, 1000); /* a glitch */
	ev(&b, A, false, 1010);
	ev(&b, B, true, 1100); /* no line B: ignored */
	beam_tick(&b, MS(2000));
	assert_int_equal(r.np, 2);
	assert_int_equal(r.p[0].dir, +1);
	assert_int_equal(r.p[0].t, 0);
	assert_int_equal(r.p[1].dir, +1);
	assert_int_equal(r.p[1].t, MS(500));
	assert_int_equal(b.counts.in, 2);
	assert_int_equal(b.counts.glitch, 1);
	assert_int_equal(b.counts.edges, 6);
	/* Reported when the block ends (its length decides), timed at its start. */
	ev(&b, A, true, 3000);
	beam_tick(&b, MS(3500));
	assert_int_equal(r.np, 2);
	ev(&b, A, false, 3600);
	beam_tick(&b, MS(3630));
	assert_int_equal(r.np, 3);
	assert_int_equal(r.p[2].t, MS(3000));
}

static void test_tailgating(void **state)
{
	struct beam b;
	struct rec r;

	/* Overlapping: the second person blocks A while the first still blocks B. */
	setup(&b, &r, true, 30);
	ev(&b, A, true, 0);
	ev(&b, B, true, 200);
	ev(&b, A, false, 300);
	ev(&b, A, true, 400);
	ev(&b, B, false, 500);
	ev(&b, B, true, 600);
	ev(&b, A, false, 700);
	ev(&b, B, false, 900);
	beam_tick(&b, MS(2000));
	assert_int_equal(r.np, 2);
	assert_int_equal(r.p[0].dir, +1);
	assert_int_equal(r.p[0].t, 0);
	assert_int_equal(r.p[1].dir, +1);
	assert_int_equal(r.p[1].t, MS(400));
	assert_int_equal(b.counts.uturn, 0);

	/* Back to back, both beams clear for 20 ms between them. */
	setup(&b, &r, true, 30);
	ev(&b, A, true, 0);
	ev(&b, B, true, 200);
	ev(&b, A, false, 300);
	ev(&b, B, false, 500);
	ev(&b, A, true, 520);
	ev(&b, B, true, 700);
	ev(&b, A, false, 800);
	ev(&b, B, false, 1000);
	beam_tick(&b, MS(2000));
	assert_int_equal(r.np, 2);
	assert_int_equal(r.p[1].t, MS(520));
	assert_int_equal(b.counts.in, 2);

	/* One in, then one out right after; then one who turns back at A. */
	setup(&b, &r, true, 30);
	ev(&b, A, true, 0);
	ev(&b, B, true, 200);
	ev(&b, A, false, 300);
	ev(&b, B, false, 500);
	ev(&b, B, true, 600);
	ev(&b, A, true, 800);
	ev(&b, B, false, 900);
	ev(&b, A, false, 1100);
	ev(&b, A, true, 1200);
	ev(&b, A, false, 1500);
	beam_tick(&b, MS(3000));
	assert_int_equal(r.np, 2);
	assert_int_equal(r.p[0].dir, +1);
	assert_int_equal(r.p[1].dir, -1);
	assert_int_equal(r.p[1].t, MS(600));
	assert_int_equal(b.counts.uturn, 1);

	/* The second person turns back at A while the first is still in B. */
	setup(&b, &r, true, 30);
	ev(&b, A, true, 0);
	ev(&b, B, true, 200);
	ev(&b, A, false, 300);
	ev(&b, A, true, 400);
	ev(&b, A, false, 600);
	ev(&b, B, false, 700);
	beam_tick(&b, MS(2000));
	assert_int_equal(r.np, 1);
	assert_int_equal(b.counts.uturn, 1);
}

static void test_deadlines(void **state)
{
	struct beam b;
	struct rec r;

	setup(&b, &r, true, 30);
	assert_int_equal(beam_next_deadline(&b), INT64_MAX);
	ev(&b, A, true, 1000);
	assert_int_equal(beam_next_deadline(&b), MS(1030)); /* the debounce */
	beam_tick(&b, MS(1030));
	assert_true(b.l[A].stable);
	assert_int_equal(beam_next_deadline(&b), MS(11000)); /* the block alert */
	ev(&b, B, true, 1100);
	assert_int_equal(beam_next_deadline(&b), MS(1130));
	beam_tick(&b, MS(1200));
	ev(&b, A, false, 1300);
	assert_int_equal(beam_next_deadline(&b), MS(1330));
	beam_tick(&b, MS(1330));
	assert_int_equal(beam_next_deadline(&b), MS(11100)); /* B's block alert */
	ev(&b, B, false, 1400);
	assert_int_equal(beam_next_deadline(&b), MS(1430));
	beam_tick(&b, MS(1430));
	assert_int_equal(beam_next_deadline(&b), INT64_MAX);
	assert_int_equal(r.np, 1);
	/* One line: line B never has a deadline. */
	setup(&b, &r, false, 30);
	ev(&b, B, true, 0);
	assert_int_equal(beam_next_deadline(&b), INT64_MAX);
}

static void test_set_level(void **state)
{
	struct beam b;
	struct rec r;

	/* Found blocked at start: not a person when it clears. */
	for (int two = 0; two <= 1; two++) {
		setup(&b, &r, two, 30);
		beam_set_level(&b, A, true, MS(100));
		assert_true(b.l[A].stable);
		assert_int_equal(beam_next_deadline(&b), MS(10100));
		if (two)
			ev(&b, B, true, 150);
		ev(&b, A, false, 400);
		if (two)
			ev(&b, B, false, 500);
		beam_tick(&b, MS(1000));
		assert_int_equal(r.np, 0);
		assert_int_equal(b.counts.edges, two ? 3 : 1);
		/* The next block counts as usual. */
		ev(&b, A, true, 2000);
		if (two)
			ev(&b, B, true, 2100);
		ev(&b, A, false, 2300);
		if (two)
			ev(&b, B, false, 2400);
		beam_tick(&b, MS(3000));
		assert_int_equal(r.np, 1);
	}
	/* And it still raises the blocked alert. */
	setup(&b, &r, false, 30);
	beam_set_level(&b, A, true, 0);
	beam_tick(&b, MS(10000));
	assert_int_equal(r.na, 1);
	assert_int_equal(r.al[0].a, BEAM_BLOCKED);
}

/* Feed a script with a tick every @step_ms (0 = only at the end). */
static void run_script(struct rec *r, struct beam *b, int64_t step_ms)
{
	static const struct {
		int line;
		bool blocked;
		int64_t ms;
	} s[] = {
		{A, true, 0},	  {B, true, 150},   {A, false, 320},  {B, false, 470},
		{B, true, 2000},  {A, true, 2075},  {B, false, 2300}, {A, false, 2400},
		{A, true, 4000},  {A, false, 4004}, {A, true, 5000},  {A, false, 5300},
		{A, true, 6000},  {B, true, 6100},  {A, false, 6300}, {A, true, 6350},
		{B, false, 6500}, {B, true, 6600},  {A, false, 6650}, {B, false, 6900},
	};
	int64_t now = 0;

	setup(b, r, true, 30);
	for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++) {
		while (step_ms && now + step_ms < s[i].ms) {
			now += step_ms;
			beam_tick(b, MS(now));
		}
		ev(b, s[i].line, s[i].blocked, s[i].ms);
	}
	beam_tick(b, MS(20000));
}

static void test_tick_timing_irrelevant(void **state)
{
	struct beam b1, b2;
	struct rec r1, r2;

	run_script(&r1, &b1, 0);
	run_script(&r2, &b2, 1);
	assert_int_equal(r1.np, 4);
	assert_int_equal(r1.np, r2.np);
	for (size_t i = 0; i < r1.np; i++) {
		assert_int_equal(r1.p[i].dir, r2.p[i].dir);
		assert_int_equal(r1.p[i].t, r2.p[i].t);
	}
	assert_int_equal(r1.p[0].dir, +1);
	assert_int_equal(r1.p[1].dir, -1);
	assert_int_equal(r1.p[2].dir, +1);
	assert_int_equal(r1.p[3].dir, +1);
	assert_int_equal(b1.counts.uturn, 1);
	assert_int_equal(b1.counts.glitch, 1);
	assert_memory_equal(&b1.counts, &b2.counts, sizeof(b1.counts));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_and_names),
		cmocka_unit_test(test_a_then_b_is_in),
		cmocka_unit_test(test_b_then_a_is_out),
		cmocka_unit_test(test_a_only_is_uturn),
		cmocka_unit_test(test_within_75ms),
		cmocka_unit_test(test_second_too_late),
		cmocka_unit_test(test_blocked),
		cmocka_unit_test(test_chatter),
		cmocka_unit_test(test_glitch_5ms),
		cmocka_unit_test(test_contact_bounce),
		cmocka_unit_test(test_one_line),
		cmocka_unit_test(test_tailgating),
		cmocka_unit_test(test_deadlines),
		cmocka_unit_test(test_set_level),
		cmocka_unit_test(test_tick_timing_irrelevant),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
