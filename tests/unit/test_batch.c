/*
 * test_batch: building MQTT messages from a real outbox (SQLite file in a
 * private temporary directory): one type per message, seqs ascending and
 * contiguous, the event and byte limits (an oversize event goes alone), a
 * payload that parses as the documented JSON, and continuation after a
 * delivered range is deleted.
 */
#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "batch.h"
#include "log.h"
#include "store.h"
#include "util.h"

struct fixture {
	char dir[PATH_MAX];
	char path[PATH_MAX];
	struct store *s;
	struct batch b;
};

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(p);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct store_opts o = {.sync_full = false};

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_batch-XXXXXX");
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	snprintf(f->path, sizeof(f->path), "%s/shelfd.db", f->dir);
	o.path = f->path;
	if (store_open(&o, &f->s, NULL) != 0) {
		free(f);
		return -1;
	}
	batch_init(&f->b);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	batch_free(&f->b);
	store_close(f->s);
	nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/* Append an event of @type whose body is about @len bytes (at least ~50). */
static int64_t add(struct store *s, const char *type, int i, size_t len)
{
	char body[8192];
	int n;
	int64_t seq = 0;

	assert_true(len < sizeof(body));
	n = snprintf(body, sizeof(body),
		     "{\"ts\":\"2026-11-23T02:00:00.120Z\",\"type\":\"%s\",\"i\":%d", type, i);
	if ((size_t)n + 10 < len) {
		size_t pad = len - (size_t)n - 10;

		n += snprintf(body + n, sizeof(body) - (size_t)n, ",\"pad\":\"");
		memset(body + n, 'p', pad);
		n += (int)pad;
		body[n++] = '"';
	}
	body[n++] = '}';
	body[n] = '\0';
	assert_int_equal(store_append(s, type, body, (size_t)n, 1000 + i, &seq), 0);
	return seq;
}

/*
 * Parse the payload and check the envelope; return the events array's seqs
 * in @seqs (and check each event's type and "i" member survived).
 */
static size_t parse_payload(const struct batch *b, const char *type, int64_t *seqs, size_t max)
{
	cJSON *root = cJSON_ParseWithLength(b->payload.buf, b->payload.len);
	const cJSON *ev, *e;
	size_t n = 0;

	assert_non_null(root);
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(root, "store")->valuestring, "S042");
	ev = cJSON_GetObjectItemCaseSensitive(root, "events");
	assert_true(cJSON_IsArray(ev));
	cJSON_ArrayForEach(e, ev)
	{
		const cJSON *seq = cJSON_GetObjectItemCaseSensitive(e, "seq");
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(e, "type");

		assert_true(cJSON_IsNumber(seq));
		if (t)
			assert_string_equal(t->valuestring, type);
		assert_true(n < max);
		seqs[n++] = (int64_t)seq->valuedouble;
	}
	cJSON_Delete(root);
	return n;
}

static void test_one_type_ascending(void **state)
{
	struct fixture *f = *state;
	int64_t sales[10], got[64];
	int64_t after;

	for (int i = 0; i < 10; i++) {
		sales[i] = add(f->s, "sale", i, 120);
		add(f->s, "visit", i, 80);
		if (i % 2)
			add(f->s, "label", i, 60);
	}
	assert_int_equal(store_commit(f->s), 0);

	assert_int_equal(batch_build(f->s, "S042", "sale", 0, 100, 65536, &f->b), 10);
	assert_string_equal(f->b.type, "sale");
	assert_int_equal(f->b.count, 10);
	assert_int_equal(f->b.first_seq, sales[0]);
	assert_int_equal(f->b.last_seq, sales[9]);
	assert_int_equal(parse_payload(&f->b, "sale", got, 64), 10);
	for (int i = 0; i < 10; i++)
		assert_int_equal(got[i], sales[i]);
	assert_int_equal(strlen(f->b.payload.buf), f->b.payload.len);

	/* From the middle: exactly the rows in (after, last]. */
	after = sales[4];
	assert_int_equal(batch_build(f->s, "S042", "sale", after, 100, 65536, &f->b), 5);
	assert_int_equal(f->b.first_seq, sales[5]);
	assert_int_equal(f->b.last_seq, sales[9]);
	assert_int_equal(parse_payload(&f->b, "sale", got, 64), 5);
	for (int i = 0; i < 5; i++)
		assert_int_equal(got[i], sales[5 + i]);

	/* The other types get their own messages. */
	assert_int_equal(batch_build(f->s, "S042", "visit", 0, 100, 65536, &f->b), 10);
	assert_int_equal(parse_payload(&f->b, "visit", got, 64), 10);
	assert_int_equal(batch_build(f->s, "S042", "label", 0, 100, 65536, &f->b), 5);
	assert_string_equal(f->b.type, "label");
}

