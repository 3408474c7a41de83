/* SPDX-License-Identifier: ISC */
/*
 * backup-check: the weekly proof that the newest backup restores
 * (lib/backup-check.h), queued by sched.c through
 * rally.backup_queue_restore_check when no backup was checked within
 * backup.restore_check; on a worker thread (job-thread.c).  A backup that
 * does not restore, or restores other row counts than recorded, is logged
 * at crit with its MESSAGE_ID and recorded (rallyctl backup list); the job
 * is done, since running it again would say the same.  A check that could
 * not run (no database to create, say) is retried.
 */
#include "config.h"

#include <stdlib.h>

#include "backup-check.h"
#include "job-thread.h"
#include "log.h"
#include "msgid.h"

struct check_job {
	struct job_thread t;	/* first: the thread code frees it */
	struct backup_check_result res;
	enum backup_check_status status;
	char *cause;
};

static void
check_clear(struct job_thread *t)
{
	free(((struct check_job *)t)->cause);
}

static void
check_work(struct job_thread *t)
{
	struct check_job *c = (struct check_job *)t;

	c->status = backup_check(&t->conf, t->kr, &t->cancel, &c->res,
	    &c->cause);
}

static json_object *
check_json(const struct check_job *c)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "file", json_object_new_string(c->res.file));
	json_object_object_add(o, "ok",
	    json_object_new_boolean(c->status == CHECK_OK));
	json_object_object_add(o, "tables", json_object_new_int64(c->res.tables));
	json_object_object_add(o, "rows", json_object_new_int64(c->res.rows));
	json_object_object_add(o, "seconds",
	    json_object_new_double(c->res.seconds));
	return o;
}

static void
check_done(struct job_thread *t)
{
	struct check_job *c = (struct check_job *)t;
	struct job *job = t->job;

	switch (c->status) {
	case CHECK_OK:
		log_emit(LOG_INFO, MSGID_RESTORE_CHECK_OK, &job->log, "backup "
		    "%s restored: %ld tables, %ld rows, as recorded; %.1f s",
		    c->res.file, c->res.tables, c->res.rows, c->res.seconds);
		job_finish(job, JOB_DONE, NULL, check_json(c));
		break;
	case CHECK_NOTHING:
		job_finish(job, JOB_DONE, NULL, NULL);
		break;
	case CHECK_FAILED:
		log_emit(LOG_CRIT, MSGID_RESTORE_CHECK_FAILED, &job->log,
		    "backup restore check failed: %s", c->cause);
		job_finish(job, JOB_DONE, NULL, check_json(c));
		break;
	case CHECK_ERROR:
		log_warnx("backup restore check could not run: %s", c->cause);
		job_finish(job, JOB_RETRY, c->cause, NULL);
		break;
	}
	job_thread_free(t);
}

static void
check_start(struct job *job)
{
	struct check_job *c = xcalloc(1, sizeof *c);

	c->t.work = check_work;
	c->t.done = check_done;
	c->t.clear = check_clear;
	job_thread_start(job, &c->t, "backup restore check");
}

const struct job_kind job_backup_check_kind = {
	.name = "backup-check",
	.start = check_start,
	.cancel = job_thread_cancel,
};
