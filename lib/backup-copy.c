/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "backup-copy.h"
#include "backup-file.h"
#include "cancel.h"
#include "db.h"
#include "strbuf.h"

/*
 * A backup of any size has a handful of tables; a database with more is
 * not Rally's, and its list is refused rather than held.
 */
#define COPY_MAX_TABLES 10000

/*
 * As pg_dump sets up its connection, so that the rows read the same as in
 * its dump: dates and intervals in the forms any server reads back,
 * floats exact, no timeout cutting a long COPY short, and row-level
 * security applied as pg_dump --enable-row-security applies it (the
 * backup role reads every row through its policies, sql/migrations/0001).
 */
#define COPY_SQL_SETTINGS \
	"SELECT pg_catalog.set_config('datestyle', 'ISO', false)," \
	" pg_catalog.set_config('intervalstyle', 'postgres', false)," \
	" pg_catalog.set_config('extra_float_digits', '3', false)," \
	" pg_catalog.set_config('statement_timeout', '0', false)," \
	" pg_catalog.set_config('lock_timeout', '0', false)," \
	" pg_catalog.set_config('idle_in_transaction_session_timeout', '0'," \
	"  false)," \
	" pg_catalog.set_config('row_security', 'on', false)," \
	" pg_catalog.set_config('search_path', '', false)"
/*
 * The tables whose data pg_dump dumps: the ordinary tables outside the
 * system schemas and extensions (a partitioned table has no rows of its
 * own; its partitions are tables).  Each with its columns, as pg_dump
 * lists them in COPY: stored, in order (generated columns are computed
 * again on restore).
 */
#define COPY_SQL_TABLES \
	"SELECT pg_catalog.format('%I.%I', n.nspname, c.relname)," \
	" (SELECT pg_catalog.string_agg(pg_catalog.quote_ident(a.attname)," \
	"   ', ' ORDER BY a.attnum) FROM pg_catalog.pg_attribute a" \
	"  WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped" \
	"   AND a.attgenerated = '')" \
	" FROM pg_catalog.pg_class c" \
	" JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace" \
	" WHERE c.relkind = 'r' AND c.relpersistence <> 't'" \
	"  AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'" \
	"  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d" \
	"   WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass" \
	"    AND d.objid = c.oid AND d.deptype = 'e')" \
	" ORDER BY n.nspname, c.relname"
/*
 * Every sequence pg_dump would dump: pg_dump --exclude-table-data leaves
 * out the values of them all, so this writes them.
 */
#define COPY_SQL_SEQUENCES \
	"SELECT pg_catalog.format('%I.%I', n.nspname, s.relname)" \
	" FROM pg_catalog.pg_class s" \
	" JOIN pg_catalog.pg_namespace n ON n.oid = s.relnamespace" \
	" WHERE s.relkind = 'S'" \
	"  AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'" \
	"  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d" \
	"   WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass" \
	"    AND d.objid = s.oid AND d.deptype = 'e')" \
	" ORDER BY 1"

struct copy_table {
	char *name;		/* schema.table, quoted as needed */
	char *columns;		/* "a, b, c", or NULL for a table of none */
};

struct backup_copy {
	PGconn *db;
	struct cancel *cancel;
	char *snapshot;
	char *encoding;
	struct copy_table *tables;
	size_t ntables;
	char **sequences;	/* NULL-terminated */
};

static int
copy_exec(struct backup_copy *c, const char *sql, char **cause)
{
	return db_command(c->db, sql, 0, NULL, cause);
}

/* A name or column list on one line: the dump is read line by line. */
static bool
one_line(const char *s)
{
	return s == NULL || strpbrk(s, "\n\r") == NULL;
}

/* At most COPY_MAX_TABLES rows, their number in *n; NULL with *cause. */
static PGresult *
copy_query(struct backup_copy *c, const char *sql, const char *what, int *n,
    char **cause)
{
	PGresult *res;

	if ((res = db_exec(c->db, sql, 0, NULL, cause)) == NULL)
		return NULL;
	if ((*n = PQntuples(res)) > COPY_MAX_TABLES) {
		PQclear(res);
		set_cause(cause, "backup: %d %s, more than the %d a backup "
		    "takes", *n, what, COPY_MAX_TABLES);
		return NULL;
	}
	return res;
}

