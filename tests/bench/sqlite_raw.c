/*
 * sqlite_raw: the raw SQLite insert limit on this machine, the baseline of the
 * ingest bench.
 *
 *   sqlite_raw DB BODIES N BATCH [plain|daemon|SCHEMA_FILE]
 *
 * Creates DB (removing any old one and its -wal/-shm), sets journal_mode=WAL
 * and synchronous=FULL, and inserts N rows in transactions of BATCH rows
 * through one prepared statement. The bodies are the lines of the file
 * BODIES, cycled (the bench writes there the exact bodies shelfd stored, so
 * the rows have the same size). Schemas:
 *   plain   outbox(seq INTEGER PRIMARY KEY AUTOINCREMENT, type TEXT, prio INTEGER,
 *                  ts_ms INTEGER, body TEXT)                (the default)
 *   daemon  the same plus len INTEGER and secondary indexes (type, seq) and
 *           (prio, seq), as shelfd's first schema had
 *   FILE    a file of SQL creating the outbox table (with len; seq is bound
 *           explicitly, as shelfd assigns it) and its indexes:
 *           the bench writes there the exact schema of shelfd's database
 *           (sqlite_master), so the insert pays for the same indexes
 * Prints one line:
 *   sqlite_raw rows=N secs=S rate=R avg_body=B batch=K schema=X
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(sqlite3 *db, const char *what)
{
	fprintf(stderr, "sqlite_raw: %s: %s\n", what, db ? sqlite3_errmsg(db) : "?");
	exit(1);
}

static void exec(sqlite3 *db, const char *sql)
{
	char *err = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
		fprintf(stderr, "sqlite_raw: %s: %s\n", sql, err ? err : "?");
		exit(1);
	}
}

int main(int argc, char **argv)
{
	const char *path, *bodies_path, *schema = "plain";
	char **bodies = NULL;
	size_t *lens = NULL, nb = 0, cap = 0, total_len = 0;
	long n, batch;
	char *line = NULL, tmp[4096];
	size_t lcap = 0;
	ssize_t got;
	FILE *f;
	sqlite3 *db = NULL;
	sqlite3_stmt *ins;
	int daemon_schema;
	double t0, t1;
	long long ts_ms = 1795399200120LL;
	long long seq0 = ts_ms * 1000;

	if (argc < 5) {
		fprintf(stderr, "usage: sqlite_raw DB BODIES N BATCH [plain|daemon|SCHEMA_FILE]\n");
		return 2;
	}
	path = argv[1];
	bodies_path = argv[2];
	n = atol(argv[3]);
	batch = atol(argv[4]);
	if (argc > 5)
		schema = argv[5];
	daemon_schema = strcmp(schema, "plain") != 0;
	if (n <= 0 || batch <= 0)
		return 2;

	f = fopen(bodies_path, "r");
	if (!f) {
		perror(bodies_path);
		return 1;
	}
	while ((got = getline(&line, &lcap, f)) > 0) {
		while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r'))
			line[--got] = 0;
		if (!got)
			continue;
		if (nb == cap) {
			cap = cap ? cap * 2 : 1024;
			bodies = realloc(bodies, cap * sizeof(*bodies));
			lens = realloc(lens, cap * sizeof(*lens));
			if (!bodies || !lens)
				return 1;
		}
		bodies[nb] = strdup(line);
		lens[nb] = (size_t)got;
		total_len += (size_t)got;
		nb++;
	}
	fclose(f);
	free(line);
	if (!nb) {
		fprintf(stderr, "sqlite_raw: no bodies in %s\n", bodies_path);
		return 1;
	}

	unlink(path);
	snprintf(tmp, sizeof(tmp), "%s-wal", path);
	unlink(tmp);
	snprintf(tmp, sizeof(tmp), "%s-shm", path);
	unlink(tmp);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	    SQLITE_OK)
		die(db, "open");
	exec(db, "PRAGMA journal_mode = WAL");
	exec(db, "PRAGMA synchronous = FULL");
	if (daemon_schema && strcmp(schema, "daemon") != 0) {
		FILE *sf = fopen(schema, "r");
		char *sql;
		long sz;

		if (!sf) {
			perror(schema);
			return 1;
		}
		fseek(sf, 0, SEEK_END);
		sz = ftell(sf);
		rewind(sf);
		sql = calloc(1, (size_t)sz + 1);
		if (!sql || fread(sql, 1, (size_t)sz, sf) != (size_t)sz)
			return 1;
		fclose(sf);
		exec(db, sql);
		free(sql);
		schema = "shelfd";
	} else if (daemon_schema) {
		exec(db, "CREATE TABLE outbox(seq INTEGER PRIMARY KEY AUTOINCREMENT, type TEXT NOT "
			 "NULL, prio INTEGER NOT NULL, ts_ms INTEGER NOT NULL, len INTEGER NOT "
			 "NULL, body TEXT NOT NULL);"
			 "CREATE INDEX outbox_type_seq ON outbox(type, seq);"
			 "CREATE INDEX outbox_prio_seq ON outbox(prio, seq);");
	}
	if (daemon_schema) {
		/* seq is given explicitly: shelfd assigns it itself (schema v2) */
		if (sqlite3_prepare_v2(db,
				       "INSERT INTO outbox(type, prio, ts_ms, len, body, seq) "
				       "VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
				       -1, &ins, NULL) != SQLITE_OK)
			die(db, "prepare");
	} else {
		exec(db, "CREATE TABLE outbox(seq INTEGER PRIMARY KEY AUTOINCREMENT, type TEXT, "
			 "prio INTEGER, ts_ms INTEGER, body TEXT)");
		if (sqlite3_prepare_v2(db,
				       "INSERT INTO outbox(type, prio, ts_ms, body) "
				       "VALUES(?1, ?2, ?3, ?4)",
				       -1, &ins, NULL) != SQLITE_OK)
			die(db, "prepare");
	}

	t0 = now_s();
	for (long i = 0; i < n;) {
		exec(db, "BEGIN IMMEDIATE");
		for (long k = 0; k < batch && i < n; k++, i++) {
			size_t b = (size_t)i % nb;

			sqlite3_bind_text(ins, 1, "sale", 4, SQLITE_STATIC);
			sqlite3_bind_int(ins, 2, 0);
			sqlite3_bind_int64(ins, 3, ts_ms + i);
			if (daemon_schema) {
				sqlite3_bind_int64(ins, 4, (sqlite3_int64)lens[b]);
				sqlite3_bind_text(ins, 5, bodies[b], (int)lens[b], SQLITE_STATIC);
				sqlite3_bind_int64(ins, 6, seq0 + i);
			} else {
				sqlite3_bind_text(ins, 4, bodies[b], (int)lens[b], SQLITE_STATIC);
			}
			if (sqlite3_step(ins) != SQLITE_DONE)
				die(db, "insert");
			sqlite3_reset(ins);
		}
		exec(db, "COMMIT");
	}
	t1 = now_s();
	sqlite3_finalize(ins);
	sqlite3_close(db);
	printf("sqlite_raw rows=%ld secs=%.3f rate=%.0f avg_body=%.1f batch=%ld schema=%s\n", n,
	       t1 - t0, (double)n / (t1 - t0), (double)total_len / (double)nb, batch, schema);
	return 0;
}
