/* SPDX-License-Identifier: ISC */
/*
 * The user a command names with --user EMAIL [--tenant ID]: one address
 * may be a user of several tenants, and then --tenant chooses.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "rallyctl.h"

/* How many tenants an ambiguous address lists. */
#define USER_FIND_TENANTS_SHOWN 20

#define USER_FIND_SQL \
	"SELECT u.tenant_id::text, u.id::text, u.status FROM rally.users u" \
	" WHERE lower(u.email) = lower($1)" \
	" AND ($2::uuid IS NULL OR u.tenant_id = $2::uuid)" \
	" ORDER BY u.tenant_id"

static int
ambiguous(const char *verb, const char *email, const PGresult *res)
{
	int n = PQntuples(res);

	fflush(stdout);
	fprintf(stderr, "rallyctl: %s: %s is a user of %d tenants; choose one "
	    "with --tenant:\n", verb, email, n);
	for (int i = 0; i < n && i < USER_FIND_TENANTS_SHOWN; i++)
		fprintf(stderr, "  %s\n", PQgetvalue(res, i, 0));
	return EX_DATAERR;
}

int
ctl_find_user(PGconn *db, const char *verb, const char *email,
    const char *tenant, struct ctl_user *u)
{
	const char *params[2] = { email, tenant };
	char *cause = NULL;
	PGresult *res;
	int rc = 0;

	memset(u, 0, sizeof *u);
	if (tenant != NULL && !ctl_valid_uuid(tenant))
		return ctl_error(EX_USAGE, "%s: --tenant \"%s\" is not a tenant "
		    "id", verb, tenant);
	if ((res = db_exec(db, USER_FIND_SQL, 2, params, &cause)) == NULL) {
		rc = ctl_error(CTL_FAILURE, "%s: %s", verb, cause);
		free(cause);
		return rc;
	}
	if (PQntuples(res) == 0)
		rc = ctl_error(EX_DATAERR, "%s: no user %s%s%s", verb, email,
		    tenant != NULL ? " in tenant " : "",
		    tenant != NULL ? tenant : "");
	else if (PQntuples(res) > 1)
		rc = ambiguous(verb, email, res);
	else {
		snprintf(u->tenant_id, sizeof u->tenant_id, "%s",
		    PQgetvalue(res, 0, 0));
		snprintf(u->user_id, sizeof u->user_id, "%s",
		    PQgetvalue(res, 0, 1));
		snprintf(u->status, sizeof u->status, "%s",
		    PQgetvalue(res, 0, 2));
	}
	PQclear(res);
	return rc;
}
