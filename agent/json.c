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
