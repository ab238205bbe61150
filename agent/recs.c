/*
 * recs: HQ recommendation sets and selection. See recs.h for the rules.
 *
 * Parsing follows prices.c: two passes over the payload with the jscan pull
 * scanner, no tree.
 *  1. count: the grammar, UTF-8 and depth are checked (a syntax error is the
 *     only error then) and upper bounds of what will be kept are counted:
 *     rules, if/then SKU slots (at most RECS_MAX_SIDE per array), zones,
 *     zone items (at most RECS_MAX_ZONE_ITEMS per array), stores, and the
 *     bytes of the strings (each at most its raw length + 1);
 *  2. walk: a recursive descent that checks every value in document order
 *     and stores the result in ONE zeroed block sized from those counts.
 *     The if/then SKUs are interned as they come (an open-addressing table
 *     SKU -> id that stays in the set for the baskets), so a rule holds
 *     4-byte ids and each distinct SKU string is stored once.
 * When the set is valid, the index is built in the same block: every usable
 * rule (lift > 1) is listed once, under the antecedent SKU that the fewest
 * usable rules share (its "key"). A basket then visits only the rules keyed
 * by its SKUs and checks their other antecedent SKUs against the sorted
 * basket ids.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "jpath.h"
#include "jscan.h"
#include "recs.h"

#define QUOTE_MAX JPATH_QUOTE_MAX
#define NO_ID UINT32_MAX /* an if/then slot holding an invalid SKU */

struct counts {
	size_t rules;
	size_t ids;
	size_t zones;
	size_t zitems;
	size_t stores;
	size_t bytes;
};

struct parser {
	const char *buf;
	size_t len;
	struct jscan js;
	struct price_errors *errs;
	struct recs_set *s;
	struct counts cnt; /* what the block holds room for */
	size_t n_rules_given; /* pass 1's count of rules, before the cap */
	size_t n_zones_given;
	size_t n_stores_given;
	struct recs_rule *rules;
	struct recs_zone *zones;
	struct recs_zone_item *zitems;
	size_t zitems_used;
	const char **stores;
	const char **skus;
	uint32_t *ids;
	size_t ids_used;
	uint32_t *hash;
	size_t hash_mask;
	char *str;
	size_t str_used;
	unsigned seen;
	bool id_ok;
};

enum {
	SEEN_ID = 1 << 0,
	SEEN_ISSUED_AT = 1 << 1,
	SEEN_VERSION = 1 << 2,
	SEEN_RULES = 1 << 3,
};

typedef int (*member_fn)(struct parser *ps, const struct jscan_tok *key,
			 const struct jscan_tok *val, const struct jpath *at, void *arg);

/* ---- errors ---------------------------------------------------------- */

static void perr(struct parser *ps, const struct jpath *at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Report an error at @at (NULL: the payload). The path is formatted only if listed. */
static void perr(struct parser *ps, const struct jpath *at, const char *fmt, ...)
{
	char where[256] = "";
	va_list ap;

	if (ps->errs->n < PRICE_MAX_ERRORS)
		jpath_format(at, where, sizeof(where));
	va_start(ap, fmt);
	price_errors_addv(ps->errs, where, fmt, ap);
	va_end(ap);
}

/* ---- key sets (duplicate keys), as in prices.c ------------------------ */

static int internal_error(struct parser *ps)
{
	perr(ps, NULL, "internal error in the recommendations parser");
	return -EINVAL;
}

static int next(struct parser *ps, struct jscan_tok *t)
{
	if (jscan_next(&ps->js, t) == JSCAN_ERROR)
		return internal_error(ps);
	return 0;
}

static int skip(struct parser *ps, const struct jscan_tok *v)
{
	if (jscan_skip(&ps->js, v) < 0)
		return internal_error(ps);
	return 0;
}

/* Walk the object just opened: each member to @fn, a repeated key is an error. */
static int walk_object(struct parser *ps, const struct jpath *at, member_fn fn, void *arg)
{
	struct jkeys ks;
	struct jscan_tok key, val;
	int rc, dup;

	jkeys_init(&ks);
	for (;;) {
		struct jpath kp = {at, &key, NULL, 0};

		rc = next(ps, &key);
		if (rc < 0 || key.type == JSCAN_OBJECT_END)
			break;
		if (key.type != JSCAN_KEY) {
			rc = internal_error(ps);
			break;
		}
		dup = jkeys_add(&ks, &key);
		if (dup < 0) {
			rc = dup;
			break;
		}
		rc = next(ps, &val);
		if (rc < 0)
			break;
		if (dup) {
			perr(ps, &kp, "duplicate key");
			rc = skip(ps, &val);
		} else {
			rc = fn(ps, &key, &val, &kp, arg);
		}
		if (rc < 0)
			break;
	}
	jkeys_free(&ks);
	return rc;
}

static int walk_unknown(struct parser *ps, const struct jscan_tok *v, const struct jpath *at);

static int unknown_member(struct parser *ps, const struct jscan_tok *key,
			  const struct jscan_tok *val, const struct jpath *at, void *arg)
{
	return walk_unknown(ps, val, at);
}

/* A value nobody asked for: only the duplicate-key rule applies inside it. */
static int walk_unknown(struct parser *ps, const struct jscan_tok *v, const struct jpath *at)
{
	struct jscan_tok t;
	size_t i = 0;
	int rc;

	if (v->type == JSCAN_OBJECT)
		return walk_object(ps, at, unknown_member, NULL);
	if (v->type != JSCAN_ARRAY)
		return 0;
	for (;;) {
		struct jpath ip = {at, NULL, NULL, i++};

		rc = next(ps, &t);
		if (rc < 0 || t.type == JSCAN_ARRAY_END)
			return rc;
		rc = walk_unknown(ps, &t, &ip);
		if (rc < 0)
			return rc;
	}
}

/*
 * Walk the array @v opens (type already checked): each element to @fn with
 * its index; @fn consumes the element. Returns the count in *@n.
 */
typedef int (*elem_fn)(struct parser *ps, const struct jscan_tok *v, size_t i,
		       const struct jpath *at, void *arg);

static int walk_array(struct parser *ps, const struct jpath *at, elem_fn fn, void *arg, size_t *n)
{
	struct jscan_tok t;
	size_t i = 0;
	int rc;

	for (;;) {
		struct jpath ip = {at, NULL, NULL, i};

		rc = next(ps, &t);
		if (rc < 0 || t.type == JSCAN_ARRAY_END)
			break;
		rc = fn(ps, &t, i, &ip, arg);
		if (rc < 0)
			break;
		i++;
	}
	*n = i;
	return rc;
}

/* ---- values ----------------------------------------------------------- */

static bool is(const struct jscan_tok *t, const char *s)
{
	size_t n = strlen(s);

	return t->dlen == n && jscan_str_eq(t, s, n);
}

static char *str_store(struct parser *ps, const struct jscan_tok *v)
{
	char *s;

	if (v->dlen + 1 > ps->cnt.bytes - ps->str_used) {
		internal_error(ps);
		return NULL;
	}
	s = ps->str + ps->str_used;
	jscan_str_decode(v, s, v->dlen + 1);
	ps->str_used += v->dlen + 1;
	return s;
}

static void str_unstore(struct parser *ps, const char *s)
{
	ps->str_used = (size_t)(s - ps->str);
}

static bool wrong_type(struct parser *ps, const struct jscan_tok *v, enum jscan_type want,
		       const struct jpath *at)
{
	if (v->type == want)
		return false;
	perr(ps, at, "must be %s, got %s", jscan_type_name(want), jscan_type_name(v->type));
	return true;
}

static bool sku_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '-';
}

