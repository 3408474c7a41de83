/* SPDX-License-Identifier: ISC */
/*
 * rallyctl status: what the daemons are doing: instances and their
 * heartbeats, jobs by kind and state with the backlog, Google
 * connections by status, whether the database's SQL functions are the
 * installed ones (lib/migrate.h), and the head of the audit log's hash
 * chain, for operators to record elsewhere (sql/README.md: the chain
 * shows a rewrite only against a head kept out of the rewriter's reach).
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "migrate.h"
#include "rallyctl.h"

static int cmd_status_exec(struct ctl *, int, char **);

const struct cmd_entry cmd_status_entry = {
	"status", "[--json]",
	"show rallyd instances, jobs by kind and state, the backlog, "
	"Google connections by status and whether the functions are current",
	cmd_status_exec,
};

/* Stale: no heartbeat for two leases.  $1 lease seconds. */
#define STATUS_SQL_INSTANCES \
	"SELECT name, host, pid," \
	"  floor(extract(epoch FROM now() - heartbeat_at))::bigint," \
	"  jobs_running," \
	"  CASE WHEN heartbeat_at < now() - make_interval(secs => 2 * $1::int)" \
	"    THEN 'stale' ELSE 'alive' END" \
	" FROM rally.instances ORDER BY name"

#define STATUS_SQL_JOBS \
	"SELECT kind, state, count(*)," \
	"  floor(extract(epoch FROM now() - min(run_at)" \
	"    FILTER (WHERE state = 'pending' AND run_at <= now())))::bigint" \
	" FROM rally.jobs GROUP BY kind, state ORDER BY kind, state"

#define STATUS_SQL_BACKLOG \
	"SELECT count(*), floor(extract(epoch FROM now() - min(run_at)))::bigint" \
	" FROM rally.jobs WHERE state = 'pending' AND run_at <= now()"

#define STATUS_SQL_CONNECTIONS \
	"SELECT status, count(*) FROM rally.google_connections" \
	" GROUP BY status ORDER BY status"

/*
 * Per connection and resource: how far behind it is (lag), how many CRM
 * changes wait to go out (backlog: activities to push; mail to send and
 * label changes to apply), the items Google sent that could not be stored,
 * by reason (never dropped silently), and its last error, typed.
 */
#define STATUS_SQL_SYNC \
	"SELECT s.connection_id, c.status, s.resource," \
	"  coalesce(s.lag_seconds, floor(extract(epoch FROM" \
	"    now() - s.last_success_at)))::bigint," \
	"  CASE s.resource WHEN 'calendar' THEN" \
	"   (SELECT count(*) FROM rally.activities a WHERE a.tenant_id = s.tenant_id" \
	"    AND a.connection_id = s.connection_id AND a.sync_state = 'pending')" \
	"  ELSE (SELECT count(*) FROM rally.mail_outbox o WHERE o.tenant_id = s.tenant_id" \
	"    AND o.connection_id = s.connection_id AND o.state IN ('queued', 'sending'))" \
	"   + (SELECT count(*) FROM rally.mail_label_ops l WHERE l.tenant_id = s.tenant_id" \
	"    AND l.connection_id = s.connection_id AND l.state = 'pending') END," \
	"  coalesce((SELECT string_agg(k || '=' || v, ', ' ORDER BY k)" \
	"    FROM jsonb_each_text(s.skipped) e(k, v)), '')," \
	"  coalesce(s.last_error_kind, ''), coalesce(s.last_error, '')" \
	" FROM rally.sync_state s JOIN rally.google_connections c" \
	"  ON c.tenant_id = s.tenant_id AND c.id = s.connection_id" \
	" ORDER BY s.connection_id, s.resource LIMIT 1000"

/* How much of a digest the human output shows, as rallyctl migrate does. */
#define STATUS_SHORT_DIGEST 12

/* One row: the head (NULLs for an empty chain) and the first broken seq. */
#define STATUS_SQL_AUDIT \
	"SELECT h.seq, encode(h.hash, 'hex'), rally.audit_verify()" \
	" FROM rally.audit_head() h"

enum {
	R_INSTANCES, R_JOBS, R_BACKLOG, R_CONNECTIONS, R_SYNC, R_AUDIT, R_COUNT
};

static const char *const instance_cols[] = {
	"name", "host", "pid", "heartbeat_age_sec", "jobs_running", "state",
};
static const char *const job_cols[] = {
	"kind", "state", "count", "oldest_due_age_sec",
};
static const char *const connection_cols[] = { "status", "count" };
static const char *const sync_cols[] = {
	"connection_id", "status", "resource", "lag_sec", "backlog",
	"skipped", "last_error_kind", "last_error",
};

