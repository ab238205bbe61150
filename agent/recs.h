/*
 * recs: HQ recommendation sets (issue 5): the parser and validator, and the
 * selection of what to suggest for a basket. Pure: payload bytes in, a
 * validated set or EVERY error (each with the JSON path of the offending
 * value) out; selection reads the set and a price lookup the caller gives.
 * No I/O, no clock. Whether a set replaces the current one (an older or
 * equal version is ignored) is the daemon's decision: the parsed version is
 * in recs_set.version.
 *
 * Set (topics shelf/v1/{store}/recs and shelf/v1/fleet/recs):
 *   {"id":"r-1","issued_at":"<RFC 3339>","version":42,"stores"?:["S1",...],
 *    "rules":[{"if":["sku",...],"then":["sku",...],"support":0.012,
 *              "confidence":0.41,"lift":3.2,"headline"?:"text"}, ...],
 *    "zones"?:{"dairy":{"headline"?:"..","items":[{"sku":"..","headline"?:"..",
 *                                                 "image"?:"https://.."}]}}}
 *
 * Rules (error paths in brackets):
 * - the payload is valid UTF-8 and one JSON object; a syntax error (this
 *   includes the literals NaN and Infinity, which JSON does not have),
 *   invalid UTF-8 or nesting deeper than RECS_MAX_DEPTH is ONE error at ""
 *   with the byte offset (0-based); nothing else is checked;
 * - a key given twice in any object, known or not, at any depth: error at the
 *   later key's path ("rules[3].lift": "duplicate key"), that value is
 *   ignored; two zones with the same name are such a duplicate key;
 * - unknown keys are ignored anywhere; null for an optional field means
 *   absent, for a required one it is a type error;
 * - id [id]: required string, 1..RECS_ID_MAX bytes of printable ASCII;
 *   issued_at [issued_at]: required RFC 3339; version [version]: required
 *   JSON integer 1..INT64_MAX (a fraction or exponent, even 3.0, is refused);
 * - stores [stores[k]]: optional non-empty array of at most PRICE_MAX_STORES
 *   store ids ([A-Za-z0-9_-]{1,64}, not "fleet"), as in prices.h;
 * - rules [rules]: required array (may be empty) of at most RECS_MAX_RULES
 *   objects; more: ONE error "too many rules: N > 50000" and the rules are not
 *   examined; per rule [rules[i].if, ...]:
 *   - if, then [rules[i].if]: required arrays of 1..RECS_MAX_SIDE SKUs
 *     (price_sku_valid()): empty is "must not be empty", more than 10 is
 *     "too many skus: N > 10" (the elements are still checked); each SKU
 *     [rules[i].if[j]] a string of the SKU rules; a SKU twice in one side is
 *     "duplicate sku X, also at if[k]" at the later one; a SKU in both sides
 *     is "sku X is also in if[k]" at [rules[i].then[j]];
 *   - support, confidence [rules[i].support]: required numbers in (0, 1];
 *     lift [rules[i].lift]: required number > 0 (lift <= 1 is valid, but
 *     selection never uses such a rule); a string ("NaN", "0.5") or any other
 *     non-number is a type error; a literal over RECS_NUM_MAX bytes, or out of
 *     the range of a double (overflow like 1e400 or underflow like 1e-400), or
 *     outside the interval is an error at its path;
 *   - headline [rules[i].headline]: optional string <= RECS_HEADLINE_MAX bytes
 *     without control characters (C0, DEL, C1);
 * - zones [zones]: optional object of at most RECS_MAX_ZONES zones (more: one
 *   error "too many zones: N > 64", the zones are not examined); a zone name
 *   [zones.NAME] is [A-Za-z0-9_-]{1,64}; a zone [zones.NAME] is an object:
 *   headline [zones.NAME.headline] optional as for rules; items
 *   [zones.NAME.items] a required array of 0..RECS_MAX_ZONE_ITEMS objects
 *   (more: one error, the items not examined); per item
 *   [zones.NAME.items[j].sku, ...]: sku required (the SKU rules, at most once
 *   per zone: "duplicate sku X, also at items[k]"), headline optional as
 *   above, image optional: an http:// or https:// URL with a host, at most
 *   RECS_URL_MAX bytes of printable ASCII without spaces.
 * Errors come in document order, except those only known at the end of an
 * object, which follow the errors found inside it: a missing field
 * ("missing field" at the field's path) and a SKU in both sides of a rule.
 * \u0000 is refused in every string.
 *
 * Selection (recs_select()): the rules whose antecedent ("if") SKUs are ALL
 * in the basket, with lift > 1; their consequents ("then") not in the basket
 * and with a current price (the caller's lookup) are candidates, scored lift
 * x confidence; a consequent reached by several rules keeps its best score
 * (equal scores: the lowest rule index); the result is ranked by score, then
 * SKU (strcmp order), so the same set and basket always give the same
 * answer, whatever the basket's order or repeats. At load an index maps each
 * SKU to the usable rules (lift > 1) whose antecedent it keys (the
 * antecedent SKU that the fewest usable rules share), so one selection visits
 * only the rules keyed by a basket SKU, and keeps a sorted top N as it goes.
 */
#ifndef SHELF_RECS_H
#define SHELF_RECS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "prices.h"

#define RECS_MAX_RULES 50000
#define RECS_MAX_SIDE 10 /* SKUs in a rule's "if", and in its "then" */
#define RECS_HEADLINE_MAX 128
#define RECS_MAX_ZONES 64
#define RECS_ZONE_NAME_MAX 64
#define RECS_MAX_ZONE_ITEMS 50
#define RECS_URL_MAX 1024
#define RECS_ID_MAX 128
#define RECS_NUM_MAX 64 /* bytes of a number literal (support, confidence, lift) */
#define RECS_MAX_DEPTH 32
#define RECS_SET_MAX (64u * 1024 * 1024) /* bytes of a payload */
#define RECS_MAX_TOP 64 /* top_n of recs_select() */
#define RECS_MAX_BASKET 1000 /* basket lines given to recs_select() */

