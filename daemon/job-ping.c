/* SPDX-License-Identifier: ISC */
/*
 * ping: a diagnostic job.  It waits sleep_ms (default 0) without blocking
 * the loop, then finishes with {"instance": NAME}, or fails with the
 * payload's "fail" message (retried) or "fail_permanently" (not retried).
 * Operators use it to see that some instance is taking work; the tests use
 * it to prove the engine's guarantees with jobs of a known length.
 */
#include "config.h"

#include <stdlib.h>

#include <event2/event.h>

#include "jobs.h"
#include "rallyd.h"

#define PING_MAX_SLEEP_MS (24 * 3600 * 1000)

static void
ping_done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct job *job = arg;
	json_object *v, *result;

	event_free(job->state);
	job->state = NULL;
	if (json_object_object_get_ex(job->payload, "fail_permanently", &v)) {
		job_finish(job, JOB_FAIL, json_object_get_string(v), NULL);
		return;
	}
	if (json_object_object_get_ex(job->payload, "fail", &v)) {
		job_finish(job, JOB_RETRY, json_object_get_string(v), NULL);
		return;
	}
	result = json_object_new_object();
	json_object_object_add(result, "instance",
	    json_object_new_string(job->d->instance));
	job_finish(job, JOB_DONE, NULL, result);
}

static void
ping_start(struct job *job)
{
	json_object *v;
	int64_t ms = 0;
	struct timeval tv;

	if (json_object_object_get_ex(job->payload, "sleep_ms", &v))
		ms = json_object_get_int64(v);
	if (ms < 0 || ms > PING_MAX_SLEEP_MS) {
		job_finish(job, JOB_FAIL, "sleep_ms out of range", NULL);
		return;
	}
	tv.tv_sec = (long)(ms / 1000);
	tv.tv_usec = (long)(ms % 1000) * 1000;
	job->state = evtimer_new(job->d->base, ping_done_cb, job);
	evtimer_add(job->state, &tv);
}

static void
ping_cancel(struct job *job)
{
	if (job->state != NULL)
		event_free(job->state);
	job->state = NULL;
}

const struct job_kind job_ping_kind = {
	.name = "ping",
	.start = ping_start,
	.cancel = ping_cancel,
};
