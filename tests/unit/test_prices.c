/*
 * test_prices: the HQ price-batch parser and validator (DESIGN §5.1). Valid
 * batches with every field read back exactly; then each rule, asserting the
 * exact JSON path and a key phrase of every error: ids, timestamps, currency,
 * items (sku, money as float / negative / > 10^9 / huge, regular below price,
 * name and unit limits, control characters), duplicate SKUs across items and
 * remove, stores, snapshots, empty batches, duplicate keys at any depth,
 * unknown fields, syntax errors and invalid UTF-8 with byte offsets, depth,
 * size limit; many errors at once (all listed in document order, the list
 * truncated with the total right); the ack "errors" array; snapshot files;
 * and a 100,000-item batch (its parse time is printed).
 * Every payload these tests parse also goes through price_batch_validate()
 * (check_validate): the same return, the same errors, the same header; and
 * when valid, price_foreach_item() must give exactly the parsed items. Then
 * the streaming API on its own: values, stopping, snapshot files, misuse.
 */
#include <errno.h>
#include <malloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "prices.h"
#include "util.h"

#define TS "2026-11-23T02:00:00.000Z"
#define TS_MS 1795399200000LL
#define HEAD "\"id\":\"b-1\",\"issued_at\":\"" TS "\",\"currency\":\"CNY\""
#define ITEM "{\"sku\":\"6901234567892\",\"price\":1290}"

static struct price_errors errs;

static void print_errs(const struct price_errors *e)
{
	for (size_t i = 0; i < e->n; i++)
		print_message("  error %zu: at=\"%s\" error=\"%s\"\n", i, e->e[i].at,
			      e->e[i].error);
	if (e->total > e->n)
		print_message("  ... %zu more\n", e->total - e->n);
}

/* price_foreach_item() callback: compare each item with the parsed one. */
struct walk {
	const struct price_batch *want; /* parsed; NULL: only count */
	size_t n; /* items seen */
	size_t stop_at; /* return @stop_rc after this many items (0: never) */
	int stop_rc;
};

static void assert_same_str(const char *got, const char *want)
{
	if (!want)
		assert_null(got);
	else
		assert_string_equal(got, want);
}

static int walk_cb(void *arg, const struct price_item *it)
{
	struct walk *w = arg;

	if (w->want) {
		const struct price_item *p;

		assert_true(w->n < w->want->n_items);
		p = &w->want->items[w->n];
		assert_string_equal(it->sku, p->sku);
		assert_int_equal(it->price, p->price);
		assert_int_equal(it->regular, p->regular);
		assert_same_str(it->name, p->name);
		assert_same_str(it->unit, p->unit);
		assert_int_equal(it->promo_until_ms, p->promo_until_ms);
	}
	w->n++;
	return w->n == w->stop_at ? w->stop_rc : 0;
}

/*
 * Parse and validate @json[0..len): the same return, the same errors (each
 * path and message), the same header, remove, stores and snapshot, no items
 * kept; when valid, price_foreach_item() gives the parsed items in order.
 */
static void check_validate(const char *json, size_t len, bool snapshot)
{
	static struct price_errors pe, ve;
	struct price_batch p, v;
	int prc, vrc;

	memset(&v, 'x', sizeof(v));
	if (snapshot) {
		prc = price_snapshot_parse(json, len, &p, &pe);
		vrc = price_snapshot_validate(json, len, &v, &ve);
	} else {
		prc = price_batch_parse(json, len, &p, &pe);
		vrc = price_batch_validate(json, len, &v, &ve);
	}
	if (vrc != prc || ve.total != pe.total || ve.n != pe.n) {
		print_errs(&pe);
		print_errs(&ve);
		fail_msg("parse: %d, %zu errors; validate: %d, %zu errors: %.300s", prc, pe.total,
			 vrc, ve.total, json ? json : "(null)");
	}
	for (size_t i = 0; i < pe.n; i++) {
		assert_string_equal(ve.e[i].at, pe.e[i].at);
		assert_string_equal(ve.e[i].error, pe.e[i].error);
	}
	assert_null(v.items);
	assert_string_equal(v.id, p.id);
	assert_int_equal(v.issued_at_ms, p.issued_at_ms);
	assert_string_equal(v.currency, p.currency);
	assert_int_equal(v.effective_at_ms, p.effective_at_ms);
	assert_int_equal(v.n_items, p.n_items);
	assert_int_equal(v.n_remove, p.n_remove);
	for (size_t i = 0; i < p.n_remove; i++)
		assert_string_equal(v.remove[i], p.remove[i]);
	assert_int_equal(v.has_stores, p.has_stores);
	assert_int_equal(v.n_stores, p.n_stores);
	for (size_t i = 0; i < p.n_stores; i++)
		assert_string_equal(v.stores[i], p.stores[i]);
	assert_int_equal(v.has_snapshot, p.has_snapshot);
	assert_same_str(v.snapshot_url, p.snapshot_url);
	assert_string_equal(v.snapshot_sha256, p.snapshot_sha256);
	assert_int_equal(v.snapshot_size, p.snapshot_size);
	assert_int_equal(v.mem == NULL, p.mem == NULL);
	if (prc == 0) {
		struct walk w = {&p, 0, 0, 0};

		assert_int_equal(price_foreach_item(json, len, snapshot, walk_cb, &w), 0);
		assert_int_equal(w.n, p.n_items);
	}
	price_batch_free(&p);
	price_batch_free(&v);
}

static void parse_ok_n(const char *json, size_t len, struct price_batch *b)
{
	int rc = price_batch_parse(json, len, b, &errs);

	if (rc != 0) {
		print_errs(&errs);
		fail_msg("rejected (%d): %.300s", rc, json);
	}
	assert_int_equal(errs.total, 0);
	assert_int_equal(errs.n, 0);
	check_validate(json, len, false);
}

static void parse_ok(const char *json, struct price_batch *b)
{
	parse_ok_n(json, strlen(json), b);
}

/* A valid batch: just check it parses, then free it. */
static void expect_ok(const char *json)
{
	struct price_batch b;

	parse_ok(json, &b);
	price_batch_free(&b);
}

/*
 * Expect exactly @n errors, in order: @n pairs of (at, phrase) follow.
 * Checks the batch is emptied and every message is bounded, valid UTF-8.
 */
static void expect_errs_n(const char *json, size_t len, size_t n, ...)
{
	struct price_batch b;
	va_list ap;
	int rc;

	memset(&errs, 'x', sizeof(errs));
	rc = price_batch_parse(json, len, &b, &errs);
	if (rc != -EINVAL || errs.total != n ||
	    errs.n != (n < PRICE_MAX_ERRORS ? n : PRICE_MAX_ERRORS)) {
		print_errs(&errs);
		fail_msg("rc %d, %zu errors (%zu listed), want -EINVAL with %zu: %.300s", rc,
			 errs.total, errs.n, n, json);
	}
	assert_null(b.items);
	assert_int_equal(b.n_items, 0);
	assert_int_equal(b.n_remove, 0);
	assert_int_equal(b.n_stores, 0);
	assert_false(b.has_snapshot);
	assert_null(b.mem);
	va_start(ap, n);
	for (size_t i = 0; i < n; i++) {
		const char *at = va_arg(ap, const char *);
		const char *phrase = va_arg(ap, const char *);
		const struct price_error *e = &errs.e[i];

		assert_non_null(memchr(e->at, '\0', sizeof(e->at)));
		assert_non_null(memchr(e->error, '\0', sizeof(e->error)));
		assert_true(utf8_valid(e->error, strlen(e->error)));
		if (strcmp(e->at, at) != 0 || !strstr(e->error, phrase)) {
			print_errs(&errs);
			va_end(ap);
			fail_msg("error %zu: got at=\"%s\" error=\"%s\", want at=\"%s\" error "
				 "containing \"%s\"\ninput: %.300s",
				 i, e->at, e->error, at, phrase, json);
		}
	}
	va_end(ap);
	price_batch_free(&b);
	check_validate(json, len, false);
}

#define expect_errs(json, n, ...) expect_errs_n(json, strlen(json), n, __VA_ARGS__)
#define expect_err(json, at, phrase) expect_errs(json, 1, at, phrase)

/* One item (or items array body) in an otherwise valid batch. */
static void expect_item_err(const char *item, const char *at, const char *phrase)
{
	char buf[4096];

	snprintf(buf, sizeof(buf), "{" HEAD ",\"items\":[%s]}", item);
	expect_err(buf, at, phrase);
}

static void expect_item_ok(const char *item, struct price_batch *b)
{
	char buf[4096];

	snprintf(buf, sizeof(buf), "{" HEAD ",\"items\":[%s]}", item);
	parse_ok(buf, b);
}

