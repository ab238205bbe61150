/*
 * test_fetch: the downloader against a real HTTP(S) server on 127.0.0.1
 * (tests/unit/http_fixture.py, spawned here), driven by our loop.
 *
 * Covers: a good download (content, sha256, no part left), a redirect and a
 * redirect loop, a wrong sha256 or size (-EBADMSG, nothing kept), a
 * truncated body then a resume with Range to the right file, too large by
 * Content-Length and by running count (-EFBIG, nothing past max kept), 404
 * (-EPROTO), a server that ignores Range (restart from 0), a 206 that stops
 * short, a part that is already whole (no request with expect_size; a 416
 * without; a 416 for another size restarts), cancel (no callback, part
 * kept), the low-speed and whole-transfer timeouts, connection refused,
 * argument checks and the job limit, fetch_free with transfers running, two
 * transfers at once with callbacks that start a fetch and free the module
 * (and no fd left open), https with the right CA, a wrong one and none (an
 * error naming the certificate).
 *
 * The fixture is found through $HTTP_FIXTURE or next to this file (run from
 * the top of the repository); certificates come from the openssl command.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
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
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "fetch.h"
#include "loop.h"
#include "util.h"

#define GOOD_SIZE (300 * 1024 + 17)
#define TRUNC_SIZE (200 * 1024 + 3)
#define NORANGE_SIZE (100 * 1024 + 5)

struct fx {
	char dir[64]; /* the test's temp dir */
	char www[PATH_MAX]; /* served files */
	char out[PATH_MAX]; /* downloads go here */
	char log[PATH_MAX]; /* the server's request log */
	char ca[PATH_MAX];
	char other_ca[PATH_MAX];
	int port;
	int tls_port;
	pid_t pid;
	unsigned char *good;
	char good_sha[65];
	unsigned char *trunc;
	char trunc_sha[65];
	unsigned char *norange;
	char norange_sha[65];
};

static struct fx fx;

extern char **environ;

static void sha_hex(const void *p, size_t n, char hex[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	assert_int_equal(EVP_Digest(p, n, md, &len, EVP_sha256(), NULL), 1);
	for (unsigned int i = 0; i < len; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

static unsigned char *pattern(size_t n, uint32_t seed)
{
	unsigned char *b = malloc(n);

	assert_non_null(b);
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		b[i] = (unsigned char)(seed >> 16);
	}
	return b;
}

static void write_file(const char *path, const void *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, p, n), (ssize_t)n);
	close(fd);
}

/* Whole file into a malloc'd buffer; NULL if it does not exist. */
static unsigned char *read_file(const char *path, size_t *n)
{
	struct stat st;
	unsigned char *b;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return NULL;
	assert_int_equal(fstat(fd, &st), 0);
	b = malloc((size_t)st.st_size + 1);
	assert_non_null(b);
	assert_int_equal(read(fd, b, (size_t)st.st_size), st.st_size);
	close(fd);
	*n = (size_t)st.st_size;
	return b;
}

static bool exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

static long long file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

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

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	assert_true(n > 0 && (size_t)n < sizeof(cmd));
	if (system(cmd) != 0) {
		print_error("command failed: %s\n", cmd);
		fail();
	}
}

/* The number of request-log lines equal to @line, or all lines if NULL. */
static int log_count(const char *line)
{
	char buf[1024];
	int n = 0;
	FILE *f = fopen(fx.log, "r");

	if (!f)
		return 0;
	while (fgets(buf, sizeof(buf), f)) {
		buf[strcspn(buf, "\n")] = '\0';
		if (!line || !strcmp(buf, line))
			n++;
	}
	fclose(f);
	return n;
}

static void fixture_path(char *out, size_t sz)
{
	const char *env = getenv("HTTP_FIXTURE");
	const char *slash = strrchr(__FILE__, '/');

	if (env) {
		pathf(out, sz, "%s", env);
		return;
	}
	if (slash)
		pathf(out, sz, "%.*s/http_fixture.py", (int)(slash - __FILE__), __FILE__);
	else
		pathf(out, sz, "http_fixture.py");
}

