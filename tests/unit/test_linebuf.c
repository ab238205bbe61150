/*
 * test_linebuf: the bounded line splitter (chunk boundaries, byte-by-byte
 * feeding, CRLF split across chunks, lines of exactly max and max + 1 bytes,
 * resync, empty lines, NUL bytes, reset) and, through a pseudo-terminal,
 * the serial module (raw 8N1 setup, non-blocking reads, writes, EOF when
 * the other end goes away).
 *
 * The Makefile links this test with linebuf.o only, so serial.c is compiled
 * into it directly below.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <cmocka.h>

#include "linebuf.h"
#include "serial.h"
#include "util.h"

#define MAX_RECS 256

struct rec {
	char *data; /* copy of the line, NULL when too_long */
	size_t len;
	uint64_t line_no;
	bool too_long;
};

struct sink {
	struct rec recs[MAX_RECS];
	size_t n;
};

static void sink_cb(void *arg, const char *line, size_t len, uint64_t line_no, bool too_long)
{
	struct sink *s = arg;
	struct rec *r;

	assert_true(s->n < MAX_RECS);
	r = &s->recs[s->n++];
	r->len = len;
	r->line_no = line_no;
	r->too_long = too_long;
	r->data = NULL;
	if (too_long) {
		assert_null(line);
		return;
	}
	assert_non_null(line);
	assert_int_equal(line[len], '\0');
	r->data = malloc(len + 1);
	assert_non_null(r->data);
	memcpy(r->data, line, len + 1);
}

static void sink_clear(struct sink *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->recs[i].data);
	s->n = 0;
}

static void assert_line(const struct sink *s, size_t i, const char *want, size_t len,
			uint64_t line_no)
{
	assert_true(i < s->n);
	assert_false(s->recs[i].too_long);
	assert_int_equal(s->recs[i].len, len);
	assert_memory_equal(s->recs[i].data, want, len);
	assert_int_equal(s->recs[i].line_no, line_no);
}

static void assert_too_long(const struct sink *s, size_t i, size_t len, uint64_t line_no)
{
	assert_true(i < s->n);
	assert_true(s->recs[i].too_long);
	assert_null(s->recs[i].data);
	assert_int_equal(s->recs[i].len, len);
	assert_int_equal(s->recs[i].line_no, line_no);
}

static void assert_same(const struct sink *a, const struct sink *b)
{
	assert_int_equal(a->n, b->n);
	for (size_t i = 0; i < a->n; i++) {
		assert_int_equal(a->recs[i].too_long, b->recs[i].too_long);
		assert_int_equal(a->recs[i].len, b->recs[i].len);
		assert_int_equal(a->recs[i].line_no, b->recs[i].line_no);
		if (!a->recs[i].too_long)
			assert_memory_equal(a->recs[i].data, b->recs[i].data, a->recs[i].len);
	}
}

/* Feed @data in chunks cut at @cut1 and @cut2 into a fresh linebuf of @max. */
static void feed_split(struct sink *s, size_t max, const char *data, size_t n, size_t cut1,
		       size_t cut2)
{
	struct linebuf lb;

	assert_int_equal(linebuf_init(&lb, max), 0);
	linebuf_feed(&lb, data, cut1, sink_cb, s);
	linebuf_feed(&lb, data + cut1, cut2 - cut1, sink_cb, s);
	linebuf_feed(&lb, data + cut2, n - cut2, sink_cb, s);
	linebuf_free(&lb);
}

static void test_basic(void **state)
{
	static const char in[] = "a\nbb\r\nccc\nno newline";
	struct sink s = {0};
	struct linebuf lb;

	assert_int_equal(linebuf_init(&lb, 16), 0);
	linebuf_feed(&lb, in, sizeof(in) - 1, sink_cb, &s);
	assert_int_equal(s.n, 3);
	assert_line(&s, 0, "a", 1, 1);
	assert_line(&s, 1, "bb", 2, 2);
	assert_line(&s, 2, "ccc", 3, 3);
	linebuf_feed(&lb, "!\n", 2, sink_cb, &s);
	assert_line(&s, 3, "no newline!", 11, 4);
	assert_int_equal(lb.line_no, 4);
	linebuf_free(&lb);
	sink_clear(&s);
}

