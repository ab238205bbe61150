/*
 * pricebook: prices, inbox ids and scheduled batches in SQLite. See
 * pricebook.h. Statements are prepared once; SQLite errors are logged here
 * and become -EIO.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "sqlstmt.h"
#include "log.h"
#include "pricebook.h"

/*
 * "Newer" for a SKU: a larger issued_at, or the same issued_at and a batch id
 * that sorts after (or is) the stored one. Written once, used by both the
 * upsert and the removal.
 */
#define NEWER_THAN_STORED                                                                          \
	" WHERE excluded.issued_at_ms > prices.issued_at_ms OR"                                    \
	" (excluded.issued_at_ms = prices.issued_at_ms AND excluded.batch_id >= prices.batch_id)"

struct pricebook {
	sqlite3 *db;
	sqlite3_stmt *st_seen;
	sqlite3_stmt *st_record;
	sqlite3_stmt *st_upsert;
	sqlite3_stmt *st_remove;
	sqlite3_stmt *st_missing;
	sqlite3_stmt *st_schedule;
	sqlite3_stmt *st_next_due;
	sqlite3_stmt *st_due;
	sqlite3_stmt *st_unschedule;
	sqlite3_stmt *st_reschedule;
	sqlite3_stmt *st_get_sched;
	sqlite3_stmt *st_sched_count;
	sqlite3_stmt *st_get;
	sqlite3_stmt *st_list;
	sqlite3_stmt *st_count;
};

/* An SQLite failure: logged, the statement reset, -EIO. */
#define FAIL(o, st, rc, what) sqlstmt_fail((o)->db, st, rc, "pricebook", what)

static const struct sqlstmt_def stmts[] = {
	{offsetof(struct pricebook, st_seen), "SELECT status FROM inbox WHERE id = ?1"},
	{offsetof(struct pricebook, st_record),
	 "INSERT OR REPLACE INTO inbox(id, kind, status, received_ms) VALUES(?1, ?2, ?3, ?4)"},
	{offsetof(struct pricebook, st_upsert),
	 "INSERT INTO prices(sku, price, regular, name, unit, promo_until_ms, currency,"
	 " issued_at_ms, batch_id, updated_ms, removed)"
	 " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 0)"
	 " ON CONFLICT(sku) DO UPDATE SET price = excluded.price, regular = excluded.regular,"
	 " name = coalesce(excluded.name, prices.name), unit = coalesce(excluded.unit, "
	 "prices.unit),"
	 " promo_until_ms = excluded.promo_until_ms, currency = excluded.currency,"
	 " issued_at_ms = excluded.issued_at_ms, batch_id = excluded.batch_id,"
	 " updated_ms = excluded.updated_ms, removed = 0" NEWER_THAN_STORED},
	{offsetof(struct pricebook, st_remove),
	 "INSERT INTO prices(sku, price, currency, issued_at_ms, batch_id, updated_ms, removed)"
	 " VALUES(?1, 0, ?2, ?3, ?4, ?5, 1)"
	 " ON CONFLICT(sku) DO UPDATE SET removed = 1, issued_at_ms = excluded.issued_at_ms,"
	 " batch_id = excluded.batch_id, updated_ms = excluded.updated_ms" NEWER_THAN_STORED},
	/* Live SKUs older than snapshot ?2 (issued ?1) that it did not set. */
	{offsetof(struct pricebook, st_missing),
	 "SELECT sku FROM prices WHERE removed = 0 AND batch_id != ?2 AND"
	 " (issued_at_ms < ?1 OR (issued_at_ms = ?1 AND batch_id < ?2))"},
	{offsetof(struct pricebook, st_schedule),
	 "INSERT OR REPLACE INTO scheduled(id, effective_at_ms, issued_at_ms, fleet, body)"
	 " VALUES(?1, ?2, ?3, ?4, ?5)"},
	{offsetof(struct pricebook, st_next_due), "SELECT min(effective_at_ms) FROM scheduled"},
	{offsetof(struct pricebook, st_due),
	 "SELECT id, body, fleet FROM scheduled WHERE effective_at_ms <= ?1"
	 " ORDER BY effective_at_ms, issued_at_ms, id LIMIT 1"},
	{offsetof(struct pricebook, st_unschedule), "DELETE FROM scheduled WHERE id = ?1"},
	{offsetof(struct pricebook, st_get_sched), "SELECT body FROM scheduled WHERE id = ?1"},
	{offsetof(struct pricebook, st_reschedule),
	 "UPDATE scheduled SET effective_at_ms = ?2 WHERE id = ?1"},
	{offsetof(struct pricebook, st_sched_count), "SELECT count(*) FROM scheduled"},
	{offsetof(struct pricebook, st_get),
	 "SELECT sku, price, regular, name, unit, promo_until_ms, currency, issued_at_ms,"
	 " batch_id, updated_ms, removed FROM prices WHERE sku = ?1"},
	{offsetof(struct pricebook, st_list),
	 "SELECT sku, price, regular, name, unit, promo_until_ms, currency, issued_at_ms,"
	 " batch_id, updated_ms, removed FROM prices WHERE sku > ?1 AND removed = 0"
	 " ORDER BY sku LIMIT ?2"},
	{offsetof(struct pricebook, st_count), "SELECT count(*) FROM prices WHERE removed = 0"},
};

