/*
 * test_rules: the local rules engine (issue 5, item 3). The rules.set parser:
 * a full set with every action's fields read back, then every error with its
 * exact JSON path (syntax, NaN, types, durations, names, operators, actions,
 * 1,001 rules, duplicate keys at any depth, many errors in document order).
 * The engine: conditions (strings, exact integers, ranges, "in", sale lines),
 * the "not within 24h" boundary at -1 s / +1 s (and -1 ms / 0 ms), out-of-order
 * events (late W, late U, U before the window), cooldown, a restart in the
 * middle of a window (save, new engine, load, fires on time), replacing the
 * set, bad saved states; and the evaluation cost per event with 1,000 rules
 * loaded (printed).
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

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "rules.h"
#include "util.h"

#define TS "2026-11-23T02:00:00.000Z"
#define T0 1795399200000LL
#define SEC 1000LL
#define MIN (60 * SEC)
#define HOUR (60 * MIN)
#define GRACE (60 * SEC)
#define HEAD "\"id\":\"c-1\",\"issued_at\":\"" TS "\",\"action\":\"rules.set\",\"version\":3"
#define CMD(rules) "{" HEAD ",\"rules\":[" rules "]}"
#define THEN_ALERT "\"then\":{\"action\":\"alert\",\"message\":\"m\"}"
#define WHEN_FF "\"when\":{\"event\":\"footfall\"}"

static struct price_errors errs;

static void print_errs(const struct price_errors *e)
{
	for (size_t i = 0; i < e->n; i++)
		print_message("  error %zu: at=\"%s\" error=\"%s\"\n", i, e->e[i].at,
			      e->e[i].error);
}

static struct rule_set *parse_ok(const char *json)
{
	struct rule_set *rs = NULL;
	int rc = rules_parse(json, strlen(json), &rs, &errs, NULL);

	if (rc != 0)
		print_errs(&errs);
	assert_int_equal(rc, 0);
	assert_non_null(rs);
	assert_int_equal(errs.total, 0);
	return rs;
}

/* @json is rejected with exactly one error, at @at, whose message contains @phrase. */
static void expect_err(const char *json, const char *at, const char *phrase)
{
	struct rule_set *rs = (struct rule_set *)1;
	int rc = rules_parse(json, strlen(json), &rs, &errs, NULL);

	if (rc != -EINVAL || errs.total != 1 || strcmp(errs.e[0].at, at) ||
	    !strstr(errs.e[0].error, phrase)) {
		print_message("payload: %s\nwant at=\"%s\" ~\"%s\", got rc=%d:\n", json, at, phrase,
			      rc);
		print_errs(&errs);
		fail();
	}
	assert_null(rs);
}

/* ---- the parser ---------------------------------------------------------- */

static void test_parse_full(void **state)
{
	struct rule_set *rs = parse_ok(CMD(
		"{\"name\":\"dairy-crowd-no-sale\","
		"\"when\":{\"event\":\"footfall\",\"where\":{\"zone\":\"dairy\",\"in\":{\"gte\":20}"
		"}},"
		"\"unless\":{\"event\":\"sale\",\"where\":{\"sku\":{\"in\":[\"B2\",\"A1\",\"B2\"]}}"
		","
		"\"within\":\"30m\"},"
		"\"then\":{\"action\":\"alert\",\"message\":\"crowd, no sale \\u00e9\"},"
		"\"cooldown\":\"1h\",\"note\":{\"x\":[1,{\"y\":2}]}},"
		"{\"name\":\"r.2\",\"when\":{\"event\":\"sale\",\"where\":{\"total\":{\"gt\":-5,"
		"\"lte\":"
		"9007199254740993},\"till\":{\"ne\":\"T1\"},\"qty\":2}},"
		"\"then\":{\"action\":\"screen\",\"zone\":\"dairy\",\"headline\":\"Offers\","
		"\"items\":[{\"sku\":\"690\",\"headline\":\"fresh\"},{\"sku\":\"691\"}],\"sku\":"
		"\"ignored\"}},"
		"{\"name\":\"r_3\",\"when\":{\"event\":\"kpi\",\"within\":\"ignored\"},"
		"\"then\":{\"action\":\"flash\",\"sku\":\"690\"},\"unless\":null,\"cooldown\":null}"
		","
		"{\"name\":\"R-4\",\"when\":{\"event\":\"sale\",\"where\":{\"sku\":{\"in\":[3,"
		"\"x\",-1]}}},"
		"\"then\":{\"action\":\"price\",\"sku\":\"690.1\",\"price\":990,\"for\":\"2h\"}},"
		"{\"name\":\"r5\",\"when\":{\"event\":\"sale\"},\"then\":{\"action\":\"screen\","
		"\"zone\":\"z\",\"headline\":\"only a headline\"}}"));
	const struct rule *r;

	assert_string_equal(rs->id, "c-1");
	assert_int_equal(rs->issued_at_ms, T0);
	assert_int_equal(rs->version, 3);
	assert_int_equal(rs->n_rules, 5);

	r = &rs->rules[0];
	assert_string_equal(r->name, "dairy-crowd-no-sale");
	assert_string_equal(r->when.event, "footfall");
	assert_int_equal(r->when.n_conds, 2);
	assert_string_equal(r->when.conds[0].field, "zone");
	assert_int_equal(r->when.conds[0].op, RULES_OP_EQ);
	assert_string_equal(r->when.conds[0].v.s, "dairy");
	assert_string_equal(r->when.conds[1].field, "in");
	assert_int_equal(r->when.conds[1].op, RULES_OP_GTE);
	assert_null(r->when.conds[1].v.s);
	assert_int_equal(r->when.conds[1].v.i, 20);
	assert_true(r->has_unless);
	assert_string_equal(r->unless.event, "sale");
	assert_int_equal(r->unless.n_conds, 1);
	assert_int_equal(r->unless.conds[0].op, RULES_OP_IN);
	assert_int_equal(r->unless.conds[0].n_set, 2); /* sorted, repeats dropped */
	assert_string_equal(r->unless.conds[0].set[0].s, "A1");
	assert_string_equal(r->unless.conds[0].set[1].s, "B2");
	assert_int_equal(r->within_ms, 30 * MIN);
	assert_int_equal(r->cooldown_ms, HOUR);
	assert_int_equal(r->then.kind, RULES_ALERT);
	assert_string_equal(r->then.message, "crowd, no sale \xc3\xa9");

	r = &rs->rules[1];
	assert_false(r->has_unless);
	assert_int_equal(r->cooldown_ms, 0);
	assert_int_equal(r->when.n_conds, 4);
	assert_int_equal(r->when.conds[0].op, RULES_OP_GT);
	assert_int_equal(r->when.conds[0].v.i, -5);
	assert_int_equal(r->when.conds[1].op, RULES_OP_LTE);
	assert_int_equal(r->when.conds[1].v.i, 9007199254740993LL); /* exact */
	assert_int_equal(r->when.conds[2].op, RULES_OP_NE);
	assert_string_equal(r->when.conds[2].v.s, "T1");
	assert_string_equal(r->when.conds[3].field, "qty");
	assert_int_equal(r->when.conds[3].v.i, 2);
	assert_int_equal(r->then.kind, RULES_SCREEN);
	assert_string_equal(r->then.zone, "dairy");
	assert_string_equal(r->then.headline, "Offers");
	assert_int_equal(r->then.n_items, 2);
	assert_string_equal(r->then.items[0].sku, "690");
	assert_string_equal(r->then.items[0].headline, "fresh");
	assert_string_equal(r->then.items[1].sku, "691");
	assert_null(r->then.items[1].headline);
	assert_null(r->then.sku);

	r = &rs->rules[2];
	assert_false(r->has_unless);
	assert_int_equal(r->when.n_conds, 0);
	assert_int_equal(r->then.kind, RULES_FLASH);
	assert_string_equal(r->then.sku, "690");

	r = &rs->rules[3];
	assert_int_equal(r->when.conds[0].n_set, 3); /* integers first, ascending */
	assert_null(r->when.conds[0].set[0].s);
	assert_int_equal(r->when.conds[0].set[0].i, -1);
	assert_int_equal(r->when.conds[0].set[1].i, 3);
	assert_string_equal(r->when.conds[0].set[2].s, "x");
	assert_int_equal(r->then.kind, RULES_PRICE);
	assert_string_equal(r->then.sku, "690.1");
	assert_int_equal(r->then.price, 990);
	assert_int_equal(r->then.for_ms, 2 * HOUR);

	r = &rs->rules[4];
	assert_int_equal(r->then.n_items, 0);
	assert_string_equal(r->then.headline, "only a headline");

	assert_string_equal(rules_op_name(RULES_OP_LTE), "lte");
	assert_string_equal(rules_action_name(RULES_PRICE), "price");
	rules_set_free(rs);

	/* An empty set is valid (it removes every rule). */
	rs = parse_ok(CMD(""));
	assert_int_equal(rs->n_rules, 0);
	rules_set_free(rs);
	rules_set_free(NULL);
}

