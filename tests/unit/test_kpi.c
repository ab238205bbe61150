/*
 * test_kpi: the KPI aggregator (kpi.h): capture rate, conversion, repeat
 * share, no value on a zero denominator, average and median dwell, buckets
 * final only after the hold, empty intervals emitted, late input, a clock
 * jump, local days in Europe/Berlin including the 25-hour DST day, running
 * figures, and the save/load blob (round trip, corruption rejected).
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "kpi.h"
#include "util.h"

#define SEC 1000LL
#define MIN 60000LL
#define HOUR 3600000LL
#define DAY 86400000LL
#define D0 1772409600000LL /* 2026-03-02T00:00:00Z */
#define T0 (D0 + 10 * HOUR)
/* 2026-10-25 00:00 in Berlin (CEST, +02:00): a 25-hour day. */
#define BERLIN_DST_DAY 1792879200000LL

#define MAXF 2048

struct got {
	size_t n, n_iv, n_day;
	struct kpi_figures f[MAXF];
};

static struct got got;

static void on_fig(void *arg, const struct kpi_figures *f)
{
	struct got *g = arg;

	assert_true(g->n < MAXF);
	g->f[g->n++] = *f;
	if (f->period == KPI_DAY)
		g->n_day++;
	else
		g->n_iv++;
}

static void set_tz(const char *tz)
{
	setenv("TZ", tz, 1);
	tzset();
}

static struct kpi *make(int64_t now)
{
	struct kpi_conf c;
	struct kpi *k;

	kpi_conf_defaults(&c);
	assert_int_equal(c.interval_ms, 5 * MIN);
	assert_int_equal(c.hold_ms, 16 * MIN);
	k = kpi_new(&c, now);
	assert_non_null(k);
	memset(&got, 0, sizeof(got));
	return k;
}

/* A visit that ended (last sighting) at @at: KPIs file visits by their end. */
static void visit(struct kpi *k, int64_t at, int64_t dwell, enum visit_class cls, bool randomized,
		  bool repeat)
{
	struct visit v = {
		.pseudonym = 1,
		.first_ms = at - dwell,
		.last_ms = at,
		.cls = cls,
		.randomized = randomized,
		.repeat = repeat,
	};

	kpi_visit(k, &v);
}

static const struct kpi_figures *find(enum kpi_period p, int64_t from)
{
	for (size_t i = 0; i < got.n; i++) {
		if (got.f[i].period == p && got.f[i].from_ms == from)
			return &got.f[i];
	}
	return NULL;
}

static void test_ratios(void **state)
{
	struct kpi *k = make(T0);
	const struct kpi_figures *f;
	struct kpi_figures last;

	for (int i = 0; i < 10; i++)
		kpi_pass(k, +1, T0 + i * SEC);
	for (int i = 0; i < 4; i++)
		kpi_pass(k, -1, T0 + i * SEC);
	kpi_pass(k, 0, T0); /* no direction: ignored */
	for (int i = 0; i < 3; i++)
		kpi_receipt(k, T0 + MIN);
	visit(k, T0, 3 * MIN, VISIT_VISITOR, false, false);
	visit(k, T0, 4 * MIN, VISIT_VISITOR, false, true); /* a repeat */
	visit(k, T0, 5 * MIN, VISIT_VISITOR, true, false); /* randomized */
	visit(k, T0, 20 * MIN, VISIT_ENGAGED, false, false);
	for (int i = 0; i < 4; i++)
		visit(k, T0 + i * SEC, 0, VISIT_PASSER, false, false);
	visit(k, T0, 5 * HOUR, VISIT_STAFF, false, false);

	/* Final only once the end plus the hold (16 min) has passed. */
	assert_false(kpi_last(k, KPI_INTERVAL, &last));
	kpi_advance(k, T0 + 5 * MIN + 16 * MIN - 1, on_fig, &got);
	assert_int_equal(got.n, 0);
	kpi_advance(k, T0 + 5 * MIN + 16 * MIN, on_fig, &got);
	assert_int_equal(got.n, 1);
	f = &got.f[0];
	assert_int_equal(f->period, KPI_INTERVAL);
	assert_int_equal(f->from_ms, T0);
	assert_int_equal(f->to_ms, T0 + 5 * MIN);
	assert_int_equal(f->entries, 10);
	assert_int_equal(f->exits, 4);
	assert_int_equal(f->receipts, 3);
	assert_int_equal(f->visitors, 4);
	assert_int_equal(f->engaged, 1);
	assert_int_equal(f->passers_by, 4);
	assert_int_equal(f->staff, 1);
	assert_int_equal(f->randomized, 1);
	assert_int_equal(f->repeat, 1);
	assert_true(f->has_capture);
	assert_float_equal(f->capture_rate, 0.5, 1e-12); /* 4 / (4 + 4) */
	assert_true(f->has_conversion);
	assert_float_equal(f->conversion, 0.3, 1e-12); /* 3 / 10 */
	assert_true(f->has_repeat);
	assert_float_equal(f->repeat_share, 1.0 / 3.0, 1e-12); /* 1 / (4 - 1) */
	assert_true(f->has_dwell);
	assert_float_equal(f->dwell_avg_s, (180 + 240 + 300 + 1200) / 4.0, 1e-9);
	assert_true(kpi_last(k, KPI_INTERVAL, &last));
	assert_int_equal(last.from_ms, T0);
	assert_int_equal(last.entries, 10);
	assert_false(kpi_last(k, KPI_DAY, &last));
	kpi_free(k);
}

