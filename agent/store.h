/*
 * store: the gateway's durable state in one SQLite file (WAL mode).
 *
 * So far it holds the outbox: every event the store sends to HQ, keyed by a
 * store-scoped, strictly increasing seq. Writes are grouped: store_append()
 * and store_delete_range() open a transaction when none is open, and
 * store_commit() (called once per loop turn, before the loop sleeps) commits
 * everything at once. Nothing is durable before store_commit() returns 0.
 *
 * Schema versions are kept in PRAGMA user_version and migrated forward at
 * open. At open the file is checked (quick_check); a file that cannot be
 * opened or fails the check is renamed aside (with its -wal and -shm) and a
 * fresh database is started; the open report says so, so the caller can
 * raise an alert. A fresh database seeds its seq counter from the wall clock
 * (ms * 1000), so a database rebuilt after corruption never reuses a seq that
 * HQ has already seen (HQ dedupes by (store, seq)).
 *
 * Quota: the outbox holds at most max_bytes of event bodies. Past it,
 * store_commit() drops the oldest events of the lowest-priority class first
 * (see store_type_priority), down to 90% of the quota, counts the drops per
 * type (persistently) and appends one `alert` event describing them. Sales
 * are never dropped.
 */
#ifndef SHELF_STORE_H
#define SHELF_STORE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;

struct store_opts {
	const char *path; /* the database file, e.g. "/var/lib/shelfd/shelfd.db" */
	bool sync_full; /* PRAGMA synchronous=FULL (else NORMAL) */
	uint64_t max_bytes; /* outbox quota on the sum of body lengths */
};

struct store_open_report {
	bool recreated; /* the old file was moved aside */
	char moved_to[PATH_MAX]; /* where it went */
	char reason[256]; /* why (SQLite's message or the check result) */
};

/*
 * Open (creating if needed) the database. On success *@out must be closed by
 * the caller with store_close(). Returns 0, or a negative errno: -ENOMEM,
 * -EIO when the file cannot be opened or recreated.
 */
int store_open(const struct store_opts *o, struct store **out, struct store_open_report *rep);

/* Roll back any open transaction (uncommitted work is lost) and close. NULL-safe. */
void store_close(struct store *s);

/*
 * Priority class of an event type, for the quota: 0 = never dropped (sale),
 * higher numbers are dropped first. Unknown types get the highest number.
 */
int store_type_priority(const char *type);

/*
 * Append one event. @type is the event type ("sale", ...), @body the event
 * JSON object text WITHOUT its seq (e.g. {"ts":"...","type":"sale",...}),
 * @ts_ms the event time. Its seq is returned in *@seq. The row is durable
 * only after store_commit(). Returns 0, -EINVAL (empty body, body not an
 * object), -EIO (SQLite error, logged).
 */
int store_append(struct store *s, const char *type, const char *body, size_t len, int64_t ts_ms,
		 int64_t *seq);

/*
 * Commit the open transaction, if any, then enforce the quota (which may
 * itself append an alert and commit again). Returns 0 or -EIO; after -EIO the
 * transaction has been rolled back and the appended events since the last
 * commit are lost (the caller logs and counts it). -EIO is also returned
 * once after a store_append()/store_delete_range() failure rolled the
 * transaction back. A failure of the quota pass alone still returns 0 (the
 * events are durable): it is logged, counted in commit_errors and retried.
 */
int store_commit(struct store *s);

/*
 * True when a transaction is open (there is uncommitted work), or when a
 * failed append rolled it back and store_commit() has yet to report it.
 */
bool store_dirty(const struct store *s);

/*
 * Call @cb for each outbox row of @type with seq > @after_seq, ascending,
 * until @cb returns non-zero or @max_rows rows were visited. @body is valid
 * only during the call; @cb must not call into the store. Only committed
 * rows are visited (nothing leaves before it is durable; an uncommitted seq
 * may be reused after a rollback). Returns the number of rows visited
 * (including the one whose @cb returned non-zero), or -EIO.
 */
typedef int (*store_row_cb)(void *arg, int64_t seq, const char *body, size_t len);
int store_scan(struct store *s, const char *type, int64_t after_seq, size_t max_rows,
	       store_row_cb cb, void *arg);

/*
 * Delete the rows of @type with @first <= seq <= @last (they were delivered).
 * Part of the current transaction. Returns the number of rows deleted or -EIO.
 */
int store_delete_range(struct store *s, const char *type, int64_t first, int64_t last);

/* True if a row with this seq is still in the outbox. */
bool store_has_seq(struct store *s, int64_t seq);

struct store_stats {
	uint64_t depth; /* rows in the outbox */
	uint64_t bytes; /* sum of body lengths */
	int64_t oldest_ts_ms; /* ts of the oldest (lowest-seq) row, 0 if empty */
	int64_t last_seq; /* highest seq committed (durable) */
	uint64_t dropped; /* events dropped by the quota, all time */
	uint64_t commits; /* successful commits since open */
	uint64_t commit_errors;
};

void store_get_stats(const struct store *s, struct store_stats *st);

/*
 * Call @cb for each event type with dropped events (all time). Returns 0 or -EIO.
 */
int store_foreach_dropped(struct store *s, void (*cb)(void *arg, const char *type, uint64_t n),
			  void *arg);

/*
 * Call @cb for each event type present in the outbox with its row count and
 * lowest seq. Returns 0 or -EIO.
 */
int store_foreach_type(struct store *s,
		       void (*cb)(void *arg, const char *type, uint64_t rows, int64_t min_seq),
		       void *arg);

/*
 * For the other tables in this database (pricebook.c): the connection, to
 * prepare statements on. Owned by the store; valid until store_close().
 */
struct sqlite3;
struct sqlite3 *store_db(struct store *s);

/*
 * Open the store's transaction if none is open (work done on store_db()
 * then commits with the next store_commit()). Returns 0, -EIO.
 */
int store_begin(struct store *s);

/*
 * Roll back the open transaction: everything since the last commit is lost,
 * appended events included (callers commit pending events first). Counters
 * are reloaded. Returns 0.
 */
int store_rollback(struct store *s);

#endif