static void test_byte_by_byte(void **state)
{
	static const char in[] = "first\r\nsecond\n\nthird\r\n";
	struct sink s = {0};
	struct linebuf lb;

	assert_int_equal(linebuf_init(&lb, 16), 0);
	for (size_t i = 0; i < sizeof(in) - 1; i++)
		linebuf_feed(&lb, in + i, 1, sink_cb, &s);
	assert_int_equal(s.n, 4);
	assert_line(&s, 0, "first", 5, 1);
	assert_line(&s, 1, "second", 6, 2);
	assert_line(&s, 2, "", 0, 3);
	assert_line(&s, 3, "third", 5, 4);
	linebuf_free(&lb);
	sink_clear(&s);
}

static void test_crlf_split(void **state)
{
	struct sink s = {0};
	struct linebuf lb;

	assert_int_equal(linebuf_init(&lb, 16), 0);
	linebuf_feed(&lb, "ab\r", 3, sink_cb, &s);
	assert_int_equal(s.n, 0);
	linebuf_feed(&lb, "\ncd\r", 4, sink_cb, &s);
	linebuf_feed(&lb, "\n", 1, sink_cb, &s);
	assert_int_equal(s.n, 2);
	assert_line(&s, 0, "ab", 2, 1);
	assert_line(&s, 1, "cd", 2, 2);
	/* A '\r' not before the '\n' is data; only one trailing '\r' goes. */
	linebuf_feed(&lb, "x\ry\r\r\n", 6, sink_cb, &s);
	assert_line(&s, 2, "x\ry\r", 4, 3);
	linebuf_free(&lb);
	sink_clear(&s);
}

static void test_exact_max(void **state)
{
	struct sink s = {0};
	struct linebuf lb;

	assert_int_equal(linebuf_init(&lb, 8), 0);
	linebuf_feed(&lb, "12345678\n", 9, sink_cb, &s);
	assert_line(&s, 0, "12345678", 8, 1);
	/* The terminator does not count against max, "\r\n" included. */
	linebuf_feed(&lb, "abcdefgh\r\n", 10, sink_cb, &s);
	assert_line(&s, 1, "abcdefgh", 8, 2);
	linebuf_feed(&lb, "ABCDEFGH\r", 9, sink_cb, &s);
	linebuf_feed(&lb, "\n", 1, sink_cb, &s);
	assert_line(&s, 2, "ABCDEFGH", 8, 3);
	assert_int_equal(s.n, 3);
	linebuf_free(&lb);
	sink_clear(&s);
}

static void test_too_long(void **state)
{
	struct sink s = {0};
	struct linebuf lb;

	assert_int_equal(linebuf_init(&lb, 8), 0);
	/* max + 1: reported once, with its length, then the stream resyncs. */
	linebuf_feed(&lb, "123456789\nok\n", 13, sink_cb, &s);
	assert_int_equal(s.n, 2);
	assert_too_long(&s, 0, 9, 1);
	assert_line(&s, 1, "ok", 2, 2);
	/* max + 1 with CRLF: the '\r' is not part of the length. */
	linebuf_feed(&lb, "123456789\r\nok\r\n", 15, sink_cb, &s);
	assert_too_long(&s, 2, 9, 3);
	assert_line(&s, 3, "ok", 2, 4);
	/* max bytes, then a '\r' that is not a terminator. */
	linebuf_feed(&lb, "12345678\rx\n", 11, sink_cb, &s);
	assert_too_long(&s, 4, 10, 5);
	assert_int_equal(s.n, 5);
	linebuf_free(&lb);
	sink_clear(&s);
}

static void test_too_long_bytewise(void **state)
{
	struct sink s = {0};
	struct linebuf lb;

	assert_int_equal(linebuf_init(&lb, 100), 0);
	for (int i = 0; i < 5000; i++)
		linebuf_feed(&lb, "x", 1, sink_cb, &s);
	assert_int_equal(s.n, 0); /* not reported before its newline */
	linebuf_feed(&lb, "\r", 1, sink_cb, &s);
	linebuf_feed(&lb, "\n", 1, sink_cb, &s);
	linebuf_feed(&lb, "after\n", 6, sink_cb, &s);
	assert_int_equal(s.n, 2);
	assert_too_long(&s, 0, 5000, 1);
	assert_line(&s, 1, "after", 5, 2);
	linebuf_free(&lb);
	sink_clear(&s);
}

