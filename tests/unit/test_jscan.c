/*
 * test_jscan: the strict JSON pull scanner on its own. Token streams (types,
 * raw text, levels, offsets) for every kind of value; every class of syntax
 * error with its exact byte offset and message (trailing commas, missing
 * colons, bad escapes, lone surrogates, control characters, invalid UTF-8,
 * leading zeros, depth); decoding (escapes, surrogate pairs, \u0000, cutting
 * at character boundaries); comparisons and hashes of escaped strings;
 * exact integers at the int64 limits; skipping values.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "jscan.h"
#include "util.h"

/*
 * The token stream of @json as one line: "{" "}" "[" "]", k:RAW (key), s:RAW,
 * n:RAW, true, false, null, each followed by @LEVEL when @levels; ends with
 * "EOF" or "ERR@OFF:message".
 */
static const char *dump_n(const char *json, size_t len, unsigned max_depth, bool levels)
{
	static char out[4096];
	struct jscan s;
	struct jscan_tok t;
	size_t o = 0;

	jscan_init(&s, json, len, max_depth);
	out[0] = '\0';
	for (;;) {
		enum jscan_type type = jscan_next(&s, &t);
		char tok[256];

		assert_int_equal(type, t.type);
		switch (type) {
		case JSCAN_ERROR: {
			size_t off;
			const char *msg = jscan_error(&s, &off);

			assert_non_null(msg);
			assert_int_equal(off, t.off);
			snprintf(tok, sizeof(tok), "ERR@%zu:%s", off, msg);
			break;
		}
		case JSCAN_EOF:
			snprintf(tok, sizeof(tok), "EOF");
			break;
		case JSCAN_OBJECT:
			snprintf(tok, sizeof(tok), "{");
			break;
		case JSCAN_OBJECT_END:
			snprintf(tok, sizeof(tok), "}");
			break;
		case JSCAN_ARRAY:
			snprintf(tok, sizeof(tok), "[");
			break;
		case JSCAN_ARRAY_END:
			snprintf(tok, sizeof(tok), "]");
			break;
		case JSCAN_KEY:
			snprintf(tok, sizeof(tok), "k:%.*s", (int)t.len, t.p);
			break;
		case JSCAN_STRING:
			snprintf(tok, sizeof(tok), "s:%.*s", (int)t.len, t.p);
			break;
		case JSCAN_NUMBER:
			snprintf(tok, sizeof(tok), "n:%.*s", (int)t.len, t.p);
			break;
		default:
			snprintf(tok, sizeof(tok), "%.*s", (int)t.len, t.p);
			break;
		}
		o += (size_t)snprintf(out + o, sizeof(out) - o, "%s%s", o ? " " : "", tok);
		if (levels && type != JSCAN_EOF && type != JSCAN_ERROR)
			o += (size_t)snprintf(out + o, sizeof(out) - o, "@%u", t.depth);
		if (type == JSCAN_EOF || type == JSCAN_ERROR)
			break;
		assert_true(o < sizeof(out) - 300);
	}
	return out;
}

static const char *dump(const char *json)
{
	return dump_n(json, strlen(json), 0, false);
}

static void expect_dump(const char *json, const char *want)
{
	const char *got = dump(json);

	if (strcmp(got, want) != 0)
		fail_msg("input: %s\ngot:  %s\nwant: %s", json, got, want);
}

/* A one-string document: the token after "[" decoded into @buf. */
static struct jscan_tok first_string(struct jscan *s, const char *json)
{
	struct jscan_tok t;

	jscan_init(s, json, strlen(json), 0);
	assert_int_equal(jscan_next(s, &t), JSCAN_STRING);
	return t;
}

static void test_tokens(void **state)
{
	assert_string_equal(
		dump_n("{\"a\":[1,-2.5e+3,\"x\",true,false,null,{}],\"b\":{\"c\":[]}}",
		       strlen("{\"a\":[1,-2.5e+3,\"x\",true,false,null,{}],\"b\":{\"c\":[]}}"), 0,
		       true),
		"{@0 k:a@1 [@1 n:1@2 n:-2.5e+3@2 s:x@2 true@2 false@2 null@2 {@2 }@2 ]@1 "
		"k:b@1 {@1 k:c@2 [@2 ]@2 }@1 }@0 EOF");
	/* Any value at the top, whitespace anywhere between tokens. */
	expect_dump(" \t\r\n42 \n", "n:42 EOF");
	expect_dump("\"hi\"", "s:hi EOF");
	expect_dump("null", "null EOF");
	expect_dump("[ ]", "[ ] EOF");
	expect_dump("{ \"k\" : \"v\" , \"k2\":0}", "{ k:k s:v k:k2 n:0 } EOF");
	expect_dump("[0,-0,0.5,1E5,1e-5,123456789012345678901234567890]",
		    "[ n:0 n:-0 n:0.5 n:1E5 n:1e-5 n:123456789012345678901234567890 ] EOF");
}

