/*
 * test_screens: the guide-screen pusher against real reference screens
 * (scripts/screen-server, spawned here on free loopback ports), driven by
 * our loop.
 *
 * Covers: argument checks and the body built around the host's content; a
 * push shown (health, callbacks, the version in the body the screen got);
 * four screens at once (healthy, slow, dead, answering 500): the healthy
 * one shows each push within 100 ms while the others are slow or failing,
 * the dead and 500 ones retry with a doubling backoff and recover when a
 * server comes back on their port; newest-wins coalescing (v1..v5 pushed to
 * a slow screen: it gets v1 then v5); a 400 not retried (and the next push
 * sent at once); a 409 reported with the screen's shown version and a push
 * above it from the callback; the per-request timeout; screens_free with a
 * request on the wire (no callback, no fd left); https verified against the
 * configured CA (tests/unit/http_fixture.py as the TLS server).
 *
 * The screen server is found through $SCREEN_SERVER or at
 * ../../scripts/screen-server from this file (run from the top of the
 * repository).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <cmocka.h>
#include <dirent.h>

#include "loop.h"
#include "screens.h"
#include "util.h"

extern char **environ;

#define CONTENT_FMT                                                                                \
	"{\"store\":\"S1\",\"screen\":\"scr-%d\",\"zone\":\"dairy\",\"kind\":\"recs\","            \
	"\"ts\":\"2026-11-23T09:14:00.000Z\",\"headline\":\"Also take\",\"currency\":\"EUR\","     \
	"\"items\":[{\"sku\":\"690123\",\"name\":\"Vitamin D3\",\"price\":%s}]}"

static char tmpdir[64];
/* Servers running, killed by the teardown when a test fails half-way. */
static pid_t spawned[16];

/* ---- reference screen servers ---- */

struct srv {
	pid_t pid;
	int port;
	char log[PATH_MAX];
};

static void pathf(char *buf, size_t sz, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void pathf(char *buf, size_t sz, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sz, fmt, ap);
	va_end(ap);
	assert_true(n > 0 && (size_t)n < sz);
}

static void server_path(char *out, size_t sz)
{
	const char *env = getenv("SCREEN_SERVER");
	const char *slash = strrchr(__FILE__, '/');

	if (env)
		pathf(out, sz, "%s", env);
	else if (slash)
		pathf(out, sz, "%.*s/../../scripts/screen-server", (int)(slash - __FILE__),
		      __FILE__);
	else
		pathf(out, sz, "../../scripts/screen-server");
}

/*
 * Start a screen server on @port (0: a free one) answering after @delay_ms,
 * or 500s with @fail; its request log is @name.log in the temp dir.
 */
