/*
 * test_camera: the door/zone counter driver (camera.c) through the libgpiod
 * test double (tests/gpiod) and a real event loop. Edges written to the
 * double's FIFOs become passes at the right wall-clock time (including
 * recorded streams stamped ahead of real time); blocked and chatter alerts
 * carry the device, line and zone; a missing or busy chip means down, one
 * device_down alert, retries, then device_up and counting; a vanished chip
 * (read error) the same; active_low inverts the levels; a beam found
 * blocked at start is not a person; camera_get_stats reports it all.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "../gpiod/gpiod_double.h"
#include "loop.h"
#include "sensor.h"
#include "util.h"

#define CHIP "gpiochip0"
#define MS_NS 1000000LL
#define MAX_REC 256

struct pass_rec {
	int dir;
	int64_t t_ms;
};

struct alert_rec {
	char alert[32];
	char device[64];
	char line[8];
	char zone[64];
	char reason[224];
	int64_t ts_ms;
};

struct fx {
	char dir[64];
	char chipdir[128];
	struct loop *l;
	struct device_conf conf;
	struct device dev;
	struct device_host host;
	struct sensor_host sh;
	struct pass_rec p[MAX_REC];
	size_t np;
	struct alert_rec a[MAX_REC];
	size_t na;
};

static struct fx *live; /* the current test's fixture, for the teardown */

static void copy_member(const cJSON *body, const char *name, char *dst, size_t size)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, name);

	dst[0] = '\0';
	if (cJSON_IsString(v))
		snprintf(dst, size, "%s", v->valuestring);
}

static int fx_emit(void *arg, struct device *d, const char *type, cJSON *body, int64_t ts_ms)
{
	struct fx *f = arg;
	struct alert_rec *a;

	assert_string_equal(type, "alert");
	assert_ptr_equal(d, &f->dev);
	assert_true(f->na < MAX_REC);
	a = &f->a[f->na++];
	copy_member(body, "alert", a->alert, sizeof(a->alert));
	copy_member(body, "device", a->device, sizeof(a->device));
	copy_member(body, "line", a->line, sizeof(a->line));
	copy_member(body, "zone", a->zone, sizeof(a->zone));
	copy_member(body, "reason", a->reason, sizeof(a->reason));
	a->ts_ms = ts_ms;
	return 0;
}

static void fx_pass(void *arg, struct device *d, int dir, int64_t t_ms)
{
	struct fx *f = arg;

	assert_ptr_equal(d, &f->dev);
	assert_true(f->np < MAX_REC);
	f->p[f->np].dir = dir;
	f->p[f->np].t_ms = t_ms;
	f->np++;
}

/* A fixture with two lines (3 = A, 4 = B) on CHIP; the chip dir exists if @chip. */
static struct fx *fx_new(bool chip, int line_b, bool active_low)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_camera.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->chipdir, sizeof(f->chipdir), "%s/%s", f->dir, CHIP);
	if (chip)
		assert_int_equal(mkdir(f->chipdir, 0700), 0);
	assert_int_equal(setenv(GPIOD_DOUBLE_ENV, f->dir, 1), 0);
	f->l = loop_new();
	assert_non_null(f->l);
	snprintf(f->conf.name, sizeof(f->conf.name), "door1");
	f->conf.kind = DEV_CAMERA;
	snprintf(f->conf.chip, sizeof(f->conf.chip), CHIP);
	f->conf.line_a = 3;
	f->conf.line_b = line_b;
	f->conf.active_low = active_low;
	f->conf.debounce_ms = 30;
	snprintf(f->conf.zone, sizeof(f->conf.zone), "entrance");
	f->host.loop = f->l;
	f->host.emit = fx_emit;
	f->host.arg = f;
	f->sh.pass = fx_pass;
	f->sh.arg = f;
	f->dev.conf = &f->conf;
	f->dev.ops = &camera_ops;
	f->dev.host = &f->host;
	f->dev.kind_host = &f->sh;
	live = f;
	return f;
}

static void rm_rf(const char *path)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	assert_int_equal(system(cmd), 0);
}

static void fx_free(struct fx *f)
{
	f->dev.ops->stop(&f->dev);
	assert_null(f->dev.priv);
	loop_free(f->l);
	rm_rf(f->dir);
	free(f);
	live = NULL;
}

/* A failed test skips its fx_free(): clean up here. */
static int teardown(void **state)
{
	if (live)
		fx_free(live);
	return 0;
}

