/*
 * labelbook: labels, their reports and their jobs in SQLite. See
 * labelbook.h. Statements are prepared once; SQLite errors are logged here
 * and become -EIO.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "sqlstmt.h"
#include "labelbook.h"
#include "log.h"
#include "util.h"

#define COLS                                                                                       \
	"id, coalesce(sku, ''), type, battery_mv, temp_c, rssi, lqi, shown_hash, shown_price,"     \
	" shown_nfs, last_seen_ms, checkin_ms, bound_ms, job_hash, job_state, job_attempts,"       \
	" job_next_ms, job_sent_ms, job_reason, job_superseded, job_price, job_nfs"

/* The SKUs that have labels: open addressing, rebuilt on unbind. */
struct skuset {
	char **slot;
	size_t cap; /* power of two */
	size_t n;
};

struct labelbook {
	sqlite3 *db;
	struct skuset skus;
	sqlite3_stmt *st_get;
	sqlite3_stmt *st_bind;
	sqlite3_stmt *st_unbind;
	sqlite3_stmt *st_checkin;
	sqlite3_stmt *st_save_job;
	sqlite3_stmt *st_shown;
	sqlite3_stmt *st_all;
	sqlite3_stmt *st_by_state;
	sqlite3_stmt *st_by_sku;
	sqlite3_stmt *st_due;
	sqlite3_stmt *st_next_due;
	sqlite3_stmt *st_skus;
	sqlite3_stmt *st_counts;
};

/* An SQLite failure: logged, the statement reset, -EIO. */
#define FAIL(o, st, rc, what) sqlstmt_fail((o)->db, st, rc, "labels", what)

static const struct sqlstmt_def stmts[] = {
	{offsetof(struct labelbook, st_get), "SELECT " COLS " FROM labels WHERE id = ?1"},
	{offsetof(struct labelbook, st_bind),
	 "INSERT INTO labels(id, sku, bound_ms) VALUES(?1, ?2, ?3)"
	 " ON CONFLICT(id) DO UPDATE SET sku = excluded.sku, bound_ms = excluded.bound_ms"},
	{offsetof(struct labelbook, st_unbind), "UPDATE labels SET sku = NULL WHERE id = ?1"},
	{offsetof(struct labelbook, st_checkin),
	 "INSERT INTO labels(id, type, battery_mv, temp_c, rssi, lqi, shown_hash, last_seen_ms,"
	 " checkin_ms) VALUES(?1, ?2, ?3, ?4, ?5, ?6, coalesce(?7, ''), ?8, ?9)"
	 " ON CONFLICT(id) DO UPDATE SET type = excluded.type, battery_mv = excluded.battery_mv,"
	 " temp_c = excluded.temp_c, rssi = excluded.rssi, lqi = excluded.lqi,"
	 " shown_hash = coalesce(?7, labels.shown_hash), last_seen_ms = excluded.last_seen_ms,"
	 " checkin_ms = CASE WHEN ?9 > 0 THEN ?9 ELSE labels.checkin_ms END"},
	{offsetof(struct labelbook, st_save_job),
	 "UPDATE labels SET job_hash = ?2, job_state = ?3, job_attempts = ?4, job_next_ms = ?5,"
	 " job_sent_ms = ?6, job_reason = ?7, job_superseded = ?8, job_price = ?9, job_nfs = ?10"
	 " WHERE id = ?1"},
	{offsetof(struct labelbook, st_shown),
	 "UPDATE labels SET shown_hash = ?2, shown_price = CASE WHEN ?4 THEN NULL ELSE ?3 END,"
	 " shown_nfs = ?4 WHERE id = ?1"},
	{offsetof(struct labelbook, st_all), "SELECT " COLS " FROM labels ORDER BY id"},
	{offsetof(struct labelbook, st_by_state),
	 "SELECT " COLS " FROM labels WHERE job_state = ?1 ORDER BY id"},
	{offsetof(struct labelbook, st_by_sku),
	 "SELECT " COLS " FROM labels WHERE sku = ?1 ORDER BY id"},
	{offsetof(struct labelbook, st_due),
	 "SELECT " COLS " FROM labels WHERE job_state = 1 AND job_next_ms <= ?1"
	 " ORDER BY job_next_ms, id LIMIT ?2"},
	{offsetof(struct labelbook, st_next_due),
	 "SELECT min(job_next_ms) FROM labels WHERE job_state = 1"},
	{offsetof(struct labelbook, st_skus),
	 "SELECT DISTINCT sku FROM labels WHERE sku IS NOT NULL"},
	{offsetof(struct labelbook, st_counts),
	 "SELECT count(*), count(sku), sum(type = 0), sum(job_state = 1), sum(job_state = 2),"
	 " sum(job_state = 3), sum(job_state = 4), sum(type != 0 AND battery_mv < ?2),"
	 " sum(sku IS NOT NULL AND (last_seen_ms = 0 OR"
	 "   ?1 - last_seen_ms > 3 * max(checkin_ms, 60000))),"
	 " coalesce(sum(job_superseded), 0) FROM labels"},
};

