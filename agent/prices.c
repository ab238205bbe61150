/*
 * prices: the HQ price-batch parser and validator. See prices.h for the
 * rules and the result.
 *
 * Two passes over the payload with the jscan pull scanner, no tree:
 *  1. count: the grammar, UTF-8 and depth are checked (a syntax error is the
 *     only error then), and the sizes of what will be kept are counted: the
 *     items, the SKUs to remove, the stores and the bytes of the strings
 *     stored (each at most its raw length + 1, so the total is bounded by the
 *     payload's length);
 *  2. walk: a recursive descent that validates every value in document order
 *     and stores the result in ONE block allocated from those counts (items,
 *     then the remove and stores pointer arrays, then the strings). SKUs go
 *     into an open-addressing hash set sized from the counts, for the
 *     duplicate checks. Every object's keys go into a small key set (inline
 *     jpath.h) for the duplicate-key rule.
 * The same walkers serve three uses (enum keep): parse keeps everything;
 * validate keeps the header, remove, stores and snapshot, but of the items
 * only their SKUs (for the duplicate check): each item is checked in a
 * scratch struct and its name and unit in a stack buffer; foreach walks a
 * buffer validate accepted and hands each item, decoded into a fixed buffer,
 * to a callback, with no duplicate checks (key or SKU) and no pass 1.
 * JSON paths are stack-allocated chains of segments, formatted only when an
 * error is reported: the valid path does no formatting at all.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "jpath.h"
#include "jscan.h"
#include "prices.h"

#define QUOTE_MAX JPATH_QUOTE_MAX
#define SET_REMOVE 0x80000000u /* SKU set entry: remove[i] rather than items[i] */

enum mode { MODE_BATCH, MODE_SNAPSHOT };

/* What a walk keeps (see the top of the file). */
enum keep {
	KEEP_ALL, /* price_*_parse */
	KEEP_SKUS, /* price_*_validate */
	KEEP_ITEM, /* price_foreach_item: one item at a time, nothing else */
};

/* What pass 1 found: upper bounds for what pass 2 stores. */
struct counts {
	size_t items;
	size_t remove;
	size_t stores;
	size_t bytes;
};

struct parser {
	const char *buf;
	size_t len;
	enum mode mode;
	enum keep keep;
	struct jscan js;
	struct price_errors *errs; /* NULL (KEEP_ITEM): errors only set @bad */
	bool bad;
	struct price_batch *b;
	struct counts cnt;
	char *str; /* the strings part of b->mem (KEEP_ITEM: the walker's item buffer) */
	size_t str_used;
	uint32_t *set; /* SKU hash set: items[i] as i + 1, remove[i] as SET_REMOVE | (i + 1) */
	size_t set_mask;
	uint32_t *sku_off; /* KEEP_SKUS: items[i]'s SKU is at str + sku_off[i] */
	/* Batch-level facts for the checks at the end. */
	unsigned seen; /* SEEN_* */
	bool id_ok;
	bool snapshot_ok;
	bool stores_given;
	bool not_empty; /* an item, a SKU to remove, a snapshot, or a mistyped one of those */
};

enum {
	SEEN_ID = 1 << 0,
	SEEN_ISSUED_AT = 1 << 1,
	SEEN_CURRENCY = 1 << 2,
	SEEN_ITEMS = 1 << 3,
	SEEN_REMOVE = 1 << 4,
	SEEN_SNAPSHOT = 1 << 5,
};

typedef int (*member_fn)(struct parser *ps, const struct jscan_tok *key,
			 const struct jscan_tok *val, const struct jpath *at, void *arg);

/* ---- errors ---------------------------------------------------------- */

/* Cut @s so that it does not end in a partial UTF-8 sequence. */
static void utf8_trim_tail(char *s)
{
	size_t n = strlen(s), j = n, need;
	unsigned char lead;

	while (j > 0 && n - j < 4 && ((unsigned char)s[j - 1] & 0xc0) == 0x80)
		j--;
	if (j == 0)
		return;
	lead = (unsigned char)s[j - 1];
	if (lead < 0xc0)
		return;
	need = lead < 0xe0 ? 2 : lead < 0xf0 ? 3 : 4;
	if (n - (j - 1) < need)
		s[j - 1] = '\0';
}

void price_errors_init(struct price_errors *e)
{
	e->n = 0;
	e->total = 0;
}

void price_errors_addv(struct price_errors *e, const char *at, const char *fmt, va_list ap)
{
	struct price_error *pe;

	e->total++;
	if (e->n >= PRICE_MAX_ERRORS)
		return;
	pe = &e->e[e->n++];
	str_copy(pe->at, sizeof(pe->at), at);
	utf8_trim_tail(pe->at);
	vsnprintf(pe->error, sizeof(pe->error), fmt, ap);
	utf8_trim_tail(pe->error);
}

void price_errors_add(struct price_errors *e, const char *at, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	price_errors_addv(e, at, fmt, ap);
	va_end(ap);
}