static void test_valid_full(void **state)
{
	static const char json[] =
		"{\"id\":\"b-2026-11-23/1\",\"issued_at\":\"2026-11-23T10:00:00.000+08:00\","
		"\"currency\":\"CNY\",\"effective_at\":\"2026-11-24T00:00:00Z\","
		"\"items\":[{\"sku\":\"6901234567892\",\"price\":1290,\"regular\":1590,"
		"\"name\":\"Whole milk "
		"1L\",\"unit\":\"1L\",\"promo_until\":\"2026-12-01T00:00:00.000Z\"},"
		"{\"sku\":\"A.b_c-9\",\"price\":0}],"
		"\"remove\":[\"OLD-1\",\"OLD-2\"],\"stores\":[\"S042\",\"s_7-x\"]}";
	struct price_batch b;
	int64_t ms;

	parse_ok(json, &b);
	assert_string_equal(b.id, "b-2026-11-23/1");
	assert_int_equal(b.issued_at_ms, TS_MS);
	assert_string_equal(b.currency, "CNY");
	assert_int_equal(ts_parse("2026-11-24T00:00:00Z", &ms), 0);
	assert_int_equal(b.effective_at_ms, ms);
	assert_int_equal(b.n_items, 2);
	assert_string_equal(b.items[0].sku, "6901234567892");
	assert_int_equal(b.items[0].price, 1290);
	assert_int_equal(b.items[0].regular, 1590);
	assert_string_equal(b.items[0].name, "Whole milk 1L");
	assert_string_equal(b.items[0].unit, "1L");
	assert_int_equal(ts_parse("2026-12-01T00:00:00.000Z", &ms), 0);
	assert_int_equal(b.items[0].promo_until_ms, ms);
	assert_string_equal(b.items[1].sku, "A.b_c-9");
	assert_int_equal(b.items[1].price, 0);
	assert_int_equal(b.items[1].regular, -1);
	assert_null(b.items[1].name);
	assert_null(b.items[1].unit);
	assert_int_equal(b.items[1].promo_until_ms, 0);
	assert_int_equal(b.n_remove, 2);
	assert_string_equal(b.remove[0], "OLD-1");
	assert_string_equal(b.remove[1], "OLD-2");
	assert_true(b.has_stores);
	assert_int_equal(b.n_stores, 2);
	assert_string_equal(b.stores[0], "S042");
	assert_string_equal(b.stores[1], "s_7-x");
	assert_false(b.has_snapshot);
	assert_null(b.snapshot_url);
	price_batch_free(&b);
	assert_null(b.mem);
	assert_int_equal(b.n_items, 0);
	price_batch_free(&b); /* idempotent */
	price_batch_free(NULL);
}

static void test_valid_minimal_and_nulls(void **state)
{
	struct price_batch b;

	parse_ok("{" HEAD ",\"items\":[" ITEM "]}", &b);
	assert_int_equal(b.n_items, 1);
	assert_int_equal(b.effective_at_ms, 0);
	assert_false(b.has_stores);
	assert_int_equal(b.n_remove, 0);
	price_batch_free(&b);

	/* null = absent for every optional field. */
	parse_ok("{" HEAD ",\"effective_at\":null,\"stores\":null,\"snapshot\":null,\"items\":null,"
		 "\"remove\":[\"X\"]}",
		 &b);
	assert_int_equal(b.n_items, 0);
	assert_int_equal(b.n_remove, 1);
	assert_false(b.has_stores);
	price_batch_free(&b);
	expect_item_ok("{\"sku\":\"A\",\"price\":5,\"regular\":null,\"name\":null,\"unit\":null,"
		       "\"promo_until\":null}",
		       &b);
	assert_int_equal(b.items[0].regular, -1);
	assert_null(b.items[0].name);
	price_batch_free(&b);

	/* Whitespace everywhere, keys in any order. */
	parse_ok(" {\n \"items\" : [ { \"price\" : 7 , \"sku\" : \"Z\" } ] "
		 ",\r\n\t\"currency\":\"EUR\","
		 "\"issued_at\":\"" TS "\",\"id\":\"x\" } \n",
		 &b);
	assert_string_equal(b.items[0].sku, "Z");
	assert_int_equal(b.items[0].price, 7);
	assert_string_equal(b.currency, "EUR");
	price_batch_free(&b);
}

static void test_unknown_fields_ignored(void **state)
{
	struct price_batch b;

	parse_ok("{\"v\":2," HEAD
		 ",\"source\":{\"system\":\"erp\",\"tags\":[1,\"x\",null,{\"a\":[]}]},"
		 "\"items\":[{\"sku\":\"A\",\"price\":1,\"barcode\":\"690\",\"extra\":{\"k\":[1."
		 "5e3]},"
		 "\"price_hint\":12.5}],\"snapshot_note\":true,\"signature\":null}",
		 &b);
	assert_int_equal(b.n_items, 1);
	assert_int_equal(b.items[0].price, 1);
	price_batch_free(&b);
	/* Known names are matched after unescaping. */
	parse_ok("{" HEAD ",\"items\":[{\"\\u0073ku\":\"A\",\"pr\\u0069ce\":3}]}", &b);
	assert_int_equal(b.items[0].price, 3);
	price_batch_free(&b);
	/* Case matters: "Price" is an unknown field, "price" is missing. */
	expect_item_err("{\"sku\":\"A\",\"Price\":3}", "items[0].price", "missing field");
}

static void test_id(void **state)
{
	char buf[512], id[200];
	struct price_batch b;

	expect_err("{\"issued_at\":\"" TS "\",\"currency\":\"CNY\",\"items\":[" ITEM "]}", "id",
		   "missing field");
	expect_err("{\"id\":\"\",\"issued_at\":\"" TS "\",\"currency\":\"CNY\",\"items\":[" ITEM
		   "]}",
		   "id", "must not be empty");
	expect_err("{\"id\":7,\"issued_at\":\"" TS "\",\"currency\":\"CNY\",\"items\":[" ITEM "]}",
		   "id", "must be a string, got a number");
	expect_err("{\"id\":null,\"issued_at\":\"" TS "\",\"currency\":\"CNY\",\"items\":[" ITEM
		   "]}",
		   "id", "must be a string, got null");
	expect_err("{\"id\":\"a\\u0007\",\"issued_at\":\"" TS
		   "\",\"currency\":\"CNY\",\"items\":[" ITEM "]}",
		   "id", "must be printable ASCII");
	expect_err("{\"id\":\"caf\xc3\xa9\",\"issued_at\":\"" TS
		   "\",\"currency\":\"CNY\",\"items\":[" ITEM "]}",
		   "id", "must be printable ASCII");
	memset(id, 'i', 128);
	id[128] = '\0';
	snprintf(buf, sizeof(buf),
		 "{\"id\":\"%s\",\"issued_at\":\"" TS "\",\"currency\":\"CNY\",\"items\":[" ITEM
		 "]}",
		 id);
	parse_ok(buf, &b);
	assert_string_equal(b.id, id);
	price_batch_free(&b);
	snprintf(buf, sizeof(buf),
		 "{\"id\":\"%sj\",\"issued_at\":\"" TS "\",\"currency\":\"CNY\",\"items\":[" ITEM
		 "]}",
		 id);
	expect_err(buf, "id", "is 129 bytes, over the 128-byte limit");
	/* A space is printable; an escaped solidus decodes. */
	parse_ok("{\"id\":\"a b\\/c\",\"issued_at\":\"" TS
		 "\",\"currency\":\"CNY\",\"items\":[" ITEM "]}",
		 &b);
	assert_string_equal(b.id, "a b/c");
	price_batch_free(&b);
}

static void test_id_kept_when_rejected(void **state)
{
	static const char json[] =
		"{\"id\":\"keep-me\",\"issued_at\":\"yesterday\",\"currency\":\"CNY\","
		"\"items\":[" ITEM "]}";
	struct price_batch b;

	assert_int_equal(price_batch_parse(json, strlen(json), &b, &errs), -EINVAL);
	assert_string_equal(b.id, "keep-me");
	assert_null(b.items);
	price_batch_free(&b);
	assert_int_equal(price_batch_validate(json, strlen(json), &b, &errs), -EINVAL);
	assert_string_equal(b.id, "keep-me");
	assert_null(b.mem);
	price_batch_free(&b);
	check_validate(json, strlen(json), false);
	/* Not when the id itself is bad. */
	assert_int_equal(price_batch_parse("{\"id\":\"\\n\"}", 11, &b, &errs), -EINVAL);
	assert_string_equal(b.id, "");
	price_batch_free(&b);
}

