/*
 * sqlstmt: the prepared-statement table pattern shared by the modules that
 * keep their own tables in the store's database (pricebook.c, labelbook.c).
 * A module lists its statements once as {offset of the handle in its struct,
 * SQL}; these helpers prepare and finalize them all, step one that returns
 * no rows, and turn an SQLite failure into a logged -EIO.
 */
#ifndef SHELF_SQLSTMT_H
#define SHELF_SQLSTMT_H

#include <stddef.h>

#include <sqlite3.h>

struct sqlstmt_def {
	size_t off; /* offsetof(owner struct, sqlite3_stmt * member) */
	const char *sql;
};

/*
 * Prepare every statement of @defs into @owner (persistent). On failure the
 * ones prepared are finalized, the error is logged with @who, and -EIO
 * returned; else 0.
 */
int sqlstmt_prepare_all(sqlite3 *db, void *owner, const struct sqlstmt_def *defs, size_t n,
			const char *who);

/* Finalize every statement of @defs in @owner (NULL handles are fine). */
void sqlstmt_finalize_all(void *owner, const struct sqlstmt_def *defs, size_t n);

/* Step @st once, then reset it and clear its bindings. Returns SQLite's code. */
int sqlstmt_run(sqlite3_stmt *st);

/*
 * Log "@who: @what: <sqlite message> (@rc)", reset @st (may be NULL) and
 * return -EIO.
 */
int sqlstmt_fail(sqlite3 *db, sqlite3_stmt *st, int rc, const char *who, const char *what);

#endif
