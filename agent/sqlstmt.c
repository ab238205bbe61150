/*
 * sqlstmt: prepared-statement tables. See sqlstmt.h.
 */
#include <errno.h>

#include "log.h"
#include "sqlstmt.h"

static sqlite3_stmt **slot(void *owner, const struct sqlstmt_def *d)
{
	return (sqlite3_stmt **)((char *)owner + d->off);
}

int sqlstmt_prepare_all(sqlite3 *db, void *owner, const struct sqlstmt_def *defs, size_t n,
			const char *who)
{
	for (size_t i = 0; i < n; i++) {
		int rc = sqlite3_prepare_v3(db, defs[i].sql, -1, SQLITE_PREPARE_PERSISTENT,
					    slot(owner, &defs[i]), NULL);

		if (rc != SQLITE_OK) {
			log_err("%s: prepare: %s", who, sqlite3_errmsg(db));
			sqlstmt_finalize_all(owner, defs, n);
			return -EIO;
		}
	}
	return 0;
}

void sqlstmt_finalize_all(void *owner, const struct sqlstmt_def *defs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		sqlite3_finalize(*slot(owner, &defs[i]));
		*slot(owner, &defs[i]) = NULL;
	}
}

int sqlstmt_run(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc;
}

int sqlstmt_fail(sqlite3 *db, sqlite3_stmt *st, int rc, const char *who, const char *what)
{
	log_err("%s: %s: %s (%d)", who, what, sqlite3_errmsg(db), rc);
	if (st) {
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
	}
	return -EIO;
}
