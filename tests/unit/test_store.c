/*
 * test_store: the outbox on real SQLite files in a private temporary
 * directory: durability across reopen and crashes, seq monotonicity, group
 * commit, exact range deletes, the byte quota and its drop accounting,
 * recovery from damaged files, refusal of newer schemas, stats.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
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
#include <sqlite3.h>

#include "log.h"
#include "store.h"
#include "util.h"

struct fixture {
	char dir[PATH_MAX];
	char path[PATH_MAX];
};

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(p);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_store-XXXXXX");
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	snprintf(f->path, sizeof(f->path), "%s/shelfd.db", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static struct store *open_ok(const char *path, uint64_t max_bytes)
{
	struct store_opts o = {.path = path, .sync_full = true, .max_bytes = max_bytes};
	struct store_open_report rep;
	struct store *s = NULL;

	assert_int_equal(store_open(&o, &s, &rep), 0);
	assert_non_null(s);
	assert_false(rep.recreated);
	return s;
}

/* An event body of exactly @len bytes (len >= 64): {"ts":..,"type":..,"i":..,"pad":"xx.."}. */
static char *make_body(const char *type, int i, size_t len)
{
	char *b = malloc(len + 1);
	int n;

	assert_non_null(b);
	n = snprintf(b, len + 1,
		     "{\"ts\":\"2026-11-23T02:00:00.120Z\",\"type\":\"%s\",\"i\":%d,\"pad\":\"",
		     type, i);
	assert_true(n > 0 && (size_t)n + 2 <= len);
	memset(b + n, 'x', len - (size_t)n - 2);
	memcpy(b + len - 2, "\"}", 3);
	assert_int_equal(strlen(b), len);
	return b;
}

static int64_t append(struct store *s, const char *type, int i, size_t len)
{
	char *b = make_body(type, i, len);
	int64_t seq = 0;

	assert_int_equal(store_append(s, type, b, len, 1000 + i, &seq), 0);
	free(b);
	return seq;
}

struct seqs {
	int64_t v[4096];
	size_t n;
};

static int collect(void *arg, int64_t seq, const char *body, size_t len)
{
	struct seqs *q = arg;

	assert_true(q->n < ARRAY_SIZE(q->v));
	assert_int_equal(body[0], '{');
	assert_int_equal(strlen(body), len);
	q->v[q->n++] = seq;
	return 0;
}

static size_t count_type(struct store *s, const char *type, struct seqs *out)
{
	struct seqs local;
	struct seqs *q = out ? out : &local;

	q->n = 0;
	assert_true(store_scan(s, type, 0, SIZE_MAX, collect, q) >= 0);
	return q->n;
}

static unsigned char *slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	unsigned char *buf;
	long n;

	assert_non_null(fp);
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	n = ftell(fp);
	assert_true(n >= 0);
	rewind(fp);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	fclose(fp);
	*len = (size_t)n;
	return buf;
}

static bool exists(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0;
}

static int count_corrupt_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		if (strstr(e->d_name, ".corrupt-"))
			n++;
	closedir(d);
	return n;
}

static void test_priorities(void **state)
{
	assert_int_equal(store_type_priority("sale"), 0);
	assert_int_equal(store_type_priority("alert"), 1);
	assert_int_equal(store_type_priority("integrity"), 1);
	assert_int_equal(store_type_priority("label"), 2);
	assert_int_equal(store_type_priority("screen"), 2);
	assert_int_equal(store_type_priority("footfall"), 3);
	assert_int_equal(store_type_priority("visit"), 3);
	assert_int_equal(store_type_priority("whatever"), 4);
	assert_true(store_type_priority("whatever") > store_type_priority("visit"));
}

static void test_reopen_keeps_rows_and_seq_grows(void **state)
{
	struct fixture *f = *state;
	struct store *s = open_ok(f->path, 0);
	struct seqs q;
	int64_t a, b, c, d, e;

	a = append(s, "sale", 1, 100);
	b = append(s, "sale", 2, 100);
	c = append(s, "visit", 3, 100);
	assert_true(a < b && b < c);
	assert_int_equal(store_commit(s), 0);
	store_close(s);

	s = open_ok(f->path, 0);
	assert_int_equal(count_type(s, "sale", &q), 2);
	assert_int_equal(q.v[0], a);
	assert_int_equal(q.v[1], b);
	assert_true(store_has_seq(s, c));
	d = append(s, "sale", 4, 100);
	assert_true(d > c);
	assert_int_equal(store_commit(s), 0);

	/* Empty the outbox: the next seq must still be higher than any before. */
	assert_int_equal(store_delete_range(s, "sale", a, d), 3);
	assert_int_equal(store_delete_range(s, "visit", c, c), 1);
	assert_int_equal(store_commit(s), 0);
	store_close(s);

	s = open_ok(f->path, 0);
	struct store_stats st;
	store_get_stats(s, &st);
	assert_int_equal(st.depth, 0);
	assert_int_equal(st.bytes, 0);
	assert_int_equal(st.last_seq, d);
	e = append(s, "sale", 5, 100);
	assert_true(e > d);
	assert_int_equal(store_commit(s), 0);
	store_close(s);
}

