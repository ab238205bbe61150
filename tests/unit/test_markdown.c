/*
 * test_markdown: the markdown.set parser and the markdown planner
 * (markdown.h). Planner: a lot going through its steps (times and prices
 * written out by hand), rounding down, the floor reached (and a step the
 * floor makes a no-op), the daily limit (a blocked step waits for the next
 * local day, and is skipped when a later step or the lot's end supersedes
 * it), two lots (back up to the second lot's markdown when the first ends),
 * a lot sold out early (first expired, first out), never raising a
 * marked-down price before its lot ends (a new command with smaller
 * percents, a higher floor, a lower promo price we did not set), a command
 * dropping the applied lot, overdue steps not replayed, and store days
 * across both DST changes in Europe/Berlin (setenv TZ + tzset) against the
 * same plan in UTC. Parser: a valid command read back, unknown keys, then
 * every error with its exact JSON path, several at once in document order,
 * the id kept for the ack, the size limit.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "markdown.h"
#include "util.h"

#define H 3600000LL

static struct price_errors errs;

static void set_tz(const char *tz)
{
	setenv("TZ", tz, 1);
	tzset();
}

static int64_t ms(const char *ts)
{
	int64_t v = 0;

	assert_int_equal(ts_parse(ts, &v), 0);
	return v;
}

static void print_errs(const struct price_errors *e)
{
	for (size_t i = 0; i < e->n; i++)
		print_message("  error %zu: at=\"%s\" error=\"%s\"\n", i, e->e[i].at,
			      e->e[i].error);
}

/* regular 1290, floor 390, 3 changes a day, rows 24h/20%, 8h/40%, 2h/60%, lot L1. */
static void cfg_basic(struct markdown_cfg *c, const char *expires, int64_t qty)
{
	memset(c, 0, sizeof(*c));
	str_copy(c->id, sizeof(c->id), "c-1");
	str_copy(c->sku, sizeof(c->sku), "6901234567892");
	c->regular = 1290;
	c->floor = 390;
	c->max_changes_per_day = 3;
	c->n_rows = 3;
	c->rows[0] = (struct markdown_row){24, 20};
	c->rows[1] = (struct markdown_row){8, 40};
	c->rows[2] = (struct markdown_row){2, 60};
	c->n_lots = 1;
	str_copy(c->lots[0].id, sizeof(c->lots[0].id), "L1");
	c->lots[0].expires_at_ms = ms(expires);
	c->lots[0].quantity = qty;
}

static void add_lot(struct markdown_cfg *c, const char *id, const char *expires, int64_t qty)
{
	struct markdown_lot *l = &c->lots[c->n_lots++];

	str_copy(l->id, sizeof(l->id), id);
	l->expires_at_ms = ms(expires);
	l->quantity = qty;
}

/* What the daemon would do: plan, wait until the step is due, apply it, plan again. */
struct run {
	size_t n;
	struct markdown_step s[32];
};

static int64_t drive(const struct markdown_cfg *c, struct markdown_state *st, int64_t price,
		     int64_t from, int64_t until, struct run *r)
{
	struct markdown_step s;
	int64_t now = from;

	r->n = 0;
	while (r->n < ARRAY_SIZE(r->s) && markdown_next(c, st, price, now, &s) != MARKDOWN_NONE &&
	       s.at_ms <= until) {
		assert_true(s.at_ms >= now);
		assert_int_not_equal(s.price, price);
		now = s.at_ms;
		price = s.price;
		markdown_applied(st, &s, now);
		r->s[r->n++] = s;
	}
	return price;
}

static void expect(const struct run *r, size_t i, enum markdown_kind kind, const char *at,
		   int64_t price, int lot, unsigned percent, bool floored, bool delayed)
{
	char got[TS_BUFSZ];

	assert_true(i < r->n);
	ts_format(r->s[i].at_ms, got);
	print_message("  step %zu: %s %s %lld lot %d %u%%%s%s\n", i,
		      markdown_kind_name(r->s[i].kind), got, (long long)r->s[i].price, r->s[i].lot,
		      r->s[i].percent, r->s[i].floored ? " floored" : "",
		      r->s[i].delayed ? " delayed" : "");
	assert_string_equal(markdown_kind_name(r->s[i].kind), markdown_kind_name(kind));
	assert_int_equal(r->s[i].at_ms, ms(at));
	assert_int_equal(r->s[i].price, price);
	assert_int_equal(r->s[i].lot, lot);
	assert_int_equal(r->s[i].percent, percent);
	assert_int_equal(r->s[i].floored, floored);
	assert_int_equal(r->s[i].delayed, delayed);
}

/* ---- planner ------------------------------------------------------------ */

static void test_lot_steps(void **state)
{
	struct markdown_cfg c;
	struct markdown_state st;
	struct markdown_step s;
	struct run r;
	int64_t price;

	set_tz("UTC0");
	cfg_basic(&c, "2026-06-10T20:00:00Z", 40);
	markdown_state_init(&st);
	/* 32 h before expiry: the first step is a forecast, 8 h ahead. */
	assert_int_equal(markdown_next(&c, &st, 1290, ms("2026-06-09T12:00:00Z"), &s),
			 MARKDOWN_SET);
	assert_int_equal(s.at_ms, ms("2026-06-09T20:00:00Z"));
	assert_int_equal(s.price, 1032);
	price = drive(&c, &st, 1290, ms("2026-06-09T12:00:00Z"), INT64_MAX, &r);
	assert_int_equal(r.n, 4);
	expect(&r, 0, MARKDOWN_SET, "2026-06-09T20:00:00Z", 1032, 0, 20, false, false);
	expect(&r, 1, MARKDOWN_SET, "2026-06-10T12:00:00Z", 774, 0, 40, false, false);
	expect(&r, 2, MARKDOWN_SET, "2026-06-10T18:00:00Z", 516, 0, 60, false, false);
	expect(&r, 3, MARKDOWN_RESTORE, "2026-06-10T20:00:00Z", 1290, 0, 0, false, false);
	assert_int_equal(price, 1290);
	assert_int_equal(st.changes, 3); /* 06-10: 12:00, 18:00, 20:00 */
	assert_int_equal(st.day_ms, ms("2026-06-10T00:00:00Z"));
	assert_int_equal(st.applied_lot, -1);
	/* After the lot: nothing more, ever. */
	assert_int_equal(markdown_next(&c, &st, 1290, ms("2026-06-11T00:00:00Z"), &s),
			 MARKDOWN_NONE);
	/* Exactly at a row's start it applies; 1 ms before it does not. */
	markdown_state_init(&st);
	assert_int_equal(markdown_next(&c, &st, 1290, ms("2026-06-10T12:00:00Z"), &s),
			 MARKDOWN_SET);
	assert_int_equal(s.percent, 40);
	assert_int_equal(s.at_ms, ms("2026-06-10T12:00:00Z"));
	assert_int_equal(markdown_next(&c, &st, 1290, ms("2026-06-10T12:00:00Z") - 1, &s),
			 MARKDOWN_SET);
	assert_int_equal(s.percent, 20);
	/* Expired at the exact expiry instant: nothing to mark down. */
	assert_false(markdown_lot_live(&c, &st, 0, ms("2026-06-10T20:00:00Z")));
	assert_true(markdown_lot_live(&c, &st, 0, ms("2026-06-10T20:00:00Z") - 1));
	assert_int_equal(markdown_next(&c, &st, 1290, ms("2026-06-10T20:00:00Z"), &s),
			 MARKDOWN_NONE);
}

