/*
 * rules: the local rules engine. See rules.h for the command, the matching
 * and window semantics and the persistence format.
 *
 * Parsing: the payload is small (<= 1 MiB), so the strict jscan pull scanner
 * builds a compact tree first (one node per JSON value, counted in a first
 * pass; duplicate keys are marked while building), then validators walk the
 * tree in document order and store the result in an arena owned by the set.
 * Having the tree lets "then" read its "action" before judging its other
 * keys, whatever their order. The same tree reader restores saved state.
 *
 * Engine: rules are indexed by event type (when-rules and unless-rules per
 * type), so an event only looks at the rules naming its type. Per rule: the
 * open windows (their start times, sorted), the remembered unless-events as
 * merged intervals of window starts they cancel, the last firing.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "jscan.h"
#include "rules.h"

#define QUOTE_MAX 40
#define KEYS_INLINE 16
#define CHUNK_MIN 16384

/* ---- arena ------------------------------------------------------------- */

struct chunk {
	struct chunk *next;
	size_t used, cap;
	max_align_t data[];
};

static void arena_free(struct chunk *c)
{
	while (c) {
		struct chunk *n = c->next;

		free(c);
		c = n;
	}
}

static void *arena_alloc(struct chunk **a, size_t n)
{
	struct chunk *c = *a;
	void *p;

	n = (n + 15) & ~(size_t)15;
	if (!c || c->cap - c->used < n) {
		size_t cap = n > CHUNK_MIN ? n : CHUNK_MIN;

		c = malloc(sizeof(*c) + cap);
		if (!c)
			return NULL;
		c->next = *a;
		c->used = 0;
		c->cap = cap;
		*a = c;
	}
	p = (char *)c->data + c->used;
	c->used += n;
	return p;
}

/* ---- the tree ---------------------------------------------------------- */

struct ctok {
	const char *p;
	uint32_t len, dlen;
	uint8_t type, flags;
};

struct jnode {
	struct ctok key; /* member name (type JSCAN_KEY) when in an object */
	struct ctok v; /* the value; an object/array's begin token */
	uint32_t child, next; /* first child, next sibling; 0: none (node 0 is the root) */
	uint32_t n; /* children */
	bool dup; /* a repeated key of its object */
};

struct tree {
	struct jnode *nd;
	size_t n, cap;
	struct jscan js;
};

static struct jscan_tok jt(const struct ctok *c)
{
	struct jscan_tok t = {
		.type = (enum jscan_type)c->type,
		.flags = c->flags,
		.p = c->p,
		.len = c->len,
		.dlen = c->dlen,
	};

	return t;
}

static struct ctok ct(const struct jscan_tok *t)
{
	struct ctok c = {t->p, (uint32_t)t->len, (uint32_t)t->dlen, (uint8_t)t->type,
			 (uint8_t)t->flags};

	return c;
}

static bool is_value(enum jscan_type t)
{
	return t == JSCAN_OBJECT || t == JSCAN_ARRAY || t == JSCAN_STRING || t == JSCAN_NUMBER ||
	       t == JSCAN_TRUE || t == JSCAN_FALSE || t == JSCAN_NULL;
}

struct hidx {
	uint32_t hash, idx;
};

