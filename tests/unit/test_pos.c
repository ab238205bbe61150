/*
 * test_pos: the POS jsonl line parser (DESIGN §5.2). Valid sales, refunds
 * and voids with the exact normalized output; then every class of bad line,
 * asserting the exact error path and a key phrase of the message: size, NUL
 * bytes, UTF-8, JSON syntax, missing and mistyped fields, non-integer and
 * out-of-range money, string limits, line counts, timestamps.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <cjson/cJSON.h>

#include "pos.h"
#include "util.h"

/*
 * The parser writes the record's members as text; the tests look at it as a
 * cJSON tree: {<members>} parsed back (NULL when the line is rejected).
 */
static cJSON *parse_tree(const char *line, size_t len, int64_t *ts_ms, struct pos_err *err)
{
	struct pos_summary sum = {0};
	struct dynbuf d;
	cJSON *out = NULL;

	if (ts_ms)
		*ts_ms = 0;
	dynbuf_init(&d, 1 << 20);
	dynbuf_add(&d, "{", 1);
	if (pos_parse_line(line, len, &d, &sum, err) == 0) {
		dynbuf_add(&d, "}", 1);
		out = cJSON_ParseWithLength(d.buf, d.len);
		if (ts_ms)
			*ts_ms = sum.ts_ms;
	} else if (d.len != 1) {
		fprintf(stderr, "a rejected line left %zu bytes in the output buffer\n", d.len - 1);
		abort();
	}
	dynbuf_free(&d);
	return out;
}

#define SKU "6901234567892"
/* A line with every field; %s slots are used by tests that vary one part. */
#define FULL                                                                                       \
	"{\"type\":\"sale\",\"receipt\":\"R-1\",\"till\":\"T1\","                                  \
	"\"ts\":\"2026-11-23T02:00:00.120Z\",\"lines\":[{\"sku\":\"" SKU "\",\"qty\":1,"           \
	"\"unit_price\":1290}],\"total\":1290,\"member\":\"M-77\"}"
#define FULL_OUT                                                                                   \
	"{\"kind\":\"sale\",\"receipt\":\"R-1\",\"till\":\"T1\",\"lines\":[{\"sku\":\"" SKU        \
	"\",\"qty\":1,\"unit_price\":1290,\"amount\":1290}],\"total\":1290,\"member\":\"M-77\"}"

/* Parse @len bytes of @line, expecting success; returns the record as compact JSON. */
static char *parse_ok_n(const char *line, size_t len, int64_t *ts)
{
	struct pos_err err = {"unset", "unset"};
	int64_t ts_ms = -1;
	cJSON *out;
	char *s;

	out = parse_tree(line, len, &ts_ms, &err);
	if (!out)
		fail_msg("rejected: at=\"%s\" msg=\"%s\"\nline: %.200s", err.at, err.msg, line);
	s = cJSON_PrintUnformatted(out);
	assert_non_null(s);
	cJSON_Delete(out);
	if (ts)
		*ts = ts_ms;
	return s;
}

static char *parse_ok(const char *line, int64_t *ts)
{
	return parse_ok_n(line, strlen(line), ts);
}

static void expect_ok(const char *line, const char *want)
{
	char *s = parse_ok(line, NULL);

	assert_string_equal(s, want);
	cJSON_free(s);
}

static void expect_err_n(const char *line, size_t len, const char *at, const char *phrase)
{
	struct pos_err err;
	int64_t ts_ms = 77;
	cJSON *out;

	memset(&err, 'x', sizeof(err));
	out = parse_tree(line, len, &ts_ms, &err);
	if (out) {
		char *s = cJSON_PrintUnformatted(out);

		cJSON_Delete(out);
		fail_msg("accepted: %.200s\n-> %s", line, s);
	}
	assert_non_null(memchr(err.at, '\0', sizeof(err.at)));
	assert_non_null(memchr(err.msg, '\0', sizeof(err.msg)));
	if (strcmp(err.at, at) != 0 || !strstr(err.msg, phrase))
		fail_msg("got at=\"%s\" msg=\"%s\", want at=\"%s\" msg containing \"%s\"", err.at,
			 err.msg, at, phrase);
	assert_int_equal(ts_ms, 0);
	assert_true(utf8_valid(err.msg, strlen(err.msg)));
}