/* Which columns are integers in JSON, per result. */
static bool
is_int_col(int which, int col)
{
	switch (which) {
	case R_INSTANCES:
		return col == 2 || col == 3 || col == 4;
	case R_JOBS:
		return col >= 2;
	case R_SYNC:
		return col == 3 || col == 4;
	default:
		return col == 1;
	}
}

static struct json_object *
rows_json(const PGresult *res, int which, const char *const *names)
{
	struct json_object *a = json_object_new_array(), *o;

	for (int r = 0; r < PQntuples(res); r++) {
		o = json_object_new_object();
		for (int c = 0; c < PQnfields(res); c++)
			json_object_object_add(o, names[c], is_int_col(which, c) ?
			    ctl_json_int(res, r, c) : ctl_json_string(res, r, c));
		if (which == R_INSTANCES)
			json_object_object_add(o, "stale", json_object_new_boolean(
			    PQgetvalue(res, r, 5)[0] == 's'));
		json_object_array_add(a, o);
	}
	return a;
}

/* The recorded digest against the installed functions directory's. */
struct status_functions {
	char *dir;
	char *database;		/* NULL: never applied */
	char *installed;	/* NULL: unreadable, see error */
	char *error;
};

static void
status_functions_clear(struct status_functions *sf)
{
	free(sf->dir);
	free(sf->database);
	free(sf->installed);
	free(sf->error);
}

static bool
functions_current(const struct status_functions *sf)
{
	return sf->database != NULL && sf->installed != NULL &&
	    strcmp(sf->database, sf->installed) == 0;
}

/* An unreadable directory is reported, not fatal: the rest still shows. */
static int
status_functions(PGconn *db, struct status_functions *sf)
{
	struct db_functions *fs;
	char *cause = NULL;
	int rc;

	if (db_functions_recorded(db, &sf->database, &cause) == -1) {
		rc = ctl_error(CTL_FAILURE, "status: functions: %s", cause);
		free(cause);
		return rc;
	}
	sf->dir = db_functions_dir(NULL, db_migrations_dir(NULL));
	if ((fs = db_functions_load(sf->dir, &sf->error)) != NULL)
		sf->installed = xstrdup(fs->digest);
	db_functions_free(fs);
	return 0;
}

static struct json_object *
json_string_or_null(const char *s)
{
	return s != NULL ? json_object_new_string(s) : NULL;
}

static struct json_object *
functions_json(const struct status_functions *sf)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "up_to_date",
	    json_object_new_boolean(functions_current(sf)));
	json_object_object_add(o, "database",
	    json_string_or_null(sf->database));
	json_object_object_add(o, "installed",
	    json_string_or_null(sf->installed));
	json_object_object_add(o, "dir", json_object_new_string(sf->dir));
	if (sf->error != NULL)
		json_object_object_add(o, "error",
		    json_object_new_string(sf->error));
	return o;
}

static void
functions_human(const struct status_functions *sf)
{
	if (sf->installed == NULL)
		printf("functions: cannot tell: %s\n", sf->error);
	else if (functions_current(sf))
		printf("functions: up to date\n");
	else if (sf->database == NULL)
		printf("functions: out of date (never applied, installed "
		    "%.*s): run rallyctl migrate\n", STATUS_SHORT_DIGEST,
		    sf->installed);
	else
		printf("functions: out of date (database %.*s, installed "
		    "%.*s): run rallyctl migrate\n", STATUS_SHORT_DIGEST,
		    sf->database, STATUS_SHORT_DIGEST, sf->installed);
}

static int
print_json(PGresult *const *res, const struct status_functions *sf)
{
	struct json_object *o = json_object_new_object(), *b;

	json_object_object_add(o, "instances",
	    rows_json(res[R_INSTANCES], R_INSTANCES, instance_cols));
	json_object_object_add(o, "jobs",
	    rows_json(res[R_JOBS], R_JOBS, job_cols));
	b = json_object_new_object();
	json_object_object_add(b, "due", ctl_json_int(res[R_BACKLOG], 0, 0));
	json_object_object_add(b, "oldest_due_age_sec",
	    ctl_json_int(res[R_BACKLOG], 0, 1));
	json_object_object_add(o, "backlog", b);
	json_object_object_add(o, "connections",
	    rows_json(res[R_CONNECTIONS], R_CONNECTIONS, connection_cols));
	json_object_object_add(o, "sync",
	    rows_json(res[R_SYNC], R_SYNC, sync_cols));
	json_object_object_add(o, "functions", functions_json(sf));
	b = json_object_new_object();
	json_object_object_add(b, "seq", ctl_json_int(res[R_AUDIT], 0, 0));
	json_object_object_add(b, "head", ctl_json_string(res[R_AUDIT], 0, 1));
	json_object_object_add(b, "broken_at",
	    ctl_json_int(res[R_AUDIT], 0, 2));
	json_object_object_add(o, "audit_chain", b);
	return ctl_print_json(o);
}