static void make_certs(void)
{
	const char *ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";

	sh("cd %s && openssl req -x509 %s -keyout ca.key -out ca.pem -days 2 "
	   "-subj /CN=shelfd-test-ca 2>/dev/null",
	   fx.dir, ec);
	sh("cd %s && openssl req -x509 %s -keyout other.key -out other.pem -days 2 "
	   "-subj /CN=other-ca 2>/dev/null",
	   fx.dir, ec);
	sh("cd %s && openssl req %s -keyout srv.key -out srv.csr -subj /CN=127.0.0.1 2>/dev/null "
	   "&& printf 'subjectAltName=IP:127.0.0.1\\n' > ext.cnf "
	   "&& openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
	   "-out srv.pem -days 2 -extfile ext.cnf 2>/dev/null",
	   fx.dir, ec);
	pathf(fx.ca, sizeof(fx.ca), "%s/ca.pem", fx.dir);
	pathf(fx.other_ca, sizeof(fx.other_ca), "%s/other.pem", fx.dir);
}

static void start_server(void)
{
	static char script[PATH_MAX], portfile[PATH_MAX], cert[PATH_MAX], key[PATH_MAX];
	char *argv[] = {"python3", script,   "--dir", fx.www,  "--log", fx.log, "--port-file",
			portfile,  "--cert", cert,    "--key", key,	NULL};
	FILE *f = NULL;

	fixture_path(script, sizeof(script));
	if (!exists(script)) {
		print_error("fixture not found: %s (set HTTP_FIXTURE)\n", script);
		fail();
	}
	pathf(portfile, sizeof(portfile), "%s/ports", fx.dir);
	pathf(cert, sizeof(cert), "%s/srv.pem", fx.dir);
	pathf(key, sizeof(key), "%s/srv.key", fx.dir);
	/* posix_spawn, not fork: a forked child hangs under qemu-user. */
	assert_int_equal(posix_spawnp(&fx.pid, "python3", NULL, NULL, argv, environ), 0);
	for (int i = 0; i < 200 && !f; i++) {
		int wst;

		f = fopen(portfile, "r");
		if (f)
			break;
		if (waitpid(fx.pid, &wst, WNOHANG) == fx.pid) {
			print_error("fixture exited (status %d) before listening\n", wst);
			fx.pid = 0;
			fail();
		}
		usleep(50 * 1000);
	}
	assert_non_null(f);
	assert_int_equal(fscanf(f, "%d %d", &fx.port, &fx.tls_port), 2);
	fclose(f);
}

static int setup(void **state)
{
	char p[PATH_MAX];

	pathf(fx.dir, sizeof(fx.dir), "/tmp/test_fetch.XXXXXX");
	if (!mkdtemp(fx.dir))
		return -1;
	pathf(fx.www, sizeof(fx.www), "%s/www", fx.dir);
	pathf(fx.out, sizeof(fx.out), "%s/out", fx.dir);
	pathf(fx.log, sizeof(fx.log), "%s/requests.log", fx.dir);
	if (mkdir(fx.www, 0755) || mkdir(fx.out, 0755))
		return -1;
	fx.good = pattern(GOOD_SIZE, 1);
	sha_hex(fx.good, GOOD_SIZE, fx.good_sha);
	pathf(p, sizeof(p), "%s/good.bin", fx.www);
	write_file(p, fx.good, GOOD_SIZE);
	fx.trunc = pattern(TRUNC_SIZE, 2);
	sha_hex(fx.trunc, TRUNC_SIZE, fx.trunc_sha);
	pathf(p, sizeof(p), "%s/truncated", fx.www);
	write_file(p, fx.trunc, TRUNC_SIZE);
	fx.norange = pattern(NORANGE_SIZE, 3);
	sha_hex(fx.norange, NORANGE_SIZE, fx.norange_sha);
	pathf(p, sizeof(p), "%s/norange", fx.www);
	write_file(p, fx.norange, NORANGE_SIZE);
	make_certs();
	start_server();
	return 0;
}