/* --- the SKU set --- */

static uint32_t hash_str(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

static void skuset_clear(struct skuset *set)
{
	for (size_t i = 0; i < set->cap; i++)
		free(set->slot[i]);
	free(set->slot);
	memset(set, 0, sizeof(*set));
}

static bool skuset_has(const struct skuset *set, const char *sku)
{
	if (!set->cap)
		return false;
	for (size_t i = hash_str(sku) & (set->cap - 1);; i = (i + 1) & (set->cap - 1)) {
		if (!set->slot[i])
			return false;
		if (!strcmp(set->slot[i], sku))
			return true;
	}
}

static int skuset_add(struct skuset *set, const char *sku)
{
	size_t i;

	if (skuset_has(set, sku))
		return 0;
	if ((set->n + 1) * 2 > set->cap) {
		struct skuset bigger = {.cap = set->cap ? set->cap * 2 : 64};

		bigger.slot = calloc(bigger.cap, sizeof(*bigger.slot));
		if (!bigger.slot)
			return -ENOMEM;
		for (size_t k = 0; k < set->cap; k++) {
			char *s = set->slot[k];

			if (!s)
				continue;
			for (i = hash_str(s) & (bigger.cap - 1); bigger.slot[i];
			     i = (i + 1) & (bigger.cap - 1))
				;
			bigger.slot[i] = s;
			bigger.n++;
		}
		free(set->slot);
		*set = bigger;
	}
	for (i = hash_str(sku) & (set->cap - 1); set->slot[i]; i = (i + 1) & (set->cap - 1))
		;
	set->slot[i] = strdup(sku);
	if (!set->slot[i])
		return -ENOMEM;
	set->n++;
	return 0;
}

static int load_skus(struct labelbook *lb)
{
	sqlite3_stmt *st = lb->st_skus;
	int rc, ret = 0;

	skuset_clear(&lb->skus);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && ret == 0)
		ret = skuset_add(&lb->skus, (const char *)sqlite3_column_text(st, 0));
	if (ret == 0 && rc != SQLITE_ROW && rc != SQLITE_DONE)
		ret = FAIL(lb, NULL, rc, "load skus");
	sqlstmt_run(st);
	return ret;
}

bool labelbook_sku_has_labels(const struct labelbook *lb, const char *sku)
{
	return lb && sku && skuset_has(&lb->skus, sku);
}

/* --- open / close --- */

int labelbook_open(struct store *st, struct labelbook **out)
{
	struct labelbook *lb;
	int rc;

	*out = NULL;
	lb = calloc(1, sizeof(*lb));
	if (!lb)
		return -ENOMEM;
	lb->db = store_db(st);
	rc = sqlstmt_prepare_all(lb->db, lb, stmts, ARRAY_SIZE(stmts), "labels");
	if (rc < 0) {
		free(lb);
		return rc;
	}
	rc = load_skus(lb);
	if (rc < 0) {
		labelbook_close(lb);
		return rc;
	}
	*out = lb;
	return 0;
}

void labelbook_close(struct labelbook *lb)
{
	if (!lb)
		return;
	sqlstmt_finalize_all(lb, stmts, ARRAY_SIZE(stmts));
	skuset_clear(&lb->skus);
	free(lb);
}

bool label_id_parse(const char *id, char out[LABEL_ID_LEN + 1])
{
	if (!id || strlen(id) != LABEL_ID_LEN)
		return false;
	for (int i = 0; i < LABEL_ID_LEN; i++) {
		if (!isxdigit((unsigned char)id[i]))
			return false;
		out[i] = (char)toupper((unsigned char)id[i]);
	}
	out[LABEL_ID_LEN] = '\0';
	return true;
}