static bool name_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-';
}

/*
 * A SKU, store id or zone name (@v a string or a key): 1..@max bytes of @ok
 * characters. Returns the stored copy, or NULL after reporting.
 */
static const char *get_ident(struct parser *ps, const struct jscan_tok *v, const struct jpath *at,
			     size_t max, bool (*ok)(unsigned char), const char *charset)
{
	char q[QUOTE_MAX + 4];
	char *s;

	if (v->type != JSCAN_KEY && wrong_type(ps, v, JSCAN_STRING, at))
		return NULL;
	if (v->dlen == 0) {
		perr(ps, at, "must not be empty");
		return NULL;
	}
	if (v->dlen > max) {
		perr(ps, at, "is %zu bytes, over the %zu-byte limit", v->dlen, max);
		return NULL;
	}
	s = str_store(ps, v);
	if (!s)
		return NULL;
	for (size_t i = 0; i < v->dlen; i++) {
		if (!ok((unsigned char)s[i])) {
			perr(ps, at, "must contain only %s, got \"%s\"", charset,
			     jpath_quote(q, v));
			str_unstore(ps, s);
			return NULL;
		}
	}
	return s;
}

static const char *get_sku(struct parser *ps, const struct jscan_tok *v, const struct jpath *at)
{
	return get_ident(ps, v, at, PRICE_SKU_MAX, sku_char, "A-Z a-z 0-9 . _ -");
}

/* A headline: string <= RECS_HEADLINE_MAX bytes, no control characters. */
static const char *get_headline(struct parser *ps, const struct jscan_tok *v,
				const struct jpath *at)
{
	char *s;

	if (wrong_type(ps, v, JSCAN_STRING, at))
		return NULL;
	if (v->dlen > RECS_HEADLINE_MAX) {
		perr(ps, at, "is %zu bytes, over the %d-byte limit", v->dlen, RECS_HEADLINE_MAX);
		return NULL;
	}
	s = str_store(ps, v);
	if (!s)
		return NULL;
	if (text_has_control(s, v->dlen)) {
		perr(ps, at, "must not contain control characters");
		str_unstore(ps, s);
		return NULL;
	}
	return s;
}

static const char *get_url(struct parser *ps, const struct jscan_tok *v, const struct jpath *at)
{
	char q[QUOTE_MAX + 4];
	const char *host;
	char *s;

	if (wrong_type(ps, v, JSCAN_STRING, at))
		return NULL;
	if (v->dlen > RECS_URL_MAX) {
		perr(ps, at, "is %zu bytes, over the %d-byte limit", v->dlen, RECS_URL_MAX);
		return NULL;
	}
	s = str_store(ps, v);
	if (!s)
		return NULL;
	if (strncasecmp(s, "https://", 8) == 0)
		host = s + 8;
	else if (strncasecmp(s, "http://", 7) == 0)
		host = s + 7;
	else
		host = NULL;
	if (!host || !*host || *host == '/') {
		perr(ps, at, "must be an http:// or https:// URL with a host, got \"%s\"",
		     jpath_quote(q, v));
		goto err_unstore;
	}
	for (size_t i = 0; i < v->dlen; i++) {
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f) {
			perr(ps, at, "must be printable ASCII without spaces, got \"%s\"",
			     jpath_quote(q, v));
			goto err_unstore;
		}
	}
	return s;

err_unstore:
	str_unstore(ps, s);
	return NULL;
}