static int teardown(void **state)
{
	if (fx.pid > 0) {
		kill(fx.pid, SIGTERM);
		waitpid(fx.pid, NULL, 0);
	}
	if (fx.dir[0] && !getenv("KEEP_TMP"))
		sh("rm -rf '%s'", fx.dir);
	free(fx.good);
	free(fx.trunc);
	free(fx.norange);
	return 0;
}

/* ---- driving one download through the loop ---- */

struct res {
	struct loop *l;
	int calls;
	int status;
	char why[256];
	uint64_t bytes;
	bool guard_fired;
};

static void on_done(void *arg, int status, const char *why, uint64_t bytes)
{
	struct res *r = arg;

	r->calls++;
	r->status = status;
	r->bytes = bytes;
	str_copy(r->why, sizeof(r->why), why);
	loop_stop(r->l);
}

static void on_guard(struct loop *l, void *arg)
{
	struct res *r = arg;

	r->guard_fired = true;
	loop_stop(l);
}

static void req_init(struct fetch_req *q, const char *path, const char *dest_name)
{
	static char url[256], dest[PATH_MAX];

	pathf(url, sizeof(url), "http://127.0.0.1:%d%s", fx.port, path);
	pathf(dest, sizeof(dest), "%s/%s", fx.out, dest_name);
	memset(q, 0, sizeof(*q));
	q->url = url;
	q->dest = dest;
	q->max_bytes = 1 << 20;
	q->timeout_s = 20;
}

/* Run one fetch to its callback (or @limit_ms). */
static void run_fetch(const struct fetch_req *q, struct res *r, int64_t limit_ms)
{
	struct loop *l = loop_new();
	struct fetch *f = NULL;
	int id = 0;

	assert_non_null(l);
	memset(r, 0, sizeof(*r));
	r->l = l;
	assert_int_equal(fetch_new(l, &f), 0);
	assert_int_equal(fetch_start(f, q, on_done, r, &id), 0);
	assert_true(id > 0);
	assert_true(loop_timer_add(l, limit_ms, on_guard, r) > 0);
	assert_int_equal(loop_run(l), 0);
	fetch_free(f);
	loop_free(l);
	assert_false(r->guard_fired);
	assert_int_equal(r->calls, 1);
}

static char *part_of(const char *dest)
{
	static char p[PATH_MAX];

	pathf(p, sizeof(p), "%s.part", dest);
	return p;
}

static void assert_file_is(const char *path, const unsigned char *want, size_t n)
{
	size_t got = 0;
	unsigned char *b = read_file(path, &got);

	assert_non_null(b);
	assert_int_equal(got, n);
	assert_memory_equal(b, want, n);
	free(b);
}

/* ---- tests ---- */

static void test_good(void **state)
{
	struct fetch_req q;
	struct res r;

	req_init(&q, "/good.bin", "good");
	q.expect_sha256 = fx.good_sha;
	q.expect_size = GOOD_SIZE;
	run_fetch(&q, &r, 10000);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.bytes, GOOD_SIZE);
	assert_file_is(q.dest, fx.good, GOOD_SIZE);
	assert_false(exists(part_of(q.dest)));
}

static void test_redirect(void **state)
{
	struct fetch_req q;
	struct res r;

	req_init(&q, "/redir", "redir");
	q.expect_sha256 = fx.good_sha;
	run_fetch(&q, &r, 10000);
	assert_int_equal(r.status, 0);
	assert_file_is(q.dest, fx.good, GOOD_SIZE);

	req_init(&q, "/redirloop", "loop");
	run_fetch(&q, &r, 10000);
	assert_int_equal(r.status, -EPROTO);
	assert_int_equal(log_count("GET /redirloop range=-"), 1 + 3);
	assert_false(exists(q.dest));
}

