/* SPDX-License-Identifier: ISC */
/*
 * db-check: lib/db and lib/pgloop against a real database, as TAP.  It needs a server, so
 * it is not a TESTS entry: tests/integration/test_rallyctl.py runs it with
 * the conninfo of a scratch database (migrations applied) as argv[1].
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "migrate.h"
#include "pgloop.h"
#include "tap.h"
#include "util.h"

static char *
setting(PGconn *db, const char *name)
{
	const char *params[1] = { name };
	PGresult *res;
	char *v;

	res = db_exec(db, "SELECT current_setting($1, true)", 1, params, NULL);
	if (res == NULL)
		return xstrdup("(error)");
	v = xstrdup(PQgetisnull(res, 0, 0) ? "(null)" : PQgetvalue(res, 0, 0));
	PQclear(res);
	return v;
}

static void
check_setting(PGconn *db, const char *name, const char *want, const char *what)
{
	char *v = setting(db, name);

	is_str(v, want, what);
	free(v);
}

static void
test_connect(const char *conninfo)
{
	char *cause = NULL;
	PGconn *db;
	uint64_t t0 = now_usec();

	db = db_connect("host=/nonexistent-rally-dir port=1 dbname=x", &cause);
	ok(db == NULL && cause != NULL && strncmp(cause, "database: ", 10) == 0,
	    "an unreachable server fails with a message starting \"database: \"");
	ok(now_usec() - t0 < 5000000, "and fails promptly");
	free(cause);

	cause = NULL;
	db = db_connect(conninfo, &cause);
	if (!ok(db != NULL, "connects to the test database"))
		printf("#   %s\n", cause);
	check_setting(db, "application_name", "db-check",
	    "application_name defaults to the program name");
	check_setting(db, "client_encoding", "UTF8", "client_encoding is UTF8");
	db_close(db);
	db_close(NULL);
	ok(1, "db_close(NULL) is safe");
}

static void
expect_masked(PGconn *db, const char *sql, const char *param, const char *want,
    const char *name)
{
	const char *params[1] = { param };
	char *cause = NULL;
	PGresult *res = db_exec(db, sql, 1, params, &cause);

	if (!ok(res == NULL && cause != NULL && strstr(cause, param) == NULL &&
	    strstr(cause, want) != NULL, "%s", name))
		printf("#   cause: %s\n", cause ? cause : "(none)");
	PQclear(res);
	free(cause);
}

static void
test_errors(PGconn *db)
{
	const char *dup[2] = { "SeCrEt-ToKeN-4711", NULL };
	char *cause = NULL;
	PGresult *res;

	expect_masked(db, "SELECT $1::uuid", "SeCrEt-ToKeN-4711",
	    "invalid input syntax for type uuid: \"[value]\"",
	    "a parameter echoed by a type error is masked");
	expect_masked(db, "SELECT $1::int", "9999999999999",
	    "\"[value]\"", "an out-of-range number is masked too");
	expect_masked(db, "SELECT $1::boolean", "xyz",
	    "\"[value]\"", "a short quoted parameter is masked");

	res = db_exec(db, "CREATE TEMP TABLE t (k text PRIMARY KEY)", 0, NULL, &cause);
	ok(res != NULL, "a command succeeds");
	PQclear(res);
	dup[1] = dup[0];
	res = db_exec(db, "INSERT INTO t VALUES ($1), ($2)", 2, dup, &cause);
	if (!ok(res == NULL && cause != NULL && strstr(cause, "duplicate key") != NULL &&
	    strstr(cause, dup[0]) == NULL,
	    "a unique violation reports the primary message, not the key's DETAIL"))
		printf("#   cause: %s\n", cause ? cause : "(none)");
	free(cause);
	cause = NULL;
	res = db_exec(db, "SELEC 1", 0, NULL, &cause);
	ok(res == NULL && cause != NULL && strstr(cause, "syntax error") != NULL,
	    "a syntax error is reported");
	free(cause);
}

/* The errors of the queries test_pgloop_errors() sends, in turn. */
struct loop_errors {
	struct event_base *base;
	char *error[4];
	int done;
};

static void
loop_error_cb(const PGresult *res, const char *error, void *arg)
{
	struct loop_errors *e = arg;

	e->error[e->done] = xstrdup(error != NULL ? error : "(no error)");
	if (++e->done == (int)nitems(e->error))
		event_base_loopbreak(e->base);
}