static bool get_ts(struct parser *ps, const struct jscan_tok *v, const struct jpath *at,
		   int64_t *ms)
{
	char buf[64], q[QUOTE_MAX + 4];

	if (wrong_type(ps, v, JSCAN_STRING, at))
		return false;
	if (v->dlen < sizeof(buf) && !(v->flags & JSCAN_F_NUL)) {
		jscan_str_decode(v, buf, sizeof(buf));
		if (ts_parse(buf, ms) == 0)
			return true;
	}
	*ms = 0;
	perr(ps, at, "must be an RFC 3339 timestamp, got \"%s\"", jpath_quote(q, v));
	return false;
}

/*
 * A real number: @max_one: in (0, 1], else > 0. The literal is converted
 * with strtod() (the C locale's '.': the daemon never calls setlocale()).
 */
static bool get_real(struct parser *ps, const struct jscan_tok *v, const struct jpath *at,
		     bool max_one, double *out)
{
	char tmp[RECS_NUM_MAX + 1], q[QUOTE_MAX + 4];
	double x;

	if (wrong_type(ps, v, JSCAN_NUMBER, at))
		return false;
	if (v->len > RECS_NUM_MAX) {
		perr(ps, at, "number literal is %zu bytes, over the %d-byte limit", v->len,
		     RECS_NUM_MAX);
		return false;
	}
	memcpy(tmp, v->p, v->len);
	tmp[v->len] = '\0';
	errno = 0;
	x = strtod(tmp, NULL);
	if (errno == ERANGE || !isfinite(x)) {
		perr(ps, at, "is out of the range of a double, got %s", jpath_quote_num(q, v));
		return false;
	}
	if (max_one && !(x > 0 && x <= 1)) {
		perr(ps, at, "must be in (0, 1], got %s", jpath_quote_num(q, v));
		return false;
	}
	if (!max_one && !(x > 0)) {
		perr(ps, at, "must be > 0, got %s", jpath_quote_num(q, v));
		return false;
	}
	*out = x;
	return true;
}

/* ---- SKU interning ---------------------------------------------------- */

static uint32_t sku_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/*
 * The id of @sku (just stored at the end of the strings): an old one (@sku
 * unstored) or a new one; NO_ID after an internal error (no room: pass 1
 * counted at least one slot per SKU kept, so this does not happen).
 */
static uint32_t intern(struct parser *ps, const char *sku)
{
	size_t i = sku_hash(sku) & ps->hash_mask;
	struct recs_set *s = ps->s;

	for (; ps->hash[i]; i = (i + 1) & ps->hash_mask) {
		uint32_t id = ps->hash[i] - 1;

		if (strcmp(ps->skus[id], sku) == 0) {
			str_unstore(ps, sku);
			return id;
		}
	}
	if (s->n_skus >= ps->cnt.ids) {
		internal_error(ps);
		return NO_ID;
	}
	ps->skus[s->n_skus] = sku;
	ps->hash[i] = (uint32_t)s->n_skus + 1;
	return (uint32_t)s->n_skus++;
}

long recs_sku_id(const struct recs_set *s, const char *sku)
{
	size_t i;

	if (!s || !sku || !s->hash)
		return -ENOENT;
	for (i = sku_hash(sku) & s->hash_mask; s->hash[i]; i = (i + 1) & s->hash_mask) {
		uint32_t id = s->hash[i] - 1;

		if (strcmp(s->skus[id], sku) == 0)
			return (long)id;
	}
	return -ENOENT;
}

/* ---- rules ------------------------------------------------------------ */

enum {
	R_IF = 1 << 0,
	R_THEN = 1 << 1,
	R_SUPPORT = 1 << 2,
	R_CONFIDENCE = 1 << 3,
	R_LIFT = 1 << 4,
};

struct side_ctx {
	uint32_t *ids; /* the side's slots in the pool */
	size_t avail; /* slots left in the pool from @ids on */
	const char *name; /* "if", "then" */
};

static int side_elem(struct parser *ps, const struct jscan_tok *v, size_t i, const struct jpath *at,
		     void *arg)
{
	struct side_ctx *sc = arg;
	const char *sku;
	uint32_t id = NO_ID;

	if (i >= RECS_MAX_SIDE) {
		/* Past the limit (an error at the end): checked, neither kept nor interned. */
		sku = get_sku(ps, v, at);
		if (sku)
			str_unstore(ps, sku);
		return skip(ps, v);
	}
	if (i >= sc->avail)
		return internal_error(ps);
	sku = get_sku(ps, v, at);
	if (sku) {
		id = intern(ps, sku);
		if (id == NO_ID)
			return -EINVAL;
		for (size_t k = 0; k < i; k++) {
			if (sc->ids[k] == id) {
				perr(ps, at, "duplicate sku %s, also at %s[%zu]", ps->skus[id],
				     sc->name, k);
				break;
			}
		}
	}
	sc->ids[i] = id;
	return skip(ps, v);
}

/* An if/then array: its ids into the pool, the count in *@n. */
static int walk_side(struct parser *ps, const struct jscan_tok *v, const struct jpath *at,
		     const char *name, const uint32_t **ids, uint32_t *n)
{
	struct side_ctx sc = {ps->ids + ps->ids_used, ps->cnt.ids - ps->ids_used, name};
	size_t cnt;
	int rc;

	if (wrong_type(ps, v, JSCAN_ARRAY, at))
		return skip(ps, v);
	rc = walk_array(ps, at, side_elem, &sc, &cnt);
	if (rc < 0)
		return rc;
	if (cnt == 0)
		perr(ps, at, "must not be empty");
	else if (cnt > RECS_MAX_SIDE)
		perr(ps, at, "too many skus: %zu > %d", cnt, RECS_MAX_SIDE);
	*ids = ps->ids + ps->ids_used;
	*n = (uint32_t)(cnt < RECS_MAX_SIDE ? cnt : RECS_MAX_SIDE);
	ps->ids_used += *n;
	return 0;
}

