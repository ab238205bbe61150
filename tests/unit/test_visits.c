/*
 * test_visits: sessionization of pseudonymous sightings (visits.h): the
 * silence timeout to the millisecond, single and weak sightings, the class
 * boundaries, staff by dwell and by daily share, a visit across midnight
 * (one visit with the grace key, two without), repeat visits and their
 * window, randomized MACs, a full table, late sightings, the zone of the
 * strongest sighting, and a randomized run against a naive reference model
 * with a small table.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "pseudo.h"
#include "util.h"
#include "visits.h"

#define MIN 60000LL
#define HOUR 3600000LL
#define DAY 86400000LL
#define D0 1772409600000LL /* 2026-03-02T00:00:00Z */
#define T0 (D0 + 10 * HOUR)

#define MAXV 4096

struct got {
	size_t n;
	struct visit v[MAXV];
};

static struct got got;

static void on_visit(void *arg, const struct visit *v)
{
	struct got *g = arg;

	assert_true(g->n < MAXV);
	g->v[g->n++] = *v;
}

static struct visits *make(size_t max_sessions)
{
	struct visits_conf c;
	struct visits *v;

	visits_conf_defaults(&c);
	if (max_sessions)
		c.max_sessions = max_sessions;
	v = visits_new(&c);
	assert_non_null(v);
	memset(&got, 0, sizeof(got));
	return v;
}

static void see_full(struct visits *v, uint64_t day, uint64_t rep, int64_t t, int rssi,
		     uint16_t zone, bool randomized)
{
	struct visits_sighting s = {
		.ids = {.day = day, .rep = rep},
		.t_ms = t,
		.rssi = rssi,
		.randomized = randomized,
		.zone = zone,
	};

	visits_sighting(v, &s);
}

static void see(struct visits *v, uint64_t day, int64_t t, int rssi)
{
	see_full(v, day, day ^ 0xabcdef, t, rssi, 0, false);
}

static void advance(struct visits *v, int64_t now)
{
	visits_advance(v, now, on_visit, &got);
}

static void test_timeout_boundary(void **state)
{
	struct visits *v = make(0);
	struct visits_stats st;

	see(v, 1, T0, -50);
	see(v, 1, T0 + 5 * MIN, -50);
	advance(v, T0 + 20 * MIN - 1); /* last + silence - 1 ms: still open */
	assert_int_equal(got.n, 0);
	visits_get_stats(v, &st);
	assert_int_equal(st.open, 1);
	assert_int_equal(st.open_inside, 1);
	advance(v, T0 + 20 * MIN); /* last + silence: closed */
	assert_int_equal(got.n, 1);
	assert_int_equal(got.v[0].pseudonym, 1);
	assert_int_equal(got.v[0].first_ms, T0);
	assert_int_equal(got.v[0].last_ms, T0 + 5 * MIN);
	assert_int_equal(got.v[0].sightings, 2);
	assert_int_equal(got.v[0].cls, VISIT_VISITOR);
	assert_false(got.v[0].repeat);
	visits_get_stats(v, &st);
	assert_int_equal(st.open, 0);
	assert_int_equal(st.open_inside, 0);
	assert_int_equal(st.sightings, 2);
	assert_int_equal(st.closed[VISIT_VISITOR], 1);
	/* A sighting right at the boundary after a close opens a new session. */
	see(v, 1, T0 + 20 * MIN, -50);
	visits_get_stats(v, &st);
	assert_int_equal(st.open, 1);
	visits_free(v);
}

static void test_single_sighting(void **state)
{
	struct visits *v = make(0);

	see(v, 7, T0, -40);
	advance(v, T0 + 15 * MIN);
	assert_int_equal(got.n, 1);
	assert_int_equal(got.v[0].cls, VISIT_PASSER);
	assert_int_equal(got.v[0].last_ms - got.v[0].first_ms, 0);
	assert_int_equal(got.v[0].sightings, 1);
	assert_int_equal(got.v[0].max_rssi, -40);
	visits_free(v);
}