static void test_rounding(void **state)
{
	struct markdown_cfg c;
	struct markdown_state st;
	struct markdown_target t;

	set_tz("UTC0");
	cfg_basic(&c, "2026-06-10T20:00:00Z", 40);
	markdown_state_init(&st);
	c.regular = 999;
	c.floor = 0;
	c.n_rows = 2;
	c.rows[0] = (struct markdown_row){24, 33};
	c.rows[1] = (struct markdown_row){1, 99};
	markdown_target_at(&c, &st, ms("2026-06-10T00:00:00Z"), &t);
	assert_int_equal(t.price, 669); /* 669.33 rounded down */
	assert_int_equal(t.percent, 33);
	assert_int_equal(t.lot, 0);
	markdown_target_at(&c, &st, ms("2026-06-10T19:30:00Z"), &t);
	assert_int_equal(t.price, 9); /* 9.99 */
	c.regular = 1;
	markdown_target_at(&c, &st, ms("2026-06-10T19:30:00Z"), &t);
	assert_int_equal(t.price, 0); /* 0.01 down to 0: floor 0 allows it */
	assert_false(t.floored);
	c.regular = 1000000000;
	markdown_target_at(&c, &st, ms("2026-06-10T19:30:00Z"), &t);
	assert_int_equal(t.price, 10000000);
	/* Before the first row, and with no lot: regular, lot reported or -1. */
	markdown_target_at(&c, &st, ms("2026-06-09T00:00:00Z"), &t);
	assert_int_equal(t.price, 1000000000);
	assert_int_equal(t.percent, 0);
	assert_int_equal(t.lot, 0);
	c.n_lots = 0;
	markdown_target_at(&c, &st, ms("2026-06-09T00:00:00Z"), &t);
	assert_int_equal(t.lot, -1);
}

static void test_floor(void **state)
{
	struct markdown_cfg c;
	struct markdown_state st;
	struct run r;

	set_tz("UTC0");
	cfg_basic(&c, "2026-06-10T20:00:00Z", 40);
	c.floor = 600; /* 60% would be 516 */
	markdown_state_init(&st);
	drive(&c, &st, 1290, ms("2026-06-09T00:00:00Z"), INT64_MAX, &r);
	assert_int_equal(r.n, 4);
	expect(&r, 0, MARKDOWN_SET, "2026-06-09T20:00:00Z", 1032, 0, 20, false, false);
	expect(&r, 1, MARKDOWN_SET, "2026-06-10T12:00:00Z", 774, 0, 40, false, false);
	expect(&r, 2, MARKDOWN_SET, "2026-06-10T18:00:00Z", 600, 0, 60, true, false);
	expect(&r, 3, MARKDOWN_RESTORE, "2026-06-10T20:00:00Z", 1290, 0, 0, false, false);

	/* Once at the floor, a deeper row changes nothing: no step, no change used. */
	c.floor = 900;
	markdown_state_init(&st);
	drive(&c, &st, 1290, ms("2026-06-09T00:00:00Z"), INT64_MAX, &r);
	assert_int_equal(r.n, 3);
	expect(&r, 0, MARKDOWN_SET, "2026-06-09T20:00:00Z", 1032, 0, 20, false, false);
	expect(&r, 1, MARKDOWN_SET, "2026-06-10T12:00:00Z", 900, 0, 40, true, false);
	expect(&r, 2, MARKDOWN_RESTORE, "2026-06-10T20:00:00Z", 1290, 0, 0, false, false);
	assert_int_equal(st.changes, 2);

	/* floor == regular: never any markdown. */
	c.floor = 1290;
	markdown_state_init(&st);
	drive(&c, &st, 1290, ms("2026-06-09T00:00:00Z"), INT64_MAX, &r);
	assert_int_equal(r.n, 0);
}