static void test_empty_and_nul(void **state)
{
	static const char in[] = "\n\r\n\na\0b\n\0\n";
	struct sink s = {0};
	struct linebuf lb;

	assert_int_equal(linebuf_init(&lb, 8), 0);
	linebuf_feed(&lb, in, sizeof(in) - 1, sink_cb, &s);
	assert_int_equal(s.n, 5);
	assert_line(&s, 0, "", 0, 1);
	assert_line(&s, 1, "", 0, 2);
	assert_line(&s, 2, "", 0, 3);
	assert_line(&s, 3, "a\0b", 3, 4);
	assert_line(&s, 4, "\0", 1, 5);
	linebuf_free(&lb);
	sink_clear(&s);
}

static void test_reset(void **state)
{
	struct sink s = {0};
	struct linebuf lb;

	assert_int_equal(linebuf_init(&lb, 8), 0);
	linebuf_feed(&lb, "one\npart", 8, sink_cb, &s);
	linebuf_reset(&lb);
	linebuf_feed(&lb, "two\n", 4, sink_cb, &s);
	assert_int_equal(s.n, 2);
	assert_line(&s, 0, "one", 3, 1);
	assert_line(&s, 1, "two", 3, 2); /* line numbers keep counting */
	/* Reset in the middle of an over-long line: it is forgotten. */
	linebuf_feed(&lb, "waytoolongforthis", 17, sink_cb, &s);
	linebuf_reset(&lb);
	linebuf_feed(&lb, "x\n", 2, sink_cb, &s);
	assert_int_equal(s.n, 3);
	assert_line(&s, 2, "x", 1, 3);
	linebuf_free(&lb);
	linebuf_free(&lb); /* idempotent */
	linebuf_free(NULL);
	linebuf_feed(&lb, "ignored\n", 8, sink_cb, &s); /* after free: no-op */
	assert_int_equal(s.n, 3);
	sink_clear(&s);
}

static void test_zero_max(void **state)
{
	struct sink s = {0};
	struct linebuf lb;

	assert_int_equal(linebuf_init(&lb, 0), 0);
	linebuf_feed(&lb, "\na\n\r\n", 5, sink_cb, &s);
	assert_int_equal(s.n, 3);
	assert_line(&s, 0, "", 0, 1);
	assert_too_long(&s, 1, 1, 2);
	assert_line(&s, 2, "", 0, 3);
	linebuf_free(&lb);
	sink_clear(&s);
}

/* Every way of cutting a tricky stream into three chunks gives the same lines. */
static void test_all_splits(void **state)
{
	static const char in[] = "12345678\r\n123456789\r\n\r\nab\0c\r\r\n12345678\rz\nend\n";
	const size_t n = sizeof(in) - 1;
	struct sink whole = {0};

	feed_split(&whole, 8, in, n, n, n);
	assert_int_equal(whole.n, 6);
	assert_line(&whole, 0, "12345678", 8, 1);
	assert_too_long(&whole, 1, 9, 2);
	assert_line(&whole, 2, "", 0, 3);
	assert_line(&whole, 3, "ab\0c\r", 5, 4);
	assert_too_long(&whole, 4, 10, 5);
	assert_line(&whole, 5, "end", 3, 6);
	for (size_t i = 0; i <= n; i++) {
		for (size_t j = i; j <= n; j++) {
			struct sink s = {0};

			feed_split(&s, 8, in, n, i, j);
			assert_same(&whole, &s);
			sink_clear(&s);
		}
	}
	sink_clear(&whole);
}

/* A pty master standing in for the device; *@slave gets the slave's path. */
static int open_pty(char *slave, size_t sz)
{
	int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);

	assert_true(m >= 0);
	assert_int_equal(grantpt(m), 0);
	assert_int_equal(unlockpt(m), 0);
	assert_int_equal(ptsname_r(m, slave, sz), 0);
	return m;
}