static void test_times_and_currency(void **state)
{
	struct price_batch b;

	expect_err("{\"id\":\"b\",\"currency\":\"CNY\",\"items\":[" ITEM "]}", "issued_at",
		   "missing field");
	expect_err("{\"id\":\"b\",\"issued_at\":\"2026-11-23 02:00:00\",\"currency\":\"CNY\","
		   "\"items\":[" ITEM "]}",
		   "issued_at", "must be an RFC 3339 timestamp, got \"2026-11-23 02:00:00\"");
	expect_err("{\"id\":\"b\",\"issued_at\":1795399200000,\"currency\":\"CNY\",\"items\":[" ITEM
		   "]}",
		   "issued_at", "must be a string, got a number");
	expect_err("{\"id\":\"b\",\"issued_at\":\"2026-02-30T00:00:00Z\",\"currency\":\"CNY\","
		   "\"items\":[" ITEM "]}",
		   "issued_at", "RFC 3339");
	expect_err("{\"id\":\"b\",\"issued_at\":\"" TS "\\u0000\",\"currency\":\"CNY\","
		   "\"items\":[" ITEM "]}",
		   "issued_at", "RFC 3339");
	expect_err("{" HEAD ",\"effective_at\":\"soon\",\"items\":[" ITEM "]}", "effective_at",
		   "must be an RFC 3339 timestamp, got \"soon\"");
	expect_err("{" HEAD ",\"effective_at\":[],\"items\":[" ITEM "]}", "effective_at",
		   "must be a string, got an array");
	expect_err("{\"id\":\"b\",\"issued_at\":\"" TS "\",\"items\":[" ITEM "]}", "currency",
		   "missing field");
	expect_err("{\"id\":\"b\",\"issued_at\":\"" TS "\",\"currency\":\"cny\",\"items\":[" ITEM
		   "]}",
		   "currency", "must be 3 uppercase letters (ISO 4217), got \"cny\"");
	expect_err("{\"id\":\"b\",\"issued_at\":\"" TS "\",\"currency\":\"CN\",\"items\":[" ITEM
		   "]}",
		   "currency", "3 uppercase letters");
	expect_err("{\"id\":\"b\",\"issued_at\":\"" TS "\",\"currency\":\"CNYX\",\"items\":[" ITEM
		   "]}",
		   "currency", "3 uppercase letters");
	expect_err("{\"id\":\"b\",\"issued_at\":\"" TS "\",\"currency\":156,\"items\":[" ITEM "]}",
		   "currency", "must be a string, got a number");
	/* An offset and a fraction are fine; so is an escaped letter. */
	parse_ok("{\"id\":\"b\",\"issued_at\":\"2026-11-23T10:00:00.5+08:00\",\"currency\":"
		 "\"\\u0055SD\","
		 "\"items\":[" ITEM "]}",
		 &b);
	assert_int_equal(b.issued_at_ms, TS_MS + 500);
	assert_string_equal(b.currency, "USD");
	price_batch_free(&b);
}

static void test_items_shape(void **state)
{
	expect_err("{" HEAD ",\"items\":{\"sku\":\"A\",\"price\":1}}", "items",
		   "must be an array, got an object");
	expect_err("{" HEAD ",\"items\":\"A\"}", "items", "must be an array, got a string");
	expect_item_err("\"A\"", "items[0]", "must be an object, got a string");
	expect_item_err(ITEM ",[]", "items[1]", "must be an object, got an array");
	expect_item_err(ITEM ",null", "items[1]", "must be an object, got null");
	expect_errs("{" HEAD ",\"items\":[{}]}", 2, "items[0].sku", "missing field",
		    "items[0].price", "missing field");
}

static void test_too_many_items(void **state)
{
	struct dynbuf d;
	struct price_batch b;

	dynbuf_init(&d, 8 * 1024 * 1024);
	assert_int_equal(dynbuf_adds(&d, "{" HEAD ",\"items\":["), 0);
	/* Invalid items: not examined, not listed. */
	for (int i = 0; i <= PRICE_MAX_ITEMS; i++)
		assert_int_equal(dynbuf_adds(&d, i ? ",{}" : "{}"), 0);
	assert_int_equal(dynbuf_adds(&d, "]}"), 0);
	expect_errs_n(d.buf, d.len, 1, "items", "too many items: 200001 > 200000");

	/* Exactly the maximum is fine. */
	dynbuf_reset(&d);
	assert_int_equal(dynbuf_adds(&d, "{" HEAD ",\"items\":["), 0);
	for (int i = 0; i < PRICE_MAX_ITEMS; i++)
		assert_int_equal(
			dynbuf_addf(&d, "%s{\"sku\":\"%d\",\"price\":%d}", i ? "," : "", i, i), 0);
	assert_int_equal(dynbuf_adds(&d, "]}"), 0);
	parse_ok_n(d.buf, d.len, &b);
	assert_int_equal(b.n_items, PRICE_MAX_ITEMS);
	assert_string_equal(b.items[PRICE_MAX_ITEMS - 1].sku, "199999");
	price_batch_free(&b);
	dynbuf_free(&d);
}

static void test_sku(void **state)
{
	char item[256], sku[80];
	struct price_batch b;

	expect_item_err("{\"price\":1}", "items[0].sku", "missing field");
	expect_item_err("{\"sku\":\"\",\"price\":1}", "items[0].sku", "must not be empty");
	expect_item_err("{\"sku\":6901234567892,\"price\":1}", "items[0].sku",
			"must be a string, got a number");
	expect_item_err("{\"sku\":null,\"price\":1}", "items[0].sku", "must be a string, got null");
	expect_item_err("{\"sku\":\"69 01\",\"price\":1}", "items[0].sku",
			"must contain only A-Z a-z 0-9 . _ -, got \"69 01\"");
	expect_item_err("{\"sku\":\"caf\xc3\xa9\",\"price\":1}", "items[0].sku",
			"must contain only");
	expect_item_err("{\"sku\":\"a/b\",\"price\":1}", "items[0].sku", "must contain only");
	expect_item_err("{\"sku\":\"a\\u0000\",\"price\":1}", "items[0].sku", "must contain only");
	memset(sku, 'S', 64);
	sku[64] = '\0';
	snprintf(item, sizeof(item), "{\"sku\":\"%s\",\"price\":1}", sku);
	expect_item_ok(item, &b);
	assert_string_equal(b.items[0].sku, sku);
	price_batch_free(&b);
	snprintf(item, sizeof(item), "{\"sku\":\"%sX\",\"price\":1}", sku);
	expect_item_err(item, "items[0].sku", "is 65 bytes, over the 64-byte limit");
}

static void test_money(void **state)
{
	struct price_batch b;

	/* Floats, even integral ones: money is integer minor units. */
	expect_item_err("{\"sku\":\"A\",\"price\":12.9}", "items[0].price",
			"must be an integer number of minor units, got 12.9");
	expect_item_err("{\"sku\":\"A\",\"price\":12.0}", "items[0].price",
			"must be an integer number of minor units, got 12.0");
	expect_item_err("{\"sku\":\"A\",\"price\":1e3}", "items[0].price",
			"must be an integer number of minor units, got 1e3");
	expect_item_err("{\"sku\":\"A\",\"price\":1E+2}", "items[0].price", "got 1E+2");
	expect_item_err("{\"sku\":\"A\",\"price\":-0.5}", "items[0].price",
			"must be an integer number of minor units, got -0.5");
	/* Huge: no overflow, the literal echoed. */
	expect_item_err("{\"sku\":\"A\",\"price\":1e400}", "items[0].price",
			"must be an integer number of minor units, got 1e400");
	expect_item_err("{\"sku\":\"A\",\"price\":99999999999999999999}", "items[0].price",
			"is above the maximum of 1000000000 minor units, got 99999999999999999999");
	expect_item_err("{\"sku\":\"A\",\"price\":"
			"123456789012345678901234567890123456789012345678901234567890}",
			"items[0].price", "got 1234567890123456789012345678901234567890...");
	expect_item_err("{\"sku\":\"A\",\"price\":-99999999999999999999}", "items[0].price",
			"must not be negative, got -99999999999999999999");
	/* Negative and above the maximum: their own messages. */
	expect_item_err("{\"sku\":\"A\",\"price\":-1}", "items[0].price",
			"must not be negative, got -1");
	expect_item_err("{\"sku\":\"A\",\"price\":1000000001}", "items[0].price",
			"is above the maximum of 1000000000 minor units, got 1000000001");
	/* Not numbers. */
	expect_item_err("{\"sku\":\"A\",\"price\":\"12.90\"}", "items[0].price",
			"must be an integer number of minor units, got a string");
	expect_item_err("{\"sku\":\"A\",\"price\":null}", "items[0].price",
			"must be an integer number of minor units, got null");
	expect_item_err("{\"sku\":\"A\",\"price\":true}", "items[0].price", "got true");
	expect_item_err("{\"sku\":\"A\",\"price\":{\"v\":1}}", "items[0].price", "got an object");
	/* The limits are fine; -0 is 0. */
	expect_item_ok("{\"sku\":\"A\",\"price\":1000000000,\"regular\":1000000000},"
		       "{\"sku\":\"B\",\"price\":0},{\"sku\":\"C\",\"price\":-0}",
		       &b);
	assert_int_equal(b.items[0].price, PRICE_MONEY_MAX);
	assert_int_equal(b.items[0].regular, PRICE_MONEY_MAX);
	assert_int_equal(b.items[1].price, 0);
	assert_int_equal(b.items[2].price, 0);
	price_batch_free(&b);
	/* regular: the same rules, and not below the price (in either key order). */
	expect_item_err("{\"sku\":\"A\",\"price\":120,\"regular\":100}", "items[0].regular",
			"regular price 100 is below the price 120");
	expect_item_err("{\"sku\":\"A\",\"regular\":100,\"price\":120}", "items[0].regular",
			"regular price 100 is below the price 120");
	expect_item_err("{\"sku\":\"A\",\"price\":1,\"regular\":1.5}", "items[0].regular",
			"must be an integer number of minor units, got 1.5");
	expect_item_err("{\"sku\":\"A\",\"price\":1,\"regular\":-3}", "items[0].regular",
			"must not be negative");
	expect_item_err("{\"sku\":\"A\",\"price\":1,\"regular\":2000000000}", "items[0].regular",
			"is above the maximum");
	/* A bad price does not also make "regular below price" noise. */
	expect_item_err("{\"sku\":\"A\",\"price\":-5,\"regular\":3}", "items[0].price",
			"must not be negative");
	expect_item_ok("{\"sku\":\"A\",\"price\":120,\"regular\":120}", &b);
	assert_int_equal(b.items[0].regular, 120);
	price_batch_free(&b);
}