static void test_parse_fingerprint(void **state)
{
	struct rule_set *a = parse_ok(CMD("{\"name\":\"r\"," WHEN_FF ",\"unless\":{\"event\":"
					  "\"sale\",\"within\":\"30m\"}," THEN_ALERT "}"));
	struct rule_set *b = parse_ok(CMD("{\"name\":\"r\"," WHEN_FF ",\"unless\":{\"event\":"
					  "\"sale\",\"within\":\"30m\"},\"then\":{\"action\":"
					  "\"flash\",\"sku\":\"x\"},\"cooldown\":\"1h\"}"));
	struct rule_set *c = parse_ok(CMD("{\"name\":\"r\"," WHEN_FF ",\"unless\":{\"event\":"
					  "\"sale\",\"within\":\"31m\"}," THEN_ALERT "}"));

	/* The action and cooldown are not part of it; the window is. */
	assert_true(a->rules[0].fp == b->rules[0].fp);
	assert_true(a->rules[0].fp != c->rules[0].fp);
	rules_set_free(a);
	rules_set_free(b);
	rules_set_free(c);
}

#define R(body) CMD("{\"name\":\"r\"," body "}")

static void test_parse_errors_top(void **state)
{
	char ref[PRICE_ID_MAX + 1];
	struct rule_set *rs;
	struct dynbuf d;
	int rc;

	expect_err("", "", "invalid JSON at byte 0");
	expect_err("{\"id\":", "", "invalid JSON at byte 6");
	expect_err("{\"a\":NaN}", "", "invalid JSON at byte 5");
	expect_err("{\"a\":\"\xff\"}", "", "invalid UTF-8 at byte");
	expect_err("[1]", "", "must be a JSON object, got an array");
	expect_err("{" HEAD "}", "rules", "required");
	expect_err("{\"issued_at\":\"" TS "\",\"action\":\"rules.set\",\"version\":3,\"rules\":[]}",
		   "id", "required");
	expect_err("{\"id\":\"\",\"issued_at\":\"" TS
		   "\",\"action\":\"rules.set\",\"version\":3,\"rules\":[]}",
		   "id", "must not be empty");
	expect_err("{\"id\":\"a b\",\"issued_at\":\"" TS
		   "\",\"action\":\"rules.set\",\"version\":3,\"rules\":[]}",
		   "id", "printable ASCII");
	expect_err("{\"id\":\"c\",\"issued_at\":\"yesterday\",\"action\":\"rules.set\","
		   "\"version\":3,\"rules\":[]}",
		   "issued_at", "RFC 3339");
	expect_err("{\"id\":\"c\",\"issued_at\":\"" TS "\",\"action\":\"rules.get\",\"version\":3,"
		   "\"rules\":[]}",
		   "action", "must be \"rules.set\"");
	expect_err("{\"id\":\"c\",\"issued_at\":\"" TS "\",\"action\":\"rules.set\",\"version\":0,"
		   "\"rules\":[]}",
		   "version", "must be 1..");
	expect_err("{\"id\":\"c\",\"issued_at\":\"" TS
		   "\",\"action\":\"rules.set\",\"version\":3.0,"
		   "\"rules\":[]}",
		   "version", "must be an integer, got 3.0");
	expect_err("{\"id\":\"c\",\"issued_at\":\"" TS "\",\"action\":\"rules.set\",\"version\":"
		   "\"3\",\"rules\":[]}",
		   "version", "must be an integer, got a string");
	expect_err("{" HEAD ",\"rules\":{}}", "rules", "must be an array, got an object");
	expect_err("{" HEAD ",\"rules\":[],\"version\":4}", "version", "duplicate key");
	expect_err("{" HEAD ",\"rules\":[],\"x\":[{\"a\":1,\"a\":2}]}", "x[0].a", "duplicate key");

	/* 1,001 rules: one error, the rules not examined (they are not even valid). */
	dynbuf_init(&d, 1 << 20);
	assert_int_equal(dynbuf_adds(&d, "{" HEAD ",\"rules\":["), 0);
	for (int i = 0; i < RULES_MAX + 1; i++)
		assert_int_equal(dynbuf_adds(&d, i ? ",{}" : "{}"), 0);
	assert_int_equal(dynbuf_adds(&d, "]}"), 0);
	expect_err(d.buf, "rules", "too many rules: 1001 > 1000");
	dynbuf_free(&d);

	/* Too big. */
	rc = rules_parse("{}", RULES_CMD_MAX + 1, &rs, &errs, NULL);
	assert_int_equal(rc, -EMSGSIZE);
	assert_int_equal(errs.total, 1);

	/* The id comes back for the ack even when the rest is wrong. */
	rc = rules_parse(CMD("{}"), strlen(CMD("{}")), &rs, &errs, ref);
	assert_int_equal(rc, -EINVAL);
	assert_string_equal(ref, "c-1");
	assert_int_equal(rules_parse("x", 1, NULL, &errs, NULL), -EINVAL);
}

static void test_parse_errors_rules(void **state)
{
	expect_err(CMD("1"), "rules[0]", "must be an object, got a number");
	expect_err(CMD("{" WHEN_FF "," THEN_ALERT "}"), "rules[0].name", "required");
	expect_err(CMD("{\"name\":\"a b\"," WHEN_FF "," THEN_ALERT "}"), "rules[0].name",
		   "rule name");
	expect_err(CMD("{\"name\":\"\"," WHEN_FF "," THEN_ALERT "}"), "rules[0].name",
		   "must not be empty");
	expect_err(
		CMD("{\"name\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		    "\"," WHEN_FF "," THEN_ALERT "}"),
		"rules[0].name", "65 bytes, over the 64-byte limit");
	expect_err(CMD("{\"name\":\"r\"," WHEN_FF "," THEN_ALERT "},{\"name\":\"s\"," WHEN_FF
		       "," THEN_ALERT "},{\"name\":\"r\"," WHEN_FF "," THEN_ALERT "}"),
		   "rules[2].name", "duplicate rule name r, also at rules[0]");
	expect_err(R(THEN_ALERT), "rules[0].when", "required");
	expect_err(R(WHEN_FF), "rules[0].then", "required");
	expect_err(R("\"when\":null," THEN_ALERT), "rules[0].when", "must be an object, got null");
	expect_err(R("\"when\":{}," THEN_ALERT), "rules[0].when.event", "required");
	expect_err(R("\"when\":{\"event\":\"Sale\"}," THEN_ALERT), "rules[0].when.event",
		   "event type");
	expect_err(R("\"when\":{\"event\":\"1sale\"}," THEN_ALERT), "rules[0].when.event",
		   "starting with a letter");
	expect_err(R("\"when\":{\"event\":\"sale\\u0000\"}," THEN_ALERT), "rules[0].when.event",
		   "\\u0000");
	expect_err(R("\"when\":{\"event\":\"sale\",\"event\":\"kpi\"}," THEN_ALERT),
		   "rules[0].when.event", "duplicate key");
	expect_err(R(WHEN_FF "," THEN_ALERT ",\"cooldown\":\"1w\""), "rules[0].cooldown",
		   "duration");
	expect_err(R(WHEN_FF "," THEN_ALERT ",\"cooldown\":\"0s\""), "rules[0].cooldown",
		   "must be positive");
	expect_err(R(WHEN_FF "," THEN_ALERT ",\"cooldown\":\"31d\""), "rules[0].cooldown",
		   "at most 30d");
	expect_err(R(WHEN_FF "," THEN_ALERT ",\"cooldown\":\"721h\""), "rules[0].cooldown",
		   "at most 30d");
	expect_err(R(WHEN_FF "," THEN_ALERT ",\"cooldown\":\"m\""), "rules[0].cooldown",
		   "duration");
	expect_err(R(WHEN_FF "," THEN_ALERT ",\"cooldown\":\"-5m\""), "rules[0].cooldown",
		   "duration");
	expect_err(R(WHEN_FF "," THEN_ALERT ",\"cooldown\":60"), "rules[0].cooldown",
		   "must be a string, got a number");
	/* unless */
	expect_err(R(WHEN_FF ",\"unless\":{\"event\":\"sale\"}," THEN_ALERT),
		   "rules[0].unless.within", "required");
	expect_err(R(WHEN_FF ",\"unless\":{\"within\":\"30m\"}," THEN_ALERT),
		   "rules[0].unless.event", "required");
	expect_err(R(WHEN_FF ",\"unless\":{\"event\":\"sale\",\"within\":\"30\"}," THEN_ALERT),
		   "rules[0].unless.within", "duration");
	expect_err(R(WHEN_FF ",\"unless\":[]," THEN_ALERT), "rules[0].unless",
		   "must be an object, got an array");
}

