/*
 * store: the outbox in one SQLite file. See store.h for the contract.
 *
 * Everything the hot path needs is prepared once at open and cached in
 * struct store; store_append() is one bound INSERT on a cached statement, and
 * the depth and byte counters live in memory (loaded at open with one query,
 * kept up to date on insert/delete, reloaded after a rollback).
 *
 * SQLite result codes are translated here, once: every failure is logged with
 * sqlite3_errmsg() and becomes -EIO for the caller. During open, SQLITE_CORRUPT
 * and SQLITE_NOTADB (and a failed quick_check) mean "the file is damaged":
 * it is moved aside with its -wal and -shm and a fresh database is started.
 *
 * The body length in bytes is kept in its own column (len) so that the quota
 * bookkeeping never has to read bodies (length() on TEXT counts characters and
 * loads the whole value).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "log.h"
#include "store.h"
#include "util.h"

#define STORE_BUSY_TIMEOUT_MS 200
#define STORE_WAL_LIMIT (64 * 1024 * 1024) /* journal_size_limit */
#define QUOTA_CHUNK 1000 /* rows looked at / deleted per statement */
#define PRIO_UNKNOWN 4 /* unknown types */

/* Internal only: "the file is damaged, move it aside". Never returned to callers. */
#define STORE_ECORRUPT (-EBADMSG)

struct store {
	sqlite3 *db;
	char path[PATH_MAX];
	bool sync_full;
	uint64_t max_bytes;

	bool clean_marker; /* the last run closed cleanly: skip quick_check */
	bool in_txn; /* we issued BEGIN and have not committed / rolled back */
	bool txn_failed; /* the open transaction was rolled back under the caller */
	bool quota_stuck; /* over quota with only sales left: warned once */
	bool new_droppable; /* a droppable (class > 0) row was appended since the last quota pass */

	uint64_t depth;
	uint64_t bytes;
	int64_t last_seq; /* highest seq assigned (including uncommitted) */
	int64_t committed_seq; /* highest seq known durable: store_scan stops here */
	int64_t hw_saved; /* last_seq as written to meta.seq_hw in the open transaction */
	uint64_t dropped;
	uint64_t commits;
	uint64_t commit_errors;

	sqlite3_stmt *st_begin;
	sqlite3_stmt *st_commit;
	sqlite3_stmt *st_rollback;
	sqlite3_stmt *st_insert;
	sqlite3_stmt *st_scan; /* class 0 (sales): seq range, filtered by type */
	sqlite3_stmt *st_scan_idx; /* other classes: the partial (type, seq) index */
	sqlite3_stmt *st_delete;
	sqlite3_stmt *st_delete_idx;
	sqlite3_stmt *st_seq_hw;
	sqlite3_stmt *st_has;
	sqlite3_stmt *st_oldest;
	sqlite3_stmt *st_counts;
	sqlite3_stmt *st_top_prio;
	sqlite3_stmt *st_prio_rows;
	sqlite3_stmt *st_prio_delete;
	sqlite3_stmt *st_drop_add;
	sqlite3_stmt *st_drops;
	sqlite3_stmt *st_types;
};

/* Statements prepared at open, with where their handle lives. */
static const struct {
	size_t off;
	const char *sql;
} stmt_defs[] = {
	{offsetof(struct store, st_begin), "BEGIN IMMEDIATE"},
	{offsetof(struct store, st_commit), "COMMIT"},
	{offsetof(struct store, st_rollback), "ROLLBACK"},
	{offsetof(struct store, st_insert),
	 "INSERT INTO outbox(seq, type, prio, ts_ms, len, body) VALUES(?1, ?2, ?3, ?4, ?5, ?6)"},
	{offsetof(struct store, st_scan),
	 "SELECT seq, body FROM outbox WHERE seq > ?2 AND seq <= ?3 AND type = ?1 ORDER BY seq"},
	{offsetof(struct store, st_scan_idx),
	 "SELECT seq, body FROM outbox WHERE type = ?1 AND prio > 0 AND seq > ?2 AND seq <= ?3"
	 " ORDER BY seq"},
	{offsetof(struct store, st_delete),
	 "DELETE FROM outbox WHERE seq BETWEEN ?2 AND ?3 AND type = ?1 RETURNING len"},
	{offsetof(struct store, st_delete_idx),
	 "DELETE FROM outbox WHERE type = ?1 AND prio > 0 AND seq BETWEEN ?2 AND ?3 RETURNING len"},
	{offsetof(struct store, st_seq_hw),
	 "INSERT OR REPLACE INTO meta(key, value) VALUES('seq_hw', ?1)"},
	{offsetof(struct store, st_has), "SELECT 1 FROM outbox WHERE seq = ?1"},
	{offsetof(struct store, st_oldest), "SELECT ts_ms FROM outbox ORDER BY seq LIMIT 1"},
	{offsetof(struct store, st_counts),
	 "SELECT (SELECT count(*) FROM outbox), (SELECT coalesce(sum(len), 0) FROM outbox),"
	 " max((SELECT coalesce(max(seq), 0) FROM outbox),"
	 "     (SELECT coalesce(max(value), 0) FROM meta WHERE key = 'seq_hw')),"
	 " (SELECT coalesce(sum(n), 0) FROM drops)"},
	{offsetof(struct store, st_top_prio),
	 "SELECT prio FROM outbox WHERE prio > 0 ORDER BY prio DESC LIMIT 1"},
	{offsetof(struct store, st_prio_rows),
	 "SELECT seq, len FROM outbox WHERE prio = ?1 AND prio > 0 ORDER BY seq LIMIT ?2"},
	{offsetof(struct store, st_prio_delete),
	 "DELETE FROM outbox WHERE prio = ?1 AND prio > 0 AND seq <= ?2 RETURNING type, len"},
	{offsetof(struct store, st_drop_add),
	 "INSERT INTO drops(type, n) VALUES(?1, ?2)"
	 " ON CONFLICT(type) DO UPDATE SET n = n + excluded.n"},
	{offsetof(struct store, st_drops), "SELECT type, n FROM drops ORDER BY type"},
	{offsetof(struct store, st_types),
	 "SELECT type, count(*), min(seq) FROM outbox GROUP BY type ORDER BY type"},
};

