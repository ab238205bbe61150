/*
 * test_recs: HQ recommendation sets (issue 5). A valid set read back exactly
 * (header, stores, rules with their SKUs and numbers, headlines, zones);
 * selection on a hand-written set with the answers written out for several
 * baskets (antecedents all in the basket, consequents in the basket or
 * without a price dropped, lift <= 1 never used, best score per consequent,
 * ties by SKU and by rule index, top N, basket order and repeats), then
 * against a brute-force reference on random sets; every reject with its
 * exact JSON path (NaN literal, "NaN" string, confidence > 1, 50,001 rules,
 * empty if, bad SKU, duplicate keys, ...); zones; the ack's errors array;
 * memory freed; misuse; and 50,000 rules: parse time and ns per selection
 * of a 5-SKU basket are printed.
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

#include "recs.h"
#include "util.h"

#define TS "2026-11-23T02:00:00.000Z"
#define TS_MS 1795399200000LL
#define HEAD "\"id\":\"r-1\",\"issued_at\":\"" TS "\",\"version\":42"
#define RULE "{\"if\":[\"A\"],\"then\":[\"B\"],\"support\":0.01,\"confidence\":0.5,\"lift\":2}"

static struct price_errors errs;

static void print_errs(const struct price_errors *e)
{
	for (size_t i = 0; i < e->n; i++)
		print_message("  error %zu: at=\"%s\" error=\"%s\"\n", i, e->e[i].at,
			      e->e[i].error);
	if (e->total > e->n)
		print_message("  ... %zu more\n", e->total - e->n);
}

static void parse_ok_n(const char *json, size_t len, struct recs_set *s)
{
	int rc = recs_set_parse(json, len, s, &errs);

	if (rc != 0) {
		print_errs(&errs);
		fail_msg("rejected (%d): %.300s", rc, json);
	}
	assert_int_equal(errs.total, 0);
}

static void parse_ok(const char *json, struct recs_set *s)
{
	parse_ok_n(json, strlen(json), s);
}

static void expect_errs_n(const char *json, size_t len, size_t n, ...)
{
	struct recs_set s;
	va_list ap;
	int rc;

	memset(&errs, 'x', sizeof(errs));
	rc = recs_set_parse(json, len, &s, &errs);
	if (rc != -EINVAL || errs.total != n ||
	    errs.n != (n < PRICE_MAX_ERRORS ? n : PRICE_MAX_ERRORS)) {
		print_errs(&errs);
		fail_msg("rc %d, %zu errors (%zu listed), want -EINVAL with %zu: %.300s", rc,
			 errs.total, errs.n, n, json);
	}
	assert_null(s.mem);
	assert_null(s.rules);
	assert_int_equal(s.n_rules, 0);
	assert_int_equal(s.n_zones, 0);
	assert_int_equal(s.n_skus, 0);
	va_start(ap, n);
	for (size_t i = 0; i < n && i < PRICE_MAX_ERRORS; i++) {
		const char *at = va_arg(ap, const char *);
		const char *phrase = va_arg(ap, const char *);
		const struct price_error *e = &errs.e[i];

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
	recs_set_free(&s);
}

#define expect_errs(json, n, ...) expect_errs_n(json, strlen(json), n, __VA_ARGS__)
#define expect_err(json, at, phrase) expect_errs(json, 1, at, phrase)

/* One rule in an otherwise valid set. */
static void expect_rule_err(const char *rule, const char *at, const char *phrase)
{
	char buf[4096];

	snprintf(buf, sizeof(buf), "{" HEAD ",\"rules\":[" RULE ",%s]}", rule);
	expect_err(buf, at, phrase);
}

/* One zone body ("dairy") in an otherwise valid set. */
static void expect_zone_err(const char *zone, const char *at, const char *phrase)
{
	char buf[8192];

	snprintf(buf, sizeof(buf), "{" HEAD ",\"rules\":[],\"zones\":{\"dairy\":%s}}", zone);
	expect_err(buf, at, phrase);
}

static void test_valid_full(void **state)
{
	static const char json[] =
		"{\"id\":\"r-2026/1\",\"issued_at\":\"" TS "\",\"version\":7,"
		"\"stores\":[\"S1\",\"s_2-x\"],"
		"\"rules\":[{\"if\":[\"MILK\",\"EGGS\"],\"then\":[\"BACON\"],\"support\":0.012,"
		"\"confidence\":0.41,\"lift\":3.2,\"headline\":\"Breakfast? \\u00e9\"},"
		"{\"then\":[\"MILK\",\"JAM\"],\"if\":[\"BREAD\"],\"support\":1,\"confidence\":1e-3,"
		"\"lift\":0.5,\"headline\":null}],"
		"\"zones\":{\"dairy\":{\"headline\":\"Fresh today\",\"items\":[{\"sku\":\"MILK\","
		"\"headline\":\"-20%\",\"image\":\"https://img.example/"
		"m.png\"},{\"sku\":\"Y-1\"}]},"
		"\"bakery_2\":{\"items\":[]}}}";
	struct recs_set s;

	parse_ok(json, &s);
	assert_string_equal(s.id, "r-2026/1");
	assert_int_equal(s.issued_at_ms, TS_MS);
	assert_int_equal(s.version, 7);
	assert_true(s.has_stores);
	assert_int_equal(s.n_stores, 2);
	assert_string_equal(s.stores[0], "S1");
	assert_string_equal(s.stores[1], "s_2-x");
	assert_int_equal(s.n_rules, 2);
	assert_int_equal(s.n_usable, 1);
	assert_int_equal(s.n_skus, 5); /* MILK EGGS BACON JAM BREAD: each once, as they come */
	assert_string_equal(s.skus[0], "MILK");
	assert_string_equal(s.skus[3], "JAM");
	assert_string_equal(s.skus[4], "BREAD");
	assert_int_equal(s.rules[0].n_ante, 2);
	assert_string_equal(s.skus[s.rules[0].ante[0]], "MILK");
	assert_string_equal(s.skus[s.rules[0].ante[1]], "EGGS");
	assert_int_equal(s.rules[0].n_cons, 1);
	assert_string_equal(s.skus[s.rules[0].cons[0]], "BACON");
	assert_true(s.rules[0].support == 0.012);
	assert_true(s.rules[0].confidence == 0.41);
	assert_true(s.rules[0].lift == 3.2);
	assert_string_equal(s.rules[0].headline, "Breakfast? \xc3\xa9");
	assert_int_equal(s.rules[1].n_ante, 1);
	assert_int_equal(s.rules[1].n_cons, 2);
	assert_int_equal(s.rules[1].cons[0], 0); /* MILK: the same id */
	assert_string_equal(s.skus[s.rules[1].cons[1]], "JAM");
	assert_true(s.rules[1].support == 1.0);
	assert_true(s.rules[1].confidence == 0.001);
	assert_true(s.rules[1].lift == 0.5);
	assert_null(s.rules[1].headline);
	assert_int_equal(recs_sku_id(&s, "BACON"), 2);
	assert_int_equal(recs_sku_id(&s, "NOPE"), -ENOENT);
	assert_int_equal(recs_sku_id(&s, NULL), -ENOENT);

	assert_int_equal(s.n_zones, 2);
	assert_string_equal(s.zones[0].name, "dairy");
	assert_string_equal(s.zones[0].headline, "Fresh today");
	assert_int_equal(s.zones[0].n_items, 2);
	assert_string_equal(s.zones[0].items[0].sku, "MILK");
	assert_string_equal(s.zones[0].items[0].headline, "-20%");
	assert_string_equal(s.zones[0].items[0].image, "https://img.example/m.png");
	assert_string_equal(s.zones[0].items[1].sku, "Y-1");
	assert_null(s.zones[0].items[1].headline);
	assert_null(s.zones[0].items[1].image);
	assert_ptr_equal(recs_zone_find(&s, "bakery_2"), &s.zones[1]);
	assert_null(s.zones[1].headline);
	assert_int_equal(s.zones[1].n_items, 0);
	assert_null(recs_zone_find(&s, "Dairy"));
	assert_null(recs_zone_find(NULL, "dairy"));
	recs_set_free(&s);
	assert_null(s.mem);
	assert_int_equal(s.n_rules, 0);
	recs_set_free(&s);
	recs_set_free(NULL);
}

