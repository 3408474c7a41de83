/* SPDX-License-Identifier: ISC */
/*
 * export: builds the archive of a user's data that the user (rally.cgi,
 * rally.web_export_request) or an operator asked for (payload
 * {export_id}).  rally.export_build (sql/functions/export.sql) does it in
 * one transaction from what the database holds; it builds nothing for an
 * export of another tenant, one ready already, or a user no longer active.
 * A database error is retried; when the job fails for good, the trigger
 * exports_job_failed fails the export too, so that the user can ask again.
 */
#include "config.h"

#include "jobs.h"
#include "sqljob.h"
#include "uuid.h"

static const struct sqljob_spec export_build = {
	"SELECT rally.export_build($1, $2::uuid)", "built", SQLJOB_BOOL,
};

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
	sqljob_run(job, &export_build, 2, params);
}

const struct job_kind job_export_kind = {
	.name = "export",
	.start = export_start,
	.cancel = NULL,
};
