/* SPDX-License-Identifier: ISC */
/*
 * backup: the daily backup (queued by sched.c at backup.time through
 * rally.backup_queue_daily, one job a day for all instances), run on a
 * worker thread so the loop never waits on pg_dump, zstd or AES
 * (lib/backup-run.h does the work, the lock included).  The payload is
 * not read: there is nothing in it to trust.  Another backup holding the
 * lock: retried in a minute.  Any failure: logged at err with its
 * MESSAGE_ID and retried with the engine's backoff.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "backup-run.h"
#include "jobs.h"
#include "keyring.h"
#include "log.h"
#include "msgid.h"
#include "rallyd.h"
#include "worker.h"

#define BACKUP_BUSY_RETRY_MS 60000

struct backup_job {
	struct job *job;
	struct conf conf;	/* a copy: a reload must not free it under us */
	struct keyring *kr;
	struct backup_opts opts;
	struct backup_result res;
	enum backup_status status;
	char *cause;
	volatile sig_atomic_t cancel;
	struct worker *worker;
};

static void
backup_job_free(struct backup_job *b)
{
	backup_result_clear(&b->res);
	keyring_free(b->kr);
	conf_clear(&b->conf);
	free(b->cause);
	free(b);
}

/* On the worker thread. */
static void
backup_work(void *arg)
{
	struct backup_job *b = arg;

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
backup_done(void *arg)
{
	struct backup_job *b = arg;
	struct job *job = b->job;
	const struct backup_result *res = &b->res;

	job->state = NULL;
	if (b->status == BACKUP_OK) {
		log_emit(LOG_INFO, MSGID_BACKUP_DONE, &job->log, "backup %s/%s: "
		    "%llu bytes, key %u, %llu chunks verified, %.1f s; %d old "
		    "backup(s) deleted", b->conf.backup_dir, res->name,
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
	backup_job_free(b);
}

static void
backup_start(struct job *job)
{
	struct backup_job *b = xcalloc(1, sizeof *b);
	char *cause = NULL;

	b->job = job;
	conf_copy(&b->conf, &job->d->conf);
	if ((b->kr = keyring_load(conf_backup_keyring_path(&b->conf),
	    &cause)) == NULL) {
		log_emit(LOG_ERR, MSGID_BACKUP_FAILED, &job->log, "backup "
		    "failed: %s", cause);
		job_finish(job, JOB_RETRY, cause, NULL);
		free(cause);
		backup_job_free(b);
		return;
	}
	b->opts = (struct backup_opts){ .conf = &b->conf, .kr = b->kr,
		.instance = job->d->instance, .cancel = &b->cancel };
	job->state = b;
	if ((b->worker = worker_start(job->d->base, backup_work, b,
	    backup_done, b)) == NULL) {
		job->state = NULL;
		job_finish(job, JOB_RETRY, "backup: no worker thread", NULL);
		backup_job_free(b);
	}
}

/* Shutdown: the thread stops at its next read of pg_dump's output. */
static void
backup_cancel(struct job *job)
{
	struct backup_job *b = job->state;

	if (b == NULL)
		return;
	b->cancel = 1;
	worker_join(b->worker);
	job->state = NULL;
	backup_job_free(b);
}

const struct job_kind job_backup_kind = {
	.name = "backup",
	.start = backup_start,
	.cancel = backup_cancel,
};
