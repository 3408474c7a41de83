/* SPDX-License-Identifier: ISC */
/* compliance: the privacy requests every front end shares (compliance.h). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compliance.h"
#include "conf.h"
#include "db.h"

/*
 * $1 tenant, $2 user, $3 connection or NULL for all, $4 calendar, $5 mail,
 * $6 actor, $7 acting user or NULL.  The connections are locked in id
 * order, so two disconnects of one user never deadlock.
 */
#define COMPLIANCE_SQL_DISCONNECT \
	"WITH c AS (SELECT tenant_id, id FROM rally.google_connections" \
	"  WHERE tenant_id = $1::uuid AND user_id = $2::uuid" \
	"  AND ($3::uuid IS NULL OR id = $3::uuid) ORDER BY id FOR UPDATE)," \
	" d AS (SELECT r.* FROM c, LATERAL rally.compliance_disconnect(" \
	"  c.tenant_id, c.id, $4::boolean, $5::boolean, $6, $7::uuid) r)" \
	" SELECT (SELECT count(*) FROM c)," \
	"  count(*) FILTER (WHERE d.calendar_off)," \
	"  count(*) FILTER (WHERE d.mail_off)," \
	"  count(*) FILTER (WHERE d.tokens_released) FROM d"

int
compliance_disconnect(PGconn *db, const char *tenant_id, const char *user_id,
    const char *connection_id, unsigned what, const char *actor,
    const char *actor_id, struct compliance_disconnected *out, char **cause)
{
	const char *params[] = { tenant_id, user_id, connection_id,
	    (what & COMPLIANCE_CALENDAR) ? "true" : "false",
	    (what & COMPLIANCE_MAIL) ? "true" : "false", actor, actor_id };
	PGresult *res;

	memset(out, 0, sizeof *out);
	if (db_begin(db, cause) == -1)
		return -1;
	res = db_exec(db, COMPLIANCE_SQL_DISCONNECT, 7, params, cause);
	if (res == NULL) {
		db_rollback(db, NULL);
		return -1;
	}
	out->connections = atoi(PQgetvalue(res, 0, 0));
	out->calendars_off = atoi(PQgetvalue(res, 0, 1));
	out->mail_off = atoi(PQgetvalue(res, 0, 2));
	out->tokens_released = atoi(PQgetvalue(res, 0, 3));
	PQclear(res);
	return db_commit(db, cause);
}

#define COMPLIANCE_SQL_TIME(col) \
	"to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

/* $1 tenant, $2 user, $3 actor, $4 grace and $5 lag in seconds. */
#define COMPLIANCE_SQL_DELETE \
	"SELECT ledger_id::text, " COMPLIANCE_SQL_TIME("purge_after") "," \
	" " COMPLIANCE_SQL_TIME("due_at") \
	" FROM rally.account_delete_request($1::uuid, $2::uuid, $3," \
	"  CASE WHEN $3 = 'user' THEN $2::uuid END," \
	"  make_interval(secs => $4::float8), make_interval(secs => $5::float8))"

int
compliance_delete_request(PGconn *db, const struct conf *c,
    const char *tenant_id, const char *user_id, const char *actor,
    struct compliance_deletion *out, char **cause)
{
	char grace[32], lag[32];
	const char *params[] = { tenant_id, user_id, actor, grace, lag };
	PGresult *res;
	int rc = 0;

	memset(out, 0, sizeof *out);
	snprintf(grace, sizeof grace, "%lld", (long long)c->deletion_grace_sec);
	snprintf(lag, sizeof lag, "%lld", (long long)c->purge_lag_sec);
	if ((res = db_exec(db, COMPLIANCE_SQL_DELETE, 5, params, cause)) == NULL)
		return -1;
	if (PQntuples(res) == 0)
		rc = 1;
	else {
		snprintf(out->ledger_id, sizeof out->ledger_id, "%s",
		    PQgetvalue(res, 0, 0));
		snprintf(out->purge_after, sizeof out->purge_after, "%s",
		    PQgetvalue(res, 0, 1));
		snprintf(out->due_at, sizeof out->due_at, "%s",
		    PQgetvalue(res, 0, 2));
	}
	PQclear(res);
	return rc;
}

int
compliance_delete_cancel(PGconn *db, const char *tenant_id,
    const char *user_id, const char *actor, char **cause)
{
	const char *params[] = { tenant_id, user_id, actor };
	PGresult *res;
	int rc;

	res = db_exec(db, "SELECT rally.account_delete_cancel($1::uuid, $2::uuid, $3)",
	    3, params, cause);
	if (res == NULL)
		return -1;
	rc = strcmp(PQgetvalue(res, 0, 0), "t") == 0 ? 0 : 1;
	PQclear(res);
	return rc;
}

int
compliance_export(PGconn *db, const char *tenant_id, const char *user_id,
    const char *actor, char *export_id, char **cause)
{
	const char *params[] = { tenant_id, user_id, actor };
	PGresult *res;
	int rc = 1;

	if (db_begin(db, cause) == -1)
		return -1;
	res = db_exec(db, "SELECT e, rally.export_build($1::uuid, e) FROM"
	    " rally.export_request($1::uuid, $2::uuid, $3) e WHERE e IS NOT NULL",
	    3, params, cause);
	if (res == NULL) {
		db_rollback(db, NULL);
		return -1;
	}
	if (PQntuples(res) == 1) {
		snprintf(export_id, 37, "%s", PQgetvalue(res, 0, 0));
		rc = 0;
	}
	PQclear(res);
	return db_commit(db, cause) == -1 ? -1 : rc;
}

int
compliance_update(PGconn *db, const char *tenant_id, const char *user_id,
    const char *actor, const char *changes, char **changed, char **cause)
{
	const char *params[] = { tenant_id, user_id, actor, changes };
	PGresult *res;
	int rc = 1;

	*changed = NULL;
	res = db_exec(db, "SELECT array_to_string(rally.account_update($1::uuid,"
	    " $2::uuid, $3, $4::jsonb), ', ')", 4, params, cause);
	if (res == NULL)
		return -1;
	if (!PQgetisnull(res, 0, 0)) {
		*changed = xstrdup(PQgetvalue(res, 0, 0));
		rc = 0;
	}
	PQclear(res);
	return rc;
}