static void test_daily_limit(void **state)
{
	struct markdown_cfg c;
	struct markdown_state st;
	struct markdown_step s;
	struct run r;

	set_tz("UTC0");
	/* One change a day: the 60% step (18:00) is blocked; by midnight the lot has ended. */
	cfg_basic(&c, "2026-06-10T20:00:00Z", 40);
	c.max_changes_per_day = 1;
	markdown_state_init(&st);
	drive(&c, &st, 1290, ms("2026-06-09T00:00:00Z"), INT64_MAX, &r);
	assert_int_equal(r.n, 3);
	expect(&r, 0, MARKDOWN_SET, "2026-06-09T20:00:00Z", 1032, 0, 20, false, false);
	expect(&r, 1, MARKDOWN_SET, "2026-06-10T12:00:00Z", 774, 0, 40, false, false);
	/* The skipped 60% step is superseded by the lot's end: regular at midnight. */
	expect(&r, 2, MARKDOWN_RESTORE, "2026-06-11T00:00:00Z", 1290, 0, 0, false, true);

	/* A later step supersedes a blocked one: 40% (17:00) waits, at midnight 60% is due. */
	cfg_basic(&c, "2026-06-11T01:00:00Z", 40);
	c.max_changes_per_day = 1;
	markdown_state_init(&st);
	drive(&c, &st, 1290, ms("2026-06-09T00:00:00Z"), INT64_MAX, &r);
	assert_int_equal(r.n, 3);
	expect(&r, 0, MARKDOWN_SET, "2026-06-10T01:00:00Z", 1032, 0, 20, false, false);
	expect(&r, 1, MARKDOWN_SET, "2026-06-11T00:00:00Z", 516, 0, 60, false, true);
	expect(&r, 2, MARKDOWN_RESTORE, "2026-06-12T00:00:00Z", 1290, 0, 0, false, true);

	/* A blocked step that still applies at midnight is applied then, unchanged. */
	cfg_basic(&c, "2026-06-11T12:00:00Z", 40);
	c.max_changes_per_day = 1;
	c.n_rows = 2;
	c.rows[0] = (struct markdown_row){36, 20}; /* 06-10T00:00 */
	c.rows[1] = (struct markdown_row){30, 40}; /* 06-10T06:00: blocked */
	markdown_state_init(&st);
	drive(&c, &st, 1290, ms("2026-06-09T00:00:00Z"), INT64_MAX, &r);
	assert_int_equal(r.n, 3);
	expect(&r, 0, MARKDOWN_SET, "2026-06-10T00:00:00Z", 1032, 0, 20, false, false);
	expect(&r, 1, MARKDOWN_SET, "2026-06-11T00:00:00Z", 774, 0, 40, false, true);
	/* Going back to regular is a change too: 06-11's one is used, so at midnight. */
	expect(&r, 2, MARKDOWN_RESTORE, "2026-06-12T00:00:00Z", 1290, 0, 0, false, true);

	/* The limit counts the changes of the day already made, from the state. */
	cfg_basic(&c, "2026-06-10T20:00:00Z", 40);
	markdown_state_init(&st);
	st.day_ms = ms("2026-06-10T00:00:00Z");
	st.changes = 3;
	assert_int_equal(markdown_next(&c, &st, 1290, ms("2026-06-10T13:00:00Z"), &s),
			 MARKDOWN_NONE); /* at midnight the lot is over: nothing to do */
	st.changes = 2;
	assert_int_equal(markdown_next(&c, &st, 1290, ms("2026-06-10T13:00:00Z"), &s),
			 MARKDOWN_SET);
	assert_int_equal(s.at_ms, ms("2026-06-10T13:00:00Z"));
	assert_int_equal(s.price, 774);
	/* A change on another day does not count against today. */
	st.day_ms = ms("2026-06-09T00:00:00Z");
	st.changes = 3;
	assert_int_equal(markdown_next(&c, &st, 1290, ms("2026-06-10T13:00:00Z"), &s),
			 MARKDOWN_SET);
	markdown_applied(&st, &s, ms("2026-06-10T13:00:00Z"));
	assert_int_equal(st.day_ms, ms("2026-06-10T00:00:00Z"));
	assert_int_equal(st.changes, 1);
}

static void test_two_lots(void **state)
{
	struct markdown_cfg c;
	struct markdown_state st;
	struct run r;

	set_tz("UTC0");
	cfg_basic(&c, "2026-06-10T20:00:00Z", 10);
	add_lot(&c, "L2", "2026-06-11T06:00:00Z", 30);
	markdown_state_init(&st);
	drive(&c, &st, 1290, ms("2026-06-09T00:00:00Z"), INT64_MAX, &r);
	assert_int_equal(r.n, 7);
	/* L1 is the most urgent: its steps drive the price. */
	expect(&r, 0, MARKDOWN_SET, "2026-06-09T20:00:00Z", 1032, 0, 20, false, false);
	expect(&r, 1, MARKDOWN_SET, "2026-06-10T12:00:00Z", 774, 0, 40, false, false);
	expect(&r, 2, MARKDOWN_SET, "2026-06-10T18:00:00Z", 516, 0, 60, false, false);
	/* L1 ends: up to what L2 needs (10 h left: 20%), not to regular. */
	expect(&r, 3, MARKDOWN_SET, "2026-06-10T20:00:00Z", 1032, 1, 20, false, false);
	/* L2's 40% (22:00) is the 4th change of 06-10: it waits for midnight. */
	expect(&r, 4, MARKDOWN_SET, "2026-06-11T00:00:00Z", 774, 1, 40, false, true);
	expect(&r, 5, MARKDOWN_SET, "2026-06-11T04:00:00Z", 516, 1, 60, false, false);
	expect(&r, 6, MARKDOWN_RESTORE, "2026-06-11T06:00:00Z", 1290, 1, 0, false, false);

	/* The same lots given in the other order: the same plan, lot indexes swapped. */
	cfg_basic(&c, "2026-06-11T06:00:00Z", 30);
	str_copy(c.lots[0].id, sizeof(c.lots[0].id), "L2");
	add_lot(&c, "L1", "2026-06-10T20:00:00Z", 10);
	markdown_state_init(&st);
	drive(&c, &st, 1290, ms("2026-06-09T00:00:00Z"), INT64_MAX, &r);
	assert_int_equal(r.n, 7);
	expect(&r, 0, MARKDOWN_SET, "2026-06-09T20:00:00Z", 1032, 1, 20, false, false);
	expect(&r, 3, MARKDOWN_SET, "2026-06-10T20:00:00Z", 1032, 0, 20, false, false);
	expect(&r, 6, MARKDOWN_RESTORE, "2026-06-11T06:00:00Z", 1290, 0, 0, false, false);
}