static void test_valid_minimal_and_nulls(void **state)
{
	struct recs_set s;

	parse_ok("{" HEAD ",\"rules\":[]}", &s);
	assert_int_equal(s.version, 42);
	assert_int_equal(s.n_rules, 0);
	assert_int_equal(s.n_skus, 0);
	assert_false(s.has_stores);
	assert_int_equal(s.n_zones, 0);
	recs_set_free(&s);

	parse_ok("{" HEAD ",\"stores\":null,\"zones\":null,\"rules\":[" RULE "]}", &s);
	assert_false(s.has_stores);
	assert_int_equal(s.n_rules, 1);
	recs_set_free(&s);

	/* Unknown keys anywhere, whitespace, keys in any order, the biggest version. */
	parse_ok(" {\"rules\" : [ {\"x\":{\"y\":[1,{\"z\":null}]},\"lift\":2,\"then\":[\"B\"],"
		 "\"confidence\":1,\"if\":[\"A\"],\"support\":0.5,\"note\":\"hi\"} ],"
		 "\"extra\":[true],\"version\":9223372036854775807,\"id\":\"x\","
		 "\"issued_at\":\"2026-11-23T10:00:00+08:00\","
		 "\"zones\":{\"z\":{\"items\":[{\"sku\":\"A\",\"w\":1}],\"more\":{}}}}\n",
		 &s);
	assert_int_equal(s.version, INT64_MAX);
	assert_int_equal(s.issued_at_ms, TS_MS);
	assert_true(s.rules[0].lift == 2.0);
	assert_int_equal(s.zones[0].n_items, 1);
	recs_set_free(&s);
}

/* ---- selection: known answers ----------------------------------------- */

/*
 * score = lift x confidence (scaling by a power of 2 is exact, so the ties
 * below are exact ties in binary too):
 *  0: MILK -> CEREAL, BREAD      0.5 x 2  = 1.0
 *  1: MILK+EGGS -> BACON         0.5 x 3.6  = 1.8 (headline)
 *  2: EGGS -> BREAD              0.25 x 6.4 = 1.6
 *  3: MILK -> SUPP               0.9 x 1   (lift <= 1: never)
 *  4: DIAPER -> BEER             0.5 x 2  = 1.0
 *  5: MILK -> NOPRICE            0.9 x 5  = 4.5 (no price: never)
 *  6: MILK -> EGGS               0.5 x 3  = 1.5
 *  7: BREAD -> JAM               0.5 x 2  = 1.0
 *  8: MILK+EGGS+FLOUR -> YEAST   1 x 10   = 10
 *  9: EGGS -> BACON              0.5 x 2  = 1.0
 * 10: EGGS -> BREAD              0.8 x 2  = 1.6 (ties rule 2: rule 2 kept)
 * 11: SUPP -> MILK               1 x 0.5  (lift <= 1: never)
 */
static const char known[] =
	"{" HEAD ",\"rules\":["
	"{\"if\":[\"MILK\"],\"then\":[\"CEREAL\",\"BREAD\"],\"support\":0.1,\"confidence\":0.5,"
	"\"lift\":2},"
	"{\"if\":[\"MILK\",\"EGGS\"],\"then\":[\"BACON\"],\"support\":0.1,\"confidence\":0.5,"
	"\"lift\":3.6,\"headline\":\"Bacon and eggs\"},"
	"{\"if\":[\"EGGS\"],\"then\":[\"BREAD\"],\"support\":0.1,\"confidence\":0.25,\"lift\":6.4},"
	"{\"if\":[\"MILK\"],\"then\":[\"SUPP\"],\"support\":0.1,\"confidence\":0.9,\"lift\":1},"
	"{\"if\":[\"DIAPER\"],\"then\":[\"BEER\"],\"support\":0.1,\"confidence\":0.5,\"lift\":2},"
	"{\"if\":[\"MILK\"],\"then\":[\"NOPRICE\"],\"support\":0.1,\"confidence\":0.9,\"lift\":5},"
	"{\"if\":[\"MILK\"],\"then\":[\"EGGS\"],\"support\":0.1,\"confidence\":0.5,\"lift\":3},"
	"{\"if\":[\"BREAD\"],\"then\":[\"JAM\"],\"support\":0.1,\"confidence\":0.5,\"lift\":2},"
	"{\"if\":[\"MILK\",\"EGGS\",\"FLOUR\"],\"then\":[\"YEAST\"],\"support\":0.1,"
	"\"confidence\":1,\"lift\":10},"
	"{\"if\":[\"EGGS\"],\"then\":[\"BACON\"],\"support\":0.1,\"confidence\":0.5,\"lift\":2},"
	"{\"if\":[\"EGGS\"],\"then\":[\"BREAD\"],\"support\":0.1,\"confidence\":0.8,\"lift\":2},"
	"{\"if\":[\"SUPP\"],\"then\":[\"MILK\"],\"support\":0.1,\"confidence\":1,\"lift\":0.5}"
	"]}";

/* The fake price table: every SKU but NOPRICE, price = 100 x its length. */
struct prices_fake {
	size_t calls;
};

static bool fake_price(void *arg, const char *sku, int64_t *price, char *name, size_t namesz)
{
	struct prices_fake *pf = arg;

	if (pf)
		pf->calls++;
	if (strcmp(sku, "NOPRICE") == 0)
		return false;
	*price = 100 * (int64_t)strlen(sku);
	snprintf(name, namesz, "Name of %s", sku);
	return true;
}

struct want {
	const char *sku;
	double score;
	size_t rule;
};

static void expect_picks(const struct recs_set *s, const char *const *basket, size_t n,
			 size_t top_n, size_t n_want, const struct want *want)
{
	struct recs_pick out[RECS_MAX_TOP];
	int got;

	memset(out, 0x55, sizeof(out));
	got = recs_select(s, basket, n, fake_price, NULL, top_n, out);
	if (got != (int)n_want) {
		for (int i = 0; i < got; i++)
			print_message("  pick %d: %s %g rule %zu\n", i, out[i].sku, out[i].score,
				      out[i].rule);
		fail_msg("%d picks, want %zu", got, n_want);
	}
	for (size_t i = 0; i < n_want; i++) {
		char name[64];

		assert_string_equal(out[i].sku, want[i].sku);
		assert_true(out[i].score == want[i].score);
		assert_int_equal(out[i].rule, want[i].rule);
		assert_ptr_equal(out[i].headline, s->rules[want[i].rule].headline);
		assert_int_equal(out[i].price, 100 * (int64_t)strlen(want[i].sku));
		snprintf(name, sizeof(name), "Name of %s", want[i].sku);
		assert_string_equal(out[i].name, name);
	}
}