int price_errors_json(const struct price_errors *e, struct dynbuf *d)
{
	size_t start = d->len;
	int rc;

	rc = dynbuf_add(d, "[", 1);
	for (size_t i = 0; rc == 0 && i < e->n; i++) {
		rc = dynbuf_adds(d, i ? ",{\"at\":" : "{\"at\":");
		if (rc == 0)
			rc = dynbuf_add_json_str(d, e->e[i].at);
		if (rc == 0)
			rc = dynbuf_adds(d, ",\"error\":");
		if (rc == 0)
			rc = dynbuf_add_json_str(d, e->e[i].error);
		if (rc == 0)
			rc = dynbuf_add(d, "}", 1);
	}
	if (rc == 0 && e->total > e->n)
		rc = dynbuf_addf(d, "%s{\"at\":\"\",\"error\":\"and %zu more error%s\"}",
				 e->n ? "," : "", e->total - e->n, e->total - e->n == 1 ? "" : "s");
	if (rc == 0)
		rc = dynbuf_add(d, "]", 1);
	if (rc < 0) {
		d->len = start;
		if (d->buf)
			d->buf[start] = '\0';
	}
	return rc;
}

static void perr(struct parser *ps, const struct jpath *at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Report an error at @at (NULL: the payload). The path is formatted only if listed. */
static void perr(struct parser *ps, const struct jpath *at, const char *fmt, ...)
{
	char where[256] = "";
	va_list ap;

	if (!ps->errs) {
		ps->bad = true;
		return;
	}
	if (ps->errs->n < PRICE_MAX_ERRORS)
		jpath_format(at, where, sizeof(where));
	va_start(ap, fmt);
	price_errors_addv(ps->errs, where, fmt, ap);
	va_end(ap);
}

/* ---- walking ---------------------------------------------------------- */

/* Pass 2 met what pass 1 accepted as valid, or more than it counted: a bug. */
static int internal_error(struct parser *ps)
{
	perr(ps, NULL, "internal error in the price parser");
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

/*
 * Walk the object that @v opens: every member goes to @fn (which consumes
 * its value) except a repeated key, which is an error and is skipped.
 */
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
		/* KEEP_ITEM walks a validated buffer: no duplicates, no key set to allocate. */
		dup = ps->keep == KEEP_ITEM ? 0 : jkeys_add(&ks, &key);
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

	if (ps->keep == KEEP_ITEM)
		return skip(ps, v);
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

/* ---- values ----------------------------------------------------------- */

/* Is string/key @t the name @s? */
static bool is(const struct jscan_tok *t, const char *s)
{
	size_t n = strlen(s);

	return t->dlen == n && jscan_str_eq(t, s, n);
}

/* Store the decoded string @v in the strings area; NULL (an internal error) if it does not fit. */
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

/* Give back the last string stored (it was not valid). */
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

bool price_sku_valid(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n < 1 || n > PRICE_SKU_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!sku_char((unsigned char)s[i]))
			return false;
	}
	return true;
}

static bool store_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-';
}

/*
 * A SKU or store id: string of 1..@max bytes of @ok characters. Returns the
 * stored copy, or NULL after reporting (or on an internal error: ps->errs).
 */