static void test_sold_out_early(void **state)
{
	struct markdown_cfg c;
	struct markdown_state st;
	struct markdown_step s;
	struct run r;
	int64_t price;

	set_tz("UTC0");
	cfg_basic(&c, "2026-06-10T20:00:00Z", 10);
	add_lot(&c, "L2", "2026-06-12T20:00:00Z", 30);
	markdown_state_init(&st);
	price = drive(&c, &st, 1290, ms("2026-06-09T00:00:00Z"), ms("2026-06-10T12:00:00Z"), &r);
	assert_int_equal(r.n, 2);
	assert_int_equal(price, 774);
	/* First expired, first out: sales go to L1 (the earliest expiry) first. */
	assert_int_equal(markdown_sale(&c, &st, 4, ms("2026-06-10T13:00:00Z")), 0);
	assert_int_equal(st.sold[0], 4);
	assert_int_equal(st.sold[1], 0);
	assert_int_equal(markdown_next(&c, &st, price, ms("2026-06-10T13:00:00Z"), &s),
			 MARKDOWN_SET);
	assert_int_equal(s.at_ms, ms("2026-06-10T18:00:00Z")); /* still L1's plan */
	/* 8 more: L1's last 6, then 2 of L2. */
	assert_int_equal(markdown_sale(&c, &st, 8, ms("2026-06-10T14:00:00Z")), 0);
	assert_int_equal(st.sold[0], 10);
	assert_int_equal(st.sold[1], 2);
	assert_false(markdown_lot_live(&c, &st, 0, ms("2026-06-10T14:00:00Z")));
	/* L1 has ended before its expiry: back to regular now (L2 has 54 h left). */
	assert_int_equal(markdown_next(&c, &st, price, ms("2026-06-10T14:00:00Z"), &s),
			 MARKDOWN_RESTORE);
	assert_int_equal(s.at_ms, ms("2026-06-10T14:00:00Z"));
	assert_int_equal(s.price, 1290);
	assert_int_equal(s.lot, 0);
	markdown_applied(&st, &s, s.at_ms);
	drive(&c, &st, 1290, ms("2026-06-10T14:00:00Z"), INT64_MAX, &r);
	assert_int_equal(r.n, 4);
	expect(&r, 0, MARKDOWN_SET, "2026-06-11T20:00:00Z", 1032, 1, 20, false, false);
	expect(&r, 3, MARKDOWN_RESTORE, "2026-06-12T20:00:00Z", 1290, 1, 0, false, false);
	/* More than every live lot holds: the rest is returned; bad quantities refused. */
	markdown_state_init(&st);
	assert_int_equal(markdown_sale(&c, &st, 45, ms("2026-06-10T14:00:00Z")), 5);
	assert_int_equal(markdown_sale(&c, &st, 1, ms("2026-06-10T14:00:00Z")), 1);
	assert_int_equal(markdown_sale(&c, &st, 0, ms("2026-06-10T14:00:00Z")), -EINVAL);
	/* An expired lot takes no sale. */
	markdown_state_init(&st);
	assert_int_equal(markdown_sale(&c, &st, 3, ms("2026-06-11T00:00:00Z")), 0);
	assert_int_equal(st.sold[0], 0);
	assert_int_equal(st.sold[1], 3);
	/* Everything sold: no plan. */
	markdown_state_init(&st);
	markdown_sale(&c, &st, 40, ms("2026-06-09T00:00:00Z"));
	assert_int_equal(markdown_next(&c, &st, 1290, ms("2026-06-09T00:00:00Z"), &s),
			 MARKDOWN_NONE);
}

static void test_never_raise_before_lot_end(void **state)
{
	struct markdown_cfg c, c2;
	struct markdown_state st, st2;
	struct markdown_step s;
	struct run r;
	int64_t price;

	set_tz("UTC0");
	cfg_basic(&c, "2026-06-10T20:00:00Z", 40);
	markdown_state_init(&st);
	price = drive(&c, &st, 1290, ms("2026-06-09T00:00:00Z"), ms("2026-06-10T12:00:00Z"), &r);
	assert_int_equal(price, 774);
	assert_int_equal(st.applied_lot, 0);
	assert_int_equal(markdown_sale(&c, &st, 5, ms("2026-06-10T12:30:00Z")), 0);

	/* HQ resends with smaller percents and a floor above the current price. */
	c2 = c;
	str_copy(c2.id, sizeof(c2.id), "c-2");
	c2.floor = 900;
	c2.rows[0].percent = 5;
	c2.rows[1].percent = 10;
	c2.rows[2].percent = 15;
	add_lot(&c2, "L0", "2026-06-20T20:00:00Z", 5);
	markdown_state_carry(&c, &st, &c2, &st2);
	assert_int_equal(st2.applied_lot, 0);
	assert_int_equal(st2.sold[0], 5);
	assert_int_equal(st2.sold[1], 0);
	assert_int_equal(st2.changes, st.changes);
	/* 774 stays until L1 ends; then back to regular (L0 needs nothing yet). */
	drive(&c2, &st2, price, ms("2026-06-10T13:00:00Z"), INT64_MAX, &r);
	assert_int_equal(r.n, 5);
	expect(&r, 0, MARKDOWN_RESTORE, "2026-06-10T20:00:00Z", 1290, 0, 0, false, false);
	expect(&r, 1, MARKDOWN_SET, "2026-06-19T20:00:00Z", 1225, 1, 5, false, false);

	/* The new command dropped the applied lot: it has ended, regular now. */
	c2 = c;
	c2.n_lots = 1;
	str_copy(c2.lots[0].id, sizeof(c2.lots[0].id), "L9");
	c2.lots[0].expires_at_ms = ms("2026-06-20T20:00:00Z");
	markdown_state_carry(&c, &st, &c2, &st2);
	assert_int_equal(st2.applied_lot, MARKDOWN_LOT_ENDED);
	assert_int_equal(st2.sold[0], 0);
	assert_int_equal(markdown_next(&c2, &st2, price, ms("2026-06-10T13:00:00Z"), &s),
			 MARKDOWN_RESTORE);
	assert_int_equal(s.at_ms, ms("2026-06-10T13:00:00Z"));
	assert_int_equal(s.lot, -1);

	/* A carried quantity is capped at the new one. */
	c2 = c;
	c2.lots[0].quantity = 3;
	markdown_state_carry(&c, &st, &c2, &st2);
	assert_int_equal(st2.sold[0], 3);
	assert_false(markdown_lot_live(&c2, &st2, 0, ms("2026-06-10T13:00:00Z")));

	/* A price we did not set (a promo at 700) is not raised, and not fought. */
	markdown_state_init(&st);
	drive(&c, &st, 700, ms("2026-06-09T00:00:00Z"), INT64_MAX, &r);
	assert_int_equal(r.n, 2);
	expect(&r, 0, MARKDOWN_SET, "2026-06-10T18:00:00Z", 516, 0, 60, false, false);
	expect(&r, 1, MARKDOWN_RESTORE, "2026-06-10T20:00:00Z", 1290, 0, 0, false, false);
	/* Someone changed the price after our markdown: not ours any more, left alone. */
	markdown_state_init(&st);
	drive(&c, &st, 1290, ms("2026-06-09T00:00:00Z"), ms("2026-06-10T12:00:00Z"), &r);
	assert_int_equal(markdown_next(&c, &st, 1100, ms("2026-06-10T13:00:00Z"), &s),
			 MARKDOWN_SET);
	assert_int_equal(s.at_ms, ms("2026-06-10T13:00:00Z")); /* 774 < 1100: marked down */
	assert_int_equal(markdown_next(&c, &st, 500, ms("2026-06-10T13:00:00Z"), &s),
			 MARKDOWN_NONE); /* 500: below anything we would set, never raised */
}