static void test_max_events(void **state)
{
	struct fixture *f = *state;
	int64_t seq[7], got[16];

	for (int i = 0; i < 7; i++)
		seq[i] = add(f->s, "sale", i, 100);
	assert_int_equal(store_commit(f->s), 0);

	assert_int_equal(batch_build(f->s, "S042", "sale", 0, 3, 65536, &f->b), 3);
	assert_int_equal(f->b.first_seq, seq[0]);
	assert_int_equal(f->b.last_seq, seq[2]);
	assert_int_equal(parse_payload(&f->b, "sale", got, 16), 3);
	assert_int_equal(batch_build(f->s, "S042", "sale", f->b.last_seq, 3, 65536, &f->b), 3);
	assert_int_equal(f->b.first_seq, seq[3]);
	assert_int_equal(batch_build(f->s, "S042", "sale", f->b.last_seq, 3, 65536, &f->b), 1);
	assert_int_equal(f->b.first_seq, seq[6]);
	assert_int_equal(f->b.last_seq, seq[6]);
	assert_int_equal(batch_build(f->s, "S042", "sale", f->b.last_seq, 3, 65536, &f->b), 0);
	assert_int_equal(f->b.count, 0);
}

/* Walking the outbox in max_bytes messages covers every row once, in order. */
static void test_max_bytes(void **state)
{
	struct fixture *f = *state;
	const size_t max = 700;
	int64_t seq[40], got[64];
	int64_t after = 0;
	size_t seen = 0;
	int n, rounds = 0;

	for (int i = 0; i < 40; i++)
		seq[i] = add(f->s, "visit", i, 60 + (size_t)(i * 7) % 150);
	assert_int_equal(store_commit(f->s), 0);

	while ((n = batch_build(f->s, "S042", "visit", after, 1000, max, &f->b)) > 0) {
		size_t k = parse_payload(&f->b, "visit", got, 64);

		assert_int_equal(k, (size_t)n);
		assert_true(f->b.payload.len <= max);
		assert_true(n < 40);
		for (size_t i = 0; i < k; i++)
			assert_int_equal(got[i], seq[seen + i]);
		assert_int_equal(f->b.first_seq, got[0]);
		assert_int_equal(f->b.last_seq, got[k - 1]);
		seen += k;
		after = f->b.last_seq;
		rounds++;
	}
	assert_int_equal(n, 0);
	assert_int_equal(seen, 40);
	assert_true(rounds > 1);
}

/* An event larger than max_bytes goes alone; the ones around it are not held back. */
static void test_oversize_event_alone(void **state)
{
	struct fixture *f = *state;
	const size_t max = 500;
	int64_t small1, big, small2, got[8];

	small1 = add(f->s, "sale", 1, 100);
	big = add(f->s, "sale", 2, 3000);
	small2 = add(f->s, "sale", 3, 100);
	assert_int_equal(store_commit(f->s), 0);

	assert_int_equal(batch_build(f->s, "S042", "sale", 0, 100, max, &f->b), 1);
	assert_int_equal(f->b.last_seq, small1);
	assert_true(f->b.payload.len <= max);

	assert_int_equal(batch_build(f->s, "S042", "sale", small1, 100, max, &f->b), 1);
	assert_int_equal(f->b.first_seq, big);
	assert_int_equal(f->b.last_seq, big);
	assert_true(f->b.payload.len > max);
	assert_int_equal(parse_payload(&f->b, "sale", got, 8), 1);
	assert_int_equal(got[0], big);

	assert_int_equal(batch_build(f->s, "S042", "sale", big, 100, max, &f->b), 1);
	assert_int_equal(f->b.first_seq, small2);
	assert_true(f->b.payload.len <= max);
}