static const char *get_ident(struct parser *ps, const struct jscan_tok *v, const struct jpath *at,
			     size_t max, bool (*ok)(unsigned char), const char *charset)
{
	char q[QUOTE_MAX + 4];
	char *s;

	if (wrong_type(ps, v, JSCAN_STRING, at))
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

static uint32_t sku_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

static const char *set_sku(const struct parser *ps, uint32_t e)
{
	if (e & SET_REMOVE)
		return ps->b->remove[(e & ~SET_REMOVE) - 1];
	if (ps->sku_off)
		return ps->str + ps->sku_off[e - 1];
	return ps->b->items[e - 1].sku;
}

/* Add @sku as entry @e; returns 0, or the entry already holding that SKU. */
static uint32_t set_add(struct parser *ps, const char *sku, uint32_t e)
{
	size_t i = sku_hash(sku) & ps->set_mask;

	for (; ps->set[i]; i = (i + 1) & ps->set_mask) {
		if (strcmp(set_sku(ps, ps->set[i]), sku) == 0)
			return ps->set[i];
	}
	ps->set[i] = e;
	return 0;
}

/* Report @sku (at @at) if it is already in the batch; else record it as entry @e. */
static void check_dup_sku(struct parser *ps, const char *sku, uint32_t e, const struct jpath *at)
{
	uint32_t old = set_add(ps, sku, e);
	size_t idx;

	if (!old)
		return;
	idx = (old & ~SET_REMOVE) - 1;
	if ((old & SET_REMOVE) == (e & SET_REMOVE))
		perr(ps, at, "duplicate sku %s, also at %s[%zu]", sku,
		     old & SET_REMOVE ? "remove" : "items", idx);
	else
		perr(ps, at, "sku %s is also in %s[%zu]", sku,
		     old & SET_REMOVE ? "remove" : "items", idx);
}

/* Money: a JSON integer 0..PRICE_MONEY_MAX. */
static bool get_money(struct parser *ps, const struct jscan_tok *v, const struct jpath *at,
		      int64_t *out)
{
	char q[QUOTE_MAX + 4];
	int64_t x = 0;
	int rc;

	if (v->type != JSCAN_NUMBER) {
		perr(ps, at, "must be an integer number of minor units, got %s",
		     jscan_type_name(v->type));
		return false;
	}
	if (v->flags & (JSCAN_F_FRAC | JSCAN_F_EXP)) {
		perr(ps, at, "must be an integer number of minor units, got %s",
		     jpath_quote_num(q, v));
		return false;
	}
	rc = jscan_int64(v, &x);
	if (x < 0 || (rc < 0 && (v->flags & JSCAN_F_NEG))) {
		perr(ps, at, "must not be negative, got %s", jpath_quote_num(q, v));
		return false;
	}
	if (rc < 0 || x > PRICE_MONEY_MAX) {
		perr(ps, at, "is above the maximum of %lld minor units, got %s", PRICE_MONEY_MAX,
		     jpath_quote_num(q, v));
		return false;
	}
	*out = x;
	return true;
}

/* An RFC 3339 timestamp string. */
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
 * An optional text (name, unit): at most @max (<= PRICE_NAME_MAX) bytes, no
 * control characters. Returns true when valid, with the stored copy in *@out
 * (left alone under KEEP_SKUS, which checks it in a stack buffer).
 */
static bool get_text(struct parser *ps, const struct jscan_tok *v, const struct jpath *at,
		     size_t max, const char **out)
{
	char tmp[PRICE_NAME_MAX + 1];
	bool keep = ps->keep != KEEP_SKUS;
	char *s = tmp;

	if (wrong_type(ps, v, JSCAN_STRING, at))
		return false;
	if (v->dlen > max || v->dlen > PRICE_NAME_MAX) {
		perr(ps, at, "is %zu bytes, over the %zu-byte limit", v->dlen, max);
		return false;
	}
	if (keep) {
		s = str_store(ps, v);
		if (!s)
			return false;
	} else {
		jscan_str_decode(v, tmp, sizeof(tmp));
	}
	if (text_has_control(s, v->dlen)) {
		perr(ps, at, "must not contain control characters");
		if (keep)
			str_unstore(ps, s);
		return false;
	}
	if (keep)
		*out = s;
	return true;
}

/* ---- items ------------------------------------------------------------ */

enum {
	I_SKU = 1 << 0,
	I_PRICE = 1 << 1,
	I_REGULAR = 1 << 2,
	I_NAME = 1 << 3,
	I_UNIT = 1 << 4,
	I_PROMO = 1 << 5,
};

struct item_ctx {
	struct price_item *it;
	size_t idx;
	unsigned seen; /* I_*: present (not null), valid or not */
	unsigned ok; /* I_*: valid */
};

static int item_member(struct parser *ps, const struct jscan_tok *key, const struct jscan_tok *v,
		       const struct jpath *at, void *arg)
{
	struct item_ctx *ic = arg;
	struct price_item *it = ic->it;
	unsigned f;

	switch (key->dlen) {
	case 3:
		f = is(key, "sku") ? I_SKU : 0;
		break;
	case 4:
		f = is(key, "name") ? I_NAME : is(key, "unit") ? I_UNIT : 0;
		break;
	case 5:
		f = is(key, "price") ? I_PRICE : 0;
		break;
	case 7:
		f = is(key, "regular") ? I_REGULAR : 0;
		break;
	case 11:
		f = is(key, "promo_until") ? I_PROMO : 0;
		break;
	default:
		f = 0;
		break;
	}
	if (!f)
		return walk_unknown(ps, v, at);
	if (v->type == JSCAN_NULL && f != I_SKU && f != I_PRICE)
		return 0; /* an optional field given as null: absent */
	ic->seen |= f;
	switch (f) {
	case I_SKU:
		it->sku = get_ident(ps, v, at, PRICE_SKU_MAX, sku_char, "A-Z a-z 0-9 . _ -");
		if (!it->sku)
			break;
		ic->ok |= f;
		if (ps->keep == KEEP_ITEM)
			break;
		if (ps->keep == KEEP_SKUS)
			ps->sku_off[ic->idx] = (uint32_t)(it->sku - ps->str);
		check_dup_sku(ps, it->sku, (uint32_t)ic->idx + 1, at);
		break;
	case I_PRICE:
		if (get_money(ps, v, at, &it->price))
			ic->ok |= f;
		break;
	case I_REGULAR:
		if (get_money(ps, v, at, &it->regular))
			ic->ok |= f;
		break;
	case I_NAME:
		get_text(ps, v, at, PRICE_NAME_MAX, &it->name);
		break;
	case I_UNIT:
		get_text(ps, v, at, PRICE_UNIT_MAX, &it->unit);
		break;
	case I_PROMO:
		get_ts(ps, v, at, &it->promo_until_ms);
		break;
	}
	return skip(ps, v); /* a mistyped object or array */
}

/* Item @idx, which @v opens, into *@it. */
static int walk_item(struct parser *ps, const struct jscan_tok *v, struct price_item *it,
		     size_t idx, const struct jpath *at)
{
	struct item_ctx ic = {it, idx, 0, 0};
	int rc;

	it->sku = NULL;
	it->price = 0;
	it->regular = -1;
	it->name = NULL;
	it->unit = NULL;
	it->promo_until_ms = 0;
	if (wrong_type(ps, v, JSCAN_OBJECT, at))
		return skip(ps, v);
	rc = walk_object(ps, at, item_member, &ic);
	if (rc < 0)
		return rc;
	if (!(ic.seen & I_SKU)) {
		struct jpath fp = {at, NULL, "sku", 0};

		perr(ps, &fp, "missing field");
	}
	if (!(ic.seen & I_PRICE)) {
		struct jpath fp = {at, NULL, "price", 0};

		perr(ps, &fp, "missing field");
	}
	if ((ic.ok & (I_PRICE | I_REGULAR)) == (I_PRICE | I_REGULAR) && it->regular < it->price) {
		struct jpath fp = {at, NULL, "regular", 0};

		perr(ps, &fp, "regular price %lld is below the price %lld", (long long)it->regular,
		     (long long)it->price);
	}
	return 0;
}

static int walk_items(struct parser *ps, const struct jscan_tok *v, const struct jpath *at)
{
	struct price_item scratch; /* KEEP_SKUS: each item, checked then dropped */
	struct jscan_tok t;
	size_t i = 0;
	int rc;

	if (v->type == JSCAN_NULL)
		return 0;
	if (wrong_type(ps, v, JSCAN_ARRAY, at)) {
		ps->not_empty = true; /* no "empty batch" on top of the type error */
		return skip(ps, v);
	}
	if (ps->cnt.items > PRICE_MAX_ITEMS) {
		ps->not_empty = true;
		perr(ps, at, "too many items: %zu > %d", ps->cnt.items, PRICE_MAX_ITEMS);
		return skip(ps, v);
	}
	for (;;) {
		struct jpath ip = {at, NULL, NULL, i};

		rc = next(ps, &t);
		if (rc < 0 || t.type == JSCAN_ARRAY_END)
			break;
		if (i >= ps->cnt.items)
			return internal_error(ps);
		rc = walk_item(ps, &t, ps->keep == KEEP_ALL ? &ps->b->items[i] : &scratch, i, &ip);
		if (rc < 0)
			break;
		i++;
	}
	ps->b->n_items = i;
	if (i)
		ps->not_empty = true;
	return rc;
}

/* ---- remove, stores --------------------------------------------------- */

static int walk_remove(struct parser *ps, const struct jscan_tok *v, const struct jpath *at)
{
	struct jscan_tok t;
	size_t i = 0;
	int rc;

	if (v->type == JSCAN_NULL)
		return 0;
	if (wrong_type(ps, v, JSCAN_ARRAY, at)) {
		ps->not_empty = true;
		return skip(ps, v);
	}
	if (ps->cnt.remove > PRICE_MAX_ITEMS) {
		ps->not_empty = true;
		perr(ps, at, "too many skus to remove: %zu > %d", ps->cnt.remove, PRICE_MAX_ITEMS);
		return skip(ps, v);
	}
	for (;;) {
		struct jpath ip = {at, NULL, NULL, i};
		const char *sku;

		rc = next(ps, &t);
		if (rc < 0 || t.type == JSCAN_ARRAY_END)
			break;
		if (i >= ps->cnt.remove)
			return internal_error(ps);
		sku = get_ident(ps, &t, &ip, PRICE_SKU_MAX, sku_char, "A-Z a-z 0-9 . _ -");
		ps->b->remove[i] = sku;
		if (sku)
			check_dup_sku(ps, sku, SET_REMOVE | (uint32_t)(i + 1), &ip);
		rc = skip(ps, &t);
		if (rc < 0)
			break;
		i++;
	}
	ps->b->n_remove = i;
	if (i)
		ps->not_empty = true;
	return rc;
}

static int walk_stores(struct parser *ps, const struct jscan_tok *v, const struct jpath *at)
{
	struct jscan_tok t;
	size_t i = 0;
	int rc;

	if (v->type == JSCAN_NULL || wrong_type(ps, v, JSCAN_ARRAY, at))
		return skip(ps, v);
	ps->stores_given = true;
	if (ps->cnt.stores > PRICE_MAX_STORES) {
		perr(ps, at, "too many stores: %zu > %d", ps->cnt.stores, PRICE_MAX_STORES);
		return skip(ps, v);
	}
	for (;;) {
		struct jpath ip = {at, NULL, NULL, i};
		const char *id;

		rc = next(ps, &t);
		if (rc < 0 || t.type == JSCAN_ARRAY_END)
			break;
		if (i >= ps->cnt.stores)
			return internal_error(ps);
		id = get_ident(ps, &t, &ip, 64, store_char, "A-Z a-z 0-9 _ -");
		if (id && strcmp(id, "fleet") == 0) {
			perr(ps, &ip, "must not be \"fleet\" (a reserved name)");
			str_unstore(ps, id);
			id = NULL;
		}
		ps->b->stores[i] = id;
		rc = skip(ps, &t);
		if (rc < 0)
			break;
		i++;
	}
	ps->b->n_stores = i;
	if (rc == 0 && i == 0)
		perr(ps, at, "must not be empty (leave it out to address every store)");
	return rc;
}

/* ---- snapshot --------------------------------------------------------- */

enum {
	S_URL = 1 << 0,
	S_SHA = 1 << 1,
	S_SIZE = 1 << 2,
};

struct snap_ctx {
	unsigned seen;
	unsigned ok;
};

static bool is_hex(unsigned char c)
{
	return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
}

static bool get_url(struct parser *ps, const struct jscan_tok *v, const struct jpath *at)
{
	char q[QUOTE_MAX + 4];
	const char *host;
	char *s;

	if (wrong_type(ps, v, JSCAN_STRING, at))
		return false;
	if (v->dlen > PRICE_URL_MAX) {
		perr(ps, at, "is %zu bytes, over the %d-byte limit", v->dlen, PRICE_URL_MAX);
		return false;
	}
	s = str_store(ps, v);
	if (!s)
		return false;
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
	ps->b->snapshot_url = s;
	return true;

err_unstore:
	str_unstore(ps, s);
	return false;
}

static int snap_member(struct parser *ps, const struct jscan_tok *key, const struct jscan_tok *v,
		       const struct jpath *at, void *arg)
{
	struct snap_ctx *sc = arg;
	struct price_batch *b = ps->b;
	char q[QUOTE_MAX + 4];
	int64_t x;

	if (is(key, "url")) {
		sc->seen |= S_URL;
		if (get_url(ps, v, at))
			sc->ok |= S_URL;
	} else if (is(key, "sha256")) {
		sc->seen |= S_SHA;
		if (wrong_type(ps, v, JSCAN_STRING, at))
			return skip(ps, v);
		if (v->dlen == 64) {
			char *h = b->snapshot_sha256;
			size_t i;

			jscan_str_decode(v, h, sizeof(b->snapshot_sha256));
			for (i = 0; i < 64 && is_hex((unsigned char)h[i]); i++) {
				if (h[i] >= 'A' && h[i] <= 'F')
					h[i] = (char)(h[i] | 0x20);
			}
			if (i == 64) {
				sc->ok |= S_SHA;
				return 0;
			}
		}
		b->snapshot_sha256[0] = '\0';
		perr(ps, at, "must be 64 hex digits (a SHA-256), got \"%s\"", jpath_quote(q, v));
	} else if (is(key, "size")) {
		sc->seen |= S_SIZE;
		if (wrong_type(ps, v, JSCAN_NUMBER, at))
			return skip(ps, v);
		if (v->flags & (JSCAN_F_FRAC | JSCAN_F_EXP)) {
			perr(ps, at, "must be an integer, got %s", jpath_quote_num(q, v));
		} else if (jscan_int64(v, &x) < 0 || x < 1 || x > PRICE_SNAPSHOT_MAX) {
			perr(ps, at, "must be 1..%u bytes, got %s", PRICE_SNAPSHOT_MAX,
			     jpath_quote_num(q, v));
		} else {
			b->snapshot_size = x;
			sc->ok |= S_SIZE;
		}
		return 0;
	} else {
		return walk_unknown(ps, v, at);
	}
	return skip(ps, v);
}

static int walk_snapshot(struct parser *ps, const struct jscan_tok *v, const struct jpath *at)
{
	static const char *const names[] = {"url", "sha256", "size"};
	struct snap_ctx sc = {0, 0};
	int rc;

	if (v->type == JSCAN_NULL)
		return 0;
	ps->not_empty = true;
	ps->seen |= SEEN_SNAPSHOT;
	if (wrong_type(ps, v, JSCAN_OBJECT, at))
		return skip(ps, v);
	rc = walk_object(ps, at, snap_member, &sc);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		struct jpath fp = {at, NULL, names[i], 0};

		if (!(sc.seen & 1u << i))
			perr(ps, &fp, "missing field");
	}
	ps->snapshot_ok = sc.ok == (S_URL | S_SHA | S_SIZE);
	return 0;
}