static bool wait_in(int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	return poll(&p, 1, ms) > 0;
}

static void test_serial_baud(void **state)
{
	assert_true(serial_baud_valid(9600));
	assert_true(serial_baud_valid(115200));
	assert_true(serial_baud_valid(921600));
	assert_true(serial_baud_valid(4000000));
	assert_false(serial_baud_valid(0));
	assert_false(serial_baud_valid(4800));
	assert_false(serial_baud_valid(115201));
	assert_false(serial_baud_valid(4000001));
}

static void test_serial_open_errors(void **state)
{
	char slave[64];
	int m = open_pty(slave, sizeof(slave));

	assert_int_equal(serial_open(slave, 12345), -EINVAL);
	assert_int_equal(serial_open(NULL, 9600), -EINVAL);
	assert_int_equal(serial_open("/nonexistent/tty", 9600), -ENOENT);
	assert_int_equal(serial_open("/dev/null", 9600), -ENOTTY);
	close(m);
}

static void test_serial_pty(void **state)
{
	char slave[64], buf[64];
	struct termios t;
	size_t got = 0;
	int64_t deadline;
	ssize_t n;
	int m, fd;

	m = open_pty(slave, sizeof(slave));
	fd = serial_open(slave, 115200);
	assert_true(fd >= 0);
	assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	assert_int_equal(tcgetattr(fd, &t), 0);
	assert_int_equal(cfgetispeed(&t), B115200);
	assert_int_equal(cfgetospeed(&t), B115200);
	assert_int_equal(t.c_cflag & CSIZE, CS8);
	assert_int_equal(t.c_cflag & (PARENB | CSTOPB | CRTSCTS), 0);
	assert_int_equal(t.c_cflag & (CLOCAL | CREAD), CLOCAL | CREAD);
	assert_int_equal(t.c_iflag & (IXON | IXOFF | ICRNL | INLCR | ISTRIP), 0);
	assert_int_equal(t.c_lflag & (ICANON | ECHO | ISIG), 0);
	assert_int_equal(t.c_oflag & OPOST, 0);

	/* Nothing yet: non-blocking read says so. */
	assert_int_equal(serial_read(fd, buf, sizeof(buf)), 0);

	/* Device -> gateway: bytes arrive untranslated (no CR/NL mapping, no echo). */
	assert_int_equal(write(m, "hello\r\n\x03\x11", 9), 9);
	deadline = now_mono_ms() + 2000;
	while (got < 9 && now_mono_ms() < deadline) {
		wait_in(fd, 100);
		n = serial_read(fd, buf + got, sizeof(buf) - got);
		assert_true(n >= 0);
		got += (size_t)n;
	}
	assert_int_equal(got, 9);
	assert_memory_equal(buf, "hello\r\n\x03\x11", 9);

	/* Gateway -> device. */
	assert_int_equal(serial_write_all(fd, "pong\n", 5, 1000), 0);
	got = 0;
	deadline = now_mono_ms() + 2000;
	while (got < 5 && now_mono_ms() < deadline) {
		if (!wait_in(m, 100))
			continue;
		n = read(m, buf + got, sizeof(buf) - got);
		assert_true(n > 0);
		got += (size_t)n;
	}
	assert_int_equal(got, 5);
	assert_memory_equal(buf, "pong\n", 5);

	/* The device goes away: the next read reports it. */
	close(m);
	wait_in(fd, 1000);
	assert_int_equal(serial_read(fd, buf, sizeof(buf)), -EPIPE);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),	      cmocka_unit_test(test_byte_by_byte),
		cmocka_unit_test(test_crlf_split),    cmocka_unit_test(test_exact_max),
		cmocka_unit_test(test_too_long),      cmocka_unit_test(test_too_long_bytewise),
		cmocka_unit_test(test_empty_and_nul), cmocka_unit_test(test_reset),
		cmocka_unit_test(test_zero_max),      cmocka_unit_test(test_all_splits),
		cmocka_unit_test(test_serial_baud),   cmocka_unit_test(test_serial_open_errors),
		cmocka_unit_test(test_serial_pty),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