/*
 * A database written by schema v1 (AUTOINCREMENT outbox, seq counter in
 * sqlite_sequence) is migrated at open: its rows keep their seqs and bodies,
 * and new seqs continue above the old counter even where the newest rows
 * were already delivered (deleted).
 */
static void test_migrate_from_v1(void **state)
{
	struct fixture *f = *state;
	struct store_stats st;
	struct seqs q;
	sqlite3 *db;
	struct store *s;
	int64_t seq;

	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(
		sqlite3_exec(
			db,
			"PRAGMA journal_mode = WAL;"
			"CREATE TABLE outbox(seq INTEGER PRIMARY KEY AUTOINCREMENT,"
			" type TEXT NOT NULL, prio INTEGER NOT NULL, ts_ms INTEGER NOT NULL,"
			" len INTEGER NOT NULL, body TEXT NOT NULL);"
			"CREATE INDEX outbox_type_seq ON outbox(type, seq);"
			"CREATE INDEX outbox_prio_seq ON outbox(prio, seq) WHERE prio > 0;"
			"CREATE TABLE meta(key TEXT PRIMARY KEY, value);"
			"CREATE TABLE drops(type TEXT PRIMARY KEY, n INTEGER NOT NULL DEFAULT 0);"
			"INSERT INTO sqlite_sequence(name, seq) VALUES('outbox', 5000);"
			"INSERT INTO outbox VALUES(100, 'sale', 0, 1, 10, '{\"a\":100}');"
			"INSERT INTO outbox VALUES(101, 'visit', 3, 2, 10, '{\"a\":101}');"
			"INSERT INTO outbox VALUES(102, 'sale', 0, 3, 10, '{\"a\":102}');"
			"INSERT INTO drops VALUES('visit', 7);"
			"PRAGMA user_version = 1;",
			NULL, NULL, NULL),
		SQLITE_OK);
	sqlite3_close(db);

	s = open_ok(f->path, 0);
	store_get_stats(s, &st);
	assert_int_equal(st.depth, 3);
	assert_int_equal(st.bytes, 30);
	assert_int_equal(st.last_seq, 5000);
	assert_int_equal(st.dropped, 7);
	assert_int_equal(count_type(s, "sale", &q), 2);
	assert_int_equal(q.v[0], 100);
	assert_int_equal(q.v[1], 102);
	assert_int_equal(count_type(s, "visit", &q), 1);
	assert_int_equal(q.v[0], 101);
	seq = append(s, "sale", 1, 100);
	assert_int_equal(seq, 5001);
	assert_int_equal(store_commit(s), 0);
	assert_int_equal(store_delete_range(s, "visit", 100, 5001), 1);
	assert_int_equal(store_delete_range(s, "sale", 100, 5001), 3);
	assert_int_equal(store_commit(s), 0);
	store_close(s);

	s = open_ok(f->path, 0);
	store_get_stats(s, &st);
	assert_int_equal(st.depth, 0);
	assert_int_equal(st.last_seq, 5001);
	assert_int_equal(append(s, "alert", 2, 100), 5002);
	assert_int_equal(store_commit(s), 0);
	store_close(s);
}

/*
 * Sales and the other classes interleaved: each type's scan sees exactly its
 * own rows in seq order, and a delete range spanning the other type's rows
 * removes only its own.
 */
static void test_interleaved_types(void **state)
{
	struct fixture *f = *state;
	struct store *s = open_ok(f->path, 0);
	int64_t sale[50], alert[50];
	struct seqs q;

	for (int i = 0; i < 50; i++) {
		sale[i] = append(s, "sale", i, 80);
		alert[i] = append(s, "alert", i, 80);
	}
	assert_int_equal(store_commit(s), 0);
	assert_int_equal(count_type(s, "alert", &q), 50);
	for (int i = 0; i < 50; i++)
		assert_int_equal(q.v[i], alert[i]);
	assert_int_equal(store_delete_range(s, "alert", sale[0], sale[49]), 49);
	assert_int_equal(store_delete_range(s, "sale", alert[0], alert[9]), 9);
	assert_int_equal(store_commit(s), 0);
	assert_int_equal(count_type(s, "alert", &q), 1);
	assert_int_equal(q.v[0], alert[49]);
	assert_int_equal(count_type(s, "sale", &q), 41);
	assert_int_equal(q.v[0], sale[0]);
	assert_int_equal(q.v[1], sale[10]);
	store_close(s);
}