static sqlite3_stmt **stmt_slot(struct store *s, size_t i)
{
	return (sqlite3_stmt **)((char *)s + stmt_defs[i].off);
}

/*
 * Schema migrations, applied in order, each in its own transaction that also
 * sets user_version to its index + 1. Append new steps; never edit old ones.
 * @post runs inside the same transaction after @sql (NULL if none).
 */
static int seed_seq(struct store *s);
static int save_seq_hw(struct store *s);

static const struct {
	const char *sql;
	int (*post)(struct store *s);
} migrations[] = {
	/* v1: the outbox, drop counters, a key/value table for later use. */
	{"CREATE TABLE outbox(seq INTEGER PRIMARY KEY AUTOINCREMENT, type TEXT NOT NULL,"
	 " prio INTEGER NOT NULL, ts_ms INTEGER NOT NULL, len INTEGER NOT NULL,"
	 " body TEXT NOT NULL);"
	 "CREATE INDEX outbox_type_seq ON outbox(type, seq);"
	 "CREATE INDEX outbox_prio_seq ON outbox(prio, seq) WHERE prio > 0;"
	 "CREATE TABLE meta(key TEXT PRIMARY KEY, value);"
	 "CREATE TABLE drops(type TEXT PRIMARY KEY, n INTEGER NOT NULL DEFAULT 0);",
	 seed_seq},
	/*
	 * v2: the hot insert pays for one b-tree only. seq is a plain INTEGER
	 * PRIMARY KEY assigned by us (no AUTOINCREMENT bookkeeping per row); its
	 * high-water mark lives in meta.seq_hw, written in the same transaction
	 * as the rows, so a drained (empty) outbox never hands out a seq again.
	 * Sales (class 0) are found by seq range; the (type, seq) index covers
	 * only the other classes (prio > 0), which are few.
	 */
	{"CREATE TABLE outbox_v2(seq INTEGER PRIMARY KEY, type TEXT NOT NULL,"
	 " prio INTEGER NOT NULL, ts_ms INTEGER NOT NULL, len INTEGER NOT NULL,"
	 " body TEXT NOT NULL);"
	 "INSERT INTO outbox_v2 SELECT seq, type, prio, ts_ms, len, body FROM outbox;"
	 "INSERT OR REPLACE INTO meta(key, value) VALUES('seq_hw', max("
	 " (SELECT coalesce(max(seq), 0) FROM sqlite_sequence WHERE name = 'outbox'),"
	 " (SELECT coalesce(max(seq), 0) FROM outbox)));"
	 "DROP TABLE outbox;"
	 "ALTER TABLE outbox_v2 RENAME TO outbox;"
	 "CREATE INDEX outbox_type_seq ON outbox(type, seq) WHERE prio > 0;"
	 "CREATE INDEX outbox_prio_seq ON outbox(prio, seq) WHERE prio > 0;",
	 NULL},
	/*
	 * v3: prices from HQ (pricebook.c). prices: the current price per SKU
	 * with the issued_at of the batch that set it (newest issued_at wins);
	 * a removed SKU stays as a tombstone so an older batch cannot bring it
	 * back. inbox: every HQ message id seen, with the status it was acked
	 * with (dedupe). scheduled: validated batches waiting for effective_at.
	 */
	{"CREATE TABLE prices(sku TEXT PRIMARY KEY, price INTEGER NOT NULL,"
	 " regular INTEGER, name TEXT, unit TEXT, promo_until_ms INTEGER,"
	 " currency TEXT NOT NULL, issued_at_ms INTEGER NOT NULL, batch_id TEXT NOT NULL,"
	 " updated_ms INTEGER NOT NULL, removed INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;"
	 "CREATE TABLE inbox(id TEXT PRIMARY KEY, kind TEXT NOT NULL, status TEXT NOT NULL,"
	 " received_ms INTEGER NOT NULL) WITHOUT ROWID;"
	 "CREATE TABLE scheduled(id TEXT PRIMARY KEY, effective_at_ms INTEGER NOT NULL,"
	 " issued_at_ms INTEGER NOT NULL, fleet INTEGER NOT NULL, body BLOB NOT NULL);"
	 "CREATE INDEX scheduled_due ON scheduled(effective_at_ms);",
	 NULL},
	/*
	 * v4: shelf labels (labelbook.c): binding, what each label reported,
	 * and its delivery job (job_state is enum labeljob_state; 1 = queued).
	 */
	{"CREATE TABLE labels(id TEXT PRIMARY KEY, sku TEXT, type INTEGER NOT NULL DEFAULT 0,"
	 " battery_mv INTEGER NOT NULL DEFAULT 0, temp_c INTEGER NOT NULL DEFAULT 0,"
	 " rssi INTEGER NOT NULL DEFAULT 0, lqi INTEGER NOT NULL DEFAULT 0,"
	 " shown_hash TEXT NOT NULL DEFAULT '', shown_price INTEGER,"
	 " shown_nfs INTEGER NOT NULL DEFAULT 0, last_seen_ms INTEGER NOT NULL DEFAULT 0,"
	 " checkin_ms INTEGER NOT NULL DEFAULT 0, bound_ms INTEGER NOT NULL DEFAULT 0,"
	 " job_hash TEXT NOT NULL DEFAULT '', job_state INTEGER NOT NULL DEFAULT 0,"
	 " job_attempts INTEGER NOT NULL DEFAULT 0, job_next_ms INTEGER NOT NULL DEFAULT 0,"
	 " job_sent_ms INTEGER NOT NULL DEFAULT 0, job_reason TEXT NOT NULL DEFAULT '',"
	 " job_superseded INTEGER NOT NULL DEFAULT 0, job_price INTEGER NOT NULL DEFAULT 0,"
	 " job_nfs INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;"
	 "CREATE INDEX labels_sku ON labels(sku) WHERE sku IS NOT NULL;"
	 "CREATE INDEX labels_due ON labels(job_next_ms) WHERE job_state = 1;",
	 NULL},
};

