/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "backup-file.h"
#include "backup-restore.h"
#include "cancel.h"
#include "db.h"
#include "dumpcount.h"
#include "pgtool.h"

#define RESTORE_PROGRESS_EVERY (8 * 1024 * 1024)

/* Anything but PostgreSQL's own schemas and an empty public. */
#define RESTORE_SQL_EMPTY \
	"SELECT (SELECT count(*) FROM pg_catalog.pg_namespace" \
	"  WHERE nspname NOT IN ('public', 'information_schema')" \
	"  AND nspname NOT LIKE 'pg\\_%')" \
	" + (SELECT count(*) FROM pg_catalog.pg_class c" \
	"  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace" \
	"  WHERE n.nspname = 'public')"
/* Roles are the cluster's, not the dump's: as 0001_roles.sql makes them. */
#define RESTORE_SQL_ROLES \
	"DO $$ DECLARE r text; BEGIN" \
	" FOREACH r IN ARRAY ARRAY['rally_owner', 'rally_daemon', 'rally_web'] LOOP" \
	"  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = r) THEN" \
	"   EXECUTE pg_catalog.format('create role %I nologin', r);" \
	"  END IF; END LOOP; END $$"
/* The tables whose rows the live database adds to the restored one. */
static const char *const ledger_tables[] = {
	"rally.ledger_keys",	/* the keys of the ledger's hashes, if any */
	"rally.deletion_ledger",
};

struct restore {
	const struct restore_opts *o;
	struct restore_result *res;
	PGconn *target;
	struct pgtool psql;
	struct dumpcount dc;
	char *ledger_sql;
	size_t ledger_len;
	uint64_t next_progress;
};

/* One INSERT per row of res into table; values as text literals. */
static int
rows_sql(PGconn *src, const char *table, PGresult *res, FILE *out,
    long *n, char **cause)
{
	int ncols = PQnfields(res);
	char *s;

	for (int i = 0; i < PQntuples(res); i++, (*n)++) {
		fprintf(out, "INSERT INTO %s (", table);
		for (int c = 0; c < ncols; c++) {
			if ((s = PQescapeIdentifier(src, PQfname(res, c),
			    strlen(PQfname(res, c)))) == NULL)
				return set_cause(cause, "%s", PQerrorMessage(src));
			fprintf(out, "%s%s", c > 0 ? ", " : "", s);
			PQfreemem(s);
		}
		fputs(") VALUES (", out);
		for (int c = 0; c < ncols; c++) {
			fputs(c > 0 ? ", " : "", out);
			if (PQgetisnull(res, i, c)) {
				fputs("NULL", out);
				continue;
			}
			if ((s = PQescapeLiteral(src, PQgetvalue(res, i, c),
			    (size_t)PQgetlength(res, i, c))) == NULL)
				return set_cause(cause, "%s", PQerrorMessage(src));
			fputs(s, out);
			OPENSSL_cleanse(s, strlen(s));
			PQfreemem(s);
		}
		fputs(") ON CONFLICT DO NOTHING;\n", out);
	}
	return 0;
}

/* The statements that add the source's ledger rows; 0 or -1. */
static int
ledger_sql(struct restore *r, char **cause)
{
	FILE *out = open_memstream(&r->ledger_sql, &r->ledger_len);
	long rows = 0;
	PGresult *res;
	char *sql;
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < nitems(ledger_tables); i++) {
		/* A table the source does not have yet has nothing to add. */
		sql = xasprintf("SELECT * FROM %s", ledger_tables[i]);
		res = db_exec(r->o->source, "SELECT to_regclass($1) IS NOT NULL",
		    1, &ledger_tables[i], cause);
		if (res == NULL)
			rc = -1;
		else if (strcmp(PQgetvalue(res, 0, 0), "t") == 0) {
			PQclear(res);
			if ((res = db_exec(r->o->source, sql, 0, NULL, cause)) == NULL)
				rc = -1;
			else
				rc = rows_sql(r->o->source, ledger_tables[i], res,
				    out, i == 1 ? &rows : &(long){ 0 }, cause);
		}
		PQclear(res);
		free(sql);
	}
	fclose(out);
	r->res->ledger_entries = rows;
	return rc;
}

/* The new database: connected, empty, the roles in place. */
static int
target_open(struct restore *r, char **cause)
{
	char *ci;
	PGresult *res;
	int empty;

	ci = pgtool_conninfo(conf_backup_conninfo(r->o->conf), r->o->dbname,
	    cause);
	if (ci == NULL)
		return -1;
	r->target = db_connect(ci, cause);
	secure_free(ci, strlen(ci));
	if (r->target == NULL)
		return -1;
	cancel_watch_conn(r->o->cancel, r->target);
	if ((res = db_exec(r->target, RESTORE_SQL_EMPTY, 0, NULL, cause)) == NULL)
		return -1;
	empty = strcmp(PQgetvalue(res, 0, 0), "0") == 0;
	PQclear(res);
	if (!empty)
		return set_cause(cause, "database %s is not empty: restore "
		    "only into a new database (createdb %s)", r->o->dbname,
		    r->o->dbname);
	return db_command(r->target, RESTORE_SQL_ROLES, 0, NULL, cause);
}