static void test_fresh_seq_from_clock(void **state)
{
	struct fixture *f = *state;
	int64_t before = now_wall_ms();
	struct store *s = open_ok(f->path, 0);
	int64_t after = now_wall_ms();
	int64_t seq = append(s, "sale", 1, 100);

	assert_true(seq > before * 1000);
	assert_true(seq <= after * 1000 + 1);
	assert_int_equal(store_commit(s), 0);
	store_close(s);
}

static void test_uncommitted_lost_on_close(void **state)
{
	struct fixture *f = *state;
	struct store *s = open_ok(f->path, 0);
	struct store_stats st;
	int64_t kept, lost;

	kept = append(s, "sale", 1, 100);
	assert_true(store_dirty(s));
	assert_int_equal(store_commit(s), 0);
	assert_false(store_dirty(s));
	lost = append(s, "sale", 2, 100);
	append(s, "visit", 3, 100);
	assert_true(store_dirty(s));
	store_close(s); /* no commit: rolled back */

	s = open_ok(f->path, 0);
	store_get_stats(s, &st);
	assert_int_equal(st.depth, 1);
	assert_int_equal(st.bytes, 100);
	assert_true(store_has_seq(s, kept));
	assert_false(store_has_seq(s, lost));
	assert_int_equal(count_type(s, "visit", NULL), 0);
	store_close(s);
}

/*
 * Copy the files of a live database to @to: the disk image a kill -9 at this
 * instant would leave behind (the page cache keeps what was written). Used
 * instead of fork() + SIGKILL so the tests also run under qemu-user.
 */