/* ---- the batch -------------------------------------------------------- */

static bool is_upper3(const char *s)
{
	for (int i = 0; i < 3; i++) {
		if (s[i] < 'A' || s[i] > 'Z')
			return false;
	}
	return true;
}

static int top_member(struct parser *ps, const struct jscan_tok *key, const struct jscan_tok *v,
		      const struct jpath *at, void *arg)
{
	struct price_batch *b = ps->b;
	char q[QUOTE_MAX + 4];

	if (is(key, "items")) {
		if (v->type != JSCAN_NULL)
			ps->seen |= SEEN_ITEMS;
		return walk_items(ps, v, at);
	}
	if (ps->mode == MODE_SNAPSHOT)
		return walk_unknown(ps, v, at);
	if (is(key, "id")) {
		ps->seen |= SEEN_ID;
		if (wrong_type(ps, v, JSCAN_STRING, at))
			return skip(ps, v);
		if (v->dlen == 0) {
			perr(ps, at, "must not be empty");
		} else if (v->dlen > PRICE_ID_MAX) {
			perr(ps, at, "is %zu bytes, over the %d-byte limit", v->dlen, PRICE_ID_MAX);
		} else {
			jscan_str_decode(v, b->id, sizeof(b->id));
			for (size_t i = 0; i < v->dlen; i++) {
				unsigned char c = (unsigned char)b->id[i];

				if (c < 0x20 || c > 0x7e) {
					perr(ps, at, "must be printable ASCII, got \"%s\"",
					     jpath_quote(q, v));
					b->id[0] = '\0';
					return 0;
				}
			}
			ps->id_ok = true;
		}
		return 0;
	}
	if (is(key, "issued_at")) {
		ps->seen |= SEEN_ISSUED_AT;
		get_ts(ps, v, at, &b->issued_at_ms);
		return skip(ps, v);
	}
	if (is(key, "currency")) {
		ps->seen |= SEEN_CURRENCY;
		if (wrong_type(ps, v, JSCAN_STRING, at))
			return skip(ps, v);
		if (v->dlen == 3) {
			jscan_str_decode(v, b->currency, sizeof(b->currency));
			if (is_upper3(b->currency))
				return 0;
			b->currency[0] = '\0';
		}
		perr(ps, at, "must be 3 uppercase letters (ISO 4217), got \"%s\"",
		     jpath_quote(q, v));
		return 0;
	}
	if (is(key, "effective_at")) {
		if (v->type != JSCAN_NULL)
			get_ts(ps, v, at, &b->effective_at_ms);
		return skip(ps, v);
	}
	if (is(key, "remove")) {
		if (v->type != JSCAN_NULL)
			ps->seen |= SEEN_REMOVE;
		return walk_remove(ps, v, at);
	}
	if (is(key, "stores"))
		return walk_stores(ps, v, at);
	if (is(key, "snapshot"))
		return walk_snapshot(ps, v, at);
	return walk_unknown(ps, v, at);
}