#define PICKS(s, basket, top_n, ...)                                                               \
	do {                                                                                       \
		static const struct want w_[] = {__VA_ARGS__};                                     \
		expect_picks(s, basket, ARRAY_SIZE(basket), top_n, ARRAY_SIZE(w_), w_);            \
	} while (0)

static void test_select_known(void **state)
{
	static const char *const b_milk[] = {"MILK"};
	static const char *const b_milk_eggs[] = {"MILK", "EGGS"};
	static const char *const b_eggs_milk_rep[] = {"EGGS", "MILK", "EGGS", "UNKNOWN", "MILK"};
	static const char *const b_four[] = {"BREAD", "FLOUR", "EGGS", "MILK"};
	static const char *const b_diaper[] = {"DIAPER", "X-1", NULL, "DIAPER"};
	static const char *const b_supp[] = {"SUPP"};
	static const char *const b_nothing[] = {"NOTHING", "BEER"};
	struct recs_pick out[4];
	struct recs_set s;

	parse_ok(known, &s);
	assert_int_equal(s.n_rules, 12);
	assert_int_equal(s.n_usable, 10);

	/* MILK: SUPP (lift 1) and NOPRICE (no price) are never picked. */
	PICKS(&s, b_milk, 5, {"EGGS", 1.5, 6}, {"BREAD", 1.0, 0}, {"CEREAL", 1.0, 0});
	/* Ties at the cut: BREAD before CEREAL (SKU order). */
	PICKS(&s, b_milk, 2, {"EGGS", 1.5, 6}, {"BREAD", 1.0, 0});
	PICKS(&s, b_milk, 1, {"EGGS", 1.5, 6});
	/*
	 * MILK + EGGS: EGGS is in the basket (rule 6 dropped); BACON by rules 1
	 * (1.8) and 9 (1.0) keeps 1.8; BREAD by rules 0 (1.0), 2 and 10 (1.6
	 * both) keeps rule 2; YEAST needs FLOUR too.
	 */
	PICKS(&s, b_milk_eggs, 5, {"BACON", 1.8, 1}, {"BREAD", 1.6, 2}, {"CEREAL", 1.0, 0});
	/* The same basket in another order, with repeats and an unknown SKU. */
	PICKS(&s, b_eggs_milk_rep, 5, {"BACON", 1.8, 1}, {"BREAD", 1.6, 2}, {"CEREAL", 1.0, 0});
	/* All of rule 8's antecedent; BREAD is in the basket; CEREAL before JAM. */
	PICKS(&s, b_four, 10, {"YEAST", 10.0, 8}, {"BACON", 1.8, 1}, {"CEREAL", 1.0, 0},
	      {"JAM", 1.0, 7});
	PICKS(&s, b_four, 2, {"YEAST", 10.0, 8}, {"BACON", 1.8, 1});
	PICKS(&s, b_diaper, 3, {"BEER", 1.0, 4});
	/* SUPP -> MILK has lift 0.5; BEER alone is no antecedent. */
	assert_int_equal(recs_select(&s, b_supp, 1, fake_price, NULL, 3, out), 0);
	assert_int_equal(recs_select(&s, b_nothing, 2, fake_price, NULL, 3, out), 0);
	assert_int_equal(recs_select(&s, NULL, 0, fake_price, NULL, 3, out), 0);
	assert_int_equal(recs_select(&s, b_milk, 1, fake_price, NULL, 0, NULL), 0);

	/* Selection does not allocate and leaves the set as it was. */
	{
		struct mallinfo2 m0 = mallinfo2(), m1;

		assert_int_equal(recs_select(&s, b_four, 4, fake_price, NULL, 4, out), 4);
		m1 = mallinfo2();
		assert_int_equal(m0.uordblks, m1.uordblks);
	}
	recs_set_free(&s);
	/* A freed set is an empty one. */
	assert_int_equal(recs_select(&s, b_milk, 1, fake_price, NULL, 3, out), 0);
}

static void test_select_lookup_calls(void **state)
{
	static const char *const b_milk[] = {"MILK"};
	struct prices_fake pf = {0};
	struct recs_pick out[1];
	struct recs_set s;

	parse_ok(known, &s);
	/* Top 1: only candidates that would enter the top are looked up. */
	assert_int_equal(recs_select(&s, b_milk, 1, fake_price, &pf, 1, out), 1);
	assert_string_equal(out[0].sku, "EGGS");
	assert_true(pf.calls >= 2 && pf.calls <= 4); /* CEREAL, NOPRICE, EGGS (BREAD ties lose) */
	recs_set_free(&s);
}

static void test_select_misuse(void **state)
{
	static const char *const b[] = {"MILK"};
	const char **big;
	struct recs_pick out[RECS_MAX_TOP + 1];
	struct recs_set s;

	parse_ok(known, &s);
	assert_int_equal(recs_select(NULL, b, 1, fake_price, NULL, 3, out), -EINVAL);
	assert_int_equal(recs_select(&s, b, 1, NULL, NULL, 3, out), -EINVAL);
	assert_int_equal(recs_select(&s, b, 1, fake_price, NULL, 3, NULL), -EINVAL);
	assert_int_equal(recs_select(&s, NULL, 1, fake_price, NULL, 3, out), -EINVAL);
	assert_int_equal(recs_select(&s, b, 1, fake_price, NULL, RECS_MAX_TOP + 1, out), -EINVAL);
	assert_int_equal(recs_select(&s, b, 1, fake_price, NULL, RECS_MAX_TOP, out), 3);
	big = calloc(RECS_MAX_BASKET + 1, sizeof(*big));
	assert_non_null(big);
	for (size_t i = 0; i <= RECS_MAX_BASKET; i++)
		big[i] = "MILK";
	assert_int_equal(recs_select(&s, big, RECS_MAX_BASKET + 1, fake_price, NULL, 3, out),
			 -E2BIG);
	assert_int_equal(recs_select(&s, big, RECS_MAX_BASKET, fake_price, NULL, 3, out), 3);
	free(big);
	recs_set_free(&s);
}

/* ---- selection: against a brute-force reference ------------------------ */

static uint64_t rng_state = 88172645463325252ULL;

static uint32_t rnd(uint32_t n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state % n);
}

/* Prices for every SKU whose number is not a multiple of 7. */
static bool mod7_price(void *arg, const char *sku, int64_t *price, char *name, size_t namesz)
{
	long n = strtol(sku + 1, NULL, 10);

	if (n % 7 == 0)
		return false;
	*price = n;
	snprintf(name, namesz, "%s", sku);
	return true;
}

static bool sku_in(const char *sku, const char *const *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(b[i], sku) == 0)
			return true;
	}
	return false;
}

static int cmp_pick(const void *a, const void *b)
{
	const struct recs_pick *x = a, *y = b;

	if (x->score != y->score)
		return x->score > y->score ? -1 : 1;
	return strcmp(x->sku, y->sku);
}

/* The selection rules applied naively: every rule, every consequent. */
static size_t reference(const struct recs_set *s, const char *const *b, size_t n, size_t top_n,
			struct recs_pick *out)
{
	struct recs_pick *best = calloc(s->n_skus, sizeof(*best));
	size_t m = 0;
	int64_t price;
	char name[8];