int pricebook_open(struct store *st, struct pricebook **out)
{
	struct pricebook *pb;
	int rc;

	*out = NULL;
	pb = calloc(1, sizeof(*pb));
	if (!pb)
		return -ENOMEM;
	pb->db = store_db(st);
	rc = sqlstmt_prepare_all(pb->db, pb, stmts, ARRAY_SIZE(stmts), "pricebook");
	if (rc < 0) {
		free(pb);
		return rc;
	}
	*out = pb;
	return 0;
}

void pricebook_close(struct pricebook *pb)
{
	if (!pb)
		return;
	sqlstmt_finalize_all(pb, stmts, ARRAY_SIZE(stmts));
	free(pb);
}

static void bind_opt_text(sqlite3_stmt *st, int i, const char *s)
{
	if (s)
		sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

int pricebook_seen(struct pricebook *pb, const char *id, char *status, size_t sz)
{
	sqlite3_stmt *st = pb->st_seen;
	int rc;

	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(st, 0);

		str_copy(status, sz, t ? t : "");
		sqlstmt_run(st);
		return 1;
	}
	if (rc != SQLITE_DONE)
		return FAIL(pb, st, rc, "inbox lookup");
	sqlstmt_run(st);
	return 0;
}

int pricebook_record(struct pricebook *pb, const char *id, const char *kind, const char *status)
{
	sqlite3_stmt *st = pb->st_record;
	int rc;

	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, status, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, now_wall_ms());
	rc = sqlstmt_run(st);
	return rc == SQLITE_DONE ? 0 : FAIL(pb, NULL, rc, "inbox record");
}

void pricebook_result_init(struct pricebook_result *r)
{
	memset(r, 0, sizeof(*r));
	r->now_ms = now_wall_ms();
	dynbuf_init(&r->superseded_skus, 64 * 1024);
	dynbuf_init(&r->removed_skus, 64 * 1024);
}

void pricebook_result_free(struct pricebook_result *r)
{
	dynbuf_free(&r->superseded_skus);
	dynbuf_free(&r->removed_skus);
}

/* Append @sku to the JSON array text @d while it has fewer than the max. */
static int list_add(struct dynbuf *d, size_t *count, const char *sku)
{
	int rc = 0;

	(*count)++;
	if (*count > PRICEBOOK_LIST_MAX)
		return 0;
	if (*count > 1)
		rc = dynbuf_add(d, ",", 1);
	return rc ? rc : dynbuf_add_json_str(d, sku);
}

static int remove_sku(struct pricebook *pb, const struct price_batch *b, const char *sku,
		      int64_t now, bool *done)
{
	sqlite3_stmt *st = pb->st_remove;
	int rc;

	sqlite3_bind_text(st, 1, sku, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, b->currency, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, b->issued_at_ms);
	sqlite3_bind_text(st, 4, b->id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, now);
	rc = sqlstmt_run(st);
	if (rc != SQLITE_DONE)
		return FAIL(pb, NULL, rc, "remove");
	*done = sqlite3_changes(pb->db) > 0;
	return 0;
}

/* A snapshot: remove every live SKU it did not set and that is older than it. */
static int remove_missing(struct pricebook *pb, const struct price_batch *b, int64_t now,
			  struct pricebook_result *r, pricebook_changed_cb changed, void *arg)
{
	sqlite3_stmt *st = pb->st_missing;
	char **skus = NULL;
	size_t n = 0, cap = 0, listed = 0;
	int rc, ret = 0;