static void test_bad_sha(void **state)
{
	struct fetch_req q;
	struct res r;

	req_init(&q, "/good.bin", "badsha");
	q.expect_sha256 = "00000000000000000000000000000000000000000000000000000000000000ff";
	run_fetch(&q, &r, 10000);
	assert_int_equal(r.status, -EBADMSG);
	assert_non_null(strstr(r.why, "sha256"));
	assert_false(exists(q.dest));
	assert_false(exists(part_of(q.dest)));

	/* Same with the wrong size announced. */
	req_init(&q, "/good.bin", "badsize");
	q.expect_size = GOOD_SIZE - 1;
	run_fetch(&q, &r, 10000);
	assert_int_equal(r.status, -EBADMSG);
	assert_false(exists(q.dest));
	assert_false(exists(part_of(q.dest)));
}

static void test_truncated_then_resume(void **state)
{
	char line[128];
	struct fetch_req q;
	struct res r;

	req_init(&q, "/truncated", "trunc");
	q.expect_sha256 = fx.trunc_sha;
	run_fetch(&q, &r, 10000);
	assert_true(r.status < 0);
	assert_int_not_equal(r.status, -EBADMSG);
	assert_int_equal(r.bytes, TRUNC_SIZE / 2);
	assert_false(exists(q.dest));
	assert_int_equal(file_size(part_of(q.dest)), TRUNC_SIZE / 2);

	run_fetch(&q, &r, 10000);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.bytes, TRUNC_SIZE);
	pathf(line, sizeof(line), "GET /truncated range=bytes=%d-", TRUNC_SIZE / 2);
	assert_int_equal(log_count(line), 1);
	assert_file_is(q.dest, fx.trunc, TRUNC_SIZE);
	assert_false(exists(part_of(q.dest)));
}

static void test_too_big(void **state)
{
	struct fetch_req q;
	struct res r;

	/* By Content-Length: refused before any byte. */
	req_init(&q, "/big", "big");
	q.max_bytes = 64 * 1024;
	run_fetch(&q, &r, 10000);
	assert_int_equal(r.status, -EFBIG);
	assert_int_equal(r.bytes, 0);
	assert_false(exists(q.dest));
	assert_true(file_size(part_of(q.dest)) <= 64 * 1024);

	/* No Content-Length: by the running count. */
	req_init(&q, "/bignolen", "bignolen");
	q.max_bytes = 64 * 1024;
	run_fetch(&q, &r, 10000);
	assert_int_equal(r.status, -EFBIG);
	assert_true(r.bytes <= 64 * 1024);
	assert_false(exists(q.dest));
	assert_true(file_size(part_of(q.dest)) <= 64 * 1024);
}

static void test_404(void **state)
{
	struct fetch_req q;
	struct res r;

	req_init(&q, "/404", "nf");
	run_fetch(&q, &r, 10000);
	assert_int_equal(r.status, -EPROTO);
	assert_string_equal(r.why, "HTTP 404");
	assert_false(exists(q.dest));
}

static void test_norange_restarts(void **state)
{
	unsigned char junk[5000];
	struct fetch_req q;
	struct res r;

	req_init(&q, "/norange", "norange");
	q.expect_sha256 = fx.norange_sha;
	memset(junk, 'x', sizeof(junk));
	write_file(part_of(q.dest), junk, sizeof(junk));
	run_fetch(&q, &r, 10000);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.bytes, NORANGE_SIZE);
	assert_int_equal(log_count("GET /norange range=bytes=5000-"), 1);
	assert_file_is(q.dest, fx.norange, NORANGE_SIZE);
}

/* A 206 that ends before the total it announced is not a whole file. */
static void test_short_range(void **state)
{
	struct fetch_req q;
	struct res r;

	req_init(&q, "/shortrange", "short");
	q.expect_sha256 = fx.good_sha;
	write_file(part_of(q.dest), fx.good, 1000);
	run_fetch(&q, &r, 10000);
	assert_int_equal(r.status, -EPROTO);
	assert_int_equal(r.bytes, 1010);
	assert_false(exists(q.dest));
}