static void copy_file(const char *from, const char *to)
{
	unsigned char *buf;
	size_t len;
	FILE *fp;

	if (!exists(from))
		return;
	buf = slurp(from, &len);
	fp = fopen(to, "wb");
	assert_non_null(fp);
	assert_int_equal(fwrite(buf, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
	free(buf);
}

static void crash_image(const char *from, const char *to)
{
	static const char *const sfx[] = {"", "-wal", "-shm"};
	char a[PATH_MAX + 8], b[PATH_MAX + 8];

	for (size_t i = 0; i < ARRAY_SIZE(sfx); i++) {
		snprintf(a, sizeof(a), "%s%s", from, sfx[i]);
		snprintf(b, sizeof(b), "%s%s", to, sfx[i]);
		copy_file(a, b);
	}
}

/* A crash mid-transaction: committed rows survive, the rest is gone. */
static void test_crash_keeps_committed(void **state)
{
	struct fixture *f = *state;
	struct store *s = open_ok(f->path, 0);
	char crashed[PATH_MAX + 16];
	struct store_stats st;
	int64_t last = 0;

	for (int i = 0; i < 100; i++)
		last = append(s, "sale", i, 100);
	assert_int_equal(store_commit(s), 0);
	for (int i = 0; i < 50; i++)
		append(s, "sale", 100 + i, 100);
	snprintf(crashed, sizeof(crashed), "%s/crashed.db", f->dir);
	crash_image(f->path, crashed);
	store_close(s);

	s = open_ok(crashed, 0);
	store_get_stats(s, &st);
	assert_int_equal(st.depth, 100);
	assert_int_equal(st.last_seq, last);
	assert_int_equal(count_type(s, "sale", NULL), 100);
	assert_true(append(s, "sale", 1, 100) > last);
	assert_int_equal(store_commit(s), 0);
	store_close(s);
}

static void test_group_commit(void **state)
{
	struct fixture *f = *state;
	struct store *s = open_ok(f->path, 0);
	struct store_stats st;
	struct seqs q;
	int64_t prev = 0;

	for (int i = 0; i < 1000; i++) {
		int64_t seq = append(s, i % 3 ? "sale" : "visit", i, 80);

		assert_true(seq > prev);
		prev = seq;
	}
	/* Not visible to readers of the outbox before the commit. */
	assert_int_equal(count_type(s, "sale", NULL), 0);
	assert_int_equal(store_commit(s), 0);
	store_get_stats(s, &st);
	assert_int_equal(st.commits, 1);
	assert_int_equal(st.depth, 1000);
	assert_int_equal(st.bytes, 80000);
	assert_int_equal(st.last_seq, prev);
	assert_int_equal(count_type(s, "sale", &q) + count_type(s, "visit", NULL), 1000);
	for (size_t i = 1; i < q.n; i++)
		assert_true(q.v[i] > q.v[i - 1]);
	store_close(s);

	s = open_ok(f->path, 0);
	store_get_stats(s, &st);
	assert_int_equal(st.depth, 1000);
	store_close(s);
}

static void test_delete_range_exact(void **state)
{
	struct fixture *f = *state;
	struct store *s = open_ok(f->path, 0);
	int64_t sale[10], visit[10];
	struct store_stats st;
	struct seqs q;

	for (int i = 0; i < 10; i++) {
		sale[i] = append(s, "sale", i, 100);
		visit[i] = append(s, "visit", i, 70);
	}
	assert_int_equal(store_commit(s), 0);

	/* sale[2..6]: the visits in between are untouched. */
	assert_int_equal(store_delete_range(s, "sale", sale[2], sale[6]), 5);
	assert_true(store_dirty(s));
	assert_int_equal(store_commit(s), 0);
	assert_int_equal(count_type(s, "sale", &q), 5);
	assert_int_equal(q.v[0], sale[0]);
	assert_int_equal(q.v[1], sale[1]);
	assert_int_equal(q.v[2], sale[7]);
	assert_int_equal(count_type(s, "visit", NULL), 10);
	for (int i = 0; i < 10; i++)
		assert_true(store_has_seq(s, visit[i]));
	store_get_stats(s, &st);
	assert_int_equal(st.depth, 15);
	assert_int_equal(st.bytes, 5 * 100 + 10 * 70);

	/* An empty or reversed range deletes nothing. */
	assert_int_equal(store_delete_range(s, "sale", sale[3], sale[5]), 0);
	assert_int_equal(store_delete_range(s, "sale", sale[9], sale[8]), 0);
	assert_int_equal(store_delete_range(s, "label", 0, INT64_MAX), 0);
	assert_int_equal(store_commit(s), 0);
	store_close(s);

	s = open_ok(f->path, 0);
	store_get_stats(s, &st);
	assert_int_equal(st.depth, 15);
	assert_int_equal(st.bytes, 5 * 100 + 10 * 70);
	store_close(s);
}

static void test_append_rejects_non_objects(void **state)
{
	struct fixture *f = *state;
	struct store *s = open_ok(f->path, 0);

	assert_int_equal(store_append(s, "sale", "", 0, 0, NULL), -EINVAL);
	assert_int_equal(store_append(s, "sale", "[1]", 3, 0, NULL), -EINVAL);
	assert_int_equal(store_append(s, "sale", "{\"a\":1", 6, 0, NULL), -EINVAL);
	assert_int_equal(store_append(s, "", "{}", 2, 0, NULL), -EINVAL);
	assert_int_equal(store_append(s, NULL, "{}", 2, 0, NULL), -EINVAL);
	assert_int_equal(store_append(s, "sale", "{}", 2, 0, NULL), 0);
	assert_int_equal(store_commit(s), 0);
	store_close(s);
}

struct drops {
	char type[8][32];
	uint64_t n[8];
	size_t len;
};

static void on_drop(void *arg, const char *type, uint64_t n)
{
	struct drops *d = arg;

	assert_true(d->len < 8);
	str_copy(d->type[d->len], sizeof(d->type[0]), type);
	d->n[d->len++] = n;
}

static uint64_t drops_of(const struct drops *d, const char *type)
{
	for (size_t i = 0; i < d->len; i++)
		if (strcmp(d->type[i], type) == 0)
			return d->n[i];
	return 0;
}

struct alert_ctx {
	cJSON *last;
	int n;
};

static int on_alert(void *arg, int64_t seq, const char *body, size_t len)
{
	struct alert_ctx *a = arg;

	cJSON_Delete(a->last);
	a->last = cJSON_ParseWithLength(body, len);
	assert_non_null(a->last);
	a->n++;
	return 0;
}

static int64_t json_int(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	assert_true(cJSON_IsNumber(v));
	return (int64_t)v->valuedouble;
}

/*
 * Fill past the quota with every class: class 3 (visit, footfall) goes first,
 * oldest first, then class 2 (label); sales stay; the counts are persisted and
 * reported in one alert.
 */
static void test_quota_drops_low_classes_first(void **state)
{
	struct fixture *f = *state;
	const uint64_t max = 10000;
	struct store *s = open_ok(f->path, max);
	struct alert_ctx al = {0};
	int64_t low[40]; /* visit/footfall seqs in append order */
	struct store_stats st;
	struct drops d = {0};
	const cJSON *dropped;
	size_t nlow = 0, gone;

	/* 100 events of 100 bytes: 20 each of sale, alert, label, visit, footfall. */
	for (int i = 0; i < 20; i++) {
		append(s, "sale", i, 100);
		low[nlow++] = append(s, "visit", i, 100);
		append(s, "label", i, 100);
		low[nlow++] = append(s, "footfall", i, 100);
		append(s, "alert", i, 100);
	}
	assert_int_equal(store_commit(s), 0);

	/* 10000 bytes is not over 10000: nothing happens. */
	store_get_stats(s, &st);
	assert_int_equal(st.depth, 100);
	assert_int_equal(st.dropped, 0);

	/* One more sale: over quota, down to 9000 => 11 class-3 rows go, oldest first. */
	append(s, "sale", 99, 100);
	assert_int_equal(store_commit(s), 0);
	store_get_stats(s, &st);
	assert_int_equal(st.dropped, 11);
	assert_true(st.bytes <= max);
	assert_int_equal(count_type(s, "sale", NULL), 21);
	assert_int_equal(count_type(s, "label", NULL), 20);
	gone = 40 - (count_type(s, "visit", NULL) + count_type(s, "footfall", NULL));
	assert_int_equal(gone, 11);
	for (size_t i = 0; i < nlow; i++)
		assert_int_equal(store_has_seq(s, low[i]), i >= gone);

	assert_int_equal(store_foreach_dropped(s, on_drop, &d), 0);
	assert_int_equal(drops_of(&d, "visit"), 6);
	assert_int_equal(drops_of(&d, "footfall"), 5);

	/* The alert: the 21st alert row, with the counts of this pass. */
	assert_int_equal(store_scan(s, "alert", 0, SIZE_MAX, on_alert, &al), 21);
	assert_string_equal(cJSON_GetObjectItem(al.last, "type")->valuestring, "alert");
	assert_string_equal(cJSON_GetObjectItem(al.last, "alert")->valuestring, "outbox_quota");
	assert_non_null(cJSON_GetObjectItem(al.last, "ts")->valuestring);
	dropped = cJSON_GetObjectItem(al.last, "dropped");
	assert_true(cJSON_IsObject(dropped));
	assert_int_equal(json_int(dropped, "visit"), 6);
	assert_int_equal(json_int(dropped, "footfall"), 5);
	assert_null(cJSON_GetObjectItem(dropped, "label"));
	assert_int_equal(json_int(al.last, "max_bytes"), (int64_t)max);
	assert_true(json_int(al.last, "bytes") <= (int64_t)(max * 9 / 10));
	cJSON_Delete(al.last);
	al.last = NULL;

	/*
	 * 30 more sales (3000 bytes): all 29 class-3 rows go before any label,
	 * then the oldest labels.
	 */
	for (int i = 0; i < 30; i++)
		append(s, "sale", 100 + i, 100);
	assert_int_equal(store_commit(s), 0);
	store_get_stats(s, &st);
	assert_true(st.bytes <= max);
	assert_int_equal(count_type(s, "sale", NULL), 51);
	assert_int_equal(count_type(s, "visit", NULL), 0);
	assert_int_equal(count_type(s, "footfall", NULL), 0);
	assert_true(count_type(s, "label", NULL) < 20);
	assert_int_equal(count_type(s, "alert", NULL), 22);
	store_close(s);

	/* The counts survive a reopen. */
	s = open_ok(f->path, max);
	store_get_stats(s, &st);
	memset(&d, 0, sizeof(d));
	assert_int_equal(store_foreach_dropped(s, on_drop, &d), 0);
	assert_int_equal(drops_of(&d, "visit"), 20);
	assert_int_equal(drops_of(&d, "footfall"), 20);
	assert_true(drops_of(&d, "label") > 0);
	assert_int_equal(drops_of(&d, "sale"), 0);
	assert_int_equal(st.dropped, drops_of(&d, "visit") + drops_of(&d, "footfall") +
					     drops_of(&d, "label") + drops_of(&d, "alert"));
	store_close(s);
}

/* Only sales over the quota: all kept, no alert, no churn on later commits. */
static void test_quota_never_drops_sales(void **state)
{
	struct fixture *f = *state;
	const uint64_t max = 1000;
	struct store *s = open_ok(f->path, max);
	struct store_stats st;
	int64_t v;

	for (int i = 0; i < 30; i++)
		append(s, "sale", i, 100);
	assert_int_equal(store_commit(s), 0);
	store_get_stats(s, &st);
	assert_int_equal(st.depth, 30);
	assert_int_equal(st.dropped, 0);
	assert_int_equal(count_type(s, "alert", NULL), 0);

	/* A visit arriving while stuck is dropped, sales kept, one alert. */
	v = append(s, "visit", 1, 100);
	assert_int_equal(store_commit(s), 0);
	assert_false(store_has_seq(s, v));
	assert_int_equal(count_type(s, "sale", NULL), 30);
	assert_int_equal(count_type(s, "alert", NULL), 1);
	store_get_stats(s, &st);
	assert_int_equal(st.dropped, 1);

	/* Idle commits while stuck write nothing (the alert is not replaced). */
	uint64_t commits = st.commits;
	for (int i = 0; i < 5; i++)
		assert_int_equal(store_commit(s), 0);
	store_get_stats(s, &st);
	assert_int_equal(st.commits, commits);
	assert_int_equal(count_type(s, "alert", NULL), 1);

	/* Sales alone keep coming: still all kept. */
	for (int i = 0; i < 10; i++)
		append(s, "sale", 100 + i, 100);
	assert_int_equal(store_commit(s), 0);
	assert_int_equal(count_type(s, "sale", NULL), 40);
	store_close(s);
}

static void write_file(const char *path, const void *buf, size_t len, off_t off, bool trunc)
{
	int fd = open(path, O_WRONLY | O_CREAT | (trunc ? O_TRUNC : 0), 0644);

	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, buf, len, off), (ssize_t)len);
	close(fd);
}