static void expect_err(const char *line, const char *at, const char *phrase)
{
	expect_err_n(line, strlen(line), at, phrase);
}

/* A minimal sale whose single line is @line_body, with @total. */
static void expect_line_err(const char *line_body, const char *total, const char *at,
			    const char *phrase)
{
	char buf[512];

	snprintf(buf, sizeof(buf),
		 "{\"type\":\"sale\",\"receipt\":\"R\",\"lines\":[%s],\"total\":%s}", line_body,
		 total);
	expect_err(buf, at, phrase);
}

static void test_valid_sale(void **state)
{
	int64_t ts;
	char *s = parse_ok(FULL, &ts);

	assert_string_equal(s, FULL_OUT);
	assert_int_equal(ts, 1795399200120LL);
	cJSON_free(s);

	/* Minimal: optional fields absent from the output, ts 0. */
	s = parse_ok("{\"type\":\"sale\",\"receipt\":\"R-2\",\"lines\":[{\"sku\":\"A\",\"qty\":3,"
		     "\"unit_price\":250}],\"total\":750}",
		     &ts);
	assert_string_equal(s, "{\"kind\":\"sale\",\"receipt\":\"R-2\",\"lines\":[{\"sku\":\"A\","
			       "\"qty\":3,\"unit_price\":250,\"amount\":750}],\"total\":750}");
	assert_int_equal(ts, 0);
	cJSON_free(s);

	/* Key order in the input does not matter; unknown keys are ignored. */
	expect_ok("{\"member\":\"M-77\",\"total\":1290,\"vendor_x\":{\"a\":[1,2]},\"lines\":[{"
		  "\"unit_price\":1290,\"qty\":1,\"sku\":\"" SKU "\",\"promo\":null}],"
		  "\"till\":\"T1\",\"receipt\":\"R-1\",\"type\":\"sale\"}",
		  FULL_OUT);
}

static void test_several_lines_and_amount(void **state)
{
	/* amount defaults to qty * unit_price; an explicit amount (a discount) wins. */
	expect_ok("{\"type\":\"sale\",\"receipt\":\"R\",\"lines\":["
		  "{\"sku\":\"A\",\"qty\":2,\"unit_price\":1290},"
		  "{\"sku\":\"B\",\"qty\":1,\"unit_price\":500,\"amount\":450},"
		  "{\"sku\":\"C\",\"qty\":-1,\"unit_price\":100}],\"total\":2930}",
		  "{\"kind\":\"sale\",\"receipt\":\"R\",\"lines\":["
		  "{\"sku\":\"A\",\"qty\":2,\"unit_price\":1290,\"amount\":2580},"
		  "{\"sku\":\"B\",\"qty\":1,\"unit_price\":500,\"amount\":450},"
		  "{\"sku\":\"C\",\"qty\":-1,\"unit_price\":100,\"amount\":-100}],\"total\":2930}");
}

static void test_refund_void(void **state)
{
	/* Refunds with negative qty and total, or positive ones: both accepted. */
	expect_ok("{\"type\":\"refund\",\"receipt\":\"R-9\",\"lines\":[{\"sku\":\"A\",\"qty\":-1,"
		  "\"unit_price\":1290}],\"total\":-1290}",
		  "{\"kind\":\"refund\",\"receipt\":\"R-9\",\"lines\":[{\"sku\":\"A\",\"qty\":-1,"
		  "\"unit_price\":1290,\"amount\":-1290}],\"total\":-1290}");
	expect_ok("{\"type\":\"refund\",\"receipt\":\"R-9\",\"lines\":[{\"sku\":\"A\",\"qty\":1,"
		  "\"unit_price\":1290}],\"total\":1290}",
		  "{\"kind\":\"refund\",\"receipt\":\"R-9\",\"lines\":[{\"sku\":\"A\",\"qty\":1,"
		  "\"unit_price\":1290,\"amount\":1290}],\"total\":1290}");
	expect_ok(
		"{\"type\":\"void\",\"receipt\":\"R-10\",\"till\":\"T2\",\"lines\":[{\"sku\":"
		"\"A\",\"qty\":2,\"unit_price\":5,\"amount\":10}],\"total\":10,\"member\":\"M\"}",
		"{\"kind\":\"void\",\"receipt\":\"R-10\",\"till\":\"T2\",\"lines\":[{\"sku\":\"A\","
		"\"qty\":2,\"unit_price\":5,\"amount\":10}],\"total\":10,\"member\":\"M\"}");
}