static void test_overdue_not_replayed(void **state)
{
	struct markdown_cfg c;
	struct markdown_state st;
	struct markdown_step s;

	set_tz("UTC0");
	cfg_basic(&c, "2026-06-10T20:00:00Z", 40);
	markdown_state_init(&st);
	/* The gateway was off from 06-09 to 06-10T19:00: straight to 60%, now. */
	assert_int_equal(markdown_next(&c, &st, 1290, ms("2026-06-10T19:00:00Z"), &s),
			 MARKDOWN_SET);
	assert_int_equal(s.at_ms, ms("2026-06-10T19:00:00Z"));
	assert_int_equal(s.price, 516);
	assert_int_equal(s.percent, 60);
	assert_false(s.delayed);
	assert_string_equal(markdown_kind_name(MARKDOWN_NONE), "none");
	assert_int_equal(markdown_next(NULL, &st, 1290, 0, &s), MARKDOWN_NONE);
	assert_int_equal(markdown_next(&c, &st, 1290, 0, NULL), MARKDOWN_NONE);
}

/*
 * Europe/Berlin, 2026-03-29: clocks go 02:00 CET -> 03:00 CEST, a 23-hour
 * store day from 03-28T23:00Z to 03-29T22:00Z. One change a day; rows 24h
 * (03-29T10:00Z), 16h (03-29T18:00Z, blocked) and 4h (03-30T06:00Z).
 */
static void test_dst_spring(void **state)
{
	struct markdown_cfg c;
	struct markdown_state st;
	struct run r;

	cfg_basic(&c, "2026-03-30T10:00:00Z", 40);
	c.max_changes_per_day = 1;
	c.rows[0] = (struct markdown_row){24, 20};
	c.rows[1] = (struct markdown_row){16, 30}; /* 1290 * 70 / 100 = 903 */
	c.rows[2] = (struct markdown_row){4, 50};

	set_tz("Europe/Berlin");
	assert_int_equal(local_day_next_ms(ms("2026-03-29T18:00:00Z")), ms("2026-03-29T22:00:00Z"));
	markdown_state_init(&st);
	drive(&c, &st, 1290, ms("2026-03-28T12:00:00Z"), INT64_MAX, &r);
	assert_int_equal(r.n, 3);
	/* Hours left are real hours: 24 h before 12:00 CEST is 12:00 CEST the day before. */
	expect(&r, 0, MARKDOWN_SET, "2026-03-29T10:00:00Z", 1032, 0, 20, false, false);
	/* The blocked 30% waits for local midnight, 22:00Z (23:00Z without DST). */
	expect(&r, 1, MARKDOWN_SET, "2026-03-29T22:00:00Z", 903, 0, 30, false, true);
	/* 50% at 06:00Z is the 2nd change of 03-30: at its midnight the lot has ended. */
	expect(&r, 2, MARKDOWN_RESTORE, "2026-03-30T22:00:00Z", 1290, 0, 0, false, true);
	assert_int_equal(st.day_ms, ms("2026-03-30T22:00:00Z"));

	/*
	 * A change applied at 00:30 local on 03-29 (23:30Z on 03-28) counts for
	 * 03-29: the 30% step at 18:00Z that day is blocked until 22:00Z.
	 */
	markdown_state_init(&st);
	{
		struct markdown_step s = {.kind = MARKDOWN_SET, .price = 1032, .lot = 0};

		markdown_applied(&st, &s, ms("2026-03-28T23:30:00Z"));
	}
	assert_int_equal(st.day_ms, ms("2026-03-28T23:00:00Z"));
	drive(&c, &st, 1032, ms("2026-03-29T00:00:00Z"), ms("2026-03-30T00:00:00Z"), &r);
	assert_int_equal(r.n, 1);
	expect(&r, 0, MARKDOWN_SET, "2026-03-29T22:00:00Z", 903, 0, 30, false, true);
	/* In UTC that change was on 03-28: 18:00Z on 03-29 is free. */
	set_tz("UTC0");
	markdown_state_init(&st);
	{
		struct markdown_step s = {.kind = MARKDOWN_SET, .price = 1032, .lot = 0};

		markdown_applied(&st, &s, ms("2026-03-28T23:30:00Z"));
	}
	drive(&c, &st, 1032, ms("2026-03-29T00:00:00Z"), ms("2026-03-30T00:00:00Z") - 1, &r);
	assert_int_equal(r.n, 1);
	expect(&r, 0, MARKDOWN_SET, "2026-03-29T18:00:00Z", 903, 0, 30, false, false);

	/* The same plan in UTC: store days start at 00:00Z. */
	set_tz("UTC0");
	markdown_state_init(&st);
	drive(&c, &st, 1290, ms("2026-03-28T12:00:00Z"), INT64_MAX, &r);
	assert_int_equal(r.n, 3);
	expect(&r, 0, MARKDOWN_SET, "2026-03-29T10:00:00Z", 1032, 0, 20, false, false);
	expect(&r, 1, MARKDOWN_SET, "2026-03-30T00:00:00Z", 903, 0, 30, false, true);
	expect(&r, 2, MARKDOWN_RESTORE, "2026-03-31T00:00:00Z", 1290, 0, 0, false, true);
}