/* --- rows --- */

static void text_col(sqlite3_stmt *st, int i, char *buf, size_t sz)
{
	const char *t = (const char *)sqlite3_column_text(st, i);

	str_copy(buf, sz, t ? t : "");
}

static void read_row(sqlite3_stmt *st, struct label_row *r)
{
	memset(r, 0, sizeof(*r));
	text_col(st, 0, r->id, sizeof(r->id));
	text_col(st, 1, r->sku, sizeof(r->sku));
	r->type = sqlite3_column_int(st, 2);
	r->battery_mv = sqlite3_column_int(st, 3);
	r->temp_c = sqlite3_column_int(st, 4);
	r->rssi = sqlite3_column_int(st, 5);
	r->lqi = sqlite3_column_int(st, 6);
	text_col(st, 7, r->shown_hash, sizeof(r->shown_hash));
	r->shown_nfs = sqlite3_column_int(st, 9) != 0;
	r->shown_known = r->shown_nfs || sqlite3_column_type(st, 8) != SQLITE_NULL;
	r->shown_price = sqlite3_column_int64(st, 8);
	r->last_seen_ms = sqlite3_column_int64(st, 10);
	r->checkin_ms = sqlite3_column_int64(st, 11);
	r->bound_ms = sqlite3_column_int64(st, 12);
	text_col(st, 13, r->job.hash, sizeof(r->job.hash));
	r->job.state = (enum labeljob_state)sqlite3_column_int(st, 14);
	r->job.attempts = sqlite3_column_int(st, 15);
	r->job.next_try_ms = sqlite3_column_int64(st, 16);
	r->job.sent_ms = sqlite3_column_int64(st, 17);
	text_col(st, 18, r->job.reason, sizeof(r->job.reason));
	r->job.superseded = (uint32_t)sqlite3_column_int64(st, 19);
	r->job_price = sqlite3_column_int64(st, 20);
	r->job_nfs = sqlite3_column_int(st, 21) != 0;
}

int labelbook_get(struct labelbook *lb, const char *id, struct label_row *out)
{
	sqlite3_stmt *st = lb->st_get;
	int rc, ret = -ENOENT;

	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		read_row(st, out);
		ret = 0;
	} else if (rc != SQLITE_DONE) {
		return FAIL(lb, st, rc, "get");
	}
	sqlstmt_run(st);
	return ret;
}

int labelbook_bind(struct labelbook *lb, const char *id, const char *sku, int64_t now_ms)
{
	sqlite3_stmt *st = lb->st_bind;
	int rc;

	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, sku, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, now_ms);
	rc = sqlstmt_run(st);
	if (rc != SQLITE_DONE)
		return FAIL(lb, NULL, rc, "bind");
	return skuset_add(&lb->skus, sku);
}

int labelbook_unbind(struct labelbook *lb, const char *id)
{
	sqlite3_stmt *st = lb->st_unbind;
	int rc;

	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	rc = sqlstmt_run(st);
	if (rc != SQLITE_DONE)
		return FAIL(lb, NULL, rc, "unbind");
	if (sqlite3_changes(lb->db) == 0)
		return -ENOENT;
	return load_skus(lb);
}

int labelbook_checkin(struct labelbook *lb, const struct label_checkin *c)
{
	sqlite3_stmt *st = lb->st_checkin;
	int rc;

	sqlite3_bind_text(st, 1, c->id, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, c->type);
	sqlite3_bind_int(st, 3, c->battery_mv);
	sqlite3_bind_int(st, 4, c->temp_c);
	sqlite3_bind_int(st, 5, c->rssi);
	sqlite3_bind_int(st, 6, c->lqi);
	if (c->shown_hash)
		sqlite3_bind_text(st, 7, c->shown_hash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 8, c->now_ms);
	sqlite3_bind_int64(st, 9, c->checkin_ms);
	rc = sqlstmt_run(st);
	return rc == SQLITE_DONE ? 0 : FAIL(lb, NULL, rc, "checkin");
}