static void
loop_connected_cb(struct pgloop *p, void *arg)
{
	struct loop_errors *e = arg;
	const char *secret[1] = { "SeCrEt-ToKeN-4711" };
	char **big = xcalloc(1, sizeof *big), **lines;
	char **mixed = xcalloc(2, sizeof *mixed);
	int *lengths = xcalloc(2, sizeof *lengths);
	int *formats = xcalloc(2, sizeof *formats);

	pgloop_query(p, "SELECT $1::uuid", 1, secret, loop_error_cb, e);
	/* A page-sized value: pgloop keeps only its beginning. */
	big[0] = xmalloc(20001);
	memset(big[0], 'x', 20000);
	memcpy(big[0], "BiGsEcReT", 9);
	big[0][20000] = '\0';
	pgloop_query_give(p, "SELECT $1::int", 1, big, loop_error_cb, e);
	mixed[0] = xstrdup("\001\002BiNaRy");
	lengths[0] = 8;
	formats[0] = 1;
	mixed[1] = xstrdup("TeXtSeCrEt");
	pgloop_query_give_formats(p, "SELECT length($1::bytea), $2::boolean", 2,
	    mixed, lengths, formats, loop_error_cb, e);
	/* The error is its first line, and so is what is kept of this. */
	lines = xcalloc(1, sizeof *lines);
	lines[0] = xmalloc(10001);
	memset(lines[0], 'y', 10000);
	memcpy(lines[0], "SeCrEtLiNe\n", 11);
	lines[0][10000] = '\0';
	pgloop_query_give(p, "SELECT $1::uuid", 1, lines, loop_error_cb, e);
}

/* pgloop masks the params a server quotes back, as db_exec() does. */
static void
test_pgloop_errors(const char *conninfo)
{
	struct loop_errors e = { event_base_new(), { NULL }, 0 };
	struct pgloop_cbs cbs = { loop_connected_cb, NULL, NULL, &e };
	struct pgloop *p = pgloop_new(e.base, conninfo, &cbs);

	pgloop_start(p);
	event_base_dispatch(e.base);
	if (!ok(e.done == 4 && strstr(e.error[0], "SeCrEt") == NULL &&
	    strstr(e.error[0], "uuid: \"[value]\"") != NULL,
	    "pgloop: a parameter echoed by a type error is masked"))
		printf("#   error: %s\n", e.error[0]);
	if (!ok(e.done == 4 && strstr(e.error[1], "BiGsEcReT") == NULL &&
	    strstr(e.error[1], "xxxx") == NULL &&
	    strstr(e.error[1], "integer: \"[value]\"") != NULL,
	    "pgloop: a large parameter is masked from where it is quoted"))
		printf("#   error: %.200s\n", e.error[1]);
	if (!ok(e.done == 4 && strstr(e.error[2], "TeXtSeCrEt") == NULL &&
	    strstr(e.error[2], "boolean: \"[value]\"") != NULL,
	    "pgloop: a text parameter beside a binary one is masked"))
		printf("#   error: %s\n", e.error[2]);
	if (!ok(e.done == 4 && strstr(e.error[3], "SeCrEt") == NULL &&
	    strstr(e.error[3], "uuid: \"[value]\"") != NULL,
	    "pgloop: a large parameter whose first line is short is masked"))
		printf("#   error: %.200s\n", e.error[3]);
	for (int n = 0; n < e.done; n++)
		free(e.error[n]);
	pgloop_free(p);
	event_base_free(e.base);
}

static void
test_transactions(PGconn *db)
{
	char *cause = NULL;

	ok(db_rollback(db, NULL) == 0 && PQtransactionStatus(db) == PQTRANS_IDLE,
	    "rollback outside a transaction is harmless");
	ok(db_begin(db, &cause) == 0, "begin");
	ok(db_command(db, "SELECT 1/0", 0, NULL, &cause) == -1,
	    "a failing statement inside the transaction");
	free(cause);
	cause = NULL;
	ok(db_commit(db, &cause) == -1 && cause != NULL &&
	    strstr(cause, "rolled back") != NULL,
	    "commit of a failed transaction reports that it was rolled back");
	free(cause);
	ok(PQtransactionStatus(db) == PQTRANS_IDLE, "and leaves no transaction open");
}