	assert_non_null(best);
	for (size_t r = 0; r < s->n_rules; r++) {
		const struct recs_rule *rule = &s->rules[r];
		bool all = true;
		double score = rule->lift * rule->confidence;

		if (rule->lift <= 1)
			continue;
		for (uint32_t k = 0; k < rule->n_ante; k++)
			all = all && sku_in(s->skus[rule->ante[k]], b, n);
		if (!all)
			continue;
		for (uint32_t k = 0; k < rule->n_cons; k++) {
			uint32_t c = rule->cons[k];
			const char *sku = s->skus[c];

			if (sku_in(sku, b, n) || !mod7_price(NULL, sku, &price, name, sizeof(name)))
				continue;
			if (!best[c].sku || score > best[c].score) {
				best[c].sku = sku;
				best[c].score = score;
				best[c].rule = r;
			}
		}
	}
	for (size_t c = 0; c < s->n_skus; c++) {
		if (best[c].sku)
			best[m++] = best[c];
	}
	qsort(best, m, sizeof(*best), cmp_pick);
	if (m > top_n)
		m = top_n;
	memcpy(out, best, m * sizeof(*out));
	free(best);
	return m;
}

static void test_select_random(void **state)
{
	static const double lifts[] = {0.5, 1.0, 1.5, 2.0, 3.0, 4.0};
	static const double confs[] = {0.25, 0.5, 0.75, 1.0};
	struct recs_pick got[RECS_MAX_TOP], want[RECS_MAX_TOP];
	struct dynbuf d;
	size_t checked = 0;

	dynbuf_init(&d, 1 << 20);
	for (int round = 0; round < 60; round++) {
		uint32_t universe = 8 + rnd(40), n_rules = 1 + rnd(300);
		struct recs_set s;

		dynbuf_reset(&d);
		assert_int_equal(dynbuf_adds(&d, "{" HEAD ",\"rules\":["), 0);
		for (uint32_t r = 0; r < n_rules; r++) {
			uint32_t na = 1 + rnd(3), nc = 1 + rnd(3), used[8], nu = 0;

			assert_int_equal(dynbuf_adds(&d, r ? ",{\"if\":[" : "{\"if\":["), 0);
			for (uint32_t k = 0; k < na + nc; k++) {
				uint32_t x;
				bool dup;

				do {
					x = rnd(universe);
					dup = false;
					for (uint32_t j = 0; j < nu; j++)
						dup = dup || used[j] == x;
				} while (dup);
				used[nu++] = x;
				assert_int_equal(dynbuf_addf(&d, "%s\"S%u\"%s",
							     k == 0 || k == na ? "" : ",", x,
							     k == na - 1 ? "],\"then\":[" : ""),
						 0);
			}
			assert_int_equal(
				dynbuf_addf(&d, "],\"support\":0.1,\"confidence\":%g,\"lift\":%g}",
					    confs[rnd(ARRAY_SIZE(confs))],
					    lifts[rnd(ARRAY_SIZE(lifts))]),
				0);
		}
		assert_int_equal(dynbuf_adds(&d, "]}"), 0);
		parse_ok_n(d.buf, d.len, &s);
		assert_int_equal(s.n_rules, n_rules);
		for (int q = 0; q < 30; q++) {
			const char *basket[12];
			char names[12][8];
			uint32_t nb = rnd(12);
			size_t top_n = 1 + rnd(12);
			int g;
			size_t w;

			for (uint32_t i = 0; i < nb; i++) {
				snprintf(names[i], sizeof(names[i]), "S%u", rnd(universe + 3));
				basket[i] = names[i];
			}
			g = recs_select(&s, basket, nb, mod7_price, NULL, top_n, got);
			w = reference(&s, basket, nb, top_n, want);
			assert_int_equal(g, (int)w);
			for (size_t i = 0; i < w; i++) {
				assert_string_equal(got[i].sku, want[i].sku);
				assert_true(got[i].score == want[i].score);
				assert_int_equal(got[i].rule, want[i].rule);
			}
			checked += w;
		}
		recs_set_free(&s);
	}
	dynbuf_free(&d);
	print_message("random sets: %zu picks checked against the reference\n", checked);
	assert_true(checked > 1000);
}

/* ---- rejects ---------------------------------------------------------- */

static void test_reject_numbers(void **state)
{
	/* The NaN literal is not JSON: one syntax error, nothing else checked. */
	{
		static const char nan[] = "{" HEAD ",\"rules\":[{\"if\":[\"A\"],\"then\":[\"B\"],"
					  "\"support\":0.1,\"confidence\":0.5,\"lift\":NaN}]}";
		char phrase[64];

		snprintf(phrase, sizeof(phrase), "invalid JSON at byte %zu",
			 (size_t)(strstr(nan, "NaN") - nan));
		expect_err(nan, "", phrase);
	}
	expect_err("{" HEAD ",\"rules\":[{\"if\":[\"A\"],\"then\":[\"B\"],\"support\":0.1,"
		   "\"confidence\":Infinity,\"lift\":2}]}",
		   "", "invalid JSON");
	expect_err("{" HEAD ",\"rules\":[{\"if\":[\"A\"],\"then\":[\"B\"],\"support\":0.1,"
		   "\"confidence\":0.5,\"lift\":-Infinity}]}",
		   "", "invalid JSON");
	expect_rule_err("{\"if\":[\"A\"],\"then\":[\"B\"],\"support\":0.1,\"confidence\":0.5,"
			"\"lift\":\"NaN\"}",
			"rules[1].lift", "must be a number, got a string");
	expect_rule_err("{\"if\":[\"A\"],\"then\":[\"B\"],\"support\":0.1,\"confidence\":\"0.5\","
			"\"lift\":2}",
			"rules[1].confidence", "must be a number, got a string");
	expect_rule_err("{\"if\":[\"A\"],\"then\":[\"B\"],\"support\":null,\"confidence\":0.5,"
			"\"lift\":2}",
			"rules[1].support", "must be a number, got null");
	expect_rule_err("{\"if\":[\"A\"],\"then\":[\"B\"],\"support\":0.1,\"confidence\":1.0000001,"
			"\"lift\":2}",
			"rules[1].confidence", "must be in (0, 1], got 1.0000001");
	expect_rule_err("{\"if\":[\"A\"],\"then\":[\"B\"],\"support\":0.1,\"confidence\":2,"
			"\"lift\":2}",
			"rules[1].confidence", "must be in (0, 1], got 2");
	expect_rule_err("{\"if\":[\"A\"],\"then\":[\"B\"],\"support\":0,\"confidence\":0.5,"
			"\"lift\":2}",
			"rules[1].support", "must be in (0, 1], got 0");
	expect_rule_err("{\"if\":[\"A\"],\"then\":[\"B\"],\"support\":-0.1,\"confidence\":0.5,"
			"\"lift\":2}",
			"rules[1].support", "must be in (0, 1], got -0.1");
	expect_rule_err("{\"if\":[\"A\"],\"then\":[\"B\"],\"support\":0.1,\"confidence\":0.5,"
			"\"lift\":0}",
			"rules[1].lift", "must be > 0, got 0");
	expect_rule_err("{\"if\":[\"A\"],\"then\":[\"B\"],\"support\":0.1,\"confidence\":0.5,"
			"\"lift\":-0.0}",
			"rules[1].lift", "must be > 0, got -0.0");
	expect_rule_err("{\"if\":[\"A\"],\"then\":[\"B\"],\"support\":0.1,\"confidence\":0.5,"
			"\"lift\":1e400}",
			"rules[1].lift", "out of the range of a double, got 1e400");
	expect_rule_err("{\"if\":[\"A\"],\"then\":[\"B\"],\"support\":1e-400,\"confidence\":0.5,"
			"\"lift\":2}",
			"rules[1].support", "out of the range of a double");
	expect_rule_err("{\"if\":[\"A\"],\"then\":[\"B\"],\"support\":0.1,\"confidence\":0.5,"
			"\"lift\":"
			"2.00000000000000000000000000000000000000000000000000000000000000001}",
			"rules[1].lift", "over the 64-byte limit");
	/* At the limits: 1 and a tiny lift are valid. */
	{
		struct recs_set s;

		parse_ok("{" HEAD ",\"rules\":[{\"if\":[\"A\"],\"then\":[\"B\"],\"support\":1,"
			 "\"confidence\":1E0,\"lift\":1e-300}]}",
			 &s);
		assert_true(s.rules[0].confidence == 1.0);
		assert_int_equal(s.n_usable, 0);
		recs_set_free(&s);
	}
}