#define SCHEMA_VERSION ((int)ARRAY_SIZE(migrations))

static bool rc_corrupt(int rc)
{
	rc &= 0xff;
	return rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB;
}

/* The module edge: log SQLite's own message and turn @rc into -EIO. */
static int sql_fail(struct store *s, int rc, const char *what)
{
	log_err("store: %s: %s: %s (%d)", s->path, what, s->db ? sqlite3_errmsg(s->db) : "?", rc);
	return -EIO;
}

/* Same during open, where corruption is told apart so the file can be moved aside. */
static int open_fail(struct store *s, int rc, const char *what, char *reason, size_t rsz)
{
	const char *msg = s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc);

	if ((rc & 0xff) == SQLITE_NOMEM) {
		log_err("store: %s: %s: out of memory", s->path, what);
		return -ENOMEM;
	}
	if (rc_corrupt(rc)) {
		snprintf(reason, rsz, "%s: %s", what, msg);
		return STORE_ECORRUPT;
	}
	log_err("store: %s: %s: %s (%d)", s->path, what, msg, rc);
	return -EIO;
}

/* Run one statement that returns nothing of interest; reset it afterwards. */
static int stmt_run(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	return rc == SQLITE_ROW ? SQLITE_DONE : rc;
}

/* Run @sql and read the first column of its first row as an integer (0 if no row). */
static int query_int(sqlite3 *db, const char *sql, int64_t *out)
{
	sqlite3_stmt *st;
	int rc;

	rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return rc;
	*out = 0;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*out = sqlite3_column_int64(st, 0);
		rc = SQLITE_OK;
	} else if (rc == SQLITE_DONE) {
		rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	return rc;
}

/* Same, reading text into @buf (empty if no row). */
static int query_text(sqlite3 *db, const char *sql, char *buf, size_t bufsz)
{
	sqlite3_stmt *st;
	int rc;

	rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return rc;
	buf[0] = '\0';
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const unsigned char *t = sqlite3_column_text(st, 0);

		str_copy(buf, bufsz, t ? (const char *)t : "");
		rc = SQLITE_OK;
	} else if (rc == SQLITE_DONE) {
		rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	return rc;
}

/* Reload depth, bytes, last_seq and dropped from the database. */
static int load_counters(struct store *s)
{
	sqlite3_stmt *st = s->st_counts;
	int rc;

	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		s->depth = (uint64_t)sqlite3_column_int64(st, 0);
		s->bytes = (uint64_t)sqlite3_column_int64(st, 1);
		s->last_seq = sqlite3_column_int64(st, 2);
		s->dropped = (uint64_t)sqlite3_column_int64(st, 3);
		rc = SQLITE_OK;
	}
	sqlite3_reset(st);
	return rc;
}

/*
 * Fresh database: start seqs at wall-clock ms * 1000, so that a database
 * rebuilt after corruption does not hand out seqs HQ has already seen.
 */
static int seed_seq(struct store *s)
{
	sqlite3_stmt *st;
	int64_t now = now_wall_ms();
	int rc;

	if (now < 0)
		now = 0;
	rc = sqlite3_prepare_v2(s->db,
				"INSERT INTO sqlite_sequence(name, seq) VALUES('outbox', ?1)", -1,
				&st, NULL);
	if (rc != SQLITE_OK)
		return rc;
	sqlite3_bind_int64(st, 1, now * 1000);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return rc;

	rc = sqlite3_prepare_v2(s->db, "INSERT INTO meta(key, value) VALUES('created_ms', ?1)", -1,
				&st, NULL);
	if (rc != SQLITE_OK)
		return rc;
	sqlite3_bind_int64(st, 1, now);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Apply migrations from @from to SCHEMA_VERSION, one transaction each. */
static int migrate(struct store *s, int from, char *reason, size_t rsz)
{
	char sql[64];
	int rc;

	for (int v = from; v < SCHEMA_VERSION; v++) {
		rc = sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
		if (rc != SQLITE_OK)
			return open_fail(s, rc, "migrate: begin", reason, rsz);
		rc = sqlite3_exec(s->db, migrations[v].sql, NULL, NULL, NULL);
		if (rc == SQLITE_OK && migrations[v].post)
			rc = migrations[v].post(s);
		if (rc == SQLITE_OK) {
			snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v + 1);
			rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
		}
		if (rc == SQLITE_OK)
			rc = sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
		if (rc != SQLITE_OK) {
			int ret = open_fail(s, rc, "migrate", reason, rsz);

			if (!sqlite3_get_autocommit(s->db))
				sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
			return ret;
		}
		log_info("store: %s: schema migrated to version %d", s->path, v + 1);
	}
	return 0;
}