static int hidx_cmp(const void *a, const void *b)
{
	const struct hidx *x = a, *y = b;

	if (x->hash != y->hash)
		return x->hash < y->hash ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static bool key_eq(const struct jnode *a, const struct jnode *b)
{
	struct jscan_tok x = jt(&a->key), y = jt(&b->key);

	return x.dlen == y.dlen && jscan_tok_eq(&x, &y);
}

/* Mark the repeated keys of object @o (the later ones). */
static int mark_dups(struct tree *t, uint32_t o)
{
	struct jnode *nd = t->nd;
	struct hidx *h;
	size_t n = 0;

	if (nd[o].n <= KEYS_INLINE) {
		for (uint32_t c = nd[o].child; c; c = nd[c].next) {
			for (uint32_t p = nd[o].child; p != c && !nd[c].dup; p = nd[p].next) {
				if (!nd[p].dup && key_eq(&nd[p], &nd[c]))
					nd[c].dup = true;
			}
		}
		return 0;
	}
	h = malloc(nd[o].n * sizeof(*h));
	if (!h)
		return -ENOMEM;
	for (uint32_t c = nd[o].child; c; c = nd[c].next) {
		struct jscan_tok k = jt(&nd[c].key);

		h[n].hash = jscan_str_hash(&k);
		h[n++].idx = c;
	}
	qsort(h, n, sizeof(*h), hidx_cmp);
	for (size_t i = 0; i < n; i++) {
		for (size_t j = i + 1; j < n && h[j].hash == h[i].hash; j++) {
			if (!nd[h[i].idx].dup && !nd[h[j].idx].dup &&
			    key_eq(&nd[h[i].idx], &nd[h[j].idx]))
				nd[h[j].idx].dup = true;
		}
	}
	free(h);
	return 0;
}

/* Add the value @v (and what it contains) to the tree; returns its index or -errno. */
static int64_t build(struct tree *t, const struct jscan_tok *v)
{
	uint32_t idx = (uint32_t)t->n, last = 0;
	struct jscan_tok k, x;
	int64_t c;

	if (t->n >= t->cap)
		return -EINVAL;
	t->n++;
	memset(&t->nd[idx], 0, sizeof(t->nd[idx]));
	t->nd[idx].v = ct(v);
	if (v->type != JSCAN_OBJECT && v->type != JSCAN_ARRAY)
		return idx;
	for (;;) {
		if (jscan_next(&t->js, &k) == JSCAN_ERROR)
			return -EINVAL;
		if (k.type == JSCAN_OBJECT_END || k.type == JSCAN_ARRAY_END)
			break;
		if (k.type == JSCAN_KEY) {
			if (jscan_next(&t->js, &x) == JSCAN_ERROR)
				return -EINVAL;
			c = build(t, &x);
		} else {
			c = build(t, &k);
		}
		if (c < 0)
			return c;
		if (k.type == JSCAN_KEY)
			t->nd[c].key = ct(&k);
		if (last)
			t->nd[last].next = (uint32_t)c;
		else
			t->nd[idx].child = (uint32_t)c;
		last = (uint32_t)c;
		t->nd[idx].n++;
	}
	if (v->type == JSCAN_OBJECT && mark_dups(t, idx) < 0)
		return -ENOMEM;
	return idx;
}

/*
 * Build the tree of @buf. Returns 0, -EINVAL with *@msg / *@off set (syntax
 * error) or -ENOMEM.
 */
static int tree_build(struct tree *t, const char *buf, size_t len, const char **msg, size_t *off)
{
	struct jscan_tok tok;
	size_t n = 0;
	int64_t rc;

	memset(t, 0, sizeof(*t));
	jscan_init(&t->js, buf, len, RULES_MAX_DEPTH);
	for (;;) {
		enum jscan_type ty = jscan_next(&t->js, &tok);

		if (ty == JSCAN_ERROR) {
			*msg = jscan_error(&t->js, off);
			return -EINVAL;
		}
		if (ty == JSCAN_EOF)
			break;
		n += is_value(ty);
	}
	t->nd = calloc(n, sizeof(*t->nd));
	if (!t->nd)
		return -ENOMEM;
	t->cap = n;
	jscan_init(&t->js, buf, len, RULES_MAX_DEPTH);
	jscan_next(&t->js, &tok);
	rc = build(t, &tok);
	if (rc < 0) {
		free(t->nd);
		t->nd = NULL;
		*msg = "internal error";
		*off = 0;
		return rc == -ENOMEM ? -ENOMEM : -EINVAL;
	}
	return 0;
}

static void tree_free(struct tree *t)
{
	free(t->nd);
	t->nd = NULL;
}

/* ---- errors and paths ------------------------------------------------- */

struct path {
	const struct path *up;
	const struct ctok *key;
	const char *name;
	size_t idx;
};

struct parser {
	struct tree t;
	struct price_errors *errs;
	struct chunk *mem;
	bool nomem;
};

static void cat(char *buf, size_t sz, size_t *o, const char *s)
{
	size_t n = strlen(s);

	if (*o + 1 >= sz)
		return;
	if (n > sz - 1 - *o)
		n = sz - 1 - *o;
	memcpy(buf + *o, s, n);
	*o += n;
	buf[*o] = '\0';
}

static void path_fmt(const struct path *p, char *buf, size_t sz, size_t *o)
{
	char seg[72];

	if (!p)
		return;
	path_fmt(p->up, buf, sz, o);
	if (p->key || p->name) {
		if (p->key) {
			struct jscan_tok k = jt(p->key);

			jscan_str_decode(&k, seg, sizeof(seg));
			for (char *c = seg; *c; c++) {
				if ((unsigned char)*c < 0x20 || *c == 0x7f)
					*c = '?';
			}
		} else {
			str_copy(seg, sizeof(seg), p->name);
		}
		if (p->up)
			cat(buf, sz, o, ".");
		cat(buf, sz, o, seg);
	} else {
		snprintf(seg, sizeof(seg), "[%zu]", p->idx);
		cat(buf, sz, o, seg);
	}
}

static void perr(struct parser *ps, const struct path *at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void perr(struct parser *ps, const struct path *at, const char *fmt, ...)
{
	char where[256] = "";
	size_t o = 0;
	va_list ap;

	if (ps->errs->n < PRICE_MAX_ERRORS)
		path_fmt(at, where, sizeof(where), &o);
	va_start(ap, fmt);
	price_errors_addv(ps->errs, where, fmt, ap);
	va_end(ap);
}

static const char *quote(char buf[QUOTE_MAX + 4], const struct jnode *n)
{
	struct jscan_tok t = jt(&n->v);
	size_t len;

	if (t.type == JSCAN_NUMBER) {
		len = t.len > QUOTE_MAX ? QUOTE_MAX : t.len;
		memcpy(buf, t.p, len);
		buf[len] = '\0';
		if (t.len > QUOTE_MAX)
			memcpy(buf + len, "...", 4);
		return buf;
	}
	if (jscan_str_decode(&t, buf, QUOTE_MAX + 1) > QUOTE_MAX)
		memcpy(buf + strlen(buf), "...", 4);
	for (char *c = buf; *c; c++) {
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
	}
	return buf;
}

static const char *tname(const struct jnode *n)
{
	return jscan_type_name((enum jscan_type)n->v.type);
}

/* ---- tree access ------------------------------------------------------ */

#define ND(ps, i) (&(ps)->t.nd[i])
#define FOR_CHILD(ps, o, c) for (uint32_t c = ND(ps, o)->child; c; c = ND(ps, c)->next)

static bool key_is(const struct jnode *n, const char *s)
{
	struct jscan_tok k = jt(&n->key);
	size_t len = strlen(s);

	return k.dlen == len && jscan_str_eq(&k, s, len);
}

/* The first (non-repeated) member @name of object @o, 0 if none. */
static uint32_t get(const struct parser *ps, uint32_t o, const char *name)
{
	FOR_CHILD(ps, o, c)
	{
		if (!ND(ps, c)->dup && key_is(ND(ps, c), name))
			return c;
	}
	return 0;
}

static bool is_type(const struct jnode *n, enum jscan_type t)
{
	return n->v.type == t;
}

/* A value nobody asked for: only the duplicate-key rule applies inside it. */
static void scan_dups(struct parser *ps, uint32_t n, const struct path *at)
{
	size_t i = 0;

	if (is_type(ND(ps, n), JSCAN_OBJECT)) {
		FOR_CHILD(ps, n, c)
		{
			struct path kp = {at, &ND(ps, c)->key, NULL, 0};

			if (ND(ps, c)->dup)
				perr(ps, &kp, "duplicate key");
			else
				scan_dups(ps, c, &kp);
		}
	} else if (is_type(ND(ps, n), JSCAN_ARRAY)) {
		FOR_CHILD(ps, n, c)
		{
			struct path ip = {at, NULL, NULL, i++};

			scan_dups(ps, c, &ip);
		}
	}
}

/* Walk object @o's members: repeated keys are reported; @fn gets the others. */
typedef void (*member_fn)(struct parser *ps, uint32_t m, const struct path *at, void *arg);

static void walk_object(struct parser *ps, uint32_t o, const struct path *at, member_fn fn,
			void *arg)
{
	FOR_CHILD(ps, o, c)
	{
		struct path kp = {at, &ND(ps, c)->key, NULL, 0};

		if (ND(ps, c)->dup)
			perr(ps, &kp, "duplicate key");
		else
			fn(ps, c, &kp, arg);
	}
}

static void missing(struct parser *ps, const struct path *at, const char *name)
{
	struct path p = {at, NULL, name, 0};

	perr(ps, &p, "required");
}

static bool wrong_type(struct parser *ps, uint32_t n, enum jscan_type want, const struct path *at)
{
	if (is_type(ND(ps, n), want))
		return false;
	perr(ps, at, "must be %s, got %s", jscan_type_name(want), tname(ND(ps, n)));
	return true;
}

/* ---- values ------------------------------------------------------------ */

/* The decoded string @n in the arena (NULL: out of memory, noted). */
static char *str_dup(struct parser *ps, uint32_t n)
{
	struct jscan_tok t = jt(&ND(ps, n)->v);
	char *s = arena_alloc(&ps->mem, t.dlen + 1);

	if (!s) {
		ps->nomem = true;
		return NULL;
	}
	jscan_str_decode(&t, s, t.dlen + 1);
	return s;
}

static bool c_alnum(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool c_name(unsigned char c)
{
	return c_alnum(c) || c == '_' || c == '.' || c == '-';
}

static bool c_field(unsigned char c)
{
	return c_alnum(c) || c == '_';
}

static bool c_zone(unsigned char c)
{
	return c_alnum(c) || c == '_' || c == '-';
}

static bool c_event(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

static bool c_sku(unsigned char c)
{
	return c_name(c);
}

enum str_kind {
	STR_IDENT, /* 1..max of a character set */
	STR_TEXT, /* 1..max bytes, no control characters */
	STR_ANY, /* 0..max bytes */
};

/*
 * A string at @n: returns the arena copy, or NULL after reporting (or when
 * out of memory). @ok and @charset: STR_IDENT's characters and their name.
 */
static const char *get_str(struct parser *ps, uint32_t n, const struct path *at, enum str_kind kind,
			   size_t max, bool (*ok)(unsigned char), const char *charset)
{
	const struct jnode *v = ND(ps, n);
	char q[QUOTE_MAX + 4];
	char *s;

	if (wrong_type(ps, n, JSCAN_STRING, at))
		return NULL;
	if (v->v.flags & JSCAN_F_NUL) {
		perr(ps, at, "must not contain \\u0000");
		return NULL;
	}
	if (kind != STR_ANY && v->v.dlen == 0) {
		perr(ps, at, "must not be empty");
		return NULL;
	}
	if (v->v.dlen > max) {
		perr(ps, at, "is %u bytes, over the %zu-byte limit", v->v.dlen, max);
		return NULL;
	}
	s = str_dup(ps, n);
	if (!s)
		return NULL;
	if (kind == STR_IDENT) {
		for (size_t i = 0; s[i]; i++) {
			if (!ok((unsigned char)s[i]) || (ok == c_event && i == 0 && s[0] < 'a')) {
				perr(ps, at, "must be %s, got \"%s\"", charset, quote(q, v));
				return NULL;
			}
		}
	} else if (kind == STR_TEXT && text_has_control(s, v->v.dlen)) {
		perr(ps, at, "must not contain control characters");
		return NULL;
	}
	return s;
}

static const char *get_sku(struct parser *ps, uint32_t n, const struct path *at)
{
	return get_str(ps, n, at, STR_IDENT, PRICE_SKU_MAX, c_sku,
		       "a SKU (1..64 characters of [A-Za-z0-9._-])");
}

/* A JSON integer in [min, max]. */
static bool get_int(struct parser *ps, uint32_t n, const struct path *at, int64_t min, int64_t max,
		    int64_t *out)
{
	const struct jnode *v = ND(ps, n);
	struct jscan_tok t = jt(&v->v);
	char q[QUOTE_MAX + 4];
	int64_t x = 0;
	int rc;

	if (!is_type(v, JSCAN_NUMBER)) {
		perr(ps, at, "must be an integer, got %s", tname(v));
		return false;
	}
	rc = jscan_int64(&t, &x);
	if (rc == -EINVAL) {
		perr(ps, at, "must be an integer, got %s", quote(q, v));
		return false;
	}
	if (rc < 0 || x < min || x > max) {
		perr(ps, at, "must be %" PRId64 "..%" PRId64 ", got %s", min, max, quote(q, v));
		return false;
	}
	*out = x;
	return true;
}

static bool get_ts(struct parser *ps, uint32_t n, const struct path *at, int64_t *ms)
{
	const struct jnode *v = ND(ps, n);
	struct jscan_tok t = jt(&v->v);
	char buf[64], q[QUOTE_MAX + 4];

	if (wrong_type(ps, n, JSCAN_STRING, at))
		return false;
	if (t.dlen < sizeof(buf) && !(t.flags & JSCAN_F_NUL)) {
		jscan_str_decode(&t, buf, sizeof(buf));
		if (ts_parse(buf, ms) == 0)
			return true;
	}
	perr(ps, at, "must be an RFC 3339 timestamp, got \"%s\"", quote(q, v));
	return false;
}

/* A duration: "30s", "15m", "24h", "7d"; positive, <= RULES_DURATION_MAX. */
static bool get_duration(struct parser *ps, uint32_t n, const struct path *at, int64_t *ms)
{
	const struct jnode *v = ND(ps, n);
	struct jscan_tok t = jt(&v->v);
	char buf[16], q[QUOTE_MAX + 4];
	int64_t x = 0, unit;
	size_t len, i;

	if (wrong_type(ps, n, JSCAN_STRING, at))
		return false;
	len = t.dlen;
	if (len >= 2 && len <= 10 && !(t.flags & JSCAN_F_NUL)) {
		jscan_str_decode(&t, buf, sizeof(buf));
		for (i = 0; i + 1 < len && buf[i] >= '0' && buf[i] <= '9'; i++)
			x = x * 10 + (buf[i] - '0');
		unit = buf[len - 1] == 's'   ? 1000
		       : buf[len - 1] == 'm' ? 60000
		       : buf[len - 1] == 'h' ? 3600000
		       : buf[len - 1] == 'd' ? 86400000
					     : 0;
		if (i == len - 1 && unit) {
			if (x == 0) {
				perr(ps, at, "must be positive, got \"%s\"", quote(q, v));
				return false;
			}
			if (x > RULES_DURATION_MAX / unit) {
				perr(ps, at, "must be at most 30d, got \"%s\"", quote(q, v));
				return false;
			}
			*ms = x * unit;
			return true;
		}
	}
	perr(ps, at, "must be a duration like \"30s\", \"15m\", \"24h\" or \"7d\", got \"%s\"",
	     quote(q, v));
	return false;
}

/* ---- conditions -------------------------------------------------------- */

static const char *const op_names[] = {
	[RULES_OP_EQ] = "eq", [RULES_OP_NE] = "ne",   [RULES_OP_GT] = "gt", [RULES_OP_GTE] = "gte",
	[RULES_OP_LT] = "lt", [RULES_OP_LTE] = "lte", [RULES_OP_IN] = "in",
};

const char *rules_op_name(enum rules_op op)
{
	return (unsigned)op < ARRAY_SIZE(op_names) ? op_names[op] : "?";
}

static const char *const action_names[] = {
	[RULES_ALERT] = "alert",
	[RULES_SCREEN] = "screen",
	[RULES_FLASH] = "flash",
	[RULES_PRICE] = "price",
};

const char *rules_action_name(enum rules_action_kind k)
{
	return (unsigned)k < ARRAY_SIZE(action_names) ? action_names[k] : "?";
}

/* A condition value: a string or an integer (@int_only: an integer). */
static bool get_scalar(struct parser *ps, uint32_t n, const struct path *at, bool int_only,
		       struct rules_value *out)
{
	const struct jnode *v = ND(ps, n);

	out->s = NULL;
	out->i = 0;
	if (is_type(v, JSCAN_NUMBER) || int_only)
		return get_int(ps, n, at, INT64_MIN, INT64_MAX, &out->i);
	if (!is_type(v, JSCAN_STRING)) {
		perr(ps, at, "must be a string or an integer, got %s", tname(v));
		return false;
	}
	out->s = get_str(ps, n, at, STR_ANY, RULES_VALUE_MAX, NULL, NULL);
	return out->s != NULL;
}

static int value_cmp(const void *a, const void *b)
{
	const struct rules_value *x = a, *y = b;

	if (!x->s && !y->s)
		return x->i < y->i ? -1 : x->i > y->i;
	if (!x->s || !y->s)
		return x->s ? 1 : -1;
	return strcmp(x->s, y->s);
}

struct where_ctx {
	struct rules_trigger *trig;
	struct rules_cond *conds; /* room for every possible condition */
};

struct field_ctx {
	struct where_ctx *w;
	const char *field;
};

static void on_operator(struct parser *ps, uint32_t m, const struct path *at, void *arg)
{
	struct field_ctx *fc = arg;
	struct rules_cond c = {.field = fc->field};
	const struct jnode *v = ND(ps, m);
	char q[QUOTE_MAX + 4];
	struct jscan_tok k = jt(&v->key);
	struct rules_value *set;
	size_t i = 0, j;
	bool ok = true;
	size_t o;

	for (o = 0; o < ARRAY_SIZE(op_names); o++) {
		if (key_is(v, op_names[o]))
			break;
	}
	if (o == ARRAY_SIZE(op_names)) {
		if (jscan_str_decode(&k, q, QUOTE_MAX + 1) > QUOTE_MAX)
			memcpy(q + strlen(q), "...", 4);
		for (char *p = q; *p; p++) {
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				*p = '?';
		}
		perr(ps, at, "unknown operator \"%s\" (eq, ne, gt, gte, lt, lte or in)", q);
		return;
	}
	c.op = (enum rules_op)o;
	if (c.op == RULES_OP_EQ || c.op == RULES_OP_NE) {
		ok = get_scalar(ps, m, at, false, &c.v);
	} else if (c.op != RULES_OP_IN) {
		ok = get_scalar(ps, m, at, true, &c.v);
	} else {
		if (wrong_type(ps, m, JSCAN_ARRAY, at))
			return;
		if (v->n < 1 || v->n > RULES_IN_MAX) {
			perr(ps, at, "must hold 1..%d values, got %u", RULES_IN_MAX, v->n);
			return;
		}
		set = arena_alloc(&ps->mem, v->n * sizeof(*set));
		if (!set) {
			ps->nomem = true;
			return;
		}
		FOR_CHILD(ps, m, e)
		{
			struct path ip = {at, NULL, NULL, i};

			if (!get_scalar(ps, e, &ip, false, &set[i]))
				ok = false;
			i++;
		}
		if (ok) {
			qsort(set, i, sizeof(*set), value_cmp);
			for (j = 0, o = 0; j < i; j++) {
				if (o == 0 || value_cmp(&set[o - 1], &set[j]))
					set[o++] = set[j];
			}
			c.set = set;
			c.n_set = o;
		}
	}
	if (ok && !ps->nomem)
		fc->w->conds[fc->w->trig->n_conds++] = c;
}

static void on_field(struct parser *ps, uint32_t m, const struct path *at, void *arg)
{
	struct where_ctx *w = arg;
	const struct jnode *v = ND(ps, m);
	struct jscan_tok k = jt(&v->key);
	struct field_ctx fc = {w, NULL};
	struct rules_cond c;
	char *name;

	if (k.dlen < 1 || k.dlen > RULES_FIELD_MAX || (k.flags & JSCAN_F_NUL)) {
		perr(ps, at, "a field name must be 1..%d characters of [A-Za-z0-9_]",
		     RULES_FIELD_MAX);
		return;
	}
	name = arena_alloc(&ps->mem, k.dlen + 1);
	if (!name) {
		ps->nomem = true;
		return;
	}
	jscan_str_decode(&k, name, k.dlen + 1);
	for (size_t i = 0; name[i]; i++) {
		if (!c_field((unsigned char)name[i])) {
			perr(ps, at, "a field name must be 1..%d characters of [A-Za-z0-9_]",
			     RULES_FIELD_MAX);
			return;
		}
	}
	if (is_type(v, JSCAN_OBJECT)) {
		if (v->n == 0) {
			perr(ps, at, "no operator (eq, ne, gt, gte, lt, lte or in)");
			return;
		}
		fc.field = name;
		walk_object(ps, m, at, on_operator, &fc);
		return;
	}
	if (!is_type(v, JSCAN_STRING) && !is_type(v, JSCAN_NUMBER)) {
		perr(ps, at, "must be a string, an integer or an operator object, got %s",
		     tname(v));
		return;
	}
	memset(&c, 0, sizeof(c));
	c.field = name;
	c.op = RULES_OP_EQ;
	if (get_scalar(ps, m, at, false, &c.v))
		w->conds[w->trig->n_conds++] = c;
}

static void parse_where(struct parser *ps, uint32_t n, const struct path *at,
			struct rules_trigger *trig)
{
	struct where_ctx w = {trig, NULL};
	size_t max = 0;

	if (is_type(ND(ps, n), JSCAN_NULL) || wrong_type(ps, n, JSCAN_OBJECT, at))
		return;
	FOR_CHILD(ps, n, c)
	{
		if (!ND(ps, c)->dup)
			max += is_type(ND(ps, c), JSCAN_OBJECT) && ND(ps, c)->n ? ND(ps, c)->n : 1;
	}
	if (max > RULES_MAX_CONDS) {
		perr(ps, at, "too many conditions: %zu > %d", max, RULES_MAX_CONDS);
		return;
	}
	if (max == 0) {
		scan_dups(ps, n, at);
		return;
	}
	w.conds = arena_alloc(&ps->mem, max * sizeof(*w.conds));
	if (!w.conds) {
		ps->nomem = true;
		return;
	}
	trig->conds = w.conds;
	walk_object(ps, n, at, on_field, &w);
}

struct trig_ctx {
	struct rules_trigger *trig;
	int64_t *within; /* NULL: a "when" */
	bool has_event, has_within;
};

static void on_trigger(struct parser *ps, uint32_t m, const struct path *at, void *arg)
{
	struct trig_ctx *tc = arg;
	const struct jnode *v = ND(ps, m);

	if (key_is(v, "event")) {
		tc->has_event = true;
		tc->trig->event = get_str(ps, m, at, STR_IDENT, RULES_EVENT_MAX, c_event,
					  "an event type (1..32 characters of [a-z0-9_], "
					  "starting with a letter)");
	} else if (key_is(v, "where")) {
		parse_where(ps, m, at, tc->trig);
	} else if (tc->within && key_is(v, "within")) {
		tc->has_within = true;
		get_duration(ps, m, at, tc->within);
	} else {
		scan_dups(ps, m, at);
	}
}

static void parse_trigger(struct parser *ps, uint32_t n, const struct path *at,
			  struct rules_trigger *trig, int64_t *within)
{
	struct trig_ctx tc = {trig, within, false, false};

	if (wrong_type(ps, n, JSCAN_OBJECT, at))
		return;
	walk_object(ps, n, at, on_trigger, &tc);
	if (!tc.has_event)
		missing(ps, at, "event");
	if (within && !tc.has_within)
		missing(ps, at, "within");
}

/* ---- actions ----------------------------------------------------------- */

struct act_ctx {
	struct rules_action *a;
	int kind; /* -1: unknown */
	unsigned seen;
};

enum { A_MESSAGE = 1, A_ZONE = 2, A_SKU = 4, A_PRICE = 8, A_FOR = 16, A_ITEMS = 32, A_HL = 64 };

static void parse_items(struct parser *ps, uint32_t n, const struct path *at,
			struct rules_action *a)
{
	struct rules_screen_item *it;
	size_t i = 0;

	if (wrong_type(ps, n, JSCAN_ARRAY, at))
		return;
	if (ND(ps, n)->n > RULES_SCREEN_ITEMS) {
		perr(ps, at, "too many items: %u > %d", ND(ps, n)->n, RULES_SCREEN_ITEMS);
		return;
	}
	it = arena_alloc(&ps->mem, (ND(ps, n)->n + 1) * sizeof(*it));
	if (!it) {
		ps->nomem = true;
		return;
	}
	a->items = it;
	FOR_CHILD(ps, n, e)
	{
		struct path ip = {at, NULL, NULL, i++};
		bool has_sku = false;

		if (wrong_type(ps, e, JSCAN_OBJECT, &ip))
			continue;
		it[a->n_items].sku = NULL;
		it[a->n_items].headline = NULL;
		FOR_CHILD(ps, e, c)
		{
			struct path kp = {&ip, &ND(ps, c)->key, NULL, 0};

			if (ND(ps, c)->dup) {
				perr(ps, &kp, "duplicate key");
			} else if (key_is(ND(ps, c), "sku")) {
				has_sku = true;
				it[a->n_items].sku = get_sku(ps, c, &kp);
			} else if (key_is(ND(ps, c), "headline")) {
				if (!is_type(ND(ps, c), JSCAN_NULL))
					it[a->n_items].headline =
						get_str(ps, c, &kp, STR_TEXT, RULES_HEADLINE_MAX,
							NULL, NULL);
			} else {
				scan_dups(ps, c, &kp);
			}
		}
		if (!has_sku)
			missing(ps, &ip, "sku");
		if (it[a->n_items].sku)
			a->n_items++;
	}
}

static void on_action_member(struct parser *ps, uint32_t m, const struct path *at, void *arg)
{
	struct act_ctx *ac = arg;
	const struct jnode *v = ND(ps, m);
	struct rules_action *a = ac->a;
	char q[QUOTE_MAX + 4];

	if (key_is(v, "action")) {
		if (wrong_type(ps, m, JSCAN_STRING, at))
			return;
		if (ac->kind < 0)
			perr(ps, at, "unknown action \"%s\" (alert, screen, flash or price)",
			     quote(q, v));
		return;
	}
	switch (ac->kind) {
	case RULES_ALERT:
		if (key_is(v, "message")) {
			ac->seen |= A_MESSAGE;
			a->message = get_str(ps, m, at, STR_TEXT, RULES_MESSAGE_MAX, NULL, NULL);
			return;
		}
		break;
	case RULES_SCREEN:
		if (key_is(v, "zone")) {
			ac->seen |= A_ZONE;
			a->zone = get_str(ps, m, at, STR_IDENT, RULES_ZONE_MAX, c_zone,
					  "a zone (1..64 characters of [A-Za-z0-9_-])");
			return;
		}
		if (key_is(v, "headline")) {
			if (is_type(v, JSCAN_NULL))
				return;
			ac->seen |= A_HL;
			a->headline = get_str(ps, m, at, STR_TEXT, RULES_HEADLINE_MAX, NULL, NULL);
			return;
		}
		if (key_is(v, "items")) {
			if (is_type(v, JSCAN_NULL))
				return;
			ac->seen |= A_ITEMS;
			parse_items(ps, m, at, a);
			return;
		}
		break;
	case RULES_FLASH:
	case RULES_PRICE:
		if (key_is(v, "sku")) {
			ac->seen |= A_SKU;
			a->sku = get_sku(ps, m, at);
			return;
		}
		if (ac->kind == RULES_PRICE && key_is(v, "price")) {
			ac->seen |= A_PRICE;
			get_int(ps, m, at, 0, PRICE_MONEY_MAX, &a->price);
			return;
		}
		if (ac->kind == RULES_PRICE && key_is(v, "for")) {
			ac->seen |= A_FOR;
			get_duration(ps, m, at, &a->for_ms);
			return;
		}
		break;
	}
	scan_dups(ps, m, at);
}

static void parse_action(struct parser *ps, uint32_t n, const struct path *at,
			 struct rules_action *a)
{
	struct act_ctx ac = {a, -1, 0};
	uint32_t k;

	if (wrong_type(ps, n, JSCAN_OBJECT, at))
		return;
	k = get(ps, n, "action");
	if (k && is_type(ND(ps, k), JSCAN_STRING)) {
		for (size_t i = 0; i < ARRAY_SIZE(action_names); i++) {
			if (key_is(&(struct jnode){.key = ND(ps, k)->v}, action_names[i]))
				ac.kind = (int)i;
		}
	}
	if (ac.kind >= 0)
		a->kind = (enum rules_action_kind)ac.kind;
	walk_object(ps, n, at, on_action_member, &ac);
	if (!k) {
		missing(ps, at, "action");
		return;
	}
	switch (ac.kind) {
	case RULES_ALERT:
		if (!(ac.seen & A_MESSAGE))
			missing(ps, at, "message");
		break;
	case RULES_SCREEN:
		if (!(ac.seen & A_ZONE))
			missing(ps, at, "zone");
		k = get(ps, n, "items");
		if (!(ac.seen & A_HL) && (!(ac.seen & A_ITEMS) ||
					  (is_type(ND(ps, k), JSCAN_ARRAY) && ND(ps, k)->n == 0)))
			perr(ps, at, "a screen needs a headline or items");
		break;
	case RULES_FLASH:
		if (!(ac.seen & A_SKU))
			missing(ps, at, "sku");
		break;
	case RULES_PRICE:
		if (!(ac.seen & A_SKU))
			missing(ps, at, "sku");
		if (!(ac.seen & A_PRICE))
			missing(ps, at, "price");
		if (!(ac.seen & A_FOR))
			missing(ps, at, "for");
		break;
	}
}

/* ---- rules ------------------------------------------------------------- */

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *s = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ s[i]) * 1099511628211ull;
	return h;
}

static uint64_t fnv_str(uint64_t h, const char *s)
{
	return fnv(h, s ? s : "", s ? strlen(s) + 1 : 1);
}

static uint64_t fnv_val(uint64_t h, const struct rules_value *v)
{
	h = fnv(h, v->s ? "s" : "i", 1);
	return v->s ? fnv_str(h, v->s) : fnv(h, &v->i, sizeof(v->i));
}

static uint64_t fnv_trigger(uint64_t h, const struct rules_trigger *t)
{
	h = fnv_str(h, t->event);
	for (size_t i = 0; i < t->n_conds; i++) {
		const struct rules_cond *c = &t->conds[i];
		uint32_t op = c->op;

		h = fnv_str(h, c->field);
		h = fnv(h, &op, sizeof(op));
		if (c->op != RULES_OP_IN) {
			h = fnv_val(h, &c->v);
			continue;
		}
		for (size_t j = 0; j < c->n_set; j++)
			h = fnv_val(h, &c->set[j]);
		h = fnv(h, "]", 1);
	}
	return fnv(h, ";", 1);
}

static uint64_t rule_fp(const struct rule *r)
{
	uint64_t h = 14695981039346656037ull;

	h = fnv_trigger(h, &r->when);
	if (r->has_unless) {
		h = fnv_trigger(h, &r->unless);
		h = fnv(h, &r->within_ms, sizeof(r->within_ms));
	}
	return h;
}

struct rule_ctx {
	struct rule *r;
	unsigned seen;
};

enum { R_NAME = 1, R_WHEN = 2, R_THEN = 4 };

static void on_rule(struct parser *ps, uint32_t m, const struct path *at, void *arg)
{
	struct rule_ctx *rc = arg;
	const struct jnode *v = ND(ps, m);
	struct rule *r = rc->r;

	if (key_is(v, "name")) {
		rc->seen |= R_NAME;
		r->name = get_str(ps, m, at, STR_IDENT, RULES_NAME_MAX, c_name,
				  "a rule name (1..64 characters of [A-Za-z0-9_.-])");
	} else if (key_is(v, "when")) {
		rc->seen |= R_WHEN;
		parse_trigger(ps, m, at, &r->when, NULL);
	} else if (key_is(v, "unless")) {
		if (is_type(v, JSCAN_NULL))
			return;
		r->has_unless = true;
		parse_trigger(ps, m, at, &r->unless, &r->within_ms);
	} else if (key_is(v, "then")) {
		rc->seen |= R_THEN;
		parse_action(ps, m, at, &r->then);
	} else if (key_is(v, "cooldown")) {
		if (!is_type(v, JSCAN_NULL))
			get_duration(ps, m, at, &r->cooldown_ms);
	} else {
		scan_dups(ps, m, at);
	}
}

static void parse_rules(struct parser *ps, uint32_t n, const struct path *at, struct rule_set *rs)
{
	size_t i = 0;

	if (wrong_type(ps, n, JSCAN_ARRAY, at))
		return;
	if (ND(ps, n)->n > RULES_MAX) {
		perr(ps, at, "too many rules: %u > %d", ND(ps, n)->n, RULES_MAX);
		return;
	}
	rs->rules = arena_alloc(&ps->mem, (ND(ps, n)->n + 1) * sizeof(*rs->rules));
	if (!rs->rules) {
		ps->nomem = true;
		return;
	}
	memset(rs->rules, 0, (ND(ps, n)->n + 1) * sizeof(*rs->rules));
	rs->n_rules = ND(ps, n)->n;
	FOR_CHILD(ps, n, e)
	{
		struct path ip = {at, NULL, NULL, i};
		struct rule_ctx rc = {&rs->rules[i], 0};

		if (!wrong_type(ps, e, JSCAN_OBJECT, &ip)) {
			walk_object(ps, e, &ip, on_rule, &rc);
			if (!(rc.seen & R_NAME))
				missing(ps, &ip, "name");
			if (!(rc.seen & R_WHEN))
				missing(ps, &ip, "when");
			if (!(rc.seen & R_THEN))
				missing(ps, &ip, "then");
		}
		/* Unique names: the later one is the error. */
		for (size_t j = 0; rc.r->name && j < i; j++) {
			if (rs->rules[j].name && !strcmp(rs->rules[j].name, rc.r->name)) {
				struct path np = {&ip, NULL, "name", 0};

				perr(ps, &np, "duplicate rule name %s, also at rules[%zu]",
				     rc.r->name, j);
				break;
			}
		}
		rc.r->fp = rule_fp(rc.r);
		i++;
	}
}

struct top_ctx {
	struct rule_set *rs;
	unsigned seen;
	bool id_ok;
};

enum { T_ID = 1, T_ISSUED = 2, T_ACTION = 4, T_VERSION = 8, T_RULES = 16 };

static bool c_print(unsigned char c)
{
	return c > 0x20 && c < 0x7f;
}

static void on_top(struct parser *ps, uint32_t m, const struct path *at, void *arg)
{
	struct top_ctx *tc = arg;
	const struct jnode *v = ND(ps, m);
	char q[QUOTE_MAX + 4];
	const char *s;

	if (key_is(v, "id")) {
		tc->seen |= T_ID;
		s = get_str(ps, m, at, STR_IDENT, PRICE_ID_MAX, c_print, "printable ASCII");
		if (s) {
			str_copy(tc->rs->id, sizeof(tc->rs->id), s);
			tc->id_ok = true;
		}
	} else if (key_is(v, "issued_at")) {
		tc->seen |= T_ISSUED;
		get_ts(ps, m, at, &tc->rs->issued_at_ms);
	} else if (key_is(v, "action")) {
		tc->seen |= T_ACTION;
		if (!wrong_type(ps, m, JSCAN_STRING, at) &&
		    !key_is(&(struct jnode){.key = v->v}, "rules.set"))
			perr(ps, at, "must be \"rules.set\", got \"%s\"", quote(q, v));
	} else if (key_is(v, "version")) {
		tc->seen |= T_VERSION;
		get_int(ps, m, at, 1, INT64_MAX, &tc->rs->version);
	} else if (key_is(v, "rules")) {
		tc->seen |= T_RULES;
		parse_rules(ps, m, at, tc->rs);
	} else {
		scan_dups(ps, m, at);
	}
}

int rules_parse(const char *buf, size_t len, struct rule_set **out, struct price_errors *errs,
		char *ref)
{
	struct parser ps = {.errs = errs};
	struct top_ctx tc = {NULL, 0, false};
	struct rule_set *rs;
	const char *msg;
	size_t off = 0;
	int rc;

	if (ref)
		ref[0] = '\0';
	if (!out || !errs)
		return -EINVAL;
	*out = NULL;
	price_errors_init(errs);
	if (len > RULES_CMD_MAX) {
		price_errors_add(errs, "", "payload of %zu bytes is over the %u-byte limit", len,
				 RULES_CMD_MAX);
		return -EMSGSIZE;
	}
	rc = tree_build(&ps.t, buf, len, &msg, &off);
	if (rc == -ENOMEM)
		goto err_nomem;
	if (rc < 0) {
		if (!strcmp(msg, "invalid UTF-8"))
			price_errors_add(errs, "", "invalid UTF-8 at byte %zu", off);
		else
			price_errors_add(errs, "", "invalid JSON at byte %zu: %s", off, msg);
		return -EINVAL;
	}
	rs = arena_alloc(&ps.mem, sizeof(*rs));
	if (!rs)
		goto err_tree;
	memset(rs, 0, sizeof(*rs));
	tc.rs = rs;
	if (!is_type(ND(&ps, 0), JSCAN_OBJECT)) {
		perr(&ps, NULL, "must be a JSON object, got %s", tname(ND(&ps, 0)));
	} else {
		walk_object(&ps, 0, NULL, on_top, &tc);
		if (!(tc.seen & T_ID))
			missing(&ps, NULL, "id");
		if (!(tc.seen & T_ISSUED))
			missing(&ps, NULL, "issued_at");
		if (!(tc.seen & T_ACTION))
			missing(&ps, NULL, "action");
		if (!(tc.seen & T_VERSION))
			missing(&ps, NULL, "version");
		if (!(tc.seen & T_RULES))
			missing(&ps, NULL, "rules");
	}
	if (ps.nomem)
		goto err_tree;
	tree_free(&ps.t);
	if (errs->total) {
		if (ref && tc.id_ok)
			str_copy(ref, PRICE_ID_MAX + 1, rs->id);
		arena_free(ps.mem);
		return -EINVAL;
	}
	rs->mem = ps.mem;
	*out = rs;
	return 0;

err_tree:
	tree_free(&ps.t);
	arena_free(ps.mem);
err_nomem:
	price_errors_init(errs);
	price_errors_add(errs, "", "out of memory");
	return -ENOMEM;
}

void rules_set_free(struct rule_set *rs)
{
	if (rs)
		arena_free(rs->mem);
}

/* ---- matching --------------------------------------------------------- */

/* Compare the double @v (not NaN) with the integer @c exactly: -1, 0, 1. */
static int num_cmp(double v, int64_t c)
{
	int64_t i;

	if (v < -9223372036854775808.0)
		return -1;
	if (v >= 9223372036854775808.0)
		return 1;
	i = (int64_t)v; /* toward zero; v's integer part fits */
	if ((double)i > v)
		i--; /* floor for negative fractions */
	if (i != c)
		return i < c ? -1 : 1;
	return v > (double)i ? 1 : 0;
}

static bool is_num(const cJSON *j)
{
	return cJSON_IsNumber(j) && j->valuedouble == j->valuedouble;
}

static bool value_eq(const struct rules_value *rv, const cJSON *j)
{
	if (rv->s)
		return cJSON_IsString(j) && !strcmp(j->valuestring, rv->s);
	return is_num(j) && num_cmp(j->valuedouble, rv->i) == 0;
}

static bool in_set(const struct rules_cond *c, const cJSON *j)
{
	struct rules_value key = {NULL, 0};
	double v;

	if (cJSON_IsString(j)) {
		key.s = j->valuestring;
	} else if (is_num(j)) {
		v = j->valuedouble;
		if (v < -9223372036854775808.0 || v >= 9223372036854775808.0)
			return false;
		key.i = (int64_t)v;
		if (num_cmp(v, key.i) != 0)
			return false;
	} else {
		return false;
	}
	return bsearch(&key, c->set, c->n_set, sizeof(*c->set), value_cmp) != NULL;
}

static bool cond_holds(const struct rules_cond *c, const cJSON *j)
{
	switch (c->op) {
	case RULES_OP_EQ:
		return value_eq(&c->v, j);
	case RULES_OP_NE:
		return !value_eq(&c->v, j);
	case RULES_OP_GT:
		return is_num(j) && num_cmp(j->valuedouble, c->v.i) > 0;
	case RULES_OP_GTE:
		return is_num(j) && num_cmp(j->valuedouble, c->v.i) >= 0;
	case RULES_OP_LT:
		return is_num(j) && num_cmp(j->valuedouble, c->v.i) < 0;
	case RULES_OP_LTE:
		return is_num(j) && num_cmp(j->valuedouble, c->v.i) <= 0;
	case RULES_OP_IN:
		return in_set(c, j);
	}
	return false;
}

/* Does @t hold for @fields (NULL if not an object), whose "lines" array is @lines (or NULL)? */
static bool trigger_holds(const struct rules_trigger *t, const cJSON *fields, const cJSON *lines)
{
	const cJSON *line, *j;
	uint32_t deferred = 0;
	bool ok;

	for (size_t i = 0; i < t->n_conds; i++) {
		j = fields ? cJSON_GetObjectItemCaseSensitive(fields, t->conds[i].field) : NULL;
		if (j) {
			if (!cond_holds(&t->conds[i], j))
				return false;
		} else if (lines) {
			deferred |= 1u << i;
		} else {
			return false;
		}
	}
	if (!deferred)
		return true;
	cJSON_ArrayForEach(line, lines)
	{
		if (!cJSON_IsObject(line))
			continue;
		ok = true;
		for (size_t i = 0; ok && i < t->n_conds; i++) {
			if (!(deferred & (1u << i)))
				continue;
			j = cJSON_GetObjectItemCaseSensitive(line, t->conds[i].field);
			ok = j && cond_holds(&t->conds[i], j);
		}
		if (ok)
			return true;
	}
	return false;
}

/* ---- the engine -------------------------------------------------------- */

struct span {
	int64_t a, b; /* closed */
};

struct rstate {
	bool dirty; /* changed since its last save (rules_state_save_rule) */
	bool has_last;
	int64_t last_ms, last_wall_ms;
	uint64_t fired, cancelled, suppressed, late, dropped;
	int64_t *win; /* open windows' starts, ascending, unique */
	uint32_t n_win, cap_win;
	struct span *quiet; /* ascending, disjoint, not adjacent */
	uint32_t n_quiet, cap_quiet;
};

struct evtype {
	const char *type;
	uint32_t *when, *unless;
	uint32_t n_when, n_unless;
};

struct rules_engine {
	int64_t grace_ms;
	struct rule_set *rs;
	struct rstate *st;
	struct evtype *types;
	size_t n_types;
	uint32_t *idx;
	size_t n_windows;
	struct rules_fire *out;
	size_t n_out, cap_out;
	bool dirty;
};

static void rstate_clear(struct rstate *s)
{
	free(s->win);
	free(s->quiet);
	s->win = NULL;
	s->quiet = NULL;
	s->n_win = s->cap_win = s->n_quiet = s->cap_quiet = 0;
}

struct rules_engine *rules_engine_new(int64_t grace_ms)
{
	struct rules_engine *e = calloc(1, sizeof(*e));

	if (e)
		e->grace_ms = grace_ms < 0 ? RULES_GRACE_MS : grace_ms;
	return e;
}

static void engine_drop(struct rules_engine *e)
{
	for (size_t i = 0; e->st && e->rs && i < e->rs->n_rules; i++)
		rstate_clear(&e->st[i]);
	free(e->st);
	free(e->types);
	free(e->idx);
	free(e->out);
	rules_set_free(e->rs);
}

void rules_engine_free(struct rules_engine *e)
{
	if (!e)
		return;
	engine_drop(e);
	free(e);
}

const struct rule_set *rules_engine_rules(const struct rules_engine *e)
{
	return e ? e->rs : NULL;
}

struct byname {
	const char *name;
	uint32_t i;
};

static int byname_cmp(const void *a, const void *b)
{
	return strcmp(((const struct byname *)a)->name, ((const struct byname *)b)->name);
}

/* Rule names of @rs sorted, for lookups by name; NULL when out of memory (or no rule). */
static struct byname *names_sorted(const struct rule_set *rs)
{
	struct byname *b;

	if (!rs || !rs->n_rules)
		return NULL;
	b = malloc(rs->n_rules * sizeof(*b));
	if (!b)
		return NULL;
	for (size_t i = 0; i < rs->n_rules; i++) {
		b[i].name = rs->rules[i].name;
		b[i].i = (uint32_t)i;
	}
	qsort(b, rs->n_rules, sizeof(*b), byname_cmp);
	return b;
}

static int64_t find_name(const struct byname *b, size_t n, const char *name)
{
	struct byname key = {name, 0};
	const struct byname *f = b ? bsearch(&key, b, n, sizeof(*b), byname_cmp) : NULL;

	return f ? (int64_t)f->i : -1;
}

static struct evtype *type_find(struct evtype *types, size_t n, const char *type)
{
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(types[i].type, type))
			return &types[i];
	}
	return NULL;
}