static void test_no_value_on_zero(void **state)
{
	struct kpi *k = make(T0);
	const struct kpi_figures *f;

	/* Interval 1: nothing. Interval 2: receipts without entries, only
	 * randomized visitors, staff only. */
	kpi_receipt(k, T0 + 5 * MIN);
	visit(k, T0 + 5 * MIN, MIN, VISIT_STAFF, false, false);
	visit(k, T0 + 6 * MIN, 3 * MIN, VISIT_VISITOR, true, false);
	kpi_advance(k, T0 + 10 * MIN + 16 * MIN, on_fig, &got);
	assert_int_equal(got.n, 2);
	f = &got.f[0];
	assert_false(f->has_capture || f->has_conversion || f->has_dwell || f->has_repeat);
	assert_true(f->capture_rate == 0 && f->conversion == 0 && f->dwell_avg_s == 0 &&
		    f->dwell_median_s == 0 && f->repeat_share == 0);
	f = &got.f[1];
	assert_int_equal(f->receipts, 1);
	assert_false(f->has_conversion);
	assert_true(f->has_capture);
	assert_float_equal(f->capture_rate, 1.0, 1e-12);
	assert_true(f->has_dwell);
	assert_false(f->has_repeat); /* no non-randomized visitor */
	assert_false(isnan(f->conversion) || isinf(f->conversion));
	kpi_free(k);
}

static void test_dwell_median(void **state)
{
	struct kpi *k = make(T0);
	const struct kpi_figures *f;

	/* Odd: 60, 120, 600 s -> median 120 s. */
	visit(k, T0, 60 * SEC, VISIT_VISITOR, false, false);
	visit(k, T0, 600 * SEC, VISIT_ENGAGED, false, false);
	visit(k, T0, 120 * SEC, VISIT_VISITOR, false, false);
	/* Even: 60, 120, 600, 900 s -> median 360 s. */
	visit(k, T0 + 5 * MIN, 900 * SEC, VISIT_ENGAGED, false, false);
	visit(k, T0 + 5 * MIN, 60 * SEC, VISIT_VISITOR, false, false);
	visit(k, T0 + 5 * MIN, 600 * SEC, VISIT_ENGAGED, false, false);
	visit(k, T0 + 5 * MIN, 120 * SEC, VISIT_VISITOR, false, false);
	/* Many equal dwells: the median stays within their 30 s bin. */
	for (int i = 0; i < 101; i++)
		visit(k, T0 + 10 * MIN, 200 * SEC, VISIT_VISITOR, false, false);
	/* Over 6 hours reads as 6 hours (the last bin). */
	visit(k, T0 + 15 * MIN, 7 * HOUR, VISIT_ENGAGED, false, false);
	kpi_advance(k, T0 + 20 * MIN + 16 * MIN, on_fig, &got);
	assert_int_equal(got.n, 4);
	f = &got.f[0];
	assert_float_equal(f->dwell_avg_s, 260.0, 1e-9);
	assert_float_equal(f->dwell_median_s, 120.0, 30.0);
	f = &got.f[1];
	assert_float_equal(f->dwell_avg_s, 420.0, 1e-9);
	assert_float_equal(f->dwell_median_s, 360.0, 30.0);
	f = &got.f[2];
	assert_float_equal(f->dwell_median_s, 200.0, 30.0);
	assert_true(f->dwell_median_s >= 180.0 && f->dwell_median_s < 210.0);
	f = &got.f[3];
	assert_float_equal(f->dwell_avg_s, 7 * 3600.0, 1e-9);
	assert_float_equal(f->dwell_median_s, 6 * 3600.0, 1e-9);
	kpi_free(k);
}