static void close_db(struct store *s)
{
	if (!s->db)
		return;
	if (!sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	for (size_t i = 0; i < ARRAY_SIZE(stmt_defs); i++) {
		sqlite3_stmt **st = stmt_slot(s, i);

		sqlite3_finalize(*st);
		*st = NULL;
	}
	if (sqlite3_close(s->db) != SQLITE_OK)
		log_err("store: %s: close: %s", s->path, sqlite3_errmsg(s->db));
	s->db = NULL;
	s->in_txn = false;
}

/*
 * Open the file, check it, migrate it, prepare the statements and load the
 * counters. Returns 0, STORE_ECORRUPT (with @reason filled), -EIO or -ENOMEM;
 * on failure the database is closed.
 */
static int try_open(struct store *s, char *reason, size_t rsz)
{
	char text[256];
	int64_t ver;
	int rc, ret;

	rc = sqlite3_open_v2(s->path, &s->db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
			     NULL);
	if (rc != SQLITE_OK) {
		ret = open_fail(s, rc, "open", reason, rsz);
		goto err_close;
	}
	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_timeout(s->db, STORE_BUSY_TIMEOUT_MS);
	/*
	 * Until the file has passed every check, closing must not checkpoint
	 * (which writes the -wal into the main file and deletes it): a file we
	 * refuse or move aside is left exactly as we found it.
	 */
	sqlite3_db_config(s->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);

	/* Before anything that writes: a newer file must be left exactly as it is. */
	rc = query_int(s->db, "PRAGMA user_version", &ver);
	if (rc != SQLITE_OK) {
		ret = open_fail(s, rc, "read schema version", reason, rsz);
		goto err_close;
	}
	if (ver > SCHEMA_VERSION || ver < 0) {
		log_err("store: %s: schema version %" PRId64
			" is newer than this shelfd knows (%d);"
			" refusing to touch it (downgrade?)",
			s->path, ver, SCHEMA_VERSION);
		ret = -EIO;
		goto err_close;
	}

	rc = query_text(s->db, "PRAGMA journal_mode = WAL", text, sizeof(text));
	if (rc != SQLITE_OK) {
		ret = open_fail(s, rc, "journal_mode=WAL", reason, rsz);
		goto err_close;
	}
	if (strcmp(text, "wal") != 0) {
		log_err("store: %s: cannot use WAL mode (got \"%s\"): is the data directory "
			"writable?",
			s->path, text);
		ret = -EIO;
		goto err_close;
	}
	rc = sqlite3_exec(
		s->db, s->sync_full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL",
		NULL, NULL, NULL);
	if (rc == SQLITE_OK) {
		snprintf(text, sizeof(text), "PRAGMA journal_size_limit = %d", STORE_WAL_LIMIT);
		rc = sqlite3_exec(s->db, text, NULL, NULL, NULL);
	}
	if (rc != SQLITE_OK) {
		ret = open_fail(s, rc, "pragmas", reason, rsz);
		goto err_close;
	}

	/*
	 * quick_check reads the whole file (seconds for a million-row backlog
	 * on an SD card), so it runs only when the last run did not end with
	 * store_close(): after a crash, a power cut or a first open.
	 */
	if (!s->clean_marker) {
		rc = query_text(s->db, "PRAGMA quick_check", text, sizeof(text));
		if (rc != SQLITE_OK) {
			ret = open_fail(s, rc, "quick_check", reason, rsz);
			goto err_close;
		}
		if (strcmp(text, "ok") != 0) {
			snprintf(reason, rsz, "quick_check: %s", text);
			ret = STORE_ECORRUPT;
			goto err_close;
		}
	}

	ret = migrate(s, (int)ver, reason, rsz);
	if (ret < 0)
		goto err_close;

	for (size_t i = 0; i < ARRAY_SIZE(stmt_defs); i++) {
		rc = sqlite3_prepare_v3(s->db, stmt_defs[i].sql, -1, SQLITE_PREPARE_PERSISTENT,
					stmt_slot(s, i), NULL);
		if (rc != SQLITE_OK) {
			ret = open_fail(s, rc, "prepare", reason, rsz);
			goto err_close;
		}
	}
	rc = load_counters(s);
	if (rc != SQLITE_OK) {
		ret = open_fail(s, rc, "load counters", reason, rsz);
		goto err_close;
	}
	s->committed_seq = s->last_seq;
	s->hw_saved = s->last_seq;
	sqlite3_db_config(s->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 0, NULL);
	return 0;

err_close:
	close_db(s);
	return ret;
}

static int fsync_parent(const char *path)
{
	char dir[PATH_MAX];
	char *slash;
	int fd, rc = 0;

	if (str_copy(dir, sizeof(dir), path) < 0)
		return -ENAMETOOLONG;
	slash = strrchr(dir, '/');
	if (!slash)
		str_copy(dir, sizeof(dir), ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd) != 0)
		rc = -errno;
	close(fd);
	return rc;
}

