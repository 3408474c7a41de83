/* SPDX-License-Identifier: ISC */
/*
 * The migrations runner (lib/migrate.h): scans sql/migrations, applies what
 * rally.schema_migrations does not record, one transaction per file.
 */
#include "config.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "db.h"
#include "migrate.h"

const char *
db_migrations_dir(const char *arg)
{
	const char *e;

	if (arg != NULL)
		return arg;
	if ((e = getenv("RALLY_MIGRATIONS_DIR")) != NULL && *e != '\0')
		return e;
	return PKGDATADIR "/migrations";
}

struct migration {
	int version;
	char file[DB_MIGRATION_MAX_NAME + 1];	/* "0003_add_jobs.sql" */
	char name[DB_MIGRATION_MAX_NAME + 1];	/* "add_jobs" */
};

struct migration_set {
	struct migration *v;
	size_t n;
};

static void
migration_set_clear(struct migration_set *set)
{
	free(set->v);
	set->v = NULL;
	set->n = 0;
}

/* "NNNN_name.sql" with name of [a-z0-9_-]; 0 or -1. */
static int
migration_parse_name(const char *file, struct migration *m)
{
	size_t len = strlen(file), nlen;

	if (len > DB_MIGRATION_MAX_NAME || len < 10)
		return -1;
	for (int i = 0; i < 4; i++)
		if (!isdigit((unsigned char)file[i]))
			return -1;
	if (file[4] != '_' || strcmp(file + len - 4, ".sql") != 0)
		return -1;
	nlen = len - 9;
	for (size_t i = 5; i < 5 + nlen; i++) {
		char c = file[i];

		if (!(islower((unsigned char)c) || isdigit((unsigned char)c) ||
		    c == '_' || c == '-'))
			return -1;
	}
	m->version = atoi(file);	/* four digits: cannot overflow */
	if (m->version == 0)
		return -1;
	snprintf(m->file, sizeof m->file, "%s", file);
	snprintf(m->name, sizeof m->name, "%.*s", (int)nlen, file + 5);
	return 0;
}

static int
migration_cmp(const void *a, const void *b)
{
	const struct migration *x = a, *y = b;

	return (x->version > y->version) - (x->version < y->version);
}