int labelbook_save_job(struct labelbook *lb, const struct label_row *r)
{
	sqlite3_stmt *st = lb->st_save_job;
	int rc;

	sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, r->job.hash, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 3, (int)r->job.state);
	sqlite3_bind_int(st, 4, r->job.attempts);
	sqlite3_bind_int64(st, 5, r->job.next_try_ms);
	sqlite3_bind_int64(st, 6, r->job.sent_ms);
	sqlite3_bind_text(st, 7, r->job.reason, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 8, r->job.superseded);
	sqlite3_bind_int64(st, 9, r->job_price);
	sqlite3_bind_int(st, 10, r->job_nfs);
	rc = sqlstmt_run(st);
	return rc == SQLITE_DONE ? 0 : FAIL(lb, NULL, rc, "save job");
}

int labelbook_set_shown(struct labelbook *lb, const char *id, const char *hash, int64_t price,
			bool nfs)
{
	sqlite3_stmt *st = lb->st_shown;
	int rc;

	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, hash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, price);
	sqlite3_bind_int(st, 4, nfs);
	rc = sqlstmt_run(st);
	return rc == SQLITE_DONE ? 0 : FAIL(lb, NULL, rc, "set shown");
}

/* Step @st (bound by the caller), calling @cb per row. Returns rows or -EIO. */
static int each(struct labelbook *lb, sqlite3_stmt *st, labelbook_cb cb, void *arg,
		const char *what)
{
	struct label_row r;
	int rc, n = 0;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		read_row(st, &r);
		cb(arg, &r);
		n++;
	}
	if (rc != SQLITE_DONE)
		return FAIL(lb, st, rc, what);
	sqlstmt_run(st);
	return n;
}

int labelbook_foreach(struct labelbook *lb, enum labeljob_state state, labelbook_cb cb, void *arg)
{
	if (state == LABELJOB_NONE)
		return each(lb, lb->st_all, cb, arg, "list");
	sqlite3_bind_int(lb->st_by_state, 1, (int)state);
	return each(lb, lb->st_by_state, cb, arg, "list by state");
}

int labelbook_foreach_sku(struct labelbook *lb, const char *sku, labelbook_cb cb, void *arg)
{
	if (!labelbook_sku_has_labels(lb, sku))
		return 0;
	sqlite3_bind_text(lb->st_by_sku, 1, sku, -1, SQLITE_STATIC);
	return each(lb, lb->st_by_sku, cb, arg, "labels of sku");
}

int labelbook_due(struct labelbook *lb, int64_t now_ms, size_t max, labelbook_cb cb, void *arg)
{
	sqlite3_bind_int64(lb->st_due, 1, now_ms);
	sqlite3_bind_int64(lb->st_due, 2, (sqlite3_int64)(max > INT32_MAX ? INT32_MAX : max));
	return each(lb, lb->st_due, cb, arg, "due jobs");
}

int labelbook_next_due(struct labelbook *lb, int64_t *when)
{
	sqlite3_stmt *st = lb->st_next_due;
	int rc = sqlite3_step(st), found = 0;

	if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
		*when = sqlite3_column_int64(st, 0);
		found = 1;
	} else if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		return FAIL(lb, st, rc, "next due");
	}
	sqlstmt_run(st);
	return found;
}

int labelbook_counts(struct labelbook *lb, int64_t now_ms, struct labelbook_counts *c)
{
	sqlite3_stmt *st = lb->st_counts;
	int rc;

	memset(c, 0, sizeof(*c));
	sqlite3_bind_int64(st, 1, now_ms);
	sqlite3_bind_int(st, 2, LABEL_LOW_BATTERY_MV);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW)
		return FAIL(lb, st, rc, "counts");
	c->total = (uint64_t)sqlite3_column_int64(st, 0);
	c->bound = (uint64_t)sqlite3_column_int64(st, 1);
	c->unseen = (uint64_t)sqlite3_column_int64(st, 2);
	c->queued = (uint64_t)sqlite3_column_int64(st, 3);
	c->sent = (uint64_t)sqlite3_column_int64(st, 4);
	c->delivered = (uint64_t)sqlite3_column_int64(st, 5);
	c->failed = (uint64_t)sqlite3_column_int64(st, 6);
	c->low_battery = (uint64_t)sqlite3_column_int64(st, 7);
	c->not_seen = (uint64_t)sqlite3_column_int64(st, 8);
	c->superseded = (uint64_t)sqlite3_column_int64(st, 9);
	sqlstmt_run(st);
	return 0;
}