static void test_whitespace_bom_cr(void **state)
{
	expect_ok(FULL "\r", FULL_OUT);
	expect_ok("  \t" FULL "  \r", FULL_OUT);
	expect_ok("\xef\xbb\xbf" FULL, FULL_OUT);
	expect_err("", "", "empty line");
	expect_err("   \t\r", "", "empty line");
	expect_err("\xef\xbb\xbf", "", "empty line");
	/* JSON null for an optional field counts as absent. */
	expect_ok("{\"type\":\"sale\",\"receipt\":\"R\",\"till\":null,\"ts\":null,\"member\":null,"
		  "\"lines\":[{\"sku\":\"A\",\"qty\":1,\"unit_price\":1,\"amount\":null}],"
		  "\"total\":1}",
		  "{\"kind\":\"sale\",\"receipt\":\"R\",\"lines\":[{\"sku\":\"A\",\"qty\":1,"
		  "\"unit_price\":1,\"amount\":1}],\"total\":1}");
}

static void test_line_size(void **state)
{
	char *buf = malloc(POS_LINE_MAX + 2);
	size_t full = strlen(FULL);
	char *s;

	assert_non_null(buf);
	/* Exactly POS_LINE_MAX bytes: the object padded with spaces. */
	memcpy(buf, FULL, full);
	memset(buf + full, ' ', POS_LINE_MAX + 1 - full);
	s = parse_ok_n(buf, POS_LINE_MAX, NULL);
	assert_string_equal(s, FULL_OUT);
	cJSON_free(s);
	expect_err_n(buf, POS_LINE_MAX + 1, "", "line is 65537 bytes, over the 65536-byte limit");
	free(buf);
}

static void test_bad_json(void **state)
{
	expect_err("{\"type\":\"sale\" \"receipt\":\"R\"}", "", "not valid JSON near byte 15");
	expect_err("{\"type\":", "", "not valid JSON near byte");
	/* The problem is the end of the input, after the '{'. */
	expect_err("{", "", "not valid JSON near byte 1");
	expect_err("nope", "", "not valid JSON near byte 0");
	expect_err("{\"a\":tru}", "", "not valid JSON near byte");
	expect_err("{\"a\":\"\\ud800\"}", "", "not valid JSON near byte");
	expect_err(FULL " xyz", "", "unexpected data after the JSON value at byte");
	expect_err(FULL "{}", "", "unexpected data after the JSON value at byte");
	expect_err("[1,2]", "", "must be a JSON object");
	expect_err("\"sale\"", "", "must be a JSON object");
	expect_err("12", "", "must be a JSON object");
	expect_err("null", "", "must be a JSON object");
	expect_err_n(NULL, 0, "", "no line");
}

static void test_error_offsets(void **state)
{
	char buf[128];

	snprintf(buf, sizeof(buf), "{} xyz");
	expect_err(buf, "", "at byte 3");
	/* Offsets count from the start of the line, BOM included. */
	expect_err("\xef\xbb\xbf{} xyz", "", "at byte 6");
}

static void test_missing_fields(void **state)
{
	expect_err("{\"receipt\":\"R\",\"lines\":[{\"sku\":\"A\",\"qty\":1,\"unit_price\":1}],"
		   "\"total\":1}",
		   "type", "missing field");
	expect_err("{\"type\":\"sale\",\"lines\":[{\"sku\":\"A\",\"qty\":1,\"unit_price\":1}],"
		   "\"total\":1}",
		   "receipt", "missing field");
	expect_err("{\"type\":\"sale\",\"receipt\":\"R\",\"total\":1}", "lines", "missing field");
	expect_err("{\"type\":\"sale\",\"receipt\":\"R\",\"lines\":[{\"sku\":\"A\",\"qty\":1,"
		   "\"unit_price\":1}]}",
		   "total", "missing field");
	expect_line_err("{\"qty\":1,\"unit_price\":1}", "1", "lines[0].sku", "missing field");
	expect_line_err("{\"sku\":\"A\",\"unit_price\":1}", "1", "lines[0].qty", "missing field");
	expect_line_err("{\"sku\":\"A\",\"qty\":1}", "1", "lines[0].unit_price", "missing field");
	/* null for a required field is as good as missing. */
	expect_err("{\"type\":\"sale\",\"receipt\":null,\"lines\":[],\"total\":1}", "receipt",
		   "missing field");
	expect_err("{}", "type", "missing field");
}