static void test_part_already_whole(void **state)
{
	struct fetch_req q;
	struct res r;
	unsigned char *longer;
	int before;

	/* With expect_size: no request at all. */
	req_init(&q, "/good.bin", "whole1");
	q.expect_sha256 = fx.good_sha;
	q.expect_size = GOOD_SIZE;
	write_file(part_of(q.dest), fx.good, GOOD_SIZE);
	before = log_count(NULL);
	run_fetch(&q, &r, 10000);
	assert_int_equal(r.status, 0);
	assert_int_equal(log_count(NULL), before);
	assert_file_is(q.dest, fx.good, GOOD_SIZE);

	/* Without: the server's 416 "bytes * /size" says it is whole. */
	req_init(&q, "/good.bin", "whole2");
	q.expect_sha256 = fx.good_sha;
	write_file(part_of(q.dest), fx.good, GOOD_SIZE);
	run_fetch(&q, &r, 10000);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.bytes, GOOD_SIZE);
	assert_file_is(q.dest, fx.good, GOOD_SIZE);
	assert_false(exists(part_of(q.dest)));

	/* A stale part longer than the file: 416 for another size, restart. */
	req_init(&q, "/good.bin", "whole3");
	q.expect_sha256 = fx.good_sha;
	longer = pattern(GOOD_SIZE + 10, 9);
	write_file(part_of(q.dest), longer, GOOD_SIZE + 10);
	free(longer);
	run_fetch(&q, &r, 10000);
	assert_int_equal(r.status, 0);
	assert_file_is(q.dest, fx.good, GOOD_SIZE);
}

struct cancel_ctx {
	struct loop *l;
	struct fetch *f;
	int id;
	const char *part;
	int polls;
	bool cancelled;
	int calls;
};

static void on_cancel_done(void *arg, int status, const char *why, uint64_t bytes)
{
	struct cancel_ctx *c = arg;

	c->calls++;
}

static void on_poll(struct loop *l, void *arg)
{
	struct cancel_ctx *c = arg;

	if (c->cancelled || ++c->polls > 200) {
		loop_stop(l);
		return;
	}
	if (file_size(c->part) >= 1000) {
		fetch_cancel(c->f, c->id);
		fetch_cancel(c->f, c->id); /* twice: harmless */
		c->cancelled = true;
		/* Let the loop run a while: no callback may come. */
		assert_true(loop_timer_add(l, 500, on_poll, c) > 0);
		return;
	}
	assert_true(loop_timer_add(l, 20, on_poll, c) > 0);
}

static void test_cancel(void **state)
{
	struct cancel_ctx c = {0};
	struct fetch_req q;

	req_init(&q, "/slow", "slow");
	q.expect_sha256 = fx.good_sha;
	c.l = loop_new();
	c.part = part_of(q.dest);
	assert_non_null(c.l);
	assert_int_equal(fetch_new(c.l, &c.f), 0);
	assert_int_equal(fetch_start(c.f, &q, on_cancel_done, &c, &c.id), 0);
	assert_true(loop_timer_add(c.l, 20, on_poll, &c) > 0);
	assert_int_equal(loop_run(c.l), 0);
	assert_true(c.cancelled);
	assert_int_equal(c.calls, 0);
	fetch_free(c.f);
	loop_free(c.l);
	assert_int_equal(file_size(c.part), 1000);
	assert_false(exists(q.dest));
}

static void test_low_speed_timeout(void **state)
{
	struct fetch_req q;
	struct res r;
	int64_t t0 = now_mono_ms();

	req_init(&q, "/slow", "slow2");
	q.low_speed_s = 1;
	run_fetch(&q, &r, 20000);
	assert_int_equal(r.status, -ETIMEDOUT);
	/* libcurl averages the speed over a few seconds: the burst counts. */
	assert_true(now_mono_ms() - t0 < 12000);
	assert_true(file_size(part_of(q.dest)) >= 1000);
	assert_int_equal(file_size(part_of(q.dest)), (long long)r.bytes);

	req_init(&q, "/slow", "slow3");
	q.timeout_s = 1;
	t0 = now_mono_ms();
	run_fetch(&q, &r, 10000);
	assert_int_equal(r.status, -ETIMEDOUT);
	assert_true(now_mono_ms() - t0 < 3000);
}

