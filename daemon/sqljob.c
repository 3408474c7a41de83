/* SPDX-License-Identifier: ISC */
/* sqljob: a job that is one SQL statement (sqljob.h). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "jobs.h"
#include "pgloop.h"
#include "rallyd.h"
#include "sqljob.h"

static void
done_cb(const PGresult *res, const char *error, void *arg)
{
	struct job *job = arg;
	const struct sqljob_spec *spec = job->state;
	json_object *result = NULL;
	const char *v;

	job->state = NULL;
	if (error == NULL) {
		v = PQgetvalue(res, 0, 0);
		result = json_object_new_object();
		json_object_object_add(result, spec->result_key,
		    spec->value == SQLJOB_BOOL ?
		    json_object_new_boolean(strcmp(v, "t") == 0) :
		    json_object_new_int64(atoll(v)));
	}
	job_finish(job, error != NULL ? JOB_RETRY : JOB_DONE, error, result);
}

void
sqljob_run(struct job *job, const struct sqljob_spec *spec, int nparams,
    const char *const *params)
{
	job->state = (void *)spec;
	pgloop_query(job->d->db, spec->sql, nparams, params, done_cb, job);
}