static void test_below_threshold_is_passer(void **state)
{
	struct visits *v = make(0);

	/* 30 minutes, but never at -70 dBm or better: walking past outside. */
	for (int i = 0; i <= 6; i++)
		see(v, 3, T0 + i * 5 * MIN, -71);
	/* One at exactly the threshold counts as inside. */
	see(v, 4, T0, -71);
	see(v, 4, T0 + 5 * MIN, -70);
	advance(v, T0 + 2 * HOUR);
	/* Closing order follows arrival: 3 was fed first. */
	assert_int_equal(got.n, 2);
	assert_int_equal(got.v[0].pseudonym, 3);
	assert_int_equal(got.v[0].cls, VISIT_PASSER);
	assert_int_equal(got.v[1].pseudonym, 4);
	assert_int_equal(got.v[1].cls, VISIT_VISITOR);
	visits_free(v);
}

static void test_class_boundaries(void **state)
{
	const struct {
		int64_t dwell;
		enum visit_class cls;
	} cases[] = {
		{2 * MIN - 1, VISIT_PASSER},   {2 * MIN, VISIT_VISITOR},
		{10 * MIN, VISIT_VISITOR},     {10 * MIN + 1, VISIT_ENGAGED},
		{4 * HOUR - 1, VISIT_ENGAGED}, {4 * HOUR, VISIT_STAFF},
	};
	static const char *const names[] = {"passer_by", "visitor", "engaged", "staff"};
	struct visits *v = make(0);

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		uint64_t id = 100 + i;
		int64_t t;

		/* Sightings every 10 minutes keep the session open. */
		for (t = T0; t < T0 + cases[i].dwell; t += 10 * MIN)
			see(v, id, t, -50);
		see(v, id, T0 + cases[i].dwell, -50);
	}
	advance(v, T0 + 5 * HOUR);
	assert_int_equal(got.n, ARRAY_SIZE(cases));
	for (size_t i = 0; i < got.n; i++) {
		size_t c = got.v[i].pseudonym - 100;

		assert_true(c < ARRAY_SIZE(cases));
		assert_int_equal(got.v[i].last_ms - got.v[i].first_ms, cases[c].dwell);
		assert_int_equal(got.v[i].cls, cases[c].cls);
		assert_string_equal(visit_class_name(got.v[i].cls), names[cases[c].cls]);
	}
	visits_free(v);
}

/* A session from @a to @b with sightings every 10 minutes. */
static void session(struct visits *v, uint64_t id, int64_t a, int64_t b)
{
	for (int64_t t = a; t < b; t += 10 * MIN)
		see(v, id, t, -50);
	see(v, id, b, -50);
}

static void test_staff_by_daily_share(void **state)
{
	struct visits *v = make(0);
	uint64_t counts[VISIT_CLASS_N];

	/* Opening hours 08-22 (14 h): 7 h of presence make a pseudonym staff. */
	advance(v, D0 + 7 * HOUR);
	session(v, 9, D0 + 8 * HOUR, D0 + 11 * HOUR);
	advance(v, D0 + 11 * HOUR + 20 * MIN);
	session(v, 9, D0 + 11 * HOUR + 30 * MIN, D0 + 14 * HOUR + 30 * MIN);
	advance(v, D0 + 14 * HOUR + 50 * MIN);
	/* The third session, still open, takes the day over 7 h: staff. */
	session(v, 9, D0 + 15 * HOUR, D0 + 17 * HOUR);
	visits_open_classes(v, D0 + 17 * HOUR, counts);
	assert_int_equal(counts[VISIT_ENGAGED], 0);
	session(v, 9, D0 + 17 * HOUR, D0 + 18 * HOUR);
	visits_open_classes(v, D0 + 18 * HOUR, counts);
	assert_int_equal(counts[VISIT_STAFF], 1);
	advance(v, D0 + 18 * HOUR + 20 * MIN);
	/* Now over the share: even a short session is staff. */
	session(v, 9, D0 + 19 * HOUR, D0 + 19 * HOUR + 5 * MIN);
	advance(v, D0 + 19 * HOUR + 30 * MIN);
	assert_int_equal(got.n, 4);
	assert_int_equal(got.v[0].cls, VISIT_ENGAGED); /* 3 h: not known yet */
	assert_int_equal(got.v[1].cls, VISIT_ENGAGED); /* 6 h in total */
	assert_int_equal(got.v[2].cls, VISIT_STAFF); /* 9 h */
	assert_int_equal(got.v[3].cls, VISIT_STAFF); /* 5 min, but staff */
	/* A customer with two visits the same day is not staff. */
	session(v, 10, D0 + 20 * HOUR, D0 + 20 * HOUR + 30 * MIN);
	advance(v, D0 + 21 * HOUR);
	/* The next local day starts a new presence count. */
	advance(v, D0 + DAY + 7 * HOUR);
	session(v, 9, D0 + DAY + 8 * HOUR, D0 + DAY + 8 * HOUR + 5 * MIN);
	advance(v, D0 + DAY + 9 * HOUR);
	assert_int_equal(got.n, 6);
	assert_int_equal(got.v[4].cls, VISIT_ENGAGED);
	assert_int_equal(got.v[5].cls, VISIT_VISITOR);
	visits_free(v);
}

