/* SPDX-License-Identifier: ISC */
/*
 * migrate: the schema runner behind `rallyctl migrate`, and what `rallyctl
 * status` needs to tell whether a database runs the installed SQL.
 *
 * Migrations (sql/migrations, NNNN_name.sql) hold tables, types, roles,
 * grants and policies: each is applied once, in version order, in its own
 * transaction, and recorded in rally.schema_migrations.  Functions files
 * (sql/functions, <area>.sql) hold the SQL functions and triggers: all of
 * them are re-applied as CREATE OR REPLACE on every run, in one
 * transaction, and their digest is recorded in rally.schema_functions.
 *
 * tests/lib/rallytest/schema.py implements the same contract in Python for
 * the tests; a change here is a change there.
 */
#ifndef RALLY_MIGRATE_H
#define RALLY_MIGRATE_H

#include <stddef.h>

#include <libpq-fe.h>

#include "util.h"

/* Migration and functions files: at most this large, names this long. */
#define DB_MIGRATION_MAX_FILE (1024 * 1024)
#define DB_MIGRATION_MAX_NAME 128
/* The advisory lock every migration run holds while it looks and applies. */
#define DB_MIGRATE_LOCK_KEY INT64_C(0x72616c6c796d6967)	/* "rallymig" */

/* Called with each migration file's name after it has been committed. */
typedef void (*db_migrate_cb)(const char *name, void *arg);

/*
 * Applies the migrations in dir that the database has not recorded in
 * rally.schema_migrations, in version order, each in its own transaction
 * under an advisory lock (so concurrent runs serialize and apply each file
 * once).  *applied is the number applied, also when a file fails; the
 * files before it stay applied and the message names the failing file.
 * Functions files are not applied: see db_functions_apply().
 */
int db_migrate(PGconn *, const char *dir, int *applied, char **cause) MUST_CHECK;
int db_migrate_each(PGconn *, const char *dir, db_migrate_cb, void *arg,
    int *applied, char **cause) MUST_CHECK;

/*
 * The migrations directory to use: arg (a --dir option) when not NULL,
 * else $RALLY_MIGRATIONS_DIR, else the installed PKGDATADIR/migrations.
 */
const char *db_migrations_dir(const char *arg);

/* Functions ------------------------------------------------------------- */

/* Lowercase hex SHA-256. */
#define DB_FUNCTIONS_DIGEST_LEN 64

struct db_functions_file {
	char name[DB_MIGRATION_MAX_NAME + 1];	/* "jobs.sql" */
	char *sql;
};

/* A functions directory read whole; read-only for callers. */
struct db_functions {
	struct db_functions_file *v;
	size_t n;
	/*
	 * SHA-256 over, for each file in name order, its name, a NUL, its
	 * contents and a NUL: what rally.schema_functions.digest records.
	 */
	char digest[DB_FUNCTIONS_DIGEST_LEN + 1];
};

/*
 * The functions directory to use (caller frees): arg (a --functions-dir
 * option) when not NULL, else $RALLY_FUNCTIONS_DIR, else "functions"
 * beside migrations_dir (PKGDATADIR/functions when installed, sql/functions
 * in the source tree).
 */
char *db_functions_dir(const char *arg, const char *migrations_dir);

/*
 * Reads every file of dir (dotfiles aside, each must be a regular file
 * named <area>.sql, area in a-z 0-9 -) in name order and computes their
 * digest, so nothing is applied from a directory that is not whole.
 * NULL with *cause set on error.
 */
struct db_functions *db_functions_load(const char *dir, char **cause);
void db_functions_free(struct db_functions *);

/*
 * Applies every file of fs in one transaction under the migrations lock
 * and records the set in rally.schema_functions; on any error nothing is
 * kept (the previous functions and digest stay) and the message names the
 * file.  Run it after db_migrate(): the files use the migrations' tables.
 */
int db_functions_apply(PGconn *, const struct db_functions *fs,
    char **cause) MUST_CHECK;

/*
 * The digest the database recorded, in *digest (caller frees; NULL when
 * functions were never applied, or the schema predates their table).
 */
int db_functions_recorded(PGconn *, char **digest, char **cause) MUST_CHECK;

/* Shared by migrate.c and migrate-functions.c ---------------------------- */

/* Opens a transaction holding the migrations lock. */
int migrate_lock(PGconn *, char **cause) MUST_CHECK;
/* file must be a regular file (symlinks followed) no larger than the limit. */
int migrate_check_file(int dfd, const char *file, char **cause) MUST_CHECK;
/* Reads dir/file, NUL-terminated; refuses NUL bytes and files too large. */
char *migrate_read(const char *dir, const char *file, char **cause);
/*
 * Runs the statements of sql, read from the file named what, inside the
 * open transaction, which it must leave open; errors name what and the line.
 */
int migrate_exec_file(PGconn *, const char *what, const char *sql,
    char **cause) MUST_CHECK;

#endif