static int
copy_list(struct backup_copy *c, char **cause)
{
	PGresult *res;
	int n;

	if ((res = copy_query(c, COPY_SQL_TABLES, "tables", &n, cause)) == NULL)
		return -1;
	c->tables = xcalloc((size_t)n + 1, sizeof *c->tables);
	for (int i = 0; i < n; i++) {
		struct copy_table *t = &c->tables[c->ntables++];

		t->name = xstrdup(PQgetvalue(res, i, 0));
		if (!PQgetisnull(res, i, 1))
			t->columns = xstrdup(PQgetvalue(res, i, 1));
		if (!one_line(t->name) || !one_line(t->columns)) {
			PQclear(res);
			return set_cause(cause, "backup: table %d has a line "
			    "break in its name or a column's", i + 1);
		}
	}
	PQclear(res);
	res = copy_query(c, COPY_SQL_SEQUENCES, "sequences", &n, cause);
	if (res == NULL)
		return -1;
	c->sequences = xcalloc((size_t)n + 1, sizeof *c->sequences);
	for (int i = 0; i < n; i++) {
		c->sequences[i] = xstrdup(PQgetvalue(res, i, 0));
		if (!one_line(c->sequences[i])) {
			PQclear(res);
			return set_cause(cause, "backup: sequence %d has a "
			    "line break in its name", i + 1);
		}
	}
	PQclear(res);
	return 0;
}

/* Every table, as pg_dump locks them: no one drops or alters it meanwhile. */
static int
copy_lock(struct backup_copy *c, int64_t lock_wait_sec, char **cause)
{
	struct strbuf sql = STRBUF_INIT;
	char *t;
	int rc;

	if (c->ntables == 0)
		return 0;
	t = xasprintf("SET LOCAL lock_timeout = '%llds'",
	    (long long)lock_wait_sec);
	rc = copy_exec(c, t, cause);
	free(t);
	if (rc == -1)
		return -1;
	strbuf_adds(&sql, "LOCK TABLE");
	for (size_t i = 0; i < c->ntables; i++)
		strbuf_addf(&sql, "%s ONLY %s", i == 0 ? "" : ",",
		    c->tables[i].name);
	strbuf_adds(&sql, " IN ACCESS SHARE MODE");
	rc = copy_exec(c, sql.p, cause);
	strbuf_free(&sql);
	if (rc == -1 && cause != NULL) {
		t = *cause;
		set_cause(cause, "backup: locking the tables (at most "
		    "backup.lock_wait): %s", t);
		free(t);
	}
	if (rc == 0)
		rc = copy_exec(c, "SET LOCAL lock_timeout = 0", cause);
	return rc;
}

struct backup_copy *
backup_copy_begin(const char *conninfo, int64_t lock_wait_sec,
    struct cancel *cancel, char **cause)
{
	struct backup_copy *c = xcalloc(1, sizeof *c);
	const char *enc;
	PGresult *res;

	if ((c->db = db_connect(conninfo, cause)) == NULL)
		goto fail;
	c->cancel = cancel;
	cancel_watch_conn(cancel, c->db);
	/* The dump's own encoding, which pg_dump's part of it declares. */
	enc = PQparameterStatus(c->db, "server_encoding");
	c->encoding = xstrdup(enc != NULL ? enc : "unknown");
	if (enc == NULL || PQsetClientEncoding(c->db, c->encoding) != 0) {
		set_cause(cause, "backup: cannot read in the database's "
		    "encoding (%s)", c->encoding);
		goto fail;
	}
	if (copy_exec(c, COPY_SQL_SETTINGS, cause) == -1 ||
	    copy_exec(c, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY",
	    cause) == -1)
		goto fail;
	res = db_exec(c->db, "SELECT pg_catalog.pg_export_snapshot()", 0,
	    NULL, cause);
	if (res == NULL)
		goto fail;
	c->snapshot = xstrdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	if (copy_list(c, cause) == -1 ||
	    copy_lock(c, lock_wait_sec, cause) == -1)
		goto fail;
	return c;
fail:
	backup_copy_end(c);
	return NULL;
}

const char *
backup_copy_snapshot(const struct backup_copy *c)
{
	return c->snapshot;
}

const char *
backup_copy_encoding(const struct backup_copy *c)
{
	return c->encoding;
}

/* Rows gathered into pieces of BACKUP_IO_SIZE before they go to the sink. */
struct copy_out {
	backup_copy_sink sink;
	void *arg;
	char *buf;
	size_t len;
};

static int
out_flush(struct copy_out *o, char **cause)
{
	int rc = 0;

	if (o->len > 0)
		rc = o->sink(o->arg, o->buf, o->len, cause);
	o->len = 0;
	return rc;
}