int rules_engine_set(struct rules_engine *e, struct rule_set *rs)
{
	size_t n = rs ? rs->n_rules : 0, n_types = 0, o;
	struct byname *old = NULL;
	struct rstate *st = NULL;
	struct evtype *types = NULL, *t;
	uint32_t *idx = NULL, *p;
	struct rules_fire *out = NULL;
	int64_t j;

	if (!e) {
		rules_set_free(rs);
		return -EINVAL;
	}
	st = calloc(n + 1, sizeof(*st));
	types = calloc(2 * n + 1, sizeof(*types));
	idx = calloc(2 * n + 1, sizeof(*idx));
	out = calloc(n + 1, sizeof(*out));
	if (e->rs && e->rs->n_rules)
		old = names_sorted(e->rs);
	if (!st || !types || !idx || !out || (e->rs && e->rs->n_rules && !old))
		goto err_nomem;
	/* The event type index: count, then place. */
	for (size_t i = 0; i < n; i++) {
		const struct rule *r = &rs->rules[i];

		for (int u = 0; u < 1 + r->has_unless; u++) {
			const char *ty = u ? r->unless.event : r->when.event;

			t = type_find(types, n_types, ty);
			if (!t) {
				t = &types[n_types++];
				t->type = ty;
			}
			if (u)
				t->n_unless++;
			else
				t->n_when++;
		}
	}
	p = idx;
	for (size_t k = 0; k < n_types; k++) {
		types[k].when = p;
		p += types[k].n_when;
		types[k].unless = p;
		p += types[k].n_unless;
		types[k].n_when = types[k].n_unless = 0;
	}
	for (size_t i = 0; i < n; i++) {
		const struct rule *r = &rs->rules[i];

		t = type_find(types, n_types, r->when.event);
		t->when[t->n_when++] = (uint32_t)i;
		if (r->has_unless) {
			t = type_find(types, n_types, r->unless.event);
			t->unless[t->n_unless++] = (uint32_t)i;
		}
	}
	/* Carry the state over by name (and fingerprint for the timers). */
	e->n_windows = 0;
	for (size_t i = 0; i < n; i++) {
		j = find_name(old, e->rs ? e->rs->n_rules : 0, rs->rules[i].name);
		if (j < 0)
			continue;
		st[i] = e->st[j];
		memset(&e->st[j], 0, sizeof(e->st[j]));
		if (e->rs->rules[j].fp != rs->rules[i].fp)
			rstate_clear(&st[i]);
		e->n_windows += st[i].n_win;
	}
	free(old);
	o = e->n_windows;
	engine_drop(e);
	e->rs = rs;
	e->st = st;
	e->types = types;
	e->n_types = n_types;
	e->idx = idx;
	e->out = out;
	e->cap_out = n + 1;
	e->n_out = 0;
	e->n_windows = o;
	e->dirty = true;
	for (size_t i = 0; i < n; i++)
		st[i].dirty = true; /* a new set: every rule's row is written afresh */
	return 0;

err_nomem:
	free(old);
	free(st);
	free(types);
	free(idx);
	free(out);
	rules_set_free(rs);
	return -ENOMEM;
}