static void test_empty_intervals_emitted(void **state)
{
	struct kpi *k = make(T0 + 2 * MIN); /* the first interval starts at T0 */

	kpi_advance(k, T0 + HOUR, on_fig, &got);
	/* Ends at T0 + 5 .. T0 + 40 min: end + 16 min <= T0 + 60 min. */
	assert_int_equal(got.n, 8);
	for (size_t i = 0; i < got.n; i++) {
		assert_int_equal(got.f[i].period, KPI_INTERVAL);
		assert_int_equal(got.f[i].from_ms, T0 + (int64_t)i * 5 * MIN);
		assert_int_equal(got.f[i].to_ms, T0 + (int64_t)(i + 1) * 5 * MIN);
		assert_int_equal(got.f[i].entries + got.f[i].visitors + got.f[i].late, 0);
	}
	/* Advancing to the same time again hands out nothing twice. */
	kpi_advance(k, T0 + HOUR, on_fig, &got);
	assert_int_equal(got.n, 8);
	/* A clock going backwards hands out nothing either. */
	kpi_advance(k, T0, on_fig, &got);
	assert_int_equal(got.n, 8);
	kpi_free(k);
}

static void test_late_input(void **state)
{
	struct kpi *k = make(T0);
	const struct kpi_figures *f;
	struct kpi_figures cur;

	kpi_advance(k, T0 + HOUR, on_fig, &got); /* T0 .. T0 + 40 min final */
	/* A long visit that began at T0 closes now: its interval is final. */
	visit(k, T0, 50 * MIN, VISIT_ENGAGED, false, false);
	kpi_pass(k, +1, T0 + 45 * MIN); /* not late: its interval is open */
	kpi_current(k, KPI_DAY, T0 + HOUR, &cur);
	assert_int_equal(cur.visitors, 1); /* the day still counts it */
	assert_int_equal(cur.late, 1);
	assert_int_equal(cur.entries, 1);
	kpi_advance(k, T0 + HOUR + 5 * MIN, on_fig, &got);
	f = find(KPI_INTERVAL, T0 + 40 * MIN);
	assert_non_null(f);
	assert_int_equal(f->late, 1); /* the oldest open one when it came */
	assert_int_equal(f->visitors, 0);
	assert_int_equal(f->entries, 0);
	assert_null(find(KPI_INTERVAL, T0 + 45 * MIN));
	/* The day becomes final; input for it afterwards is only counted. */
	kpi_advance(k, D0 + DAY + 16 * MIN, on_fig, &got);
	f = find(KPI_DAY, D0);
	assert_non_null(f);
	assert_int_equal(f->to_ms, D0 + DAY);
	assert_int_equal(f->visitors, 1);
	assert_int_equal(f->entries, 1);
	assert_int_equal(f->late, 1);
	assert_true(got.f[got.n - 1].period == KPI_DAY); /* after its last interval */
	kpi_receipt(k, D0 + 23 * HOUR);
	kpi_current(k, KPI_DAY, D0 + DAY + 16 * MIN, &cur);
	assert_int_equal(cur.from_ms, D0 + DAY);
	assert_int_equal(cur.late, 1);
	assert_int_equal(cur.receipts, 0);
	kpi_free(k);
}

static void test_visit_by_first_sighting(void **state)
{
	struct kpi *k = make(T0);
	const struct kpi_figures *f;

	visit(k, T0 + 7 * MIN, 9 * MIN, VISIT_VISITOR, false, false);
	kpi_advance(k, T0 + 10 * MIN + 16 * MIN, on_fig, &got);
	assert_int_equal(got.n, 2);
	assert_int_equal(got.f[0].visitors, 0);
	f = &got.f[1];
	assert_int_equal(f->from_ms, T0 + 5 * MIN);
	assert_int_equal(f->visitors, 1);
	kpi_free(k);
}