/* "{}" bodies become {"seq":N}; members are kept verbatim otherwise. */
static void test_payload_shape(void **state)
{
	struct fixture *f = *state;
	int64_t a, b, c;
	char want[256];
	cJSON *root, *e;

	assert_int_equal(store_append(f->s, "alert", "{}", 2, 0, &a), 0);
	assert_int_equal(store_append(f->s, "alert", "{ }", 3, 0, &b), 0);
	assert_int_equal(store_append(f->s, "alert", "{\"x\":\"q\\\"\"}", 11, 0, &c), 0);
	assert_int_equal(store_commit(f->s), 0);

	assert_int_equal(batch_build(f->s, "S-1_x\"", "alert", 0, 10, 4096, &f->b), 3);
	snprintf(want, sizeof(want),
		 "{\"store\":\"S-1_x\\\"\",\"events\":[{\"seq\":%" PRId64 "},{\"seq\":%" PRId64
		 "},{\"seq\":%" PRId64 ",\"x\":\"q\\\"\"}]}",
		 a, b, c);
	assert_string_equal(f->b.payload.buf, want);
	root = cJSON_Parse(f->b.payload.buf);
	assert_non_null(root);
	e = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "events"), 2);
	assert_string_equal(cJSON_GetObjectItem(e, "x")->valuestring, "q\"");
	cJSON_Delete(root);
}

static void test_empty_and_uncommitted(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(batch_build(f->s, "S042", "sale", 0, 100, 4096, &f->b), 0);
	assert_int_equal(f->b.count, 0);
	assert_int_equal(f->b.payload.len, 0);

	/* Not committed yet: not sent (nothing leaves before it is durable). */
	add(f->s, "sale", 1, 100);
	assert_int_equal(batch_build(f->s, "S042", "sale", 0, 100, 4096, &f->b), 0);
	assert_int_equal(store_commit(f->s), 0);
	assert_int_equal(batch_build(f->s, "S042", "sale", 0, 100, 4096, &f->b), 1);

	/* Bad arguments. */
	assert_int_equal(batch_build(f->s, "S042", "sale", 0, 0, 4096, &f->b), -EINVAL);
	assert_int_equal(batch_build(f->s, "S042", "sale", 0, 10, 0, &f->b), -EINVAL);
	assert_int_equal(batch_build(f->s, "S042", "a-type-name-that-is-far-too-long-to-fit", 0, 10,
				     4096, &f->b),
			 -EINVAL);
}

/* The PUBACK path: delete (first, last], and the next message starts after it. */
static void test_after_delete(void **state)
{
	struct fixture *f = *state;
	int64_t seq[6];

	for (int i = 0; i < 6; i++) {
		seq[i] = add(f->s, "sale", i, 100);
		add(f->s, "visit", i, 100);
	}
	assert_int_equal(store_commit(f->s), 0);

	assert_int_equal(batch_build(f->s, "S042", "sale", 0, 4, 65536, &f->b), 4);
	assert_int_equal(store_delete_range(f->s, "sale", f->b.first_seq, f->b.last_seq), 4);
	assert_int_equal(store_commit(f->s), 0);

	/* Even from after_seq 0 (e.g. after a restart) the next batch starts after it. */
	assert_int_equal(batch_build(f->s, "S042", "sale", 0, 100, 65536, &f->b), 2);
	assert_int_equal(f->b.first_seq, seq[4]);
	assert_int_equal(f->b.last_seq, seq[5]);
	assert_int_equal(batch_build(f->s, "S042", "visit", 0, 100, 65536, &f->b), 6);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_one_type_ascending, setup, teardown),
		cmocka_unit_test_setup_teardown(test_max_events, setup, teardown),
		cmocka_unit_test_setup_teardown(test_max_bytes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oversize_event_alone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_payload_shape, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_and_uncommitted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_after_delete, setup, teardown),
	};

	log_init("test_batch", LOG_LVL_WARN, false);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
