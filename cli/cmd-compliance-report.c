/* SPDX-License-Identifier: ISC */
/*
 * rallyctl compliance report: the deletions of the ledger, the proof an
 * operator hands a user or an auditor.  Pending ones with their due dates
 * (and whether they are overdue); completed ones with when, and for an
 * account deletion how many rows of each table the purge deleted
 * (rally.deletion_purges).  Entries are named by ledger id and tenant:
 * the ledger holds no personal data.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "db.h"
#include "rallyctl.h"

static int cmd_compliance_report_exec(struct ctl *, int, char **);

const struct cmd_entry cmd_compliance_report_entry = {
	"compliance report", "[--json]",
	"list pending deletions with due dates, and what each completed one purged",
	cmd_compliance_report_exec,
};

#define REPORT_MAX "10000"

#define REPORT_SQL_PENDING \
	"SELECT l.tenant_id::text, l.id::text, l.kind, " \
	CTL_SQL_TIME("l.requested_at") ", " CTL_SQL_TIME("l.due_at") "," \
	" CASE WHEN l.due_at < now() THEN 'yes' ELSE 'no' END" \
	" FROM rally.deletion_ledger l" \
	" WHERE l.completed_at IS NULL AND l.cancelled_at IS NULL" \
	" ORDER BY l.due_at LIMIT " REPORT_MAX

#define REPORT_SQL_DONE \
	"SELECT l.tenant_id::text, l.id::text, l.kind, " \
	CTL_SQL_TIME("l.requested_at") ", " CTL_SQL_TIME("l.completed_at") "," \
	" coalesce((SELECT jsonb_object_agg(p.table_name, p.rows)" \
	"  FROM rally.deletion_purges p WHERE p.tenant_id = l.tenant_id" \
	"  AND p.ledger_id = l.id), '{}')::text" \
	" FROM rally.deletion_ledger l WHERE l.completed_at IS NOT NULL" \
	" ORDER BY l.completed_at DESC LIMIT " REPORT_MAX

static const char *const pending_headings[] = {
	"TENANT", "ENTRY", "KIND", "REQUESTED", "DUE", "OVERDUE", NULL,
};
static const char *const done_headings[] = {
	"TENANT", "ENTRY", "KIND", "REQUESTED", "COMPLETED", "PURGED", NULL,
};

static json_object *
rows_json(const PGresult *res, const char *last)
{
	json_object *a = json_object_new_array();
	static const char *const names[] = {
		"tenant_id", "id", "kind", "requested_at",
	};

	for (int i = 0; i < PQntuples(res); i++) {
		json_object *o = json_object_new_object();

		for (int k = 0; k < 4; k++)
			json_object_object_add(o, names[k], ctl_json_string(res, i, k));
		json_object_object_add(o, last, ctl_json_string(res, i, 4));
		if (last[0] == 'd')
			json_object_object_add(o, "overdue", json_object_new_boolean(
			    PQgetvalue(res, i, 5)[0] == 'y'));
		else
			json_object_object_add(o, "purged", json_tokener_parse(
			    PQgetvalue(res, i, 5)));
		json_object_array_add(a, o);
	}
	return a;
}

static int
report(const struct ctl *ctl, const PGresult *pending, const PGresult *done)
{
	json_object *o;

	if (!ctl->json) {
		printf("pending deletions: %d\n", PQntuples(pending));
		if (PQntuples(pending) > 0)
			ctl_print_table(pending, pending_headings);
		printf("completed deletions: %d\n", PQntuples(done));
		if (PQntuples(done) > 0)
			ctl_print_table(done, done_headings);
		return 0;
	}
	o = json_object_new_object();
	json_object_object_add(o, "pending", rows_json(pending, "due_at"));
	json_object_object_add(o, "completed", rows_json(done, "completed_at"));
	return ctl_print_json(o);
}

static int
cmd_compliance_report_exec(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	PGresult *pending = NULL, *done = NULL;
	char *cause = NULL;
	PGconn *db;
	int ch, rc;

	optind = 0;
	while ((ch = ctl_getopt(&cmd_compliance_report_entry, argc, argv, opts)) != -1) {
		if (ch != 'j')
			return EX_USAGE;
		ctl->json = true;
	}
	if (optind != argc)
		return cmd_usage(&cmd_compliance_report_entry);
	if ((db = ctl_db(ctl)) == NULL)
		return EX_UNAVAILABLE;
	if ((pending = db_exec(db, REPORT_SQL_PENDING, 0, NULL, &cause)) == NULL ||
	    (done = db_exec(db, REPORT_SQL_DONE, 0, NULL, &cause)) == NULL) {
		PQclear(pending);
		rc = ctl_error(CTL_FAILURE, "compliance report: %s", cause);
		free(cause);
		return rc;
	}
	rc = report(ctl, pending, done);
	PQclear(pending);
	PQclear(done);
	return rc;
}