static void test_clock_jump_bounded(void **state)
{
	struct kpi *k = make(T0);
	const struct kpi_figures *f;

	kpi_pass(k, +1, T0 + HOUR);
	kpi_advance(k, T0 + 3 * DAY, on_fig, &got);
	/* The interval with input, then the last day's worth of intervals. */
	f = find(KPI_INTERVAL, T0 + HOUR);
	assert_non_null(f);
	assert_int_equal(f->entries, 1);
	assert_int_equal(got.n_iv, 1 + 288);
	assert_int_equal(got.f[got.n - 1].to_ms, T0 + 3 * DAY - 20 * MIN);
	/* Days: the first (with input) and the last whole one before now. */
	assert_int_equal(got.n_day, 2);
	assert_non_null(find(KPI_DAY, D0));
	assert_non_null(find(KPI_DAY, D0 + 2 * DAY));
	/* Contiguous after the jump. */
	for (size_t i = 1, prev = 0; i < got.n; i++) {
		if (got.f[i].period != KPI_INTERVAL)
			continue;
		if (got.f[prev].period == KPI_INTERVAL && got.f[prev].from_ms > T0 + HOUR)
			assert_int_equal(got.f[i].from_ms, got.f[prev].to_ms);
		prev = i;
	}
	kpi_free(k);
}

static void test_berlin_days(void **state)
{
	const int64_t d = BERLIN_DST_DAY;
	struct kpi *k;
	const struct kpi_figures *f;
	struct kpi_figures cur;
	size_t n25 = 0;

	set_tz("Europe/Berlin");
	assert_int_equal(local_day_start_ms(d + HOUR), d);
	assert_int_equal(local_day_next_ms(d), d + 25 * HOUR);
	k = make(d - 10 * MIN);
	kpi_pass(k, +1, d - 1); /* 23:59:59.999 on the 24th */
	kpi_pass(k, +1, d); /* 00:00 on the 25th */
	kpi_pass(k, +1, d + 24 * HOUR + 59 * MIN); /* 23:59 CET on the 25th */
	kpi_pass(k, +1, d + 25 * HOUR); /* the 26th */
	kpi_current(k, KPI_DAY, d + 12 * HOUR, &cur);
	assert_int_equal(cur.from_ms, d);
	assert_int_equal(cur.to_ms, d + 25 * HOUR);
	assert_int_equal(cur.entries, 2);
	/* The daemon advances every few seconds; every 5 minutes will do. */
	for (int64_t t = d; t <= d + 25 * HOUR + 16 * MIN; t += 5 * MIN)
		kpi_advance(k, t, on_fig, &got);
	kpi_advance(k, d + 25 * HOUR + 16 * MIN, on_fig, &got);
	f = find(KPI_DAY, d - 24 * HOUR);
	assert_non_null(f);
	assert_int_equal(f->to_ms, d);
	assert_int_equal(f->entries, 1);
	f = find(KPI_DAY, d);
	assert_non_null(f);
	assert_int_equal(f->to_ms, d + 25 * HOUR);
	assert_int_equal(f->entries, 2);
	assert_true(got.f[got.n - 1].period == KPI_DAY);
	for (size_t i = 0; i < got.n; i++) {
		if (got.f[i].period == KPI_INTERVAL && got.f[i].from_ms >= d &&
		    got.f[i].to_ms <= d + 25 * HOUR) {
			/* Aligned to local midnight, every one 5 minutes. */
			assert_int_equal((got.f[i].from_ms - d) % (5 * MIN), 0);
			assert_int_equal(got.f[i].to_ms - got.f[i].from_ms, 5 * MIN);
			n25++;
		}
	}
	assert_int_equal(n25, 300); /* 25 h */
	assert_non_null(find(KPI_INTERVAL, d + 24 * HOUR + 55 * MIN));
	assert_int_equal(find(KPI_INTERVAL, d + 24 * HOUR + 55 * MIN)->entries, 1);
	kpi_free(k);
}

static int back_to_utc(void **state)
{
	set_tz("UTC");
	return 0;
}

