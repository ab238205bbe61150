/*
 * pos: the POS jsonl line parser. See pos.h for the accepted input and the
 * output record.
 *
 * Checks run from the cheapest and most basic to the most specific: size,
 * NUL bytes, UTF-8, JSON syntax (one pass of the jscan pull scanner over the
 * top-level object, noting where each known member is), then each field in
 * the order of the spec (type, receipt, till, ts, lines[i].{sku,qty,
 * unit_price,amount}, total, member). The first error found is reported.
 *
 * This runs for every sale, so it builds no tree and allocates nothing: the
 * record is written straight into the caller's buffer while the line is
 * validated, and rolled back if a later field turns out to be wrong.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jscan.h"
#include "pos.h"
#include "util.h"

#define POS_QUOTE_MAX 40 /* bytes of a bad value echoed back in a message */
#define NUM_TEXT_MAX 512 /* longest number literal judged as a double */

enum { F_TYPE, F_RECEIPT, F_TILL, F_TS, F_LINES, F_TOTAL, F_MEMBER, F_N };
static const char *const top_keys[F_N] = {"type",  "receipt", "till",  "ts",
					  "lines", "total",   "member"};
enum { L_SKU, L_QTY, L_PRICE, L_AMOUNT, L_N };
static const char *const line_keys[L_N] = {"sku", "qty", "unit_price", "amount"};

/* A member of an object as the first pass saw it. */
struct field {
	struct jscan_tok v; /* its value (type JSCAN_NULL counts as absent) */
	bool present;
	bool dup; /* given twice */
};

struct parse {
	const char *p; /* the JSON text (after a byte order mark) */
	size_t n;
	size_t skip; /* bytes skipped before p (the BOM), for offsets in messages */
	struct dynbuf *out;
	struct pos_err *err;
	struct pos_summary *sum; /* may be NULL */
	long idx; /* lines[idx] being checked, -1 for the top level */
};

