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

#include <stdint.h>

#include <cjson/cJSON.h>

/*
 * Turn every integral number in @node (recursively) with |v| <= 2^53 into a
 * raw item holding its decimal text. Returns 0 or -ENOMEM (the tree is then
 * partly converted, still valid).
 */
int json_ints_to_raw(cJSON *node);

/* Add @key: @v to @obj as exact decimal integer text. Returns the item or NULL. */
cJSON *json_add_int(cJSON *obj, const char *key, int64_t v);

/* Read an integer member (number or raw decimal). Returns 0, -ENOENT or -EINVAL. */
int json_get_int(const cJSON *obj, const char *key, int64_t *out);

#endif