static void test_staff_by_dwell_fixture(void **state)
{
	struct visits *v = make(0);
	uint64_t counts[VISIT_CLASS_N];

	/* A printer in the back office, weak but always there. */
	session(v, 11, T0, T0 + 5 * HOUR);
	visits_open_classes(v, T0 + 5 * HOUR, counts);
	assert_int_equal(counts[VISIT_STAFF], 1);
	visits_flush(v, on_visit, &got);
	assert_int_equal(got.n, 1);
	assert_int_equal(got.v[0].cls, VISIT_STAFF);
	assert_false(got.v[0].repeat);
	visits_free(v);
}

static const uint8_t phone[6] = {0x3c, 0x22, 0xfb, 0x10, 0x20, 0x30};

static void see_ids(struct visits *v, const struct pseudo_ids *ids, int64_t t)
{
	struct visits_sighting s = {.ids = *ids, .t_ms = t, .rssi = -50};

	visits_sighting(v, &s);
}

static void test_midnight_one_visit_with_grace(void **state)
{
	struct pseudo_keys *k;
	struct pseudo_ids a, b;
	struct visits *v = make(0);
	struct visits_stats st;

	assert_int_equal(pseudo_new_seeded(D0 + 23 * HOUR + 50 * MIN, 42, &k), 0);
	pseudo_ids_of(k, phone, &a);
	see_ids(v, &a, D0 + 23 * HOUR + 50 * MIN);
	see_ids(v, &a, D0 + 23 * HOUR + 55 * MIN);
	advance(v, D0 + DAY);
	assert_true(pseudo_rotate(k, D0 + DAY + 1000));
	pseudo_ids_of(k, phone, &b);
	assert_true(b.day != a.day);
	assert_true(b.has_day_prev);
	assert_true(b.day_prev == a.day);
	see_ids(v, &b, D0 + DAY + 5 * MIN);
	see_ids(v, &b, D0 + DAY + 10 * MIN);
	advance(v, D0 + DAY + 30 * MIN);
	assert_int_equal(got.n, 1);
	assert_true(got.v[0].pseudonym == b.day);
	assert_int_equal(got.v[0].first_ms, D0 + 23 * HOUR + 50 * MIN);
	assert_int_equal(got.v[0].last_ms, D0 + DAY + 10 * MIN);
	assert_int_equal(got.v[0].cls, VISIT_ENGAGED);
	assert_int_equal(got.v[0].sightings, 4);
	visits_get_stats(v, &st);
	assert_int_equal(st.midnight_joins, 1);
	pseudo_free(k);
	visits_free(v);
}