static void test_name_unit_promo(void **state)
{
	char item[512], name[200];
	struct price_batch b;

	/* Escapes and \u surrogate pairs decode to UTF-8. */
	expect_item_ok(
		"{\"sku\":\"A\",\"price\":1,\"name\":\"Caf\\u00e9 \\\"Bio\\\" \\u725b\\u5976 "
		"\\ud83e\\udd5b\\/1L\",\"unit\":\"\\u5347\"}",
		&b);
	assert_string_equal(b.items[0].name,
			    "Caf\xc3\xa9 \"Bio\" \xe7\x89\x9b\xe5\xa5\xb6 \xf0\x9f\xa5\x9b/1L");
	assert_string_equal(b.items[0].unit, "\xe5\x8d\x87");
	price_batch_free(&b);
	/* Raw UTF-8 too; empty strings are allowed. */
	expect_item_ok(
		"{\"sku\":\"A\",\"price\":1,\"name\":\"\xe7\x89\x9b\xe5\xa5\xb6\",\"unit\":\"\"}",
		&b);
	assert_string_equal(b.items[0].name, "\xe7\x89\x9b\xe5\xa5\xb6");
	assert_string_equal(b.items[0].unit, "");
	price_batch_free(&b);

	memset(name, 'n', 128);
	name[128] = '\0';
	snprintf(item, sizeof(item), "{\"sku\":\"A\",\"price\":1,\"name\":\"%s\"}", name);
	expect_item_ok(item, &b);
	assert_int_equal(strlen(b.items[0].name), 128);
	price_batch_free(&b);
	snprintf(item, sizeof(item), "{\"sku\":\"A\",\"price\":1,\"name\":\"%s\\u00e9\"}", name);
	expect_item_err(item, "items[0].name", "is 130 bytes, over the 128-byte limit");
	expect_item_err("{\"sku\":\"A\",\"price\":1,\"name\":\"a\\nb\"}", "items[0].name",
			"must not contain control characters");
	expect_item_err("{\"sku\":\"A\",\"price\":1,\"name\":\"a\\u0000b\"}", "items[0].name",
			"must not contain control characters");
	expect_item_err("{\"sku\":\"A\",\"price\":1,\"name\":\"a\\u007f\"}", "items[0].name",
			"control characters");
	expect_item_err("{\"sku\":\"A\",\"price\":1,\"name\":\"a\\u0085\"}", "items[0].name",
			"control characters");
	expect_item_err("{\"sku\":\"A\",\"price\":1,\"name\":42}", "items[0].name",
			"must be a string, got a number");
	expect_item_err("{\"sku\":\"A\",\"price\":1,\"unit\":\"12345678901234567\"}",
			"items[0].unit", "is 17 bytes, over the 16-byte limit");
	expect_item_err("{\"sku\":\"A\",\"price\":1,\"unit\":\"\\t\"}", "items[0].unit",
			"control characters");
	expect_item_err("{\"sku\":\"A\",\"price\":1,\"promo_until\":\"2026-13-01T00:00:00Z\"}",
			"items[0].promo_until",
			"must be an RFC 3339 timestamp, got \"2026-13-01T00:00:00Z\"");
	expect_item_err("{\"sku\":\"A\",\"price\":1,\"promo_until\":0}", "items[0].promo_until",
			"must be a string, got a number");
}

static void test_duplicate_skus(void **state)
{
	struct price_batch b;

	expect_err("{" HEAD ",\"items\":[{\"sku\":\"123\",\"price\":1},{\"sku\":\"9\",\"price\":1},"
		   "{\"sku\":\"8\",\"price\":1},{\"sku\":\"123\",\"price\":2}]}",
		   "items[3].sku", "duplicate sku 123, also at items[0]");
	/* Escaped spellings of the same SKU are the same SKU. */
	expect_err("{" HEAD
		   ",\"items\":[{\"sku\":\"AB\",\"price\":1},{\"sku\":\"\\u0041B\",\"price\":1}]}",
		   "items[1].sku", "duplicate sku AB, also at items[0]");
	/* Case matters. */
	parse_ok("{" HEAD ",\"items\":[{\"sku\":\"ab\",\"price\":1},{\"sku\":\"AB\",\"price\":1}]}",
		 &b);
	price_batch_free(&b);
	/* In items and remove, either way round: the later one is the error. */
	expect_err("{" HEAD ",\"items\":[{\"sku\":\"X\",\"price\":1}],\"remove\":[\"Y\",\"X\"]}",
		   "remove[1]", "sku X is also in items[0]");
	expect_err("{" HEAD ",\"remove\":[\"Y\",\"X\"],\"items\":[{\"sku\":\"Z\",\"price\":1},"
		   "{\"sku\":\"X\",\"price\":1}]}",
		   "items[1].sku", "sku X is also in remove[1]");
	expect_err("{" HEAD ",\"remove\":[\"Y\",\"X\",\"Y\"]}", "remove[2]",
		   "duplicate sku Y, also at remove[0]");
	/* Three times: two errors, both pointing at the first. */
	expect_errs("{" HEAD ",\"items\":[{\"sku\":\"D\",\"price\":1},{\"sku\":\"D\",\"price\":1},"
		    "{\"sku\":\"D\",\"price\":1}]}",
		    2, "items[1].sku", "also at items[0]", "items[2].sku", "also at items[0]");
}

static void test_remove(void **state)
{
	expect_err("{" HEAD ",\"remove\":\"X\"}", "remove", "must be an array, got a string");
	expect_err("{" HEAD ",\"remove\":[\"X\",7]}", "remove[1]",
		   "must be a string, got a number");
	expect_err("{" HEAD ",\"remove\":[\"X\",{\"sku\":\"Y\"}]}", "remove[1]",
		   "must be a string, got an object");
	expect_err("{" HEAD ",\"remove\":[\"X Y\"]}", "remove[0]", "must contain only");
	expect_err("{" HEAD ",\"remove\":[\"\"]}", "remove[0]", "must not be empty");
}

static void test_stores(void **state)
{
	struct dynbuf d;

	expect_err("{" HEAD ",\"items\":[" ITEM "],\"stores\":[\"S1\",\"fleet\"]}", "stores[1]",
		   "must not be \"fleet\"");
	expect_err("{" HEAD ",\"items\":[" ITEM "],\"stores\":[\"S.1\"]}", "stores[0]",
		   "must contain only A-Z a-z 0-9 _ -, got \"S.1\"");
	expect_err("{" HEAD ",\"items\":[" ITEM "],\"stores\":[]}", "stores", "must not be empty");
	expect_err("{" HEAD ",\"items\":[" ITEM "],\"stores\":\"S1\"}", "stores",
		   "must be an array");
	expect_err("{" HEAD ",\"items\":[" ITEM "],\"stores\":[\"\"]}", "stores[0]",
		   "must not be empty");
	expect_err("{" HEAD ",\"items\":[" ITEM
		   "],\"stores\":[\"S123456789012345678901234567890123456789012345678901234567"
		   "8901234\"]}",
		   "stores[0]", "is 65 bytes, over the 64-byte limit");

	dynbuf_init(&d, 1024 * 1024);
	assert_int_equal(dynbuf_adds(&d, "{" HEAD ",\"items\":[" ITEM "],\"stores\":["), 0);
	for (int i = 0; i <= PRICE_MAX_STORES; i++)
		assert_int_equal(dynbuf_addf(&d, "%s\"S%d\"", i ? "," : "", i), 0);
	assert_int_equal(dynbuf_adds(&d, "]}"), 0);
	expect_errs_n(d.buf, d.len, 1, "stores", "too many stores: 10001 > 10000");
	dynbuf_free(&d);
}

#define SHA "0123456789ABCDEFabcdef0123456789abcdef0123456789abcdef0123456789"
#define SNAP                                                                                       \
	"{\"url\":\"https://hq.example.com/snap/1.json\",\"sha256\":\"" SHA "\",\"size\":1048576}"