/* rename(2) that treats a missing source as done. */
static int rename_opt(const char *from, const char *to)
{
	if (rename(from, to) == 0 || errno == ENOENT)
		return 0;
	return -errno;
}

/*
 * Move @path, @path-wal and @path-shm to "<path>.corrupt-<UTC stamp>" (plus
 * -wal/-shm). The -wal goes first: a stale WAL next to a fresh database would
 * be replayed into it. Returns 0 or a negative errno; @moved_to is filled.
 */
static int move_aside(const char *path, char *moved_to, size_t msz)
{
	static const char *const sfx[] = {"-wal", "-shm", ""};
	char stamp[32], from[PATH_MAX + 8], to[PATH_MAX + 8];
	time_t now = time(NULL);
	struct stat sb;
	struct tm tm;
	int n, rc;

	if (!gmtime_r(&now, &tm) || strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm) == 0)
		str_copy(stamp, sizeof(stamp), "unknown");
	for (int i = 0;; i++) {
		if (i == 0)
			n = snprintf(moved_to, msz, "%s.corrupt-%s", path, stamp);
		else
			n = snprintf(moved_to, msz, "%s.corrupt-%s.%d", path, stamp, i);
		if (n < 0 || (size_t)n + 5 >= msz)
			return -ENAMETOOLONG;
		if (lstat(moved_to, &sb) != 0 && errno == ENOENT)
			break;
		if (i == 100)
			return -EEXIST;
	}
	for (size_t i = 0; i < ARRAY_SIZE(sfx); i++) {
		snprintf(from, sizeof(from), "%s%s", path, sfx[i]);
		snprintf(to, sizeof(to), "%s%s", moved_to, sfx[i]);
		rc = rename_opt(from, to);
		if (rc < 0)
			return rc;
	}
	rc = fsync_parent(path);
	if (rc < 0)
		log_warn("store: fsync of the directory of %s: %s", path, strerror(-rc));
	return 0;
}

int store_open(const struct store_opts *o, struct store **out, struct store_open_report *rep)
{
	struct store_open_report dummy;
	char again[256], marker[PATH_MAX + 8];
	struct store *s;
	int ret, rc;

	if (!o || !o->path || !o->path[0] || !out)
		return -EINVAL;
	*out = NULL;
	if (!rep)
		rep = &dummy;
	memset(rep, 0, sizeof(*rep));

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	if (str_copy(s->path, sizeof(s->path), o->path) < 0) {
		log_err("store: database path too long");
		ret = -EIO;
		goto err_free;
	}
	s->sync_full = o->sync_full;
	s->max_bytes = o->max_bytes;
	/* Consume the clean-shutdown marker: a crash from here on leaves none. */
	snprintf(marker, sizeof(marker), "%s.clean", s->path);
	s->clean_marker = unlink(marker) == 0;
	if (s->clean_marker)
		fsync_parent(s->path);

	ret = try_open(s, rep->reason, sizeof(rep->reason));
	if (ret < 0 && ret != STORE_ECORRUPT && s->clean_marker) {
		/* Not what a clean close leaves behind: check the file after all. */
		s->clean_marker = false;
		ret = try_open(s, rep->reason, sizeof(rep->reason));
	}
	if (ret == STORE_ECORRUPT) {
		s->clean_marker = false;
		log_err("store: %s is damaged (%s): moving it aside and starting a new database",
			s->path, rep->reason);
		rc = move_aside(s->path, rep->moved_to, sizeof(rep->moved_to));
		if (rc < 0) {
			log_err("store: %s: cannot move the damaged database aside: %s", s->path,
				strerror(-rc));
			ret = -EIO;
			goto err_free;
		}
		rep->recreated = true;
		log_warn("store: damaged database kept as %s", rep->moved_to);
		ret = try_open(s, again, sizeof(again));
		if (ret == STORE_ECORRUPT) {
			log_err("store: %s: the new database is damaged too", s->path);
			ret = -EIO;
		}
	}
	if (ret < 0)
		goto err_free;

	*out = s;
	return 0;

err_free:
	free(s);
	return ret;
}

/* Leave the marker that lets the next open skip quick_check. */
static void mark_clean(struct store *s)
{
	char marker[PATH_MAX + 8];
	int fd;

	snprintf(marker, sizeof(marker), "%s.clean", s->path);
	fd = open(marker, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0) {
		log_warn("store: cannot write %s: %s (next start runs a full check)", marker,
			 strerror(errno));
		return;
	}
	fsync(fd);
	close(fd);
	fsync_parent(s->path);
}

void store_close(struct store *s)
{
	if (!s)
		return;
	if (s->in_txn)
		log_info("store: %s: closing with uncommitted work, rolled back", s->path);
	close_db(s);
	mark_clean(s);
	free(s);
}

int store_type_priority(const char *type)
{
	static const struct {
		const char *type;
		int prio;
	} prios[] = {
		{"sale", 0},   {"alert", 1},	{"integrity", 1}, {"ack", 1},  {"label", 2},
		{"screen", 2}, {"footfall", 3}, {"visit", 3},	  {"rule", 1}, {"markdown", 1},
	};

	if (!type)
		return PRIO_UNKNOWN;
	for (size_t i = 0; i < ARRAY_SIZE(prios); i++) {
		if (strcmp(type, prios[i].type) == 0)
			return prios[i].prio;
	}
	return PRIO_UNKNOWN;
}

