/* SPDX-License-Identifier: ISC */
/*
 * job-thread: what the backup kinds (job-backup.c, job-backup-check.c)
 * share: a copy of the configuration (a reload must not free it under the
 * thread), the backup keyring, the work on a worker thread, its end back
 * on the loop, and the cancel at shutdown, which stops the work's
 * statements and child processes (lib/cancel.h) and waits for the thread.
 */
#ifndef RALLYD_JOB_THREAD_H
#define RALLYD_JOB_THREAD_H

#include "cancel.h"
#include "conf.h"
#include "jobs.h"

struct keyring;
struct worker;

struct job_thread {
	struct job *job;
	struct conf conf;
	struct keyring *kr;
	struct cancel cancel;		/* fired at shutdown: the work stops */
	struct worker *worker;
	void (*work)(struct job_thread *);	/* on the thread */
	void (*done)(struct job_thread *);	/* on the loop; calls job_finish */
	void (*clear)(struct job_thread *);	/* frees the kind's own part */
};

/*
 * Starts t->work on a thread for job (t allocated by the kind, with work,
 * done and clear set; job->state becomes t).  On failure the job is
 * finished (retry) and t freed.
 */
void job_thread_start(struct job *, struct job_thread *t, const char *what);
/* Frees t after done ran. */
void job_thread_free(struct job_thread *);
/* A job_kind cancel function for these kinds. */
void job_thread_cancel(struct job *);

#endif