struct rule_ctx {
	struct recs_rule *r;
	unsigned seen;
};

static int rule_member(struct parser *ps, const struct jscan_tok *key, const struct jscan_tok *v,
		       const struct jpath *at, void *arg)
{
	struct rule_ctx *rc = arg;
	struct recs_rule *r = rc->r;

	if (is(key, "if")) {
		rc->seen |= R_IF;
		return walk_side(ps, v, at, "if", &r->ante, &r->n_ante);
	}
	if (is(key, "then")) {
		rc->seen |= R_THEN;
		return walk_side(ps, v, at, "then", &r->cons, &r->n_cons);
	}
	if (is(key, "support")) {
		rc->seen |= R_SUPPORT;
		get_real(ps, v, at, true, &r->support);
	} else if (is(key, "confidence")) {
		rc->seen |= R_CONFIDENCE;
		get_real(ps, v, at, true, &r->confidence);
	} else if (is(key, "lift")) {
		rc->seen |= R_LIFT;
		get_real(ps, v, at, false, &r->lift);
	} else if (is(key, "headline")) {
		if (v->type != JSCAN_NULL)
			r->headline = get_headline(ps, v, at);
	} else {
		return walk_unknown(ps, v, at);
	}
	return skip(ps, v);
}

static int rule_elem(struct parser *ps, const struct jscan_tok *v, size_t i, const struct jpath *at,
		     void *arg)
{
	static const char *const names[] = {"if", "then", "support", "confidence", "lift"};
	struct rule_ctx rc = {&ps->rules[i], 0};
	int err;

	if (i >= ps->cnt.rules)
		return internal_error(ps);
	if (wrong_type(ps, v, JSCAN_OBJECT, at))
		return skip(ps, v);
	err = walk_object(ps, at, rule_member, &rc);
	if (err < 0)
		return err;
	for (size_t k = 0; k < ARRAY_SIZE(names); k++) {
		struct jpath fp = {at, NULL, names[k], 0};

		if (!(rc.seen & 1u << k))
			perr(ps, &fp, "missing field");
	}
	/* A SKU on both sides. */
	for (uint32_t j = 0; j < rc.r->n_cons; j++) {
		struct jpath tp = {at, NULL, "then", 0};
		struct jpath jp = {&tp, NULL, NULL, j};

		if (rc.r->cons[j] == NO_ID)
			continue;
		for (uint32_t k = 0; k < rc.r->n_ante; k++) {
			if (rc.r->ante[k] == rc.r->cons[j]) {
				perr(ps, &jp, "sku %s is also in if[%u]", ps->skus[rc.r->cons[j]],
				     k);
				break;
			}
		}
	}
	return 0;
}

static int walk_rules(struct parser *ps, const struct jscan_tok *v, const struct jpath *at)
{
	size_t n;
	int rc;

	if (wrong_type(ps, v, JSCAN_ARRAY, at))
		return skip(ps, v);
	if (ps->n_rules_given > RECS_MAX_RULES) {
		perr(ps, at, "too many rules: %zu > %d", ps->n_rules_given, RECS_MAX_RULES);
		return skip(ps, v);
	}
	rc = walk_array(ps, at, rule_elem, NULL, &n);
	ps->s->n_rules = n;
	return rc;
}

/* ---- zones ------------------------------------------------------------ */

struct zone_ctx {
	struct recs_zone *z;
	bool items_seen;
	bool sku_seen; /* in the item being walked */
	size_t base; /* the zone's first item in ps->zitems */
};

static int zitem_member(struct parser *ps, const struct jscan_tok *key, const struct jscan_tok *v,
			const struct jpath *at, void *arg)
{
	struct zone_ctx *zc = arg;
	struct recs_zone_item *it = &ps->zitems[ps->zitems_used];

	if (is(key, "sku")) {
		zc->sku_seen = true;
		it->sku = get_sku(ps, v, at);
		if (it->sku) {
			for (size_t k = zc->base; k < ps->zitems_used; k++) {
				if (ps->zitems[k].sku && strcmp(ps->zitems[k].sku, it->sku) == 0) {
					perr(ps, at, "duplicate sku %s, also at items[%zu]",
					     it->sku, k - zc->base);
					break;
				}
			}
		}
	} else if (is(key, "headline")) {
		if (v->type != JSCAN_NULL)
			it->headline = get_headline(ps, v, at);
	} else if (is(key, "image")) {
		if (v->type != JSCAN_NULL)
			it->image = get_url(ps, v, at);
	} else {
		return walk_unknown(ps, v, at);
	}
	return skip(ps, v);
}

static int zitem_elem(struct parser *ps, const struct jscan_tok *v, size_t i,
		      const struct jpath *at, void *arg)
{
	struct zone_ctx *zc = arg;
	int rc;

	if (ps->zitems_used >= ps->cnt.zitems)
		return internal_error(ps);
	if (wrong_type(ps, v, JSCAN_OBJECT, at))
		return skip(ps, v);
	memset(&ps->zitems[ps->zitems_used], 0, sizeof(ps->zitems[0]));
	zc->sku_seen = false;
	rc = walk_object(ps, at, zitem_member, zc);
	if (rc < 0)
		return rc;
	if (!zc->sku_seen) {
		struct jpath fp = {at, NULL, "sku", 0};

		perr(ps, &fp, "missing field");
	}
	ps->zitems_used++;
	return 0;
}

