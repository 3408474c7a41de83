/* SPDX-License-Identifier: ISC */
/*
 * backup: the daily backup (queued by sched.c at backup.time through
 * rally.backup_queue_daily, one job a day for all instances), run on a
 * worker thread so the loop never waits on pg_dump, zstd or AES
 * (lib/backup-run.h does the work, the lock included; job-thread.c the
 * thread).  The payload is not read: there is nothing in it to trust.
 * Another backup holding the lock: retried in a minute.  Any failure:
 * logged at err with its MESSAGE_ID and retried with the engine's backoff.
 */
#include "config.h"

#include <stdlib.h>

#include "backup-run.h"
#include "job-thread.h"
#include "log.h"
#include "msgid.h"
#include "rallyd.h"

#define BACKUP_BUSY_RETRY_MS 60000

struct backup_job {
	struct job_thread t;	/* first: the thread code frees it */
	struct backup_opts opts;
	struct backup_result res;
	enum backup_status status;
	char *cause;
	char *instance;		/* recorded as who made it */
};

static void
backup_clear(struct job_thread *t)
{
	struct backup_job *b = (struct backup_job *)t;

	backup_result_clear(&b->res);
	free(b->cause);
	free(b->instance);
}

/* On the worker thread. */
static void
backup_work(struct job_thread *t)
{
	struct backup_job *b = (struct backup_job *)t;

	b->opts = (struct backup_opts){ .conf = &t->conf, .kr = t->kr,
		.instance = b->instance, .cancel = &t->cancel };
	b->status = backup_run(&b->opts, &b->res, &b->cause);
}

static json_object *
backup_json(const struct backup_result *res)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "file", json_object_new_string(res->name));
	json_object_object_add(o, "size_bytes",
	    json_object_new_int64((int64_t)res->size));
	json_object_object_add(o, "sha256", json_object_new_string(res->sha256));
	json_object_object_add(o, "key_id", json_object_new_int64(res->key_id));
	json_object_object_add(o, "chunks",
	    json_object_new_int64((int64_t)res->chunks));
	json_object_object_add(o, "seconds", json_object_new_double(res->seconds));
	json_object_object_add(o, "pruned", json_object_new_int(res->pruned));
	return o;
}

/* On the loop, once the thread returned. */
static void
backup_done(struct job_thread *t)
{
	struct backup_job *b = (struct backup_job *)t;
	const struct backup_result *res = &b->res;
	struct job *job = t->job;

	if (b->status == BACKUP_OK) {
		log_emit(LOG_INFO, MSGID_BACKUP_DONE, &job->log, "backup %s/%s: "
		    "%llu bytes, key %u, %llu chunks verified, %.1f s; %d old "
		    "backup(s) deleted", t->conf.backup_dir, res->name,
		    (unsigned long long)res->size, res->key_id,
		    (unsigned long long)res->chunks, res->seconds, res->pruned);
		job_finish(job, JOB_DONE, NULL, backup_json(res));
	} else if (b->status == BACKUP_BUSY) {
		log_notice("backup: %s; trying again in a minute", b->cause);
		job_defer(job, BACKUP_BUSY_RETRY_MS);
		job_finish(job, JOB_RETRY, b->cause, NULL);
	} else {
		log_emit(LOG_ERR, MSGID_BACKUP_FAILED, &job->log, "backup "
		    "failed: %s", b->cause);
		job_finish(job, JOB_RETRY, b->cause, NULL);
	}
	job_thread_free(t);
}

static void
backup_start(struct job *job)
{
	struct backup_job *b = xcalloc(1, sizeof *b);

	b->t.work = backup_work;
	b->t.done = backup_done;
	b->t.clear = backup_clear;
	b->instance = xstrdup(job->d->instance);
	job_thread_start(job, &b->t, "backup");
}

const struct job_kind job_backup_kind = {
	.name = "backup",
	.start = backup_start,
	.cancel = job_thread_cancel,
};