static void test_snapshot(void **state)
{
	struct price_batch b;

	parse_ok("{" HEAD ",\"snapshot\":" SNAP ",\"stores\":[\"S1\"]}", &b);
	assert_true(b.has_snapshot);
	assert_string_equal(b.snapshot_url, "https://hq.example.com/snap/1.json");
	assert_string_equal(b.snapshot_sha256,
			    "0123456789abcdefabcdef0123456789abcdef0123456789abcdef0123456789");
	assert_int_equal(b.snapshot_size, 1048576);
	assert_int_equal(b.n_items, 0);
	price_batch_free(&b);
	parse_ok("{" HEAD ",\"snapshot\":{\"url\":\"HTTP://10.0.0.5:8080/s\",\"sha256\":\"" SHA
		 "\",\"size\":268435456,\"format\":\"v1\"}}",
		 &b);
	assert_int_equal(b.snapshot_size, 268435456);
	price_batch_free(&b);

	/* Not with items or remove, even empty ones. */
	expect_err("{" HEAD ",\"snapshot\":" SNAP ",\"items\":[" ITEM "]}", "items",
		   "must not be given in a batch with a snapshot");
	expect_errs("{" HEAD ",\"items\":[],\"snapshot\":" SNAP ",\"remove\":[]}", 2, "items",
		    "with a snapshot", "remove", "with a snapshot");
	expect_err("{" HEAD ",\"snapshot\":[]}", "snapshot", "must be an object, got an array");
	expect_errs("{" HEAD ",\"snapshot\":{}}", 3, "snapshot.url", "missing field",
		    "snapshot.sha256", "missing field", "snapshot.size", "missing field");
	expect_err("{" HEAD ",\"snapshot\":{\"url\":\"ftp://h/x\",\"sha256\":\"" SHA
		   "\",\"size\":1}}",
		   "snapshot.url",
		   "must be an http:// or https:// URL with a host, got \"ftp://h/x\"");
	expect_err("{" HEAD ",\"snapshot\":{\"url\":\"https://\",\"sha256\":\"" SHA
		   "\",\"size\":1}}",
		   "snapshot.url", "with a host");
	expect_err("{" HEAD ",\"snapshot\":{\"url\":\"https:///x\",\"sha256\":\"" SHA
		   "\",\"size\":1}}",
		   "snapshot.url", "with a host");
	expect_err("{" HEAD ",\"snapshot\":{\"url\":\"https://h/a b\",\"sha256\":\"" SHA
		   "\",\"size\":1}}",
		   "snapshot.url", "printable ASCII without spaces");
	expect_err("{" HEAD ",\"snapshot\":{\"url\":7,\"sha256\":\"" SHA "\",\"size\":1}}",
		   "snapshot.url", "must be a string");
	expect_err("{" HEAD ",\"snapshot\":{\"url\":\"https://h/\",\"sha256\":\"" SHA
		   "0\",\"size\":1}}",
		   "snapshot.sha256", "must be 64 hex digits");
	expect_err("{" HEAD ",\"snapshot\":{\"url\":\"https://h/\",\"sha256\":\"g" SHA
		   "\",\"size\":1}}",
		   "snapshot.sha256", "must be 64 hex digits");
	expect_err("{" HEAD ",\"snapshot\":{\"url\":\"https://h/\",\"sha256\":\"" SHA
		   "\",\"size\":0}}",
		   "snapshot.size", "must be 1..268435456 bytes, got 0");
	expect_err("{" HEAD ",\"snapshot\":{\"url\":\"https://h/\",\"sha256\":\"" SHA
		   "\",\"size\":268435457}}",
		   "snapshot.size", "must be 1..268435456 bytes");
	expect_err("{" HEAD ",\"snapshot\":{\"url\":\"https://h/\",\"sha256\":\"" SHA
		   "\",\"size\":1e6}}",
		   "snapshot.size", "must be an integer, got 1e6");
	expect_err("{" HEAD ",\"snapshot\":{\"url\":\"https://h/\",\"sha256\":\"" SHA
		   "\",\"size\":\"1\"}}",
		   "snapshot.size", "must be a number, got a string");
}

static void test_url_limit(void **state)
{
	char url[1100], json[1400];
	struct price_batch b;

	memcpy(url, "https://h/", 10);
	memset(url + 10, 'u', 1024 - 10);
	url[1024] = '\0';
	snprintf(json, sizeof(json),
		 "{" HEAD ",\"snapshot\":{\"url\":\"%s\",\"sha256\":\"" SHA "\",\"size\":1}}", url);
	parse_ok(json, &b);
	assert_int_equal(strlen(b.snapshot_url), 1024);
	price_batch_free(&b);
	snprintf(json, sizeof(json),
		 "{" HEAD ",\"snapshot\":{\"url\":\"%su\",\"sha256\":\"" SHA "\",\"size\":1}}",
		 url);
	expect_err(json, "snapshot.url", "is 1025 bytes, over the 1024-byte limit");
}

static void test_empty_batch(void **state)
{
	expect_err("{" HEAD "}", "", "empty batch");
	expect_err("{" HEAD ",\"items\":[]}", "", "empty batch");
	expect_err("{" HEAD ",\"items\":[],\"remove\":[]}", "", "empty batch");
	expect_err("{" HEAD ",\"items\":null,\"remove\":null,\"snapshot\":null}", "",
		   "empty batch");
	expect_err("{" HEAD ",\"stores\":[\"S1\"]}", "", "empty batch");
	/* A mistyped items is its own error, without "empty batch" on top. */
	expect_err("{" HEAD ",\"items\":7}", "items", "must be an array");
	/* Every error of an empty object, missing fields first. */
	expect_errs("{}", 4, "id", "missing field", "issued_at", "missing field", "currency",
		    "missing field", "", "empty batch");
}

static void test_duplicate_keys(void **state)
{
	char json[2048];
	size_t o;

	expect_err("{" HEAD ",\"id\":\"b-2\",\"items\":[" ITEM "]}", "id", "duplicate key");
	expect_err("{" HEAD ",\"items\":[{\"sku\":\"A\",\"price\":1,\"price\":2}]}",
		   "items[0].price", "duplicate key");
	/* The duplicate's value is not examined. */
	expect_err("{" HEAD ",\"items\":[{\"sku\":\"A\",\"price\":1,\"price\":-2.5}]}",
		   "items[0].price", "duplicate key");
	/* Spelled differently, same key. */
	expect_err("{" HEAD ",\"items\":[{\"sku\":\"A\",\"price\":1,\"pr\\u0069ce\":2}]}",
		   "items[0].price", "duplicate key");
	/* Unknown keys, nested anywhere. */
	expect_errs("{" HEAD ",\"items\":[" ITEM
		    "],\"meta\":{\"a\":1,\"b\":{\"c\":[{\"d\":1,\"d\":2}]},"
		    "\"a\":3}}",
		    2, "meta.b.c[0].d", "duplicate key", "meta.a", "duplicate key");
	expect_errs("{" HEAD ",\"items\":[" ITEM "],\"meta\":{\"a\":1,\"a\":2},\"x\":1,\"x\":2}", 2,
		    "meta.a", "duplicate key", "x", "duplicate key");
	expect_err("{" HEAD ",\"items\":[{\"sku\":\"A\",\"price\":1,\"ext\":1,\"ext\":2}]}",
		   "items[0].ext", "duplicate key");
	expect_err("{" HEAD ",\"snapshot\":{\"url\":\"https://h/\",\"sha256\":\"" SHA
		   "\",\"size\":1,\"size\":2}}",
		   "snapshot.size", "duplicate key");
	/* A control character in an unknown key's name is shown as '?'. */
	expect_err("{" HEAD ",\"items\":[" ITEM "],\"a\\nb\":1,\"a\\nb\":1}", "a?b",
		   "duplicate key");

	/* Past the inline key set (16 keys): hashed, still exact. */
	o = (size_t)snprintf(json, sizeof(json), "{" HEAD ",\"items\":[" ITEM "]");
	for (int i = 0; i < 60; i++)
		o += (size_t)snprintf(json + o, sizeof(json) - o, ",\"k%d\":%d", i, i);
	snprintf(json + o, sizeof(json) - o, "}");
	expect_ok(json);
	snprintf(json + o, sizeof(json) - o, ",\"k17\":0,\"k3\":0,\"id\":\"z\"}");
	expect_errs(json, 3, "k17", "duplicate key", "k3", "duplicate key", "id", "duplicate key");
}

static void test_syntax_errors(void **state)
{
	/* Only the syntax error, even with invalid values before it. */
	expect_err("{\"id\":\"\",\"items\":[{\"price\":-1}],}", "",
		   "invalid JSON at byte 32: expected a member name (a string)");
	expect_err("{" HEAD ",\"items\":[" ITEM ",]}", "", "invalid JSON at byte");
	expect_err("{\"id\" \"b\"}", "", "invalid JSON at byte 6: expected ':'");
	expect_err("{\"id\":\"b\"", "", "invalid JSON at byte 9: unexpected end of input");
	expect_err("{\"id\":'b'}", "", "invalid JSON at byte 6: expected a value");
	expect_err("{\"a\":1} {}", "",
		   "invalid JSON at byte 8: unexpected data after the JSON value");
	expect_err("{\"price\":012}", "", "invalid JSON at byte 10: leading zero in a number");
	expect_err("{\"name\":\"\\ud800\"}", "", "invalid JSON at byte 9: high surrogate");
	expect_err("", "", "invalid JSON at byte 0: empty input");
	expect_errs_n(NULL, 0, 1, "", "empty input");
	expect_err("[]", "", "must be a JSON object, got an array");
	expect_err("\"x\"", "", "must be a JSON object, got a string");
	expect_err("null", "", "must be a JSON object, got null");
}

static void test_invalid_utf8(void **state)
{
	expect_err("{" HEAD ",\"items\":[{\"sku\":\"A\",\"price\":1,\"name\":\"caf\xe9\"}]}", "",
		   "invalid UTF-8 at byte 109");
	expect_err("{\"id\":\"\xed\xa0\x80\"}", "", "invalid UTF-8 at byte 7");
	expect_err("{\"id\":\"\xc0\x80\"}", "", "invalid UTF-8 at byte 7");
	expect_errs_n("{\"id\":\"\0\"}", 10, 1, "", "invalid JSON at byte 7: NUL byte in string");
	/* Outside strings, a non-ASCII byte is a syntax error at its offset. */
	expect_err("{\"id\":\"b\",\xff}", "", "at byte 10");
}

