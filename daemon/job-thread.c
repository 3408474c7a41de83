/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "job-thread.h"
#include "keyring.h"
#include "log.h"
#include "msgid.h"
#include "rallyd.h"
#include "worker.h"

#define SYSTEM_TENANT "00000000-0000-0000-0000-000000000000"

void
job_thread_free(struct job_thread *t)
{
	if (t == NULL)
		return;
	if (t->clear != NULL)
		t->clear(t);
	cancel_destroy(&t->cancel);
	keyring_free(t->kr);
	conf_clear(&t->conf);
	free(t);
}

static void
thread_work(void *arg)
{
	struct job_thread *t = arg;

	t->work(t);
}

static void
thread_done(void *arg)
{
	struct job_thread *t = arg;

	t->worker = NULL;
	t->job->state = NULL;
	t->done(t);
}

static void
start_failed(struct job *job, struct job_thread *t, const char *what,
    const char *why)
{
	log_emit(LOG_ERR, MSGID_BACKUP_FAILED, &job->log, "%s failed: %s",
	    what, why);
	job->state = NULL;
	job_finish(job, JOB_RETRY, why, NULL);
	job_thread_free(t);
}

void
job_thread_start(struct job *job, struct job_thread *t, const char *what)
{
	char *cause = NULL;

	cancel_init(&t->cancel);
	/* Whole-database work belongs to the system tenant, whoever queued it. */
	if (strcmp(job->tenant_id, SYSTEM_TENANT) != 0) {
		job_finish(job, JOB_FAIL, "backup jobs belong to the system "
		    "tenant", NULL);
		job_thread_free(t);
		return;
	}
	t->job = job;
	conf_copy(&t->conf, &job->d->conf);
	if ((t->kr = keyring_load(conf_backup_keyring_path(&t->conf),
	    &cause)) == NULL) {
		start_failed(job, t, what, cause);
		free(cause);
		return;
	}
	job->state = t;
	t->worker = worker_start(job->d->base, thread_work, t, thread_done, t);
	if (t->worker == NULL)
		start_failed(job, t, what, "no worker thread");
}

static void
fire(void *arg)
{
	cancel_fire(arg);
}

void
job_thread_cancel(struct job *job)
{
	struct job_thread *t = job->state;

	if (t == NULL)
		return;
	/* Again and again: a statement that starts just after a fire is
	 * not cancelled by it. */
	cancel_fire(&t->cancel);
	worker_join(t->worker, fire, &t->cancel, CANCEL_REFIRE_MS);
	job->state = NULL;
	job_thread_free(t);
}