/* A new database works and its seqs come from the clock read @before it was opened. */
static void assert_works(struct store *s, int64_t before)
{
	int64_t seq = 0;

	assert_int_equal(store_append(s, "sale", "{\"a\":1}", 7, 1, &seq), 0);
	assert_int_equal(store_commit(s), 0);
	assert_true(seq > before * 1000);
	assert_true(store_has_seq(s, seq));
}

static void fill_junk(unsigned char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (unsigned char)(i * 131 + 7);
}

/* A file of garbage: moved aside, a new database works and is healthy on reopen. */
static void test_corrupt_garbage_file(void **state)
{
	struct fixture *f = *state;
	struct store_opts o = {.path = f->path, .max_bytes = 0};
	struct store_open_report rep;
	unsigned char junk[65536], *old;
	struct store *s = NULL;
	int64_t before;
	size_t len;

	fill_junk(junk, sizeof(junk));
	write_file(f->path, junk, sizeof(junk), 0, true);

	before = now_wall_ms();
	assert_int_equal(store_open(&o, &s, &rep), 0);
	assert_non_null(s);
	assert_true(rep.recreated);
	assert_true(rep.reason[0] != '\0');
	assert_non_null(strstr(rep.moved_to, ".corrupt-"));
	assert_int_equal(strncmp(rep.moved_to, f->path, strlen(f->path)), 0);
	old = slurp(rep.moved_to, &len);
	assert_int_equal(len, sizeof(junk));
	assert_memory_equal(old, junk, len);
	free(old);
	assert_works(s, before);
	assert_int_equal(count_type(s, "sale", NULL), 1);
	store_close(s);

	/* The new file is healthy on the next start. */
	s = open_ok(f->path, 0);
	assert_int_equal(count_type(s, "sale", NULL), 1);
	store_close(s);
}