static void test_depth(void **state)
{
	char json[512];
	size_t o;
	int levels;

	/* PRICE_MAX_DEPTH levels in all is fine; one more is not. */
	for (levels = PRICE_MAX_DEPTH; levels <= PRICE_MAX_DEPTH + 1; levels++) {
		o = (size_t)snprintf(json, sizeof(json), "{" HEAD ",\"items\":[" ITEM "],\"x\":");
		for (int i = 0; i < levels - 1; i++)
			json[o++] = '[';
		for (int i = 0; i < levels - 1; i++)
			json[o++] = ']';
		json[o++] = '}';
		json[o] = '\0';
		if (levels == PRICE_MAX_DEPTH)
			expect_ok(json);
		else
			expect_err(json, "", "nesting deeper than 32 levels at byte 150");
	}
}

static void test_size_limit(void **state)
{
	struct price_batch b;
	static const char json[] = "{}";

	/* The length is refused before anything is read. */
	assert_int_equal(price_batch_parse(json, PRICE_BATCH_MAX + 1, &b, &errs), -EMSGSIZE);
	assert_int_equal(errs.total, 1);
	assert_string_equal(errs.e[0].at, "");
	assert_string_equal(errs.e[0].error,
			    "payload is 67108865 bytes, over the 67108864-byte limit");
	assert_null(b.mem);
	price_batch_free(&b);
	assert_int_equal(price_snapshot_parse(json, PRICE_SNAPSHOT_MAX + 1, &b, &errs), -EMSGSIZE);
	price_batch_free(&b);
	/* No place for the result or the errors. */
	assert_int_equal(price_batch_parse(json, 2, NULL, &errs), -EINVAL);
	assert_int_equal(price_batch_parse(json, 2, &b, NULL), -EINVAL);
	/* Validate: the same. */
	check_validate(json, PRICE_BATCH_MAX + 1, false);
	check_validate(json, PRICE_SNAPSHOT_MAX + 1, true);
	assert_int_equal(price_batch_validate(json, PRICE_BATCH_MAX + 1, &b, &errs), -EMSGSIZE);
	assert_int_equal(price_snapshot_validate(json, PRICE_SNAPSHOT_MAX + 1, &b, &errs),
			 -EMSGSIZE);
	assert_int_equal(price_batch_validate(json, 2, NULL, &errs), -EINVAL);
	assert_int_equal(price_batch_validate(json, 2, &b, NULL), -EINVAL);
	assert_int_equal(price_snapshot_validate(json, 2, NULL, &errs), -EINVAL);
}

/* 150 bad prices: 100 listed in document order, 150 counted. */
static void test_many_errors(void **state)
{
	struct price_batch b;
	struct dynbuf d, out;
	int rc;

	dynbuf_init(&d, 1024 * 1024);
	assert_int_equal(dynbuf_adds(&d, "{\"id\":\"\"," HEAD ",\"items\":["), 0);
	for (int i = 0; i < 150; i++)
		assert_int_equal(
			dynbuf_addf(&d, "%s{\"sku\":\"S%d\",\"price\":%d.5}", i ? "," : "", i, i),
			0);
	assert_int_equal(dynbuf_adds(&d, "]}"), 0);
	/* HEAD follows "id":"": a duplicate id (the first one, empty, is the error). */
	rc = price_batch_parse(d.buf, d.len, &b, &errs);
	assert_int_equal(rc, -EINVAL);
	assert_int_equal(errs.total, 152);
	assert_int_equal(errs.n, PRICE_MAX_ERRORS);
	assert_string_equal(errs.e[0].at, "id");
	assert_string_equal(errs.e[0].error, "must not be empty");
	assert_string_equal(errs.e[1].at, "id");
	assert_string_equal(errs.e[1].error, "duplicate key");
	for (int i = 2; i < PRICE_MAX_ERRORS; i++) {
		char at[32], msg[80];

		snprintf(at, sizeof(at), "items[%d].price", i - 2);
		snprintf(msg, sizeof(msg), "must be an integer number of minor units, got %d.5",
			 i - 2);
		assert_string_equal(errs.e[i].at, at);
		assert_string_equal(errs.e[i].error, msg);
	}
	price_batch_free(&b);
	check_validate(d.buf, d.len, false);

	/* The ack's errors array ends with the count of the rest. */
	dynbuf_init(&out, 64 * 1024);
	assert_int_equal(price_errors_json(&errs, &out), 0);
	assert_non_null(strstr(out.buf, "[{\"at\":\"id\",\"error\":\"must not be empty\"},"));
	assert_non_null(strstr(out.buf,
			       "{\"at\":\"items[97].price\",\"error\":\"must be an integer "
			       "number of minor units, got 97.5\"},"
			       "{\"at\":\"\",\"error\":\"and 52 more errors\"}]"));
	dynbuf_free(&out);
	dynbuf_free(&d);
}

static void test_errors_json(void **state)
{
	struct price_errors e;
	struct dynbuf d;

	price_errors_init(&e);
	dynbuf_init(&d, 4096);
	assert_int_equal(price_errors_json(&e, &d), 0);
	assert_string_equal(d.buf, "[]");
	dynbuf_reset(&d);
	price_errors_add(&e, "items[3].price", "must not be negative, got %d", -5);
	price_errors_add(&e, "items[4].name", "quote \" backslash \\ tab \t");
	assert_int_equal(price_errors_json(&e, &d), 0);
	assert_string_equal(d.buf,
			    "[{\"at\":\"items[3].price\",\"error\":\"must not be negative, got "
			    "-5\"},{\"at\":\"items[4].name\",\"error\":\"quote \\\" backslash "
			    "\\\\ tab \\t\"}]");
	dynbuf_free(&d);

	/* One more than listed: singular. */
	e.total = 3;
	dynbuf_init(&d, 4096);
	assert_int_equal(price_errors_json(&e, &d), 0);
	assert_non_null(strstr(d.buf, ",{\"at\":\"\",\"error\":\"and 1 more error\"}]"));
	dynbuf_free(&d);

	/* Past the buffer's maximum: nothing appended. */
	dynbuf_init(&d, 40);
	assert_int_equal(dynbuf_adds(&d, "x"), 0);
	assert_int_equal(price_errors_json(&e, &d), -EMSGSIZE);
	assert_string_equal(d.buf, "x");
	assert_int_equal(d.len, 1);
	dynbuf_free(&d);
}

static void test_errors_add_bounds(void **state)
{
	struct price_errors e;
	char long_at[300], name[400];

	price_errors_init(&e);
	memset(long_at, 'a', sizeof(long_at) - 1);
	long_at[sizeof(long_at) - 1] = '\0';
	/* 3-byte characters cut at a character boundary. */
	for (int i = 0; i < 133; i++)
		memcpy(name + 3 * i, "\xe2\x82\xac", 3);
	name[399] = '\0';
	price_errors_add(&e, long_at, "%s", name);
	assert_int_equal(strlen(e.e[0].at), sizeof(e.e[0].at) - 1);
	assert_true(strlen(e.e[0].error) <= sizeof(e.e[0].error) - 1);
	assert_int_equal(strlen(e.e[0].error) % 3, 0);
	assert_true(utf8_valid(e.e[0].error, strlen(e.e[0].error)));
	for (int i = 1; i < 250; i++)
		price_errors_add(&e, "x", "e%d", i);
	assert_int_equal(e.n, PRICE_MAX_ERRORS);
	assert_int_equal(e.total, 250);
	assert_string_equal(e.e[PRICE_MAX_ERRORS - 1].error, "e99");
}

static void test_snapshot_file(void **state)
{
	static const char good[] = "{\"generated\":\"x\",\"items\":[" ITEM ",{\"sku\":\"B\","
				   "\"price\":5,\"name\":\"n\"}],\"id\":7}";
	static const char bad[] = "{\"items\":[{\"sku\":\"A\",\"price\":1.5},{\"sku\":\"A\","
				  "\"price\":1}]}";
	struct price_batch b;

	assert_int_equal(price_snapshot_parse(good, strlen(good), &b, &errs), 0);
	assert_int_equal(errs.total, 0);
	assert_int_equal(b.n_items, 2);
	assert_string_equal(b.items[1].name, "n");
	assert_string_equal(b.id, "");
	price_batch_free(&b);
	assert_int_equal(price_snapshot_parse("{\"items\":[]}", 12, &b, &errs), 0);
	assert_int_equal(b.n_items, 0);
	price_batch_free(&b);

	assert_int_equal(price_snapshot_parse("{\"remove\":[\"A\"]}", 16, &b, &errs), -EINVAL);
	assert_int_equal(errs.total, 1);
	assert_string_equal(errs.e[0].at, "items");
	assert_string_equal(errs.e[0].error, "missing field");
	price_batch_free(&b);
	assert_int_equal(price_snapshot_parse(bad, strlen(bad), &b, &errs), -EINVAL);
	assert_int_equal(errs.total, 2);
	assert_string_equal(errs.e[0].at, "items[0].price");
	assert_string_equal(errs.e[1].at, "items[1].sku");
	assert_non_null(strstr(errs.e[1].error, "duplicate sku A, also at items[0]"));
	price_batch_free(&b);

	check_validate(good, strlen(good), true);
	check_validate("{\"items\":[]}", 12, true);
	check_validate("{\"remove\":[\"A\"]}", 16, true);
	check_validate(bad, strlen(bad), true);
	/* A batch's fields mean nothing in a snapshot file, and the reverse. */
	check_validate("{" HEAD ",\"items\":[" ITEM "],\"remove\":7}",
		       strlen("{" HEAD ",\"items\":[" ITEM "],\"remove\":7}"), true);
	check_validate("{" HEAD ",\"items\":[" ITEM "],\"remove\":7}",
		       strlen("{" HEAD ",\"items\":[" ITEM "],\"remove\":7}"), false);
}