	/* Collect first: the removal writes the table the select is reading. */
	sqlite3_bind_int64(st, 1, b->issued_at_ms);
	sqlite3_bind_text(st, 2, b->id, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *sku = (const char *)sqlite3_column_text(st, 0);

		if (n == cap) {
			size_t nc = cap ? cap * 2 : 64;
			char **nv = realloc(skus, nc * sizeof(*nv));

			if (!nv) {
				ret = -ENOMEM;
				break;
			}
			skus = nv;
			cap = nc;
		}
		skus[n] = strdup(sku ? sku : "");
		if (!skus[n]) {
			ret = -ENOMEM;
			break;
		}
		n++;
	}
	if (ret == 0 && rc != SQLITE_DONE)
		ret = FAIL(pb, NULL, rc, "snapshot: find missing");
	sqlstmt_run(st);
	for (size_t i = 0; ret == 0 && i < n; i++) {
		bool done;

		ret = remove_sku(pb, b, skus[i], now, &done);
		if (ret == 0 && done) {
			r->removed++;
			ret = list_add(&r->removed_skus, &listed, skus[i]);
			if (changed)
				changed(arg, skus[i]);
		}
	}
	for (size_t i = 0; i < n; i++)
		free(skus[i]);
	free(skus);
	return ret;
}

int pricebook_apply_item(struct pricebook *pb, const struct price_batch *b,
			 const struct price_item *it, struct pricebook_result *r,
			 pricebook_changed_cb changed, void *arg)
{
	sqlite3_stmt *st = pb->st_upsert;
	int rc;

	sqlite3_bind_text(st, 1, it->sku, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, it->price);
	if (it->regular >= 0)
		sqlite3_bind_int64(st, 3, it->regular);
	bind_opt_text(st, 4, it->name);
	bind_opt_text(st, 5, it->unit);
	if (it->promo_until_ms)
		sqlite3_bind_int64(st, 6, it->promo_until_ms);
	sqlite3_bind_text(st, 7, b->currency, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 8, b->issued_at_ms);
	sqlite3_bind_text(st, 9, b->id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 10, r->now_ms);
	rc = sqlstmt_run(st);
	if (rc != SQLITE_DONE)
		return FAIL(pb, NULL, rc, "apply item");
	if (sqlite3_changes(pb->db) > 0) {
		r->applied++;
		if (changed)
			changed(arg, it->sku);
		return 0;
	}
	r->superseded++;
	return list_add(&r->superseded_skus, &r->n_superseded_listed, it->sku);
}

int pricebook_apply_rest(struct pricebook *pb, const struct price_batch *b, bool snapshot,
			 struct pricebook_result *r, pricebook_changed_cb changed, void *arg)
{
	int ret;

	for (size_t i = 0; i < b->n_remove; i++) {
		bool done;

		ret = remove_sku(pb, b, b->remove[i], r->now_ms, &done);
		if (ret < 0)
			return ret;
		if (done) {
			r->removed++;
			if (changed)
				changed(arg, b->remove[i]);
		} else {
			r->superseded++;
			ret = list_add(&r->superseded_skus, &r->n_superseded_listed, b->remove[i]);
			if (ret < 0)
				return ret;
		}
	}
	if (snapshot)
		return remove_missing(pb, b, r->now_ms, r, changed, arg);
	return 0;
}

int pricebook_apply(struct pricebook *pb, const struct price_batch *b, bool snapshot,
		    struct pricebook_result *r, pricebook_changed_cb changed, void *arg)
{
	int ret;

	for (size_t i = 0; i < b->n_items; i++) {
		ret = pricebook_apply_item(pb, b, &b->items[i], r, changed, arg);
		if (ret < 0)
			return ret;
	}
	return pricebook_apply_rest(pb, b, snapshot, r, changed, arg);
}

int pricebook_schedule(struct pricebook *pb, const char *id, int64_t effective_at_ms,
		       int64_t issued_at_ms, bool fleet, const char *payload, size_t len)
{
	sqlite3_stmt *st = pb->st_schedule;
	int rc;

	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, effective_at_ms);
	sqlite3_bind_int64(st, 3, issued_at_ms);
	sqlite3_bind_int(st, 4, fleet);
	sqlite3_bind_blob64(st, 5, payload, len, SQLITE_STATIC);
	rc = sqlstmt_run(st);
	return rc == SQLITE_DONE ? 0 : FAIL(pb, NULL, rc, "schedule");
}

int pricebook_next_due(struct pricebook *pb, int64_t *when)
{
	sqlite3_stmt *st = pb->st_next_due;
	int rc = sqlite3_step(st), found = 0;

	if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
		*when = sqlite3_column_int64(st, 0);
		found = 1;
	} else if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		return FAIL(pb, st, rc, "next due");
	}
	sqlstmt_run(st);
	return found;
}