static void test_mistyped_fields(void **state)
{
	expect_err("{\"type\":1,\"receipt\":\"R\",\"lines\":[],\"total\":1}", "type",
		   "must be a string");
	expect_err("{\"type\":\"sale\",\"receipt\":42,\"lines\":[],\"total\":1}", "receipt",
		   "must be a string");
	expect_err("{\"type\":\"sale\",\"receipt\":\"R\",\"till\":1,\"lines\":[],\"total\":1}",
		   "till", "must be a string");
	expect_err("{\"type\":\"sale\",\"receipt\":\"R\",\"ts\":1795399200,\"lines\":[],"
		   "\"total\":1}",
		   "ts", "must be a string");
	expect_err("{\"type\":\"sale\",\"receipt\":\"R\",\"lines\":{},\"total\":1}", "lines",
		   "must be an array");
	expect_err("{\"type\":\"sale\",\"receipt\":\"R\",\"lines\":\"A\",\"total\":1}", "lines",
		   "must be an array");
	expect_line_err("1", "1", "lines[0]", "must be an object");
	expect_line_err("[]", "1", "lines[0]", "must be an object");
	expect_line_err("{\"sku\":6901234567892,\"qty\":1,\"unit_price\":1}", "1", "lines[0].sku",
			"must be a string");
	expect_line_err("{\"sku\":\"A\",\"qty\":\"1\",\"unit_price\":1}", "1", "lines[0].qty",
			"must be a number, got a string");
	expect_line_err("{\"sku\":\"A\",\"qty\":true,\"unit_price\":1}", "1", "lines[0].qty",
			"must be a number, got a boolean");
	expect_line_err("{\"sku\":\"A\",\"qty\":1,\"unit_price\":\"12.90\"}", "1",
			"lines[0].unit_price", "must be a number, got a string");
	expect_line_err("{\"sku\":\"A\",\"qty\":1,\"unit_price\":1,\"amount\":[1]}", "1",
			"lines[0].amount", "must be a number, got an array");
	expect_line_err("{\"sku\":\"A\",\"qty\":1,\"unit_price\":1}", "\"1\"", "total",
			"must be a number");
	expect_line_err("{\"sku\":\"A\",\"qty\":1,\"unit_price\":1}", "{}", "total",
			"must be a number, got an object");
	expect_err("{\"type\":\"sale\",\"receipt\":\"R\",\"lines\":[{\"sku\":\"A\",\"qty\":1,"
		   "\"unit_price\":1}],\"total\":1,\"member\":77}",
		   "member", "must be a string");
	expect_err("{\"type\":\"return\",\"receipt\":\"R\",\"lines\":[],\"total\":1}", "type",
		   "must be one of sale, refund, void, got \"return\"");
	expect_err("{\"type\":\"SALE\",\"receipt\":\"R\",\"lines\":[],\"total\":1}", "type",
		   "must be one of sale, refund, void");
}

static void test_deep_path(void **state)
{
	/* The path names the offending line by its 0-based index. */
	expect_err("{\"type\":\"sale\",\"receipt\":\"R\",\"lines\":["
		   "{\"sku\":\"A\",\"qty\":1,\"unit_price\":1},"
		   "{\"sku\":\"B\",\"qty\":1,\"unit_price\":2},"
		   "{\"sku\":\"C\",\"qty\":1,\"unit_price\":12.9}],\"total\":1}",
		   "lines[2].unit_price", "must be an integer number of minor units, got 12.9");
}