static int zone_member(struct parser *ps, const struct jscan_tok *key, const struct jscan_tok *v,
		       const struct jpath *at, void *arg)
{
	struct zone_ctx *zc = arg;
	struct jscan_tok t;
	size_t n = 0;
	int rc;

	if (is(key, "headline")) {
		if (v->type != JSCAN_NULL)
			zc->z->headline = get_headline(ps, v, at);
		return skip(ps, v);
	}
	if (!is(key, "items"))
		return walk_unknown(ps, v, at);
	zc->items_seen = true;
	if (wrong_type(ps, v, JSCAN_ARRAY, at))
		return skip(ps, v);
	zc->base = ps->zitems_used;
	zc->z->items = ps->zitems + zc->base;
	/* Count first: a copy of the scanner walks ahead (it holds no resources). */
	{
		struct jscan ahead = ps->js;

		for (;;) {
			if (jscan_next(&ahead, &t) == JSCAN_ERROR)
				return internal_error(ps);
			if (t.type == JSCAN_ARRAY_END)
				break;
			n++;
			if (jscan_skip(&ahead, &t) < 0)
				return internal_error(ps);
		}
	}
	if (n > RECS_MAX_ZONE_ITEMS) {
		perr(ps, at, "too many items: %zu > %d", n, RECS_MAX_ZONE_ITEMS);
		return skip(ps, v);
	}
	rc = walk_array(ps, at, zitem_elem, zc, &n);
	zc->z->n_items = n;
	return rc;
}

static int zones_member(struct parser *ps, const struct jscan_tok *key, const struct jscan_tok *v,
			const struct jpath *at, void *arg)
{
	struct recs_set *s = ps->s;
	struct zone_ctx zc;
	struct recs_zone *z;
	int rc;

	if (s->n_zones >= ps->cnt.zones)
		return internal_error(ps);
	z = &ps->zones[s->n_zones++];
	memset(z, 0, sizeof(*z));
	zc.z = z;
	zc.items_seen = false;
	zc.sku_seen = false;
	zc.base = ps->zitems_used;
	z->name = get_ident(ps, key, at, RECS_ZONE_NAME_MAX, name_char, "A-Z a-z 0-9 _ -");
	if (wrong_type(ps, v, JSCAN_OBJECT, at))
		return skip(ps, v);
	rc = walk_object(ps, at, zone_member, &zc);
	if (rc < 0)
		return rc;
	if (!zc.items_seen) {
		struct jpath fp = {at, NULL, "items", 0};

		perr(ps, &fp, "missing field");
	}
	return 0;
}

static int walk_zones(struct parser *ps, const struct jscan_tok *v, const struct jpath *at)
{
	if (v->type == JSCAN_NULL || wrong_type(ps, v, JSCAN_OBJECT, at))
		return skip(ps, v);
	if (ps->n_zones_given > RECS_MAX_ZONES) {
		perr(ps, at, "too many zones: %zu > %d", ps->n_zones_given, RECS_MAX_ZONES);
		return skip(ps, v);
	}
	return walk_object(ps, at, zones_member, NULL);
}

/* ---- stores ----------------------------------------------------------- */

static int store_elem(struct parser *ps, const struct jscan_tok *v, size_t i,
		      const struct jpath *at, void *arg)
{
	const char *id;

	if (i >= ps->cnt.stores)
		return internal_error(ps);
	id = get_ident(ps, v, at, 64, name_char, "A-Z a-z 0-9 _ -");
	if (id && strcmp(id, "fleet") == 0) {
		perr(ps, at, "must not be \"fleet\" (a reserved name)");
		str_unstore(ps, id);
		id = NULL;
	}
	ps->stores[i] = id;
	return skip(ps, v);
}

static int walk_stores(struct parser *ps, const struct jscan_tok *v, const struct jpath *at)
{
	size_t n;
	int rc;

	if (v->type == JSCAN_NULL || wrong_type(ps, v, JSCAN_ARRAY, at))
		return skip(ps, v);
	ps->s->has_stores = true;
	if (ps->n_stores_given > PRICE_MAX_STORES) {
		perr(ps, at, "too many stores: %zu > %d", ps->n_stores_given, PRICE_MAX_STORES);
		return skip(ps, v);
	}
	rc = walk_array(ps, at, store_elem, NULL, &n);
	ps->s->n_stores = n;
	if (rc == 0 && n == 0)
		perr(ps, at, "must not be empty (leave it out to address every store)");
	return rc;
}

/* ---- the set ---------------------------------------------------------- */