/* Europe/Berlin, 2026-10-25: 03:00 CEST -> 02:00 CET, a 25-hour day to 10-25T23:00Z. */
static void test_dst_autumn(void **state)
{
	struct markdown_cfg c;
	struct markdown_state st;
	struct run r;

	set_tz("Europe/Berlin");
	cfg_basic(&c, "2026-10-26T12:00:00Z", 40);
	c.max_changes_per_day = 1;
	c.rows[0] = (struct markdown_row){36, 20}; /* 10-25T00:00Z, 02:00 CEST */
	c.rows[1] = (struct markdown_row){14, 40}; /* 10-25T22:00Z, 23:00 CET: same day */
	c.rows[2] = (struct markdown_row){2, 60}; /* 10-26T10:00Z */
	markdown_state_init(&st);
	drive(&c, &st, 1290, ms("2026-10-24T12:00:00Z"), INT64_MAX, &r);
	assert_int_equal(r.n, 3);
	expect(&r, 0, MARKDOWN_SET, "2026-10-25T00:00:00Z", 1032, 0, 20, false, false);
	/* 40% at 23:00 CET is still 10-25 (used): it waits for 10-26's midnight, 23:00Z. */
	expect(&r, 1, MARKDOWN_SET, "2026-10-25T23:00:00Z", 774, 0, 40, false, true);
	/* 60% at 10-26T10:00Z is blocked too; at midnight the lot is over. */
	expect(&r, 2, MARKDOWN_RESTORE, "2026-10-26T23:00:00Z", 1290, 0, 0, false, true);
}

/* ---- parser ------------------------------------------------------------- */

#define VALID                                                                                      \
	"{\"id\":\"c-1\",\"issued_at\":\"2026-06-09T08:00:00.000Z\",\"action\":\"markdown.set\","  \
	"\"sku\":\"6901234567892\",\"regular\":1290,\"floor\":390,\"max_changes_per_day\":3,"      \
	"\"table\":[{\"hours_left\":24,\"percent\":20},{\"hours_left\":8,\"percent\":40},"         \
	"{\"hours_left\":2,\"percent\":60}],"                                                      \
	"\"lots\":[{\"lot\":\"L1\",\"expires_at\":\"2026-06-10T20:00:00.000Z\",\"quantity\":40},"  \
	"{\"lot\":\"L2\",\"expires_at\":\"2026-06-12T22:00:00+02:00\",\"quantity\":30}]}"

static int parse(const char *s, struct markdown_cfg *c)
{
	int rc = markdown_cmd_parse(s, strlen(s), c, &errs);

	print_errs(&errs);
	return rc;
}

static void test_parse_valid(void **state)
{
	struct markdown_cfg c;

	assert_int_equal(parse(VALID, &c), 0);
	assert_int_equal(errs.total, 0);
	assert_string_equal(c.id, "c-1");
	assert_int_equal(c.issued_at_ms, ms("2026-06-09T08:00:00Z"));
	assert_string_equal(c.sku, "6901234567892");
	assert_int_equal(c.regular, 1290);
	assert_int_equal(c.floor, 390);
	assert_int_equal(c.max_changes_per_day, 3);
	assert_int_equal(c.n_rows, 3);
	assert_int_equal(c.rows[0].hours_left, 24);
	assert_int_equal(c.rows[0].percent, 20);
	assert_int_equal(c.rows[2].hours_left, 2);
	assert_int_equal(c.rows[2].percent, 60);
	assert_int_equal(c.n_lots, 2);
	assert_string_equal(c.lots[0].id, "L1");
	assert_int_equal(c.lots[0].expires_at_ms, ms("2026-06-10T20:00:00Z"));
	assert_int_equal(c.lots[0].quantity, 40);
	assert_string_equal(c.lots[1].id, "L2");
	assert_int_equal(c.lots[1].expires_at_ms, ms("2026-06-12T20:00:00Z"));
	assert_int_equal(c.lots[1].quantity, 30);

	/* Unknown keys anywhere are ignored, repeated or not; no lots; floor 0 and == regular. */
	assert_int_equal(
		parse("{\"x\":[1,{\"y\":2}],\"x\":null,\"id\":\"c-2\",\"issued_at\":"
		      "\"2026-06-09T08:00:00Z\",\"action\":\"markdown.set\",\"sku\":\"a.b-C_9\","
		      "\"regular\":1,\"floor\":0,\"max_changes_per_day\":100,\"table\":[{\"hours_"
		      "left\":720,\"percent\":99,\"note\":\"z\"}],\"lots\":[],\"stores\":[\"S1\"]}",
		      &c),
		0);
	assert_int_equal(c.n_lots, 0);
	assert_int_equal(c.max_changes_per_day, 100);
	assert_int_equal(c.rows[0].hours_left, 720);
	assert_int_equal(c.floor, 0);
	assert_int_equal(parse("{\"id\":\"c-3\",\"issued_at\":\"2026-06-09T08:00:00Z\",\"action\":"
			       "\"markdown.set\",\"sku\":\"S\",\"regular\":500,\"floor\":500,"
			       "\"max_changes_per_day\":1,\"table\":[{\"hours_left\":1,"
			       "\"percent\":1}],\"lots\":[]}",
			       &c),
			 0);
	assert_int_equal(c.floor, 500);
}

/* VALID with the first occurrence of @from replaced by @to. */
static char *replace(const char *from, const char *to)
{
	static char buf[8192];
	const char *p = strstr(VALID, from);

	assert_non_null(p);
	snprintf(buf, sizeof(buf), "%.*s%s%s", (int)(p - VALID), VALID, to, p + strlen(from));
	return buf;
}

struct bad_case {
	const char *from, *to;
	const char *at[3]; /* the errors, in order: path ... */
	const char *msg[3]; /* ... and a phrase of the message */
};