static void test_non_integer_money(void **state)
{
	struct pos_err err;
	char line[256];

	expect_line_err("{\"sku\":\"A\",\"qty\":1,\"unit_price\":12.9}", "1", "lines[0].unit_price",
			"must be an integer number of minor units, got 12.9");
	/* The exact message, once. */
	snprintf(line, sizeof(line),
		 "{\"type\":\"sale\",\"receipt\":\"R\",\"lines\":[{\"sku\":\"A\",\"qty\":1,"
		 "\"unit_price\":12.9}],\"total\":1}");
	assert_null(parse_tree(line, strlen(line), NULL, &err));
	assert_string_equal(err.at, "lines[0].unit_price");
	assert_string_equal(err.msg, "must be an integer number of minor units, got 12.9");

	expect_line_err("{\"sku\":\"A\",\"qty\":1,\"unit_price\":1,\"amount\":0.5}", "1",
			"lines[0].amount", "must be an integer number of minor units, got 0.5");
	expect_line_err("{\"sku\":\"A\",\"qty\":1,\"unit_price\":1}", "1290.5", "total",
			"must be an integer number of minor units, got 1290.5");
	expect_line_err("{\"sku\":\"A\",\"qty\":1,\"unit_price\":1}", "-0.01", "total",
			"got -0.01");
	expect_line_err("{\"sku\":\"A\",\"qty\":1.5,\"unit_price\":1}", "1", "lines[0].qty",
			"must be an integer, got 1.5");
	expect_line_err("{\"sku\":\"A\",\"qty\":1,\"unit_price\":1e-3}", "1", "lines[0].unit_price",
			"got 0.001");
	/* Integral values written with a fraction or exponent are accepted. */
	expect_ok("{\"type\":\"sale\",\"receipt\":\"R\",\"lines\":[{\"sku\":\"A\",\"qty\":1.0,"
		  "\"unit_price\":1.29e3}],\"total\":1290.00}",
		  "{\"kind\":\"sale\",\"receipt\":\"R\",\"lines\":[{\"sku\":\"A\",\"qty\":1,"
		  "\"unit_price\":1290,\"amount\":1290}],\"total\":1290}");
}

static void test_huge_numbers(void **state)
{
	char num[64], out[512];

	expect_line_err("{\"sku\":\"A\",\"qty\":1,\"unit_price\":1}", "1e300", "total",
			"out of range");
	expect_line_err("{\"sku\":\"A\",\"qty\":1,\"unit_price\":1}", "-1e300", "total",
			"out of range");
	expect_line_err("{\"sku\":\"A\",\"qty\":1,\"unit_price\":1}", "1e400", "total",
			"out of range");
	expect_line_err("{\"sku\":\"A\",\"qty\":1,\"unit_price\":9007199254740993}", "1",
			"lines[0].unit_price", "out of range");
	expect_line_err("{\"sku\":\"A\",\"qty\":9007199254740993,\"unit_price\":1}", "1",
			"lines[0].qty", "out of range");
	snprintf(num, sizeof(num), "%lld", POS_MONEY_MAX + 1);
	expect_line_err("{\"sku\":\"A\",\"qty\":1,\"unit_price\":1}", num, "total",
			"out of range (at most +-1000000000000), got 1000000000001");
	snprintf(num, sizeof(num), "%lld", -POS_MONEY_MAX - 1);
	expect_line_err("{\"sku\":\"A\",\"qty\":1,\"unit_price\":1}", num, "total", "out of range");

	/* The limits themselves are fine. */
	snprintf(out, sizeof(out),
		 "{\"type\":\"sale\",\"receipt\":\"R\",\"lines\":[{\"sku\":\"A\",\"qty\":-1,"
		 "\"unit_price\":%lld}],\"total\":%lld}",
		 POS_MONEY_MAX, -POS_MONEY_MAX);
	expect_ok(out, "{\"kind\":\"sale\",\"receipt\":\"R\",\"lines\":[{\"sku\":\"A\",\"qty\":-1,"
		       "\"unit_price\":1000000000000,\"amount\":-1000000000000}],"
		       "\"total\":-1000000000000}");

	/* The default amount must fit too (and must not overflow int64 on the way). */
	expect_line_err("{\"sku\":\"A\",\"qty\":2,\"unit_price\":600000000000}", "1", "lines[0]",
			"amount (qty * unit_price) is out of range");
	expect_line_err("{\"sku\":\"A\",\"qty\":1000000000000,\"unit_price\":1000000000000}", "1",
			"lines[0]", "out of range");
	expect_line_err("{\"sku\":\"A\",\"qty\":-1000000000000,\"unit_price\":1000000000000}", "1",
			"lines[0]", "out of range");
	/* ... unless the POS gives the amount itself. */
	expect_ok("{\"type\":\"sale\",\"receipt\":\"R\",\"lines\":[{\"sku\":\"A\",\"qty\":2,"
		  "\"unit_price\":600000000000,\"amount\":1}],\"total\":1}",
		  "{\"kind\":\"sale\",\"receipt\":\"R\",\"lines\":[{\"sku\":\"A\",\"qty\":2,"
		  "\"unit_price\":600000000000,\"amount\":1}],\"total\":1}");
}