#define W(where) R("\"when\":{\"event\":\"sale\",\"where\":" where "}," THEN_ALERT)

static void test_parse_errors_where(void **state)
{
	expect_err(W("[]"), "rules[0].when.where", "must be an object, got an array");
	expect_err(W("{\"a b\":1}"), "rules[0].when.where.a b", "field name");
	expect_err(W("{\"\":1}"), "rules[0].when.where.", "field name");
	expect_err(W("{\"x\":true}"), "rules[0].when.where.x",
		   "a string, an integer or an operator object, got true");
	expect_err(W("{\"x\":null}"), "rules[0].when.where.x", "got null");
	expect_err(W("{\"x\":1.5}"), "rules[0].when.where.x", "must be an integer, got 1.5");
	expect_err(W("{\"x\":1e3}"), "rules[0].when.where.x", "must be an integer, got 1e3");
	expect_err(W("{\"x\":99999999999999999999}"), "rules[0].when.where.x", "must be");
	expect_err(W("{\"x\":{}}"), "rules[0].when.where.x", "no operator");
	expect_err(W("{\"x\":{\"gte\":1,\"like\":\"a%\"}}"), "rules[0].when.where.x.like",
		   "unknown operator \"like\"");
	expect_err(W("{\"x\":{\"gt\":\"5\"}}"), "rules[0].when.where.x.gt",
		   "must be an integer, got a string");
	expect_err(W("{\"x\":{\"eq\":[1]}}"), "rules[0].when.where.x.eq",
		   "must be a string or an integer, got an array");
	expect_err(W("{\"x\":{\"in\":[]}}"), "rules[0].when.where.x.in", "1..1000 values");
	expect_err(W("{\"x\":{\"in\":\"a\"}}"), "rules[0].when.where.x.in",
		   "must be an array, got a string");
	expect_err(W("{\"x\":{\"in\":[\"a\",null]}}"), "rules[0].when.where.x.in[1]",
		   "must be a string or an integer, got null");
	expect_err(W("{\"x\":{\"in\":[\"a\",2.5]}}"), "rules[0].when.where.x.in[1]",
		   "must be an integer, got 2.5");
	expect_err(W("{\"x\":{\"gt\":1,\"gt\":2}}"), "rules[0].when.where.x.gt", "duplicate key");
	expect_err(W("{\"x\":1,\"x\":2}"), "rules[0].when.where.x", "duplicate key");
	expect_err(W("{\"a\":1,\"b\":1,\"c\":1,\"d\":1,\"e\":1,\"f\":1,\"g\":1,\"h\":1,\"i\":1,"
		     "\"j\":1,\"k\":1,\"l\":1,\"m\":1,\"n\":{\"gt\":1,\"lt\":9,\"ne\":5},\"o\":1}"),
		   "rules[0].when.where", "too many conditions: 17 > 16");
}

#define A(then) R(WHEN_FF ",\"then\":" then)

static void test_parse_errors_actions(void **state)
{
	expect_err(A("\"alert\""), "rules[0].then", "must be an object, got a string");
	expect_err(A("{}"), "rules[0].then.action", "required");
	expect_err(A("{\"action\":\"email\",\"message\":\"m\"}"), "rules[0].then.action",
		   "unknown action \"email\"");
	expect_err(A("{\"action\":3}"), "rules[0].then.action", "must be a string, got a number");
	expect_err(A("{\"action\":\"alert\"}"), "rules[0].then.message", "required");
	expect_err(A("{\"action\":\"alert\",\"message\":\"\"}"), "rules[0].then.message",
		   "must not be empty");
	expect_err(A("{\"action\":\"alert\",\"message\":\"a\\nb\"}"), "rules[0].then.message",
		   "control characters");
	expect_err(A("{\"action\":\"alert\",\"message\":\"a\\u0085b\"}"), "rules[0].then.message",
		   "control characters");
	expect_err(A("{\"message\":\"m\",\"action\":\"alert\",\"action\":\"flash\"}"),
		   "rules[0].then.action", "duplicate key");
	expect_err(A("{\"action\":\"screen\",\"headline\":\"h\"}"), "rules[0].then.zone",
		   "required");
	expect_err(A("{\"action\":\"screen\",\"zone\":\"dairy zone\",\"headline\":\"h\"}"),
		   "rules[0].then.zone", "a zone");
	expect_err(A("{\"action\":\"screen\",\"zone\":\"z\"}"), "rules[0].then",
		   "a screen needs a headline or items");
	expect_err(A("{\"action\":\"screen\",\"zone\":\"z\",\"items\":[]}"), "rules[0].then",
		   "a screen needs a headline or items");
	expect_err(A("{\"action\":\"screen\",\"zone\":\"z\",\"items\":[{\"headline\":\"h\"}]}"),
		   "rules[0].then.items[0].sku", "required");
	expect_err(A("{\"action\":\"screen\",\"zone\":\"z\",\"items\":[{\"sku\":\"a\"},{\"sku\":"
		     "\"b c\"}]}"),
		   "rules[0].then.items[1].sku", "a SKU");
	expect_err(A("{\"action\":\"screen\",\"zone\":\"z\",\"items\":[\"a\"]}"),
		   "rules[0].then.items[0]", "must be an object, got a string");
	expect_err(A("{\"action\":\"screen\",\"zone\":\"z\",\"items\":[{\"sku\":\"a\",\"sku\":\"b\""
		     "}]}"),
		   "rules[0].then.items[0].sku", "duplicate key");
	expect_err(
		A("{\"action\":\"screen\",\"zone\":\"z\",\"items\":[{\"sku\":\"a\"},{\"sku\":"
		  "\"a\"},{\"sku\":\"a\"},{\"sku\":\"a\"},{\"sku\":\"a\"},{\"sku\":\"a\"},{\"sku\":"
		  "\"a\"},{\"sku\":\"a\"},{\"sku\":\"a\"},{\"sku\":\"a\"},{\"sku\":\"a\"},{\"sku\":"
		  "\"a\"},{\"sku\":\"a\"},{\"sku\":\"a\"},{\"sku\":\"a\"},{\"sku\":\"a\"},{\"sku\":"
		  "\"a\"},{\"sku\":\"a\"},{\"sku\":\"a\"},{\"sku\":\"a\"},{\"sku\":\"a\"}]}"),
		"rules[0].then.items", "too many items: 21 > 20");
	{
		char big[512];

		snprintf(big, sizeof(big),
			 A("{\"action\":\"screen\",\"zone\":\"z\",\"headline\":\"%0129d\"}"), 0);
		expect_err(big, "rules[0].then.headline", "129 bytes, over the 128-byte limit");
		snprintf(big, sizeof(big),
			 A("{\"action\":\"screen\",\"zone\":\"z\",\"headline\":\"%0128d\"}"), 0);
		rules_set_free(parse_ok(big));
	}
	expect_err(A("{\"action\":\"flash\"}"), "rules[0].then.sku", "required");
	expect_err(A("{\"action\":\"flash\",\"sku\":\"a/b\"}"), "rules[0].then.sku", "a SKU");
	expect_err(A("{\"action\":\"price\",\"sku\":\"a\",\"for\":\"2h\"}"), "rules[0].then.price",
		   "required");
	expect_err(A("{\"action\":\"price\",\"sku\":\"a\",\"price\":9.9,\"for\":\"2h\"}"),
		   "rules[0].then.price", "must be an integer, got 9.9");
	expect_err(A("{\"action\":\"price\",\"sku\":\"a\",\"price\":-1,\"for\":\"2h\"}"),
		   "rules[0].then.price", "must be 0..1000000000");
	expect_err(A("{\"action\":\"price\",\"sku\":\"a\",\"price\":1000000001,\"for\":\"2h\"}"),
		   "rules[0].then.price", "must be 0..1000000000");
	expect_err(A("{\"action\":\"price\",\"sku\":\"a\",\"price\":990}"), "rules[0].then.for",
		   "required");
	expect_err(A("{\"action\":\"price\",\"sku\":\"a\",\"price\":990,\"for\":\"2 h\"}"),
		   "rules[0].then.for", "duration");
}