static const struct bad_case bad_cases[] = {
	{"\"c-1\"", "\"\"", {"id"}, {"must not be empty"}},
	{"\"c-1\"", "7", {"id"}, {"must be a string, got a number"}},
	{"\"c-1\"", "\"c\\u00011\"", {"id"}, {"printable ASCII"}},
	{"\"c-1\"", "\"c\\u0000\"", {"id"}, {"printable ASCII"}},
	{"\"c-1\"",
	 "\"0123456789012345678901234567890123456789012345678901234567890123456789"
	 "012345678901234567890123456789012345678901234567890123456789\"",
	 {"id"},
	 {"130 bytes, over the 128-byte limit"}},
	{"\"2026-06-09T08:00:00.000Z\"",
	 "\"2026-13-09T08:00:00Z\"",
	 {"issued_at"},
	 {"must be an RFC 3339 timestamp, got \"2026-13-09T08:00:00Z\""}},
	{"\"2026-06-09T08:00:00.000Z\"", "null", {"issued_at"}, {"got null"}},
	{"\"markdown.set\"",
	 "\"prices.set\"",
	 {"action"},
	 {"must be \"markdown.set\", got \"prices.set\""}},
	{"\"markdown.set\"", "[\"markdown.set\"]", {"action"}, {"must be a string, got an array"}},
	{"\"6901234567892\"",
	 "\"690 123\"",
	 {"sku"},
	 {"must contain only [A-Za-z0-9._-], got \"690 123\""}},
	{"\"6901234567892\"",
	 "\"01234567890123456789012345678901234567890123456789012345678901234\"",
	 {"sku"},
	 {"65 bytes, over the 64-byte limit"}},
	{"\"6901234567892\"", "6901234567892", {"sku"}, {"must be a string"}},
	{"1290", "12.9", {"regular"}, {"integer number of minor units, got 12.9"}},
	{"1290", "1290.0", {"regular"}, {"integer number of minor units, got 1290.0"}},
	{"1290", "1.29e3", {"regular"}, {"integer number of minor units, got 1.29e3"}},
	{"1290",
	 "\"1290\"",
	 {"regular"},
	 {"must be an integer number of minor units, got a string"}},
	{"1290", "null", {"regular"}, {"got null"}},
	{"1290", "0", {"regular"}, {"must be 1..1000000000, got 0"}},
	{"1290", "1000000001", {"regular"}, {"must be 1..1000000000, got 1000000001"}},
	{"1290", "99999999999999999999999", {"regular"}, {"must be 1..1000000000"}},
	{"390", "-1", {"floor"}, {"must be 0..1000000000, got -1"}},
	{"390", "1291", {"floor"}, {"must not be above regular (1290), got 1291"}},
	{":3,", ":0,", {"max_changes_per_day"}, {"must be 1..100, got 0"}},
	{":3,", ":101,", {"max_changes_per_day"}, {"must be 1..100, got 101"}},
	{":3,", ":true,", {"max_changes_per_day"}, {"must be an integer, got true"}},
	{"\"table\":[", "\"table\":{},\"t\":[", {"table"}, {"must be an array, got an object"}},
	{"\"table\":[{\"hours_left\":24,\"percent\":20},{\"hours_left\":8,\"percent\":40},"
	 "{\"hours_left\":2,\"percent\":60}]",
	 "\"table\":[]",
	 {"table"},
	 {"must have 1..16 rows, got none"}},
	{"{\"hours_left\":24",
	 "7,{\"hours_left\":24",
	 {"table[0]"},
	 {"must be an object, got a number"}},
	{"\"hours_left\":24",
	 "\"hours_left\":0",
	 {"table[0].hours_left"},
	 {"must be 1..720, got 0"}},
	{"\"hours_left\":24",
	 "\"hours_left\":721",
	 {"table[0].hours_left"},
	 {"must be 1..720, got 721"}},
	{"\"hours_left\":24",
	 "\"hours_left\":1.5",
	 {"table[0].hours_left"},
	 {"must be an integer, got 1.5"}},
	{"\"percent\":20", "\"percent\":0", {"table[0].percent"}, {"must be 1..99, got 0"}},
	{"\"percent\":40", "\"percent\":100", {"table[1].percent"}, {"must be 1..99, got 100"}},
	{"\"hours_left\":8",
	 "\"hours_left\":24",
	 {"table[1].hours_left"},
	 {"must be below table[0].hours_left (24)"}},
	{"\"percent\":60",
	 "\"percent\":40",
	 {"table[2].percent"},
	 {"must be above table[1].percent (40)"}},
	{"\"percent\":60",
	 "\"percent\":50,\"percent\":70",
	 {"table[2].percent"},
	 {"duplicate key"}},
	{",\"percent\":40", "", {"table[1].percent"}, {"missing field"}},
	{"\"lots\":[", "\"lots\":\"L1\",\"l\":[", {"lots"}, {"must be an array, got a string"}},
	{"{\"lot\":\"L1\"", "null,{\"lot\":\"L1\"", {"lots[0]"}, {"must be an object, got null"}},
	{"\"L2\"", "\"L1\"", {"lots[1].lot"}, {"duplicate lot L1, also at lots[0]"}},
	{"\"L2\"", "\"L/2\"", {"lots[1].lot"}, {"must contain only [A-Za-z0-9._-], got \"L/2\""}},
	{"\"L2\"", "\"\"", {"lots[1].lot"}, {"must not be empty"}},
	{"\"2026-06-10T20:00:00.000Z\"",
	 "\"2026-06-10 20:00\"",
	 {"lots[0].expires_at"},
	 {"must be an RFC 3339 timestamp"}},
	{"\"quantity\":40",
	 "\"quantity\":0",
	 {"lots[0].quantity"},
	 {"must be 1..1000000000, got 0"}},
	{"\"quantity\":40", "\"quantity\":-3", {"lots[0].quantity"}, {"got -3"}},
	{",\"quantity\":40", "", {"lots[0].quantity"}, {"missing field"}},
	{"\"lot\":\"L1\",", "", {"lots[0].lot"}, {"missing field"}},
	{"\"sku\":\"6901234567892\",",
	 "\"sku\":\"6901234567892\",\"sku\":\"x y\",",
	 {"sku"},
	 {"duplicate key"}},
	{"\"floor\":390,", "", {"floor"}, {"missing field"}},
	/* Several at once, in document order; the missing fields after the object's errors. */
	{"\"floor\":390,\"max_changes_per_day\":3,",
	 "\"floor\":-5,",
	 {"floor", "max_changes_per_day"},
	 {"got -5", "missing field"}},
	{"\"hours_left\":8,\"percent\":40",
	 "\"hours_left\":8.0,\"percent\":0,\"x\":{}",
	 {"table[1].hours_left", "table[1].percent"},
	 {"got 8.0", "got 0"}},
	/* A row in error is not compared with the next one. */
	{"\"hours_left\":8,\"percent\":40",
	 "\"hours_left\":999,\"percent\":10",
	 {"table[1].hours_left", "table[1].percent"},
	 {"must be 1..720, got 999", "must be above table[0].percent (20)"}},
	/* Syntax errors: one error at "", nothing else checked. */
	{"1290", "01290", {""}, {"invalid JSON at byte"}},
	{"1290", "NaN", {""}, {"invalid JSON at byte"}},
	{"\"c-1\"", "\"c-\xff\"", {""}, {"invalid UTF-8 at byte"}},
	{"}]}", "}],}", {""}, {"invalid JSON at byte"}},
};