static void test_qty_zero(void **state)
{
	expect_line_err("{\"sku\":\"A\",\"qty\":0,\"unit_price\":1}", "1", "lines[0].qty",
			"must not be 0");
	expect_line_err("{\"sku\":\"A\",\"qty\":-0,\"unit_price\":1}", "1", "lines[0].qty",
			"must not be 0");
	expect_line_err("{\"sku\":\"A\",\"qty\":0.0,\"unit_price\":1}", "1", "lines[0].qty",
			"must not be 0");
}

static void test_negative_total_refund(void **state)
{
	expect_ok("{\"type\":\"refund\",\"receipt\":\"R\",\"lines\":[{\"sku\":\"A\",\"qty\":-2,"
		  "\"unit_price\":300,\"amount\":-550}],\"total\":-550}",
		  "{\"kind\":\"refund\",\"receipt\":\"R\",\"lines\":[{\"sku\":\"A\",\"qty\":-2,"
		  "\"unit_price\":300,\"amount\":-550}],\"total\":-550}");
}

static void test_nul_bytes(void **state)
{
	static const char line[] = "{\"typ\0e\":\"sale\"}"; /* offsets are 0-based */

	expect_err_n(line, sizeof(line) - 1, "", "NUL byte at byte 5");
	expect_err_n(FULL "\0", strlen(FULL) + 1, "", "NUL byte at byte");
	expect_err_n("\0", 1, "", "NUL byte at byte 0");
	/* An escaped NUL would silently truncate the string in cJSON: rejected. */
	expect_err("{\"type\":\"sale\",\"receipt\":\"R\\u0000X\",\"lines\":[],\"total\":1}", "",
		   "escaped NUL (\\u0000) in a string at byte 27");
	/* ... but an escaped backslash followed by "u0000" is just text. */
	expect_ok(
		"{\"type\":\"sale\",\"receipt\":\"R\\\\u0000\",\"lines\":[{\"sku\":\"A\",\"qty\":1,"
		"\"unit_price\":1}],\"total\":1}",
		"{\"kind\":\"sale\",\"receipt\":\"R\\\\u0000\",\"lines\":[{\"sku\":\"A\",\"qty\":1,"
		"\"unit_price\":1,\"amount\":1}],\"total\":1}");
}

static void test_invalid_utf8(void **state)
{
	/* 0         1         2
	 * 0123456789012345678901234
	 * {"type":"sale","receipt":"R?" */
	expect_err("{\"type\":\"sale\",\"receipt\":\"R\xc0\xaf\"}", "", "invalid UTF-8 at byte 27");
	expect_err("{\"type\":\"sale\",\"receipt\":\"R\x80\"}", "", "invalid UTF-8 at byte 27");
	expect_err("{\"type\":\"sale\",\"receipt\":\"R\xed\xa0\x80\"}", "",
		   "invalid UTF-8 at byte 27");
	expect_err("{\"type\":\"sale\",\"receipt\":\"R\xf4\x90\x80\x80\"}", "",
		   "invalid UTF-8 at byte 27");
	expect_err("{\"type\":\"sale\",\"receipt\":\"R\xe0\x80\xaf\"}", "",
		   "invalid UTF-8 at byte 27");
	expect_err("{\"receipt\":\"\xe2\x82", "", "invalid UTF-8 at byte 12");
	expect_err("\xff{}", "", "invalid UTF-8 at byte 0");
	/* Valid multi-byte text is fine, and counted in bytes for the limits. */
	expect_ok("{\"type\":\"sale\",\"receipt\":\"收据-1\",\"lines\":[{\"sku\":\"A\",\"qty\":1,"
		  "\"unit_price\":1}],\"total\":1,\"member\":\"José\"}",
		  "{\"kind\":\"sale\",\"receipt\":\"收据-1\",\"lines\":[{\"sku\":\"A\",\"qty\":1,"
		  "\"unit_price\":1,\"amount\":1}],\"total\":1,\"member\":\"José\"}");
}