static int
out_add(struct copy_out *o, const char *p, size_t len, char **cause)
{
	if (o->len + len > BACKUP_IO_SIZE && out_flush(o, cause) == -1)
		return -1;
	if (len > BACKUP_IO_SIZE)
		return o->sink(o->arg, p, len, cause);
	memcpy(o->buf + o->len, p, len);
	o->len += len;
	return 0;
}

static int
out_text(struct copy_out *o, char *s, char **cause)
{
	int rc = out_add(o, s, strlen(s), cause);

	free(s);
	return rc;
}

static int
copy_table(struct backup_copy *c, const struct copy_table *t,
    struct copy_out *o, char **cause)
{
	const char *cols = t->columns != NULL ? t->columns : "";
	const char *open = t->columns != NULL ? " (" : "";
	const char *close = t->columns != NULL ? ")" : "";
	PGresult *res;
	char *sql, *row, *msg;
	int n, rc = 0;

	if (out_text(o, xasprintf("\n--\n-- Data for Name: %s; Type: TABLE "
	    "DATA\n--\n\nCOPY %s%s%s%s FROM stdin;\n", t->name, t->name, open,
	    cols, close), cause) == -1)
		return -1;
	sql = xasprintf("COPY %s%s%s%s TO STDOUT", t->name, open, cols, close);
	res = PQexec(c->db, sql);
	free(sql);
	if (PQresultStatus(res) != PGRES_COPY_OUT) {
		msg = db_result_message(c->db, res);
		PQclear(res);
		rc = set_cause(cause, "backup: reading %s: %s", t->name, msg);
		free(msg);
		return rc;
	}
	PQclear(res);
	while ((n = PQgetCopyData(c->db, &row, 0)) > 0) {
		rc = out_add(o, row, (size_t)n, cause);
		PQfreemem(row);
		if (rc == -1)
			return -1;
	}
	res = PQgetResult(c->db);
	if (n == -2 || PQresultStatus(res) != PGRES_COMMAND_OK) {
		msg = db_result_message(c->db, res);
		rc = set_cause(cause, "backup: reading %s: %s", t->name, msg);
		free(msg);
	}
	PQclear(res);
	while ((res = PQgetResult(c->db)) != NULL)
		PQclear(res);
	if (rc == -1)
		return -1;
	return out_add(o, "\\.\n\n", 4, cause);
}

/*
 * Each sequence's value as pg_dump writes it, read as pg_dump reads it
 * (from the sequence: it is not transactional, so not the snapshot's).
 */
static int
copy_sequence(struct backup_copy *c, const char *name, struct copy_out *o,
    char **cause)
{
	PGresult *res;
	char *sql, *lit;
	int rc;

	sql = xasprintf("SELECT last_value, is_called FROM %s", name);
	res = db_exec(c->db, sql, 0, NULL, cause);
	free(sql);
	if (res == NULL)
		return -1;
	if ((lit = PQescapeLiteral(c->db, name, strlen(name))) == NULL) {
		PQclear(res);
		return set_cause(cause, "backup: out of memory");
	}
	rc = out_text(o, xasprintf("\n--\n-- Name: %s; Type: SEQUENCE SET\n"
	    "--\n\nSELECT pg_catalog.setval(%s, %s, %s);\n", name, lit,
	    PQgetvalue(res, 0, 0),
	    strcmp(PQgetvalue(res, 0, 1), "t") == 0 ? "true" : "false"), cause);
	PQfreemem(lit);
	PQclear(res);
	return rc;
}

int
backup_copy_tables(struct backup_copy *c, backup_copy_sink sink, void *arg,
    char **cause)
{
	struct copy_out o = { sink, arg, xmalloc(BACKUP_IO_SIZE), 0 };
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < c->ntables; i++)
		rc = copy_table(c, &c->tables[i], &o, cause);
	for (char **q = c->sequences; rc == 0 && *q != NULL; q++)
		rc = copy_sequence(c, *q, &o, cause);
	if (rc == 0)
		rc = out_flush(&o, cause);
	free(o.buf);
	return rc;
}

void
backup_copy_end(struct backup_copy *c)
{
	if (c == NULL)
		return;
	cancel_unwatch_conn(c->cancel, c->db);
	db_close(c->db);	/* ends the transaction: it only read */
	for (size_t i = 0; i < c->ntables; i++) {
		free(c->tables[i].name);
		free(c->tables[i].columns);
	}
	free(c->tables);
	for (char **q = c->sequences; q != NULL && *q != NULL; q++)
		free(*q);
	free(c->sequences);
	free(c->snapshot);
	free(c->encoding);
	free(c);
}
