/*
 * json: cJSON helpers shared by the daemon and the CLI.
 *
 * cJSON prints every number through "%g", so 1795425203783000 (a seq) or
 * 100000000000 (money in minor units) would leave as 1.795425203783e+15 or
 * 1e+11: valid JSON, but not the integers the contracts promise.
 * json_ints_to_raw() rewrites integral numbers as raw decimal text first.
 */
#ifndef SHELF_JSON_H
#define SHELF_JSON_H

#include <stdbool.h>
#include <stdint.h>

#include "util.h"

#include <cjson/cJSON.h>

/*
 * Turn every integral number in @node (recursively) with |v| <= 2^53 into a
 * raw item holding its decimal text. Returns 0 or -ENOMEM (the tree is then
 * partly converted, still valid).
 */
int json_ints_to_raw(cJSON *node);

/*
 * Append the compact JSON text of @item to @b, integral numbers (|v| <= 2^53)
 * as exact decimal integers, others as the shortest "%.17g" that reads back.
 * With @members_only and an object @item, only its members are written
 * ("a":1,"b":2 without braces). Returns 0, -EMSGSIZE (past the buffer's
 * maximum), -ENOMEM, or -EINVAL (NaN/inf, invalid item).
 */
int json_write(struct dynbuf *b, const cJSON *item, bool members_only);

/* Add @key: @v to @obj as exact decimal integer text. Returns the item or NULL. */
cJSON *json_add_int(cJSON *obj, const char *key, int64_t v);

/* Read an integer member (number or raw decimal). Returns 0, -ENOENT or -EINVAL. */
int json_get_int(const cJSON *obj, const char *key, int64_t *out);
/* An RFC 3339 timestamp string for @ms (epoch ms), or null when @ms <= 0 ("never"). */
cJSON *json_ts_item(int64_t ms);

#endif