static void test_offsets_and_flags(void **state)
{
	static const char json[] = "{\"a\\n\": -12.5e3, \"b\":\"x\\u0000\"}";
	struct jscan s;
	struct jscan_tok t;

	jscan_init(&s, json, strlen(json), 0);
	assert_int_equal(jscan_next(&s, &t), JSCAN_OBJECT);
	assert_int_equal(t.off, 0);
	assert_int_equal(jscan_next(&s, &t), JSCAN_KEY);
	assert_int_equal(t.off, 1);
	assert_int_equal(t.len, 3);
	assert_int_equal(t.dlen, 2);
	assert_int_equal(t.flags, JSCAN_F_ESCAPED);
	assert_int_equal(jscan_next(&s, &t), JSCAN_NUMBER);
	assert_int_equal(t.off, 8);
	assert_int_equal(t.flags, JSCAN_F_NEG | JSCAN_F_FRAC | JSCAN_F_EXP);
	assert_int_equal(jscan_next(&s, &t), JSCAN_KEY);
	assert_int_equal(jscan_next(&s, &t), JSCAN_STRING);
	assert_int_equal(t.flags, JSCAN_F_ESCAPED | JSCAN_F_NUL);
	assert_int_equal(t.dlen, 2);
	assert_int_equal(jscan_next(&s, &t), JSCAN_OBJECT_END);
	assert_int_equal(jscan_next(&s, &t), JSCAN_EOF);
	/* EOF again and again. */
	assert_int_equal(jscan_next(&s, &t), JSCAN_EOF);
	assert_null(jscan_error(&s, NULL));
}

static void test_syntax_errors(void **state)
{
	expect_dump("", "ERR@0:empty input (no JSON value)");
	expect_dump("  \n", "ERR@3:empty input (no JSON value)");
	expect_dump("[1,]", "[ n:1 ERR@3:expected a value");
	expect_dump("{\"a\":1,}", "{ k:a n:1 ERR@7:expected a member name (a string)");
	expect_dump("{,}", "{ ERR@1:expected a member name (a string) or '}'");
	expect_dump("{\"a\" 1}", "{ ERR@5:expected ':'");
	expect_dump("{\"a\":1 \"b\":2}", "{ k:a n:1 ERR@7:expected ',' or '}'");
	expect_dump("[1 2]", "[ n:1 ERR@3:expected ',' or ']'");
	expect_dump("[1}", "[ n:1 ERR@2:expected ',' or ']'");
	expect_dump("{\"a\":1]", "{ k:a n:1 ERR@6:expected ',' or '}'");
	expect_dump("[1", "[ n:1 ERR@2:unexpected end of input");
	expect_dump("{\"a\"", "{ ERR@4:unexpected end of input, expected ':'");
	expect_dump("{\"a\":", "{ k:a ERR@5:unexpected end of input");
	expect_dump("1 2", "n:1 ERR@2:unexpected data after the JSON value");
	expect_dump("{} x", "{ } ERR@3:unexpected data after the JSON value");
	expect_dump("[tru]", "[ ERR@1:expected a value");
	expect_dump("[nul", "[ ERR@1:expected a value");
	expect_dump("[True]", "[ ERR@1:expected a value");
	expect_dump("[NaN]", "[ ERR@1:expected a value");
	expect_dump("[+1]", "[ ERR@1:expected a value");
	expect_dump("[.5]", "[ ERR@1:expected a value");
	expect_dump("[01]", "[ ERR@2:leading zero in a number");
	expect_dump("[-01]", "[ ERR@3:leading zero in a number");
	expect_dump("[-]", "[ ERR@2:expected a digit");
	expect_dump("[1.]", "[ ERR@3:expected a digit after '.'");
	expect_dump("[1.e5]", "[ ERR@3:expected a digit after '.'");
	expect_dump("[1e]", "[ ERR@3:expected a digit in the exponent");
	expect_dump("[1e+]", "[ ERR@4:expected a digit in the exponent");
	expect_dump("[1x]", "[ n:1 ERR@2:expected ',' or ']'");
	expect_dump("/* c */ 1", "ERR@0:expected a value");
	expect_dump("\xef\xbb\xbf{}", "ERR@0:expected a value");
	/* Sticky: the same error again. */
	{
		struct jscan s;
		struct jscan_tok t;
		size_t off;

		jscan_init(&s, "[1,]", 4, 0);
		while (jscan_next(&s, &t) != JSCAN_ERROR)
			;
		assert_int_equal(jscan_next(&s, &t), JSCAN_ERROR);
		assert_int_equal(t.off, 3);
		assert_string_equal(jscan_error(&s, &off), "expected a value");
		assert_int_equal(off, 3);
	}
}

