/*
 * test_json: exact integers in JSON output. json_write must print seqs and
 * money as plain integers (cJSON's own printer gives 1.795e+15), keep other
 * numbers exact, escape strings, write members only on request, refuse
 * NaN/inf, and respect the buffer maximum; json_ints_to_raw does the same
 * for trees printed by cJSON.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "json.h"
#include "util.h"

static char *write_str(const cJSON *it, bool members_only)
{
	struct dynbuf b;
	char *out;

	dynbuf_init(&b, 4096);
	assert_int_equal(json_write(&b, it, members_only), 0);
	out = strdup(b.len ? b.buf : "");
	dynbuf_free(&b);
	return out;
}

static void test_integers_exact(void **state)
{
	cJSON *o = cJSON_Parse("{\"seq\":1795425203783000,\"neg\":-1000000000000,"
			       "\"zero\":0,\"max\":9007199254740992,\"f\":12.5,\"tiny\":1e-7}");
	char *s;

	assert_non_null(o);
	s = write_str(o, false);
	assert_string_equal(s, "{\"seq\":1795425203783000,\"neg\":-1000000000000,\"zero\":0,"
			       "\"max\":9007199254740992,\"f\":12.5,\"tiny\":1e-07}");
	free(s);
	cJSON_Delete(o);
}

static void test_nested_members_and_escapes(void **state)
{
	cJSON *o =
		cJSON_Parse("{\"kind\":\"sale\",\"lines\":[{\"sku\":\"a\\\"b\\\\c\\n\","
			    "\"qty\":2}],\"ok\":true,\"no\":false,\"n\":null,\"e\":{},\"a\":[]}");
	char *s;

	assert_non_null(o);
	s = write_str(o, true);
	assert_string_equal(s, "\"kind\":\"sale\",\"lines\":[{\"sku\":\"a\\\"b\\\\c\\n\","
			       "\"qty\":2}],\"ok\":true,\"no\":false,\"n\":null,\"e\":{},\"a\":[]");
	free(s);
	/* The full form parses back to an equal tree. */
	s = write_str(o, false);
	{
		cJSON *back = cJSON_Parse(s);

		assert_non_null(back);
		assert_true(cJSON_Compare(o, back, true));
		cJSON_Delete(back);
	}
	free(s);
	cJSON_Delete(o);
}

static void test_refuses_nan_and_respects_max(void **state)
{
	cJSON *o = cJSON_CreateObject();
	struct dynbuf b;

	cJSON_AddNumberToObject(o, "x", NAN);
	dynbuf_init(&b, 4096);
	assert_int_equal(json_write(&b, o, false), -EINVAL);
	dynbuf_free(&b);
	cJSON_Delete(o);

	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "long", "0123456789012345678901234567890123456789");
	dynbuf_init(&b, 16);
	assert_int_equal(json_write(&b, o, false), -EMSGSIZE);
	dynbuf_free(&b);
	cJSON_Delete(o);
}

static void test_ints_to_raw(void **state)
{
	cJSON *o = cJSON_Parse("{\"a\":[1795425203783000,{\"b\":100000000000}],\"c\":0.5}");
	char *s;
	int64_t v = 0;

	assert_non_null(o);
	assert_int_equal(json_ints_to_raw(o), 0);
	s = cJSON_PrintUnformatted(o);
	assert_string_equal(s, "{\"a\":[1795425203783000,{\"b\":100000000000}],\"c\":0.5}");
	free(s);
	assert_int_equal(json_get_int(cJSON_GetArrayItem(cJSON_GetObjectItem(o, "a"), 1), "b", &v),
			 0);
	assert_int_equal(v, 100000000000LL);
	assert_int_equal(json_get_int(o, "c", &v), -EINVAL);
	assert_int_equal(json_get_int(o, "zz", &v), -ENOENT);
	cJSON_Delete(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_integers_exact),
		cmocka_unit_test(test_nested_members_and_escapes),
		cmocka_unit_test(test_refuses_nan_and_respects_max),
		cmocka_unit_test(test_ints_to_raw),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