struct waiter {
	struct fx *f;
	bool (*cond)(struct fx *f);
	int64_t until;
	bool ok;
};

static void on_poll(struct loop *l, void *arg)
{
	struct waiter *w = arg;

	if (w->cond && w->cond(w->f)) {
		w->ok = true;
		loop_stop(l);
	} else if (now_mono_ms() >= w->until) {
		loop_stop(l);
	} else {
		assert_true(loop_timer_add(l, 2, on_poll, w) > 0);
	}
}

/* Run the loop until @cond holds (true) or @max_ms passed (false). */
static bool run_until(struct fx *f, bool (*cond)(struct fx *f), int64_t max_ms)
{
	struct waiter w = {.f = f, .cond = cond, .until = now_mono_ms() + max_ms};

	assert_true(loop_timer_add(f->l, 0, on_poll, &w) > 0);
	assert_int_equal(loop_run(f->l), 0);
	return w.ok;
}

static void run_for(struct fx *f, int64_t ms)
{
	run_until(f, NULL, ms);
}

static bool one_pass(struct fx *f)
{
	return f->np >= 1;
}

static bool two_passes(struct fx *f)
{
	return f->np >= 2;
}

static bool is_open(struct fx *f)
{
	return f->dev.st.state == DEVICE_OPEN;
}

static bool is_down(struct fx *f)
{
	return f->dev.st.state == DEVICE_DOWN;
}

static void edge(struct fx *f, unsigned line, bool rising, int64_t rt_ns)
{
	assert_int_equal(gpiod_double_edge(f->dir, CHIP, line, rising, rt_ns), 0);
}

/* One person through A (3) then B (4) from @t0 (realtime ns); reversed if @out. */
static void crossing(struct fx *f, int64_t t0, bool out)
{
	unsigned first = out ? 4 : 3, second = out ? 3 : 4;

	edge(f, first, true, t0);
	edge(f, second, true, t0 + 100 * MS_NS);
	edge(f, first, false, t0 + 300 * MS_NS);
	edge(f, second, false, t0 + 400 * MS_NS);
}

static void assert_near(int64_t a, int64_t b, int64_t tol)
{
	if (a - b > tol || b - a > tol)
		fail_msg("%lld and %lld differ by more than %lld", (long long)a, (long long)b,
			 (long long)tol);
}

static const struct alert_rec *find_alert(struct fx *f, const char *alert)
{
	for (size_t i = 0; i < f->na; i++) {
		if (!strcmp(f->a[i].alert, alert))
			return &f->a[i];
	}
	return NULL;
}

static size_t count_alerts(struct fx *f, const char *alert)
{
	size_t n = 0;

	for (size_t i = 0; i < f->na; i++)
		n += !strcmp(f->a[i].alert, alert);
	return n;
}

static void test_in_and_out(void **state)
{
	struct fx *f = fx_new(true, 4, false);
	struct camera_stats st;
	char fifo[256];
	struct stat sb;
	int64_t t0, t1, started;

	assert_int_equal(f->dev.ops->start(&f->dev), 0);
	assert_int_equal(f->dev.st.state, DEVICE_OPEN);
	assert_int_equal(f->na, 0);
	snprintf(fifo, sizeof(fifo), "%s/3", f->chipdir);
	assert_int_equal(stat(fifo, &sb), 0);
	assert_true(S_ISFIFO(sb.st_mode));

	/* Stamped up to 400 ms ahead of real time: confirmed as time passes. */
	started = now_mono_ms();
	t0 = gpiod_double_realtime_ns();
	crossing(f, t0, false);
	assert_true(run_until(f, one_pass, 3000));
	assert_true(now_mono_ms() - started < 1500);
	assert_int_equal(f->p[0].dir, +1);
	assert_near(f->p[0].t_ms, t0 / MS_NS, 5);

	/* The next person, 1 s later on the stream's time line. */
	t1 = t0 + 1000 * MS_NS;
	crossing(f, t1, true);
	assert_true(run_until(f, two_passes, 3000));
	assert_int_equal(f->p[1].dir, -1);
	assert_near(f->p[1].t_ms, t1 / MS_NS, 5);
	assert_int_equal(f->na, 0);

	camera_get_stats(&f->dev, &st);
	assert_true(st.open);
	assert_true(st.two_lines);
	assert_false(st.blocked[0] || st.blocked[1]);
	assert_int_equal(st.counts.in, 1);
	assert_int_equal(st.counts.out, 1);
	assert_int_equal(st.counts.edges, 8);
	assert_int_equal(st.alerts, 0);
	assert_near(st.last_edge_ms, now_wall_ms(), 3000);
	assert_true(st.edges_1m > 8.0 / 60 - 1e-9 && st.edges_1m < 8.0 / 60 + 1e-9);
	assert_int_equal(f->dev.st.lines_ok, 2);
	assert_int_equal(f->dev.st.errors, 0);
	assert_true(f->dev.st.last_seen_ms > 0);
	fx_free(f);
}

