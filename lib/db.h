/* SPDX-License-Identifier: ISC */
/*
 * db: synchronous PostgreSQL for the programs that may block (rallyctl,
 * rally.cgi, rallyd's start-up checks and worker threads): connecting,
 * queries with parameters, transactions, the tenant context row-level
 * security keys on.  rallyd's event loop uses pgloop instead; the
 * migrations runner is lib/migrate.
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
/*
 * The server's primary message for a failed res (libpq's own when res is
 * NULL or has none), on one line, parameters not masked; caller frees.
 */
char *db_result_message(PGconn *, const PGresult *);
/* Runs a command whose result is not needed; 0 or -1. */
int db_command(PGconn *, const char *sql, int nparams,
    const char *const *params, char **cause) MUST_CHECK;

/*
 * len bytes as bytea's text input ("\\x" and lowercase hex), for a text
 * parameter ($1::bytea); caller frees.
 */
char *db_bytea_hex(const void *, size_t len);

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

#endif