/* A sale with @n identical lines. */
static char *many_lines(size_t n)
{
	static const char item[] = "{\"sku\":\"A\",\"qty\":1,\"unit_price\":1},";
	struct dynbuf d;

	dynbuf_init(&d, POS_LINE_MAX);
	assert_int_equal(dynbuf_adds(&d, "{\"type\":\"sale\",\"receipt\":\"R\",\"lines\":["), 0);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(dynbuf_add(&d, item, sizeof(item) - 1), 0);
	if (n)
		d.len--; /* the last comma */
	assert_int_equal(dynbuf_addf(&d, "],\"total\":%zu}", n), 0);
	return d.buf;
}

static void test_line_count(void **state)
{
	char *line;
	cJSON *out;
	struct pos_err err;

	line = many_lines(POS_LINES_MAX);
	out = parse_tree(line, strlen(line), NULL, &err);
	assert_non_null(out);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(out, "lines")), POS_LINES_MAX);
	cJSON_Delete(out);
	free(line);

	line = many_lines(POS_LINES_MAX + 1);
	expect_err(line, "lines", "too many lines: 1001, at most 1000");
	free(line);

	expect_err("{\"type\":\"sale\",\"receipt\":\"R\",\"lines\":[],\"total\":0}", "lines",
		   "must have at least 1 line");
}

static void test_string_limits(void **state)
{
	char sku[POS_STR_MAX + 2], line[512], want[512];

	memset(sku, 'S', sizeof(sku));
	sku[POS_STR_MAX] = '\0';
	snprintf(line, sizeof(line),
		 "{\"type\":\"sale\",\"receipt\":\"R\",\"lines\":[{\"sku\":\"%s\",\"qty\":1,"
		 "\"unit_price\":1}],\"total\":1}",
		 sku);
	snprintf(want, sizeof(want),
		 "{\"kind\":\"sale\",\"receipt\":\"R\",\"lines\":[{\"sku\":\"%s\",\"qty\":1,"
		 "\"unit_price\":1,\"amount\":1}],\"total\":1}",
		 sku);
	expect_ok(line, want);

	sku[POS_STR_MAX] = 'S';
	sku[POS_STR_MAX + 1] = '\0';
	snprintf(line, sizeof(line),
		 "{\"type\":\"sale\",\"receipt\":\"R\",\"lines\":[{\"sku\":\"%s\",\"qty\":1,"
		 "\"unit_price\":1}],\"total\":1}",
		 sku);
	expect_err(line, "lines[0].sku", "is 65 bytes, over the 64-byte limit");
	snprintf(line, sizeof(line),
		 "{\"type\":\"sale\",\"receipt\":\"%s\",\"lines\":[],\"total\":1}", sku);
	expect_err(line, "receipt", "over the 64-byte limit");
	snprintf(line, sizeof(line),
		 "{\"type\":\"sale\",\"receipt\":\"R\",\"till\":\"%s\",\"lines\":[],\"total\":1}",
		 sku);
	expect_err(line, "till", "over the 64-byte limit");
	snprintf(line, sizeof(line),
		 "{\"type\":\"sale\",\"receipt\":\"R\",\"lines\":[{\"sku\":\"A\",\"qty\":1,"
		 "\"unit_price\":1}],\"total\":1,\"member\":\"%s\"}",
		 sku);
	expect_err(line, "member", "over the 64-byte limit");

	expect_err("{\"type\":\"sale\",\"receipt\":\"\",\"lines\":[],\"total\":1}", "receipt",
		   "must not be empty");
	expect_line_err("{\"sku\":\"\",\"qty\":1,\"unit_price\":1}", "1", "lines[0].sku",
			"must not be empty");
	expect_line_err("{\"sku\":\"A\\nB\",\"qty\":1,\"unit_price\":1}", "1", "lines[0].sku",
			"must not contain control characters");
	/* A raw tab inside a string is not JSON at all (RFC 8259 §7). */
	expect_line_err("{\"sku\":\"A\tB\",\"qty\":1,\"unit_price\":1}", "1", "",
			"not valid JSON near byte 47");
}