static void test_edges_in_the_past(void **state)
{
	struct fx *f = fx_new(true, 4, false);
	int64_t t0;

	assert_int_equal(f->dev.ops->start(&f->dev), 0);
	/* A person 900 ms ago (read late): counted at its own time. */
	t0 = gpiod_double_realtime_ns() - 900 * MS_NS;
	crossing(f, t0, false);
	assert_true(run_until(f, one_pass, 2000));
	assert_int_equal(f->p[0].dir, +1);
	assert_near(f->p[0].t_ms, t0 / MS_NS, 5);
	fx_free(f);
}

static void test_stream_rewinds(void **state)
{
	struct fx *f = fx_new(true, 4, false);
	int64_t t0;

	assert_int_equal(f->dev.ops->start(&f->dev), 0);
	/* A replay an hour ahead, then live edges again: both counted. */
	t0 = gpiod_double_realtime_ns() + 3600 * 1000 * MS_NS;
	crossing(f, t0, false);
	assert_true(run_until(f, one_pass, 2000));
	assert_near(f->p[0].t_ms, t0 / MS_NS, 5);
	t0 = gpiod_double_realtime_ns();
	crossing(f, t0, true);
	assert_true(run_until(f, two_passes, 2000));
	assert_int_equal(f->p[1].dir, -1);
	assert_near(f->p[1].t_ms, t0 / MS_NS, 5);
	fx_free(f);
}

static void test_blocked_and_chatter_alerts(void **state)
{
	struct fx *f = fx_new(true, 4, false);
	const struct alert_rec *a;
	struct camera_stats st;
	int64_t t0;

	assert_int_equal(f->dev.ops->start(&f->dev), 0);
	t0 = gpiod_double_realtime_ns();
	/* A blocked for 12 s of (replayed) time; B's edges move the clock. */
	edge(f, 3, true, t0);
	edge(f, 4, true, t0 + 11000 * MS_NS);
	edge(f, 4, false, t0 + 11200 * MS_NS);
	run_for(f, 100);
	a = find_alert(f, "beam_blocked");
	assert_non_null(a);
	assert_string_equal(a->device, "door1");
	assert_string_equal(a->line, "a");
	assert_string_equal(a->zone, "entrance");
	assert_near(a->ts_ms, t0 / MS_NS + 10000, 5);
	camera_get_stats(&f->dev, &st);
	assert_true(st.blocked[0]);
	assert_true(st.alert_blocked[0]);
	assert_false(st.alert_blocked[1]);

	edge(f, 3, false, t0 + 12000 * MS_NS);
	run_for(f, 100);
	a = find_alert(f, "beam_unblocked");
	assert_non_null(a);
	assert_string_equal(a->line, "a");
	assert_near(a->ts_ms, t0 / MS_NS + 12000, 5);
	assert_int_equal(count_alerts(f, "beam_blocked"), 1);
	assert_int_equal(f->np, 0);
	camera_get_stats(&f->dev, &st);
	assert_false(st.alert_blocked[0]);

	/* 60 edges within a second on B: chatter, then its end a quiet second later. */
	for (int i = 0; i < 60; i++)
		edge(f, 4, (i % 2) == 0, t0 + (20000 + i * 10) * MS_NS);
	run_for(f, 100);
	a = find_alert(f, "beam_chatter");
	assert_non_null(a);
	assert_string_equal(a->line, "b");
	assert_string_equal(a->zone, "entrance");
	assert_near(a->ts_ms, t0 / MS_NS + 20500, 5);
	camera_get_stats(&f->dev, &st);
	assert_true(st.alert_chatter[1]);
	assert_null(find_alert(f, "beam_chatter_end"));
	/* An edge on A 3 s later: B's windows have closed by then. */
	edge(f, 3, true, t0 + 23000 * MS_NS);
	run_for(f, 100);
	a = find_alert(f, "beam_chatter_end");
	assert_non_null(a);
	assert_string_equal(a->line, "b");
	assert_near(a->ts_ms, t0 / MS_NS + 22000, 5);
	camera_get_stats(&f->dev, &st);
	assert_false(st.alert_chatter[1]);
	assert_int_equal(st.alerts, 4);
	assert_int_equal(f->na, 4);
	fx_free(f);
}