static void srv_start(struct srv *v, const char *name, int port, int delay_ms, bool fail)
{
	static char script[PATH_MAX];
	char portarg[16], delayarg[16], line[256];
	char *argv[12];
	int argc = 0, fds[2];
	size_t len = 0;
	posix_spawn_file_actions_t fa;
	int64_t deadline = now_mono_ms() + 10000;

	server_path(script, sizeof(script));
	if (access(script, R_OK)) {
		print_error("screen server not found: %s (set SCREEN_SERVER)\n", script);
		fail();
	}
	pathf(v->log, sizeof(v->log), "%s/%s.log", tmpdir, name);
	snprintf(portarg, sizeof(portarg), "%d", port);
	snprintf(delayarg, sizeof(delayarg), "%d", delay_ms);
	argv[argc++] = "python3";
	argv[argc++] = script;
	argv[argc++] = "--port";
	argv[argc++] = portarg;
	argv[argc++] = "--delay-ms";
	argv[argc++] = delayarg;
	argv[argc++] = "--log";
	argv[argc++] = v->log;
	if (fail)
		argv[argc++] = "--fail";
	argv[argc] = NULL;
	assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
	assert_int_equal(posix_spawn_file_actions_init(&fa), 0);
	assert_int_equal(posix_spawn_file_actions_adddup2(&fa, fds[1], 1), 0);
	/* posix_spawn, not fork: a forked child hangs under qemu-user. */
	assert_int_equal(posix_spawnp(&v->pid, "python3", &fa, NULL, argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	close(fds[1]);
	for (size_t i = 0; i < ARRAY_SIZE(spawned); i++) {
		if (!spawned[i]) {
			spawned[i] = v->pid;
			break;
		}
	}
	while (!memchr(line, '\n', len)) {
		struct pollfd p = {.fd = fds[0], .events = POLLIN};
		int64_t left = deadline - now_mono_ms();
		ssize_t r;

		assert_true(left > 0 && len < sizeof(line) - 1);
		if (poll(&p, 1, (int)left) <= 0)
			continue;
		r = read(fds[0], line + len, sizeof(line) - 1 - len);
		assert_true(r > 0);
		len += (size_t)r;
	}
	close(fds[0]);
	line[len] = '\0';
	assert_int_equal(sscanf(line, "screen-server: listening on http://127.0.0.1:%d/", &v->port),
			 1);
	if (port)
		assert_int_equal(v->port, port);
}

static void pid_stop(pid_t pid)
{
	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	for (size_t i = 0; i < ARRAY_SIZE(spawned); i++) {
		if (spawned[i] == pid)
			spawned[i] = 0;
	}
}

static void srv_stop(struct srv *v)
{
	pid_stop(v->pid);
	v->pid = 0;
}

/* A loopback port with nothing listening (bound, then closed). */
static int dead_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
	close(fd);
	return ntohs(a.sin_port);
}

/* One POST /content of a server's log. */
struct post {
	double t_arrival; /* epoch s */
	uint64_t version;
	int status;
};

/* The POSTs a server logged, in order. */
static int srv_posts(const struct srv *v, struct post *out, int max)
{
	char buf[1024];
	int n = 0;
	FILE *f = fopen(v->log, "r");

	if (!f)
		return 0;
	while (fgets(buf, sizeof(buf), f) && n < max) {
		cJSON *j = cJSON_Parse(buf);
		cJSON *m = cJSON_GetObjectItem(j, "method");

		if (cJSON_IsString(m) && !strcmp(m->valuestring, "POST")) {
			cJSON *ver = cJSON_GetObjectItem(j, "version");

			out[n].t_arrival = cJSON_GetObjectItem(j, "t_arrival")->valuedouble;
			out[n].status = cJSON_GetObjectItem(j, "status")->valueint;
			out[n].version = cJSON_IsNumber(ver) ? (uint64_t)ver->valuedouble : 0;
			n++;
		}
		cJSON_Delete(j);
	}
	fclose(f);
	return n;
}

/*
 * The server logs a request after answering it, so the client can see the
 * answer first: wait (up to 2 s) until @want requests are logged, then read them.
 */
static int srv_wait_posts(const struct srv *v, struct post *out, int max, int want)
{
	int64_t end = now_mono_ms() + 2000;
	int n;

	while ((n = srv_posts(v, out, max)) < want && now_mono_ms() < end)
		usleep(5000);
	return n;
}

static void url_of(char *buf, size_t sz, int port)
{
	pathf(buf, sz, "http://127.0.0.1:%d/content", port);
}

static char *content(int screen, const char *price)
{
	static char buf[8][512];
	static int k;
	char *b = buf[k++ % 8];

	pathf(b, 512, CONTENT_FMT, screen, price);
	return b;
}

/* ---- the host side: callbacks recorded, the loop driven ---- */

struct rec {
	struct screen_result r;
	char error[SCREENS_ERR_MAX];
	int64_t at; /* monotonic ms */
};

struct chg {
	size_t index;
	enum screen_state from, to;
};

struct host {
	struct loop *l;
	struct screens *s;
	struct rec recs[256];
	int nrec;
	struct chg chgs[64];
	int nchg;
	bool push_above_stale; /* on a 409, push shown + 1 from the callback */
	int push_rc;
};

static struct host H;

static void on_state(void *arg, size_t index, enum screen_state from, enum screen_state to,
		     const struct screen_health *h)
{
	struct host *t = arg;

	assert_int_not_equal(from, to);
	assert_int_equal(h->state, to);
	assert_true(t->nchg < (int)ARRAY_SIZE(t->chgs));
	t->chgs[t->nchg++] = (struct chg){index, from, to};
}

static void on_result(void *arg, const struct screen_result *r)
{
	struct host *t = arg;
	struct rec *rc;

	assert_true(t->nrec < (int)ARRAY_SIZE(t->recs));
	rc = &t->recs[t->nrec++];
	rc->r = *r;
	str_copy(rc->error, sizeof(rc->error), r->error);
	rc->r.error = rc->error;
	rc->at = now_mono_ms();
	if (t->push_above_stale && r->outcome == SCREEN_STALE)
		t->push_rc = screens_push(t->s, r->index, r->shown + 1, content(0, "1290"));
}

static const struct screens_cbs CBS = {.state = on_state, .result = on_result};

static void on_stop(struct loop *l, void *arg)
{
	loop_stop(l);
}

static void run_for(int64_t ms)
{
	if (ms < 0)
		ms = 0;
	assert_true(loop_timer_add(H.l, ms, on_stop, NULL) > 0);
	assert_int_equal(loop_run(H.l), 0);
}

/* Results of screen @index so far (optionally of one outcome). */
static int count_results(size_t index, int outcome)
{
	int n = 0;

	for (int i = 0; i < H.nrec; i++) {
		if (H.recs[i].r.index == index &&
		    (outcome < 0 || (int)H.recs[i].r.outcome == outcome))
			n++;
	}
	return n;
}

/* The @k-th result (0-based) of screen @index, or NULL. */
static struct rec *nth_result(size_t index, int k)
{
	for (int i = 0; i < H.nrec; i++) {
		if (H.recs[i].r.index == index && !k--)
			return &H.recs[i];
	}
	return NULL;
}

static struct screen_health health(size_t index)
{
	struct screen_health h;

	assert_int_equal(screens_health(H.s, index, &h), 0);
	return h;
}

/* Run the loop until screen @index has @n results, or @limit_ms. */
static void run_until_results(size_t index, int n, int64_t limit_ms)
{
	int64_t end = now_mono_ms() + limit_ms;

	while (count_results(index, -1) < n && now_mono_ms() < end)
		run_for(5);
	assert_true(count_results(index, -1) >= n);
}

static void run_until_state(size_t index, enum screen_state st, int64_t limit_ms)
{
	int64_t end = now_mono_ms() + limit_ms;

	while (health(index).state != st && now_mono_ms() < end)
		run_for(5);
	assert_int_equal(health(index).state, st);
}

static void host_new(const struct screen_cfg *cfg, size_t n, const struct screens_opts *o)
{
	memset(&H, 0, sizeof(H));
	H.l = loop_new();
	assert_non_null(H.l);
	assert_int_equal(screens_new(H.l, cfg, n, o, &CBS, &H, &H.s), 0);
}

static void host_free(void)
{
	screens_free(H.s);
	loop_free(H.l);
	H.s = NULL;
	H.l = NULL;
}

static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	assert_non_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* ---- tests ---- */

static void test_args(void **state)
{
	struct loop *l = loop_new();
	struct screens *s = NULL;
	struct screen_cfg ok = {"scr-a", "http://127.0.0.1:1/content", "dairy"};
	struct screen_cfg two[2] = {ok, ok};
	struct screen_cfg bad[] = {
		{"scr a", ok.url, "dairy"},
		{"", ok.url, "dairy"},
		{"scr-a", ok.url, "da\niry"},
		{"scr-a", ok.url, ""},
		{"scr-a", "ftp://127.0.0.1/x", "dairy"},
		{"scr-a", "http://", "dairy"},
		{"scr-a", NULL, "dairy"},
		{NULL, ok.url, "dairy"},
	};
	struct screens_opts o = {.backoff_min_ms = 500, .backoff_max_ms = 100};
	struct screen_health h;
	char *big;

	assert_non_null(l);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		assert_int_equal(screens_new(l, &bad[i], 1, NULL, NULL, NULL, &s), -EINVAL);
	assert_int_equal(screens_new(l, two, 2, NULL, NULL, NULL, &s), -EINVAL); /* same name */
	assert_int_equal(screens_new(l, &ok, 0, NULL, NULL, NULL, &s), -EINVAL);
	assert_int_equal(screens_new(l, &ok, SCREENS_MAX + 1, NULL, NULL, NULL, &s), -EINVAL);
	assert_int_equal(screens_new(l, &ok, 1, &o, NULL, NULL, &s), -EINVAL);
	assert_int_equal(screens_new(NULL, &ok, 1, NULL, NULL, NULL, &s), -EINVAL);

	two[1].name = "scr-b";
	two[1].url = "HTTPS://screen.example/content";
	assert_int_equal(screens_new(l, two, 2, NULL, NULL, NULL, &s), 0);
	assert_int_equal(screens_count(s), 2);
	assert_int_equal(screens_find(s, "scr-b"), 1);
	assert_int_equal(screens_find(s, "scr-c"), -ENOENT);
	assert_string_equal(screens_state_name(SCREEN_NEVER), "never");
	assert_string_equal(screens_state_name(SCREEN_OK), "ok");
	assert_string_equal(screens_state_name(SCREEN_FAILING), "failing");
	assert_int_equal(screens_health(s, 0, &h), 0);
	assert_int_equal(h.state, SCREEN_NEVER);
	assert_int_equal(h.last_latency_ms, -1);
	assert_int_equal(screens_health(s, 2, &h), -EINVAL);

	/* Not an object, a top-level "version", bad versions, bad index. */
	assert_int_equal(screens_push(s, 2, 1, "{}"), -EINVAL);
	assert_int_equal(screens_push(s, 0, 1, "[]"), -EINVAL);
	assert_int_equal(screens_push(s, 0, 1, "{\"a\":1"), -EINVAL);
	assert_int_equal(screens_push(s, 0, 1, "\"x\""), -EINVAL);
	assert_int_equal(screens_push(s, 0, 1, " { \"a\":1, \"version\" : 2 } "), -EINVAL);
	assert_int_equal(screens_push(s, 0, 1, " { } "), 0); /* {"version":1} */
	assert_int_equal(screens_push(s, 0, 0, "{}"), -EINVAL);
	assert_int_equal(screens_push(s, 0, SCREENS_VERSION_MAX + 1, "{}"), -EINVAL);
	assert_int_equal(screens_push(s, 0, 1, "{}"), -ESTALE); /* 1 was taken above */
	/* "version" nested or inside a string is not the top-level member. */
	assert_int_equal(screens_push(s, 0, 2, "{\"items\":[{\"version\":1}],\"h\":\"version\"}"),
			 0);
	assert_int_equal(screens_push(s, 0, 3, "{\"h\":\"a\\\"version\\\"\"}"), 0);
	assert_int_equal(screens_push(s, 0, 4, "{\"h\":\"\xff\"}"), -EINVAL); /* not UTF-8 */
	big = malloc(SCREENS_BODY_MAX + 16);
	assert_non_null(big);
	memset(big, ' ', SCREENS_BODY_MAX + 15);
	memcpy(big, "{\"h\":\"", 6);
	memcpy(big + SCREENS_BODY_MAX, "\"}", 3);
	assert_int_equal(screens_push(s, 0, 5, big), -EMSGSIZE);
	free(big);
	assert_int_equal(screens_health(s, 0, &h), 0);
	assert_int_equal(h.version_wanted, 3);
	assert_true(h.in_flight); /* version 1 went at once; 3 waits */
	assert_true(h.pending);
	assert_int_equal(h.attempts, 1);
	screens_free(s); /* with a request started: no callback, nothing leaked */
	screens_free(NULL);
	loop_free(l);
}

static void test_shown(void **state)
{
	struct srv v = {0};
	char url[64];
	struct screen_cfg cfg = {"scr-0", url, "dairy"};
	struct screen_health h;
	struct post p[8];
	int64_t t0;

	srv_start(&v, "shown", 0, 0, false);
	url_of(url, sizeof(url), v.port);
	host_new(&cfg, 1, NULL);
	t0 = now_mono_ms();
	assert_int_equal(screens_push(H.s, 0, 7, content(0, "1290")), 0);
	run_until_results(0, 1, 3000);
	assert_int_equal(H.recs[0].r.outcome, SCREEN_SHOWN);
	assert_int_equal(H.recs[0].r.status, 0);
	assert_int_equal(H.recs[0].r.http_code, 200);
	assert_int_equal(H.recs[0].r.version, 7);
	assert_string_equal(H.recs[0].error, "");
	assert_true(H.recs[0].at - t0 < 500);
	h = health(0);
	assert_int_equal(h.state, SCREEN_OK);
	assert_int_equal(h.version_shown, 7);
	assert_int_equal(h.version_wanted, 7);
	assert_int_equal(h.attempts, 1);
	assert_int_equal(h.consecutive_failures, 0);
	assert_true(h.last_success_ms > 0 && h.last_error_ms == 0);
	assert_true(h.last_latency_ms >= 0 && h.last_latency_ms < 500);
	assert_false(h.in_flight || h.pending);
	assert_int_equal(H.nchg, 1);
	assert_int_equal(H.chgs[0].from, SCREEN_NEVER);
	assert_int_equal(H.chgs[0].to, SCREEN_OK);
	/* The screen validated the body: the version is in it, first. */
	assert_int_equal(srv_wait_posts(&v, p, 8, 1), 1);
	assert_int_equal(p[0].version, 7);
	assert_int_equal(p[0].status, 200);
	/* A second push goes on the kept-alive connection. */
	assert_int_equal(screens_push(H.s, 0, 8, content(0, "1190")), 0);
	run_until_results(0, 2, 3000);
	assert_int_equal(H.recs[1].r.outcome, SCREEN_SHOWN);
	assert_int_equal(health(0).version_shown, 8);
	assert_int_equal(H.nchg, 1);
	host_free();
	srv_stop(&v);
}

enum { HEALTHY, SLOW, DEAD, BROKEN, NSCR };

/*
 * Four screens: the healthy one shows every push within 100 ms however the
 * others fare; the dead one and the broken one retry at 200, 400, 800, 1600
 * ms intervals and recover once a server answers on their port.
 */
static void test_four_screens(void **state)
{
	struct srv v[NSCR] = {0};
	char url[NSCR][64];
	struct screen_cfg cfg[NSCR] = {
		{"healthy", url[HEALTHY], "dairy"},
		{"slow", url[SLOW], "dairy"},
		{"dead", url[DEAD], "bakery"},
		{"broken", url[BROKEN], "bakery"},
	};
	struct screens_opts o = {.backoff_min_ms = 200, .backoff_max_ms = 1600};
	struct post p[64];
	int dead = dead_port(), n, k;
	int64_t t0, t1, t_v2, wall0;
	struct rec *r;

	srv_start(&v[HEALTHY], "healthy", 0, 0, false);
	srv_start(&v[SLOW], "slow", 0, 1500, false);
	srv_start(&v[BROKEN], "broken", 0, 0, true);
	url_of(url[HEALTHY], sizeof(url[0]), v[HEALTHY].port);
	url_of(url[SLOW], sizeof(url[0]), v[SLOW].port);
	url_of(url[DEAD], sizeof(url[0]), dead);
	url_of(url[BROKEN], sizeof(url[0]), v[BROKEN].port);
	host_new(cfg, NSCR, &o);

	wall0 = now_wall_ms();
	t0 = now_mono_ms();
	for (int i = 0; i < NSCR; i++)
		assert_int_equal(screens_push(H.s, (size_t)i, 1, content(i, "1290")), 0);
	run_until_results(HEALTHY, 1, 1000);
	r = nth_result(HEALTHY, 0);
	print_message("healthy shown after %" PRId64 " ms\n", r->at - t0);
	assert_int_equal(r->r.outcome, SCREEN_SHOWN);
	assert_true(r->at - t0 < 100);
	assert_int_equal(srv_wait_posts(&v[HEALTHY], p, 64, 1), 1);
	assert_true(p[0].t_arrival * 1000.0 - (double)wall0 < 100.0);

	/* Mid-way, with the slow one busy and the others backing off: v2. */
	run_for(1000 - (now_mono_ms() - t0));
	t1 = t_v2 = now_mono_ms();
	for (int i = 0; i < NSCR; i++)
		assert_int_equal(screens_push(H.s, (size_t)i, 2, content(i, "1190")), 0);
	run_until_results(HEALTHY, 2, 1000);
	r = nth_result(HEALTHY, 1);
	print_message("healthy shown v2 after %" PRId64 " ms\n", r->at - t1);
	assert_int_equal(r->r.outcome, SCREEN_SHOWN);
	assert_int_equal(r->r.version, 2);
	assert_true(r->at - t1 < 100);

	/* Up to t0 + 3.2 s: attempts at 0, .2, .6, 1.4, 3.0 s. */
	run_for(3200 - (now_mono_ms() - t0));
	for (int i = DEAD; i <= BROKEN; i++) {
		struct screen_health h = health((size_t)i);

		n = count_results((size_t)i, SCREEN_RETRY);
		print_message("%s: %d attempts in 3.2 s, retry in %" PRId64 " ms: %s\n",
			      cfg[i].name, n, h.retry_in_ms, h.last_error);
		assert_int_equal(count_results((size_t)i, -1), n);
		assert_true(n >= 4 && n <= 5);
		assert_int_equal(h.state, SCREEN_FAILING);
		assert_int_equal(h.consecutive_failures, (uint64_t)n);
		assert_int_equal(h.attempts, (uint64_t)n);
		assert_true(h.pending);
		assert_false(h.in_flight); /* refused or 500 at once: waiting */
		assert_true(h.retry_in_ms > 0);
		assert_int_equal(h.version_shown, 0);
		/* The backoff doubles: 200, 400, 800 (ms) between results. */
		for (k = 1; k < n; k++) {
			struct rec *a = nth_result((size_t)i, k - 1), *b = nth_result((size_t)i, k);
			int64_t want = 200LL << (k - 1);

			assert_int_equal(a->r.retry_in_ms, want > 1600 ? 1600 : want);
			assert_true(b->at - a->at >= a->r.retry_in_ms - 5);
			assert_true(b->at - a->at < a->r.retry_in_ms + 150);
		}
	}
	r = nth_result(DEAD, 0);
	assert_int_equal(r->r.status, -ECONNREFUSED);
	assert_int_equal(r->r.http_code, 0);
	r = nth_result(BROKEN, 0);
	assert_int_equal(r->r.status, -EPROTO);
	assert_int_equal(r->r.http_code, 500);
	assert_non_null(strstr(r->error, "HTTP 500: screen failure"));
	/* Every attempt reached the broken one; v1 first, then only v2 (the newest). */
	n = srv_wait_posts(&v[BROKEN], p, 64, (int)count_results(BROKEN, -1));
	assert_int_equal(n, count_results(BROKEN, -1));
	for (k = 0; k < n; k++) {
		r = nth_result(BROKEN, k);
		assert_int_equal(p[k].status, 500);
		assert_int_equal(r->r.version, r->at < t_v2 ? 1 : 2);
	}
	/* The slow one: v1 after 1.5 s, then v2 (pushed during v1) after 3 s. */
	assert_int_equal(count_results(SLOW, SCREEN_SHOWN), 2);
	r = nth_result(SLOW, 0);
	assert_int_equal(r->r.version, 1);
	assert_true(r->r.latency_ms >= 1450);
	assert_int_equal(nth_result(SLOW, 1)->r.version, 2);
	assert_int_equal(health(SLOW).version_shown, 2);

	/* The screens come back: a server on the dead port, the broken one fixed. */
	srv_start(&v[DEAD], "dead", dead, 0, false);
	srv_stop(&v[BROKEN]);
	srv_start(&v[BROKEN], "fixed", v[BROKEN].port, 0, false);
	t1 = now_mono_ms();
	run_until_state(DEAD, SCREEN_OK, 3000);
	run_until_state(BROKEN, SCREEN_OK, 3000);
	print_message("recovered within %" PRId64 " ms of the servers' return\n",
		      now_mono_ms() - t1);
	for (int i = DEAD; i <= BROKEN; i++) {
		struct screen_health h = health((size_t)i);

		assert_int_equal(h.version_shown, 2);
		assert_int_equal(h.consecutive_failures, 0);
		assert_false(h.pending || h.in_flight || h.retry_in_ms);
		assert_true(h.last_error_ms > 0 && h.last_success_ms > h.last_error_ms);
	}
	/* State changes: never -> ok for two, never -> failing -> ok for two. */
	assert_int_equal(H.nchg, 6);
	for (int i = 0; i < H.nchg; i++) {
		struct chg *c = &H.chgs[i];

		if (c->index == HEALTHY || c->index == SLOW) {
			assert_int_equal(c->from, SCREEN_NEVER);
			assert_int_equal(c->to, SCREEN_OK);
		} else if (c->from == SCREEN_NEVER) {
			assert_int_equal(c->to, SCREEN_FAILING);
		} else {
			assert_int_equal(c->from, SCREEN_FAILING);
			assert_int_equal(c->to, SCREEN_OK);
		}
	}
	host_free();
	for (int i = 0; i < NSCR; i++)
		srv_stop(&v[i]);
}

/* v1..v5 pushed while v1 is on the wire to a slow screen: v1, then v5 only. */
static void test_coalesce(void **state)
{
	struct srv v = {0};
	char url[64];
	struct screen_cfg cfg = {"scr-0", url, "dairy"};
	struct post p[8];

	srv_start(&v, "coalesce", 0, 600, false);
	url_of(url, sizeof(url), v.port);
	host_new(&cfg, 1, NULL);
	assert_int_equal(screens_push(H.s, 0, 1, content(0, "100")), 0);
	run_for(100);
	assert_int_equal(screens_push(H.s, 0, 2, content(0, "200")), 0);
	assert_int_equal(screens_push(H.s, 0, 3, content(0, "300")), 0);
	run_for(50);
	assert_int_equal(screens_push(H.s, 0, 4, content(0, "400")), 0);
	assert_int_equal(screens_push(H.s, 0, 5, content(0, "500")), 0);
	assert_true(health(0).pending);
	run_until_results(0, 2, 4000);
	run_for(200); /* nothing else goes */
	assert_int_equal(H.nrec, 2);
	assert_int_equal(H.recs[0].r.version, 1);
	assert_int_equal(H.recs[1].r.version, 5);
	assert_int_equal(H.recs[1].r.outcome, SCREEN_SHOWN);
	assert_int_equal(srv_wait_posts(&v, p, 8, 2), 2);
	assert_int_equal(p[0].version, 1);
	assert_int_equal(p[1].version, 5);
	assert_int_equal(health(0).attempts, 2);
	assert_int_equal(health(0).version_shown, 5);
	host_free();
	srv_stop(&v);
}

/* A 400 is not retried; it makes the screen failing; the next push goes at once. */
static void test_rejected(void **state)
{
	struct srv v = {0};
	char url[64];
	struct screen_cfg cfg = {"scr-0", url, "dairy"};
	struct screens_opts o = {.backoff_min_ms = 50, .backoff_max_ms = 100};
	struct post p[8];
	struct screen_health h;
	int64_t t1;

	srv_start(&v, "rejected", 0, 0, false);
	url_of(url, sizeof(url), v.port);
	host_new(&cfg, 1, &o);
	assert_int_equal(screens_push(H.s, 0, 1, content(0, "\"12.90\"")), 0);
	run_until_results(0, 1, 3000);
	run_for(500); /* backoff is 50 ms: a retry would show */
	assert_int_equal(H.nrec, 1);
	assert_int_equal(H.recs[0].r.outcome, SCREEN_REJECTED);
	assert_int_equal(H.recs[0].r.status, -EPROTO);
	assert_int_equal(H.recs[0].r.http_code, 400);
	assert_int_equal(H.recs[0].r.retry_in_ms, 0);
	print_message("400: %s\n", H.recs[0].error);
	assert_non_null(strstr(H.recs[0].error, "HTTP 400: items[0].price"));
	h = health(0);
	assert_int_equal(h.state, SCREEN_FAILING);
	assert_false(h.pending || h.in_flight);
	assert_string_equal(h.last_error, H.recs[0].error);
	assert_int_equal(srv_wait_posts(&v, p, 8, 1), 1);

	t1 = now_mono_ms();
	assert_int_equal(screens_push(H.s, 0, 2, content(0, "1290")), 0);
	run_until_results(0, 2, 3000);
	assert_int_equal(H.recs[1].r.outcome, SCREEN_SHOWN);
	assert_true(H.recs[1].at - t1 < 100);
	assert_int_equal(health(0).state, SCREEN_OK);
	assert_int_equal(H.nchg, 2); /* never -> failing -> ok */
	assert_int_equal(H.chgs[1].from, SCREEN_FAILING);
	host_free();
	srv_stop(&v);
}

/*
 * A 409 (the gateway lost its counter): reported with the screen's shown
 * version, not retried; the host continues above it from the callback.
 */
static void test_stale(void **state)
{
	struct srv v = {0};
	char url[64];
	struct screen_cfg cfg = {"scr-0", url, "dairy"};
	struct screens_opts o = {.backoff_min_ms = 50, .backoff_max_ms = 100};
	struct post p[8];
	struct screen_health h;

	srv_start(&v, "stale", 0, 0, false);
	url_of(url, sizeof(url), v.port);
	host_new(&cfg, 1, &o);
	assert_int_equal(screens_push(H.s, 0, 10, content(0, "1290")), 0);
	run_until_results(0, 1, 3000);
	assert_int_equal(H.recs[0].r.outcome, SCREEN_SHOWN);
	host_free();

	host_new(&cfg, 1, &o); /* a gateway that starts over at 3 */
	H.push_above_stale = true;
	assert_int_equal(screens_push(H.s, 0, 3, content(0, "1290")), 0);
	run_until_results(0, 2, 3000);
	run_for(300);
	assert_int_equal(H.nrec, 2);
	assert_int_equal(H.recs[0].r.outcome, SCREEN_STALE);
	assert_int_equal(H.recs[0].r.status, -ESTALE);
	assert_int_equal(H.recs[0].r.http_code, 409);
	assert_int_equal(H.recs[0].r.version, 3);
	assert_int_equal(H.recs[0].r.shown, 10);
	assert_int_equal(H.push_rc, 0);
	assert_int_equal(H.recs[1].r.outcome, SCREEN_SHOWN);
	assert_int_equal(H.recs[1].r.version, 11);
	h = health(0);
	assert_int_equal(h.state, SCREEN_OK);
	assert_int_equal(h.version_shown, 11);
	assert_int_equal(h.attempts, 2);
	assert_non_null(strstr(h.last_error, "HTTP 409"));
	assert_int_equal(H.nchg, 1); /* a 409 is an answering screen: never -> ok */
	assert_int_equal(srv_wait_posts(&v, p, 8, 3), 3);
	assert_int_equal(p[1].version, 3);
	assert_int_equal(p[1].status, 409);
	assert_int_equal(p[2].version, 11);
	assert_int_equal(p[2].status, 200);
	host_free();
	srv_stop(&v);
}

/* A screen slower than timeout_ms: -ETIMEDOUT, retried after the backoff. */
static void test_timeout(void **state)
{
	struct srv v = {0};
	char url[64];
	struct screen_cfg cfg = {"scr-0", url, "dairy"};
	struct screens_opts o = {.timeout_ms = 300, .backoff_min_ms = 5000};
	struct screen_health h;
	int64_t t0;

	srv_start(&v, "timeout", 0, 1500, false);
	url_of(url, sizeof(url), v.port);
	host_new(&cfg, 1, &o);
	t0 = now_mono_ms();
	assert_int_equal(screens_push(H.s, 0, 1, content(0, "1290")), 0);
	run_until_results(0, 1, 3000);
	print_message("timed out after %" PRId64 " ms: %s\n", H.recs[0].at - t0, H.recs[0].error);
	assert_int_equal(H.recs[0].r.outcome, SCREEN_RETRY);
	assert_int_equal(H.recs[0].r.status, -ETIMEDOUT);
	assert_int_equal(H.recs[0].r.http_code, 0);
	assert_int_equal(H.recs[0].r.retry_in_ms, 5000);
	assert_true(H.recs[0].at - t0 >= 290 && H.recs[0].at - t0 < 800);
	h = health(0);
	assert_int_equal(h.state, SCREEN_FAILING);
	assert_int_equal(h.last_latency_ms, -1); /* no answer came */
	assert_true(h.pending && !h.in_flight);
	assert_true(h.retry_in_ms > 4000 && h.retry_in_ms <= 5000);
	/* A push during the backoff waits for it (replacing the content). */
	assert_int_equal(screens_push(H.s, 0, 2, content(0, "1190")), 0);
	run_for(200);
	assert_int_equal(H.nrec, 1);
	assert_int_equal(health(0).attempts, 1);
	host_free(); /* with a retry pending */
	srv_stop(&v);
}

/* screens_free with a request on the wire: no callback, no fd left. */
static void test_free_busy(void **state)
{
	struct srv v = {0};
	char url[64];
	struct screen_cfg cfg = {"scr-0", url, "dairy"};
	int fds;

	srv_start(&v, "busy", 0, 1500, false);
	url_of(url, sizeof(url), v.port);
	fds = open_fds();
	host_new(&cfg, 1, NULL);
	assert_int_equal(screens_push(H.s, 0, 1, content(0, "1290")), 0);
	run_for(100);
	assert_true(health(0).in_flight);
	screens_free(H.s);
	H.s = NULL;
	run_for(50);
	assert_int_equal(H.nrec, 0);
	loop_free(H.l);
	H.l = NULL;
	assert_int_equal(open_fds(), fds);
	srv_stop(&v);
}

static void sh(const char *cmd)
{
	if (system(cmd) != 0) {
		print_error("command failed: %s\n", cmd);
		fail();
	}
}

/*
 * https: a screen whose certificate chains to the configured CA is reached
 * (tests/unit/http_fixture.py answers a POST with 501, so it was reached
 * over TLS); with another CA the request fails on the certificate
 * and is retried.
 */
static void test_tls(void **state)
{
	static char fixture[PATH_MAX], portfile[PATH_MAX], cert[PATH_MAX], key[PATH_MAX],
		logf[PATH_MAX];
	const char *slash = strrchr(__FILE__, '/');
	const char *ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
	char cmd[1024], ca[PATH_MAX], other[PATH_MAX], url[64];
	char *argv[] = {"python3", fixture,  "--dir", tmpdir,  "--log", logf, "--port-file",
			portfile,  "--cert", cert,    "--key", key,	NULL};
	struct screen_cfg cfg = {"scr-0", url, "dairy"};
	struct screens_opts o = {.backoff_min_ms = 5000, .ca_file = ca};
	int port = 0, tls_port = 0;
	FILE *f = NULL;
	pid_t pid;

	pathf(cmd, sizeof(cmd),
	      "cd %s && openssl req -x509 %s -keyout ca.key -out ca.pem -days 2 "
	      "-subj /CN=screens-test-ca 2>/dev/null && "
	      "openssl req -x509 %s -keyout other.key -out other.pem -days 2 "
	      "-subj /CN=other-ca 2>/dev/null && "
	      "openssl req %s -keyout srv.key -out srv.csr -subj /CN=127.0.0.1 2>/dev/null && "
	      "printf 'subjectAltName=IP:127.0.0.1\\n' > ext.cnf && "
	      "openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
	      "-out srv.pem -days 2 -extfile ext.cnf 2>/dev/null",
	      tmpdir, ec, ec, ec);
	sh(cmd);
	pathf(ca, sizeof(ca), "%s/ca.pem", tmpdir);
	pathf(other, sizeof(other), "%s/other.pem", tmpdir);
	pathf(cert, sizeof(cert), "%s/srv.pem", tmpdir);
	pathf(key, sizeof(key), "%s/srv.key", tmpdir);
	pathf(logf, sizeof(logf), "%s/fixture.log", tmpdir);
	pathf(portfile, sizeof(portfile), "%s/ports", tmpdir);
	pathf(fixture, sizeof(fixture), "%.*s/http_fixture.py", (int)(slash ? slash - __FILE__ : 0),
	      __FILE__);
	assert_int_equal(posix_spawnp(&pid, "python3", NULL, NULL, argv, environ), 0);
	spawned[ARRAY_SIZE(spawned) - 1] = pid;
	for (int i = 0; i < 200 && !f; i++) {
		f = fopen(portfile, "r");
		if (!f)
			usleep(50 * 1000);
	}
	assert_non_null(f);
	assert_int_equal(fscanf(f, "%d %d", &port, &tls_port), 2);
	fclose(f);
	pathf(url, sizeof(url), "https://127.0.0.1:%d/content", tls_port);

	host_new(&cfg, 1, &o);
	assert_int_equal(screens_push(H.s, 0, 1, "{}"), 0);
	run_until_results(0, 1, 5000);
	assert_int_equal(H.recs[0].r.http_code, 501); /* an answer: TLS was fine */
	assert_int_equal(H.recs[0].r.status, -EPROTO);
	host_free();

	o.ca_file = other;
	host_new(&cfg, 1, &o);
	assert_int_equal(screens_push(H.s, 0, 1, "{}"), 0);
	run_until_results(0, 1, 5000);
	print_message("wrong CA: %s\n", H.recs[0].error);
	assert_int_equal(H.recs[0].r.outcome, SCREEN_RETRY);
	assert_int_equal(H.recs[0].r.status, -EIO);
	assert_non_null(strstr(H.recs[0].error, "certificate"));
	host_free();
	pid_stop(pid);
}

/* After each test: what a failed one left behind. */
static int test_teardown(void **state)
{
	if (H.s)
		screens_free(H.s);
	if (H.l)
		loop_free(H.l);
	H.s = NULL;
	H.l = NULL;
	for (size_t i = 0; i < ARRAY_SIZE(spawned); i++)
		pid_stop(spawned[i]);
	return 0;
}

static int setup(void **state)
{
	pathf(tmpdir, sizeof(tmpdir), "/tmp/test_screens.XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	if (tmpdir[0] && !getenv("KEEP_TMP")) {
		pathf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
		if (system(cmd) != 0)
			return -1;
	}
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_args, test_teardown),
		cmocka_unit_test_teardown(test_shown, test_teardown),
		cmocka_unit_test_teardown(test_four_screens, test_teardown),
		cmocka_unit_test_teardown(test_coalesce, test_teardown),
		cmocka_unit_test_teardown(test_rejected, test_teardown),
		cmocka_unit_test_teardown(test_stale, test_teardown),
		cmocka_unit_test_teardown(test_timeout, test_teardown),
		cmocka_unit_test_teardown(test_free_busy, test_teardown),
		cmocka_unit_test_teardown(test_tls, test_teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, setup, teardown);
}