/*
 * The full-file check is skipped only after a clean close: store_close()
 * leaves "<db>.clean", store_open() consumes it, and a crash leaves none.
 * A damaged file is still caught even if a stale marker is present.
 */
static void test_clean_marker(void **state)
{
	struct fixture *f = *state;
	struct store_opts o = {.path = f->path, .max_bytes = 0};
	struct store_open_report rep;
	char marker[PATH_MAX + 8];
	unsigned char junk[65536];
	struct store *s;

	snprintf(marker, sizeof(marker), "%s.clean", f->path);
	s = open_ok(f->path, 0);
	assert_false(exists(marker));
	append(s, "sale", 1, 200);
	assert_int_equal(store_commit(s), 0);
	store_close(s);
	assert_true(exists(marker));

	s = open_ok(f->path, 0);
	assert_false(exists(marker)); /* consumed: a crash now leaves none */
	assert_int_equal(count_type(s, "sale", NULL), 1);
	store_close(s);
	assert_true(exists(marker));

	/* Garbage behind a stale marker is still detected and moved aside. */
	fill_junk(junk, sizeof(junk));
	write_file(f->path, junk, sizeof(junk), 0, true);
	s = NULL;
	assert_int_equal(store_open(&o, &s, &rep), 0);
	assert_true(rep.recreated);
	assert_false(exists(marker));
	store_close(s);
}

/*
 * A crash leaves -wal and -shm next to a main file that then turns to
 * garbage: all three are moved aside together (a stale WAL must never be
 * replayed into the new database).
 */
