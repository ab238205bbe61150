/*
 * test_util: clocks, RFC 3339 format/parse, str_copy, parse_ll, dynbuf,
 * JSON string escaping, UTF-8 validation, and the logger (level parsing,
 * line format, per-site rate limiting).
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"
#include "util.h"

static void test_clocks(void **state)
{
	int64_t w = now_wall_ms();
	int64_t m1 = now_mono_ms(), m2 = now_mono_ms();

	assert_true(w > 1700000000000LL); /* after 2023 */
	assert_true(m2 >= m1);
}

static void test_ts_format(void **state)
{
	char buf[TS_BUFSZ];

	ts_format(0, buf);
	assert_string_equal(buf, "1970-01-01T00:00:00.000Z");
	ts_format(1795399200120LL, buf);
	assert_string_equal(buf, "2026-11-23T02:00:00.120Z");
	ts_format(1709251199999LL, buf);
	assert_string_equal(buf, "2024-02-29T23:59:59.999Z");
	ts_format(-1, buf);
	assert_string_equal(buf, "1969-12-31T23:59:59.999Z");
	ts_format(7, buf);
	assert_string_equal(buf, "1970-01-01T00:00:00.007Z");
	/* Beyond year 9999: clamped rather than malformed. */
	ts_format(INT64_MAX, buf);
	assert_int_equal(strlen(buf), 24);
}

static void test_ts_parse_ok(void **state)
{
	static const struct {
		const char *s;
		int64_t ms;
	} ok[] = {
		{"2026-11-23T02:00:00Z", 1795399200000LL},
		{"2026-11-23T02:00:00.1Z", 1795399200100LL},
		{"2026-11-23T02:00:00.12Z", 1795399200120LL},
		{"2026-11-23T02:00:00.120Z", 1795399200120LL},
		{"2026-11-23T02:00:00.1209999Z", 1795399200120LL},
		{"2026-11-23t02:00:00.120z", 1795399200120LL},
		{"2026-11-23T10:00:00+08:00", 1795399200000LL},
		{"2026-11-22T21:30:00.5-04:30", 1795399200500LL},
		{"2026-11-23T02:00:00+00:00", 1795399200000LL},
		{"2024-02-29T23:59:59.999Z", 1709251199999LL},
		{"1970-01-01T00:00:00Z", 0},
		{"1969-12-31T23:59:59.999Z", -1},
	};
	int64_t ms;

	for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
		ms = -12345;
		if (ts_parse(ok[i].s, &ms) != 0)
			fail_msg("rejected %s", ok[i].s);
		if (ms != ok[i].ms)
			fail_msg("%s -> %lld, want %lld", ok[i].s, (long long)ms,
				 (long long)ok[i].ms);
	}
}

static void test_ts_parse_bad(void **state)
{
	static const char *const bad[] = {
		"",
		"garbage",
		"2026-11-23",
		"2026-11-23T02:00:00", /* no zone */
		"2026-11-23T02:00Z", /* no seconds */
		"2026-11-23 02:00:00Z", /* space separator */
		"2026-11-23T02:00:00.Z", /* empty fraction */
		"2026-11-23T02:00:00ZZ", /* trailing garbage */
		"2026-11-23T02:00:00Z ", /* trailing space */
		" 2026-11-23T02:00:00Z", /* leading space */
		"2026-13-01T00:00:00Z", /* month */
		"2026-00-01T00:00:00Z", /* month */
		"2026-02-29T00:00:00Z", /* not a leap year */
		"2026-04-31T00:00:00Z", /* day */
		"2026-01-00T00:00:00Z", /* day */
		"2026-01-01T24:00:00Z", /* hour */
		"2026-01-01T00:60:00Z", /* minute */
		"2026-01-01T00:00:61Z", /* second */
		"2026-01-01T00:00:00+24:00",
		"2026-01-01T00:00:00+08:60",
		"2026-01-01T00:00:00+0800",
		"2026-01-01T00:00:00+8:00",
		"26-01-01T00:00:00Z",
		"2026-1-01T00:00:00Z",
		"2026-01-01T00:00:0aZ",
		"+2026-01-01T00:00:00Z",
	};
	int64_t ms = 42;

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		if (ts_parse(bad[i], &ms) != -EINVAL)
			fail_msg("accepted \"%s\"", bad[i]);
	}
	assert_int_equal(ms, 42);
	assert_int_equal(ts_parse(NULL, &ms), -EINVAL);
}

static void test_ts_roundtrip(void **state)
{
	char buf[TS_BUFSZ];
	int64_t ms, back;

	for (ms = -86400000LL * 400; ms < 4102444800000LL; ms += 86400000LL * 37 + 12345) {
		ts_format(ms, buf);
		assert_int_equal(ts_parse(buf, &back), 0);
		assert_int_equal(back, ms);
	}
}

