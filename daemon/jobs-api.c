/* SPDX-License-Identifier: ISC */
/*
 * What a job handler calls on its job besides job_finish(): reading its
 * payload, naming the connection it works for, asking for a later retry.
 * The lease engine itself is jobs.c.
 */
#include "config.h"

#include <stdlib.h>

#include "jobs.h"
#include "util.h"
#include "uuid.h"

const char *
job_payload_string(const struct job *job, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(job->payload, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

const char *
job_payload_uuid(const struct job *job, const char *key, char *out)
{
	return uuid_canonical(job_payload_string(job, key), out) ? out : NULL;
}

void
job_set_connection(struct job *job, const char *connection_id)
{
	free(job->connection_id);
	job->connection_id = xstrdup(connection_id);
	job->log.connection = job->connection_id;
}

void
job_defer(struct job *job, long ms)
{
	if (ms >= 0 && (double)ms / 1000 > job->retry_not_before)
		job->retry_not_before = (double)ms / 1000;
}
