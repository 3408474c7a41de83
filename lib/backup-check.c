/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backup-check.h"
#include "backup-restore.h"
#include "cancel.h"
#include "db.h"

#define CHECK_SQL_NEWEST \
	"SELECT id, file_name, row_counts::text FROM rally.backups" \
	" WHERE status = 'complete' AND row_counts IS NOT NULL" \
	" ORDER BY started_at DESC LIMIT 1"
/* $1 id, $2 'ok' or 'failed', $3 error or NULL. */
#define CHECK_SQL_RECORD \
	"UPDATE rally.backups SET restore_checked_at = now()," \
	" restore_check = $2, restore_error = left($3, 2000)" \
	" WHERE tenant_id = '00000000-0000-0000-0000-000000000000' AND id = $1"

/* The first table whose count differs, as a message; NULL when all agree. */
static char *
compare(json_object *recorded, json_object *restored, long *tables, long *rows)
{
	json_object *got;

	json_object_object_foreach(recorded, table, want) {
		int64_t n = json_object_get_int64(want);

		if (!json_object_object_get_ex(restored, table, &got))
			return xasprintf("table %s is missing after the restore",
			    table);
		if (json_object_get_int64(got) != n)
			return xasprintf("table %s: %lld rows restored, %lld "
			    "recorded at backup time", table,
			    (long long)json_object_get_int64(got), (long long)n);
		(*tables)++;
		*rows += (long)n;
	}
	return NULL;
}

/* Restores path into the scratch database dbname; a message on failure. */
static char *
restore_and_compare(const struct conf *c, const struct keyring *kr,
    struct cancel *cancel, const char *path, const char *dbname,
    json_object *recorded, struct backup_check_result *res)
{
	struct restore_opts o = { .conf = c, .kr = kr, .path = path,
		.dbname = dbname, .reapply = false, .cancel = cancel };
	struct restore_result rr;
	char *cause = NULL, *why;

	if (backup_restore(&o, &rr, &cause) == -1) {
		why = xasprintf("restore: %s", cause);
		free(cause);
	} else
		why = compare(recorded, rr.restored, &res->tables, &res->rows);
	restore_result_clear(&rr);
	return why;
}

static int
record(PGconn *db, const char *id, const char *why, char **cause)
{
	const char *params[] = { id, why == NULL ? "ok" : "failed", why };

	return db_command(db, CHECK_SQL_RECORD, 3, params, cause);
}

/*
 * Creates, uses and drops the scratch database.  A check cancelled is
 * not one that failed: nothing is recorded.
 */
static enum backup_check_status
check_one(PGconn *db, const struct conf *c, const struct keyring *kr,
    struct cancel *cancel, PGresult *newest, struct backup_check_result *res,
    char **cause)
{
	char dbname[64], *sql, *path, *why;
	unsigned char r[6];
	json_object *recorded;
	int rc;

	/* Unique across hosts: instances elsewhere may check too, one day. */
	random_bytes(r, sizeof r);
	memcpy(dbname, "rally_restore_check_", 20);
	hex_encode(r, sizeof r, dbname + 20);
	sql = xasprintf("CREATE DATABASE %s TEMPLATE template0", dbname);
	rc = db_command(db, sql, 0, NULL, cause);
	free(sql);
	if (rc == -1)
		return CHECK_ERROR;
	path = xasprintf("%s/%s", c->backup_dir, PQgetvalue(newest, 0, 1));
	recorded = json_tokener_parse(PQgetvalue(newest, 0, 2));
	why = restore_and_compare(c, kr, cancel, path, dbname, recorded, res);
	json_object_put(recorded);
	free(path);
	sql = xasprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", dbname);
	rc = db_command(db, sql, 0, NULL, cause);
	free(sql);
	if (rc == 0 && cancel_requested(cancel))
		rc = set_cause(cause, "cancelled");
	else if (rc == 0)
		rc = record(db, PQgetvalue(newest, 0, 0), why, cause);
	if (rc == -1) {
		free(why);
		return CHECK_ERROR;
	}
	if (why == NULL)
		return CHECK_OK;
	set_cause(cause, "%s: %s", res->file, why);
	free(why);
	return CHECK_FAILED;
}

enum backup_check_status
backup_check(const struct conf *c, const struct keyring *kr,
    struct cancel *cancel, struct backup_check_result *res, char **cause)
{
	enum backup_check_status st = CHECK_NOTHING;
	uint64_t t0 = now_usec();
	PGresult *newest;
	PGconn *db;

	memset(res, 0, sizeof *res);
	if ((db = db_connect(conf_backup_conninfo(c), cause)) == NULL)
		return CHECK_ERROR;
	if ((newest = db_exec(db, CHECK_SQL_NEWEST, 0, NULL, cause)) == NULL)
		st = CHECK_ERROR;
	else if (PQntuples(newest) == 1) {
		snprintf(res->file, sizeof res->file, "%s",
		    PQgetvalue(newest, 0, 1));
		st = check_one(db, c, kr, cancel, newest, res, cause);
	}
	PQclear(newest);
	db_close(db);
	res->seconds = (double)(now_usec() - t0) / 1e6;
	return st;
}