static void test_current(void **state)
{
	struct kpi *k = make(T0);
	struct kpi_figures cur;

	kpi_pass(k, +1, T0 + 6 * MIN);
	kpi_receipt(k, T0 + 7 * MIN);
	kpi_current(k, KPI_INTERVAL, T0 + 8 * MIN, &cur);
	assert_int_equal(cur.period, KPI_INTERVAL);
	assert_int_equal(cur.from_ms, T0 + 5 * MIN);
	assert_int_equal(cur.to_ms, T0 + 10 * MIN);
	assert_int_equal(cur.entries, 1);
	assert_true(cur.has_conversion);
	assert_float_equal(cur.conversion, 1.0, 1e-12);
	kpi_current(k, KPI_INTERVAL, T0 + 11 * MIN, &cur);
	assert_int_equal(cur.from_ms, T0 + 10 * MIN);
	assert_int_equal(cur.entries, 0);
	assert_false(cur.has_conversion);
	kpi_current(k, KPI_DAY, T0, &cur);
	assert_int_equal(cur.period, KPI_DAY);
	assert_int_equal(cur.from_ms, D0);
	assert_int_equal(cur.to_ms, D0 + DAY);
	assert_int_equal(cur.receipts, 1);
	kpi_free(k);
}

/* Everything observable of two aggregators is the same from here on. */
static void assert_same_future(struct kpi *a, struct kpi *b, int64_t from)
{
	static struct got ga, gb;
	struct kpi_figures fa, fb;

	for (int p = KPI_INTERVAL; p <= KPI_DAY; p++) {
		assert_int_equal(kpi_last(a, p, &fa), kpi_last(b, p, &fb));
		if (kpi_last(a, p, &fa))
			assert_memory_equal(&fa, &fb, sizeof(fa));
		kpi_current(a, p, from, &fa);
		kpi_current(b, p, from, &fb);
		assert_memory_equal(&fa, &fb, sizeof(fa));
	}
	memset(&ga, 0, sizeof(ga));
	memset(&gb, 0, sizeof(gb));
	kpi_advance(a, from + 2 * DAY, on_fig, &ga);
	kpi_advance(b, from + 2 * DAY, on_fig, &gb);
	assert_int_equal(ga.n, gb.n);
	assert_memory_equal(ga.f, gb.f, ga.n * sizeof(ga.f[0]));
}

static struct kpi *busy_kpi(void)
{
	struct kpi *k = make(T0);

	for (int i = 0; i < 50; i++) {
		kpi_pass(k, i % 3 ? +1 : -1, T0 + i * 37 * SEC);
		visit(k, T0 + i * 41 * SEC, (i % 17) * MIN, (enum visit_class)(i % 4), i % 5 == 0,
		      i % 6 == 0);
		if (i % 4 == 0)
			kpi_receipt(k, T0 + i * 43 * SEC);
	}
	kpi_advance(k, T0 + 30 * MIN, on_fig, &got);
	visit(k, T0, 20 * MIN, VISIT_ENGAGED, false, false); /* late */
	return k;
}

static void test_save_load_round_trip(void **state)
{
	struct kpi *a = busy_kpi(), *b;
	struct kpi_conf c;
	struct dynbuf d;

	dynbuf_init(&d, 1 << 20);
	assert_int_equal(kpi_save(a, &d), 0);
	assert_true(d.len > 16);
	kpi_conf_defaults(&c);
	b = kpi_new(&c, T0 + 30 * MIN);
	assert_non_null(b);
	assert_int_equal(kpi_load(b, d.buf, d.len), 0);
	assert_same_future(a, b, T0 + 30 * MIN);
	kpi_free(b);

	/* A restart much later: the saved buckets still come out first. */
	b = kpi_new(&c, T0 + 5 * HOUR);
	assert_int_equal(kpi_load(b, d.buf, d.len), 0);
	kpi_free(a);
	a = busy_kpi();
	assert_same_future(a, b, T0 + 30 * MIN);
	kpi_free(a);
	kpi_free(b);

	/* An empty aggregator round-trips too. */
	a = make(T0);
	dynbuf_reset(&d);
	assert_int_equal(kpi_save(a, &d), 0);
	b = kpi_new(&c, T0);
	assert_int_equal(kpi_load(b, d.buf, d.len), 0);
	assert_same_future(a, b, T0);
	kpi_free(a);
	kpi_free(b);

	/* Too small a buffer: -EMSGSIZE, nothing half-written. */
	a = busy_kpi();
	dynbuf_free(&d);
	dynbuf_init(&d, 64);
	assert_int_equal(kpi_save(a, &d), -EMSGSIZE);
	assert_int_equal(d.len, 0);
	kpi_free(a);
	dynbuf_free(&d);
}