/* Pass 2, then the checks that need the whole batch. */
static int walk(struct parser *ps)
{
	static const struct {
		unsigned bit;
		const char *name;
	} required[] = {
		{SEEN_ID, "id"},
		{SEEN_ISSUED_AT, "issued_at"},
		{SEEN_CURRENCY, "currency"},
	};
	struct jscan_tok t;
	int rc;

	jscan_init(&ps->js, ps->buf, ps->len, PRICE_MAX_DEPTH);
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
	if (ps->mode == MODE_SNAPSHOT) {
		if (!(ps->seen & SEEN_ITEMS)) {
			struct jpath fp = {NULL, NULL, "items", 0};

			perr(ps, &fp, "missing field");
		}
		return 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(required); i++) {
		struct jpath fp = {NULL, NULL, required[i].name, 0};

		if (!(ps->seen & required[i].bit))
			perr(ps, &fp, "missing field");
	}
	if (ps->seen & SEEN_SNAPSHOT) {
		if (ps->seen & SEEN_ITEMS) {
			struct jpath fp = {NULL, NULL, "items", 0};

			perr(ps, &fp, "must not be given in a batch with a snapshot");
		}
		if (ps->seen & SEEN_REMOVE) {
			struct jpath fp = {NULL, NULL, "remove", 0};

			perr(ps, &fp, "must not be given in a batch with a snapshot");
		}
	}
	if (!ps->not_empty)
		perr(ps, NULL, "empty batch: no items, no skus to remove and no snapshot");
	return 0;
}