static void test_reject_rules(void **state)
{
	expect_rule_err("{\"if\":[],\"then\":[\"B\"],\"support\":0.1,\"confidence\":0.5,"
			"\"lift\":2}",
			"rules[1].if", "must not be empty");
	expect_rule_err("{\"if\":[\"A\"],\"then\":[],\"support\":0.1,\"confidence\":0.5,"
			"\"lift\":2}",
			"rules[1].then", "must not be empty");
	expect_rule_err("{\"if\":[\"A\"],\"then\":[\"B\",\"bad sku\"],\"support\":0.1,"
			"\"confidence\":0.5,\"lift\":2}",
			"rules[1].then[1]", "must contain only A-Z a-z 0-9 . _ -, got \"bad sku\"");
	expect_rule_err("{\"if\":[\"\"],\"then\":[\"B\"],\"support\":0.1,\"confidence\":0.5,"
			"\"lift\":2}",
			"rules[1].if[0]", "must not be empty");
	expect_rule_err("{\"if\":[\"A\",7],\"then\":[\"B\"],\"support\":0.1,\"confidence\":0.5,"
			"\"lift\":2}",
			"rules[1].if[1]", "must be a string, got a number");
	expect_rule_err("{\"if\":[\"A\"],\"then\":[\"B\"],\"support\":0.1,\"confidence\":0.5,"
			"\"lift\":2,\"then\":[\"C\"]}",
			"rules[1].then", "duplicate key");
	expect_rule_err("{\"if\":[\"A\"],\"then\":[\"B\"],\"lift\":2,\"support\":0.1,"
			"\"confidence\":0.5,\"lift\":3}",
			"rules[1].lift", "duplicate key");
	expect_rule_err("{\"if\":\"A\",\"then\":[\"B\"],\"support\":0.1,\"confidence\":0.5,"
			"\"lift\":2}",
			"rules[1].if", "must be an array, got a string");
	expect_rule_err("{\"if\":[\"A\",\"C\",\"A\"],\"then\":[\"B\"],\"support\":0.1,"
			"\"confidence\":0.5,\"lift\":2}",
			"rules[1].if[2]", "duplicate sku A, also at if[0]");
	/* A SKU in both sides: known at the end of the rule, whatever the key order. */
	expect_rule_err("{\"then\":[\"B\",\"A\"],\"if\":[\"A\"],\"support\":0.1,"
			"\"confidence\":0.5,\"lift\":2}",
			"rules[1].then[1]", "sku A is also in if[0]");
	expect_rule_err("{\"if\":[\"A\",\"B\",\"C\",\"D\",\"E\",\"F\",\"G\",\"H\",\"I\",\"J\","
			"\"K\"],\"then\":[\"Z\"],\"support\":0.1,\"confidence\":0.5,\"lift\":2}",
			"rules[1].if", "too many skus: 11 > 10");
	/* Alone in the set: 11 distinct SKUs where 10 slots were counted. */
	expect_errs("{" HEAD ",\"rules\":[{\"if\":[\"A\",\"B\",\"C\",\"D\",\"E\",\"F\",\"G\","
		    "\"H\",\"I\",\"J\",\"K\",\"L-\"],\"then\":[\"Z\"],\"support\":0.1,"
		    "\"confidence\":0.5,\"lift\":2}]}",
		    1, "rules[0].if", "too many skus: 12 > 10");
	expect_errs("{" HEAD ",\"rules\":[{\"then\":[\"A\",\"B\",\"C\",\"D\",\"E\",\"F\","
		    "\"G\",\"H\",\"I\",\"J\",\"K\",\"L/\"],\"if\":[\"Z\"],\"support\":0.1,"
		    "\"confidence\":0.5,\"lift\":2}]}",
		    2, "rules[0].then[11]", "must contain only", "rules[0].then",
		    "too many skus: 12 > 10");
	expect_rule_err("{\"if\":[\"A\"],\"then\":[\"B\"],\"support\":0.1,\"confidence\":0.5,"
			"\"lift\":2,\"headline\":7}",
			"rules[1].headline", "must be a string, got a number");
	expect_rule_err("[]", "rules[1]", "must be an object, got an array");
	expect_errs("{" HEAD ",\"rules\":[{\"then\":[\"B\"],\"confidence\":0.5}]}", 3,
		    "rules[0].if", "missing field", "rules[0].support", "missing field",
		    "rules[0].lift", "missing field");
	expect_errs("{" HEAD ",\"rules\":[{}]}", 5, "rules[0].if", "missing field", "rules[0].then",
		    "missing field", "rules[0].support", "missing field", "rules[0].confidence",
		    "missing field", "rules[0].lift", "missing field");
	/* 10 on each side is fine. */
	{
		struct recs_set s;

		parse_ok("{" HEAD ",\"rules\":[{\"if\":[\"A\",\"B\",\"C\",\"D\",\"E\",\"F\",\"G\","
			 "\"H\",\"I\",\"J\"],\"then\":[\"K\",\"L\",\"M\",\"N\",\"O\",\"P\",\"Q\","
			 "\"R\",\"S\",\"T\"],\"support\":0.1,\"confidence\":0.5,\"lift\":2}]}",
			 &s);
		assert_int_equal(s.rules[0].n_ante, 10);
		assert_int_equal(s.rules[0].n_cons, 10);
		assert_int_equal(s.n_skus, 20);
		recs_set_free(&s);
	}
}

static void test_headline_limits(void **state)
{
	char rule[1024], h[200];
	struct recs_set s;

	memset(h, 'h', 128);
	h[128] = '\0';
	snprintf(rule, sizeof(rule),
		 "{" HEAD ",\"rules\":[{\"if\":[\"A\"],\"then\":[\"B\"],\"support\":0.1,"
		 "\"confidence\":0.5,\"lift\":2,\"headline\":\"%s\"}]}",
		 h);
	parse_ok(rule, &s);
	assert_int_equal(strlen(s.rules[0].headline), 128);
	recs_set_free(&s);
	h[128] = 'h';
	h[129] = '\0';
	snprintf(rule, sizeof(rule),
		 "{\"if\":[\"A\"],\"then\":[\"B\"],\"support\":0.1,\"confidence\":0.5,\"lift\":2,"
		 "\"headline\":\"%s\"}",
		 h);
	expect_rule_err(rule, "rules[1].headline", "is 129 bytes, over the 128-byte limit");
	expect_rule_err("{\"if\":[\"A\"],\"then\":[\"B\"],\"support\":0.1,\"confidence\":0.5,"
			"\"lift\":2,\"headline\":\"a\\nb\"}",
			"rules[1].headline", "control characters");
	expect_rule_err("{\"if\":[\"A\"],\"then\":[\"B\"],\"support\":0.1,\"confidence\":0.5,"
			"\"lift\":2,\"headline\":\"a\\u0000b\"}",
			"rules[1].headline", "control characters");
}