static void assert_as_new(struct kpi *k, int64_t now)
{
	struct kpi_figures f;

	assert_false(kpi_last(k, KPI_INTERVAL, &f));
	assert_false(kpi_last(k, KPI_DAY, &f));
	kpi_current(k, KPI_DAY, now, &f);
	assert_int_equal(f.entries + f.exits + f.visitors + f.passers_by + f.receipts + f.late, 0);
	memset(&got, 0, sizeof(got));
	kpi_advance(k, now + 5 * MIN + 16 * MIN, on_fig, &got);
	assert_int_equal(got.n, 1);
	assert_int_equal(got.f[0].from_ms, now);
}

static void test_load_rejects_corruption(void **state)
{
	struct kpi *a = busy_kpi(), *b;
	struct kpi_conf c;
	struct dynbuf d;
	char *copy;

	dynbuf_init(&d, 1 << 20);
	assert_int_equal(kpi_save(a, &d), 0);
	copy = malloc(d.len);
	assert_non_null(copy);
	kpi_conf_defaults(&c);
	b = kpi_new(&c, T0 + HOUR);
	/* Every single flipped bit is caught (checksum and structure). */
	for (size_t i = 0; i < d.len; i += 7) {
		memcpy(copy, d.buf, d.len);
		copy[i] ^= (char)(1 << (i % 8));
		assert_int_equal(kpi_load(b, copy, d.len), -EINVAL);
	}
	assert_as_new(b, T0 + HOUR);
	/* Every truncation. */
	for (size_t n = 0; n < d.len; n += 13)
		assert_int_equal(kpi_load(b, d.buf, n), -EINVAL);
	assert_int_equal(kpi_load(b, NULL, 0), -EINVAL);
	/* Trailing garbage. */
	{
		char *longer = calloc(1, d.len + 1);

		assert_non_null(longer);
		memcpy(longer, d.buf, d.len);
		assert_int_equal(kpi_load(b, longer, d.len + 1), -EINVAL);
		free(longer);
	}
	/* Loaded fine, then a bad blob: back to new. */
	assert_int_equal(kpi_load(b, d.buf, d.len), 0);
	memcpy(copy, d.buf, d.len);
	copy[5] ^= 1; /* the version */
	assert_int_equal(kpi_load(b, copy, d.len), -EINVAL);
	assert_as_new(b, T0 + HOUR);
	kpi_free(b);
	/* A different interval length cannot take these buckets. */
	c.interval_ms = 15 * MIN;
	b = kpi_new(&c, T0);
	assert_int_equal(kpi_load(b, d.buf, d.len), -EINVAL);
	kpi_free(b);
	free(copy);
	kpi_free(a);
	dynbuf_free(&d);
}

static void test_bad_conf(void **state)
{
	struct kpi_conf c;

	kpi_conf_defaults(&c);
	c.interval_ms = 0;
	assert_null(kpi_new(&c, T0));
	c.interval_ms = 2 * DAY;
	assert_null(kpi_new(&c, T0));
	assert_null(kpi_new(NULL, T0));
	kpi_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ratios),
		cmocka_unit_test(test_no_value_on_zero),
		cmocka_unit_test(test_dwell_median),
		cmocka_unit_test(test_empty_intervals_emitted),
		cmocka_unit_test(test_late_input),
		cmocka_unit_test(test_visit_by_first_sighting),
		cmocka_unit_test(test_clock_jump_bounded),
		cmocka_unit_test_teardown(test_berlin_days, back_to_utc),
		cmocka_unit_test(test_current),
		cmocka_unit_test(test_save_load_round_trip),
		cmocka_unit_test(test_load_rejects_corruption),
		cmocka_unit_test(test_bad_conf),
	};

	set_tz("UTC");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
