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
#include "log.h"
#include "uuid.h"

/* Parameters this short are masked only where the server quotes them. */
#define DB_MASK_MIN_BARE 4

static void
db_notice_cb(void *arg, const char *message)
{
	size_t n = strlen(message);

	/* "NOTICE: schema rally already exists, skipping" is noise. */
	while (n > 0 && message[n - 1] == '\n')
		n--;
	log_debug("database: %.*s", (int)n, message);
}

/* A copy of a libpq or server message on one line, for "rallyctl: ..." and logs. */
static char *
one_line(const char *m)
{
	char *out = xmalloc(strlen(m) + 1), *o = out;

	while (*m != '\0') {
		if (*m == '\n' || *m == '\r') {
			while (isspace((unsigned char)*m))
				m++;
			if (*m != '\0')
				*o++ = ' ';
			continue;
		}
		*o++ = *m++;
	}
	while (o > out && isspace((unsigned char)o[-1]))
		o--;
	*o = '\0';
	return out;
}

PGconn *
db_connect(const char *conninfo, char **cause)
{
	const char *keys[4], *values[4];
	char timeout[16];
	PGconn *conn;
	int n = 0;

	/* Ours first: what conninfo (expanded from "dbname") says wins. */
	if (getenv("PGCONNECT_TIMEOUT") == NULL) {
		snprintf(timeout, sizeof timeout, "%d", DB_CONNECT_TIMEOUT_SEC);
		keys[n] = "connect_timeout";
		values[n++] = timeout;
	}
	keys[n] = "fallback_application_name";
	values[n++] = program_invocation_short_name;
	keys[n] = "dbname";
	values[n++] = conninfo;
	keys[n] = NULL;
	values[n] = NULL;

	conn = PQconnectdbParams(keys, values, 1);
	if (conn == NULL) {
		set_cause(cause, "database: out of memory");
		return NULL;
	}
	if (PQstatus(conn) != CONNECTION_OK) {
		char *msg = one_line(PQerrorMessage(conn));

		set_cause(cause, "database: %s", msg);
		free(msg);
		PQfinish(conn);
		return NULL;
	}
	PQsetNoticeProcessor(conn, db_notice_cb, NULL);
	if (PQsetClientEncoding(conn, "UTF8") != 0) {
		set_cause(cause, "database: cannot set client_encoding UTF8");
		PQfinish(conn);
		return NULL;
	}
	return conn;
}

void
db_close(PGconn *conn)
{
	if (conn != NULL)
		PQfinish(conn);
}

/* Returns msg with every occurrence of pat replaced by with (frees msg). */
static char *
replace_all(char *msg, const char *pat, const char *with)
{
	size_t plen = strlen(pat), wlen = strlen(with), n = 0;
	char *out, *o;
	const char *s, *hit;

	for (s = msg; (hit = strstr(s, pat)) != NULL; s = hit + plen)
		n++;
	if (n == 0)
		return msg;
	out = o = xmalloc(strlen(msg) - n * plen + n * wlen + 1);
	for (s = msg; (hit = strstr(s, pat)) != NULL; s = hit + plen) {
		memcpy(o, s, hit - s);
		o += hit - s;
		memcpy(o, with, wlen);
		o += wlen;
	}
	strcpy(o, s);
	free(msg);
	return out;
}

/* The server echoes bad input ("invalid input syntax ...: \"x\""): mask it. */
static char *
mask_params(char *msg, int nparams, const char *const *params,
    const int *formats)
{
	for (int i = 0; i < nparams; i++) {
		const char *v = params[i];
		char *quoted;

		if (v == NULL || *v == '\0' || (formats != NULL && formats[i] != 0))
			continue;
		quoted = xasprintf("\"%s\"", v);
		msg = replace_all(msg, quoted, "\"[value]\"");
		free(quoted);
		if (strlen(v) >= DB_MASK_MIN_BARE)
			msg = replace_all(msg, v, "[value]");
	}
	return msg;
}

/* The server's primary message, or libpq's own when there is none. */
static char *
result_message(PGconn *conn, const PGresult *res)
{
	const char *m = NULL;

	if (res != NULL)
		m = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	if (m == NULL)
		m = PQerrorMessage(conn);
	if (m == NULL || *m == '\0')
		m = "unknown error";
	return one_line(m);
}

PGresult *
db_exec_params(PGconn *conn, const char *sql, int nparams,
    const char *const *params, const int *lengths, const int *formats,
    int result_format, char **cause)
{
	PGresult *res;
	char *msg;

	res = PQexecParams(conn, sql, nparams, NULL, params, lengths, formats,
	    result_format);
	if (res != NULL) {
		switch (PQresultStatus(res)) {
		case PGRES_COMMAND_OK:
		case PGRES_TUPLES_OK:
		case PGRES_EMPTY_QUERY:
			return res;
		default:
			break;
		}
	}
	msg = mask_params(result_message(conn, res), nparams, params, formats);
	set_cause(cause, "%s", msg);
	free(msg);
	PQclear(res);
	return NULL;
}

PGresult *
db_exec(PGconn *conn, const char *sql, int nparams, const char *const *params,
    char **cause)
{
	return db_exec_params(conn, sql, nparams, params, NULL, NULL, 0, cause);
}