/*
 * Roll back whatever is open and reload the counters from the file. Used
 * after any failure inside a transaction; SQLite may already have rolled
 * back on its own (SQLITE_FULL, SQLITE_IOERR, ...).
 */
static void txn_abort(struct store *s)
{
	int rc;

	if (!sqlite3_get_autocommit(s->db)) {
		rc = stmt_run(s->st_rollback);
		if (rc != SQLITE_DONE)
			sql_fail(s, rc, "rollback");
	}
	s->in_txn = false;
	rc = load_counters(s);
	if (rc != SQLITE_OK)
		sql_fail(s, rc, "reload counters");
	if (s->last_seq < s->committed_seq)
		s->last_seq = s->committed_seq;
	s->hw_saved = -1; /* meta.seq_hw is rewritten by the next commit */
}

static int txn_begin(struct store *s)
{
	int rc;

	if (s->in_txn)
		return 0;
	rc = stmt_run(s->st_begin);
	if (rc != SQLITE_DONE)
		return sql_fail(s, rc, "begin");
	s->in_txn = true;
	return 0;
}

/* A failure inside the caller's transaction: everything since the last commit is lost. */
static int txn_lost(struct store *s, int rc, const char *what)
{
	int ret = sql_fail(s, rc, what);

	txn_abort(s);
	s->txn_failed = true;
	return ret;
}

int store_append(struct store *s, const char *type, const char *body, size_t len, int64_t ts_ms,
		 int64_t *seq)
{
	sqlite3_stmt *st;
	int rc, ret, prio;

	if (!s || !type || !type[0] || !body)
		return -EINVAL;
	if (len < 2 || len > INT_MAX || body[0] != '{' || body[len - 1] != '}')
		return -EINVAL;

	ret = txn_begin(s);
	if (ret < 0)
		return ret;
	prio = store_type_priority(type);
	st = s->st_insert;
	sqlite3_bind_int64(st, 1, s->last_seq + 1);
	sqlite3_bind_text(st, 2, type, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 3, prio);
	sqlite3_bind_int64(st, 4, ts_ms);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)len);
	sqlite3_bind_text(st, 6, body, (int)len, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_reset(st); /* every parameter is bound again on the next call */
	if (rc != SQLITE_DONE)
		return txn_lost(s, rc, "append");
	s->last_seq++;
	if (prio > 0)
		s->new_droppable = true;
	s->depth++;
	s->bytes += len;
	if (seq)
		*seq = s->last_seq;
	return 0;
}

struct drop_count {
	char *type;
	uint64_t n;
};

struct drop_tally {
	struct drop_count *v;
	size_t len, cap;
};