static void test_midnight_split_without_grace(void **state)
{
	struct pseudo_keys *k;
	struct pseudo_ids a, b;
	struct visits *v = make(0);
	struct visits_stats st;

	assert_int_equal(pseudo_new_seeded(D0 + 23 * HOUR + 50 * MIN, 42, &k), 0);
	pseudo_ids_of(k, phone, &a);
	see_ids(v, &a, D0 + 23 * HOUR + 50 * MIN);
	see_ids(v, &a, D0 + 23 * HOUR + 55 * MIN);
	assert_true(pseudo_rotate(k, D0 + DAY + 1000));
	pseudo_drop_prev_day(k); /* the grace is over */
	pseudo_ids_of(k, phone, &b);
	assert_false(b.has_day_prev);
	assert_true(b.day != a.day);
	see_ids(v, &b, D0 + DAY + 5 * MIN);
	see_ids(v, &b, D0 + DAY + 10 * MIN);
	advance(v, D0 + DAY + 30 * MIN);
	assert_int_equal(got.n, 2);
	assert_true(got.v[0].pseudonym == a.day);
	assert_int_equal(got.v[0].cls, VISIT_VISITOR);
	assert_true(got.v[1].pseudonym == b.day);
	assert_int_equal(got.v[1].cls, VISIT_VISITOR);
	/* The same repeat key, but ten minutes apart: a split, not a repeat. */
	assert_false(got.v[1].repeat);
	visits_get_stats(v, &st);
	assert_int_equal(st.midnight_joins, 0);
	assert_int_equal(st.repeats, 0);
	pseudo_free(k);
	visits_free(v);
}

/* A 5-minute visit by day key @day, repeat key @rep (and @rep_prev) at @t. */
static void visit_at(struct visits *v, uint64_t day, uint64_t rep, const uint64_t *rep_prev,
		     int64_t t, bool randomized)
{
	struct visits_sighting s = {
		.ids = {.day = day, .rep = rep},
		.rssi = -50,
		.randomized = randomized,
	};

	if (rep_prev) {
		s.ids.rep_prev = *rep_prev;
		s.ids.has_rep_prev = true;
	}
	s.t_ms = t;
	visits_sighting(v, &s);
	s.t_ms = t + 5 * MIN;
	visits_sighting(v, &s);
	advance(v, t + 30 * MIN);
}

static void test_repeat_window(void **state)
{
	struct visits *v = make(0);
	struct visits_stats st;
	const uint64_t r = 0x5151;
	int64_t end1, end2;

	visit_at(v, 1, r, NULL, T0, false);
	end1 = T0 + 5 * MIN;
	/* Same day, later: a repeat (the silence separated them). */
	visit_at(v, 2, r, NULL, T0 + 2 * HOUR, false);
	end2 = T0 + 2 * HOUR + 5 * MIN;
	/* Exactly 30 days after the last visit's end: still a repeat. */
	visit_at(v, 3, r, NULL, end2 + 30 * DAY, false);
	/* 30 days and 1 ms after: not. */
	visit_at(v, 4, r, NULL, end2 + 30 * DAY + 5 * MIN + 30 * DAY + 1, false);
	assert_int_equal(got.n, 4);
	assert_false(got.v[0].repeat);
	assert_true(got.v[1].repeat);
	assert_true(got.v[2].repeat);
	assert_false(got.v[3].repeat);
	visits_get_stats(v, &st);
	assert_int_equal(st.repeats, 2);
	assert_int_equal(st.repeat_entries, 1);
	(void)end1;
	visits_free(v);
}