static void test_parse_many_errors(void **state)
{
	const char *json =
		CMD("{\"name\":\"a "
		    "b\",\"when\":{\"event\":\"footfall\",\"where\":{\"in\":{\"gte\":2.5}}},"
		    "\"then\":{\"action\":\"price\",\"sku\":\"x\",\"price\":\"1\"}},"
		    "{\"name\":\"ok\",\"when\":{\"event\":\"sale\"},\"unless\":{\"event\":\"sale\","
		    "\"within\":\"0m\"},\"then\":{\"action\":\"alert\",\"message\":\"m\"},\"x\":1,"
		    "\"x\":2}");
	static const char *const want[][2] = {
		{"rules[0].name", "rule name"},
		{"rules[0].when.where.in.gte", "must be an integer, got 2.5"},
		{"rules[0].then.price", "must be an integer, got a string"},
		{"rules[0].then.for", "required"},
		{"rules[1].unless.within", "must be positive"},
		{"rules[1].x", "duplicate key"},
	};
	struct rule_set *rs;

	assert_int_equal(rules_parse(json, strlen(json), &rs, &errs, NULL), -EINVAL);
	print_errs(&errs);
	assert_int_equal(errs.total, ARRAY_SIZE(want));
	for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
		assert_string_equal(errs.e[i].at, want[i][0]);
		assert_non_null(strstr(errs.e[i].error, want[i][1]));
	}
}

/* ---- the engine ---------------------------------------------------------- */

static struct rules_engine *engine(const char *json, int64_t grace)
{
	struct rules_engine *e = rules_engine_new(grace);

	assert_non_null(e);
	assert_int_equal(rules_engine_set(e, parse_ok(json)), 0);
	return e;
}

static const struct rules_fire *fires;

/* Feed an event with @fields (JSON text, NULL: none); returns the number of firings. */
static size_t ev(struct rules_engine *e, const char *type, int64_t ts, const char *fields,
		 int64_t now)
{
	cJSON *f = fields ? cJSON_Parse(fields) : NULL;
	size_t n = 99;

	if (fields)
		assert_non_null(f);
	assert_int_equal(rules_event(e, type, ts, f, now, &fires, &n), 0);
	cJSON_Delete(f);
	return n;
}

static size_t adv(struct rules_engine *e, int64_t now)
{
	size_t n = 99;

	assert_int_equal(rules_advance(e, now, &fires, &n), 0);
	return n;
}

#define CROWD                                                                                      \
	CMD("{\"name\":\"crowd\",\"when\":{\"event\":\"footfall\",\"where\":{\"zone\":\"dairy\","  \
	    "\"in\":{\"gte\":20}}},\"unless\":{\"event\":\"sale\",\"where\":{\"sku\":{\"in\":"     \
	    "[\"M1\",\"M2\"]}},\"within\":\"24h\"},\"then\":{\"action\":\"alert\",\"message\":"    \
	    "\"no sale\"}}")
#define FF "{\"zone\":\"dairy\",\"in\":25}"
#define SALE_M2                                                                                    \
	"{\"kind\":\"sale\",\"lines\":[{\"sku\":\"X\",\"qty\":1},{\"sku\":\"M2\",\"qty\":1}]}"
#define SALE_X "{\"kind\":\"sale\",\"lines\":[{\"sku\":\"X\",\"qty\":1}]}"

static void test_conditions(void **state)
{
	struct rules_engine *e = engine(
		CMD("{\"name\":\"z\",\"when\":{\"event\":\"footfall\",\"where\":{\"zone\":"
		    "\"dairy\","
		    "\"in\":{\"gte\":20,\"lt\":30}}}," THEN_ALERT "},"
		    "{\"name\":\"ne\",\"when\":{\"event\":\"footfall\",\"where\":{\"zone\":{\"ne\":"
		    "\"dairy\"}}}," THEN_ALERT "},"
		    "{\"name\":\"line\",\"when\":{\"event\":\"sale\",\"where\":{\"kind\":\"sale\","
		    "\"sku\":\"M1\",\"qty\":{\"gte\":2}}}," THEN_ALERT "},"
		    "{\"name\":\"in\",\"when\":{\"event\":\"kpi\",\"where\":{\"n\":{\"in\":[3,"
		    "\"3\"]},"
		    "\"big\":{\"gt\":9007199254740992}}}," THEN_ALERT "}"),
		-1);

	assert_int_equal(ev(e, "footfall", T0, "{\"zone\":\"dairy\",\"in\":20}", T0), 1);
	assert_string_equal(fires[0].rule->name, "z");
	assert_int_equal(fires[0].at_ms, T0);
	assert_int_equal(ev(e, "footfall", T0, "{\"zone\":\"dairy\",\"in\":19}", T0), 0);
	assert_int_equal(ev(e, "footfall", T0, "{\"zone\":\"dairy\",\"in\":19.99}", T0), 0);
	assert_int_equal(ev(e, "footfall", T0, "{\"zone\":\"dairy\",\"in\":29.5}", T0), 1);
	assert_int_equal(ev(e, "footfall", T0, "{\"zone\":\"dairy\",\"in\":30}", T0), 0);
	assert_int_equal(ev(e, "footfall", T0, "{\"zone\":\"dairy\",\"in\":\"25\"}", T0), 0);
	assert_int_equal(ev(e, "footfall", T0, "{\"zone\":\"dairy\"}", T0), 0); /* absent */
	assert_int_equal(ev(e, "footfall", T0, "{\"zone\":\"Dairy\",\"in\":25}", T0), 1);
	assert_string_equal(fires[0].rule->name, "ne");
	assert_int_equal(ev(e, "footfall", T0, "{\"zone\":7}", T0), 1); /* ne across types */
	assert_int_equal(ev(e, "footfall", T0, "{\"in\":25}", T0), 0); /* ne on absent: no */
	assert_int_equal(ev(e, "footfall", T0, NULL, T0), 0);
	assert_int_equal(ev(e, "visit", T0, FF, T0), 0); /* other type */

	/* Sale lines: one line must satisfy every line condition. */
	assert_int_equal(ev(e, "sale", T0,
			    "{\"kind\":\"sale\",\"lines\":[{\"sku\":\"M1\",\"qty\":1},{\"sku\":"
			    "\"X\",\"qty\":5}]}",
			    T0),
			 0);
	assert_int_equal(ev(e, "sale", T0,
			    "{\"kind\":\"sale\",\"lines\":[{\"sku\":\"X\",\"qty\":1},{\"sku\":"
			    "\"M1\",\"qty\":2}]}",
			    T0),
			 1);
	assert_int_equal(ev(e, "sale", T0,
			    "{\"kind\":\"refund\",\"lines\":[{\"sku\":\"M1\",\"qty\":2}]}", T0),
			 0);
	assert_int_equal(ev(e, "sale", T0, "{\"kind\":\"sale\",\"lines\":[]}", T0), 0);

	/* in, mixed types; exact big integers. */
	assert_int_equal(ev(e, "kpi", T0, "{\"n\":3,\"big\":9007199254740994}", T0), 1);
	assert_int_equal(ev(e, "kpi", T0, "{\"n\":\"3\",\"big\":9007199254740994}", T0), 1);
	assert_int_equal(ev(e, "kpi", T0, "{\"n\":3.5,\"big\":9007199254740994}", T0), 0);
	assert_int_equal(ev(e, "kpi", T0, "{\"n\":4,\"big\":9007199254740994}", T0), 0);
	assert_int_equal(ev(e, "kpi", T0, "{\"n\":3,\"big\":9007199254740992}", T0), 0);
	assert_int_equal(ev(e, "kpi", T0, "{\"n\":3,\"big\":1e300}", T0), 1);
	assert_int_equal(ev(e, "kpi", T0, "{\"n\":3,\"big\":true}", T0), 0);

	assert_int_equal(rules_event(e, "kpi", -1, NULL, T0, &fires, &(size_t){0}), -EINVAL);
	assert_int_equal(rules_event(e, NULL, T0, NULL, T0, &fires, &(size_t){0}), -EINVAL);
	rules_engine_free(e);
}