static int top_member(struct parser *ps, const struct jscan_tok *key, const struct jscan_tok *v,
		      const struct jpath *at, void *arg)
{
	struct recs_set *s = ps->s;
	char q[QUOTE_MAX + 4];
	int64_t x;

	if (is(key, "rules")) {
		ps->seen |= SEEN_RULES;
		return walk_rules(ps, v, at);
	}
	if (is(key, "zones"))
		return walk_zones(ps, v, at);
	if (is(key, "stores"))
		return walk_stores(ps, v, at);
	if (is(key, "id")) {
		ps->seen |= SEEN_ID;
		if (wrong_type(ps, v, JSCAN_STRING, at))
			return skip(ps, v);
		if (v->dlen == 0) {
			perr(ps, at, "must not be empty");
		} else if (v->dlen > RECS_ID_MAX) {
			perr(ps, at, "is %zu bytes, over the %d-byte limit", v->dlen, RECS_ID_MAX);
		} else {
			jscan_str_decode(v, s->id, sizeof(s->id));
			for (size_t i = 0; i < v->dlen; i++) {
				unsigned char c = (unsigned char)s->id[i];

				if (c < 0x20 || c > 0x7e) {
					perr(ps, at, "must be printable ASCII, got \"%s\"",
					     jpath_quote(q, v));
					s->id[0] = '\0';
					return 0;
				}
			}
			ps->id_ok = true;
		}
		return 0;
	}
	if (is(key, "issued_at")) {
		ps->seen |= SEEN_ISSUED_AT;
		get_ts(ps, v, at, &s->issued_at_ms);
		return skip(ps, v);
	}
	if (is(key, "version")) {
		ps->seen |= SEEN_VERSION;
		if (wrong_type(ps, v, JSCAN_NUMBER, at))
			return skip(ps, v);
		if (v->flags & (JSCAN_F_FRAC | JSCAN_F_EXP))
			perr(ps, at, "must be an integer, got %s", jpath_quote_num(q, v));
		else if (jscan_int64(v, &x) < 0 || x < 1)
			perr(ps, at, "must be 1..%lld, got %s", (long long)INT64_MAX,
			     jpath_quote_num(q, v));
		else
			s->version = x;
		return 0;
	}
	return walk_unknown(ps, v, at);
}

static int walk(struct parser *ps)
{
	static const struct {
		unsigned bit;
		const char *name;
	} required[] = {
		{SEEN_ID, "id"},
		{SEEN_ISSUED_AT, "issued_at"},
		{SEEN_VERSION, "version"},
		{SEEN_RULES, "rules"},
	};
	struct jscan_tok t;
	int rc;

	jscan_init(&ps->js, ps->buf, ps->len, RECS_MAX_DEPTH);
	rc = next(ps, &t);
	if (rc < 0)
		return rc;
	if (t.type != JSCAN_OBJECT) {
		perr(ps, NULL, "must be a JSON object, got %s", jscan_type_name(t.type));
		return 0;
	}
	rc = walk_object(ps, NULL, top_member, NULL);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < ARRAY_SIZE(required); i++) {
		struct jpath fp = {NULL, NULL, required[i].name, 0};

		if (!(ps->seen & required[i].bit))
			perr(ps, &fp, "missing field");
	}
	return 0;
}

/* ---- pass 1 ----------------------------------------------------------- */

enum top_key { K_OTHER, K_RULES, K_ZONES, K_STORES };

static enum top_key classify(const struct jscan_tok *k)
{
	if (is(k, "rules"))
		return K_RULES;
	if (is(k, "zones"))
		return K_ZONES;
	if (is(k, "stores"))
		return K_STORES;
	return K_OTHER;
}

/*
 * Check the syntax and count upper bounds of what pass 2 stores, following
 * only the first occurrence of each top-level key. Returns 0, or -EINVAL
 * after reporting the syntax error.
 */
static int count(struct parser *ps)
{
	struct counts *c = &ps->cnt;
	enum top_key top = K_OTHER, in = K_OTHER;
	unsigned seen = 0;
	bool arr_key = false, arr_open = false; /* an if/then/items array at depth 3 */
	size_t arr_n = 0;
	struct jscan js;
	struct jscan_tok t;
	enum jscan_type type;
	const char *msg;
	size_t off;

	jscan_init(&js, ps->buf, ps->len, RECS_MAX_DEPTH);
	while ((type = jscan_next(&js, &t)) != JSCAN_EOF) {
		bool value =
			type != JSCAN_KEY && type != JSCAN_OBJECT_END && type != JSCAN_ARRAY_END;

		if (type == JSCAN_ERROR) {
			msg = jscan_error(&js, &off);
			if (strcmp(msg, "invalid UTF-8") == 0)
				perr(ps, NULL, "invalid UTF-8 at byte %zu", off);
			else if (strcmp(msg, "nesting too deep") == 0)
				perr(ps, NULL, "nesting deeper than %d levels at byte %zu",
				     RECS_MAX_DEPTH, off);
			else
				perr(ps, NULL, "invalid JSON at byte %zu: %s", off, msg);
			return -EINVAL;
		}
		if (type == JSCAN_STRING || (type == JSCAN_KEY && t.depth == 2))
			c->bytes += t.dlen + 1;
		if (t.depth == 1) {
			if (type == JSCAN_KEY) {
				top = classify(&t);
				if (seen & 1u << top)
					top = K_OTHER;
				seen |= 1u << top;
			} else if (value) {
				if (top == K_ZONES)
					in = type == JSCAN_OBJECT ? top : K_OTHER;
				else
					in = type == JSCAN_ARRAY ? top : K_OTHER;
			}
			continue;
		}
		if (in == K_OTHER)
			continue;
		if (t.depth == 2) {
			if (in == K_RULES && value)
				c->rules++;
			else if (in == K_STORES && value)
				c->stores++;
			else if (in == K_ZONES && type == JSCAN_KEY)
				c->zones++;
			continue;
		}
		if (t.depth == 3) {
			if (type == JSCAN_KEY) {
				arr_key = in == K_RULES ? is(&t, "if") || is(&t, "then")
							: in == K_ZONES && is(&t, "items");
				arr_open = false;
			} else if (value) {
				arr_open = arr_key && type == JSCAN_ARRAY;
				arr_n = 0;
			}
			continue;
		}
		if (t.depth == 4 && arr_open && value) {
			arr_n++;
			if (in == K_RULES && arr_n <= RECS_MAX_SIDE)
				c->ids++;
			else if (in == K_ZONES && arr_n <= RECS_MAX_ZONE_ITEMS)
				c->zitems++;
		}
	}
	return 0;
}

/* ---- the index -------------------------------------------------------- */