struct recs_rule {
	/* SKU ids: the SKUs are set->skus[ante[i]], in document order. */
	const uint32_t *ante; /* "if" */
	const uint32_t *cons; /* "then" */
	uint32_t n_ante; /* 1..RECS_MAX_SIDE */
	uint32_t n_cons; /* 1..RECS_MAX_SIDE */
	double support; /* (0, 1] */
	double confidence; /* (0, 1] */
	double lift; /* > 0 */
	const char *headline; /* NULL: none */
};

struct recs_zone_item {
	const char *sku;
	const char *headline; /* NULL: none */
	const char *image; /* NULL: none */
};

struct recs_zone {
	const char *name;
	const char *headline; /* NULL: none */
	const struct recs_zone_item *items;
	size_t n_items; /* 0..RECS_MAX_ZONE_ITEMS */
};

/*
 * A parsed set. Every pointer points into one block owned by the set, valid
 * until recs_set_free().
 */
struct recs_set {
	char id[RECS_ID_MAX + 1];
	int64_t issued_at_ms;
	int64_t version; /* >= 1 */

	const char **stores;
	size_t n_stores;
	bool has_stores;

	const struct recs_rule *rules; /* in document order: the rule index is rules[] */
	size_t n_rules;
	size_t n_usable; /* rules with lift > 1: the only ones selection uses */
	const char **skus; /* every distinct SKU of the rules, by id (first appearance) */
	size_t n_skus;

	const struct recs_zone *zones; /* in document order */
	size_t n_zones;

	/* private */
	void *mem; /* the one block */
	const uint32_t *hash; /* SKU -> id + 1, open addressing; 0 is empty */
	size_t hash_mask;
	const uint32_t *idx_start; /* n_skus + 1 offsets into idx_rules */
	const uint32_t *idx_rules; /* usable rule indexes, grouped by key SKU */
};

/*
 * Parse and validate the set in @buf[0..len) (need not be NUL-terminated;
 * @buf may be NULL if @len is 0) into *@out, and build its index; errors go
 * to *@errs (reset first). Returns:
 *   0          valid: *@out is filled, @errs->total == 0;
 *   -EINVAL    invalid: @errs holds the errors (total >= 1); *@out is empty
 *              except @out->id, which holds the set id when the "id" field
 *              itself was valid (for the "rejected" ack's "ref"), else "";
 *              also returned, with nothing filled, when @out or @errs is NULL;
 *   -EMSGSIZE  @len > RECS_SET_MAX: one error at "", *@out empty;
 *   -ENOMEM    out of memory: one error at "" ("out of memory"), *@out empty.
 * The caller calls recs_set_free(@out) afterwards in every case; the ack's
 * errors array is price_errors_json(@errs).
 * Memory: one zeroed block of about 60 bytes per rule, 24-32 per if/then
 * SKU (id, SKU table, hash and index slots, sized by the SKUs given, not the
 * distinct ones), the zones, and a strings area sized by every string of the
 * payload (at most @len bytes; the SKUs given twice are stored once, so the
 * end of it is usually never touched); plus, for the time of the call, a
 * 4-byte key per rule and the duplicate-key tables of objects with more than
 * 16 keys.
 */
int recs_set_parse(const char *buf, size_t len, struct recs_set *out, struct price_errors *errs);

/* Free what a parse stored in @s and empty it. NULL-safe, idempotent. */
void recs_set_free(struct recs_set *s);

/* The id of SKU @sku in @s (an index of s->skus), or -ENOENT (also for NULL). */
long recs_sku_id(const struct recs_set *s, const char *sku);

/* The zone named @name, or NULL. */
const struct recs_zone *recs_zone_find(const struct recs_set *s, const char *name);

/*
 * The caller's price table: true if @sku has a current price, then with the
 * price (minor units) in *@price and its name (NUL-terminated, cut to fit,
 * "" when none) in @name[0..namesz). False: no current price, the SKU is not
 * suggested. Called at most once per candidate that would enter the top N
 * (so it may be called for SKUs that a better candidate later pushes out,
 * and more than once for a SKU reached by several rules).
 */
typedef bool (*recs_price_fn)(void *arg, const char *sku, int64_t *price, char *name,
			      size_t namesz);

/* One suggestion. */
struct recs_pick {
	const char *sku; /* in the set (valid until recs_set_free()) */
	double score; /* lift x confidence of the best rule */
	size_t rule; /* index in set->rules of that rule */
	const char *headline; /* that rule's headline, NULL: none (in the set) */
	int64_t price; /* from the lookup */
	char name[PRICE_NAME_MAX + 1]; /* from the lookup */
};

/*
 * Suggest up to @top_n SKUs for the basket @basket[0..n_basket) (SKU
 * strings, repeats and SKUs the set does not know allowed; NULL entries are
 * skipped) by the selection rules above, into @out[0..top_n), best first.
 * @lookup (with @arg) says which SKUs have a current price. Returns the
 * number of picks (0..@top_n); -EINVAL if @s, @lookup or @out is NULL (with
 * @top_n > 0), @basket is NULL with @n_basket > 0, or @top_n >
 * RECS_MAX_TOP; -E2BIG if @n_basket > RECS_MAX_BASKET. @s may be an empty
 * (freed or zeroed) set: 0 picks. Allocates nothing; @s is not changed.
 */
int recs_select(const struct recs_set *s, const char *const *basket, size_t n_basket,
		recs_price_fn lookup, void *arg, size_t top_n, struct recs_pick *out);

#endif