int
migrate_check_file(int dfd, const char *file, char **cause)
{
	struct stat st;

	if (fstatat(dfd, file, &st, 0) == -1)
		return set_cause(cause, "%s: %s", file, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return set_cause(cause, "%s: not a regular file", file);
	if (st.st_size > DB_MIGRATION_MAX_FILE)
		return set_cause(cause, "%s: larger than %d bytes", file,
		    DB_MIGRATION_MAX_FILE);
	return 0;
}

static int
migration_add(struct migration_set *set, int dfd, const char *file,
    char **cause)
{
	struct migration m;

	if (migration_parse_name(file, &m) == -1)
		return set_cause(cause, "%s: not a migration file name "
		    "(NNNN_name.sql, name in a-z 0-9 _ -)", file);
	if (migrate_check_file(dfd, file, cause) == -1)
		return -1;
	set->v = xreallocarray(set->v, set->n + 1, sizeof *set->v);
	set->v[set->n++] = m;
	return 0;
}

/* Every entry of dir except dotfiles must be a well-formed migration. */
static int
migration_scan(const char *dir, struct migration_set *set, char **cause)
{
	struct dirent *de;
	DIR *d;
	int rc = 0;

	if ((d = opendir(dir)) == NULL)
		return set_cause(cause, "%s: %s", dir, strerror(errno));
	while (rc == 0 && (errno = 0, de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		rc = migration_add(set, dirfd(d), de->d_name, cause);
	}
	if (rc == 0 && errno != 0)
		rc = set_cause(cause, "%s: %s", dir, strerror(errno));
	closedir(d);
	if (rc == -1)
		return -1;
	qsort(set->v, set->n, sizeof *set->v, migration_cmp);
	for (size_t i = 1; i < set->n; i++)
		if (set->v[i].version == set->v[i - 1].version)
			return set_cause(cause, "%s and %s have the same version",
			    set->v[i - 1].file, set->v[i].file);
	return 0;
}

char *
migrate_read(const char *dir, const char *file, char **cause)
{
	char *path = xasprintf("%s/%s", dir, file), *buf;
	size_t len = 0;
	ssize_t r;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	free(path);
	if (fd == -1) {
		set_cause(cause, "%s: %s", file, strerror(errno));
		return NULL;
	}
	buf = xmalloc(DB_MIGRATION_MAX_FILE + 2);
	while ((r = read(fd, buf + len, DB_MIGRATION_MAX_FILE + 1 - len)) > 0 &&
	    (len += r) <= DB_MIGRATION_MAX_FILE)
		;
	close(fd);
	if (r == -1)
		set_cause(cause, "%s: %s", file, strerror(errno));
	else if (len > DB_MIGRATION_MAX_FILE)
		set_cause(cause, "%s: larger than %d bytes", file,
		    DB_MIGRATION_MAX_FILE);
	else if (memchr(buf, '\0', len) != NULL)
		set_cause(cause, "%s: contains a NUL byte", file);
	else {
		buf[len] = '\0';
		return buf;
	}
	free(buf);
	return NULL;
}

/* 1-based line of a 1-based character position in sql (UTF-8). */
static int
line_of_position(const char *sql, long pos)
{
	int line = 1;

	for (const char *s = sql; *s != '\0' && pos > 1; s++) {
		if (((unsigned char)*s & 0xc0) == 0x80)
			continue;
		if (*s == '\n')
			line++;
		pos--;
	}
	return line;
}

static int
migrate_error(const char *what, PGconn *conn, const PGresult *res,
    const char *sql, char **cause)
{
	const char *pos = NULL;
	char *msg = db_result_message(conn, res);

	if (res != NULL)
		pos = PQresultErrorField(res, PG_DIAG_STATEMENT_POSITION);
	if (pos != NULL)
		set_cause(cause, "%s: %s (line %d)", what, msg,
		    line_of_position(sql, strtol(pos, NULL, 10)));
	else
		set_cause(cause, "%s: %s", what, msg);
	free(msg);
	return -1;
}

int
migrate_exec_file(PGconn *conn, const char *what, const char *sql,
    char **cause)
{
	PGresult *res;
	int rc = 0;

	/* PQexec, not PQexecParams: a file is many statements. */
	res = PQexec(conn, sql);
	if (res == NULL || PQresultStatus(res) == PGRES_FATAL_ERROR ||
	    PQresultStatus(res) == PGRES_NONFATAL_ERROR ||
	    PQresultStatus(res) == PGRES_BAD_RESPONSE)
		rc = migrate_error(what, conn, res, sql, cause);
	PQclear(res);
	if (rc == 0 && PQtransactionStatus(conn) != PQTRANS_INTRANS)
		rc = set_cause(cause, "%s: ends the transaction it runs in "
		    "(COMMIT or ROLLBACK in the file)", what);
	return rc;
}

int
migrate_lock(PGconn *conn, char **cause)
{
	char key[32];
	const char *params[1] = { key };

	snprintf(key, sizeof key, "%lld", (long long)DB_MIGRATE_LOCK_KEY);
	if (db_begin(conn, cause) == -1)
		return -1;
	if (db_command(conn, "SELECT pg_advisory_xact_lock($1::bigint)", 1,
	    params, cause) == -1) {
		db_rollback(conn, NULL);
		return -1;
	}
	return 0;
}

/*
 * The schema and the table recording what was applied, under the lock:
 * concurrent CREATE ... IF NOT EXISTS can still collide.
 */
static int
migrate_bootstrap(PGconn *conn, char **cause)
{
	if (migrate_lock(conn, cause) == -1)
		return -1;
	if (db_command(conn, "CREATE SCHEMA IF NOT EXISTS rally", 0, NULL,
	    cause) == -1 ||
	    db_command(conn, "CREATE TABLE IF NOT EXISTS rally.schema_migrations ("
	    " version int PRIMARY KEY,"
	    " name text NOT NULL,"
	    " applied_at timestamptz NOT NULL DEFAULT now())", 0, NULL,
	    cause) == -1 ||
	    db_commit(conn, cause) == -1) {
		db_rollback(conn, NULL);
		return -1;
	}
	return 0;
}

/*
 * Whether m is recorded: 1 yes, 0 no, -1 error (also when its version is
 * recorded under another name).
 */
static int
migration_recorded(PGconn *conn, const struct migration *m, char **cause)
{
	char version[16];
	const char *params[1] = { version };
	PGresult *res;
	int rc = 0;

	snprintf(version, sizeof version, "%d", m->version);
	res = db_exec(conn, "SELECT name FROM rally.schema_migrations "
	    "WHERE version = $1::int", 1, params, cause);
	if (res == NULL)
		return -1;
	if (PQntuples(res) == 1) {
		rc = 1;
		if (strcmp(PQgetvalue(res, 0, 0), m->name) != 0)
			rc = set_cause(cause, "%s: version %d was applied as "
			    "\"%s\"; applied migrations must not be renamed",
			    m->file, m->version, PQgetvalue(res, 0, 0));
	}
	PQclear(res);
	return rc;
}

/* Runs the file's statements and records it, inside the open transaction. */
static int
migration_run(PGconn *conn, const char *dir, const struct migration *m,
    char **cause)
{
	char version[16];
	const char *params[2] = { version, m->name };
	char *sql;
	int rc;

	if ((sql = migrate_read(dir, m->file, cause)) == NULL)
		return -1;
	rc = migrate_exec_file(conn, m->file, sql, cause);
	free(sql);
	if (rc == -1)
		return -1;
	snprintf(version, sizeof version, "%d", m->version);
	if (db_command(conn, "INSERT INTO rally.schema_migrations "
	    "(version, name) VALUES ($1::int, $2)", 2, params, cause) == -1) {
		char *inner = *cause;

		set_cause(cause, "%s: recording it: %s", m->file, inner);
		free(inner);
		return -1;
	}
	return 0;
}

/* Applies m unless recorded; 1 applied, 0 already there, -1 error. */
static int
migration_apply(PGconn *conn, const char *dir, const struct migration *m,
    char **cause)
{
	int rc;

	if (migrate_lock(conn, cause) == -1)
		return -1;
	rc = migration_recorded(conn, m, cause);
	if (rc == 1)
		rc = 0;		/* applied before: nothing to do */
	else if (rc == 0)
		rc = migration_run(conn, dir, m, cause) == 0 ? 1 : -1;
	if (rc == -1) {
		db_rollback(conn, NULL);
		return -1;
	}
	if (db_commit(conn, cause) == -1) {
		char *inner = *cause;

		set_cause(cause, "%s: %s", m->file, inner);
		free(inner);
		return -1;
	}
	return rc;
}

int
db_migrate_each(PGconn *conn, const char *dir, db_migrate_cb cb, void *arg,
    int *applied, char **cause)
{
	struct migration_set set = { NULL, 0 };
	int rc = 0;

	*applied = 0;
	if (PQstatus(conn) != CONNECTION_OK)
		return set_cause(cause, "database: not connected");
	if (PQtransactionStatus(conn) != PQTRANS_IDLE)
		return set_cause(cause, "migrations need a connection outside "
		    "any transaction");
	if (migration_scan(dir, &set, cause) == -1 ||
	    migrate_bootstrap(conn, cause) == -1) {
		migration_set_clear(&set);
		return -1;
	}
	for (size_t i = 0; i < set.n; i++) {
		if ((rc = migration_apply(conn, dir, &set.v[i], cause)) == -1)
			break;
		if (rc == 1) {
			(*applied)++;
			if (cb != NULL)
				cb(set.v[i].file, arg);
		}
		rc = 0;
	}
	migration_set_clear(&set);
	return rc;
}

int
db_migrate(PGconn *conn, const char *dir, int *applied, char **cause)
{
	return db_migrate_each(conn, dir, NULL, NULL, applied, cause);
}