static void test_chip_missing_then_appears(void **state)
{
	struct fx *f = fx_new(false, 4, false);
	const struct alert_rec *a;
	struct camera_stats st;

	assert_int_equal(f->dev.ops->start(&f->dev), 0);
	assert_int_equal(f->dev.st.state, DEVICE_DOWN);
	assert_int_equal(f->na, 1);
	a = &f->a[0];
	assert_string_equal(a->alert, "device_down");
	assert_string_equal(a->device, "door1");
	assert_non_null(strstr(a->reason, "cannot open chip gpiochip0"));
	assert_non_null(strstr(f->dev.st.last_error, "gpiochip0"));
	camera_get_stats(&f->dev, &st);
	assert_false(st.open);
	/* Retries stay quiet. */
	run_for(f, 400);
	assert_int_equal(f->na, 1);
	assert_int_equal(f->dev.st.errors, 0);

	assert_int_equal(mkdir(f->chipdir, 0700), 0);
	assert_true(run_until(f, is_open, 3000));
	assert_int_equal(f->na, 2);
	assert_string_equal(f->a[1].alert, "device_up");
	assert_int_equal(f->dev.st.reconnects, 1);
	crossing(f, gpiod_double_realtime_ns(), false);
	assert_true(run_until(f, one_pass, 2000));
	assert_int_equal(f->p[0].dir, +1);
	fx_free(f);
}

static void test_busy_line(void **state)
{
	struct fx *f = fx_new(true, 4, false);

	assert_int_equal(gpiod_double_set_busy(f->dir, CHIP, 4, true), 0);
	assert_int_equal(f->dev.ops->start(&f->dev), 0);
	assert_int_equal(f->dev.st.state, DEVICE_DOWN);
	assert_int_equal(f->na, 1);
	assert_non_null(strstr(f->a[0].reason, "line 4"));
	assert_non_null(strstr(f->a[0].reason, strerror(EBUSY)));
	/* Line A was released again: nobody reads its FIFO. */
	assert_int_equal(gpiod_double_edge(f->dir, CHIP, 3, true, 0), -ENXIO);
	assert_int_equal(gpiod_double_set_busy(f->dir, CHIP, 4, false), 0);
	assert_true(run_until(f, is_open, 3000));
	assert_string_equal(f->a[1].alert, "device_up");
	fx_free(f);
}

static void test_chip_vanishes_and_returns(void **state)
{
	struct fx *f = fx_new(true, 4, false);
	struct camera_stats st;

	assert_int_equal(f->dev.ops->start(&f->dev), 0);
	crossing(f, gpiod_double_realtime_ns(), false);
	assert_true(run_until(f, one_pass, 2000));

	assert_int_equal(gpiod_double_set_gone(f->dir, CHIP, 3, true), 0);
	assert_true(run_until(f, is_down, 2000));
	assert_int_equal(f->na, 1);
	assert_string_equal(f->a[0].alert, "device_down");
	assert_non_null(strstr(f->a[0].reason, "vanished"));
	assert_int_equal(f->dev.st.errors, 1);
	camera_get_stats(&f->dev, &st);
	assert_false(st.open);
	assert_int_equal(st.counts.in, 1); /* kept */
	/* Down: edges have no reader; retries fail quietly while it is gone. */
	assert_int_equal(gpiod_double_edge(f->dir, CHIP, 4, true, 0), -ENXIO);
	run_for(f, 400);
	assert_int_equal(f->na, 1);
	assert_int_equal(f->dev.st.state, DEVICE_DOWN);

	assert_int_equal(gpiod_double_set_gone(f->dir, CHIP, 3, false), 0);
	assert_true(run_until(f, is_open, 5000));
	assert_int_equal(f->na, 2);
	assert_string_equal(f->a[1].alert, "device_up");
	assert_int_equal(f->dev.st.reconnects, 1);
	crossing(f, gpiod_double_realtime_ns(), true);
	assert_true(run_until(f, two_passes, 2000));
	assert_int_equal(f->p[1].dir, -1);
	camera_get_stats(&f->dev, &st);
	assert_int_equal(st.counts.in, 1);
	assert_int_equal(st.counts.out, 1);
	fx_free(f);
}