static void test_repeat_across_epoch_and_exclusions(void **state)
{
	struct visits *v = make(0);
	struct visits_stats st;
	const uint64_t r_old = 0x77, r_new = 0x78;

	visit_at(v, 1, r_old, NULL, T0, false);
	/* The repeat key rotated: found under rep_prev, moved to rep. */
	visit_at(v, 2, r_new, &r_old, T0 + 3 * DAY, false);
	assert_true(got.v[1].repeat);
	visits_get_stats(v, &st);
	assert_int_equal(st.repeat_entries, 1);
	visit_at(v, 3, r_new, NULL, T0 + 4 * DAY, false);
	assert_true(got.v[2].repeat);
	/* Randomized MACs are never repeats and never enter the table. */
	visit_at(v, 4, 0x99, NULL, T0 + 5 * DAY, true);
	visit_at(v, 5, 0x99, NULL, T0 + 6 * DAY, true);
	assert_true(got.v[3].randomized);
	assert_false(got.v[3].repeat);
	assert_false(got.v[4].repeat);
	/* Passers-by neither. */
	see_full(v, 6, 0x55, T0 + 7 * DAY, -80, 0, false);
	advance(v, T0 + 7 * DAY + HOUR);
	see_full(v, 7, 0x55, T0 + 8 * DAY, -50, 0, false);
	see_full(v, 7, 0x55, T0 + 8 * DAY + 5 * MIN, -50, 0, false);
	advance(v, T0 + 8 * DAY + HOUR);
	assert_int_equal(got.n, 7);
	assert_int_equal(got.v[5].cls, VISIT_PASSER);
	assert_false(got.v[6].repeat);
	visits_get_stats(v, &st);
	assert_int_equal(st.repeat_entries, 2);
	/* Entries older than the window are pruned as the clock moves on. */
	advance(v, T0 + 60 * DAY);
	visits_get_stats(v, &st);
	assert_int_equal(st.repeat_entries, 0);
	visits_free(v);
}

static void test_repeat_table_bounded(void **state)
{
	struct visits_conf c;
	struct visits *v;
	struct visits_stats st;

	visits_conf_defaults(&c);
	c.max_repeat = 4;
	v = visits_new(&c);
	assert_non_null(v);
	memset(&got, 0, sizeof(got));
	for (uint64_t i = 0; i < 10; i++)
		visit_at(v, i, 1000 + i, NULL, T0 + (int64_t)i * HOUR, false);
	visits_get_stats(v, &st);
	assert_int_equal(st.repeat_entries, 4);
	/* The oldest were forgotten, the newest are still known. */
	visit_at(v, 20, 1000, NULL, T0 + DAY, false);
	visit_at(v, 21, 1009, NULL, T0 + DAY + HOUR, false);
	assert_false(got.v[10].repeat);
	assert_true(got.v[11].repeat);
	visits_free(v);
}

static void test_table_full(void **state)
{
	struct visits *v = make(3);
	struct visits_stats st;

	/* Three real visits (two sightings each) fill the table. */
	for (uint64_t k = 1; k <= 3; k++) {
		see(v, k, T0, -50);
		see(v, k, T0 + 500, -50);
	}
	see(v, 4, T0 + 1000, -50); /* dropped: nothing to evict */
	see(v, 1, T0 + 2000, -50); /* known: fine */
	visits_get_stats(v, &st);
	assert_int_equal(st.open, 3);
	assert_int_equal(st.table_full, 1);
	assert_int_equal(st.evicted, 0);
	assert_int_equal(st.sightings, 7);
	advance(v, T0 + 500 + 15 * MIN);
	assert_int_equal(got.n, 2); /* 2 and 3; 1 was seen later */
	see(v, 4, T0 + 15 * MIN + 500, -50);
	visits_get_stats(v, &st);
	assert_int_equal(st.open, 2);
	assert_int_equal(st.table_full, 1);
	visits_free(v);
}

/* A flood of lone random MACs cannot lock a new real visitor out. */
static void test_table_full_evicts_lone_sightings(void **state)
{
	struct visits *v = make(3);
	struct visits_stats st;

	see(v, 1, T0, -50);
	see(v, 1, T0 + 100, -50); /* a real visit: two sightings, silent the longest */
	see(v, 2, T0 + 200, -80); /* flood: lone sightings */
	see(v, 3, T0 + 300, -80);
	see(v, 4, T0 + 400, -80); /* evicts 2: the oldest lone one (1 is kept) */
	see(v, 5, T0 + 500, -50); /* evicts 3 */
	see(v, 6, T0 + 600, -50); /* evicts 4 */
	visits_get_stats(v, &st);
	assert_int_equal(st.evicted, 3);
	assert_int_equal(st.table_full, 0);
	assert_int_equal(st.open, 3);
	visits_flush(v, on_visit, &got);
	assert_int_equal(got.n, 3); /* 1, 5 and 6; nothing is reported for 2, 3 and 4 */
	for (size_t i = 0; i < got.n; i++)
		assert_true(got.v[i].pseudonym == 1 || got.v[i].pseudonym == 5 ||
			    got.v[i].pseudonym == 6);
	visits_free(v);
}

