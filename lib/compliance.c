/* SPDX-License-Identifier: ISC */
/* compliance: the privacy requests every front end shares (compliance.h). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "compliance.h"
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
