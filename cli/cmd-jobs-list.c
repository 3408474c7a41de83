/* SPDX-License-Identifier: ISC */
/* rallyctl jobs list [--state S] [--kind K] [--limit N]: the newest jobs first. */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "rallyctl.h"

#define JOBS_LIST_DEFAULT "50"
#define JOBS_LIST_MAX 100000
#define JOBS_KIND_MAX 64

static int cmd_jobs_list_exec(struct ctl *, int, char **);

const struct cmd_entry cmd_jobs_list_entry = {
	"jobs list",
	"[--state pending|running|done|failed] [--kind KIND] [--limit N] [--json]",
	"list jobs, newest first (default limit " JOBS_LIST_DEFAULT ")",
	cmd_jobs_list_exec,
};

/* $1 state or NULL, $2 kind or NULL, $3 limit. */
#define JOBS_SQL_LIST \
	"SELECT id, tenant_id, kind, state, attempts," \
	"  " CTL_SQL_TIME("run_at") ", " CTL_SQL_TIME("created_at") "," \
	"  lease_owner, last_error" \
	" FROM rally.jobs" \
	" WHERE ($1::text IS NULL OR state = $1)" \
	"   AND ($2::text IS NULL OR kind = $2)" \
	" ORDER BY id DESC LIMIT $3::int"

static const char *const list_cols[] = {
	"id", "tenant_id", "kind", "state", "attempts", "run_at", "created_at",
	"lease_owner", "last_error",
};

static bool
state_ok(const char *s)
{
	static const char *const states[] = {
		"pending", "running", "done", "failed",
	};

	for (size_t i = 0; i < nitems(states); i++)
		if (strcmp(s, states[i]) == 0)
			return true;
	return false;
}

static int
print_json(const PGresult *res)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "jobs",
	    ctl_json_rows(res, list_cols, "isssisssr"));
	return ctl_print_json(o);
}

static int
print_human(PGresult *res)
{
	static const char *const h[] = {
		"ID", "TENANT", "KIND", "STATE", "ATTEMPTS", "RUN AT", "CREATED",
		"LEASE OWNER", "LAST ERROR",
	};

	ctl_print_table(res, h);
	return 0;
}

static int
list(struct ctl *ctl, const char *const *params)
{
	char *cause = NULL;
	PGresult *res;
	PGconn *db;
	int rc;

	if ((db = ctl_db(ctl)) == NULL)
		return EX_UNAVAILABLE;
	if ((res = db_exec(db, JOBS_SQL_LIST, 3, params, &cause)) == NULL) {
		rc = ctl_error(CTL_FAILURE, "jobs list: %s", cause);
		free(cause);
		return rc;
	}
	rc = ctl->json ? print_json(res) : print_human(res);
	PQclear(res);
	return rc;
}

static int
cmd_jobs_list_exec(struct ctl *ctl, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "state", required_argument, NULL, 's' },
		{ "kind", required_argument, NULL, 'k' },
		{ "limit", required_argument, NULL, 'l' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	const char *params[3] = { NULL, NULL, JOBS_LIST_DEFAULT };
	int64_t v;
	int ch;

	optind = 0;
	while ((ch = ctl_getopt(&cmd_jobs_list_entry, argc, argv,
	    longopts)) != -1) {
		switch (ch) {
		case 's':
			if (!state_ok(optarg))
				return ctl_error(EX_USAGE, "jobs list: --state "
				    "must be pending, running, done or failed");
			params[0] = optarg;
			break;
		case 'k':
			if (strlen(optarg) == 0 || strlen(optarg) > JOBS_KIND_MAX)
				return ctl_error(EX_USAGE, "jobs list: --kind "
				    "must be 1 to %d bytes", JOBS_KIND_MAX);
			params[1] = optarg;
			break;
		case 'l':
			if (ctl_parse_int("--limit", optarg, 1, JOBS_LIST_MAX,
			    &v) == -1)
				return EX_USAGE;
			params[2] = optarg;
			break;
		case 'j':
			ctl->json = true;
			break;
		default:
			return cmd_usage(&cmd_jobs_list_entry);
		}
	}
	if (optind != argc)
		return cmd_usage(&cmd_jobs_list_entry);
	return list(ctl, params);
}