static void test_late_sightings(void **state)
{
	struct visits *v = make(0);
	struct visits_stats st;

	see(v, 1, T0 + 5 * MIN, -60);
	see(v, 1, T0, -55); /* late: widens first */
	see(v, 1, T0 + 3 * MIN, -50); /* late: inside the span */
	see(v, 1, T0 + 10 * MIN, -60);
	visits_get_stats(v, &st);
	assert_int_equal(st.late, 2);
	/* A late sighting does not hold the session open. */
	advance(v, T0 + 25 * MIN);
	assert_int_equal(got.n, 1);
	assert_int_equal(got.v[0].first_ms, T0);
	assert_int_equal(got.v[0].last_ms, T0 + 10 * MIN);
	assert_int_equal(got.v[0].sightings, 4);
	assert_int_equal(got.v[0].max_rssi, -50);
	assert_int_equal(got.v[0].cls, VISIT_VISITOR);
	visits_free(v);
}

static void test_zone_of_strongest(void **state)
{
	struct visits *v = make(0);

	see_full(v, 1, 1, T0, -60, 1, false);
	see_full(v, 1, 1, T0 + MIN, -40, 2, false);
	see_full(v, 1, 1, T0 + 2 * MIN, -55, 3, false);
	see_full(v, 1, 1, T0 + 3 * MIN, -40, 4, false); /* a tie keeps the first */
	visits_flush(v, on_visit, &got);
	assert_int_equal(got.n, 1);
	assert_int_equal(got.v[0].zone, 2);
	assert_int_equal(got.v[0].max_rssi, -40);
	visits_free(v);
}

static void test_open_classes(void **state)
{
	struct visits *v = make(0);
	uint64_t counts[VISIT_CLASS_N];

	see(v, 1, T0, -80); /* passer: outside */
	see(v, 2, T0, -50);
	see(v, 2, T0 + 5 * MIN, -50); /* visitor */
	see(v, 3, T0, -50);
	see(v, 3, T0 + 9 * MIN, -50);
	see(v, 3, T0 + 11 * MIN, -50); /* engaged */
	visits_open_classes(v, T0 + 11 * MIN, counts);
	assert_int_equal(counts[VISIT_PASSER], 1);
	assert_int_equal(counts[VISIT_VISITOR], 1);
	assert_int_equal(counts[VISIT_ENGAGED], 1);
	assert_int_equal(counts[VISIT_STAFF], 0);
	visits_flush(v, on_visit, &got);
	assert_int_equal(got.n, 3);
	visits_open_classes(v, T0 + 11 * MIN, counts);
	assert_int_equal(counts[VISIT_VISITOR], 0);
	visits_free(v);
}

/*
 * A naive model (linear search, same rules) against the real thing: a small
 * table, many pseudonyms, random gaps. Every visit must match and the table
 * must never hold more than max_sessions.
 */
struct ref_s {
	uint64_t key;
	int64_t first, last;
	uint32_t n;
	uint64_t order; /* when it was last moved to the LRU tail */
};

static int cmp_visit(const void *a, const void *b)
{
	const struct visit *x = a, *y = b;

	if (x->pseudonym != y->pseudonym)
		return x->pseudonym < y->pseudonym ? -1 : 1;
	return x->first_ms < y->first_ms ? -1 : x->first_ms > y->first_ms;
}