static void test_reject_header(void **state)
{
	expect_errs("{\"rules\":[]}", 3, "id", "missing field", "issued_at", "missing field",
		    "version", "missing field");
	expect_err("{\"id\":\"r\",\"issued_at\":\"" TS "\",\"version\":1}", "rules",
		   "missing field");
	expect_err("{\"id\":\"r\",\"issued_at\":\"" TS "\",\"version\":1,\"rules\":null}", "rules",
		   "must be an array, got null");
	expect_err("{\"id\":\"r\",\"issued_at\":\"" TS "\",\"version\":0,\"rules\":[]}", "version",
		   "must be 1..");
	expect_err("{\"id\":\"r\",\"issued_at\":\"" TS "\",\"version\":-3,\"rules\":[]}", "version",
		   "must be 1..");
	expect_err("{\"id\":\"r\",\"issued_at\":\"" TS "\",\"version\":3.0,\"rules\":[]}",
		   "version", "must be an integer, got 3.0");
	expect_err("{\"id\":\"r\",\"issued_at\":\"" TS "\",\"version\":\"3\",\"rules\":[]}",
		   "version", "must be a number, got a string");
	expect_err("{\"id\":\"r\",\"issued_at\":\"" TS
		   "\",\"version\":9223372036854775808,\"rules\":[]}",
		   "version", "must be 1..");
	expect_err("{\"id\":\"r\",\"issued_at\":\"yesterday\",\"version\":1,\"rules\":[]}",
		   "issued_at", "must be an RFC 3339 timestamp");
	expect_err("{\"id\":\"\",\"issued_at\":\"" TS "\",\"version\":1,\"rules\":[]}", "id",
		   "must not be empty");
	expect_err("{\"id\":\"\\u00e9\",\"issued_at\":\"" TS "\",\"version\":1,\"rules\":[]}", "id",
		   "printable ASCII");
	expect_err("{" HEAD ",\"rules\":[],\"version\":43}", "version", "duplicate key");
	expect_err("{" HEAD ",\"rules\":[],\"stores\":[]}", "stores", "must not be empty");
	expect_err("{" HEAD ",\"rules\":[],\"stores\":[\"S1\",\"fleet\"]}", "stores[1]",
		   "reserved");
	expect_err("{" HEAD ",\"rules\":[],\"stores\":[\"S 1\"]}", "stores[0]",
		   "must contain only");
	expect_err("[]", "", "must be a JSON object, got an array");
	expect_err("", "", "invalid JSON at byte 0");
	expect_err("{" HEAD ",\"rules\":[]", "", "invalid JSON at byte");
	expect_err("{" HEAD ",\"rules\":[\"\xff\"]}", "", "invalid UTF-8 at byte");
	{
		char deep[200] = "{" HEAD ",\"rules\":[],\"x\":";
		size_t o = strlen(deep);

		for (int i = 0; i < 40; i++)
			deep[o++] = '[';
		for (int i = 0; i < 40; i++)
			deep[o++] = ']';
		deep[o++] = '}';
		deep[o] = '\0';
		expect_err(deep, "", "nesting deeper than 32 levels");
	}
	/* The id is kept for the ack when only something else is wrong. */
	{
		struct recs_set s;

		assert_int_equal(recs_set_parse("{" HEAD ",\"rules\":[{}]}",
						strlen("{" HEAD ",\"rules\":[{}]}"), &s, &errs),
				 -EINVAL);
		assert_string_equal(s.id, "r-1");
		recs_set_free(&s);
		assert_int_equal(recs_set_parse("{\"id\":7," HEAD ",\"rules\":[]}",
						strlen("{\"id\":7," HEAD ",\"rules\":[]}"), &s,
						&errs),
				 -EINVAL);
		assert_string_equal(s.id, "");
		recs_set_free(&s);
		assert_int_equal(recs_set_parse("{" HEAD ",\"rules\":7}",
						strlen("{" HEAD ",\"rules\":7}"), &s, &errs),
				 -EINVAL);
		assert_string_equal(s.id, "r-1");
		recs_set_free(&s);
		assert_int_equal(
			recs_set_parse("{" HEAD ",\"rules\":[]}", RECS_SET_MAX + 1, &s, &errs),
			-EMSGSIZE);
		assert_int_equal(errs.total, 1);
		assert_int_equal(recs_set_parse(NULL, 0, &s, &errs), -EINVAL);
		assert_int_equal(recs_set_parse(NULL, 0, NULL, &errs), -EINVAL);
		assert_int_equal(recs_set_parse("{}", 2, &s, NULL), -EINVAL);
	}
}

static void test_duplicate_keys(void **state)
{
	char buf[4096];
	size_t o;

	expect_err("{" HEAD ",\"rules\":[],\"zones\":{\"dairy\":{\"items\":[]},\"dairy\":{}}}",
		   "zones.dairy", "duplicate key");
	expect_err("{" HEAD ",\"rules\":[],\"x\":{\"a\":[{\"b\":1,\"b\":2}]}}", "x.a[0].b",
		   "duplicate key");
	expect_err("{" HEAD ",\"rules\":[],\"zones\":{\"d\":{\"items\":[{\"sku\":\"A\",\"image\":"
		   "null,\"image\":null}]}}}",
		   "zones.d.items[0].image", "duplicate key");
	/* A later "rules" is ignored even when it is too big or wrong. */
	expect_err("{" HEAD ",\"rules\":[" RULE "],\"rules\":7}", "rules", "duplicate key");
	/* An unknown object with many keys (the hashed key set). */
	o = (size_t)snprintf(buf, sizeof(buf), "{" HEAD ",\"rules\":[],\"x\":{");
	for (int i = 0; i < 100; i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "\"k%d\":%d,", i, i);
	snprintf(buf + o, sizeof(buf) - o, "\"k57\":0}}");
	expect_err(buf, "x.k57", "duplicate key");
}

static void test_too_many_rules(void **state)
{
	struct recs_set s;
	struct dynbuf d;

	dynbuf_init(&d, 8 * 1024 * 1024);
	assert_int_equal(dynbuf_adds(&d, "{" HEAD ",\"rules\":["), 0);
	for (int i = 0; i < RECS_MAX_RULES; i++)
		assert_int_equal(dynbuf_addf(&d, "%s" RULE, i ? "," : ""), 0);
	assert_int_equal(dynbuf_adds(&d, "]}"), 0);
	parse_ok_n(d.buf, d.len, &s);
	assert_int_equal(s.n_rules, RECS_MAX_RULES);
	assert_int_equal(s.n_skus, 2);
	recs_set_free(&s);

	/* 50,001: one error, the rules (even a bad one) not examined. */
	d.len -= 2;
	assert_int_equal(dynbuf_adds(&d, ",{\"lift\":\"NaN\"}]}"), 0);
	expect_errs_n(d.buf, d.len, 1, "rules", "too many rules: 50001 > 50000");
	dynbuf_free(&d);
}