static void test_corrupt_with_wal(void **state)
{
	struct fixture *f = *state;
	struct store_opts o = {.max_bytes = 0};
	struct store_open_report rep;
	char crashed[PATH_MAX + 16], wal[PATH_MAX + 32], moved[PATH_MAX + 8];
	struct store *s = open_ok(f->path, 0);
	unsigned char *junk;
	int64_t before;
	size_t len;

	for (int i = 0; i < 500; i++)
		append(s, "sale", i, 200);
	assert_int_equal(store_commit(s), 0);
	store_close(s);

	/* Reopen, commit one more row (into the WAL), "crash". */
	s = open_ok(f->path, 0);
	append(s, "sale", 1000, 200);
	assert_int_equal(store_commit(s), 0);
	snprintf(crashed, sizeof(crashed), "%s/crashed.db", f->dir);
	crash_image(f->path, crashed);
	store_close(s);
	snprintf(wal, sizeof(wal), "%s-wal", crashed);
	assert_true(exists(wal));

	free(slurp(crashed, &len));
	junk = malloc(len);
	assert_non_null(junk);
	fill_junk(junk, len);
	write_file(crashed, junk, len, 0, true);
	free(junk);

	o.path = crashed;
	before = now_wall_ms();
	assert_int_equal(store_open(&o, &s, &rep), 0);
	assert_true(rep.recreated);
	assert_true(exists(rep.moved_to));
	snprintf(moved, sizeof(moved), "%s-wal", rep.moved_to);
	assert_true(exists(moved));
	snprintf(moved, sizeof(moved), "%s-shm", rep.moved_to);
	assert_true(exists(moved));
	assert_int_equal(count_type(s, "sale", NULL), 0);
	assert_works(s, before);
	store_close(s);
}

/* A valid database with one page overwritten by garbage: caught by quick_check. */
static void test_corrupt_page(void **state)
{
	struct fixture *f = *state;
	struct store_opts o = {.path = f->path, .max_bytes = 0};
	struct store_open_report rep;
	struct store *s = open_ok(f->path, 0);
	unsigned char junk[4096];
	int64_t before;
	size_t len;
	unsigned char *old;

	for (int i = 0; i < 2000; i++)
		append(s, i % 2 ? "sale" : "visit", i, 200);
	assert_int_equal(store_commit(s), 0);
	store_close(s);

	old = slurp(f->path, &len);
	free(old);
	assert_true(len > 60 * 4096);
	memset(junk, 0xa5, sizeof(junk));
	write_file(f->path, junk, sizeof(junk), 50 * 4096, false);

	s = NULL;
	before = now_wall_ms();
	assert_int_equal(store_open(&o, &s, &rep), 0);
	assert_non_null(s);
	assert_true(rep.recreated);
	assert_true(rep.reason[0] != '\0');
	assert_true(exists(rep.moved_to));
	assert_true(count_corrupt_files(f->dir) >= 1);
	assert_works(s, before);
	store_close(s);
}

/* A database from a newer shelfd: refused, and left exactly as it was. */
static void test_newer_schema_refused(void **state)
{
	struct fixture *f = *state;
	struct store_opts o = {.path = f->path, .max_bytes = 0};
	struct store_open_report rep;
	unsigned char *before, *after;
	size_t blen, alen;
	struct store *s = (struct store *)&o;
	sqlite3 *db;

	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
				      "CREATE TABLE future(x); INSERT INTO future VALUES(1);"
				      "PRAGMA user_version = 99;",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	before = slurp(f->path, &blen);

	assert_int_equal(store_open(&o, &s, &rep), -EIO);
	assert_null(s);
	assert_false(rep.recreated);
	after = slurp(f->path, &alen);
	assert_int_equal(alen, blen);
	assert_memory_equal(after, before, blen);
	assert_int_equal(count_corrupt_files(f->dir), 0);
	free(before);
	free(after);

	/* Same for a WAL-mode file written by this store, then by a newer one. */
	unlink(f->path);
	s = open_ok(f->path, 0);
	append(s, "sale", 1, 100);
	assert_int_equal(store_commit(s), 0);
	store_close(s);
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 99;", NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	before = slurp(f->path, &blen);
	assert_int_equal(store_open(&o, &s, &rep), -EIO);
	assert_null(s);
	after = slurp(f->path, &alen);
	assert_int_equal(alen, blen);
	assert_memory_equal(after, before, blen);
	assert_int_equal(count_corrupt_files(f->dir), 0);
	free(before);
	free(after);
}

/* The data directory cannot hold the file: -EIO, nothing created. */
static void test_unusable_dir(void **state)
{
	struct fixture *f = *state;
	char notdir[PATH_MAX], path[PATH_MAX + 16];
	struct store_opts o = {.path = path};
	struct store *s = NULL;

	snprintf(notdir, sizeof(notdir), "%s/plainfile", f->dir);
	write_file(notdir, "x", 1, 0, true);
	snprintf(path, sizeof(path), "%s/shelfd.db", notdir);
	assert_int_equal(store_open(&o, &s, NULL), -EIO);
	assert_null(s);

	if (geteuid() != 0) {
		char ro[PATH_MAX];

		snprintf(ro, sizeof(ro), "%s/ro", f->dir);
		assert_int_equal(mkdir(ro, 0500), 0);
		snprintf(path, sizeof(path), "%s/shelfd.db", ro);
		assert_int_equal(store_open(&o, &s, NULL), -EIO);
		assert_null(s);
		chmod(ro, 0700);
	}
}

