/*
 * db: synchronous PostgreSQL for the programs that may block (rallyctl,
 * rally.cgi, rallyd's start-up checks and worker threads): connecting,
 * queries with parameters, transactions, the tenant context row-level
 * security keys on, and the migrations runner.  rallyd's event loop uses
 * pgloop instead.
 *
 * SQL always names the schema ("rally.jobs"); db never sets search_path.
 * Error messages set through cause are the server's primary message only,
 * with any parameter value masked, so a password or token passed as a
 * parameter never reaches a log or a terminal.
 */
#ifndef RALLY_DB_H
#define RALLY_DB_H

#include <stdbool.h>

#include <libpq-fe.h>

#include "util.h"

/* Connection timeout unless conninfo or PGCONNECT_TIMEOUT says otherwise. */
#define DB_CONNECT_TIMEOUT_SEC 10

/* Migration files: NNNN_name.sql, at most this large. */
#define DB_MIGRATION_MAX_FILE (1024 * 1024)
#define DB_MIGRATION_MAX_NAME 128
/* The advisory lock every migration run holds while it looks and applies. */
#define DB_MIGRATE_LOCK_KEY INT64_C(0x72616c6c796d6967)	/* "rallymig" */

/*
 * Connects (blocking, at most DB_CONNECT_TIMEOUT_SEC unless conninfo says
 * otherwise), with application_name defaulting to the program's name and
 * client_encoding UTF8.  NULL on failure with *cause set.
 */
PGconn *db_connect(const char *conninfo, char **cause);
void db_close(PGconn *);

/*
 * Runs sql with text parameters ($1..$n; a NULL entry is SQL NULL) and
 * returns its result (caller PQclear()s) when it succeeded, or NULL with
 * *cause set to the server's message, parameter values masked.
 */
PGresult *db_exec(PGconn *, const char *sql, int nparams,
    const char *const *params, char **cause);
/*
 * The same with libpq's full parameter description: lengths and formats
 * (1 for binary, as bytea is passed) may be NULL for all-text; result_format
 * 1 returns binary columns.  Binary parameters are never scanned into
 * messages.
 */
PGresult *db_exec_params(PGconn *, const char *sql, int nparams,
    const char *const *params, const int *lengths, const int *formats,
    int result_format, char **cause);
/* Runs a command whose result is not needed; 0 or -1. */
int db_command(PGconn *, const char *sql, int nparams,
    const char *const *params, char **cause) MUST_CHECK;

int db_begin(PGconn *, char **cause) MUST_CHECK;
int db_commit(PGconn *, char **cause) MUST_CHECK;
/*
 * Rolls back the open transaction, if any (so it is safe on any error
 * path); 0 or -1.  With a NULL cause an error is logged instead.
 */
int db_rollback(PGconn *, char **cause);

/*
 * Sets rally.tenant_id and rally.user_id (NULL or "" for none) for the
 * row-level security policies: for the current transaction when one is
 * open, else for the session.
 */
int db_set_tenant(PGconn *, const char *tenant_id, const char *user_id,
    char **cause) MUST_CHECK;

/* Called with each migration file's name after it has been committed. */
typedef void (*db_migrate_cb)(const char *name, void *arg);

/*
 * Applies the migrations in dir that the database has not recorded in
 * rally.schema_migrations, in version order, each in its own transaction
 * under an advisory lock (so concurrent runs serialize and apply each file
 * once).  *applied is the number applied, also when a file fails; the
 * files before it stay applied and the message names the failing file.
 */
int db_migrate(PGconn *, const char *dir, int *applied, char **cause) MUST_CHECK;
int db_migrate_each(PGconn *, const char *dir, db_migrate_cb, void *arg,
    int *applied, char **cause) MUST_CHECK;

/*
 * The migrations directory to use: arg (a --dir option) when not NULL,
 * else $RALLY_MIGRATIONS_DIR, else the installed PKGDATADIR/migrations.
 */
const char *db_migrations_dir(const char *arg);

#endif