/* Representative rejected payloads side by side (also done by every expect_err). */
static void test_validate_same_errors(void **state)
{
	static const char *const bad[] = {
		"{}",
		"[]",
		"{\"id\":\"\",\"items\":[{\"price\":-1}],}",
		"{\"id\":\"b\",\xff}",
		"{" HEAD ",\"items\":[{\"sku\":\"A\",\"price\":1,\"name\":\"caf\xe9\"}]}",
		"{\"id\":\"\\n\",\"issued_at\":\"x\",\"currency\":\"cny\",\"effective_at\":1,"
		"\"items\":[{},7,{\"sku\":\"a b\",\"price\":1.5,\"regular\":-1,\"name\":\"\\t\","
		"\"unit\":\"12345678901234567\",\"promo_until\":\"soon\",\"x\":{\"y\":1,\"y\":2}},"
		"{\"sku\":\"D\",\"price\":5,\"regular\":4},{\"sku\":\"D\",\"price\":1}],"
		"\"remove\":[\"D\",7,\"\",\"E\",\"E\"],\"stores\":[\"fleet\",\"S.1\"],"
		"\"snapshot\":{\"url\":\"ftp://x\",\"sha256\":\"z\",\"size\":0},\"id\":\"again\"}",
		"{" HEAD ",\"items\":[],\"snapshot\":"
		"{\"url\":\"https://h/"
		"\",\"sha256\":"
		"\"0123456789ABCDEFabcdef0123456789abcdef0123456789abcdef0123456789\",\"size\":1}"
		",\"remove\":[]}",
		"{" HEAD ",\"items\":[{\"sku\":\"X\",\"price\":1}],\"remove\":[\"Y\",\"X\"]}",
		"{" HEAD ",\"remove\":[\"Y\",\"X\"],\"items\":[{\"sku\":\"Z\",\"price\":1},"
		"{\"sku\":\"X\",\"price\":1},{\"sku\":\"Z\",\"price\":2}]}",
	};
	struct price_batch b;

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		check_validate(bad[i], strlen(bad[i]), false);
		check_validate(bad[i], strlen(bad[i]), true);
	}
	/* The kitchen sink above: every error, in the parse's order. */
	assert_int_equal(price_batch_validate(bad[5], strlen(bad[5]), &b, &errs), -EINVAL);
	assert_int_equal(errs.total, 28);
	assert_string_equal(errs.e[25].at, "id");
	assert_string_equal(errs.e[25].error, "duplicate key");
	assert_string_equal(errs.e[27].at, "remove");
	price_batch_free(&b);
}

/* A valid batch through validate: the header, remove and stores kept, no items. */
static void test_validate_keeps_header(void **state)
{
	static const char json[] =
		"{\"id\":\"b-9\",\"issued_at\":\"" TS "\",\"currency\":\"EUR\","
		"\"effective_at\":\"" TS "\",\"items\":[" ITEM ",{\"sku\":\"B\",\"price\":2,"
		"\"name\":\"long name that is not kept\"}],\"remove\":[\"OLD-1\",\"OLD-2\"],"
		"\"stores\":[\"S042\"]}";
	struct price_batch b;

	assert_int_equal(price_batch_validate(json, strlen(json), &b, &errs), 0);
	assert_int_equal(errs.total, 0);
	assert_string_equal(b.id, "b-9");
	assert_int_equal(b.issued_at_ms, TS_MS);
	assert_int_equal(b.effective_at_ms, TS_MS);
	assert_string_equal(b.currency, "EUR");
	assert_null(b.items);
	assert_int_equal(b.n_items, 2);
	assert_int_equal(b.n_remove, 2);
	assert_string_equal(b.remove[1], "OLD-2");
	assert_true(b.has_stores);
	assert_string_equal(b.stores[0], "S042");
	/* SKUs, remove, stores: not the name. */
	assert_true(malloc_usable_size(b.mem) <
		    2 * sizeof(uint32_t) + 2 * sizeof(char *) + sizeof(char *) + 64);
	price_batch_free(&b);
	assert_null(b.mem);
	price_batch_free(&b);
}

struct collect {
	size_t n;
	struct price_item it[4];
	char str[4][3][160]; /* sku, name, unit */
};

static int collect_cb(void *arg, const struct price_item *it)
{
	struct collect *c = arg;
	const char *const s[3] = {it->sku, it->name, it->unit};

	assert_true(c->n < ARRAY_SIZE(c->it));
	c->it[c->n] = *it;
	for (int k = 0; k < 3; k++)
		snprintf(c->str[c->n][k], sizeof(c->str[0][0]), "%s", s[k] ? s[k] : "(none)");
	c->n++;
	return 0;
}

/* Items given one by one: every field decoded, in order, with maximal strings. */
static void test_foreach_values(void **state)
{
	char json[2048], sku[PRICE_SKU_MAX + 1], name[PRICE_NAME_MAX + 1];
	struct collect c = {0};
	struct price_batch b;
	int64_t ms;

	memset(sku, 'S', PRICE_SKU_MAX);
	sku[PRICE_SKU_MAX] = '\0';
	/* 42 three-byte characters and two bytes: 128. */
	for (int i = 0; i < 42; i++)
		memcpy(name + 3 * i, "\xe7\x89\x9b", 3);
	memcpy(name + 126, "ab", 3);
	snprintf(json, sizeof(json),
		 "{" HEAD ",\"items\":[{\"sku\":\"A\",\"price\":1,\"name\":\"Caf\\u00e9 "
		 "\\\"Bio\\\" \\u725b\\u5976 \\ud83e\\udd5b\\/1L\",\"unit\":\"\\u5347\","
		 "\"extra\":{\"k\":[1,{\"a\":null}]}},"
		 "{\"price\":0,\"\\u0073ku\":\"B.b_9-x\",\"regular\":null,\"name\":null,"
		 "\"unit\":null,\"promo_until\":null},"
		 "{\"sku\":\"%s\",\"price\":1000000000,\"regular\":1000000000,\"name\":\"%s\","
		 "\"unit\":\"1234567890123456\",\"promo_until\":\"2026-12-01T00:00:00.000Z\"}],"
		 "\"remove\":[\"R\"]}",
		 sku, name);
	assert_int_equal(price_batch_validate(json, strlen(json), &b, &errs), 0);
	assert_int_equal(b.n_items, 3);
	assert_int_equal(price_foreach_item(json, strlen(json), false, collect_cb, &c), 0);
	assert_int_equal(c.n, 3);
	assert_string_equal(c.str[0][0], "A");
	assert_int_equal(c.it[0].price, 1);
	assert_int_equal(c.it[0].regular, -1);
	assert_string_equal(c.str[0][1],
			    "Caf\xc3\xa9 \"Bio\" \xe7\x89\x9b\xe5\xa5\xb6 \xf0\x9f\xa5\x9b/1L");
	assert_string_equal(c.str[0][2], "\xe5\x8d\x87");
	assert_int_equal(c.it[0].promo_until_ms, 0);
	assert_string_equal(c.str[1][0], "B.b_9-x");
	assert_int_equal(c.it[1].price, 0);
	assert_int_equal(c.it[1].regular, -1);
	assert_string_equal(c.str[1][1], "(none)");
	assert_string_equal(c.str[1][2], "(none)");
	assert_string_equal(c.str[2][0], sku);
	assert_int_equal(c.it[2].price, PRICE_MONEY_MAX);
	assert_int_equal(c.it[2].regular, PRICE_MONEY_MAX);
	assert_string_equal(c.str[2][1], name);
	assert_string_equal(c.str[2][2], "1234567890123456");
	assert_int_equal(ts_parse("2026-12-01T00:00:00.000Z", &ms), 0);
	assert_int_equal(c.it[2].promo_until_ms, ms);
	price_batch_free(&b);
	check_validate(json, strlen(json), false);
}

/* A non-zero callback value stops the walk and is returned as it is. */
static void test_foreach_stop(void **state)
{
	static const char json[] = "{" HEAD ",\"items\":[{\"sku\":\"A\",\"price\":1},"
				   "{\"sku\":\"B\",\"price\":2},{\"sku\":\"C\",\"price\":3}]}";
	struct walk w = {NULL, 0, 2, 7};

	assert_int_equal(price_foreach_item(json, strlen(json), false, walk_cb, &w), 7);
	assert_int_equal(w.n, 2);
	w = (struct walk){NULL, 0, 1, -ECANCELED};
	assert_int_equal(price_foreach_item(json, strlen(json), false, walk_cb, &w), -ECANCELED);
	assert_int_equal(w.n, 1);
	w = (struct walk){NULL, 0, 3, 1};
	assert_int_equal(price_foreach_item(json, strlen(json), false, walk_cb, &w), 1);
	assert_int_equal(w.n, 3);
	w = (struct walk){NULL, 0, 0, 0};
	assert_int_equal(price_foreach_item(json, strlen(json), false, walk_cb, &w), 0);
	assert_int_equal(w.n, 3);
}