static void
print_audit(const PGresult *a)
{
	if (PQgetisnull(a, 0, 0)) {
		printf("\nAudit chain: empty\n");
		return;
	}
	printf("\nAudit chain: seq %s, head %s, ", PQgetvalue(a, 0, 0),
	    PQgetvalue(a, 0, 1));
	if (PQgetisnull(a, 0, 2))
		printf("intact\n");
	else
		printf("BROKEN at seq %s\n", PQgetvalue(a, 0, 2));
}

static int
print_human(PGresult *const *res, const struct status_functions *sf)
{
	static const char *const ih[] = {
		"NAME", "HOST", "PID", "HEARTBEAT AGE (s)", "JOBS RUNNING",
		"STATE",
	};
	static const char *const jh[] = {
		"KIND", "STATE", "COUNT", "OLDEST DUE (s)",
	};
	static const char *const ch[] = { "STATUS", "COUNT" };
	static const char *const sh[] = {
		"CONNECTION", "STATUS", "RESOURCE", "LAG (s)", "BACKLOG",
		"NOT STORED", "ERROR KIND", "LAST ERROR",
	};
	const PGresult *b = res[R_BACKLOG];

	printf("Instances:\n");
	ctl_print_table(res[R_INSTANCES], ih);
	printf("\nJobs:\n");
	ctl_print_table(res[R_JOBS], jh);
	printf("\nBacklog: %s job(s) due", PQgetvalue(b, 0, 0));
	if (!PQgetisnull(b, 0, 1))
		printf(", the oldest waiting %s s", PQgetvalue(b, 0, 1));
	printf("\n\nGoogle connections:\n");
	ctl_print_table(res[R_CONNECTIONS], ch);
	printf("\nSync, per connection:\n");
	ctl_print_table(res[R_SYNC], sh);
	printf("\n");
	functions_human(sf);
	print_audit(res[R_AUDIT]);
	return 0;
}

/* Runs the queries in one snapshot so the figures agree. */
static int
status_query(PGconn *db, int64_t lease_sec, PGresult **res)
{
	char lease[32], *cause = NULL;
	const char *params[1] = { lease };
	int rc;

	snprintf(lease, sizeof lease, "%lld", (long long)lease_sec);
	if (db_command(db, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
	    0, NULL, &cause) == -1 ||
	    (res[R_INSTANCES] = db_exec(db, STATUS_SQL_INSTANCES, 1, params,
	    &cause)) == NULL ||
	    (res[R_JOBS] = db_exec(db, STATUS_SQL_JOBS, 0, NULL, &cause)) == NULL ||
	    (res[R_BACKLOG] = db_exec(db, STATUS_SQL_BACKLOG, 0, NULL,
	    &cause)) == NULL ||
	    (res[R_CONNECTIONS] = db_exec(db, STATUS_SQL_CONNECTIONS, 0, NULL,
	    &cause)) == NULL ||
	    (res[R_SYNC] = db_exec(db, STATUS_SQL_SYNC, 0, NULL, &cause)) == NULL ||
	    (res[R_AUDIT] = db_exec(db, STATUS_SQL_AUDIT, 0, NULL,
	    &cause)) == NULL) {
		db_rollback(db, NULL);
		rc = ctl_error(CTL_FAILURE, "status: %s", cause);
		free(cause);
		return rc;
	}
	db_rollback(db, NULL);	/* read only: nothing to commit */
	return 0;
}

static int
cmd_status_exec(struct ctl *ctl, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	PGresult *res[R_COUNT] = { NULL };
	struct status_functions sf = { NULL, NULL, NULL, NULL };
	PGconn *db;
	int ch, rc;

	optind = 0;
	while ((ch = ctl_getopt(&cmd_status_entry, argc, argv,
	    longopts)) != -1) {
		if (ch != 'j')
			return cmd_usage(&cmd_status_entry);
		ctl->json = true;
	}
	if (optind != argc)
		return cmd_usage(&cmd_status_entry);
	if ((db = ctl_db(ctl)) == NULL)
		return EX_UNAVAILABLE;
	if ((rc = status_query(db, ctl->conf.lease_sec, res)) == 0 &&
	    (rc = status_functions(db, &sf)) == 0)
		rc = ctl->json ? print_json(res, &sf) : print_human(res, &sf);
	for (int i = 0; i < R_COUNT; i++)
		PQclear(res[i]);
	status_functions_clear(&sf);
	return rc;
}