static void test_string_errors(void **state)
{
	expect_dump("[\"abc", "[ ERR@1:unterminated string");
	expect_dump("[\"abc\\", "[ ERR@5:unterminated string");
	expect_dump("[\"a\\x\"]", "[ ERR@3:invalid escape in string");
	expect_dump("[\"a\\'\"]", "[ ERR@3:invalid escape in string");
	expect_dump("[\"\\u12\"]", "[ ERR@2:invalid \\u escape (4 hex digits expected)");
	expect_dump("[\"\\u12g4\"]", "[ ERR@2:invalid \\u escape (4 hex digits expected)");
	expect_dump("[\"\\udc00\"]", "[ ERR@2:lone low surrogate in \\u escape");
	expect_dump("[\"\\ud800\"]",
		    "[ ERR@2:high surrogate in \\u escape not followed by a low one");
	expect_dump("[\"\\ud800\\u0041\"]",
		    "[ ERR@2:high surrogate in \\u escape not followed by a low one");
	expect_dump("[\"\\ud800\\ud800\"]",
		    "[ ERR@2:high surrogate in \\u escape not followed by a low one");
	expect_dump("[\"a\tb\"]", "[ ERR@3:control character in string");
	expect_dump("[\"a\nb\"]", "[ ERR@3:control character in string");
	assert_string_equal(dump_n("[\"a\0b\"]", 7, 0, false), "[ ERR@3:NUL byte in string");
	assert_string_equal(dump_n("[1,\0]", 5, 0, false), "[ n:1 ERR@3:expected a value");
	/* Invalid UTF-8: lone continuation, overlong, encoded surrogate, > U+10FFFF, cut. */
	expect_dump("[\"ab\x80\"]", "[ ERR@4:invalid UTF-8");
	expect_dump("[\"\xc0\xaf\"]", "[ ERR@2:invalid UTF-8");
	expect_dump("[\"\xe0\x80\xaf\"]", "[ ERR@2:invalid UTF-8");
	expect_dump("[\"\xed\xa0\x80\"]", "[ ERR@2:invalid UTF-8");
	expect_dump("[\"\xf4\x90\x80\x80\"]", "[ ERR@2:invalid UTF-8");
	expect_dump("[\"\xe2\x82\"]", "[ ERR@2:invalid UTF-8");
	expect_dump("[\"\xf0\x9f\x98", "[ ERR@2:invalid UTF-8");
	/* Non-ASCII outside a string is just not a value. */
	expect_dump("[\xc3\xa9]", "[ ERR@1:expected a value");
	/* Valid: every length of UTF-8 sequence, DEL raw. */
	expect_dump("[\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\x7f\"]",
		    "[ s:\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\x7f ] EOF");
}

static void test_depth(void **state)
{
	char buf[200];

	assert_string_equal(dump_n("[[[1]]]", 7, 3, false), "[ [ [ n:1 ] ] ] EOF");
	assert_string_equal(dump_n("[[[[1]]]]", 9, 3, false), "[ [ [ ERR@3:nesting too deep");
	assert_string_equal(dump_n("{\"a\":{\"b\":{}}}", 14, 2, false),
			    "{ k:a { k:b ERR@10:nesting too deep");
	/* The default (and largest) limit is JSCAN_MAX_DEPTH. */
	memset(buf, '[', JSCAN_MAX_DEPTH);
	memset(buf + JSCAN_MAX_DEPTH, ']', JSCAN_MAX_DEPTH);
	assert_non_null(strstr(dump_n(buf, 2 * JSCAN_MAX_DEPTH, 0, false), "] EOF"));
	buf[0] = '[';
	memset(buf, '[', JSCAN_MAX_DEPTH + 1);
	memset(buf + JSCAN_MAX_DEPTH + 1, ']', JSCAN_MAX_DEPTH + 1);
	assert_non_null(strstr(dump_n(buf, 2 * JSCAN_MAX_DEPTH + 2, 1000, false),
			       "ERR@64:nesting too deep"));
}