static void test_ts(void **state)
{
	int64_t ts;
	char *s;

	s = parse_ok("{\"type\":\"sale\",\"receipt\":\"R\",\"ts\":\"2026-11-23T10:00:00.5+08:00\","
		     "\"lines\":[{\"sku\":\"A\",\"qty\":1,\"unit_price\":1}],\"total\":1}",
		     &ts);
	assert_int_equal(ts, 1795399200500LL);
	assert_null(strstr(s, "ts")); /* returned apart, not in the record */
	cJSON_free(s);
	expect_err("{\"type\":\"sale\",\"receipt\":\"R\",\"ts\":\"yesterday\",\"lines\":[],"
		   "\"total\":1}",
		   "ts", "must be an RFC 3339 timestamp, got \"yesterday\"");
	expect_err("{\"type\":\"sale\",\"receipt\":\"R\",\"ts\":\"2026-02-30T00:00:00Z\","
		   "\"lines\":[],\"total\":1}",
		   "ts", "must be an RFC 3339 timestamp");
	/* A long bad value is echoed shortened, on a character boundary. */
	expect_err("{\"type\":\"sale\",\"receipt\":\"R\",\"ts\":\"éééééééééééééééééééééééééé\","
		   "\"lines\":[],\"total\":1}",
		   "ts", "...\"");
}

static void test_duplicate_key(void **state)
{
	expect_err("{\"type\":\"sale\",\"receipt\":\"R\",\"lines\":[{\"sku\":\"A\",\"qty\":1,"
		   "\"unit_price\":1}],\"total\":1,\"total\":2}",
		   "total", "duplicate key");
	expect_line_err("{\"sku\":\"A\",\"qty\":1,\"qty\":2,\"unit_price\":1}", "1", "lines[0].qty",
			"duplicate key");
}

static void test_null_args(void **state)
{
	cJSON *out;

	/* err and ts_ms may be NULL. */
	out = parse_tree(FULL, strlen(FULL), NULL, NULL);
	assert_non_null(out);
	cJSON_Delete(out);
	assert_null(parse_tree("{", 1, NULL, NULL));
}

/* The sale lines as charged, for price integrity: the first items_cap of them. */
static void test_items_summary(void **state)
{
	const char *line = "{\"type\":\"sale\",\"receipt\":\"R-9\",\"lines\":["
			   "{\"sku\":\"A\",\"qty\":2,\"unit_price\":150},"
			   "{\"sku\":\"B\\u0042\",\"qty\":1,\"unit_price\":99,\"amount\":99},"
			   "{\"sku\":\"C\",\"qty\":1,\"unit_price\":5}],\"total\":404}";
	struct pos_item items[2];
	struct pos_summary sum = {.items = items, .items_cap = 2};
	struct pos_err err;
	struct dynbuf d;

	dynbuf_init(&d, 4096);
	assert_int_equal(pos_parse_line(line, strlen(line), &d, &sum, &err), 0);
	assert_int_equal(sum.n_items, 2);
	assert_string_equal(items[0].sku, "A");
	assert_int_equal(items[0].unit_price, 150);
	assert_string_equal(items[1].sku, "BB");
	assert_int_equal(items[1].unit_price, 99);
	assert_string_equal(sum.kind, "sale");
	assert_string_equal(sum.receipt, "R-9");
	assert_int_equal(sum.total, 404);
	/* Not wanted: nothing is written through a NULL items pointer. */
	sum.items = NULL;
	assert_int_equal(pos_parse_line(line, strlen(line), &d, &sum, &err), 0);
	assert_int_equal(sum.n_items, 0);
	dynbuf_free(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_items_summary),
		cmocka_unit_test(test_valid_sale),
		cmocka_unit_test(test_several_lines_and_amount),
		cmocka_unit_test(test_refund_void),
		cmocka_unit_test(test_whitespace_bom_cr),
		cmocka_unit_test(test_line_size),
		cmocka_unit_test(test_bad_json),
		cmocka_unit_test(test_error_offsets),
		cmocka_unit_test(test_missing_fields),
		cmocka_unit_test(test_mistyped_fields),
		cmocka_unit_test(test_deep_path),
		cmocka_unit_test(test_non_integer_money),
		cmocka_unit_test(test_huge_numbers),
		cmocka_unit_test(test_qty_zero),
		cmocka_unit_test(test_negative_total_refund),
		cmocka_unit_test(test_nul_bytes),
		cmocka_unit_test(test_invalid_utf8),
		cmocka_unit_test(test_line_count),
		cmocka_unit_test(test_string_limits),
		cmocka_unit_test(test_ts),
		cmocka_unit_test(test_duplicate_key),
		cmocka_unit_test(test_null_args),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