static void
test_tenant(PGconn *db)
{
	const char *t = "6f1c2d3e-4a5b-4c6d-8e7f-8091a2b3c4d5";
	const char *u = "0a1b2c3d-4e5f-4a6b-8c7d-8e9fa0b1c2d3";
	char *cause = NULL;

	ok(db_begin(db, &cause) == 0, "begin");
	ok(db_set_tenant(db, t, u, &cause) == 0, "set tenant inside a transaction");
	check_setting(db, "rally.tenant_id", t, "rally.tenant_id is set");
	check_setting(db, "rally.user_id", u, "rally.user_id is set");
	ok(db_rollback(db, &cause) == 0, "rollback");
	check_setting(db, "rally.tenant_id", "",
	    "a tenant set inside a transaction ends with it");

	ok(db_set_tenant(db, t, NULL, &cause) == 0, "set tenant outside a transaction");
	check_setting(db, "rally.tenant_id", t, "is kept for the session");
	check_setting(db, "rally.user_id", "", "a NULL user is empty");
	ok(db_set_tenant(db, NULL, NULL, &cause) == 0, "clearing the tenant");
	check_setting(db, "rally.tenant_id", "", "leaves it empty");

	ok(db_set_tenant(db, "x'; drop table", NULL, &cause) == -1 && cause != NULL,
	    "a tenant id that is not a uuid is refused");
	free(cause);
}

static void
test_migrations_dir(void)
{
	unsetenv("RALLY_MIGRATIONS_DIR");
	is_str(db_migrations_dir(NULL), PKGDATADIR "/migrations",
	    "the installed directory by default");
	setenv("RALLY_MIGRATIONS_DIR", "/env/dir", 1);
	is_str(db_migrations_dir(NULL), "/env/dir", "RALLY_MIGRATIONS_DIR overrides it");
	is_str(db_migrations_dir("/arg"), "/arg", "--dir overrides both");
	unsetenv("RALLY_MIGRATIONS_DIR");
}

static void
check_functions_dir(const char *arg, const char *migrations, const char *want,
    const char *what)
{
	char *d = db_functions_dir(arg, migrations);

	is_str(d, want, what);
	free(d);
}

static void
test_functions_dir(void)
{
	unsetenv("RALLY_FUNCTIONS_DIR");
	check_functions_dir(NULL, PKGDATADIR "/migrations",
	    PKGDATADIR "/functions", "installed: beside the migrations");
	check_functions_dir(NULL, "/src/sql/migrations/", "/src/sql/functions",
	    "a trailing slash is not a directory level");
	check_functions_dir(NULL, "migrations", "functions",
	    "a relative migrations directory");
	check_functions_dir(NULL, "/migrations", "/functions",
	    "a migrations directory at the root");
	setenv("RALLY_FUNCTIONS_DIR", "/env/f", 1);
	check_functions_dir(NULL, "/x/migrations", "/env/f",
	    "RALLY_FUNCTIONS_DIR overrides it");
	check_functions_dir("/arg", "/x/migrations", "/arg",
	    "--functions-dir overrides both");
	unsetenv("RALLY_FUNCTIONS_DIR");
}

static void
test_migrate_in_transaction(PGconn *db)
{
	char *cause = NULL;
	int applied = -1;

	ok(db_begin(db, &cause) == 0, "begin");
	ok(db_migrate(db, "/nonexistent", &applied, &cause) == -1 &&
	    cause != NULL && strstr(cause, "outside any transaction") != NULL &&
	    applied == 0, "migrations refuse to run inside a caller's transaction");
	free(cause);
	db_rollback(db, NULL);
	cause = NULL;
	ok(db_migrate(db, "/nonexistent-rally-dir", &applied, &cause) == -1 &&
	    cause != NULL && strstr(cause, "/nonexistent-rally-dir") != NULL,
	    "a missing directory is named");
	free(cause);
}

int
main(int argc, char **argv)
{
	char *cause = NULL;
	PGconn *db;

	if (argc != 2) {
		fprintf(stderr, "usage: db-check CONNINFO\n");
		return 64;
	}
	test_connect(argv[1]);
	if ((db = db_connect(argv[1], &cause)) == NULL) {
		printf("Bail out! %s\n", cause);
		return 1;
	}
	test_errors(db);
	test_pgloop_errors(argv[1]);
	test_transactions(db);
	test_tenant(db);
	test_migrations_dir();
	test_functions_dir();
	test_migrate_in_transaction(db);
	db_close(db);
	return tap_done();
}
