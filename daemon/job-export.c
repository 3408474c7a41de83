/* SPDX-License-Identifier: ISC */
/*
 * export: builds the archive of a user's data that the user (rally.cgi,
 * rally.web_export_request) or an operator asked for (payload
 * {export_id}).  rally.export_build (sql/functions/export.sql) does it in
 * one transaction from what the database holds; it builds nothing for an
 * export of another tenant, one ready already, or a user no longer active.
 */
#include "config.h"

#include <string.h>

#include "jobs.h"
#include "pgloop.h"
#include "rallyd.h"
#include "uuid.h"

#define EXPORT_SQL "SELECT rally.export_build($1, $2::uuid)"

static void
built_cb(const PGresult *res, const char *error, void *arg)
{
	struct job *job = arg;
	json_object *result;

	if (error != NULL) {
		job_finish(job, JOB_RETRY, error, NULL);
		return;
	}
	result = json_object_new_object();
	json_object_object_add(result, "built", json_object_new_boolean(
	    strcmp(PQgetvalue(res, 0, 0), "t") == 0));
	job_finish(job, JOB_DONE, NULL, result);
}

static void
export_start(struct job *job)
{
	char buf[UUID_STR_LEN];
	const char *id = job_payload_uuid(job, "export_id", buf);
	const char *params[2] = { job->tenant_id, id };

	if (id == NULL) {
		job_finish(job, JOB_FAIL, "payload: export_id is not a uuid", NULL);
		return;
	}
	pgloop_query(job->d->db, EXPORT_SQL, 2, params, built_cb, job);
}

const struct job_kind job_export_kind = {
	.name = "export",
	.start = export_start,
	.cancel = NULL,
};