/* "not within 24h": the window's end at -1 s and +1 s (and -1 ms, 0 ms). */
static void test_not_within_boundary(void **state)
{
	static const struct {
		int64_t u; /* offset of the sale from the crowd */
		bool fires;
	} cases[] = {
		{24 * HOUR - SEC, false},
		{24 * HOUR + SEC, true},
		{24 * HOUR - 1, false},
		{24 * HOUR, true},
		{0, false},
		{-1, true},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct rules_engine *e = engine(CROWD, -1);
		int64_t u = T0 + cases[i].u;
		struct rules_info info;

		assert_int_equal(ev(e, "footfall", T0, FF, T0), 0);
		assert_int_equal(rules_next_deadline(e), T0 + 24 * HOUR + GRACE);
		/* The sale arrives at its own time, in order. */
		assert_int_equal(ev(e, "sale", u, SALE_M2, u > T0 ? u : T0), 0);
		/* A sale of other SKUs never cancels. */
		assert_int_equal(ev(e, "sale", T0 + HOUR, SALE_X, T0 + HOUR), 0);
		assert_int_equal(adv(e, T0 + 24 * HOUR + GRACE - 1), 0);
		assert_int_equal(adv(e, T0 + 24 * HOUR + GRACE), cases[i].fires ? 1 : 0);
		if (cases[i].fires) {
			assert_string_equal(fires[0].rule->name, "crowd");
			assert_int_equal(fires[0].at_ms, T0 + 24 * HOUR);
			assert_int_equal(fires[0].trigger_ms, T0);
			assert_int_equal(fires[0].due_ms, T0 + 24 * HOUR + GRACE);
		}
		assert_true(rules_info(e, 0, &info));
		assert_int_equal(info.cancelled, cases[i].fires ? 0 : 1);
		assert_int_equal(info.fired, cases[i].fires ? 1 : 0);
		assert_int_equal(info.windows, 0);
		assert_int_equal(rules_next_deadline(e), INT64_MAX);
		rules_engine_free(e);
	}
}

static void test_out_of_order(void **state)
{
	struct rules_engine *e;
	struct rules_info info;
	const int64_t w = 30 * MIN;
	const char *rules = CMD("{\"name\":\"r\"," WHEN_FF ",\"unless\":{\"event\":\"sale\","
				"\"within\":\"30m\"}," THEN_ALERT "}");

	/* A U stamped before t arriving after W: outside the window, no cancel. */
	e = engine(rules, -1);
	assert_int_equal(ev(e, "footfall", T0, NULL, T0), 0);
	assert_int_equal(ev(e, "sale", T0 - 1, NULL, T0 + 10 * SEC), 0);
	assert_int_equal(adv(e, T0 + w + GRACE), 1);
	rules_engine_free(e);

	/* A late W (30 s) opens its window at its own t and fires at t + w + grace. */
	e = engine(rules, -1);
	assert_int_equal(ev(e, "footfall", T0, NULL, T0 + 30 * SEC), 0);
	assert_int_equal(rules_next_deadline(e), T0 + w + GRACE);
	assert_int_equal(adv(e, T0 + w + GRACE), 1);
	assert_int_equal(fires[0].at_ms, T0 + w);
	rules_engine_free(e);

	/* A U that arrived BEFORE a late W, stamped inside W's window, cancels it. */
	e = engine(rules, -1);
	assert_int_equal(ev(e, "sale", T0 + 10 * SEC, NULL, T0 + 10 * SEC), 0);
	assert_int_equal(ev(e, "footfall", T0, NULL, T0 + 40 * SEC), 0);
	assert_true(rules_info(e, 0, &info));
	assert_int_equal(info.cancelled, 1);
	assert_int_equal(info.windows, 0);
	/* ...but not a W stamped after that U. */
	assert_int_equal(ev(e, "footfall", T0 + 20 * SEC, NULL, T0 + 40 * SEC), 0);
	assert_int_equal(adv(e, T0 + 20 * SEC + w + GRACE), 1);
	rules_engine_free(e);

	/* A late U, stamped t + w - 1 ms, arriving after t + w but within grace: cancels. */
	e = engine(rules, -1);
	assert_int_equal(ev(e, "footfall", T0, NULL, T0), 0);
	assert_int_equal(adv(e, T0 + w + 30 * SEC), 0);
	assert_int_equal(ev(e, "sale", T0 + w - 1, NULL, T0 + w + 50 * SEC), 0);
	assert_int_equal(adv(e, T0 + w + GRACE), 0);
	assert_int_equal(rules_next_deadline(e), INT64_MAX);
	rules_engine_free(e);

	/* A W later than grace cannot be judged for a rule with unless. */
	e = engine(rules, -1);
	assert_int_equal(ev(e, "footfall", T0, NULL, T0 + GRACE + 1), 0);
	assert_true(rules_info(e, 0, &info));
	assert_int_equal(info.late, 1);
	assert_int_equal(info.windows, 0);
	/* Exactly grace late is still judged. */
	assert_int_equal(ev(e, "footfall", T0, NULL, T0 + GRACE), 0);
	assert_true(rules_info(e, 0, &info));
	assert_int_equal(info.windows, 1);
	/* Two W at the same ms: one window. */
	assert_int_equal(ev(e, "footfall", T0, NULL, T0 + GRACE), 0);
	assert_true(rules_info(e, 0, &info));
	assert_int_equal(info.windows, 1);
	rules_engine_free(e);

	/* Several windows fire in the order of their times; a U cancels only those it is in. */
	e = engine(rules, -1);
	assert_int_equal(ev(e, "footfall", T0 + 20 * MIN, NULL, T0 + 20 * MIN), 0);
	assert_int_equal(ev(e, "footfall", T0 + 19 * MIN + 30 * SEC, NULL, T0 + 20 * MIN), 0);
	assert_int_equal(ev(e, "footfall", T0 + 40 * MIN, NULL, T0 + 40 * MIN), 0);
	assert_int_equal(ev(e, "footfall", T0 + 50 * MIN, NULL, T0 + 50 * MIN), 0);
	/* A sale at 49m30s cancels the windows starting in (19m30s, 49m30s]: 20m and 40m. */
	assert_int_equal(ev(e, "sale", T0 + 49 * MIN + 30 * SEC, NULL, T0 + 50 * MIN), 0);
	assert_true(rules_info(e, 0, &info));
	assert_int_equal(info.windows, 2);
	assert_int_equal(info.cancelled, 2);
	assert_int_equal(adv(e, T0 + 3 * HOUR), 2);
	assert_int_equal(fires[0].trigger_ms, T0 + 19 * MIN + 30 * SEC);
	assert_int_equal(fires[1].trigger_ms, T0 + 50 * MIN);
	rules_engine_free(e);

	/* A rule whose when and unless are the same event: it cancels itself. */
	e = engine(CMD("{\"name\":\"self\",\"when\":{\"event\":\"sale\"},\"unless\":{\"event\":"
		       "\"sale\",\"within\":\"1m\"}," THEN_ALERT "}"),
		   -1);
	assert_int_equal(ev(e, "sale", T0, NULL, T0), 0);
	assert_int_equal(adv(e, T0 + HOUR), 0);
	rules_engine_free(e);
}