/* First index in @w[0..n) with w[i] >= @t. */
static uint32_t lower(const int64_t *w, uint32_t n, int64_t t)
{
	uint32_t lo = 0, hi = n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (w[mid] < t)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static bool quiet_has(const struct rstate *s, int64_t t)
{
	uint32_t lo = 0, hi = s->n_quiet;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (s->quiet[mid].b < t)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < s->n_quiet && s->quiet[lo].a <= t;
}

/* Forget the quiet intervals ending before @horizon. */
static bool quiet_prune(struct rstate *s, int64_t horizon)
{
	uint32_t k = 0;

	while (k < s->n_quiet && s->quiet[k].b < horizon)
		k++;
	if (!k)
		return false;
	memmove(s->quiet, s->quiet + k, (s->n_quiet - k) * sizeof(*s->quiet));
	s->n_quiet -= k;
	return true;
}

/* Add [a, b] to the quiet intervals, merging. */
static void quiet_add(struct rstate *s, int64_t a, int64_t b)
{
	uint32_t k = 0, m;

	while (k < s->n_quiet && s->quiet[k].b < a - 1)
		k++;
	m = k;
	while (m < s->n_quiet && s->quiet[m].a <= b + 1) {
		if (s->quiet[m].a < a)
			a = s->quiet[m].a;
		if (s->quiet[m].b > b)
			b = s->quiet[m].b;
		m++;
	}
	if (m > k) {
		s->quiet[k].a = a;
		s->quiet[k].b = b;
		memmove(s->quiet + k + 1, s->quiet + m, (s->n_quiet - m) * sizeof(*s->quiet));
		s->n_quiet -= m - k - 1;
		return;
	}
	if (s->n_quiet >= RULES_MAX_QUIET) {
		if (k == 0)
			return; /* the new one is the oldest: it goes first */
		memmove(s->quiet, s->quiet + 1, (k - 1) * sizeof(*s->quiet));
		s->quiet[k - 1].a = a;
		s->quiet[k - 1].b = b;
		return;
	}
	if (s->n_quiet == s->cap_quiet) {
		uint32_t cap = s->cap_quiet ? s->cap_quiet * 2 : 4;
		struct span *q = realloc(s->quiet, cap * sizeof(*q));

		if (!q)
			return;
		s->quiet = q;
		s->cap_quiet = cap;
	}
	memmove(s->quiet + k + 1, s->quiet + k, (s->n_quiet - k) * sizeof(*s->quiet));
	s->quiet[k].a = a;
	s->quiet[k].b = b;
	s->n_quiet++;
}

static void fire(struct rules_engine *e, size_t r, int64_t at, int64_t trig, int64_t due,
		 int64_t now)
{
	const struct rule *rule = &e->rs->rules[r];
	struct rstate *s = &e->st[r];
	struct rules_fire *f;
	int64_t d;

	if (rule->cooldown_ms && s->has_last) {
		d = at > s->last_ms ? at - s->last_ms : s->last_ms - at;
		if (d < rule->cooldown_ms) {
			s->suppressed++;
			return;
		}
	}
	f = &e->out[e->n_out++];
	f->rule = rule;
	f->index = r;
	f->at_ms = at;
	f->trigger_ms = trig;
	f->due_ms = due;
	f->until_ms = rule->then.kind == RULES_PRICE ? now + rule->then.for_ms : 0;
	s->fired++;
	if (!s->has_last || at > s->last_ms)
		s->last_ms = at;
	s->has_last = true;
	s->last_wall_ms = now;
	e->dirty = s->dirty = true;
}

static void on_unless(struct rules_engine *e, size_t r, int64_t u, int64_t now)
{
	struct rstate *s = &e->st[r];
	int64_t lo = u - e->rs->rules[r].within_ms + 1;
	uint32_t i = lower(s->win, s->n_win, lo), j = lower(s->win, s->n_win, u + 1);

	if (j > i) {
		memmove(s->win + i, s->win + j, (s->n_win - j) * sizeof(*s->win));
		s->n_win -= j - i;
		s->cancelled += j - i;
		e->n_windows -= j - i;
		e->dirty = s->dirty = true;
	}
	if (quiet_prune(s, now - e->grace_ms))
		e->dirty = s->dirty = true;
	if (u >= now - e->grace_ms) {
		quiet_add(s, lo, u);
		e->dirty = s->dirty = true;
	}
}

/* Open a window at @t for rule @r (known to have "unless"). */
static void window_open(struct rules_engine *e, size_t r, int64_t t)
{
	struct rstate *s = &e->st[r];
	uint32_t i = lower(s->win, s->n_win, t);

	if (i < s->n_win && s->win[i] == t)
		return;
	if (s->n_win >= RULES_MAX_WINDOWS_RULE || e->n_windows >= RULES_MAX_WINDOWS) {
		s->dropped++;
		return;
	}
	if (s->n_win == s->cap_win) {
		uint32_t cap = s->cap_win ? s->cap_win * 2 : 8;
		int64_t *w = realloc(s->win, cap * sizeof(*w));

		if (!w) {
			s->dropped++;
			return;
		}
		s->win = w;
		s->cap_win = cap;
	}
	memmove(s->win + i + 1, s->win + i, (s->n_win - i) * sizeof(*s->win));
	s->win[i] = t;
	s->n_win++;
	e->n_windows++;
	e->dirty = s->dirty = true;
}

static void on_when(struct rules_engine *e, size_t r, int64_t t, int64_t now)
{
	const struct rule *rule = &e->rs->rules[r];
	struct rstate *s = &e->st[r];

	if (!rule->has_unless) {
		fire(e, r, t, t, t, now);
		return;
	}
	if (t < now - e->grace_ms) {
		s->late++;
		return;
	}
	if (quiet_has(s, t)) {
		s->cancelled++;
		return;
	}
	window_open(e, r, t);
}

int rules_event(struct rules_engine *e, const char *type, int64_t ts_ms, const struct cJSON *fields,
		int64_t now_ms, const struct rules_fire **fires, size_t *n)
{
	const cJSON *f = (const cJSON *)fields, *lines = NULL;
	struct evtype *t;

	if (!e || !type || !fires || !n || ts_ms < 0 || ts_ms > RULES_TS_MAX)
		return -EINVAL;
	e->n_out = 0;
	*fires = e->out;
	*n = 0;
	t = type_find(e->types, e->n_types, type);
	if (!t)
		return 0;
	if (!cJSON_IsObject(f))
		f = NULL;
	lines = f ? cJSON_GetObjectItemCaseSensitive(f, "lines") : NULL;
	if (!cJSON_IsArray(lines))
		lines = NULL;
	for (uint32_t i = 0; i < t->n_unless; i++) {
		size_t r = t->unless[i];

		if (trigger_holds(&e->rs->rules[r].unless, f, lines))
			on_unless(e, r, ts_ms, now_ms);
	}
	for (uint32_t i = 0; i < t->n_when; i++) {
		size_t r = t->when[i];

		if (trigger_holds(&e->rs->rules[r].when, f, lines))
			on_when(e, r, ts_ms, now_ms);
	}
	*n = e->n_out;
	return 0;
}

int64_t rules_next_deadline(const struct rules_engine *e)
{
	int64_t best = INT64_MAX, d;

	for (size_t i = 0; e && e->rs && i < e->rs->n_rules; i++) {
		if (!e->st[i].n_win)
			continue;
		d = e->st[i].win[0] + e->rs->rules[i].within_ms + e->grace_ms;
		if (d < best)
			best = d;
	}
	return best;
}

static int fire_cmp(const void *a, const void *b)
{
	const struct rules_fire *x = a, *y = b;

	if (x->at_ms != y->at_ms)
		return x->at_ms < y->at_ms ? -1 : 1;
	if (x->index != y->index)
		return x->index < y->index ? -1 : 1;
	return x->trigger_ms < y->trigger_ms ? -1 : x->trigger_ms > y->trigger_ms;
}

int rules_advance(struct rules_engine *e, int64_t now_ms, const struct rules_fire **fires,
		  size_t *n)
{
	size_t due = 0, nr;

	if (!e || !fires || !n)
		return -EINVAL;
	e->n_out = 0;
	*fires = e->out;
	*n = 0;
	nr = e->rs ? e->rs->n_rules : 0;
	for (size_t i = 0; i < nr; i++) {
		const struct rstate *s = &e->st[i];

		if (s->n_win)
			due += lower(s->win, s->n_win,
				     now_ms - e->rs->rules[i].within_ms - e->grace_ms + 1);
	}
	if (due > e->cap_out) {
		struct rules_fire *o = realloc(e->out, due * sizeof(*o));

		if (!o)
			return -ENOMEM;
		e->out = o;
		e->cap_out = due;
		*fires = e->out;
	}
	for (size_t i = 0; i < nr; i++) {
		struct rstate *s = &e->st[i];
		int64_t w = e->rs->rules[i].within_ms;
		uint32_t k;

		if (quiet_prune(s, now_ms - e->grace_ms))
			e->dirty = s->dirty = true;
		if (!s->n_win)
			continue;
		k = lower(s->win, s->n_win, now_ms - w - e->grace_ms + 1);
		for (uint32_t j = 0; j < k; j++)
			fire(e, i, s->win[j] + w, s->win[j], s->win[j] + w + e->grace_ms, now_ms);
		if (k) {
			memmove(s->win, s->win + k, (s->n_win - k) * sizeof(*s->win));
			s->n_win -= k;
			e->n_windows -= k;
			e->dirty = s->dirty = true;
		}
	}
	qsort(e->out, e->n_out, sizeof(*e->out), fire_cmp);
	*n = e->n_out;
	return 0;
}

size_t rules_count(const struct rules_engine *e)
{
	return e && e->rs ? e->rs->n_rules : 0;
}

bool rules_info(const struct rules_engine *e, size_t i, struct rules_info *info)
{
	const struct rstate *s;

	if (!e || !info || i >= rules_count(e))
		return false;
	s = &e->st[i];
	memset(info, 0, sizeof(*info));
	info->rule = &e->rs->rules[i];
	info->has_fired = s->has_last;
	info->last_ms = s->last_ms;
	info->last_wall_ms = s->last_wall_ms;
	info->fired = s->fired;
	info->cancelled = s->cancelled;
	info->suppressed = s->suppressed;
	info->late = s->late;
	info->dropped = s->dropped;
	info->windows = s->n_win;
	info->next_due_ms = s->n_win ? s->win[0] + info->rule->within_ms + e->grace_ms : INT64_MAX;
	return true;
}

bool rules_state_dirty(const struct rules_engine *e)
{
	return e && e->dirty;
}

/* ---- persistence ------------------------------------------------------- */

/* Rule @i's entry {"name":..,"fp":..,...} appended to @d; nothing for a rule without state. */
static int save_entry(const struct rules_engine *e, size_t i, struct dynbuf *d, bool comma)
{
	const struct rstate *s = &e->st[i];
	int rc;

	if (!s->has_last && !s->n_win && !s->n_quiet && !s->fired)
		return 0;
	rc = dynbuf_adds(d, comma ? ",{\"name\":" : "{\"name\":");
	if (rc == 0)
		rc = dynbuf_add_json_str(d, e->rs->rules[i].name);
	if (rc == 0)
		rc = dynbuf_addf(d, ",\"fp\":\"%016" PRIx64 "\",\"fired\":%" PRIu64,
				 e->rs->rules[i].fp, s->fired);
	if (rc == 0 && s->has_last)
		rc = dynbuf_addf(d, ",\"last\":%" PRId64 ",\"last_wall\":%" PRId64, s->last_ms,
				 s->last_wall_ms);
	if (rc == 0)
		rc = dynbuf_adds(d, ",\"windows\":[");
	for (uint32_t j = 0; rc == 0 && j < s->n_win; j++)
		rc = dynbuf_addf(d, "%s%" PRId64, j ? "," : "", s->win[j]);
	if (rc == 0)
		rc = dynbuf_adds(d, "],\"quiet\":[");
	for (uint32_t j = 0; rc == 0 && j < s->n_quiet; j++)
		rc = dynbuf_addf(d, "%s[%" PRId64 ",%" PRId64 "]", j ? "," : "", s->quiet[j].a,
				 s->quiet[j].b);
	if (rc == 0)
		rc = dynbuf_adds(d, "]}");
	return rc;
}

int rules_state_save(struct rules_engine *e, struct dynbuf *d)
{
	size_t start, nr, len;
	int rc;

	if (!e || !d)
		return -EINVAL;
	start = d->len;
	nr = rules_count(e);
	rc = dynbuf_adds(d, "{\"v\":1,\"rules\":[");
	len = d->len;
	for (size_t i = 0; rc == 0 && i < nr; i++)
		rc = save_entry(e, i, d, d->len != len);
	if (rc == 0)
		rc = dynbuf_adds(d, "]}");
	if (rc < 0) {
		d->len = start;
		if (d->buf)
			d->buf[start] = '\0';
		return rc;
	}
	for (size_t i = 0; i < nr; i++)
		e->st[i].dirty = false;
	e->dirty = false;
	return 0;
}

bool rules_rule_dirty(const struct rules_engine *e, size_t i)
{
	return e && i < rules_count(e) && e->st[i].dirty;
}

int rules_state_save_rule(struct rules_engine *e, size_t i, struct dynbuf *d)
{
	size_t start;
	int rc;

	if (!e || !d || i >= rules_count(e))
		return -EINVAL;
	start = d->len;
	rc = save_entry(e, i, d, false);
	if (rc < 0) {
		d->len = start;
		if (d->buf)
			d->buf[start] = '\0';
		return rc;
	}
	e->st[i].dirty = false;
	return 0;
}

void rules_state_mark_saved(struct rules_engine *e)
{
	for (size_t i = 0; e && i < rules_count(e); i++) {
		if (e->st[i].dirty)
			return;
	}
	if (e)
		e->dirty = false;
}

/* A loaded entry, checked, before it is applied. */
struct loaded {
	int64_t rule; /* -1: no such rule now */
	bool has_last, same_fp;
	int64_t last_ms, last_wall_ms;
	uint64_t fired;
	int64_t *win;
	uint32_t n_win;
	struct span *quiet;
	uint32_t n_quiet;
};

static bool tree_int(const struct parser *ps, uint32_t n, int64_t min, int64_t max, int64_t *out)
{
	struct jscan_tok t;

	if (!n || !is_type(ND(ps, n), JSCAN_NUMBER))
		return false;
	t = jt(&ND(ps, n)->v);
	return jscan_int64(&t, out) == 0 && *out >= min && *out <= max;
}

static int span_cmp(const void *a, const void *b)
{
	const struct span *x = a, *y = b;

	return x->a < y->a ? -1 : x->a > y->a;
}

static int i64_cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* Check entry @n and fill @l (arrays malloc'ed). Returns 0, -EINVAL or -ENOMEM. */
static int load_entry(struct parser *ps, uint32_t n, const struct rules_engine *e,
		      const struct byname *names, struct loaded *l)
{
	uint32_t name = get(ps, n, "name"), fp = get(ps, n, "fp"), x;
	char buf[RULES_NAME_MAX + 1], hex[17];
	struct jscan_tok t;
	int64_t v, w;
	uint64_t f = 0;
	uint32_t k;

	memset(l, 0, sizeof(*l));
	l->rule = -1;
	if (!is_type(ND(ps, n), JSCAN_OBJECT) || !name || !is_type(ND(ps, name), JSCAN_STRING) ||
	    !fp || !is_type(ND(ps, fp), JSCAN_STRING) || ND(ps, fp)->v.dlen != 16 ||
	    ND(ps, name)->v.dlen > RULES_NAME_MAX)
		return -EINVAL;
	t = jt(&ND(ps, name)->v);
	jscan_str_decode(&t, buf, sizeof(buf));
	t = jt(&ND(ps, fp)->v);
	jscan_str_decode(&t, hex, sizeof(hex));
	for (int i = 0; i < 16; i++) {
		char c = hex[i];
		int dv = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;

		if (dv < 0)
			return -EINVAL;
		f = f << 4 | (uint64_t)dv;
	}
	l->rule = find_name(names, rules_count(e), buf);
	l->same_fp = l->rule >= 0 && e->rs->rules[l->rule].fp == f;
	x = get(ps, n, "fired");
	if (x) {
		if (!tree_int(ps, x, 0, INT64_MAX, &v))
			return -EINVAL;
		l->fired = (uint64_t)v;
	}
	x = get(ps, n, "last");
	if (x) {
		if (!tree_int(ps, x, 0, RULES_TS_MAX, &l->last_ms) ||
		    !tree_int(ps, get(ps, n, "last_wall"), INT64_MIN, INT64_MAX, &l->last_wall_ms))
			return -EINVAL;
		l->has_last = true;
	}
	x = get(ps, n, "windows");
	if (x) {
		if (!is_type(ND(ps, x), JSCAN_ARRAY))
			return -EINVAL;
		l->win = malloc((ND(ps, x)->n + 1) * sizeof(*l->win));
		if (!l->win)
			return -ENOMEM;
		FOR_CHILD(ps, x, c)
		{
			if (!tree_int(ps, c, 0, RULES_TS_MAX, &l->win[l->n_win++]))
				return -EINVAL;
		}
		qsort(l->win, l->n_win, sizeof(*l->win), i64_cmp);
		for (uint32_t i = 0, o = 0; i < l->n_win; i++) {
			if (o == 0 || l->win[o - 1] != l->win[i])
				l->win[o++] = l->win[i];
			if (i + 1 == l->n_win)
				l->n_win = o;
		}
		if (l->n_win > RULES_MAX_WINDOWS_RULE)
			l->n_win = RULES_MAX_WINDOWS_RULE;
	}
	x = get(ps, n, "quiet");
	if (x) {
		if (!is_type(ND(ps, x), JSCAN_ARRAY))
			return -EINVAL;
		l->quiet = malloc((ND(ps, x)->n + 1) * sizeof(*l->quiet));
		if (!l->quiet)
			return -ENOMEM;
		FOR_CHILD(ps, x, c)
		{
			uint32_t a = ND(ps, c)->child;

			if (!is_type(ND(ps, c), JSCAN_ARRAY) || ND(ps, c)->n != 2 ||
			    !tree_int(ps, a, -RULES_DURATION_MAX, RULES_TS_MAX, &v) ||
			    !tree_int(ps, ND(ps, a)->next, -RULES_DURATION_MAX, RULES_TS_MAX, &w) ||
			    v > w)
				return -EINVAL;
			l->quiet[l->n_quiet].a = v;
			l->quiet[l->n_quiet++].b = w;
		}
		qsort(l->quiet, l->n_quiet, sizeof(*l->quiet), span_cmp);
		/* merge overlapping or adjacent */
		for (k = 0, x = 0; k < l->n_quiet; k++) {
			if (x && l->quiet[k].a <= l->quiet[x - 1].b + 1) {
				if (l->quiet[k].b > l->quiet[x - 1].b)
					l->quiet[x - 1].b = l->quiet[k].b;
			} else {
				l->quiet[x++] = l->quiet[k];
			}
		}
		l->n_quiet = x;
		if (l->n_quiet > RULES_MAX_QUIET) {
			memmove(l->quiet, l->quiet + (l->n_quiet - RULES_MAX_QUIET),
				RULES_MAX_QUIET * sizeof(*l->quiet));
			l->n_quiet = RULES_MAX_QUIET;
		}
	}
	return 0;
}

int rules_state_load(struct rules_engine *e, const char *buf, size_t len)
{
	struct price_errors dummy;
	struct parser ps = {.errs = &dummy};
	struct loaded *ls = NULL;
	struct byname *names = NULL;
	uint32_t v, arr;
	size_t n = 0, k = 0, off;
	const char *msg;
	int64_t ver;
	int rc;

	if (!e || len > RULES_STATE_MAX)
		return -EINVAL;
	rc = tree_build(&ps.t, buf, len, &msg, &off);
	if (rc < 0)
		return rc;
	rc = -EINVAL;
	if (!is_type(ND(&ps, 0), JSCAN_OBJECT))
		goto out;
	for (size_t i = 0; i < ps.t.n; i++) {
		if (ps.t.nd[i].dup)
			goto out;
	}
	v = get(&ps, 0, "v");
	arr = get(&ps, 0, "rules");
	if (!tree_int(&ps, v, 1, 1, &ver) || !arr || !is_type(ND(&ps, arr), JSCAN_ARRAY))
		goto out;
	n = ND(&ps, arr)->n;
	ls = calloc(n + 1, sizeof(*ls));
	names = names_sorted(e->rs);
	if (!ls || (rules_count(e) && !names)) {
		rc = -ENOMEM;
		goto out;
	}
	FOR_CHILD(&ps, arr, c)
	{
		rc = load_entry(&ps, c, e, names, &ls[k++]);
		if (rc < 0)
			goto out;
	}
	/* A rule listed twice is not a state we wrote. */
	for (size_t i = 0; i < n; i++) {
		for (size_t j = i + 1; ls[i].rule >= 0 && j < n; j++) {
			if (ls[j].rule == ls[i].rule) {
				rc = -EINVAL;
				goto out;
			}
		}
	}
	/* Apply: nothing can fail from here. */
	for (size_t i = 0; i < n; i++) {
		struct loaded *l = &ls[i];
		struct rstate *s;

		if (l->rule < 0)
			continue;
		s = &e->st[l->rule];
		s->fired = l->fired;
		s->has_last = l->has_last;
		s->last_ms = l->last_ms;
		s->last_wall_ms = l->last_wall_ms;
		if (!l->same_fp)
			continue;
		e->n_windows -= s->n_win;
		rstate_clear(s);
		if (e->n_windows + l->n_win > RULES_MAX_WINDOWS)
			l->n_win = (uint32_t)(RULES_MAX_WINDOWS - e->n_windows);
		s->win = l->win;
		s->n_win = s->cap_win = l->n_win;
		s->quiet = l->quiet;
		s->n_quiet = s->cap_quiet = l->n_quiet;
		if (!s->cap_win) {
			free(s->win);
			s->win = NULL;
		}
		if (!s->cap_quiet) {
			free(s->quiet);
			s->quiet = NULL;
		}
		e->n_windows += s->n_win;
		l->win = NULL;
		l->quiet = NULL;
	}
	for (size_t i = 0; i < rules_count(e); i++)
		e->st[i].dirty = false;
	e->dirty = false;
	rc = 0;
out:
	for (size_t i = 0; ls && i < k; i++) {
		free(ls[i].win);
		free(ls[i].quiet);
	}
	free(ls);
	free(names);
	tree_free(&ps.t);
	return rc;
}