static int tally_add(struct drop_tally *t, const char *type)
{
	struct drop_count *nv;

	for (size_t i = 0; i < t->len; i++) {
		if (strcmp(t->v[i].type, type) == 0) {
			t->v[i].n++;
			return 0;
		}
	}
	if (t->len == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 8;

		nv = realloc(t->v, cap * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		t->v = nv;
		t->cap = cap;
	}
	t->v[t->len].type = strdup(type);
	if (!t->v[t->len].type)
		return -ENOMEM;
	t->v[t->len].n = 1;
	t->len++;
	return 0;
}

static void tally_free(struct drop_tally *t)
{
	for (size_t i = 0; i < t->len; i++)
		free(t->v[i].type);
	free(t->v);
}

/*
 * Delete, in one statement, the oldest rows of class @prio, just enough of
 * them (at most QUOTA_CHUNK) to bring bytes down to @target. Returns the
 * number of rows deleted (0: none of that class left), or -EIO / -ENOMEM.
 */
static int quota_drop_chunk(struct store *s, int prio, uint64_t target, struct drop_tally *t)
{
	sqlite3_stmt *st = s->st_prio_rows;
	uint64_t need = s->bytes - target, acc = 0;
	int64_t cut = 0;
	int rc = SQLITE_DONE, n = 0, ret = 0;

	sqlite3_bind_int(st, 1, prio);
	sqlite3_bind_int(st, 2, QUOTA_CHUNK);
	while (acc < need && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		cut = sqlite3_column_int64(st, 0);
		acc += (uint64_t)sqlite3_column_int64(st, 1);
	}
	if (acc < need && rc != SQLITE_DONE) {
		sqlite3_reset(st);
		return sql_fail(s, rc, "quota: select");
	}
	sqlite3_reset(st);
	if (cut == 0)
		return 0;

	st = s->st_prio_delete;
	sqlite3_bind_int(st, 1, prio);
	sqlite3_bind_int64(st, 2, cut);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *type = (const char *)sqlite3_column_text(st, 0);
		uint64_t len = (uint64_t)sqlite3_column_int64(st, 1);

		s->bytes = s->bytes > len ? s->bytes - len : 0;
		if (s->depth)
			s->depth--;
		n++;
		if (ret == 0)
			ret = tally_add(t, type ? type : "");
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return sql_fail(s, rc, "quota: delete");
	return ret < 0 ? ret : n;
}

/* {"ts":..,"type":"alert","alert":"outbox_quota","dropped":{..},"bytes":N,"max_bytes":M} */
static int quota_alert_body(const struct store *s, const struct drop_tally *t, int64_t now,
			    struct dynbuf *d)
{
	char ts[TS_BUFSZ];
	int rc;

	ts_format(now, ts);
	rc = dynbuf_addf(
		d, "{\"ts\":\"%s\",\"type\":\"alert\",\"alert\":\"outbox_quota\",\"dropped\":{",
		ts);
	for (size_t i = 0; rc == 0 && i < t->len; i++) {
		if (i)
			rc = dynbuf_add(d, ",", 1);
		if (rc == 0)
			rc = dynbuf_add_json_str(d, t->v[i].type);
		if (rc == 0)
			rc = dynbuf_addf(d, ":%" PRIu64, t->v[i].n);
	}
	if (rc == 0)
		rc = dynbuf_addf(d, "},\"bytes\":%" PRIu64 ",\"max_bytes\":%" PRIu64 "}", s->bytes,
				 s->max_bytes);
	return rc;
}

/*
 * Past the quota: drop the oldest rows of the highest-numbered class present
 * until bytes <= 90% of the quota, count them per type (drops table), append
 * one alert and commit, all in one transaction. Sales (class 0) are never
 * dropped. Called with no transaction open.
 */
static int quota_enforce(struct store *s)
{
	struct drop_tally t = {0};
	uint64_t target = s->max_bytes / 10 * 9 + (s->max_bytes % 10) * 9 / 10;
	uint64_t total = 0, before = s->bytes;
	struct dynbuf body;
	int64_t now = now_wall_ms();
	int rc, ret;

	dynbuf_init(&body, 1024 * 1024);
	s->new_droppable = false;
	ret = txn_begin(s);
	if (ret < 0)
		goto out;

	while (s->bytes > target) {
		sqlite3_stmt *st = s->st_top_prio;
		int prio;

		rc = sqlite3_step(st);
		prio = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
		sqlite3_reset(st);
		if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
			ret = sql_fail(s, rc, "quota: find class");
			goto err_abort;
		}
		if (prio <= 0)
			break;
		ret = quota_drop_chunk(s, prio, target, &t);
		if (ret < 0)
			goto err_abort;
		if (ret == 0) {
			/* ALWAYS: the class was just seen; do not spin if it was not. */
			break;
		}
	}

	if (t.len == 0) {
		/* Nothing droppable: only sales (never dropped) are over the quota. */
		stmt_run(s->st_rollback);
		s->in_txn = false;
		if (!s->quota_stuck)
			log_warn("store: outbox over quota (%" PRIu64 " > %" PRIu64
				 " bytes) with only sales left: keeping them all",
				 s->bytes, s->max_bytes);
		s->quota_stuck = true;
		ret = 0;
		goto out;
	}

	for (size_t i = 0; i < t.len; i++) {
		sqlite3_stmt *st = s->st_drop_add;

		sqlite3_bind_text(st, 1, t.v[i].type, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)t.v[i].n);
		rc = stmt_run(st);
		sqlite3_clear_bindings(st);
		if (rc != SQLITE_DONE) {
			ret = sql_fail(s, rc, "quota: count drops");
			goto err_abort;
		}
		total += t.v[i].n;
	}
	ret = quota_alert_body(s, &t, now, &body);
	if (ret == 0)
		ret = store_append(s, "alert", body.buf, body.len, now, NULL);
	if (ret < 0) {
		if (!s->txn_failed)
			goto err_abort;
		s->txn_failed = false; /* store_append already rolled back */
		goto out;
	}
	ret = save_seq_hw(s);
	if (ret < 0) {
		s->txn_failed = false; /* rolled back */
		goto out;
	}
	rc = stmt_run(s->st_commit);
	if (rc != SQLITE_DONE) {
		ret = sql_fail(s, rc, "quota: commit");
		goto err_abort;
	}
	s->in_txn = false;
	s->commits++;
	s->committed_seq = s->last_seq;
	s->dropped += total;
	s->new_droppable = false; /* our own alert does not call for another pass */
	log_warn("store: outbox over quota (%" PRIu64 " > %" PRIu64 " bytes): dropped %" PRIu64
		 " events, now %" PRIu64 " bytes",
		 before, s->max_bytes, total, s->bytes);
	if (s->bytes > s->max_bytes) {
		if (!s->quota_stuck)
			log_warn("store: outbox still over quota (%" PRIu64
				 " bytes) with only sales"
				 " left: keeping them all",
				 s->bytes);
		s->quota_stuck = true;
	}
	ret = 0;
	goto out;

err_abort:
	txn_abort(s);
out:
	dynbuf_free(&body);
	tally_free(&t);
	return ret;
}

/*
 * Record the seq high-water mark in the open transaction, so it becomes
 * durable together with the rows that used it. Returns 0 or -EIO (the
 * transaction is then rolled back).
 */
static int save_seq_hw(struct store *s)
{
	int rc;

	if (s->last_seq == s->hw_saved)
		return 0;
	sqlite3_bind_int64(s->st_seq_hw, 1, s->last_seq);
	rc = stmt_run(s->st_seq_hw);
	if (rc != SQLITE_DONE)
		return txn_lost(s, rc, "save seq");
	s->hw_saved = s->last_seq;
	return 0;
}