/* ---- pass 1 ----------------------------------------------------------- */

enum top_key { K_OTHER, K_ITEMS, K_REMOVE, K_STORES, K_SNAPSHOT };

static enum top_key classify(const struct jscan_tok *k, enum mode mode)
{
	if (is(k, "items"))
		return K_ITEMS;
	if (mode == MODE_SNAPSHOT)
		return K_OTHER;
	if (is(k, "remove"))
		return K_REMOVE;
	if (is(k, "stores"))
		return K_STORES;
	if (is(k, "snapshot"))
		return K_SNAPSHOT;
	return K_OTHER;
}

/*
 * Check the syntax and count what pass 2 may store, following only the
 * first occurrence of each top-level key (pass 2 ignores later ones).
 * Returns 0, or -EINVAL after reporting the syntax error.
 */
static int count(struct parser *ps)
{
	struct counts *c = &ps->cnt;
	enum top_key top = K_OTHER, in = K_OTHER;
	unsigned seen = 0;
	bool keep = false; /* the next string at this level is stored */
	struct jscan js;
	struct jscan_tok t;
	enum jscan_type type;
	const char *msg;
	size_t off;

	jscan_init(&js, ps->buf, ps->len, PRICE_MAX_DEPTH);
	while ((type = jscan_next(&js, &t)) != JSCAN_EOF) {
		bool value =
			type != JSCAN_KEY && type != JSCAN_OBJECT_END && type != JSCAN_ARRAY_END;

		if (type == JSCAN_ERROR) {
			msg = jscan_error(&js, &off);
			if (strcmp(msg, "invalid UTF-8") == 0)
				perr(ps, NULL, "invalid UTF-8 at byte %zu", off);
			else if (strcmp(msg, "nesting too deep") == 0)
				perr(ps, NULL, "nesting deeper than %d levels at byte %zu",
				     PRICE_MAX_DEPTH, off);
			else
				perr(ps, NULL, "invalid JSON at byte %zu: %s", off, msg);
			return -EINVAL;
		}
		if (t.depth == 1) {
			if (type == JSCAN_KEY) {
				top = classify(&t, ps->mode);
				if (seen & 1u << top)
					top = K_OTHER;
				seen |= 1u << top;
			} else if (value) {
				/* Follow the member only if its value has the right type. */
				if (top == K_SNAPSHOT)
					in = type == JSCAN_OBJECT ? top : K_OTHER;
				else
					in = type == JSCAN_ARRAY ? top : K_OTHER;
			}
			continue;
		}
		if (t.depth == 2 && in != K_OTHER) {
			if (in == K_SNAPSHOT) {
				if (type == JSCAN_KEY)
					keep = is(&t, "url");
				else if (type == JSCAN_STRING && keep)
					c->bytes += t.dlen + 1;
				continue;
			}
			if (!value)
				continue;
			if (in == K_ITEMS) {
				c->items++;
				continue;
			}
			if (in == K_REMOVE)
				c->remove++;
			else
				c->stores++;
			if (type == JSCAN_STRING)
				c->bytes += t.dlen + 1;
			continue;
		}
		if (t.depth == 3 && in == K_ITEMS) {
			if (type == JSCAN_KEY)
				keep = is(&t, "sku") ||
				       (ps->keep == KEEP_ALL && (is(&t, "name") || is(&t, "unit")));
			else if (type == JSCAN_STRING && keep)
				c->bytes += t.dlen + 1;
		}
	}
	return 0;
}