int pricebook_take_due(struct pricebook *pb, int64_t now_ms, struct dynbuf *payload, char *id,
		       size_t idsz, bool *fleet)
{
	sqlite3_stmt *st = pb->st_due;
	int rc, ret = 0;

	dynbuf_reset(payload);
	sqlite3_bind_int64(st, 1, now_ms);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(st, 0);
		const void *body = sqlite3_column_blob(st, 1);
		size_t len = (size_t)sqlite3_column_bytes(st, 1);

		str_copy(id, idsz, t ? t : "");
		*fleet = sqlite3_column_int(st, 2) != 0;
		ret = body ? dynbuf_add(payload, body, len) : 0;
		ret = ret < 0 ? ret : 1;
	} else if (rc != SQLITE_DONE) {
		return FAIL(pb, st, rc, "take due");
	}
	sqlstmt_run(st);
	return ret;
}

int pricebook_unschedule(struct pricebook *pb, const char *id)
{
	sqlite3_stmt *st = pb->st_unschedule;
	int rc;

	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	rc = sqlstmt_run(st);
	return rc == SQLITE_DONE ? 0 : FAIL(pb, NULL, rc, "unschedule");
}

int pricebook_get_scheduled(struct pricebook *pb, const char *id, struct dynbuf *payload)
{
	sqlite3_stmt *st = pb->st_get_sched;
	int rc, ret = 0;

	dynbuf_reset(payload);
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const void *body = sqlite3_column_blob(st, 0);

		ret = body ? dynbuf_add(payload, body, (size_t)sqlite3_column_bytes(st, 0)) : 0;
		ret = ret < 0 ? ret : 1;
	} else if (rc != SQLITE_DONE) {
		return FAIL(pb, st, rc, "get scheduled");
	}
	sqlstmt_run(st);
	return ret;
}

int pricebook_reschedule(struct pricebook *pb, const char *id, int64_t when)
{
	sqlite3_stmt *st = pb->st_reschedule;
	int rc;

	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, when);
	rc = sqlstmt_run(st);
	return rc == SQLITE_DONE ? 0 : FAIL(pb, NULL, rc, "reschedule");
}

/* Run a "SELECT count(*)" statement. */
static int64_t count_of(struct pricebook *pb, sqlite3_stmt *st, const char *what)
{
	int64_t n = 0;
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	else
		return FAIL(pb, st, rc, what);
	sqlstmt_run(st);
	return n;
}

int pricebook_scheduled_count(struct pricebook *pb)
{
	return (int)count_of(pb, pb->st_sched_count, "scheduled count");
}

int64_t pricebook_count(struct pricebook *pb)
{
	return count_of(pb, pb->st_count, "price count");
}

static void col_text(sqlite3_stmt *st, int i, char *buf, size_t sz)
{
	const char *t = (const char *)sqlite3_column_text(st, i);

	str_copy(buf, sz, t ? t : "");
}

static void read_row(sqlite3_stmt *st, struct price_row *r)
{
	col_text(st, 0, r->sku, sizeof(r->sku));
	r->price = sqlite3_column_int64(st, 1);
	r->regular = sqlite3_column_type(st, 2) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 2);
	col_text(st, 3, r->name, sizeof(r->name));
	col_text(st, 4, r->unit, sizeof(r->unit));
	r->promo_until_ms = sqlite3_column_int64(st, 5);
	col_text(st, 6, r->currency, sizeof(r->currency));
	r->issued_at_ms = sqlite3_column_int64(st, 7);
	col_text(st, 8, r->batch_id, sizeof(r->batch_id));
	r->updated_ms = sqlite3_column_int64(st, 9);
	r->removed = sqlite3_column_int(st, 10) != 0;
}

int pricebook_get(struct pricebook *pb, const char *sku, struct price_row *out)
{
	sqlite3_stmt *st = pb->st_get;
	int rc, ret = -ENOENT;

	sqlite3_bind_text(st, 1, sku, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		read_row(st, out);
		ret = 0;
	} else if (rc != SQLITE_DONE) {
		return FAIL(pb, st, rc, "get");
	}
	sqlstmt_run(st);
	return ret;
}

int pricebook_list(struct pricebook *pb, const char *after, size_t limit,
		   void (*cb)(void *arg, const struct price_row *row), void *arg)
{
	sqlite3_stmt *st = pb->st_list;
	struct price_row row;
	int rc, n = 0;

	sqlite3_bind_text(st, 1, after ? after : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)(limit > INT32_MAX ? INT32_MAX : limit));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		read_row(st, &row);
		cb(arg, &row);
		n++;
	}
	if (rc != SQLITE_DONE)
		return FAIL(pb, st, rc, "list");
	sqlstmt_run(st);
	return n;
}
