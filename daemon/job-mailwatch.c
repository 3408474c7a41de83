/* SPDX-License-Identifier: ISC */
/*
 * mailwatch: asks Gmail (users.watch) to publish the connection's mailbox
 * changes to the Pub/Sub topic mail.pubsub_topic, whose push subscription
 * reaches rally.cgi's /hooks/google/gmail/<secret>; the hook queues a
 * mailsync.  Gmail lets a watch lapse after 7 days: the scheduler renews
 * it daily (rally.mail_queue_periodic), and polling (mail.poll_interval)
 * stays as the fallback, since pushes can be late or lost.  A repeated
 * watch replaces the previous one, so a renewal needs no stop.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "google.h"
#include "jobs.h"
#include "json.h"
#include "pgloop.h"
#include "rallyd.h"
#include "util.h"
#include "uuid.h"

/* Gmail's expiration is epoch milliseconds, as a string (or a number). */
#define MAILWATCH_SQL_RECORD \
	"UPDATE rally.sync_state SET channel_expires_at =" \
	"  to_timestamp($3::numeric / 1000), updated_at = now()" \
	" WHERE tenant_id = $1 AND connection_id = $2 AND resource = 'mail'"

struct mailwatch {
	struct job *job;	/* NULL once cancelled */
	bool recording;		/* the query frees it when it answers */
};

static void
mailwatch_end(struct mailwatch *w, enum job_outcome o, const char *error)
{
	struct job *job = w->job;

	free(w);
	job->state = NULL;
	job_finish(job, o, error, NULL);
}

static void
recorded_cb(const PGresult *res, const char *error, void *arg)
{
	struct mailwatch *w = arg;

	if (w->job == NULL) {
		free(w);
		return;
	}
	mailwatch_end(w, error != NULL ? JOB_RETRY : JOB_DONE, error);
}

static void
watched_cb(const struct gresp *g, void *arg)
{
	struct mailwatch *w = arg;
	struct job *job = w->job;
	json_object *r;
	const char *p[3];
	char exp[32], *msg;
	int64_t ms;

	if (g->err == GERR_REVOKED || g->err == GERR_NOT_CONNECTED) {
		mailwatch_end(w, JOB_DONE, NULL);
		return;
	}
	if (g->err != GERR_OK) {
		msg = xasprintf("%s: %s", gerr_kind(g->err), g->message);
		job_defer(job, g->retry_after_ms);
		mailwatch_end(w, JOB_RETRY, msg);
		free(msg);
		return;
	}
	r = json_parse_limited(g->body, g->body_len, 65536, 8, NULL);
	if (json_get_int64(r, "expiration", &ms) == -1) {
		const char *s = json_get_string(r, "expiration");

		if (s == NULL || parse_int64(s, 0, INT64_MAX, &ms) == -1)
			ms = -1;
	}
	json_object_put(r);
	if (ms < 0) {
		mailwatch_end(w, JOB_RETRY, "malformed: watch answer lacks expiration");
		return;
	}
	snprintf(exp, sizeof exp, "%lld", (long long)ms);
	p[0] = job->tenant_id;
	p[1] = job->connection_id;
	p[2] = exp;
	w->recording = true;
	pgloop_query(job->d->db, MAILWATCH_SQL_RECORD, 3, p, recorded_cb, w);
}

static void
mailwatch_start(struct job *job)
{
	const struct conf *c = &job->d->conf;
	char buf[UUID_STR_LEN];
	const char *conn = job_payload_uuid(job, "connection_id", buf);
	struct mailwatch *w;
	json_object *body;
	char *url;

	if (c->mail_pubsub_topic[0] == '\0') {
		job_finish(job, JOB_DONE, NULL, NULL);	/* polling only */
		return;
	}
	if (conn == NULL) {
		job_finish(job, JOB_FAIL, "payload: connection_id is not a uuid",
		    NULL);
		return;
	}
	job_set_connection(job, conn);
	w = xcalloc(1, sizeof *w);
	w->job = job;
	job->state = w;
	body = json_object_new_object();
	json_object_object_add(body, "topicName",
	    json_object_new_string(c->mail_pubsub_topic));
	url = xasprintf("%s/users/me/watch", c->google_gmail_url);
	google_call(job->d, job->tenant_id, job->connection_id, "POST", url, body,
	    NULL, watched_cb, w);
	json_object_put(body);
	free(url);
}

/* At shutdown: the call is dropped; the next tick queues the watch again. */
static void
mailwatch_cancel(struct job *job)
{
	struct mailwatch *w = job->state;

	if (w == NULL)
		return;
	job->state = NULL;
	w->job = NULL;
	if (!w->recording) {
		google_cancel(job->d, w);
		free(w);
	}
}

const struct job_kind job_mailwatch_kind = {
	.name = "mailwatch",
	.start = mailwatch_start,
	.cancel = mailwatch_cancel,
};