/* ---- entry points ----------------------------------------------------- */

void price_batch_free(struct price_batch *b)
{
	if (!b)
		return;
	free(b->mem);
	memset(b, 0, sizeof(*b));
}

/* Empty @b after a failed parse, keeping the id when it was valid. */
static void discard(struct price_batch *b, bool keep_id)
{
	char id[sizeof(b->id)];

	memcpy(id, b->id, sizeof(id));
	price_batch_free(b);
	if (keep_id)
		memcpy(b->id, id, sizeof(id));
}

static size_t pow2_at_least(size_t n)
{
	size_t p = 16;

	while (p < n)
		p *= 2;
	return p;
}

/*
 * price_*_parse (@keep KEEP_ALL) and price_*_validate (KEEP_SKUS): the same
 * walk, only what is stored differs. The block holds, in order: the items
 * (KEEP_ALL) or the offsets of their SKUs (KEEP_SKUS), the remove and stores
 * pointers, then the strings.
 */
static int parse(const char *buf, size_t len, size_t max, enum mode mode, enum keep keep,
		 struct price_batch *out, struct price_errors *errs)
{
	struct parser ps = {0};
	size_t n_items, n_remove, n_stores, total, nset, item_sz;
	char *mem;
	int rc;

	if (!out || !errs)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	price_errors_init(errs);
	ps.buf = buf;
	ps.len = len;
	ps.mode = mode;
	ps.keep = keep;
	ps.errs = errs;
	ps.b = out;
	if (len > max) {
		perr(&ps, NULL, "payload is %zu bytes, over the %zu-byte limit", len, max);
		return -EMSGSIZE;
	}
	if (!buf && len) {
		perr(&ps, NULL, "no payload");
		return -EINVAL;
	}
	rc = count(&ps);
	if (rc < 0)
		return rc;