int
db_command(PGconn *conn, const char *sql, int nparams,
    const char *const *params, char **cause)
{
	PGresult *res = db_exec(conn, sql, nparams, params, cause);

	if (res == NULL)
		return -1;
	PQclear(res);
	return 0;
}

int
db_begin(PGconn *conn, char **cause)
{
	return db_command(conn, "BEGIN", 0, NULL, cause);
}

int
db_commit(PGconn *conn, char **cause)
{
	PGresult *res;
	const char *tag;
	int rc = 0;

	if ((res = db_exec(conn, "COMMIT", 0, NULL, cause)) == NULL)
		return -1;
	/* COMMIT of a failed transaction "succeeds" with tag ROLLBACK. */
	tag = PQcmdStatus(res);
	if (tag == NULL || strcmp(tag, "COMMIT") != 0)
		rc = set_cause(cause, "transaction was rolled back");
	PQclear(res);
	return rc;
}

int
db_rollback(PGconn *conn, char **cause)
{
	PGTransactionStatusType ts = PQtransactionStatus(conn);
	char *why = NULL;

	if (ts != PQTRANS_INTRANS && ts != PQTRANS_INERROR)
		return 0;
	if (db_command(conn, "ROLLBACK", 0, NULL, &why) == 0)
		return 0;
	if (cause != NULL)
		*cause = why;
	else {
		log_warnx("database: rollback: %s", why);
		free(why);
	}
	return -1;
}

/* A uuid in text form, or empty; anything else would break every RLS policy. */
static bool
valid_id(const char *s)
{
	char canonical[UUID_STR_LEN];

	return *s == '\0' || uuid_canonical(s, canonical);
}

int
db_set_tenant(PGconn *conn, const char *tenant_id, const char *user_id,
    char **cause)
{
	const char *params[3];

	tenant_id = tenant_id != NULL ? tenant_id : "";
	user_id = user_id != NULL ? user_id : "";
	if (!valid_id(tenant_id) || !valid_id(user_id))
		return set_cause(cause, "tenant or user id is not a uuid");
	params[0] = tenant_id;
	params[1] = user_id;
	params[2] = PQtransactionStatus(conn) == PQTRANS_INTRANS ? "true" :
	    "false";
	return db_command(conn,
	    "SELECT set_config('rally.tenant_id', $1, $3::boolean), "
	    "set_config('rally.user_id', $2, $3::boolean)", 3, params, cause);
}

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

/* Migrations ------------------------------------------------------------ */

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

/* A migration must be a regular file no larger than the limit. */
static int
migration_check_file(int dfd, const char *file, char **cause)
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
	if (migration_check_file(dfd, file, cause) == -1)
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

/* Reads a migration file; rejects NUL bytes and growth past the limit. */
static char *
migration_read(const char *dir, const struct migration *m, char **cause)
{
	char *path = xasprintf("%s/%s", dir, m->file), *buf;
	size_t len = 0;
	ssize_t r;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	free(path);
	if (fd == -1) {
		set_cause(cause, "%s: %s", m->file, strerror(errno));
		return NULL;
	}
	buf = xmalloc(DB_MIGRATION_MAX_FILE + 2);
	while ((r = read(fd, buf + len, DB_MIGRATION_MAX_FILE + 1 - len)) > 0 &&
	    (len += r) <= DB_MIGRATION_MAX_FILE)
		;
	close(fd);
	if (r == -1)
		set_cause(cause, "%s: %s", m->file, strerror(errno));
	else if (len > DB_MIGRATION_MAX_FILE)
		set_cause(cause, "%s: larger than %d bytes", m->file,
		    DB_MIGRATION_MAX_FILE);
	else if (memchr(buf, '\0', len) != NULL)
		set_cause(cause, "%s: contains a NUL byte", m->file);
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
migration_error(const struct migration *m, PGconn *conn, const PGresult *res,
    const char *sql, char **cause)
{
	const char *pos = NULL;
	char *msg = result_message(conn, res);

	if (res != NULL)
		pos = PQresultErrorField(res, PG_DIAG_STATEMENT_POSITION);
	if (pos != NULL)
		set_cause(cause, "%s: %s (line %d)", m->file, msg,
		    line_of_position(sql, strtol(pos, NULL, 10)));
	else
		set_cause(cause, "%s: %s", m->file, msg);
	free(msg);
	return -1;
}

/* Opens a transaction holding the migrations lock. */
static int
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
	PGresult *res;
	char *sql;

	if ((sql = migration_read(dir, m, cause)) == NULL)
		return -1;
	/* PQexec, not PQexecParams: a migration is many statements. */
	res = PQexec(conn, sql);
	if (res == NULL || PQresultStatus(res) == PGRES_FATAL_ERROR ||
	    PQresultStatus(res) == PGRES_NONFATAL_ERROR ||
	    PQresultStatus(res) == PGRES_BAD_RESPONSE) {
		migration_error(m, conn, res, sql, cause);
		PQclear(res);
		free(sql);
		return -1;
	}
	PQclear(res);
	free(sql);
	if (PQtransactionStatus(conn) != PQTRANS_INTRANS)
		return set_cause(cause, "%s: ends the transaction it runs in "
		    "(COMMIT or ROLLBACK in a migration file)", m->file);
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