static void test_decode(void **state)
{
	struct jscan s;
	struct jscan_tok t;
	char buf[64];

	t = first_string(&s, "\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"");
	assert_int_equal(jscan_str_decode(&t, buf, sizeof(buf)), 12);
	assert_int_equal(t.dlen, 12);
	assert_string_equal(buf, "a\"b\\c/d\b\f\n\r\t");

	/* 1-, 2-, 3-byte \u escapes and a surrogate pair (U+1F600). */
	t = first_string(&s, "\"\\u0041\\u00e9\\u20AC\\ud83d\\uDE00\"");
	assert_int_equal(t.dlen, 1 + 2 + 3 + 4);
	assert_int_equal(jscan_str_decode(&t, buf, sizeof(buf)), 10);
	assert_string_equal(buf, "A\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");

	/* \u0000 decodes to a NUL byte, flagged. */
	t = first_string(&s, "\"a\\u0000b\"");
	assert_true(t.flags & JSCAN_F_NUL);
	assert_int_equal(jscan_str_decode(&t, buf, sizeof(buf)), 3);
	assert_memory_equal(buf, "a\0b", 4);

	/* Cut to fit, never inside a character; the return is the full length. */
	t = first_string(&s, "\"ab\\u20ac\"");
	assert_int_equal(jscan_str_decode(&t, buf, 5), 5);
	assert_string_equal(buf, "ab");
	assert_int_equal(jscan_str_decode(&t, buf, 6), 5);
	assert_string_equal(buf, "ab\xe2\x82\xac");
	t = first_string(&s, "\"ab\xe2\x82\xac\"");
	assert_int_equal(jscan_str_decode(&t, buf, 5), 5);
	assert_string_equal(buf, "ab");
	assert_int_equal(jscan_str_decode(&t, buf, 1), 5);
	assert_string_equal(buf, "");
	buf[0] = 'x';
	assert_int_equal(jscan_str_decode(&t, buf, 0), 5);
	assert_int_equal(buf[0], 'x');
}

static void test_compare_and_hash(void **state)
{
	static const char json[] = "[\"price\",\"pr\\u0069ce\",\"pric\",\"\\u00e9\",\"\xc3\xa9\","
				   "\"\\ud83d\\ude00\",\"\xf0\x9f\x98\x80\"]";
	struct jscan_tok t[7], x;
	struct jscan s;

	jscan_init(&s, json, strlen(json), 0);
	assert_int_equal(jscan_next(&s, &x), JSCAN_ARRAY);
	for (int i = 0; i < 7; i++)
		assert_int_equal(jscan_next(&s, &t[i]), JSCAN_STRING);
	assert_true(jscan_str_eq(&t[0], "price", 5));
	assert_true(jscan_str_eq(&t[1], "price", 5));
	assert_false(jscan_str_eq(&t[1], "pricf", 5));
	assert_false(jscan_str_eq(&t[2], "price", 5));
	assert_false(jscan_str_eq(&t[0], "pric", 4));
	assert_true(jscan_tok_eq(&t[0], &t[1]));
	assert_true(jscan_tok_eq(&t[1], &t[0]));
	assert_false(jscan_tok_eq(&t[0], &t[2]));
	assert_true(jscan_tok_eq(&t[3], &t[4]));
	assert_true(jscan_tok_eq(&t[5], &t[6]));
	assert_false(jscan_tok_eq(&t[4], &t[6]));
	assert_int_equal(jscan_str_hash(&t[0]), jscan_str_hash(&t[1]));
	assert_int_equal(jscan_str_hash(&t[3]), jscan_str_hash(&t[4]));
	assert_int_equal(jscan_str_hash(&t[5]), jscan_str_hash(&t[6]));
	assert_int_not_equal(jscan_str_hash(&t[0]), jscan_str_hash(&t[2]));
	assert_true(jscan_str_eq(&t[6], "\xf0\x9f\x98\x80", 4));
	assert_true(jscan_str_eq(&t[5], "\xf0\x9f\x98\x80", 4));
}

/* The number in "[LIT]" through jscan_int64. */
static int int_of(const char *lit, int64_t *v)
{
	char json[128];
	struct jscan s;
	struct jscan_tok t;

	snprintf(json, sizeof(json), "[%s]", lit);
	jscan_init(&s, json, strlen(json), 0);
	assert_int_equal(jscan_next(&s, &t), JSCAN_ARRAY);
	assert_int_equal(jscan_next(&s, &t), JSCAN_NUMBER);
	*v = 42;
	return jscan_int64(&t, v);
}

static void test_int64(void **state)
{
	int64_t v;

	assert_int_equal(int_of("0", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(int_of("-0", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(int_of("1290", &v), 0);
	assert_int_equal(v, 1290);
	assert_int_equal(int_of("-7", &v), 0);
	assert_int_equal(v, -7);
	assert_int_equal(int_of("9223372036854775807", &v), 0);
	assert_true(v == INT64_MAX);
	assert_int_equal(int_of("-9223372036854775808", &v), 0);
	assert_true(v == INT64_MIN);
	assert_int_equal(int_of("9223372036854775808", &v), -ERANGE);
	assert_true(v == INT64_MAX);
	assert_int_equal(int_of("-9223372036854775809", &v), -ERANGE);
	assert_true(v == INT64_MIN);
	assert_int_equal(int_of("99999999999999999999", &v), -ERANGE);
	assert_int_equal(int_of("18446744073709551616", &v), -ERANGE);
	assert_int_equal(int_of("12.0", &v), -EINVAL);
	assert_int_equal(int_of("12.9", &v), -EINVAL);
	assert_int_equal(int_of("1e3", &v), -EINVAL);
	assert_int_equal(int_of("1e400", &v), -EINVAL);
	assert_int_equal(int_of("-1E-2", &v), -EINVAL);
}

static void test_skip(void **state)
{
	static const char json[] =
		"{\"a\":{\"x\":[1,{\"y\":[]}],\"z\":\"}\"},\"b\":2,\"c\":[[]],\"d\":3}";
	struct jscan s;
	struct jscan_tok t;

	jscan_init(&s, json, strlen(json), 0);
	assert_int_equal(jscan_next(&s, &t), JSCAN_OBJECT);
	assert_int_equal(jscan_next(&s, &t), JSCAN_KEY);
	assert_int_equal(jscan_next(&s, &t), JSCAN_OBJECT);
	assert_int_equal(jscan_skip(&s, &t), 0);
	assert_int_equal(jscan_next(&s, &t), JSCAN_KEY);
	assert_true(jscan_str_eq(&t, "b", 1));
	assert_int_equal(jscan_next(&s, &t), JSCAN_NUMBER);
	assert_int_equal(jscan_skip(&s, &t), 0); /* a scalar: nothing to skip */
	assert_int_equal(jscan_next(&s, &t), JSCAN_KEY);
	assert_int_equal(jscan_next(&s, &t), JSCAN_ARRAY);
	assert_int_equal(jscan_skip(&s, &t), 0);
	assert_int_equal(jscan_next(&s, &t), JSCAN_KEY);
	assert_true(jscan_str_eq(&t, "d", 1));
	assert_int_equal(jscan_next(&s, &t), JSCAN_NUMBER);
	assert_int_equal(jscan_next(&s, &t), JSCAN_OBJECT_END);
	assert_int_equal(jscan_next(&s, &t), JSCAN_EOF);

	/* A syntax error inside the skipped value. */
	jscan_init(&s, "[{\"a\":[1,,]}]", 13, 0);
	assert_int_equal(jscan_next(&s, &t), JSCAN_ARRAY);
	assert_int_equal(jscan_next(&s, &t), JSCAN_OBJECT);
	assert_int_equal(jscan_skip(&s, &t), -EINVAL);
	assert_string_equal(jscan_error(&s, NULL), "expected a value");
}

static void test_type_names(void **state)
{
	assert_string_equal(jscan_type_name(JSCAN_STRING), "a string");
	assert_string_equal(jscan_type_name(JSCAN_ARRAY), "an array");
	assert_string_equal(jscan_type_name(JSCAN_OBJECT), "an object");
	assert_string_equal(jscan_type_name(JSCAN_NUMBER), "a number");
	assert_string_equal(jscan_type_name(JSCAN_NULL), "null");
	assert_string_equal(jscan_type_name((enum jscan_type)99), "a syntax error");
}

/* A NULL buffer with length 0 is an empty input, not a crash. */
static void test_null_buffer(void **state)
{
	assert_string_equal(dump_n(NULL, 0, 0, false), "ERR@0:empty input (no JSON value)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tokens),
		cmocka_unit_test(test_offsets_and_flags),
		cmocka_unit_test(test_syntax_errors),
		cmocka_unit_test(test_string_errors),
		cmocka_unit_test(test_depth),
		cmocka_unit_test(test_decode),
		cmocka_unit_test(test_compare_and_hash),
		cmocka_unit_test(test_int64),
		cmocka_unit_test(test_skip),
		cmocka_unit_test(test_type_names),
		cmocka_unit_test(test_null_buffer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