static void test_str_copy(void **state)
{
	char buf[6];

	assert_int_equal(str_copy(buf, sizeof(buf), "hello"), 0);
	assert_string_equal(buf, "hello");
	assert_int_equal(str_copy(buf, sizeof(buf), "hello!"), -ENAMETOOLONG);
	assert_string_equal(buf, "hello");
	assert_int_equal(str_copy(buf, sizeof(buf), ""), 0);
	assert_string_equal(buf, "");
	assert_int_equal(str_copy(buf, 1, "x"), -ENAMETOOLONG);
	assert_string_equal(buf, "");
	assert_int_equal(str_copy(buf, 0, "x"), -ENAMETOOLONG);
}

static void test_parse_ll(void **state)
{
	long long v = 0;

	assert_int_equal(parse_ll("0", 0, 10, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(parse_ll("-42", -100, 100, &v), 0);
	assert_int_equal(v, -42);
	assert_int_equal(parse_ll("+7", 0, 10, &v), 0);
	assert_int_equal(v, 7);
	assert_int_equal(parse_ll("9223372036854775807", LLONG_MIN, LLONG_MAX, &v), 0);
	assert_true(v == LLONG_MAX);
	assert_int_equal(parse_ll("-9223372036854775808", LLONG_MIN, LLONG_MAX, &v), 0);
	assert_true(v == LLONG_MIN);
	v = 99;
	assert_int_equal(parse_ll("9223372036854775808", LLONG_MIN, LLONG_MAX, &v), -ERANGE);
	assert_int_equal(parse_ll("11", 0, 10, &v), -ERANGE);
	assert_int_equal(parse_ll("-1", 0, 10, &v), -ERANGE);
	assert_int_equal(parse_ll("", 0, 10, &v), -EINVAL);
	assert_int_equal(parse_ll("-", 0, 10, &v), -EINVAL);
	assert_int_equal(parse_ll(" 1", 0, 10, &v), -EINVAL);
	assert_int_equal(parse_ll("1 ", 0, 10, &v), -EINVAL);
	assert_int_equal(parse_ll("1x", 0, 10, &v), -EINVAL);
	assert_int_equal(parse_ll("0x10", 0, 100, &v), -EINVAL);
	assert_int_equal(parse_ll("1.0", 0, 10, &v), -EINVAL);
	assert_int_equal(parse_ll(NULL, 0, 10, &v), -EINVAL);
	assert_int_equal(v, 99);
}

static void test_dynbuf_basic(void **state)
{
	struct dynbuf d;

	dynbuf_init(&d, 10);
	assert_int_equal(d.len, 0);
	assert_int_equal(dynbuf_adds(&d, "hello"), 0);
	assert_int_equal(dynbuf_add(&d, "", 0), 0);
	assert_int_equal(dynbuf_add(&d, " you", 4), 0);
	assert_string_equal(d.buf, "hello you");
	assert_int_equal(d.len, 9);
	/* Past max: nothing appended. */
	assert_int_equal(dynbuf_adds(&d, "!!"), -EMSGSIZE);
	assert_string_equal(d.buf, "hello you");
	assert_int_equal(dynbuf_adds(&d, "!"), 0);
	assert_int_equal(d.len, 10);
	assert_int_equal(dynbuf_adds(&d, "x"), -EMSGSIZE);
	assert_true(d.cap <= 11);
	dynbuf_reset(&d);
	assert_int_equal(d.len, 0);
	assert_int_equal(dynbuf_addf(&d, "%d-%s", 42, "ab"), 0);
	assert_string_equal(d.buf, "42-ab");
	assert_int_equal(dynbuf_addf(&d, "%s", "123456"), -EMSGSIZE);
	assert_string_equal(d.buf, "42-ab");
	assert_int_equal(d.len, 5);
	dynbuf_free(&d);
	assert_null(d.buf);
	dynbuf_free(&d);
	dynbuf_free(NULL);
}

static void test_dynbuf_growth(void **state)
{
	struct dynbuf d;
	unsigned reallocs = 0;
	size_t cap = 0;

	dynbuf_init(&d, 1 << 20);
	for (int i = 0; i < 100000; i++) {
		assert_int_equal(dynbuf_add(&d, "0123456789", 10), 0);
		if (d.cap != cap) {
			reallocs++;
			cap = d.cap;
		}
	}
	assert_int_equal(d.len, 1000000);
	assert_true(reallocs < 20); /* geometric */
	assert_int_equal(strlen(d.buf), 1000000);
	assert_int_equal(dynbuf_add(&d, d.buf, 48577), -EMSGSIZE);
	assert_int_equal(dynbuf_add(&d, d.buf, 48576), 0);
	assert_int_equal(d.len, 1 << 20);
	dynbuf_free(&d);

	/* addf that has to grow, several times over. */
	dynbuf_init(&d, 4096);
	assert_int_equal(dynbuf_addf(&d, "%0500d|%s", 7, "tail"), 0);
	assert_int_equal(d.len, 505);
	assert_string_equal(d.buf + 500, "|tail");
	assert_int_equal(dynbuf_addf(&d, "%s", ""), 0);
	assert_int_equal(d.len, 505);
	dynbuf_free(&d);
}

static void test_dynbuf_json_str(void **state)
{
	struct dynbuf d;

	dynbuf_init(&d, 64);
	assert_int_equal(dynbuf_add_json_str(&d, "a\"b\\c\n\r\t\b\f\x01\x1f/é"), 0);
	assert_string_equal(d.buf, "\"a\\\"b\\\\c\\n\\r\\t\\b\\f\\u0001\\u001f/é\"");
	dynbuf_reset(&d);
	assert_int_equal(dynbuf_add_json_str(&d, ""), 0);
	assert_string_equal(d.buf, "\"\"");
	dynbuf_free(&d);

	/* All or nothing. */
	dynbuf_init(&d, 8);
	assert_int_equal(dynbuf_adds(&d, "ab"), 0);
	assert_int_equal(dynbuf_add_json_str(&d, "\n\n\n"), -EMSGSIZE);
	assert_string_equal(d.buf, "ab");
	assert_int_equal(d.len, 2);
	assert_int_equal(dynbuf_add_json_str(&d, "xyz1"), 0);
	assert_string_equal(d.buf, "ab\"xyz1\"");
	dynbuf_free(&d);
}

static void test_utf8(void **state)
{
	static const struct {
		const char *s;
		bool ok;
	} cases[] = {
		{"", true},
		{"plain ascii", true},
		{"caf\xc3\xa9", true}, /* é */
		{"\xe2\x82\xac", true}, /* € */
		{"\xf0\x9f\x98\x80", true}, /* U+1F600 */
		{"\xf4\x8f\xbf\xbf", true}, /* U+10FFFF */
		{"\xed\x9f\xbf", true}, /* U+D7FF */
		{"\xee\x80\x80", true}, /* U+E000 */
		{"\xc0\xaf", false}, /* overlong '/' */
		{"\xc1\xbf", false}, /* overlong */
		{"\xe0\x80\xaf", false}, /* overlong 3-byte */
		{"\xe0\x9f\xbf", false}, /* overlong 3-byte */
		{"\xf0\x80\x80\xaf", false}, /* overlong 4-byte */
		{"\xf0\x8f\xbf\xbf", false}, /* overlong 4-byte */
		{"\xed\xa0\x80", false}, /* U+D800 */
		{"\xed\xbf\xbf", false}, /* U+DFFF */
		{"\xf4\x90\x80\x80", false}, /* U+110000 */
		{"\xf5\x80\x80\x80", false}, /* lead F5 */
		{"\xff", false},
		{"\x80", false}, /* lone continuation */
		{"a\xbf", false},
		{"\xc3", false}, /* truncated */
		{"\xe2\x82", false}, /* truncated */
		{"\xf0\x9f\x98", false}, /* truncated */
		{"\xc3\x28", false}, /* bad continuation */
		{"\xe2\x28\xa1", false},
		{"\xf0\x9f\x28\x80", false},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		if (utf8_valid(cases[i].s, strlen(cases[i].s)) != cases[i].ok)
			fail_msg("case %zu: want %d", i, cases[i].ok);
	}
	/* Length is honoured: a valid prefix, and NUL is an ordinary byte. */
	assert_true(utf8_valid("ab\xc3\xa9", 2));
	assert_false(utf8_valid("ab\xc3\xa9", 3));
	assert_true(utf8_valid("a\0b", 3));
}

static void test_log_level_parse(void **state)
{
	enum log_level l = LOG_LVL_ERROR;

	assert_int_equal(log_level_parse("debug", &l), 0);
	assert_int_equal(l, LOG_LVL_DEBUG);
	assert_int_equal(log_level_parse("info", &l), 0);
	assert_int_equal(l, LOG_LVL_INFO);
	assert_int_equal(log_level_parse("warn", &l), 0);
	assert_int_equal(l, LOG_LVL_WARN);
	assert_int_equal(log_level_parse("error", &l), 0);
	assert_int_equal(l, LOG_LVL_ERROR);
	assert_int_equal(log_level_parse("warning", &l), -EINVAL);
	assert_int_equal(log_level_parse("INFO", &l), -EINVAL);
	assert_int_equal(log_level_parse("", &l), -EINVAL);
	assert_int_equal(log_level_parse(NULL, &l), -EINVAL);
	assert_int_equal(l, LOG_LVL_ERROR);
}

/* Run @fn with stderr redirected to a temporary file; return what it wrote. */
static char *capture_stderr(void (*fn)(void))
{
	FILE *tmp = tmpfile();
	int saved = dup(STDERR_FILENO);
	char *out;
	long n;

	assert_non_null(tmp);
	assert_true(saved >= 0);
	assert_int_equal(dup2(fileno(tmp), STDERR_FILENO), STDERR_FILENO);
	fn();
	assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
	close(saved);
	assert_int_equal(fseek(tmp, 0, SEEK_END), 0);
	n = ftell(tmp);
	out = calloc(1, (size_t)n + 1);
	assert_non_null(out);
	rewind(tmp);
	assert_int_equal(fread(out, 1, (size_t)n, tmp), (size_t)n);
	fclose(tmp);
	return out;
}

static size_t count_lines(const char *s, const char *needle)
{
	size_t n = 0;

	for (const char *p = s; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

static void log_format_body(void)
{
	log_init("shelftest", LOG_LVL_INFO, false);
	log_warn("value %d of %s", 42, "x");
	log_debug("hidden");
	log_info("two\nlines");
}

static void test_log_format(void **state)
{
	char *out = capture_stderr(log_format_body);
	char want[64];
	const char *p;

	/* 2026-11-23T02:00:00.120Z shelftest[pid] warn: value 42 of x */
	assert_int_equal(strlen(out) > 24, 1);
	assert_int_equal(out[4], '-');
	assert_int_equal(out[10], 'T');
	assert_int_equal(out[23], 'Z');
	assert_int_equal(out[24], ' ');
	snprintf(want, sizeof(want), " shelftest[%ld] warn: value 42 of x\n", (long)getpid());
	assert_memory_equal(out + 24, want, strlen(want));
	assert_null(strstr(out, "hidden"));
	/* Control characters cannot forge a second line. */
	p = strstr(out, "info: two?lines\n");
	assert_non_null(p);
	assert_int_equal(count_lines(out, "\n"), 2);
	free(out);
}

static void log_burst_body(void)
{
	log_init("shelftest", LOG_LVL_DEBUG, false);
	for (int i = 0; i < LOG_BURST + 15; i++)
		log_info("site A %d", i);
	for (int i = 0; i < 3; i++)
		log_info("site B %d", i);
	log_err("site C");
}

static void test_log_rate_limit(void **state)
{
	char *out = capture_stderr(log_burst_body);

	/* At most LOG_BURST lines from one site per window; other sites unaffected. */
	assert_int_equal(count_lines(out, "site A "), LOG_BURST);
	assert_non_null(strstr(out, "site A 19\n"));
	assert_null(strstr(out, "site A 20\n"));
	assert_int_equal(count_lines(out, "site B "), 3);
	assert_int_equal(count_lines(out, "error: site C\n"), 1);
	assert_null(strstr(out, "suppressed")); /* only after the window */
	free(out);
}

static void log_many_sites_body(void)
{
	/* The logger keeps the file pointer: like __FILE__, these must be static. */
	static const char *const files[] = {"f0.c", "f1.c", "f2.c", "f3.c", "f4.c",
					    "f5.c", "f6.c", "f7.c", "f8.c", "f9.c"};

	/* More sites than the table holds: eviction must not lose lines. */
	log_init("shelftest", LOG_LVL_DEBUG, false);
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		for (int line = 1; line <= 16; line++)
			log_msg(LOG_LVL_INFO, files[i], line, "many %zu:%d", i, line);
	}
}

static void test_log_many_sites(void **state)
{
	char *out = capture_stderr(log_many_sites_body);

	assert_int_equal(count_lines(out, " many "), 160);
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clocks),	       cmocka_unit_test(test_ts_format),
		cmocka_unit_test(test_ts_parse_ok),    cmocka_unit_test(test_ts_parse_bad),
		cmocka_unit_test(test_ts_roundtrip),   cmocka_unit_test(test_str_copy),
		cmocka_unit_test(test_parse_ll),       cmocka_unit_test(test_dynbuf_basic),
		cmocka_unit_test(test_dynbuf_growth),  cmocka_unit_test(test_dynbuf_json_str),
		cmocka_unit_test(test_utf8),	       cmocka_unit_test(test_log_level_parse),
		cmocka_unit_test(test_log_format),     cmocka_unit_test(test_log_rate_limit),
		cmocka_unit_test(test_log_many_sites),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