static void test_parse_errors(void **state)
{
	struct markdown_cfg c;

	for (size_t i = 0; i < ARRAY_SIZE(bad_cases); i++) {
		const struct bad_case *b = &bad_cases[i];
		const char *s = replace(b->from, b->to);
		size_t n = 0;

		print_message("case %zu: %s -> %s\n", i, b->from, b->to);
		assert_int_equal(parse(s, &c), -EINVAL);
		while (n < 3 && b->at[n])
			n++;
		assert_int_equal(errs.total, n);
		for (size_t k = 0; k < n; k++) {
			assert_string_equal(errs.e[k].at, b->at[k]);
			if (!strstr(errs.e[k].error, b->msg[k]))
				fail_msg("case %zu error %zu: \"%s\" lacks \"%s\"", i, k,
					 errs.e[k].error, b->msg[k]);
		}
		/* The id is kept for the ack when it was valid. */
		if (strcmp(b->at[0], "id") && b->at[0][0])
			assert_string_equal(c.id, "c-1");
		else
			assert_string_equal(c.id, "");
		assert_int_equal(c.n_lots, 0);
		assert_int_equal(c.regular, 0);
	}
}

static void test_parse_limits(void **state)
{
	static char buf[MARKDOWN_CMD_MAX + 64];
	struct markdown_cfg c;
	size_t o;

	/* Not an object; empty; every field missing, in the documented order. */
	assert_int_equal(parse("[]", &c), -EINVAL);
	assert_int_equal(errs.total, 1);
	assert_string_equal(errs.e[0].error, "must be a JSON object, got an array");
	assert_int_equal(markdown_cmd_parse(NULL, 0, &c, &errs), -EINVAL);
	assert_string_equal(errs.e[0].at, "");
	assert_int_equal(parse("{}", &c), -EINVAL);
	assert_int_equal(errs.total, 9);
	assert_string_equal(errs.e[0].at, "id");
	assert_string_equal(errs.e[1].at, "issued_at");
	assert_string_equal(errs.e[2].at, "action");
	assert_string_equal(errs.e[3].at, "sku");
	assert_string_equal(errs.e[6].at, "max_changes_per_day");
	assert_string_equal(errs.e[8].at, "lots");
	assert_int_equal(markdown_cmd_parse("{}", 2, NULL, &errs), -EINVAL);
	assert_int_equal(markdown_cmd_parse("{}", 2, &c, NULL), -EINVAL);

	/* 17 bad rows before the 3 good ones: one error, no row looked at. */
	{
		const char *p = strstr(VALID, "\"table\":[") + 9;
		char rows[1024] = "";
		size_t ro = 0;

		for (int i = 0; i < 17; i++)
			ro += (size_t)snprintf(rows + ro, sizeof(rows) - ro, "{\"x\":%d},", i);
		snprintf(buf, sizeof(buf), "%.*s%s%s", (int)(p - VALID), VALID, rows, p);
	}
	assert_int_equal(parse(buf, &c), -EINVAL);
	assert_int_equal(errs.total, 1);
	assert_string_equal(errs.e[0].at, "table");
	assert_string_equal(errs.e[0].error, "too many rows: 20 > 16");

	/* 65 lots: one error. 64 lots with distinct ids: fine. */
	for (int n = 64; n <= 65; n++) {
		o = (size_t)snprintf(buf, sizeof(buf), "%.*s",
				     (int)(strstr(VALID, "\"lots\"") - VALID), VALID);
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "\"lots\":[");
		for (int i = 0; i < n; i++)
			o += (size_t)snprintf(buf + o, sizeof(buf) - o,
					      "%s{\"lot\":\"L%d\",\"expires_at\":"
					      "\"2026-06-10T20:00:00Z\",\"quantity\":%d}",
					      i ? "," : "", i, i + 1);
		snprintf(buf + o, sizeof(buf) - o, "]}");
		if (n == 64) {
			assert_int_equal(parse(buf, &c), 0);
			assert_int_equal(c.n_lots, 64);
			assert_string_equal(c.lots[63].id, "L63");
			assert_int_equal(c.lots[63].quantity, 64);
		} else {
			assert_int_equal(parse(buf, &c), -EINVAL);
			assert_int_equal(errs.total, 1);
			assert_string_equal(errs.e[0].at, "lots");
			assert_string_equal(errs.e[0].error, "too many lots: 65 > 64");
		}
	}

	/* Nesting past the limit inside an unknown key. */
	o = (size_t)snprintf(buf, sizeof(buf), "{\"x\":");
	for (int i = 0; i < 40; i++)
		buf[o++] = '[';
	for (int i = 0; i < 40; i++)
		buf[o++] = ']';
	snprintf(buf + o, sizeof(buf) - o, "%s", VALID + 1);
	assert_int_equal(parse(buf, &c), -EINVAL);
	assert_int_equal(errs.total, 1);
	assert_non_null(strstr(errs.e[0].error, "nesting deeper than 32 levels"));

	/* Over the size limit: refused unread. */
	memset(buf, ' ', sizeof(buf));
	memcpy(buf, VALID, strlen(VALID));
	assert_int_equal(markdown_cmd_parse(buf, MARKDOWN_CMD_MAX, &c, &errs), 0);
	assert_int_equal(markdown_cmd_parse(buf, MARKDOWN_CMD_MAX + 1, &c, &errs), -EMSGSIZE);
	assert_int_equal(errs.total, 1);
	assert_string_equal(errs.e[0].at, "");
	assert_string_equal(c.id, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lot_steps),
		cmocka_unit_test(test_rounding),
		cmocka_unit_test(test_floor),
		cmocka_unit_test(test_daily_limit),
		cmocka_unit_test(test_two_lots),
		cmocka_unit_test(test_sold_out_early),
		cmocka_unit_test(test_never_raise_before_lot_end),
		cmocka_unit_test(test_overdue_not_replayed),
		cmocka_unit_test(test_dst_spring),
		cmocka_unit_test(test_dst_autumn),
		cmocka_unit_test(test_parse_valid),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_parse_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