static void test_refused(void **state)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	char url[128], dest[PATH_MAX];
	struct fetch_req q = {.url = url, .dest = dest, .max_bytes = 1000, .timeout_s = 10};
	struct res r;
	int s = socket(AF_INET, SOCK_STREAM, 0);

	/* A port that was free a moment ago and has no listener. */
	assert_true(s >= 0);
	assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&sa, &len), 0);
	close(s);
	pathf(url, sizeof(url), "http://127.0.0.1:%d/x", ntohs(sa.sin_port));
	pathf(dest, sizeof(dest), "%s/refused", fx.out);
	run_fetch(&q, &r, 10000);
	assert_int_equal(r.status, -ECONNREFUSED);
	assert_true(r.why[0] != '\0');
}

static void never_cb(void *arg, int status, const char *why, uint64_t bytes)
{
	fail();
}

static void stop_cb(struct loop *l, void *arg)
{
	loop_stop(l);
}

static void test_args_and_limits(void **state)
{
	struct loop *l = loop_new();
	struct fetch *f = NULL;
	struct fetch_req q, bad;
	char dests[FETCH_MAX_JOBS + 1][PATH_MAX];
	char longurl[FETCH_URL_MAX + 16];
	int id = 0;

	assert_non_null(l);
	assert_int_equal(fetch_new(l, &f), 0);
	req_init(&q, "/slow", "lim");

	bad = q;
	bad.url = "ftp://127.0.0.1/x";
	assert_int_equal(fetch_start(f, &bad, never_cb, NULL, &id), -EINVAL);
	bad = q;
	bad.url = "http://";
	assert_int_equal(fetch_start(f, &bad, never_cb, NULL, &id), -EINVAL);
	bad = q;
	memset(longurl, 'a', sizeof(longurl) - 1);
	longurl[sizeof(longurl) - 1] = '\0';
	memcpy(longurl, "http://", 7);
	bad.url = longurl;
	assert_int_equal(fetch_start(f, &bad, never_cb, NULL, &id), -EINVAL);
	bad = q;
	bad.dest = NULL;
	assert_int_equal(fetch_start(f, &bad, never_cb, NULL, &id), -EINVAL);
	bad = q;
	bad.max_bytes = 0;
	assert_int_equal(fetch_start(f, &bad, never_cb, NULL, &id), -EINVAL);
	bad = q;
	bad.expect_size = q.max_bytes + 1;
	assert_int_equal(fetch_start(f, &bad, never_cb, NULL, &id), -EINVAL);
	bad = q;
	bad.expect_sha256 = "ABCDEF";
	assert_int_equal(fetch_start(f, &bad, never_cb, NULL, &id), -EINVAL);
	bad = q;
	bad.expect_sha256 = "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855";
	assert_int_equal(fetch_start(f, &bad, never_cb, NULL, &id), -EINVAL);
	assert_int_equal(fetch_start(f, &q, NULL, NULL, &id), -EINVAL);
	bad = q;
	bad.dest = "/nonexistent-dir/x";
	assert_int_equal(fetch_start(f, &bad, never_cb, NULL, &id), -ENOENT);

	for (int i = 0; i <= FETCH_MAX_JOBS; i++) {
		pathf(dests[i], sizeof(dests[i]), "%s/lim%d", fx.out, i);
		bad = q;
		bad.dest = dests[i];
		assert_int_equal(fetch_start(f, &bad, never_cb, NULL, &id),
				 i < FETCH_MAX_JOBS ? 0 : -EBUSY);
		if (i == 0) {
			/* The same dest twice would interleave writes. */
			assert_int_equal(fetch_start(f, &bad, never_cb, NULL, &id), -EBUSY);
		}
	}
	/* Let them connect and stream a little, then free everything. */
	assert_true(loop_timer_add(l, 300, stop_cb, NULL) > 0);
	assert_int_equal(loop_run(l), 0);
	fetch_free(f);
	fetch_free(NULL);
	loop_free(l);
}

static int count_fds(void)
{
	int n = 0;
	char path[64];

	for (int fd = 0; fd < 1024; fd++) {
		pathf(path, sizeof(path), "/proc/self/fd/%d", fd);
		n += access(path, F_OK) == 0;
	}
	return n;
}