/* Snapshot files; batches without items; what a validated buffer never holds. */
static void test_foreach_snapshot_and_misuse(void **state)
{
	static const char snap[] = "{\"generated\":{\"by\":[\"x\",{\"items\":1}]},\"items\":["
				   "{\"sku\":\"A\",\"price\":1},{\"sku\":\"B\",\"price\":5,"
				   "\"name\":\"n\"}],\"id\":7}";
	static const char *const none[] = {
		"{" HEAD ",\"remove\":[\"X\"]}",
		"{" HEAD ",\"items\":null,\"remove\":[\"X\"]}",
		"{" HEAD ",\"snapshot\":" SNAP "}",
		"{\"items\":[]}",
	};
	static const char *const bad[] = {
		"{\"items\":[{\"sku\":\"A\",\"price\":1},{\"sku\":\"B\",\"price\":1.5}]}",
		"{\"items\":[{\"sku\":\"A\",\"price\":1},7]}",
		"{\"items\":[{\"sku\":\"A\",\"price\":1},{\"price\":1}]}",
		"{\"items\":[{\"sku\":\"A\",\"price\":1},{\"sku\":\"B\",\"price\":1,\"name\":"
		"\"\\n\"}]}",
		"{\"items\":[{\"sku\":\"A\",\"price\":1},{\"sku\":\"B\",\"price\":1,\"x\":[}]}",
		"{\"items\":[{\"sku\":\"A\",\"price\":1}",
		"[{\"items\":[]}]",
		"",
	};
	struct price_batch b;
	struct walk w;

	assert_int_equal(price_snapshot_validate(snap, strlen(snap), &b, &errs), 0);
	assert_int_equal(b.n_items, 2);
	assert_null(b.items);
	price_batch_free(&b);
	w = (struct walk){NULL, 0, 0, 0};
	assert_int_equal(price_foreach_item(snap, strlen(snap), true, walk_cb, &w), 0);
	assert_int_equal(w.n, 2);
	check_validate(snap, strlen(snap), true);

	for (size_t i = 0; i < ARRAY_SIZE(none); i++) {
		w = (struct walk){NULL, 0, 0, 0};
		assert_int_equal(price_foreach_item(none[i], strlen(none[i]), i == 3, walk_cb, &w),
				 0);
		assert_int_equal(w.n, 0);
	}
	/* Only the items before the bad one are given. */
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		w = (struct walk){NULL, 0, 0, 0};
		assert_int_equal(price_foreach_item(bad[i], strlen(bad[i]), true, walk_cb, &w),
				 -EINVAL);
		assert_int_equal(w.n, i < 6);
	}
	/*
	 * Duplicate keys are not looked for, but the item buffer is still
	 * bounded: two longest names do not fit.
	 */
	{
		char json[512], name[PRICE_NAME_MAX + 1];

		memset(name, 'n', PRICE_NAME_MAX);
		name[PRICE_NAME_MAX] = '\0';
		snprintf(
			json, sizeof(json),
			"{\"items\":[{\"sku\":\"A\",\"price\":1,\"name\":\"%s\",\"name\":\"%s\"}]}",
			name, name);
		w = (struct walk){NULL, 0, 0, 0};
		assert_int_equal(price_foreach_item(json, strlen(json), true, walk_cb, &w),
				 -EINVAL);
		assert_int_equal(w.n, 0);
	}
	w = (struct walk){NULL, 0, 0, 0};
	assert_int_equal(price_foreach_item(NULL, 0, false, walk_cb, &w), -EINVAL);
	assert_int_equal(price_foreach_item(NULL, 5, false, walk_cb, &w), -EINVAL);
	assert_int_equal(price_foreach_item(snap, strlen(snap), true, NULL, NULL), -EINVAL);
	assert_int_equal(price_foreach_item(snap, PRICE_BATCH_MAX + 1, false, walk_cb, &w),
			 -EINVAL);
	assert_int_equal(w.n, 0);
}

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* 100,000 items, shaped like a real catalog push: parses, every item right. */
static void test_100k_items(void **state)
{
	struct price_batch b;
	struct dynbuf d;
	double t0, best = 1e9;

	dynbuf_init(&d, 32 * 1024 * 1024);
	assert_int_equal(dynbuf_adds(&d, "{" HEAD ",\"items\":["), 0);
	for (int i = 0; i < 100000; i++) {
		assert_int_equal(dynbuf_addf(&d, "%s{\"sku\":\"69%011d\",\"price\":%d",
					     i ? "," : "", i, 100 + i % 9000),
				 0);
		if (i % 3 == 0)
			assert_int_equal(dynbuf_addf(&d, ",\"regular\":%d", 10000 + i % 9000), 0);
		assert_int_equal(dynbuf_addf(&d, ",\"name\":\"Item %d whole milk\"", i), 0);
		if (i % 10 == 0)
			assert_int_equal(
				dynbuf_adds(&d, ",\"unit\":\"1L\",\"promo_until\":\"" TS "\""), 0);
		assert_int_equal(dynbuf_adds(&d, "}"), 0);
	}
	assert_int_equal(dynbuf_adds(&d, "]}"), 0);
	for (int run = 0; run < 3; run++) {
		t0 = mono_s();
		assert_int_equal(price_batch_parse(d.buf, d.len, &b, &errs), 0);
		t0 = mono_s() - t0;
		if (t0 < best)
			best = t0;
		assert_int_equal(b.n_items, 100000);
		for (int i = 0; i < 100000; i += 997) {
			char sku[32], name[64];

			snprintf(sku, sizeof(sku), "69%011d", i);
			snprintf(name, sizeof(name), "Item %d whole milk", i);
			assert_string_equal(b.items[i].sku, sku);
			assert_int_equal(b.items[i].price, 100 + i % 9000);
			assert_int_equal(b.items[i].regular, i % 3 == 0 ? 10000 + i % 9000 : -1);
			assert_string_equal(b.items[i].name, name);
			assert_int_equal(b.items[i].promo_until_ms, i % 10 == 0 ? TS_MS : 0);
		}
		price_batch_free(&b);
	}
	print_message(
		"100000 items, %zu bytes of JSON: parsed and validated in %.1f ms (best of 3)\n",
		d.len, best * 1e3);
	/* Generous: sanitizer builds and a busy machine are slower. */
	assert_true(best < 2.0);

	/* Streamed: the same items; validate keeps well under half the parse's block. */
	check_validate(d.buf, d.len, false);
	{
		struct price_batch v;
		struct walk w = {NULL, 0, 0, 0};
		size_t pm, vm;

		assert_int_equal(price_batch_parse(d.buf, d.len, &b, &errs), 0);
		t0 = mono_s();
		assert_int_equal(price_batch_validate(d.buf, d.len, &v, &errs), 0);
		assert_int_equal(price_foreach_item(d.buf, d.len, false, walk_cb, &w), 0);
		t0 = mono_s() - t0;
		assert_int_equal(w.n, 100000);
		pm = malloc_usable_size(b.mem);
		vm = malloc_usable_size(v.mem);
		print_message("validate + foreach in %.1f ms; result block %.2f MB (parse: %.2f "
			      "MB)\n",
			      t0 * 1e3, (double)vm / 1048576, (double)pm / 1048576);
		assert_true(vm * 3 < pm);
		price_batch_free(&v);
		price_batch_free(&b);
	}
	dynbuf_free(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_full),
		cmocka_unit_test(test_valid_minimal_and_nulls),
		cmocka_unit_test(test_unknown_fields_ignored),
		cmocka_unit_test(test_id),
		cmocka_unit_test(test_id_kept_when_rejected),
		cmocka_unit_test(test_times_and_currency),
		cmocka_unit_test(test_items_shape),
		cmocka_unit_test(test_too_many_items),
		cmocka_unit_test(test_sku),
		cmocka_unit_test(test_money),
		cmocka_unit_test(test_name_unit_promo),
		cmocka_unit_test(test_duplicate_skus),
		cmocka_unit_test(test_remove),
		cmocka_unit_test(test_stores),
		cmocka_unit_test(test_snapshot),
		cmocka_unit_test(test_url_limit),
		cmocka_unit_test(test_empty_batch),
		cmocka_unit_test(test_duplicate_keys),
		cmocka_unit_test(test_syntax_errors),
		cmocka_unit_test(test_invalid_utf8),
		cmocka_unit_test(test_depth),
		cmocka_unit_test(test_size_limit),
		cmocka_unit_test(test_many_errors),
		cmocka_unit_test(test_errors_json),
		cmocka_unit_test(test_errors_add_bounds),
		cmocka_unit_test(test_snapshot_file),
		cmocka_unit_test(test_validate_same_errors),
		cmocka_unit_test(test_validate_keeps_header),
		cmocka_unit_test(test_foreach_values),
		cmocka_unit_test(test_foreach_stop),
		cmocka_unit_test(test_foreach_snapshot_and_misuse),
		cmocka_unit_test(test_100k_items),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
