/* SPDX-License-Identifier: ISC */
/* rallyctl jobs show ID: one job and the history of its runs. */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "db.h"
#include "log.h"
#include "rallyctl.h"

static int cmd_jobs_show_exec(struct ctl *, int, char **);

const struct cmd_entry cmd_jobs_show_entry = {
	"jobs show", "ID [--json]",
	"show a job and every attempt to run it",
	cmd_jobs_show_exec,
};

/* Job ids are an identity column: unique without the tenant.  $1 id. */
#define JOBS_SQL_SHOW \
	"SELECT id, tenant_id, kind, state, dedupe_key, attempts, max_attempts," \
	"  " CTL_SQL_TIME("created_at") ", " CTL_SQL_TIME("run_at") "," \
	"  " CTL_SQL_TIME("started_at") ", " CTL_SQL_TIME("finished_at") "," \
	"  lease_owner, " CTL_SQL_TIME("lease_expires") ", last_error," \
	"  payload::text, result::text" \
	" FROM rally.jobs WHERE id = $1::bigint"

/* $1 tenant, $2 id. */
#define JOBS_SQL_RUNS \
	"SELECT attempt, instance, outcome, " CTL_SQL_TIME("started_at") "," \
	"  " CTL_SQL_TIME("finished_at") ", error" \
	" FROM rally.job_runs WHERE tenant_id = $1 AND job_id = $2::bigint" \
	" ORDER BY attempt, started_at"

static const char *const job_cols[] = {
	"id", "tenant_id", "kind", "state", "dedupe_key", "attempts",
	"max_attempts", "created_at", "run_at", "started_at", "finished_at",
	"lease_owner", "lease_expires", "last_error", "payload", "result",
};
static const char *const run_cols[] = {
	"attempt", "instance", "outcome", "started_at", "finished_at", "error",
};

static struct json_object *
job_json(const PGresult *job)
{
	struct json_object *o = json_object_new_object(), *v;
	const char *text;

	for (int c = 0; c < PQnfields(job); c++) {
		text = PQgetvalue(job, 0, c);
		if (c == 0 || c == 5 || c == 6)
			v = ctl_json_int(job, 0, c);
		else if (c == 13)
			v = ctl_json_redacted(job, 0, c);
		else if ((c == 14 || c == 15) && !PQgetisnull(job, 0, c))
			v = json_tokener_parse(text);
		else
			v = ctl_json_string(job, 0, c);
		json_object_object_add(o, job_cols[c], v);
	}
	return o;
}

static int
print_json(const PGresult *job, const PGresult *runs)
{
	struct json_object *o = json_object_new_object(), *a, *r;

	json_object_object_add(o, "job", job_json(job));
	a = json_object_new_array();
	for (int i = 0; i < PQntuples(runs); i++) {
		r = json_object_new_object();
		for (int c = 0; c < PQnfields(runs); c++)
			json_object_object_add(r, run_cols[c], c == 0 ?
			    ctl_json_int(runs, i, c) : c == 5 ?
			    ctl_json_redacted(runs, i, c) :
			    ctl_json_string(runs, i, c));
		json_object_array_add(a, r);
	}
	json_object_object_add(o, "runs", a);
	return ctl_print_json(o);
}

static int
print_human(const PGresult *job, const PGresult *runs)
{
	static const char *const h[] = {
		"ATTEMPT", "INSTANCE", "OUTCOME", "STARTED", "FINISHED", "ERROR",
	};
	char *v;

	for (int c = 0; c < PQnfields(job); c++) {
		v = log_redact(PQgetisnull(job, 0, c) ? "-" :
		    PQgetvalue(job, 0, c));
		printf("%-14s ", job_cols[c]);
		ctl_put_text(v);
		putchar('\n');
		free(v);
	}
	printf("\nRuns:\n");
	ctl_print_table(runs, h);
	return 0;
}

static int
show(struct ctl *ctl, const char *id)
{
	const char *params[2] = { NULL, id };
	PGresult *job, *runs = NULL;
	char *cause = NULL;
	PGconn *db;
	int rc;

	if ((db = ctl_db(ctl)) == NULL)
		return EX_UNAVAILABLE;
	if ((job = db_exec(db, JOBS_SQL_SHOW, 1, &id, &cause)) == NULL)
		goto fail;
	if (PQntuples(job) == 0) {
		PQclear(job);
		return ctl_error(EX_DATAERR, "jobs show: no job %s", id);
	}
	params[0] = PQgetvalue(job, 0, 1);
	if ((runs = db_exec(db, JOBS_SQL_RUNS, 2, params, &cause)) == NULL)
		goto fail;
	rc = ctl->json ? print_json(job, runs) : print_human(job, runs);
	PQclear(runs);
	PQclear(job);
	return rc;
fail:
	PQclear(job);
	rc = ctl_error(CTL_FAILURE, "jobs show: %s", cause);
	free(cause);
	return rc;
}

static int
cmd_jobs_show_exec(struct ctl *ctl, int argc, char **argv)
{
	const char *id;
	int rc = ctl_args_json_id(ctl, &cmd_jobs_show_entry, argc, argv, &id);

	return rc != 0 ? rc : show(ctl, id);
}