struct chain;

struct link {
	struct chain *c;
	int i;
};

struct chain {
	struct loop *l;
	struct fetch *f;
	struct fetch_req q[3];
	struct link link[3];
	int done[3];
	int status[3];
};

static void on_chain_done(void *arg, int status, const char *why, uint64_t bytes);

static void chain_start(struct chain *c, int i)
{
	c->link[i] = (struct link){c, i};
	assert_int_equal(fetch_start(c->f, &c->q[i], on_chain_done, &c->link[i], NULL), 0);
}

/*
 * Jobs 0 and 1 run together; 0's callback starts 2; the last callback (2's
 * or 1's: under qemu 2 can end first) frees the module from inside it.
 */
static void on_chain_done(void *arg, int status, const char *why, uint64_t bytes)
{
	struct link *k = arg;
	struct chain *c = k->c;

	c->done[k->i]++;
	c->status[k->i] = status;
	if (k->i == 0)
		chain_start(c, 2);
	if (c->done[0] + c->done[1] + c->done[2] == 3) {
		fetch_free(c->f);
		c->f = NULL;
		loop_stop(c->l);
	}
}

static void test_parallel_and_reentry(void **state)
{
	struct chain c = {0};
	char dest[3][PATH_MAX], url[256];
	int fds = count_fds();

	c.l = loop_new();
	assert_non_null(c.l);
	assert_int_equal(fetch_new(c.l, &c.f), 0);
	pathf(url, sizeof(url), "http://127.0.0.1:%d/good.bin", fx.port);
	for (int i = 0; i < 3; i++) {
		pathf(dest[i], sizeof(dest[i]), "%s/chain%d", fx.out, i);
		c.q[i] = (struct fetch_req){.url = url,
					    .dest = dest[i],
					    .max_bytes = 1 << 20,
					    .expect_sha256 = fx.good_sha};
	}
	chain_start(&c, 0);
	chain_start(&c, 1);
	assert_true(loop_timer_add(c.l, 10000, stop_cb, NULL) > 0);
	assert_int_equal(loop_run(c.l), 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(c.done[i], 1);
		assert_int_equal(c.status[i], 0);
		assert_file_is(dest[i], fx.good, GOOD_SIZE);
	}
	assert_null(c.f);
	loop_free(c.l);
	/* Every socket and file the module opened is closed again. */
	assert_int_equal(count_fds(), fds);
}

static void test_https(void **state)
{
	char url[256];
	struct fetch_req q;
	struct res r;

	req_init(&q, "/", "tls");
	pathf(url, sizeof(url), "https://127.0.0.1:%d/good.bin", fx.tls_port);
	q.url = url;
	q.ca_file = fx.ca;
	q.expect_sha256 = fx.good_sha;
	run_fetch(&q, &r, 10000);
	assert_int_equal(r.status, 0);
	assert_file_is(q.dest, fx.good, GOOD_SIZE);

	req_init(&q, "/", "tls-wrong-ca");
	q.url = url;
	q.ca_file = fx.other_ca;
	run_fetch(&q, &r, 10000);
	assert_true(r.status < 0);
	print_message("wrong CA: %d %s\n", r.status, r.why);
	assert_non_null(strstr(r.why, "certificate"));
	assert_false(exists(q.dest));

	/* No CA given: the system store does not know our test CA either. */
	req_init(&q, "/", "tls-system");
	q.url = url;
	run_fetch(&q, &r, 10000);
	assert_true(r.status < 0);
	assert_non_null(strstr(r.why, "certificate"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_redirect),
		cmocka_unit_test(test_bad_sha),
		cmocka_unit_test(test_truncated_then_resume),
		cmocka_unit_test(test_too_big),
		cmocka_unit_test(test_404),
		cmocka_unit_test(test_norange_restarts),
		cmocka_unit_test(test_short_range),
		cmocka_unit_test(test_part_already_whole),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_low_speed_timeout),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_args_and_limits),
		cmocka_unit_test(test_parallel_and_reentry),
		cmocka_unit_test(test_https),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
