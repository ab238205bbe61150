/*
 * pos: the POS jsonl line parser. See pos.h for the accepted input and the
 * output record.
 *
 * Checks run from the cheapest and most basic to the most specific: size,
 * NUL bytes, UTF-8, JSON syntax, then each field in document order of the
 * spec (type, receipt, till, ts, lines[i].{sku,qty,unit_price,amount}, total,
 * member). The first error found is reported.
 */
#include <math.h> /* isfinite() only: a builtin, no libm */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pos.h"
#include "util.h"

#define POS_QUOTE_MAX 40 /* bytes of a bad value echoed back in a message */

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
 * Fail at field @key of lines[@idx] (@idx >= 0) or of the top level (@idx < 0).
 * The path is only built on failure: the success path does no formatting.
 */
static void fail_at(struct pos_err *err, long idx, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void fail_at(struct pos_err *err, long idx, const char *key, const char *fmt, ...)
{
	va_list ap;

	if (idx < 0)
		str_copy(err->at, sizeof(err->at), key);
	else
		snprintf(err->at, sizeof(err->at), "lines[%ld].%s", idx, key);
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
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
 * cJSON turns the escape \u0000 into a NUL that silently truncates the
 * string. Find one by scanning the (already valid) JSON text: outside strings
 * a '"' opens one; inside, '\\' escapes the next byte and '"' closes it.
 * Returns the offset of the backslash or @len.
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

/*
 * The member @key of @obj in *@item (NULL when absent; JSON null counts as
 * absent). A key given twice is an error: which one the POS meant is unknown.
 */
static int member(const cJSON *obj, const char *key, long idx, const cJSON **item,
		  struct pos_err *err)
{
	const cJSON *found = NULL;
	const cJSON *c;

	cJSON_ArrayForEach(c, obj)
	{
		if (!c->string || strcmp(c->string, key) != 0)
			continue;
		if (found) {
			fail_at(err, idx, key, "duplicate key");
			return -1;
		}
		found = c;
	}
	*item = cJSON_IsNull(found) ? NULL : found;
	return 0;
}

/*
 * A string field: non-empty, at most POS_STR_MAX bytes, no control
 * characters. *@out is NULL when an optional field is absent.
 */
static int get_str(const cJSON *obj, const char *key, long idx, bool required, const char **out,
		   struct pos_err *err)
{
	const cJSON *it;
	size_t n;

	*out = NULL;
	if (member(obj, key, idx, &it, err) < 0)
		return -1;
	if (!it) {
		if (!required)
			return 0;
		fail_at(err, idx, key, "missing field");
		return -1;
	}
	if (!cJSON_IsString(it) || !it->valuestring) {
		fail_at(err, idx, key, "must be a string");
		return -1;
	}
	n = strlen(it->valuestring);
	if (n == 0) {
		fail_at(err, idx, key, "must not be empty");
		return -1;
	}
	if (n > POS_STR_MAX) {
		fail_at(err, idx, key, "is %zu bytes, over the %d-byte limit", n, POS_STR_MAX);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)it->valuestring[i];

		if (c < 0x20 || c == 0x7f) {
			fail_at(err, idx, key, "must not contain control characters");
			return -1;
		}
	}
	*out = it->valuestring;
	return 0;
}

enum int_kind { INT_MONEY, INT_QTY };

/*
 * An integer field within +-POS_MONEY_MAX (qty also != 0). The value is
 * judged as the double cJSON parsed: 1290.0 and 1.29e3 are 1290.
 * *@present tells whether an optional field was there.
 */
static int get_int(const cJSON *obj, const char *key, long idx, bool required, enum int_kind kind,
		   bool *present, int64_t *out, struct pos_err *err)
{
	const cJSON *it;
	char num[32];
	double v;

	*present = false;
	*out = 0;
	if (member(obj, key, idx, &it, err) < 0)
		return -1;
	if (!it) {
		if (!required)
			return 0;
		fail_at(err, idx, key, "missing field");
		return -1;
	}
	if (!cJSON_IsNumber(it)) {
		fail_at(err, idx, key, "must be a number, got %s",
			cJSON_IsString(it)   ? "a string"
			: cJSON_IsBool(it)   ? "a boolean"
			: cJSON_IsArray(it)  ? "an array"
			: cJSON_IsObject(it) ? "an object"
					     : "something else");
		return -1;
	}
	v = it->valuedouble;
	/* Written so that inf and NaN fail too. */
	if (!(v >= -(double)POS_MONEY_MAX && v <= (double)POS_MONEY_MAX)) {
		fail_at(err, idx, key, "out of range (at most +-%lld), got %s", POS_MONEY_MAX,
			isfinite(v) ? num_str(num, v) : "a number too large to represent");
		return -1;
	}
	/* |v| <= 10^12 < 2^53: the cast is exact for integers, and defined. */
	if ((double)(int64_t)v != v) {
		fail_at(err, idx, key, "must be an integer%s, got %s",
			kind == INT_MONEY ? " number of minor units" : "", num_str(num, v));
		return -1;
	}
	*out = (int64_t)v;
	if (kind == INT_QTY && *out == 0) {
		fail_at(err, idx, key, "must not be 0");
		return -1;
	}
	*present = true;
	return 0;
}

/* Build one output line from input lines[@i]; appends it to @arr. */
static int parse_sale_line(const cJSON *in, size_t i, cJSON *arr, struct pos_err *err)
{
	char prefix[24];
	int64_t qty, price, amount;
	const char *sku;
	bool present;
	cJSON *o;

	if (!cJSON_IsObject(in)) {
		snprintf(prefix, sizeof(prefix), "lines[%zu]", i);
		pos_fail(err, prefix, "must be an object");
		return -1;
	}
	if (get_str(in, "sku", (long)i, true, &sku, err) < 0)
		return -1;
	if (get_int(in, "qty", (long)i, true, INT_QTY, &present, &qty, err) < 0)
		return -1;
	if (get_int(in, "unit_price", (long)i, true, INT_MONEY, &present, &price, err) < 0)
		return -1;
	if (get_int(in, "amount", (long)i, false, INT_MONEY, &present, &amount, err) < 0)
		return -1;
	if (!present) {
		/* Each factor is within 10^12: the product may need 80 bits. */
		if (__builtin_mul_overflow(qty, price, &amount) || amount > POS_MONEY_MAX ||
		    amount < -POS_MONEY_MAX) {
			snprintf(prefix, sizeof(prefix), "lines[%zu]", i);
			pos_fail(err, prefix,
				 "amount (qty * unit_price) is out of range (at most +-%lld)",
				 POS_MONEY_MAX);
			return -1;
		}
	}

	o = cJSON_CreateObject();
	if (!o)
		goto err_oom;
	cJSON_AddItemToArray(arr, o);
	if (!cJSON_AddStringToObject(o, "sku", sku) ||
	    !cJSON_AddNumberToObject(o, "qty", (double)qty) ||
	    !cJSON_AddNumberToObject(o, "unit_price", (double)price) ||
	    !cJSON_AddNumberToObject(o, "amount", (double)amount))
		goto err_oom;
	return 0;

err_oom:
	pos_fail(err, "", "out of memory");
	return -1;
}

/* Validate the parsed object @in and build the normalized record. */
static cJSON *build(const cJSON *in, int64_t *ts_ms, struct pos_err *err)
{
	static const char *const kinds[] = {"sale", "refund", "void"};
	const char *type, *receipt, *till, *ts, *member_id;
	const cJSON *lines, *c;
	cJSON *out, *arr;
	char q[POS_QUOTE_MAX + 4];
	int64_t total;
	bool present;
	size_t i, n;

	if (get_str(in, "type", -1, true, &type, err) < 0)
		return NULL;
	for (i = 0; i < ARRAY_SIZE(kinds); i++) {
		if (strcmp(type, kinds[i]) == 0)
			break;
	}
	if (i == ARRAY_SIZE(kinds)) {
		pos_fail(err, "type", "must be one of sale, refund, void, got \"%s\"",
			 quote(q, type));
		return NULL;
	}
	if (get_str(in, "receipt", -1, true, &receipt, err) < 0 ||
	    get_str(in, "till", -1, false, &till, err) < 0 ||
	    get_str(in, "ts", -1, false, &ts, err) < 0)
		return NULL;
	if (ts && ts_parse(ts, ts_ms) < 0) {
		pos_fail(err, "ts", "must be an RFC 3339 timestamp, got \"%s\"", quote(q, ts));
		return NULL;
	}
	if (member(in, "lines", -1, &lines, err) < 0)
		return NULL;
	if (!lines) {
		pos_fail(err, "lines", "missing field");
		return NULL;
	}
	if (!cJSON_IsArray(lines)) {
		pos_fail(err, "lines", "must be an array");
		return NULL;
	}
	n = 0;
	cJSON_ArrayForEach(c, lines)
	{
		n++;
	}
	if (n == 0) {
		pos_fail(err, "lines", "must have at least 1 line");
		return NULL;
	}
	if (n > POS_LINES_MAX) {
		pos_fail(err, "lines", "too many lines: %zu, at most %d", n, POS_LINES_MAX);
		return NULL;
	}

	out = cJSON_CreateObject();
	if (!out)
		goto err_oom;
	if (!cJSON_AddStringToObject(out, "kind", type) ||
	    !cJSON_AddStringToObject(out, "receipt", receipt) ||
	    (till && !cJSON_AddStringToObject(out, "till", till)))
		goto err_oom_free;
	arr = cJSON_AddArrayToObject(out, "lines");
	if (!arr)
		goto err_oom_free;
	i = 0;
	cJSON_ArrayForEach(c, lines)
	{
		if (parse_sale_line(c, i++, arr, err) < 0)
			goto err_free;
	}
	if (get_int(in, "total", -1, true, INT_MONEY, &present, &total, err) < 0 ||
	    get_str(in, "member", -1, false, &member_id, err) < 0)
		goto err_free;
	if (!cJSON_AddNumberToObject(out, "total", (double)total) ||
	    (member_id && !cJSON_AddStringToObject(out, "member", member_id)))
		goto err_oom_free;
	return out;

err_oom_free:
	pos_fail(err, "", "out of memory");
err_free:
	cJSON_Delete(out);
	return NULL;
err_oom:
	pos_fail(err, "", "out of memory");
	return NULL;
}

cJSON *pos_parse_line(const char *line, size_t len, int64_t *ts_ms, struct pos_err *err)
{
	struct pos_err scratch;
	const char *p = line, *end = NULL;
	size_t n = len, skip = 0, off;
	int64_t ts = 0;
	cJSON *in, *out = NULL;

	if (!err)
		err = &scratch;
	err->at[0] = '\0';
	err->msg[0] = '\0';
	if (ts_ms)
		*ts_ms = 0;
	if (!line) {
		pos_fail(err, "", "no line");
		return NULL;
	}
	if (len > POS_LINE_MAX) {
		pos_fail(err, "", "line is %zu bytes, over the %d-byte limit", len, POS_LINE_MAX);
		return NULL;
	}
	if (memchr(line, '\0', len)) {
		off = (size_t)((const char *)memchr(line, '\0', len) - line);
		pos_fail(err, "", "NUL byte at byte %zu", off);
		return NULL;
	}
	off = utf8_bad_offset(line, len);
	if (off < len) {
		pos_fail(err, "", "invalid UTF-8 at byte %zu", off);
		return NULL;
	}
	if (n >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
		skip = 3; /* a byte order mark, as some Windows POS software writes */
	p += skip;
	n -= skip;
	for (off = 0; off < n && json_space(p[off]); off++)
		;
	if (off == n) {
		pos_fail(err, "", "empty line");
		return NULL;
	}

	in = cJSON_ParseWithLengthOpts(p, n, &end, 0);
	if (!in) {
		off = end && end >= p && end <= p + n ? (size_t)(end - p) : 0;
		pos_fail(err, "", "not valid JSON near byte %zu", off + skip);
		return NULL;
	}
	for (off = (size_t)(end - p); off < n && json_space(p[off]); off++)
		;
	if (off < n) {
		pos_fail(err, "", "unexpected data after the JSON value at byte %zu", off + skip);
		goto out;
	}
	off = escaped_nul_offset(p, n);
	if (off < n) {
		pos_fail(err, "", "escaped NUL (\\u0000) in a string at byte %zu", off + skip);
		goto out;
	}
	if (!cJSON_IsObject(in)) {
		pos_fail(err, "", "must be a JSON object");
		goto out;
	}
	out = build(in, &ts, err);
	if (out && ts_ms)
		*ts_ms = ts;
out:
	cJSON_Delete(in);
	return out;
}