/* Writes to psql; when it stopped, its own message says why. */
static int
to_psql(struct restore *r, const void *buf, size_t len, char **cause)
{
	char *why = NULL;

	if (pgtool_write(&r->psql, buf, len, &why) == 0)
		return 0;
	if (pgtool_wait(&r->psql, cause) == 0)
		set_cause(cause, "%s", why);
	free(why);
	return -1;
}

/* A backup_sink_fn: authenticated plaintext on to psql. */
static int
restore_sink(void *arg, const void *buf, size_t len, char **cause)
{
	struct restore *r = arg;
	uint64_t plain;

	if (cancel_requested(r->o->cancel))
		return set_cause(cause, "cancelled");
	dumpcount_feed(&r->dc, buf, len);
	if (to_psql(r, buf, len, cause) == -1)
		return -1;
	plain = r->res->st.plain_bytes += len;
	if (r->o->progress != NULL && plain >= r->next_progress) {
		r->o->progress(r->o->progress_arg, 0, plain);
		r->next_progress += RESTORE_PROGRESS_EVERY;
	}
	return 0;
}

static int
restore_stream(struct restore *r, char **cause)
{
	char *argv[] = { r->o->conf->backup_psql, "-X", "-q", "--no-password",
		"-v", "ON_ERROR_STOP=1", NULL };
	static const char begin[] = "BEGIN;\n";
	static const char reapply[] = "\nSELECT rally.backup_reapply_ledger();\n";
	static const char commit[] = "COMMIT;\n";

	if (pgtool_start(&r->psql, r->o->conf->backup_psql, argv,
	    conf_backup_conninfo(r->o->conf), r->o->dbname, PGTOOL_WRITE_STDIN,
	    cause) == -1)
		return -1;
	pgtool_watch(&r->psql, r->o->cancel);
	if (to_psql(r, begin, strlen(begin), cause) == -1 ||
	    backup_file_read(r->o->path, r->o->kr, restore_sink, r, &r->res->st,
	    NULL, cause) == -1)
		return -1;
	if (r->o->reapply &&
	    (to_psql(r, r->ledger_sql, r->ledger_len, cause) == -1 ||
	    to_psql(r, reapply, strlen(reapply), cause) == -1))
		return -1;
	if (to_psql(r, commit, strlen(commit), cause) == -1)
		return -1;
	return pgtool_wait(&r->psql, cause);
}

/* Whether name is schema.table in lower-case identifiers (no quoting). */
static bool
plain_name(const char *name)
{
	int dots = 0;

	for (const char *p = name; *p != '\0'; p++) {
		if (*p == '.')
			dots++;
		else if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p) &&
		    *p != '_')
			return false;
	}
	return dots == 1 && name[0] != '.';
}

/* Rows per table in the restored database, against the dump's. */
static int
restore_count(struct restore *r, char **cause)
{
	PGresult *res;
	char *sql;
	int64_t n;

	r->res->restored = json_object_new_object();
	json_object_object_foreach(dumpcount_tables(&r->dc), table, want) {
		if (!plain_name(table))
			continue;
		sql = xasprintf("SELECT count(*) FROM %s", table);
		res = db_exec(r->target, sql, 0, NULL, cause);
		free(sql);
		if (res == NULL)
			return -1;
		n = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		PQclear(res);
		json_object_object_add(r->res->restored, table,
		    json_object_new_int64(n));
		if (n != json_object_get_int64(want))
			r->res->mismatches++;
	}
	return 0;
}

int
backup_restore(const struct restore_opts *o, struct restore_result *res,
    char **cause)
{
	struct restore r = { .o = o, .res = res };
	uint64_t t0 = now_usec();
	int rc;

	memset(res, 0, sizeof *res);
	r.psql.fd = -1;
	r.next_progress = RESTORE_PROGRESS_EVERY;
	dumpcount_init(&r.dc);
	rc = target_open(&r, cause);
	if (rc == 0 && o->reapply && o->source != NULL)
		rc = ledger_sql(&r, cause);
	if (rc == 0 && (rc = restore_stream(&r, cause)) == -1)
		pgtool_abort(&r.psql);	/* the transaction dies with it */
	if (rc == 0)
		rc = restore_count(&r, cause);
	res->dumped = json_object_get(dumpcount_tables(&r.dc));
	res->seconds = (double)(now_usec() - t0) / 1e6;
	dumpcount_clear(&r.dc);
	if (r.ledger_sql != NULL) {
		OPENSSL_cleanse(r.ledger_sql, r.ledger_len);
		free(r.ledger_sql);
	}
	cancel_unwatch_conn(o->cancel, r.target);
	db_close(r.target);
	return rc;
}

void
restore_result_clear(struct restore_result *res)
{
	json_object_put(res->dumped);
	json_object_put(res->restored);
	memset(res, 0, sizeof *res);
}