static void test_against_reference(void **state)
{
	enum { MAXS = 16 };
	struct visits *v = make(MAXS);
	struct ref_s open[MAXS];
	static struct visit ref[MAXV];
	size_t n_open = 0, n_ref = 0;
	uint64_t dropped = 0, evicted = 0, sightings = 0, order = 0;
	struct visits_stats st;
	int64_t t = T0;

	srand(7);
	for (int i = 0; i < 6000; i++) {
		uint64_t key = (uint64_t)(rand() % 60) * 0x9e3779b97f4a7c15ULL;
		size_t j;

		t += rand() % 40000;
		if (i % 8 == 0) {
			advance(v, t);
			for (j = 0; j < n_open;) {
				if (open[j].last + 15 * MIN <= t) {
					assert_true(n_ref < MAXV);
					ref[n_ref++] = (struct visit){.pseudonym = open[j].key,
								      .first_ms = open[j].first,
								      .last_ms = open[j].last,
								      .sightings = open[j].n};
					open[j] = open[--n_open];
				} else {
					j++;
				}
			}
		}
		see(v, key, t, -50);
		for (j = 0; j < n_open && open[j].key != key; j++)
			;
		if (j < n_open) {
			open[j].last = t;
			open[j].n++;
			open[j].order = ++order;
			sightings++;
		} else {
			if (n_open == MAXS) {
				/* Full: the lone sighting silent the longest goes (the real
				 * code looks at 16 sessions from the LRU head: all here). */
				size_t h = MAXS;

				for (size_t k = 0; k < n_open; k++) {
					if (open[k].n == 1 &&
					    (h == MAXS || open[k].order < open[h].order))
						h = k;
				}
				if (h < MAXS) {
					open[h] = open[--n_open];
					evicted++;
				}
			}
			if (n_open == MAXS) {
				dropped++;
			} else {
				open[n_open++] = (struct ref_s){key, t, t, 1, ++order};
				sightings++;
			}
		}
		visits_get_stats(v, &st);
		assert_true(st.open <= MAXS);
		assert_int_equal(st.open, n_open);
	}
	visits_flush(v, on_visit, &got);
	for (size_t j = 0; j < n_open; j++)
		ref[n_ref++] = (struct visit){.pseudonym = open[j].key,
					      .first_ms = open[j].first,
					      .last_ms = open[j].last,
					      .sightings = open[j].n};
	visits_get_stats(v, &st);
	assert_int_equal(st.table_full, dropped);
	assert_int_equal(st.evicted, evicted);
	assert_int_equal(st.sightings, sightings);
	assert_true(dropped + evicted > 0);
	assert_true(evicted > 0);
	assert_int_equal(got.n, n_ref);
	qsort(got.v, got.n, sizeof(got.v[0]), cmp_visit);
	qsort(ref, n_ref, sizeof(ref[0]), cmp_visit);
	for (size_t j = 0; j < n_ref; j++) {
		assert_true(got.v[j].pseudonym == ref[j].pseudonym);
		assert_int_equal(got.v[j].first_ms, ref[j].first_ms);
		assert_int_equal(got.v[j].last_ms, ref[j].last_ms);
		assert_int_equal(got.v[j].sightings, ref[j].sightings);
	}
	visits_free(v);
}

static void test_bad_conf(void **state)
{
	struct visits_conf c;

	visits_conf_defaults(&c);
	c.max_sessions = 0;
	assert_null(visits_new(&c));
	assert_null(visits_new(NULL));
	visits_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_timeout_boundary),
		cmocka_unit_test(test_single_sighting),
		cmocka_unit_test(test_below_threshold_is_passer),
		cmocka_unit_test(test_class_boundaries),
		cmocka_unit_test(test_staff_by_daily_share),
		cmocka_unit_test(test_staff_by_dwell_fixture),
		cmocka_unit_test(test_midnight_one_visit_with_grace),
		cmocka_unit_test(test_midnight_split_without_grace),
		cmocka_unit_test(test_repeat_window),
		cmocka_unit_test(test_repeat_across_epoch_and_exclusions),
		cmocka_unit_test(test_repeat_table_bounded),
		cmocka_unit_test(test_table_full),
		cmocka_unit_test(test_table_full_evicts_lone_sightings),
		cmocka_unit_test(test_late_sightings),
		cmocka_unit_test(test_zone_of_strongest),
		cmocka_unit_test(test_open_classes),
		cmocka_unit_test(test_against_reference),
		cmocka_unit_test(test_bad_conf),
	};

	setenv("TZ", "UTC", 1);
	tzset();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