struct types {
	char type[8][32];
	uint64_t rows[8];
	int64_t min[8];
	size_t len;
};

static void on_type(void *arg, const char *type, uint64_t rows, int64_t min_seq)
{
	struct types *t = arg;

	assert_true(t->len < 8);
	str_copy(t->type[t->len], sizeof(t->type[0]), type);
	t->rows[t->len] = rows;
	t->min[t->len++] = min_seq;
}

static void test_stats_and_types(void **state)
{
	struct fixture *f = *state;
	struct store *s = open_ok(f->path, 1 << 20);
	struct store_stats st;
	struct types t = {0};
	int64_t first_sale, first_visit, last;
	char body[] = "{\"ts\":\"x\"}";

	store_get_stats(s, &st);
	assert_int_equal(st.depth, 0);
	assert_int_equal(st.bytes, 0);
	assert_int_equal(st.oldest_ts_ms, 0);
	assert_true(st.last_seq > 0); /* the seed */
	assert_int_equal(st.dropped, 0);
	assert_int_equal(st.commits, 0);
	assert_int_equal(st.commit_errors, 0);

	assert_int_equal(store_append(s, "sale", body, strlen(body), 5000, &first_sale), 0);
	assert_int_equal(store_append(s, "visit", body, strlen(body), 6000, &first_visit), 0);
	assert_int_equal(store_append(s, "sale", body, strlen(body), 7000, &last), 0);
	assert_int_equal(store_commit(s), 0);
	assert_int_equal(store_commit(s), 0); /* nothing to commit: not counted */

	store_get_stats(s, &st);
	assert_int_equal(st.depth, 3);
	assert_int_equal(st.bytes, 3 * strlen(body));
	assert_int_equal(st.oldest_ts_ms, 5000);
	assert_int_equal(st.last_seq, last);
	assert_int_equal(st.commits, 1);
	assert_int_equal(st.commit_errors, 0);

	assert_int_equal(store_foreach_type(s, on_type, &t), 0);
	assert_int_equal(t.len, 2);
	assert_string_equal(t.type[0], "sale");
	assert_int_equal(t.rows[0], 2);
	assert_int_equal(t.min[0], first_sale);
	assert_string_equal(t.type[1], "visit");
	assert_int_equal(t.rows[1], 1);
	assert_int_equal(t.min[1], first_visit);

	assert_int_equal(store_delete_range(s, "sale", first_sale, first_sale), 1);
	assert_int_equal(store_commit(s), 0);
	store_get_stats(s, &st);
	assert_int_equal(st.oldest_ts_ms, 6000);
	assert_int_equal(st.depth, 2);
	store_close(s);

	store_close(NULL);
	store_get_stats(NULL, &st);
	assert_int_equal(st.depth, 0);
}

static int stop_after_two(void *arg, int64_t seq, const char *body, size_t len)
{
	int *n = arg;

	return ++*n >= 2;
}

static void test_scan_limits(void **state)
{
	struct fixture *f = *state;
	struct store *s = open_ok(f->path, 0);
	int64_t seq[5];
	struct seqs q = {.n = 0};
	int n = 0;

	for (int i = 0; i < 5; i++)
		seq[i] = append(s, "sale", i, 70);
	assert_int_equal(store_commit(s), 0);
	assert_int_equal(store_scan(s, "sale", seq[1], 2, collect, &q), 2);
	assert_int_equal(q.v[0], seq[2]);
	assert_int_equal(q.v[1], seq[3]);
	assert_int_equal(store_scan(s, "sale", 0, 100, stop_after_two, &n), 2);
	assert_int_equal(store_scan(s, "sale", seq[4], 100, collect, &q), 0);
	assert_int_equal(store_scan(s, "sale", 0, 0, collect, &q), 0);
	store_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_priorities),
		cmocka_unit_test_setup_teardown(test_reopen_keeps_rows_and_seq_grows, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_fresh_seq_from_clock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migrate_from_v1, setup, teardown),
		cmocka_unit_test_setup_teardown(test_interleaved_types, setup, teardown),
		cmocka_unit_test_setup_teardown(test_uncommitted_lost_on_close, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash_keeps_committed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_group_commit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delete_range_exact, setup, teardown),
		cmocka_unit_test_setup_teardown(test_append_rejects_non_objects, setup, teardown),
		cmocka_unit_test_setup_teardown(test_quota_drops_low_classes_first, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_quota_never_drops_sales, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_garbage_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_clean_marker, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_with_wal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_page, setup, teardown),
		cmocka_unit_test_setup_teardown(test_newer_schema_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unusable_dir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stats_and_types, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scan_limits, setup, teardown),
	};

	log_init("test_store", LOG_LVL_WARN, false);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