static void test_cooldown(void **state)
{
	struct rules_engine *e =
		engine(CMD("{\"name\":\"c\"," WHEN_FF "," THEN_ALERT ",\"cooldown\":\"1h\"},"
			   "{\"name\":\"w\",\"when\":{\"event\":\"kpi\"},\"unless\":{\"event\":"
			   "\"sale\",\"within\":\"10m\"}," THEN_ALERT ",\"cooldown\":\"1h\"}"),
		       -1);
	struct rules_info info;

	assert_int_equal(ev(e, "footfall", T0, NULL, T0), 1);
	assert_int_equal(ev(e, "footfall", T0 + 30 * MIN, NULL, T0 + 30 * MIN), 0);
	assert_int_equal(ev(e, "footfall", T0 + HOUR - 1, NULL, T0 + HOUR), 0);
	assert_int_equal(ev(e, "footfall", T0 + HOUR, NULL, T0 + HOUR), 1);
	/* A late event 30 min before the last firing is within the cooldown too. */
	assert_int_equal(ev(e, "footfall", T0 + 30 * MIN, NULL, T0 + HOUR), 0);
	assert_true(rules_info(e, 0, &info));
	assert_int_equal(info.fired, 2);
	assert_int_equal(info.suppressed, 3);
	assert_true(info.has_fired);
	assert_int_equal(info.last_ms, T0 + HOUR);
	assert_int_equal(info.last_wall_ms, T0 + HOUR);

	/* Windowed: the firing time is t + within. */
	assert_int_equal(ev(e, "kpi", T0, NULL, T0), 0);
	assert_int_equal(ev(e, "kpi", T0 + 5 * MIN, NULL, T0 + 5 * MIN), 0);
	assert_int_equal(ev(e, "kpi", T0 + 70 * MIN, NULL, T0 + 70 * MIN), 0);
	assert_int_equal(adv(e, T0 + 5 * HOUR), 2);
	assert_int_equal(fires[0].at_ms, T0 + 10 * MIN);
	assert_int_equal(fires[1].at_ms, T0 + 80 * MIN);
	assert_true(rules_info(e, 1, &info));
	assert_int_equal(info.suppressed, 1);
	rules_engine_free(e);
}

static void test_actions(void **state)
{
	struct rules_engine *e = engine(
		CMD("{\"name\":\"p\",\"when\":{\"event\":\"sale\",\"where\":{\"sku\":\"A\"}},"
		    "\"then\":{\"action\":\"price\",\"sku\":\"B\",\"price\":990,\"for\":\"2h\"}},"
		    "{\"name\":\"f\",\"when\":{\"event\":\"sale\"},\"then\":{\"action\":\"flash\","
		    "\"sku\":\"A\"}}"),
		-1);

	assert_int_equal(ev(e, "sale", T0, "{\"lines\":[{\"sku\":\"A\"}]}", T0 + 5 * SEC), 2);
	assert_int_equal(fires[0].index, 0);
	assert_int_equal(fires[0].rule->then.kind, RULES_PRICE);
	assert_string_equal(fires[0].rule->then.sku, "B");
	assert_int_equal(fires[0].rule->then.price, 990);
	assert_int_equal(fires[0].until_ms, T0 + 5 * SEC + 2 * HOUR);
	assert_int_equal(fires[1].index, 1);
	assert_int_equal(fires[1].rule->then.kind, RULES_FLASH);
	assert_int_equal(fires[1].until_ms, 0);
	assert_int_equal(rules_count(e), 2);
	assert_false(rules_info(e, 2, &(struct rules_info){0}));
	rules_engine_free(e);
}

/* A restart in the middle of a window: save, a new engine, load: it fires on time. */
static void test_restart(void **state)
{
	struct rules_engine *a = engine(CROWD, -1), *b;
	struct rules_info info;
	struct dynbuf d;

	assert_int_equal(ev(a, "footfall", T0, FF, T0), 0);
	assert_int_equal(ev(a, "footfall", T0 + 2 * HOUR, FF, T0 + 2 * HOUR), 0);
	/* A sale remembered as "quiet" (it cancels windows opening up to 24 h before it). */
	assert_int_equal(ev(a, "sale", T0 + 3 * HOUR, SALE_M2, T0 + 3 * HOUR), 0);
	assert_true(rules_info(a, 0, &info));
	assert_int_equal(info.cancelled, 2);
	assert_int_equal(ev(a, "footfall", T0 + 4 * HOUR, FF, T0 + 4 * HOUR), 0);
	assert_true(rules_state_dirty(a));
	dynbuf_init(&d, 1 << 20);
	assert_int_equal(rules_state_save(a, &d), 0);
	assert_false(rules_state_dirty(a));
	print_message("state: %s\n", d.buf);
	rules_engine_free(a);

	/* The gateway is down from T0+5h to T0+6h. */
	b = engine(CROWD, -1);
	assert_int_equal(rules_next_deadline(b), INT64_MAX);
	assert_int_equal(rules_state_load(b, d.buf, d.len), 0);
	assert_int_equal(rules_next_deadline(b), T0 + 28 * HOUR + GRACE);
	assert_int_equal(adv(b, T0 + 6 * HOUR), 0);
	assert_int_equal(adv(b, T0 + 28 * HOUR + GRACE - 1), 0);
	assert_int_equal(adv(b, T0 + 28 * HOUR + GRACE), 1);
	assert_int_equal(fires[0].at_ms, T0 + 28 * HOUR);
	assert_int_equal(fires[0].trigger_ms, T0 + 4 * HOUR);
	rules_engine_free(b);

	/* Restored windows can still be cancelled; restored quiet intervals still cancel. */
	b = rules_engine_new(3 * HOUR); /* a wide grace: the late W below is judged */
	assert_int_equal(rules_engine_set(b, parse_ok(CROWD)), 0);
	assert_int_equal(rules_state_load(b, d.buf, d.len), 0);
	assert_int_equal(ev(b, "footfall", T0 + 3 * HOUR - 1, FF, T0 + 5 * HOUR), 0);
	assert_true(rules_info(b, 0, &info));
	assert_int_equal(info.cancelled, 1); /* by the sale at T0+3h, from before the restart */
	assert_int_equal(info.windows, 1);
	assert_int_equal(ev(b, "sale", T0 + 5 * HOUR, SALE_M2, T0 + 5 * HOUR), 0);
	assert_true(rules_info(b, 0, &info));
	assert_int_equal(info.windows, 0);
	rules_engine_free(b);

	/* Down past the deadline: fires at the first advance, late (due_ms says by how much). */
	b = engine(CROWD, -1);
	assert_int_equal(rules_state_load(b, d.buf, d.len), 0);
	assert_int_equal(adv(b, T0 + 30 * HOUR), 1);
	assert_int_equal(fires[0].due_ms, T0 + 28 * HOUR + GRACE);
	rules_engine_free(b);
	dynbuf_free(&d);
}