	/* One block: items, remove pointers, store pointers, strings. */
	n_items = ps.cnt.items <= PRICE_MAX_ITEMS ? ps.cnt.items : 0;
	n_remove = ps.cnt.remove <= PRICE_MAX_ITEMS ? ps.cnt.remove : 0;
	n_stores = ps.cnt.stores <= PRICE_MAX_STORES ? ps.cnt.stores : 0;
	item_sz = keep == KEEP_ALL ? sizeof(*out->items) : sizeof(*ps.sku_off);
	item_sz = (n_items * item_sz + sizeof(char *) - 1) & ~(sizeof(char *) - 1);
	total = item_sz + (n_remove + n_stores) * sizeof(char *) + ps.cnt.bytes + 1;
	mem = malloc(total);
	if (!mem)
		goto err_nomem;
	out->mem = mem;
	if (keep == KEEP_ALL)
		out->items = (struct price_item *)mem;
	else
		ps.sku_off = (uint32_t *)mem;
	out->remove = (const char **)(mem + item_sz);
	out->stores = out->remove + n_remove;
	ps.str = (char *)(out->stores + n_stores);
	nset = n_items + n_remove;
	if (nset) {
		ps.set_mask = pow2_at_least(nset * 2) - 1;
		ps.set = calloc(ps.set_mask + 1, sizeof(*ps.set));
		if (!ps.set)
			goto err_nomem;
	}

	rc = walk(&ps);
	free(ps.set);
	if (rc == -ENOMEM)
		goto err_nomem;
	if (rc < 0 || errs->total) {
		discard(out, ps.id_ok);
		return -EINVAL;
	}
	out->has_stores = ps.stores_given;
	out->has_snapshot = ps.snapshot_ok;
	if (!out->has_snapshot) {
		out->snapshot_url = NULL;
		out->snapshot_sha256[0] = '\0';
		out->snapshot_size = 0;
	}
	return 0;

err_nomem:
	price_batch_free(out);
	price_errors_init(errs);
	perr(&ps, NULL, "out of memory");
	return -ENOMEM;
}

int price_batch_parse(const char *buf, size_t len, struct price_batch *out,
		      struct price_errors *errs)
{
	return parse(buf, len, PRICE_BATCH_MAX, MODE_BATCH, KEEP_ALL, out, errs);
}

int price_snapshot_parse(const char *buf, size_t len, struct price_batch *out,
			 struct price_errors *errs)
{
	return parse(buf, len, PRICE_SNAPSHOT_MAX, MODE_SNAPSHOT, KEEP_ALL, out, errs);
}

int price_batch_validate(const char *buf, size_t len, struct price_batch *out,
			 struct price_errors *errs)
{
	return parse(buf, len, PRICE_BATCH_MAX, MODE_BATCH, KEEP_SKUS, out, errs);
}

int price_snapshot_validate(const char *buf, size_t len, struct price_batch *out,
			    struct price_errors *errs)
{
	return parse(buf, len, PRICE_SNAPSHOT_MAX, MODE_SNAPSHOT, KEEP_SKUS, out, errs);
}

/*
 * The items array just opened: each item decoded by walk_item() (its strings
 * in ps->str, reused item after item), then given to @cb.
 */
static int foreach_items(struct parser *ps, price_item_cb cb, void *arg)
{
	struct price_item it;
	struct jscan_tok t;
	int rc;

	for (size_t i = 0;; i++) {
		struct jpath ip = {NULL, NULL, NULL, i};

		if (next(ps, &t) < 0)
			return -EINVAL;
		if (t.type == JSCAN_ARRAY_END)
			return 0;
		if (i >= PRICE_MAX_ITEMS)
			return -EINVAL;
		ps->str_used = 0;
		rc = walk_item(ps, &t, &it, i, &ip);
		if (rc < 0 || ps->bad || !it.sku)
			return -EINVAL;
		rc = cb(arg, &it);
		if (rc)
			return rc;
	}
}

int price_foreach_item(const char *buf, size_t len, bool snapshot, price_item_cb cb, void *arg)
{
	/* The longest sku, name and unit of one item, each with its NUL. */
	char str[PRICE_SKU_MAX + PRICE_NAME_MAX + PRICE_UNIT_MAX + 3];
	struct parser ps = {0};
	struct jscan_tok key, v;

	if (!cb || (!buf && len) || len > (snapshot ? PRICE_SNAPSHOT_MAX : PRICE_BATCH_MAX))
		return -EINVAL;
	ps.buf = buf;
	ps.len = len;
	ps.mode = snapshot ? MODE_SNAPSHOT : MODE_BATCH;
	ps.keep = KEEP_ITEM;
	ps.str = str;
	ps.cnt.bytes = sizeof(str);
	jscan_init(&ps.js, buf, len, PRICE_MAX_DEPTH);
	if (next(&ps, &v) < 0 || v.type != JSCAN_OBJECT)
		return -EINVAL;
	/* Up to the items array; what follows it is not read. */
	for (;;) {
		if (next(&ps, &key) < 0)
			return -EINVAL;
		if (key.type == JSCAN_OBJECT_END)
			return 0; /* no items */
		if (key.type != JSCAN_KEY || next(&ps, &v) < 0)
			return -EINVAL;
		if (is(&key, "items") && v.type == JSCAN_ARRAY)
			return foreach_items(&ps, cb, arg);
		if (skip(&ps, &v) < 0)
			return -EINVAL;
	}
}