/*
 * List each usable rule under its key SKU: idx_start[id]..idx_start[id + 1]
 * in idx_rules. @start has n_skus + 1 zeroed slots, @list n_rules.
 */
static int build_index(struct recs_set *s, uint32_t *start, uint32_t *list)
{
	uint32_t *key;
	size_t n = s->n_skus;

	key = malloc((s->n_rules ? s->n_rules : 1) * sizeof(*key));
	if (!key)
		return -ENOMEM;
	/* How many usable rules have each SKU in their antecedent. */
	for (size_t r = 0; r < s->n_rules; r++) {
		const struct recs_rule *rule = &s->rules[r];

		if (!(rule->lift > 1))
			continue;
		s->n_usable++;
		for (uint32_t k = 0; k < rule->n_ante; k++)
			start[rule->ante[k]]++;
	}
	/* The key: the rarest antecedent SKU (the first of equals). */
	for (size_t r = 0; r < s->n_rules; r++) {
		const struct recs_rule *rule = &s->rules[r];
		uint32_t best = rule->ante[0];

		if (!(rule->lift > 1))
			continue;
		for (uint32_t k = 1; k < rule->n_ante; k++) {
			if (start[rule->ante[k]] < start[best])
				best = rule->ante[k];
		}
		key[r] = best;
	}
	memset(start, 0, (n + 1) * sizeof(*start));
	for (size_t r = 0; r < s->n_rules; r++) {
		if (s->rules[r].lift > 1)
			start[key[r] + 1]++;
	}
	for (size_t i = 0; i < n; i++)
		start[i + 1] += start[i];
	/* Fill in rule order, each bucket from its start (start[] shifts by one). */
	for (size_t r = 0; r < s->n_rules; r++) {
		if (s->rules[r].lift > 1)
			list[start[key[r]]++] = (uint32_t)r;
	}
	/* start[i] is now the end of bucket i, i.e. the start of bucket i + 1. */
	for (size_t i = n; i > 0; i--)
		start[i] = start[i - 1];
	start[0] = 0;
	free(key);
	return 0;
}

/* ---- entry points ----------------------------------------------------- */

void recs_set_free(struct recs_set *s)
{
	if (!s)
		return;
	free(s->mem);
	memset(s, 0, sizeof(*s));
}

static size_t pow2_at_least(size_t n)
{
	size_t p = 16;

	while (p < n)
		p *= 2;
	return p;
}

static size_t align8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

int recs_set_parse(const char *buf, size_t len, struct recs_set *out, struct price_errors *errs)
{
	struct parser ps = {0};
	struct counts *c = &ps.cnt;
	size_t o_rules, o_zones, o_zitems, o_stores, o_skus, o_ids, o_hash, o_start, o_list, o_str,
		total, nhash;
	char *mem;
	int rc;

	if (!out || !errs)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	price_errors_init(errs);
	ps.buf = buf;
	ps.len = len;
	ps.errs = errs;
	ps.s = out;
	if (len > RECS_SET_MAX) {
		perr(&ps, NULL, "payload is %zu bytes, over the %u-byte limit", len, RECS_SET_MAX);
		return -EMSGSIZE;
	}
	if (!buf && len) {
		perr(&ps, NULL, "no payload");
		return -EINVAL;
	}
	rc = count(&ps);
	if (rc < 0)
		return rc;

	/* What the block holds: the capped counts. */
	ps.n_rules_given = c->rules;
	ps.n_zones_given = c->zones;
	if (c->rules > RECS_MAX_RULES)
		c->rules = 0;
	if (c->ids > c->rules * 2 * RECS_MAX_SIDE)
		c->ids = c->rules * 2 * RECS_MAX_SIDE;
	if (c->zones > RECS_MAX_ZONES)
		c->zones = 0;
	if (c->zitems > c->zones * RECS_MAX_ZONE_ITEMS)
		c->zitems = c->zones * RECS_MAX_ZONE_ITEMS;
	ps.n_stores_given = c->stores;
	if (c->stores > PRICE_MAX_STORES)
		c->stores = 0;
	nhash = c->ids ? pow2_at_least(c->ids * 2) : 0;

	o_rules = 0;
	o_zones = o_rules + align8(c->rules * sizeof(struct recs_rule));
	o_zitems = o_zones + align8(c->zones * sizeof(struct recs_zone));
	o_stores = o_zitems + align8(c->zitems * sizeof(struct recs_zone_item));
	o_skus = o_stores + align8(c->stores * sizeof(char *));
	o_ids = o_skus + align8(c->ids * sizeof(char *));
	o_hash = o_ids + align8(c->ids * sizeof(uint32_t));
	o_start = o_hash + align8(nhash * sizeof(uint32_t));
	o_list = o_start + align8((c->ids + 1) * sizeof(uint32_t));
	o_str = o_list + align8(c->rules * sizeof(uint32_t));
	total = o_str + c->bytes + 1;
	mem = calloc(1, total);
	if (!mem)
		goto err_nomem;
	out->mem = mem;
	ps.rules = (struct recs_rule *)(mem + o_rules);
	ps.zones = (struct recs_zone *)(mem + o_zones);
	ps.zitems = (struct recs_zone_item *)(mem + o_zitems);
	ps.stores = (const char **)(mem + o_stores);
	ps.skus = (const char **)(mem + o_skus);
	ps.ids = (uint32_t *)(mem + o_ids);
	ps.hash = (uint32_t *)(mem + o_hash);
	ps.hash_mask = nhash ? nhash - 1 : 0;
	ps.str = mem + o_str;

	rc = walk(&ps);
	if (rc == -ENOMEM)
		goto err_nomem;
	if (rc < 0 || errs->total) {
		bool keep_id = ps.id_ok;
		char id[sizeof(out->id)];

		memcpy(id, out->id, sizeof(id));
		recs_set_free(out);
		if (keep_id)
			memcpy(out->id, id, sizeof(id));
		return -EINVAL;
	}
	out->rules = ps.rules;
	out->zones = ps.zones;
	out->stores = ps.stores;
	out->skus = ps.skus;
	out->hash = nhash ? ps.hash : NULL;
	out->hash_mask = ps.hash_mask;
	if (build_index(out, (uint32_t *)(mem + o_start), (uint32_t *)(mem + o_list)) < 0)
		goto err_nomem;
	out->idx_start = (const uint32_t *)(mem + o_start);
	out->idx_rules = (const uint32_t *)(mem + o_list);
	return 0;

err_nomem:
	recs_set_free(out);
	price_errors_init(errs);
	perr(&ps, NULL, "out of memory");
	return -ENOMEM;
}