/* One row per rule: only the rules an event changed are dirty; their rows restore. */
static void test_state_per_rule(void **state)
{
	static const char two[] =
		CMD("{\"name\":\"crowd\",\"when\":{\"event\":\"footfall\"},\"unless\":{\"event\":"
		    "\"sale\",\"within\":\"1h\"}," THEN_ALERT "},"
		    "{\"name\":\"now\",\"when\":{\"event\":\"visit\"}," THEN_ALERT "}");
	struct rules_engine *a = engine(two, -1), *b;
	struct rules_info info;
	struct dynbuf d, row;

	dynbuf_init(&d, 1 << 20);
	dynbuf_init(&row, 1 << 20);
	/* A new set: every rule's row is to be written (rows of an older set go). */
	assert_true(rules_rule_dirty(a, 0) && rules_rule_dirty(a, 1));
	assert_int_equal(rules_state_save_rule(a, 0, &row), 0);
	assert_int_equal(row.len, 0); /* no state: nothing, the row can go */
	assert_int_equal(rules_state_save_rule(a, 1, &row), 0);
	assert_int_equal(row.len, 0);
	assert_false(rules_rule_dirty(a, 0) || rules_rule_dirty(a, 1));
	rules_state_mark_saved(a);
	assert_false(rules_state_dirty(a));

	/* A footfall opens a window: only "crowd" changed. */
	assert_int_equal(ev(a, "footfall", T0, NULL, T0), 0);
	assert_true(rules_state_dirty(a));
	assert_true(rules_rule_dirty(a, 0));
	assert_false(rules_rule_dirty(a, 1));
	assert_int_equal(rules_state_save_rule(a, 0, &row), 0);
	rules_state_mark_saved(a);
	assert_false(rules_state_dirty(a));
	assert_non_null(strstr(row.buf, "\"name\":\"crowd\""));
	/* A visit fires "now": only it changed. */
	assert_int_equal(ev(a, "visit", T0 + 1000, NULL, T0 + 1000), 1);
	assert_false(rules_rule_dirty(a, 0));
	assert_true(rules_rule_dirty(a, 1));
	assert_int_equal(dynbuf_adds(&d, "{\"v\":1,\"rules\":["), 0);
	assert_int_equal(dynbuf_add(&d, row.buf, row.len), 0);
	dynbuf_reset(&row);
	assert_int_equal(rules_state_save_rule(a, 1, &row), 0);
	assert_int_equal(dynbuf_adds(&d, ","), 0);
	assert_int_equal(dynbuf_add(&d, row.buf, row.len), 0);
	assert_int_equal(dynbuf_adds(&d, "]}"), 0);
	assert_int_equal(rules_state_save_rule(a, 2, &row), -EINVAL);
	rules_engine_free(a);

	/* The rows joined restore both: the window fires on time, the firing is counted. */
	b = engine(two, -1);
	assert_int_equal(rules_state_load(b, d.buf, d.len), 0);
	assert_false(rules_rule_dirty(b, 0) || rules_rule_dirty(b, 1));
	assert_true(rules_info(b, 1, &info));
	assert_int_equal(info.fired, 1);
	assert_int_equal(rules_next_deadline(b), T0 + HOUR + GRACE);
	assert_int_equal(adv(b, T0 + HOUR + GRACE), 1);
	assert_string_equal(fires[0].rule->name, "crowd");
	rules_engine_free(b);
	dynbuf_free(&row);
	dynbuf_free(&d);
}

static void test_state_carry_over(void **state)
{
	const char *v1 = CMD("{\"name\":\"a\"," WHEN_FF ",\"unless\":{\"event\":\"sale\","
			     "\"within\":\"30m\"}," THEN_ALERT "},{\"name\":\"b\"," WHEN_FF
			     ",\"unless\":{\"event\":\"sale\",\"within\":\"30m\"}," THEN_ALERT "},"
			     "{\"name\":\"c\",\"when\":{\"event\":\"kpi\"}," THEN_ALERT "}");
	/* b's window changes, a's action changes (same fingerprint), c is gone, d is new. */
	const char *v2 = CMD("{\"name\":\"d\"," WHEN_FF "," THEN_ALERT "},"
			     "{\"name\":\"b\"," WHEN_FF ",\"unless\":{\"event\":\"sale\","
			     "\"within\":\"40m\"}," THEN_ALERT "},{\"name\":\"a\"," WHEN_FF
			     ",\"unless\":{\"event\":\"sale\",\"within\":\"30m\"},\"then\":{"
			     "\"action\":\"flash\",\"sku\":\"Z\"}}");
	struct rules_engine *e = engine(v1, -1);
	struct rules_info info;
	struct dynbuf d;

	assert_int_equal(ev(e, "kpi", T0, NULL, T0), 1);
	assert_int_equal(ev(e, "footfall", T0, NULL, T0), 0);
	assert_int_equal(ev(e, "footfall", T0 + 31 * MIN, NULL, T0 + 31 * MIN), 0);
	assert_int_equal(adv(e, T0 + 31 * MIN + GRACE), 2); /* a and b fire for T0 */
	assert_int_equal(rules_engine_set(e, parse_ok(v2)), 0);
	assert_int_equal(rules_count(e), 3);
	assert_true(rules_info(e, 2, &info)); /* a */
	assert_string_equal(info.rule->name, "a");
	assert_int_equal(info.windows, 1);
	assert_int_equal(info.fired, 1);
	assert_true(rules_info(e, 1, &info)); /* b: window dropped, last firing kept */
	assert_int_equal(info.windows, 0);
	assert_int_equal(info.fired, 1);
	assert_int_equal(info.last_ms, T0 + 30 * MIN);
	assert_true(rules_info(e, 0, &info)); /* d: new */
	assert_false(info.has_fired);
	assert_int_equal(adv(e, T0 + 61 * MIN + GRACE), 1);
	assert_int_equal(fires[0].rule->then.kind, RULES_FLASH);

	/* A saved state loads into a changed set the same way. */
	assert_int_equal(ev(e, "footfall", T0 + 2 * HOUR, NULL, T0 + 2 * HOUR), 1); /* d */
	dynbuf_init(&d, 1 << 16);
	assert_int_equal(rules_state_save(e, &d), 0);
	rules_engine_free(e);
	e = engine(v1, -1);
	assert_int_equal(rules_state_load(e, d.buf, d.len), 0);
	assert_true(rules_info(e, 0, &info)); /* a: same fingerprint: windows kept */
	assert_int_equal(info.windows, 1);
	assert_int_equal(info.fired, 2);
	assert_true(rules_info(e, 1, &info)); /* b: 40m then, 30m now: windows dropped */
	assert_int_equal(info.windows, 0);
	assert_int_equal(info.fired, 1);
	dynbuf_free(&d);

	/* No rules at all. */
	assert_int_equal(rules_engine_set(e, NULL), 0);
	assert_int_equal(rules_count(e), 0);
	assert_null(rules_engine_rules(e));
	assert_int_equal(ev(e, "footfall", T0, NULL, T0), 0);
	assert_int_equal(adv(e, T0), 0);
	rules_engine_free(e);
	rules_engine_free(NULL);
}

