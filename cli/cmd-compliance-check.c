/* SPDX-License-Identifier: ISC */
/*
 * rallyctl compliance check: the 30-day promise, on demand.  The
 * configuration's part (compliance.deletion_grace + compliance.purge_lag +
 * backup.retention <= 30 days) is checked by every program when it loads
 * rally.conf, so a configuration that breaks it never gets this far; this
 * prints the figures and then asks the database for deletions past their
 * due date.  Exit 0 when nothing is overdue, 1 when something is.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "db.h"
#include "rallyctl.h"

static int cmd_compliance_check_exec(struct ctl *, int, char **);

const struct cmd_entry cmd_compliance_check_entry = {
	"compliance check", "[--json]",
	"check grace + purge lag + backup retention <= 30 days and that no deletion is overdue",
	cmd_compliance_check_exec,
};

#define CHECK_SQL_OVERDUE \
	"SELECT count(*), " CTL_SQL_TIME("min(due_at)") \
	" FROM rally.deletions_overdue()"

#define DAY_SEC (24.0 * 3600)

static int
report(const struct ctl *ctl, const PGresult *res)
{
	const struct conf *c = &ctl->conf;
	long overdue = atol(PQgetvalue(res, 0, 0));
	int64_t total = c->deletion_grace_sec + c->purge_lag_sec +
	    c->backup_retention_sec;
	json_object *o;

	if (!ctl->json) {
		printf("deletion grace %.1f d + purge lag %.1f d + backup "
		    "retention %.1f d = %.1f d (at most 30 d): ok\n",
		    c->deletion_grace_sec / DAY_SEC, c->purge_lag_sec / DAY_SEC,
		    c->backup_retention_sec / DAY_SEC, total / DAY_SEC);
		if (overdue == 0)
			printf("no deletion is overdue\n");
		else
			printf("%ld deletion%s overdue, the oldest due at %s: see "
			    "rallyctl compliance report\n", overdue,
			    overdue == 1 ? " is" : "s are", PQgetvalue(res, 0, 1));
		return overdue == 0 ? 0 : CTL_FAILURE;
	}
	o = json_object_new_object();
	json_object_object_add(o, "deletion_grace_seconds",
	    json_object_new_int64(c->deletion_grace_sec));
	json_object_object_add(o, "purge_lag_seconds",
	    json_object_new_int64(c->purge_lag_sec));
	json_object_object_add(o, "backup_retention_seconds",
	    json_object_new_int64(c->backup_retention_sec));
	json_object_object_add(o, "total_seconds", json_object_new_int64(total));
	json_object_object_add(o, "overdue", json_object_new_int64(overdue));
	ctl_print_json(o);
	return overdue == 0 ? 0 : CTL_FAILURE;
}

static int
cmd_compliance_check_exec(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	char *cause = NULL;
	PGresult *res;
	PGconn *db;
	int ch, rc;

	optind = 0;
	while ((ch = ctl_getopt(&cmd_compliance_check_entry, argc, argv, opts)) != -1) {
		if (ch != 'j')
			return EX_USAGE;
		ctl->json = true;
	}
	if (optind != argc)
		return cmd_usage(&cmd_compliance_check_entry);
	if ((db = ctl_db(ctl)) == NULL)
		return EX_UNAVAILABLE;
	if ((res = db_exec(db, CHECK_SQL_OVERDUE, 0, NULL, &cause)) == NULL) {
		rc = ctl_error(CTL_FAILURE, "compliance check: %s", cause);
		free(cause);
		return rc;
	}
	rc = report(ctl, res);
	PQclear(res);
	return rc;
}