static void pos_fail(struct pos_err *err, const char *at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void pos_fail(struct pos_err *err, const char *at, const char *fmt, ...)
{
	va_list ap;

	str_copy(err->at, sizeof(err->at), at);
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
}

/*
 * Fail at field @key of lines[ps->idx] (idx >= 0) or of the top level. The
 * path is only built on failure: the success path does no formatting.
 */
static int fail_at(struct parse *ps, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail_at(struct parse *ps, const char *key, const char *fmt, ...)
{
	struct pos_err *err = ps->err;
	va_list ap;

	if (ps->idx < 0)
		str_copy(err->at, sizeof(err->at), key);
	else
		snprintf(err->at, sizeof(err->at), "lines[%ld].%s", ps->idx, key);
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/*
 * Copy at most POS_QUOTE_MAX bytes of the (valid UTF-8) string @s into @buf,
 * cut at a character boundary, with "..." when shortened.
 */
static const char *quote(char buf[POS_QUOTE_MAX + 4], const char *s)
{
	size_t n = strlen(s);

	if (n <= POS_QUOTE_MAX) {
		memcpy(buf, s, n + 1);
		return buf;
	}
	n = POS_QUOTE_MAX;
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	memcpy(buf, s, n);
	memcpy(buf + n, "...", 4);
	return buf;
}

/* Shortest "%g" form of @v that reads back as the same double. */
static const char *num_str(char buf[32], double v)
{
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(buf, 32, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	return buf;
}

/* Offset of the first byte that does not start a valid UTF-8 sequence, or @len. */
static size_t utf8_bad_offset(const char *s, size_t len)
{
	size_t i = 0;

	if (utf8_valid(s, len))
		return len;
	while (i < len) {
		unsigned char c = (unsigned char)s[i];
		size_t n = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;

		if (n > len - i || !utf8_valid(s + i, n))
			return i;
		i += n;
	}
	return len;
}

static bool json_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/*
 * Offset of the backslash of the first escaped NUL (\u0000) in a string of
 * the (already valid) JSON text, or @len.
 */
static size_t escaped_nul_offset(const char *s, size_t len)
{
	bool in_str = false;

	for (size_t i = 0; i < len; i++) {
		if (!in_str) {
			in_str = s[i] == '"';
			continue;
		}
		if (s[i] == '"') {
			in_str = false;
		} else if (s[i] == '\\' && i + 1 < len) {
			if (s[i + 1] == 'u' && len - i >= 6 && memcmp(s + i + 2, "0000", 4) == 0)
				return i;
			i++;
		}
	}
	return len;
}

/* Index of key token @k in @keys, or -1. Keys are plain ASCII. */
static int key_index(const struct jscan_tok *k, const char *const *keys, int n)
{
	for (int i = 0; i < n; i++) {
		if (jscan_str_eq(k, keys[i], strlen(keys[i])))
			return i;
	}
	return -1;
}

/*
 * One pass over the members of the object whose '{' was just read: note the
 * known ones in @f (value tokens; containers are skipped after noting where
 * they start), skip the rest. Returns 0 or -EINVAL on a syntax error.
 */
static int scan_members(struct jscan *s, const char *const *keys, int nkeys, struct field *f)
{
	struct jscan_tok k, v;

	for (;;) {
		int i;

		if (jscan_next(s, &k) == JSCAN_OBJECT_END)
			return 0;
		if (k.type != JSCAN_KEY || jscan_next(s, &v) == JSCAN_ERROR)
			return -EINVAL;
		i = key_index(&k, keys, nkeys);
		if (i >= 0) {
			f[i].dup = f[i].present;
			if (!f[i].dup) {
				f[i].present = true;
				f[i].v = v;
			}
		}
		if (jscan_skip(s, &v) < 0)
			return -EINVAL;
	}
}

static int out_add(struct parse *ps, const char *s, size_t n)
{
	int rc = dynbuf_add(ps->out, s, n);

	if (rc < 0)
		pos_fail(ps->err, "", "record too large to store");
	return rc;
}

static int out_int(struct parse *ps, int64_t v)
{
	char buf[24], *e = buf + sizeof(buf), *q = e;
	uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;

	do {
		*--q = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		*--q = '-';
	return out_add(ps, q, (size_t)(e - q));
}

/*
 * A string field: non-empty, at most POS_STR_MAX bytes, no control
 * characters. The decoded text goes to @buf (POS_STR_MAX + 1 bytes);
 * *@present is false when an optional field is absent.
 */
static int get_str(struct parse *ps, const struct field *f, const char *key, bool required,
		   char *buf, bool *present)
{
	const struct jscan_tok *t = &f->v;

	*present = false;
	buf[0] = '\0';
	if (f->dup)
		return fail_at(ps, key, "duplicate key");
	if (!f->present || t->type == JSCAN_NULL) {
		if (!required)
			return 0;
		return fail_at(ps, key, "missing field");
	}
	if (t->type != JSCAN_STRING)
		return fail_at(ps, key, "must be a string");
	if (t->dlen == 0)
		return fail_at(ps, key, "must not be empty");
	if (t->dlen > POS_STR_MAX)
		return fail_at(ps, key, "is %zu bytes, over the %d-byte limit", t->dlen,
			       POS_STR_MAX);
	jscan_str_decode(t, buf, POS_STR_MAX + 1);
	for (size_t i = 0; i < t->dlen; i++) {
		unsigned char c = (unsigned char)buf[i];

		if (c < 0x20 || c == 0x7f)
			return fail_at(ps, key, "must not contain control characters");
	}
	*present = true;
	return 0;
}

/* Append "key":"value" for a string checked by get_str (escaped only if needed). */
static int out_str(struct parse *ps, const char *member, const struct jscan_tok *t,
		   const char *decoded)
{
	int rc = out_add(ps, member, strlen(member));

	if (rc)
		return rc;
	if (!(t->flags & JSCAN_F_ESCAPED)) {
		/* No escapes and no control characters: the raw text is valid JSON as is. */
		rc = out_add(ps, "\"", 1);
		if (!rc)
			rc = out_add(ps, t->p, t->len);
		return rc ? rc : out_add(ps, "\"", 1);
	}
	rc = dynbuf_add_json_str(ps->out, decoded);
	if (rc < 0)
		pos_fail(ps->err, "", "record too large to store");
	return rc;
}

static const char *kind_name(enum jscan_type t)
{
	switch (t) {
	case JSCAN_STRING:
		return "a string";
	case JSCAN_TRUE:
	case JSCAN_FALSE:
		return "a boolean";
	case JSCAN_ARRAY:
		return "an array";
	case JSCAN_OBJECT:
		return "an object";
	default:
		return "something else";
	}
}

enum int_kind { INT_MONEY, INT_QTY };

/*
 * An integer field within +-POS_MONEY_MAX (qty also != 0). The value is
 * judged as the double the literal denotes: 1290.0 and 1.29e3 are 1290.
 * *@present tells whether an optional field was there.
 */
static int get_int(struct parse *ps, const struct field *f, const char *key, bool required,
		   enum int_kind kind, bool *present, int64_t *out)
{
	const struct jscan_tok *t = &f->v;
	char num[32], text[NUM_TEXT_MAX];
	double v;

	*present = false;
	*out = 0;
	if (f->dup)
		return fail_at(ps, key, "duplicate key");
	if (!f->present || t->type == JSCAN_NULL) {
		if (!required)
			return 0;
		return fail_at(ps, key, "missing field");
	}
	if (t->type != JSCAN_NUMBER)
		return fail_at(ps, key, "must be a number, got %s", kind_name(t->type));
	/* The common case: a plain integer literal, exact without a double. */
	if (!(t->flags & (JSCAN_F_FRAC | JSCAN_F_EXP)) && t->len <= 15 &&
	    jscan_int64(t, out) == 0) {
		v = (double)*out;
	} else {
		if (t->len >= sizeof(text))
			return fail_at(ps, key,
				       "out of range (at most +-%lld), got a %zu-digit number",
				       POS_MONEY_MAX, t->len);
		memcpy(text, t->p, t->len);
		text[t->len] = '\0';
		v = strtod(text, NULL);
	}
	/* Written so that inf and NaN fail too. */
	if (!(v >= -(double)POS_MONEY_MAX && v <= (double)POS_MONEY_MAX))
		return fail_at(ps, key, "out of range (at most +-%lld), got %s", POS_MONEY_MAX,
			       v - v == 0 ? num_str(num, v) : "a number too large to represent");
	/* |v| <= 10^12 < 2^53: the cast is exact for integers, and defined. */
	if ((double)(int64_t)v != v)
		return fail_at(ps, key, "must be an integer%s, got %s",
			       kind == INT_MONEY ? " number of minor units" : "", num_str(num, v));
	*out = (int64_t)v;
	if (kind == INT_QTY && *out == 0)
		return fail_at(ps, key, "must not be 0");
	*present = true;
	return 0;
}

/* Check lines[@i] (its '{' or other first token is @t) and append its record. */
static int parse_sale_line(struct parse *ps, struct jscan *s, const struct jscan_tok *t, size_t i)
{
	struct field f[L_N];
	char sku[POS_STR_MAX + 1], prefix[24];
	int64_t qty, price, amount;
	bool present;
	int rc;

	ps->idx = (long)i;
	if (t->type != JSCAN_OBJECT) {
		snprintf(prefix, sizeof(prefix), "lines[%zu]", i);
		pos_fail(ps->err, prefix, "must be an object");
		return -EINVAL;
	}
	memset(f, 0, sizeof(f));
	if (scan_members(s, line_keys, L_N, f) < 0)
		return -EINVAL; /* ALWAYS: the first pass checked the syntax */
	if ((rc = get_str(ps, &f[L_SKU], "sku", true, sku, &present)) ||
	    (rc = get_int(ps, &f[L_QTY], "qty", true, INT_QTY, &present, &qty)) ||
	    (rc = get_int(ps, &f[L_PRICE], "unit_price", true, INT_MONEY, &present, &price)) ||
	    (rc = get_int(ps, &f[L_AMOUNT], "amount", false, INT_MONEY, &present, &amount)))
		return rc;
	if (!present) {
		/* Each factor is within 10^12: the product may need 80 bits. */
		if (__builtin_mul_overflow(qty, price, &amount) || amount > POS_MONEY_MAX ||
		    amount < -POS_MONEY_MAX) {
			snprintf(prefix, sizeof(prefix), "lines[%zu]", i);
			pos_fail(ps->err, prefix,
				 "amount (qty * unit_price) is out of range (at most +-%lld)",
				 POS_MONEY_MAX);
			return -EINVAL;
		}
	}
	if (ps->sum && ps->sum->items && i < ps->sum->items_cap) {
		struct pos_item *it = &ps->sum->items[i];

		memcpy(it->sku, sku, strlen(sku) + 1);
		it->unit_price = price;
		it->qty = qty;
		ps->sum->n_items = i + 1;
	}
	if ((rc = out_add(ps, i ? ",{" : "{", i ? 2 : 1)) ||
	    (rc = out_str(ps, "\"sku\":", &f[L_SKU].v, sku)) ||
	    (rc = out_add(ps, ",\"qty\":", 7)) || (rc = out_int(ps, qty)) ||
	    (rc = out_add(ps, ",\"unit_price\":", 14)) || (rc = out_int(ps, price)) ||
	    (rc = out_add(ps, ",\"amount\":", 10)) || (rc = out_int(ps, amount)) ||
	    (rc = out_add(ps, "}", 1)))
		return rc;
	return 0;
}

/*
 * "lines": check every element in order, writing the output array. The
 * count rules win over an element's error, as if counted beforehand.
 */
static int parse_lines(struct parse *ps, const struct field *f)
{
	struct jscan s;
	struct jscan_tok t;
	struct pos_err first;
	size_t n = 0;
	int rc, bad = 0;

	ps->idx = -1;
	if (f->dup)
		return fail_at(ps, "lines", "duplicate key");
	if (!f->present || f->v.type == JSCAN_NULL)
		return fail_at(ps, "lines", "missing field");
	if (f->v.type != JSCAN_ARRAY)
		return fail_at(ps, "lines", "must be an array");
	/* A scanner over just the array, which the first pass found well-formed. */
	jscan_init(&s, f->v.p, ps->n - (size_t)(f->v.p - ps->p), 0);
	jscan_next(&s, &t);
	rc = out_add(ps, ",\"lines\":[", 10);
	if (rc)
		return rc;
	while (jscan_next(&s, &t) != JSCAN_ARRAY_END) {
		if (t.type == JSCAN_ERROR || t.type == JSCAN_EOF)
			return fail_at(ps, "lines", "malformed"); /* NEVER: checked already */
		if (bad || ++n > POS_LINES_MAX) {
			n += bad ? 1 : 0;
			jscan_skip(&s, &t);
			continue;
		}
		rc = parse_sale_line(ps, &s, &t, n - 1);
		if (rc == -EINVAL) {
			/* Remember it; an over-long array would still be the error. */
			first = *ps->err;
			bad = rc;
			if (t.type != JSCAN_OBJECT)
				jscan_skip(&s, &t);
			continue;
		}
		if (rc)
			return rc;
	}
	ps->idx = -1;
	if (n == 0)
		return fail_at(ps, "lines", "must have at least 1 line");
	if (n > POS_LINES_MAX)
		return fail_at(ps, "lines", "too many lines: %zu, at most %d", n, POS_LINES_MAX);
	if (bad) {
		*ps->err = first;
		return bad;
	}
	return out_add(ps, "]", 1);
}

/* Check the fields in spec order and write the record (members only). */
static int build(struct parse *ps, const struct field *f, struct pos_summary *sum)
{
	static const char *const kinds[] = {"sale", "refund", "void"};
	char type[POS_STR_MAX + 1], receipt[POS_STR_MAX + 1], till[POS_STR_MAX + 1];
	char ts[POS_STR_MAX + 1], member[POS_STR_MAX + 1], q[POS_QUOTE_MAX + 4];
	bool has_till, has_ts, has_member, present;
	int64_t total, ts_ms = 0;
	size_t k;
	int rc;

	if ((rc = get_str(ps, &f[F_TYPE], "type", true, type, &present)))
		return rc;
	for (k = 0; k < ARRAY_SIZE(kinds); k++) {
		if (strcmp(type, kinds[k]) == 0)
			break;
	}
	if (k == ARRAY_SIZE(kinds)) {
		pos_fail(ps->err, "type", "must be one of sale, refund, void, got \"%s\"",
			 quote(q, type));
		return -EINVAL;
	}
	if ((rc = get_str(ps, &f[F_RECEIPT], "receipt", true, receipt, &present)) ||
	    (rc = get_str(ps, &f[F_TILL], "till", false, till, &has_till)) ||
	    (rc = get_str(ps, &f[F_TS], "ts", false, ts, &has_ts)))
		return rc;
	if (has_ts && ts_parse(ts, &ts_ms) < 0) {
		pos_fail(ps->err, "ts", "must be an RFC 3339 timestamp, got \"%s\"", quote(q, ts));
		return -EINVAL;
	}
	if ((rc = out_add(ps, "\"kind\":\"", 8)) ||
	    (rc = out_add(ps, kinds[k], strlen(kinds[k]))) || (rc = out_add(ps, "\"", 1)) ||
	    (rc = out_str(ps, ",\"receipt\":", &f[F_RECEIPT].v, receipt)) ||
	    (has_till && (rc = out_str(ps, ",\"till\":", &f[F_TILL].v, till))))
		return rc;
	if ((rc = parse_lines(ps, &f[F_LINES])))
		return rc;
	if ((rc = get_int(ps, &f[F_TOTAL], "total", true, INT_MONEY, &present, &total)) ||
	    (rc = get_str(ps, &f[F_MEMBER], "member", false, member, &has_member)))
		return rc;
	if ((rc = out_add(ps, ",\"total\":", 9)) || (rc = out_int(ps, total)) ||
	    (has_member && (rc = out_str(ps, ",\"member\":", &f[F_MEMBER].v, member))))
		return rc;
	if (sum) {
		sum->kind = kinds[k];
		str_copy(sum->receipt, sizeof(sum->receipt), receipt);
		sum->total = total;
		sum->ts_ms = ts_ms;
	}
	return 0;
}

int pos_parse_line(const char *line, size_t len, struct dynbuf *out, struct pos_summary *sum,
		   struct pos_err *err)
{
	struct pos_err scratch;
	struct field f[F_N];
	struct parse ps;
	struct jscan s;
	struct jscan_tok t;
	size_t off, start;
	int rc;

	if (!err)
		err = &scratch;
	err->at[0] = '\0';
	err->msg[0] = '\0';
	if (!line || !out) {
		pos_fail(err, "", "no line");
		return -EINVAL;
	}
	if (len > POS_LINE_MAX) {
		pos_fail(err, "", "line is %zu bytes, over the %d-byte limit", len, POS_LINE_MAX);
		return -EINVAL;
	}
	if (memchr(line, '\0', len)) {
		off = (size_t)((const char *)memchr(line, '\0', len) - line);
		pos_fail(err, "", "NUL byte at byte %zu", off);
		return -EINVAL;
	}
	off = utf8_bad_offset(line, len);
	if (off < len) {
		pos_fail(err, "", "invalid UTF-8 at byte %zu", off);
		return -EINVAL;
	}
	memset(&ps, 0, sizeof(ps));
	ps.p = line;
	ps.n = len;
	ps.out = out;
	ps.err = err;
	ps.sum = sum;
	ps.idx = -1;
	if (sum)
		sum->n_items = 0;
	if (len >= 3 && memcmp(line, "\xef\xbb\xbf", 3) == 0)
		ps.skip = 3; /* a byte order mark, as some Windows POS software writes */
	ps.p += ps.skip;
	ps.n -= ps.skip;
	for (off = 0; off < ps.n && json_space(ps.p[off]); off++)
		;
	if (off == ps.n) {
		pos_fail(err, "", "empty line");
		return -EINVAL;
	}

	/* First pass: the syntax of the whole line, and where the known members are. */
	memset(f, 0, sizeof(f));
	jscan_init(&s, ps.p, ps.n, 0);
	jscan_next(&s, &t);
	if (t.type == JSCAN_OBJECT)
		rc = scan_members(&s, top_keys, F_N, f);
	else
		rc = t.type == JSCAN_ERROR ? -EINVAL : jscan_skip(&s, &t);
	if (rc < 0) {
		jscan_error(&s, &off);
		/* Trailing data is reported as such, like before (cf. the scan below). */
		pos_fail(err, "", "not valid JSON near byte %zu", off + ps.skip);
		return -EINVAL;
	}
	for (off = s.pos; off < ps.n && json_space(ps.p[off]); off++)
		;
	if (off < ps.n) {
		pos_fail(err, "", "unexpected data after the JSON value at byte %zu",
			 off + ps.skip);
		return -EINVAL;
	}
	off = escaped_nul_offset(ps.p, ps.n);
	if (off < ps.n) {
		pos_fail(err, "", "escaped NUL (\\u0000) in a string at byte %zu", off + ps.skip);
		return -EINVAL;
	}
	if (t.type != JSCAN_OBJECT) {
		pos_fail(err, "", "must be a JSON object");
		return -EINVAL;
	}

	start = out->len;
	rc = build(&ps, f, sum);
	if (rc < 0) {
		/* Nothing of a rejected line stays in the caller's buffer. */
		out->len = start;
		if (out->buf)
			out->buf[start] = '\0';
	}
	return rc;
}