static void test_zones(void **state)
{
	char buf[16384];
	size_t o;
	struct recs_set s;

	expect_zone_err("{}", "zones.dairy.items", "missing field");
	expect_zone_err("{\"items\":null}", "zones.dairy.items", "must be an array, got null");
	expect_zone_err("[]", "zones.dairy", "must be an object, got an array");
	expect_zone_err("{\"items\":[{}]}", "zones.dairy.items[0].sku", "missing field");
	expect_zone_err("{\"items\":[{\"sku\":\"A\"},{\"sku\":\"A\"}]}", "zones.dairy.items[1].sku",
			"duplicate sku A, also at items[0]");
	expect_zone_err("{\"items\":[{\"sku\":\"A/B\"}]}", "zones.dairy.items[0].sku",
			"must contain only");
	expect_zone_err("{\"items\":[{\"sku\":\"A\",\"image\":\"ftp://x/y.png\"}]}",
			"zones.dairy.items[0].image", "http:// or https://");
	expect_zone_err("{\"items\":[{\"sku\":\"A\",\"image\":\"https:///y.png\"}]}",
			"zones.dairy.items[0].image", "with a host");
	expect_zone_err("{\"items\":[{\"sku\":\"A\",\"image\":\"https://x/a b.png\"}]}",
			"zones.dairy.items[0].image", "without spaces");
	expect_zone_err("{\"headline\":\"\\u0085\",\"items\":[]}", "zones.dairy.headline",
			"control characters");
	expect_zone_err("{\"items\":[{\"sku\":\"A\",\"headline\":false}]}",
			"zones.dairy.items[0].headline", "must be a string, got false");
	expect_err("{" HEAD ",\"rules\":[],\"zones\":{\"bad zone\":{\"items\":[]}}}",
		   "zones.bad zone", "must contain only A-Z a-z 0-9 _ -");
	expect_err("{" HEAD ",\"rules\":[],\"zones\":{\"\":{\"items\":[]}}}", "zones.",
		   "must not be empty");
	expect_err("{" HEAD ",\"rules\":[],\"zones\":[]}", "zones",
		   "must be an object, got an array");

	/* The URL limit: 1024 bytes fine, 1025 not. */
	o = (size_t)snprintf(buf, sizeof(buf),
			     "{" HEAD ",\"rules\":[],\"zones\":{\"d\":{\"items\":[{\"sku\":\"A\","
			     "\"image\":\"https://x/");
	memset(buf + o, 'a', 1024 - 10);
	o += 1024 - 10;
	o += (size_t)snprintf(buf + o, sizeof(buf) - o, "\"}]}}}");
	parse_ok(buf, &s);
	assert_int_equal(strlen(s.zones[0].items[0].image), 1024);
	recs_set_free(&s);
	o = (size_t)snprintf(buf, sizeof(buf),
			     "{" HEAD ",\"rules\":[],\"zones\":{\"d\":{\"items\":[{\"sku\":\"A\","
			     "\"image\":\"https://x/");
	memset(buf + o, 'a', 1024 - 9);
	o += 1024 - 9;
	snprintf(buf + o, sizeof(buf) - o, "\"}]}}}");
	expect_err(buf, "zones.d.items[0].image", "is 1025 bytes, over the 1024-byte limit");

	/* 64 zones of 50 items fine; 65 zones and 51 items not. */
	o = (size_t)snprintf(buf, sizeof(buf), "{" HEAD ",\"rules\":[],\"zones\":{");
	for (int z = 0; z < 64; z++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s\"z%d\":{\"items\":[]}",
				      z ? "," : "", z);
	snprintf(buf + o, sizeof(buf) - o, "}}");
	parse_ok(buf, &s);
	assert_int_equal(s.n_zones, 64);
	assert_ptr_equal(recs_zone_find(&s, "z63"), &s.zones[63]);
	recs_set_free(&s);
	snprintf(buf + o, sizeof(buf) - o, ",\"z64\":{\"items\":[]}}}");
	expect_err(buf, "zones", "too many zones: 65 > 64");

	o = (size_t)snprintf(buf, sizeof(buf),
			     "{" HEAD
			     ",\"rules\":[],\"zones\":{\"a\":{\"items\":[{\"sku\":\"X\"}]},"
			     "\"d\":{\"items\":[");
	for (int i = 0; i < 50; i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s{\"sku\":\"S%d\"}", i ? "," : "",
				      i);
	snprintf(buf + o, sizeof(buf) - o, "]}}}");
	parse_ok(buf, &s);
	assert_int_equal(s.zones[0].n_items, 1);
	assert_int_equal(s.zones[1].n_items, 50);
	assert_string_equal(s.zones[1].items[49].sku, "S49");
	assert_string_equal(s.zones[0].items[0].sku, "X");
	recs_set_free(&s);
	snprintf(buf + o, sizeof(buf) - o, ",{\"sku\":\"S50\"}]}}}");
	expect_err(buf, "zones.d.items", "too many items: 51 > 50");
}

static void test_many_errors_and_ack(void **state)
{
	struct recs_set s;
	struct dynbuf d;

	/* Document order; the missing field of a rule after the errors inside it. */
	expect_errs(
		"{\"id\":\"r\",\"issued_at\":\"x\",\"version\":0,\"rules\":[{\"if\":[\"A\"],"
		"\"lift\":\"NaN\",\"support\":2},{\"if\":[\"B\"],\"then\":[\"B\"],\"support\":1,"
		"\"confidence\":1,\"lift\":2}]}",
		7, "issued_at", "RFC 3339", "version", "must be 1..", "rules[0].lift",
		"got a string", "rules[0].support", "must be in (0, 1]", "rules[0].then",
		"missing field", "rules[0].confidence", "missing field", "rules[1].then[0]",
		"sku B is also in if[0]");
	assert_int_equal(recs_set_parse("{" HEAD ",\"rules\":[{\"lift\":0}]}",
					strlen("{" HEAD ",\"rules\":[{\"lift\":0}]}"), &s, &errs),
			 -EINVAL);
	recs_set_free(&s);
	dynbuf_init(&d, 4096);
	assert_int_equal(price_errors_json(&errs, &d), 0);
	assert_string_equal(d.buf, "[{\"at\":\"rules[0].lift\",\"error\":\"must be > 0, got 0\"},"
				   "{\"at\":\"rules[0].if\",\"error\":\"missing field\"},"
				   "{\"at\":\"rules[0].then\",\"error\":\"missing field\"},"
				   "{\"at\":\"rules[0].support\",\"error\":\"missing field\"},"
				   "{\"at\":\"rules[0].confidence\",\"error\":\"missing field\"}]");
	dynbuf_free(&d);

	/* 300 bad rules: 100 listed, all counted. */
	dynbuf_init(&d, 1 << 20);
	assert_int_equal(dynbuf_adds(&d, "{" HEAD ",\"rules\":["), 0);
	for (int i = 0; i < 300; i++)
		assert_int_equal(dynbuf_addf(&d,
					     "%s{\"if\":[\"A\"],\"then\":[\"B\"],\"support\":0.1,"
					     "\"confidence\":0.5,\"lift\":-%d}",
					     i ? "," : "", i + 1),
				 0);
	assert_int_equal(dynbuf_adds(&d, "]}"), 0);
	assert_int_equal(recs_set_parse(d.buf, d.len, &s, &errs), -EINVAL);
	assert_int_equal(errs.total, 300);
	assert_int_equal(errs.n, PRICE_MAX_ERRORS);
	assert_string_equal(errs.e[99].at, "rules[99].lift");
	recs_set_free(&s);
	dynbuf_free(&d);
}

/* Parse and free valid and invalid sets: the heap is back where it was. */
static void test_memory_freed(void **state)
{
	struct mallinfo2 m0, m1;
	struct recs_set s;

	parse_ok(known, &s); /* warm up (stdio, first allocations) */
	recs_set_free(&s);
	m0 = mallinfo2();
	for (int i = 0; i < 50; i++) {
		char buf[8192];

		parse_ok(known, &s);
		recs_set_free(&s);
		snprintf(buf, sizeof(buf),
			 "{" HEAD ",\"rules\":[" RULE ",{\"lift\":\"NaN\"}],\"x\":{%s}}",
			 "\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"e\":5,\"f\":6,\"g\":7,\"h\":8,\"i\":9,"
			 "\"j\":10,\"k\":11,\"l\":12,\"m\":13,\"n\":14,\"o\":15,\"p\":16,\"q\":17,"
			 "\"r\":18,\"r\":19");
		assert_int_equal(recs_set_parse(buf, strlen(buf), &s, &errs), -EINVAL);
		assert_int_equal(errs.total, 6);
		recs_set_free(&s);
	}
	m1 = mallinfo2();
	assert_int_equal(m0.uordblks, m1.uordblks);
}

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool all_priced(void *arg, const char *sku, int64_t *price, char *name, size_t namesz)
{
	*price = 990;
	snprintf(name, namesz, "Item %s", sku);
	return true;
}

/*
 * 50,000 rules over 20,000 SKUs shaped like a basket-analysis export: 1-3
 * antecedent SKUs drawn mostly from the 500 best sellers, 1-3 consequents;
 * lifts 0.8..5. A 5-SKU basket of best sellers (many rules keyed by them)
 * and random 5-SKU baskets: ns per selection printed.
 */
static void test_50k_rules(void **state)
{
	struct recs_pick out[10];
	struct recs_set s;
	struct dynbuf d;
	double t0, best = 1e9;
	const int reps = 20000;
	char names[5][16];
	const char *basket[5];
	size_t total = 0;

	rng_state = 1234567;
	dynbuf_init(&d, 64 * 1024 * 1024);
	assert_int_equal(dynbuf_adds(&d, "{" HEAD ",\"rules\":["), 0);
	for (int r = 0; r < RECS_MAX_RULES; r++) {
		uint32_t na = 1 + rnd(3), nc = 1 + rnd(3), used[6], nu = 0;

		assert_int_equal(dynbuf_adds(&d, r ? ",{\"if\":[" : "{\"if\":["), 0);
		for (uint32_t k = 0; k < na + nc; k++) {
			uint32_t x;
			bool dup;

			do {
				x = k < na && rnd(4) ? rnd(500) : rnd(20000);
				dup = false;
				for (uint32_t j = 0; j < nu; j++)
					dup = dup || used[j] == x;
			} while (dup);
			used[nu++] = x;
			assert_int_equal(dynbuf_addf(&d, "%s\"69%011u\"%s",
						     k == 0 || k == na ? "" : ",", x,
						     k == na - 1 ? "],\"then\":[" : ""),
					 0);
		}
		assert_int_equal(
			dynbuf_addf(&d,
				    "],\"support\":0.0%u,\"confidence\":0.%02u,\"lift\":%u.%u,"
				    "\"headline\":\"Often bought together %d\"}",
				    1 + rnd(9), 1 + rnd(99), rnd(5), 1 + rnd(9), r),
			0);
	}
	assert_int_equal(dynbuf_adds(&d, "]}"), 0);
	for (int run = 0; run < 3; run++) {
		t0 = mono_s();
		parse_ok_n(d.buf, d.len, &s);
		t0 = mono_s() - t0;
		if (t0 < best)
			best = t0;
		assert_int_equal(s.n_rules, RECS_MAX_RULES);
		if (run < 2)
			recs_set_free(&s);
	}
	print_message("50000 rules, %zu bytes of JSON, %zu SKUs, %zu usable: parsed and indexed "
		      "in %.1f ms (best of 3), block %.2f MB\n",
		      d.len, s.n_skus, s.n_usable, best * 1e3,
		      (double)malloc_usable_size(s.mem) / 1048576);
	assert_true(best < 2.0);

	/* Best sellers 0..4: the most rules keyed by them. */
	for (int i = 0; i < 5; i++) {
		snprintf(names[i], sizeof(names[i]), "69%011d", i);
		basket[i] = names[i];
	}
	t0 = mono_s();
	for (int i = 0; i < reps; i++)
		total += (size_t)recs_select(&s, basket, 5, all_priced, NULL, 5, out);
	t0 = mono_s() - t0;
	assert_int_equal(total, (size_t)reps * 5);
	print_message("selection, 5-SKU basket of best sellers, top 5: %.0f ns\n", t0 * 1e9 / reps);
	{
		struct recs_pick want[5];
		int g = recs_select(&s, basket, 5, mod7_price, NULL, 5, out);

		assert_int_equal(g, (int)reference(&s, basket, 5, 5, want));
		for (int i = 0; i < g; i++) {
			assert_ptr_equal(out[i].sku, want[i].sku);
			assert_int_equal(out[i].rule, want[i].rule);
		}
	}
	assert_true(t0 * 1e9 / reps < 1e6); /* generous: sanitizers, a busy machine */

	/* 1,000 random baskets (3 best sellers and 2 others), made beforehand. */
	{
		static char rnames[1000][5][16];
		static const char *rbaskets[1000][5];

		for (int i = 0; i < 1000; i++) {
			for (int k = 0; k < 5; k++) {
				snprintf(rnames[i][k], sizeof(rnames[i][k]), "69%011u",
					 k < 3 ? rnd(500) : rnd(20000));
				rbaskets[i][k] = rnames[i][k];
			}
		}
		t0 = mono_s();
		for (int i = 0; i < reps; i++)
			total += (size_t)recs_select(&s, rbaskets[i % 1000], 5, all_priced, NULL, 5,
						     out);
		t0 = mono_s() - t0;
		print_message("selection, random 5-SKU baskets, top 5: %.0f ns\n", t0 * 1e9 / reps);
	}
	recs_set_free(&s);
	dynbuf_free(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_full),
		cmocka_unit_test(test_valid_minimal_and_nulls),
		cmocka_unit_test(test_select_known),
		cmocka_unit_test(test_select_lookup_calls),
		cmocka_unit_test(test_select_misuse),
		cmocka_unit_test(test_select_random),
		cmocka_unit_test(test_reject_numbers),
		cmocka_unit_test(test_reject_rules),
		cmocka_unit_test(test_headline_limits),
		cmocka_unit_test(test_reject_header),
		cmocka_unit_test(test_duplicate_keys),
		cmocka_unit_test(test_too_many_rules),
		cmocka_unit_test(test_zones),
		cmocka_unit_test(test_many_errors_and_ack),
		cmocka_unit_test(test_memory_freed),
		cmocka_unit_test(test_50k_rules),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