const struct recs_zone *recs_zone_find(const struct recs_set *s, const char *name)
{
	if (!s || !name)
		return NULL;
	for (size_t i = 0; i < s->n_zones; i++) {
		if (strcmp(s->zones[i].name, name) == 0)
			return &s->zones[i];
	}
	return NULL;
}

/* ---- selection -------------------------------------------------------- */

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

static bool in_basket(const uint32_t *ids, size_t n, uint32_t id)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (ids[mid] == id)
			return true;
		if (ids[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

/* Does (@score, @sku) rank before pick @p? Score first, then SKU order. */
static bool ranks_before(double score, const char *sku, const struct recs_pick *p)
{
	if (score != p->score)
		return score > p->score;
	return strcmp(sku, p->sku) < 0;
}

struct top {
	struct recs_pick *out;
	size_t n;
	size_t max;
	recs_price_fn lookup;
	void *arg;
};

/* Move out[i] up while it ranks before its predecessor. */
static void bubble_up(struct top *t, size_t i)
{
	struct recs_pick tmp;

	while (i > 0 && ranks_before(t->out[i].score, t->out[i].sku, &t->out[i - 1])) {
		tmp = t->out[i - 1];
		t->out[i - 1] = t->out[i];
		t->out[i] = tmp;
		i--;
	}
}

/*
 * Candidate: consequent @sku (the set's copy: one pointer per SKU) by rule
 * @r with @score. The top list always holds the best distinct SKUs seen so
 * far, each with its best score; its N-th score only rises, so a SKU left
 * out is never needed again at that score.
 */
static void consider(struct top *t, const struct recs_set *s, const char *sku, double score,
		     size_t r)
{
	char name[PRICE_NAME_MAX + 1];
	struct recs_pick *p;
	int64_t price = 0;
	size_t i;

	for (i = 0; i < t->n; i++) {
		p = &t->out[i];
		if (p->sku != sku)
			continue;
		if (score > p->score || (score == p->score && r < p->rule)) {
			p->score = score;
			p->rule = r;
			p->headline = s->rules[r].headline;
			bubble_up(t, i);
		}
		return;
	}
	if (t->n == t->max && !ranks_before(score, sku, &t->out[t->n - 1]))
		return;
	name[0] = '\0';
	if (!t->lookup(t->arg, sku, &price, name, sizeof(name)))
		return;
	if (t->n < t->max)
		t->n++;
	p = &t->out[t->n - 1];
	p->sku = sku;
	p->score = score;
	p->rule = r;
	p->headline = s->rules[r].headline;
	p->price = price;
	name[sizeof(name) - 1] = '\0';
	memcpy(p->name, name, sizeof(name));
	bubble_up(t, t->n - 1);
}

int recs_select(const struct recs_set *s, const char *const *basket, size_t n_basket,
		recs_price_fn lookup, void *arg, size_t top_n, struct recs_pick *out)
{
	uint32_t ids[RECS_MAX_BASKET];
	struct top t = {out, 0, top_n, lookup, arg};
	size_t n = 0, m = 0;

	if (top_n > RECS_MAX_TOP || (n_basket && !basket))
		return -EINVAL;
	if (top_n && (!s || !lookup || !out))
		return -EINVAL;
	if (n_basket > RECS_MAX_BASKET)
		return -E2BIG;
	if (!top_n || !s->idx_start)
		return 0;
	for (size_t i = 0; i < n_basket; i++) {
		long id = recs_sku_id(s, basket[i]);

		if (id >= 0)
			ids[n++] = (uint32_t)id;
	}
	qsort(ids, n, sizeof(ids[0]), cmp_u32);
	for (size_t i = 0; i < n; i++) {
		if (m == 0 || ids[m - 1] != ids[i])
			ids[m++] = ids[i];
	}
	for (size_t b = 0; b < m; b++) {
		for (uint32_t k = s->idx_start[ids[b]]; k < s->idx_start[ids[b] + 1]; k++) {
			size_t r = s->idx_rules[k];
			const struct recs_rule *rule = &s->rules[r];
			double score;
			uint32_t j;

			for (j = 0; j < rule->n_ante; j++) {
				if (rule->ante[j] != ids[b] && !in_basket(ids, m, rule->ante[j]))
					break;
			}
			if (j < rule->n_ante)
				continue;
			score = rule->lift * rule->confidence;
			for (j = 0; j < rule->n_cons; j++) {
				if (!in_basket(ids, m, rule->cons[j]))
					consider(&t, s, s->skus[rule->cons[j]], score, r);
			}
		}
	}
	return (int)t.n;
}
