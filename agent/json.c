/*
 * json: exact integers in cJSON output. See json.h.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

#define JSON_INT_LIMIT 9007199254740992.0 /* 2^53 */

static char *int_text(int64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%lld", (long long)v);
	return strdup(buf);
}

static int one_to_raw(cJSON *it);

/* Convert every item of a sibling list. */
static int list_to_raw(cJSON *first)
{
	int rc = 0;

	for (cJSON *it = first; it; it = it->next) {
		if (one_to_raw(it) < 0)
			rc = -ENOMEM;
	}
	return rc;
}

static int one_to_raw(cJSON *it)
{
	double v;
	char *t;

	if (it->child && (cJSON_IsObject(it) || cJSON_IsArray(it)))
		return list_to_raw(it->child);
	if (!cJSON_IsNumber(it) || (it->type & cJSON_IsReference))
		return 0;
	v = it->valuedouble;
	if (!isfinite(v) || v != trunc(v) || fabs(v) > JSON_INT_LIMIT)
		return 0;
	t = int_text((int64_t)v);
	if (!t)
		return -ENOMEM;
	it->type = cJSON_Raw | (it->type & cJSON_StringIsConst);
	it->valuestring = t;
	return 0;
}

int json_ints_to_raw(cJSON *node)
{
	return node ? one_to_raw(node) : 0;
}

/* Decimal text of @v into @buf (at least 21 bytes); returns the length. */
static size_t fmt_int(char *buf, int64_t v)
{
	char tmp[24];
	uint64_t u = v < 0 ? -(uint64_t)v : (uint64_t)v;
	size_t n = 0, len = 0;

	do {
		tmp[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		buf[len++] = '-';
	while (n)
		buf[len++] = tmp[--n];
	return len;
}

static int write_number(struct dynbuf *b, double v)
{
	char buf[40];

	if (!isfinite(v))
		return -EINVAL;
	if (v == trunc(v) && fabs(v) <= JSON_INT_LIMIT)
		return dynbuf_add(b, buf, fmt_int(buf, (int64_t)v));
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(buf, sizeof(buf), "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	return dynbuf_adds(b, buf);
}

static int write_members(struct dynbuf *b, const cJSON *first, bool keys)
{
	int rc = 0;

	for (const cJSON *it = first; it && !rc; it = it->next) {
		if (it != first)
			rc = dynbuf_add(b, ",", 1);
		if (!rc && keys) {
			if (!it->string)
				return -EINVAL;
			rc = dynbuf_add_json_str(b, it->string);
			if (!rc)
				rc = dynbuf_add(b, ":", 1);
		}
		if (!rc)
			rc = json_write(b, it, false);
	}
	return rc;
}

int json_write(struct dynbuf *b, const cJSON *item, bool members_only)
{
	int rc;

	if (!item)
		return -EINVAL;
	switch (item->type & 0xff) {
	case cJSON_NULL:
		return dynbuf_add(b, "null", 4);
	case cJSON_False:
		return dynbuf_add(b, "false", 5);
	case cJSON_True:
		return dynbuf_add(b, "true", 4);
	case cJSON_Number:
		return write_number(b, item->valuedouble);
	case cJSON_String:
		return item->valuestring ? dynbuf_add_json_str(b, item->valuestring) : -EINVAL;
	case cJSON_Raw:
		return item->valuestring ? dynbuf_adds(b, item->valuestring) : -EINVAL;
	case cJSON_Array:
		rc = dynbuf_add(b, "[", 1);
		if (!rc)
			rc = write_members(b, item->child, false);
		return rc ? rc : dynbuf_add(b, "]", 1);
	case cJSON_Object:
		if (members_only)
			return write_members(b, item->child, true);
		rc = dynbuf_add(b, "{", 1);
		if (!rc)
			rc = write_members(b, item->child, true);
		return rc ? rc : dynbuf_add(b, "}", 1);
	default:
		return -EINVAL;
	}
}

cJSON *json_add_int(cJSON *obj, const char *key, int64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%lld", (long long)v);
	return cJSON_AddRawToObject(obj, key, buf);
}

int json_get_int(const cJSON *obj, const char *key, int64_t *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	char *end;
	long long x;

	if (!v)
		return -ENOENT;
	if (cJSON_IsNumber(v)) {
		if (!isfinite(v->valuedouble) || v->valuedouble != trunc(v->valuedouble))
			return -EINVAL;
		*out = (int64_t)v->valuedouble;
		return 0;
	}
	if (cJSON_IsRaw(v) && v->valuestring) {
		errno = 0;
		x = strtoll(v->valuestring, &end, 10);
		if (errno || *end || end == v->valuestring)
			return -EINVAL;
		*out = x;
		return 0;
	}
	return -EINVAL;
}

cJSON *json_ts_item(int64_t ms)
{
	char ts[TS_BUFSZ];

	if (ms <= 0)
		return cJSON_CreateNull();
	ts_format(ms, ts);
	return cJSON_CreateString(ts);
}