int store_commit(struct store *s)
{
	int rc, ret;

	if (!s)
		return -EINVAL;
	if (s->txn_failed) {
		/* An append failed and rolled the transaction back: report it once. */
		if (s->in_txn)
			txn_abort(s);
		s->txn_failed = false;
		s->commit_errors++;
		return -EIO;
	}
	if (s->in_txn) {
		ret = save_seq_hw(s);
		if (ret < 0) {
			s->txn_failed = false;
			s->commit_errors++;
			return ret;
		}
		rc = stmt_run(s->st_commit);
		if (rc != SQLITE_DONE) {
			ret = sql_fail(s, rc, "commit");
			txn_abort(s);
			s->commit_errors++;
			return ret;
		}
		s->in_txn = false;
		s->commits++;
		s->committed_seq = s->last_seq;
	}
	/*
	 * Stuck over the quota with only sales (and our own alert) left: do
	 * not churn on every commit; try again once something droppable came in.
	 */
	if (s->max_bytes && s->bytes > s->max_bytes) {
		if ((!s->quota_stuck || s->new_droppable) && quota_enforce(s) < 0)
			s->commit_errors++; /* the events are durable; the quota is retried */
	} else {
		s->quota_stuck = false;
	}
	return 0;
}

/* A failed transaction counts as dirty: store_commit() must report its loss. */
bool store_dirty(const struct store *s)
{
	return s && (s->in_txn || s->txn_failed);
}

int store_scan(struct store *s, const char *type, int64_t after_seq, size_t max_rows,
	       store_row_cb cb, void *arg)
{
	sqlite3_stmt *st;
	int rc = SQLITE_DONE, n = 0;

	if (!s || !type || !cb)
		return -EINVAL;
	if (max_rows > INT_MAX)
		max_rows = INT_MAX;
	st = store_type_priority(type) == 0 ? s->st_scan : s->st_scan_idx;
	sqlite3_bind_text(st, 1, type, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, after_seq);
	sqlite3_bind_int64(st, 3, s->committed_seq);
	while ((size_t)n < max_rows && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t seq = sqlite3_column_int64(st, 0);
		const char *body = (const char *)sqlite3_column_text(st, 1);
		size_t len = (size_t)sqlite3_column_bytes(st, 1);

		n++;
		if (cb(arg, seq, body ? body : "", body ? len : 0) != 0)
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
		return sql_fail(s, rc, "scan");
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return n;
}

int store_delete_range(struct store *s, const char *type, int64_t first, int64_t last)
{
	sqlite3_stmt *st;
	int rc, ret, n = 0;

	if (!s || !type)
		return -EINVAL;
	if (first > last)
		return 0;
	ret = txn_begin(s);
	if (ret < 0)
		return ret;
	st = store_type_priority(type) == 0 ? s->st_delete : s->st_delete_idx;
	sqlite3_bind_text(st, 1, type, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, first);
	sqlite3_bind_int64(st, 3, last);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		uint64_t len = (uint64_t)sqlite3_column_int64(st, 0);

		s->bytes = s->bytes > len ? s->bytes - len : 0;
		if (s->depth)
			s->depth--;
		if (n < INT_MAX)
			n++;
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_DONE)
		return txn_lost(s, rc, "delete");
	return n;
}

bool store_has_seq(struct store *s, int64_t seq)
{
	sqlite3_stmt *st;
	bool found;
	int rc;

	if (!s)
		return false;
	st = s->st_has;
	sqlite3_bind_int64(st, 1, seq);
	rc = sqlite3_step(st);
	found = rc == SQLITE_ROW;
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		sql_fail(s, rc, "has_seq");
	return found;
}

/*
 * oldest_ts_ms is the ts of the lowest-seq row (one primary-key lookup), not
 * a true MIN(ts_ms): events are appended roughly in time order, so this is
 * the age of the backlog without scanning it.
 */
void store_get_stats(const struct store *s, struct store_stats *st)
{
	sqlite3_stmt *q;

	if (!st)
		return;
	memset(st, 0, sizeof(*st));
	if (!s)
		return;
	st->depth = s->depth;
	st->bytes = s->bytes;
	st->last_seq = s->committed_seq;
	st->dropped = s->dropped;
	st->commits = s->commits;
	st->commit_errors = s->commit_errors;
	q = s->st_oldest;
	if (sqlite3_step(q) == SQLITE_ROW)
		st->oldest_ts_ms = sqlite3_column_int64(q, 0);
	sqlite3_reset(q);
}

int store_foreach_dropped(struct store *s, void (*cb)(void *arg, const char *type, uint64_t n),
			  void *arg)
{
	sqlite3_stmt *st;
	int rc;

	if (!s || !cb)
		return -EINVAL;
	st = s->st_drops;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *type = (const char *)sqlite3_column_text(st, 0);

		cb(arg, type ? type : "", (uint64_t)sqlite3_column_int64(st, 1));
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return sql_fail(s, rc, "list drops");
	return 0;
}

int store_foreach_type(struct store *s,
		       void (*cb)(void *arg, const char *type, uint64_t rows, int64_t min_seq),
		       void *arg)
{
	sqlite3_stmt *st;
	int rc;

	if (!s || !cb)
		return -EINVAL;
	st = s->st_types;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *type = (const char *)sqlite3_column_text(st, 0);

		cb(arg, type ? type : "", (uint64_t)sqlite3_column_int64(st, 1),
		   sqlite3_column_int64(st, 2));
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return sql_fail(s, rc, "list types");
	return 0;
}

sqlite3 *store_db(struct store *s)
{
	return s ? s->db : NULL;
}

int store_begin(struct store *s)
{
	if (!s)
		return -EINVAL;
	if (s->txn_failed)
		return -EIO;
	return txn_begin(s);
}

int store_rollback(struct store *s)
{
	if (!s)
		return -EINVAL;
	if (s->in_txn || s->txn_failed)
		txn_abort(s);
	s->txn_failed = false;
	return 0;
}