static void test_one_line_active_low(void **state)
{
	struct fx *f = fx_new(true, -1, true);
	struct camera_stats st;
	int64_t t0;

	/* Active low: the idle line reads 1. */
	assert_int_equal(gpiod_double_set_value(f->dir, CHIP, 3, 1), 0);
	assert_int_equal(f->dev.ops->start(&f->dev), 0);
	assert_int_equal(f->dev.st.state, DEVICE_OPEN);
	camera_get_stats(&f->dev, &st);
	assert_false(st.two_lines);
	assert_false(st.blocked[0]);

	/* Falling = blocked. */
	t0 = gpiod_double_realtime_ns();
	edge(f, 3, false, t0);
	edge(f, 3, true, t0 + 200 * MS_NS);
	edge(f, 3, false, t0 + 500 * MS_NS);
	edge(f, 3, true, t0 + 700 * MS_NS);
	assert_true(run_until(f, two_passes, 2000));
	assert_int_equal(f->p[0].dir, +1);
	assert_near(f->p[0].t_ms, t0 / MS_NS, 5);
	assert_near(f->p[1].t_ms, t0 / MS_NS + 500, 5);
	/* Rising first (the beam clearing) is no person. */
	t0 = gpiod_double_realtime_ns();
	edge(f, 3, true, t0);
	edge(f, 3, false, t0 + 10 * MS_NS);
	run_for(f, 200);
	assert_int_equal(f->np, 2);
	camera_get_stats(&f->dev, &st);
	assert_true(st.blocked[0]); /* the line is low now */
	assert_int_equal(st.counts.in, 2);
	fx_free(f);
}

static void test_blocked_at_start(void **state)
{
	struct fx *f = fx_new(true, -1, false);
	struct camera_stats st;

	/* Active high, the line already high: blocked, but not a person. */
	assert_int_equal(gpiod_double_set_value(f->dir, CHIP, 3, 1), 0);
	assert_int_equal(f->dev.ops->start(&f->dev), 0);
	camera_get_stats(&f->dev, &st);
	assert_true(st.blocked[0]);
	edge(f, 3, false, 0); /* 0 = now */
	run_for(f, 150);
	assert_int_equal(f->np, 0);
	camera_get_stats(&f->dev, &st);
	assert_false(st.blocked[0]);
	assert_int_equal(st.counts.edges, 1);
	/* The next block is a person. */
	edge(f, 3, true, 0);
	run_for(f, 100);
	edge(f, 3, false, 0);
	assert_true(run_until(f, one_pass, 1000));
	fx_free(f);
}

static void test_stats_without_priv_and_stop_while_down(void **state)
{
	struct fx *f = fx_new(false, 4, false);
	struct camera_stats st;

	memset(&st, 0xff, sizeof(st));
	camera_get_stats(&f->dev, &st);
	assert_false(st.open);
	assert_int_equal(st.counts.edges, 0);
	assert_int_equal(st.alerts, 0);
	assert_string_equal(camera_ops.kind, "camera");
	/* Stop with a retry pending: nothing fires afterwards. */
	assert_int_equal(f->dev.ops->start(&f->dev), 0);
	f->dev.ops->stop(&f->dev);
	assert_null(f->dev.priv);
	assert_int_equal(mkdir(f->chipdir, 0700), 0);
	run_for(f, 400);
	assert_int_equal(f->na, 1);
	fx_free(f); /* stop again: harmless */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_in_and_out, teardown),
		cmocka_unit_test_teardown(test_edges_in_the_past, teardown),
		cmocka_unit_test_teardown(test_stream_rewinds, teardown),
		cmocka_unit_test_teardown(test_blocked_and_chatter_alerts, teardown),
		cmocka_unit_test_teardown(test_chip_missing_then_appears, teardown),
		cmocka_unit_test_teardown(test_busy_line, teardown),
		cmocka_unit_test_teardown(test_chip_vanishes_and_returns, teardown),
		cmocka_unit_test_teardown(test_one_line_active_low, teardown),
		cmocka_unit_test_teardown(test_blocked_at_start, teardown),
		cmocka_unit_test_teardown(test_stats_without_priv_and_stop_while_down, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