static void test_state_bad(void **state)
{
	static const char *const bad[] = {
		"",
		"[]",
		"{\"v\":2,\"rules\":[]}",
		"{\"rules\":[]}",
		"{\"v\":1}",
		"{\"v\":1,\"rules\":[{\"fp\":\"0000000000000000\"}]}",
		"{\"v\":1,\"rules\":[{\"name\":\"crowd\",\"fp\":\"00\"}]}",
		"{\"v\":1,\"rules\":[{\"name\":\"crowd\",\"fp\":\"000000000000000g\"}]}",
		"{\"v\":1,\"rules\":[{\"name\":\"crowd\",\"fp\":\"0000000000000000\",\"windows\":"
		"[\"x\"]}]}",
		"{\"v\":1,\"rules\":[{\"name\":\"crowd\",\"fp\":\"0000000000000000\",\"quiet\":"
		"[[5,4]]}]}",
		"{\"v\":1,\"rules\":[{\"name\":\"crowd\",\"fp\":\"0000000000000000\",\"last\":5}]}",
		"{\"v\":1,\"rules\":[{\"name\":\"crowd\",\"fp\":\"0000000000000000\"},"
		"{\"name\":\"crowd\",\"fp\":\"0000000000000000\"}]}",
		"{\"v\":1,\"v\":1,\"rules\":[]}",
	};
	struct rules_engine *e = engine(CROWD, -1);
	struct rules_info info;

	assert_int_equal(ev(e, "footfall", T0, FF, T0), 0);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		if (rules_state_load(e, bad[i], strlen(bad[i])) != -EINVAL)
			fail_msg("accepted: %s", bad[i]);
		assert_true(rules_info(e, 0, &info));
		assert_int_equal(info.windows, 1);
	}
	/* A rule no longer in the set: ignored. */
	assert_int_equal(rules_state_load(e,
					  "{\"v\":1,\"rules\":[{\"name\":\"gone\",\"fp\":"
					  "\"0123456789abcdef\",\"windows\":[1]}]}",
					  strlen("{\"v\":1,\"rules\":[{\"name\":\"gone\",\"fp\":"
						 "\"0123456789abcdef\",\"windows\":[1]}]}")),
			 0);
	assert_true(rules_info(e, 0, &info));
	assert_int_equal(info.windows, 1);
	rules_engine_free(e);
}

/* Evaluation cost per event with 1,000 rules loaded. */
static double ns_per_event(struct rules_engine *e, const char *type, cJSON *f, int n)
{
	struct timespec a, b;
	size_t nf = 0, total = 0;

	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < n; i++) {
		assert_int_equal(rules_event(e, type, T0 + i, f, T0 + i, &fires, &nf), 0);
		total += nf;
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	(void)total;
	return ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / n;
}

static void test_perf_1000_rules(void **state)
{
	static const char *const zones[] = {"dairy", "bakery", "produce", "frozen"};
	struct rules_engine *e;
	struct dynbuf d;
	cJSON *ff, *sale, *kpi;
	double t_ff, t_sale, t_kpi, t_adv;
	struct timespec a, b;
	size_t n;

	/* 1,000 rules: 600 on footfall (unless a sale of 3 SKUs within 30m), 300 on sale
	 * (sku in a 20-SKU list, qty >= 2), 100 on kpi. */
	dynbuf_init(&d, RULES_CMD_MAX);
	assert_int_equal(dynbuf_adds(&d, "{" HEAD ",\"rules\":["), 0);
	for (int i = 0; i < RULES_MAX; i++) {
		int rc;

		if (i < 600)
			rc = dynbuf_addf(
				&d,
				"%s{\"name\":\"ff-%d\",\"when\":{\"event\":\"footfall\","
				"\"where\":{\"zone\":\"%s\",\"in\":{\"gte\":%d}}},"
				"\"unless\":{\"event\":\"sale\",\"where\":{\"sku\":{\"in\":"
				"[\"S%d\",\"S%d\",\"S%d\"]}},\"within\":\"30m\"},"
				"\"then\":{\"action\":\"alert\",\"message\":\"m\"},"
				"\"cooldown\":\"1h\"}",
				i ? "," : "", i, zones[i % 4], i % 40, i, i + 1, i + 2);
		else if (i < 900)
			rc = dynbuf_addf(
				&d,
				",{\"name\":\"sale-%d\",\"when\":{\"event\":\"sale\","
				"\"where\":{\"sku\":{\"in\":[\"S%d\",\"S%d\",\"S%d\",\"S%d\","
				"\"S%d\",\"S%d\",\"S%d\",\"S%d\",\"S%d\",\"S%d\",\"S%d\","
				"\"S%d\",\"S%d\",\"S%d\",\"S%d\",\"S%d\",\"S%d\",\"S%d\","
				"\"S%d\",\"S%d\"]},\"qty\":{\"gte\":2}}},"
				"\"then\":{\"action\":\"flash\",\"sku\":\"S%d\"}}",
				i, i, i + 1, i + 2, i + 3, i + 4, i + 5, i + 6, i + 7, i + 8, i + 9,
				i + 10, i + 11, i + 12, i + 13, i + 14, i + 15, i + 16, i + 17,
				i + 18, i + 19, i);
		else
			rc = dynbuf_addf(
				&d,
				",{\"name\":\"kpi-%d\",\"when\":{\"event\":\"kpi\",\"where\":"
				"{\"period\":\"day\",\"entries\":{\"lt\":%d}}},"
				"\"then\":{\"action\":\"alert\",\"message\":\"low\"}}",
				i, i);
		assert_int_equal(rc, 0);
	}
	assert_int_equal(dynbuf_adds(&d, "]}"), 0);
	clock_gettime(CLOCK_MONOTONIC, &a);
	e = engine(d.buf, -1);
	clock_gettime(CLOCK_MONOTONIC, &b);
	print_message("parse + load of 1,000 rules (%zu bytes): %.2f ms\n", d.len,
		      ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / 1e6);
	dynbuf_free(&d);

	ff = cJSON_Parse("{\"period\":\"interval\",\"zone\":\"dairy\",\"from\":\"" TS
			 "\",\"to\":\"" TS "\",\"in\":25,\"out\":20,\"uturns\":0,\"glitches\":0,"
			 "\"ambiguous\":0}");
	sale = cJSON_Parse("{\"kind\":\"sale\",\"receipt\":\"R-1\",\"till\":\"T1\",\"lines\":["
			   "{\"sku\":\"S950\",\"qty\":1,\"unit_price\":100,\"amount\":100},"
			   "{\"sku\":\"S3000\",\"qty\":2,\"unit_price\":100,\"amount\":200},"
			   "{\"sku\":\"S700\",\"qty\":3,\"unit_price\":100,\"amount\":300}],"
			   "\"total\":600}");
	kpi = cJSON_Parse("{\"period\":\"day\",\"entries\":950,\"exits\":940}");
	assert_non_null(ff);
	assert_non_null(sale);
	assert_non_null(kpi);

	t_ff = ns_per_event(e, "footfall", ff, 2000);
	t_sale = ns_per_event(e, "sale", sale, 2000);
	t_kpi = ns_per_event(e, "kpi", kpi, 2000);
	print_message("rules_event with 1,000 rules: footfall (600 rules of the type) %.0f ns, "
		      "sale (300 when + 600 unless) %.0f ns, kpi (100) %.0f ns\n",
		      t_ff, t_sale, t_kpi);
	clock_gettime(CLOCK_MONOTONIC, &a);
	assert_int_equal(rules_advance(e, T0 + 5 * HOUR, &fires, &n), 0);
	clock_gettime(CLOCK_MONOTONIC, &b);
	t_adv = ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec));
	print_message("rules_advance firing %zu windows: %.0f us\n", n, t_adv / 1e3);
	/* Generous bounds: a regression of 10x or more fails, not a slow machine. */
	assert_true(t_ff < 2e6);
	assert_true(t_sale < 2e6);
	cJSON_Delete(ff);
	cJSON_Delete(sale);
	cJSON_Delete(kpi);
	rules_engine_free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_full),
		cmocka_unit_test(test_parse_fingerprint),
		cmocka_unit_test(test_parse_errors_top),
		cmocka_unit_test(test_parse_errors_rules),
		cmocka_unit_test(test_parse_errors_where),
		cmocka_unit_test(test_parse_errors_actions),
		cmocka_unit_test(test_parse_many_errors),
		cmocka_unit_test(test_conditions),
		cmocka_unit_test(test_not_within_boundary),
		cmocka_unit_test(test_out_of_order),
		cmocka_unit_test(test_cooldown),
		cmocka_unit_test(test_actions),
		cmocka_unit_test(test_restart),
		cmocka_unit_test(test_state_per_rule),
		cmocka_unit_test(test_state_carry_over),
		cmocka_unit_test(test_state_bad),
		cmocka_unit_test(test_perf_1000_rules),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
