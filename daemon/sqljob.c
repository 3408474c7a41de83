/* SPDX-License-Identifier: ISC */
/* sqljob: a job that is one SQL statement (sqljob.h). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "jobs.h"
#include "pgloop.h"
#include "rallyd.h"
#include "sqljob.h"
#include "util.h"

struct sqljob {
	struct job *job;
	const char *key;
	enum sqljob_value value;
};

static void
done_cb(const PGresult *res, const char *error, void *arg)
{
	struct sqljob *s = arg;
	struct job *job = s->job;
	json_object *result = NULL;
	const char *v;

	if (error == NULL) {
		v = PQgetvalue(res, 0, 0);
		result = json_object_new_object();
		json_object_object_add(result, s->key, s->value == SQLJOB_BOOL ?
		    json_object_new_boolean(strcmp(v, "t") == 0) :
		    json_object_new_int64(atoll(v)));
	}
	free(s);
	job_finish(job, error != NULL ? JOB_RETRY : JOB_DONE, error, result);
}

void
sqljob_run(struct job *job, const char *sql, int nparams,
    const char *const *params, const char *result_key, enum sqljob_value value)
{
	struct sqljob *s = xcalloc(1, sizeof *s);

	s->job = job;
	s->key = result_key;
	s->value = value;
	pgloop_query(job->d->db, sql, nparams, params, done_cb, s);
}
