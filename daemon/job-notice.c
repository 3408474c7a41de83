/* SPDX-License-Identifier: ISC */
/*
 * notice: sends one notice of rally.notices by email (payload
 * {notice_id}; rally.notice_queue in sql/functions/notices.sql queues it).
 * The notice is marked 'sending' with a Message-ID of its own before the
 * relay is called and 'sent' after; a relay that cannot be reached puts
 * it back to 'queued' and the job is retried with the engine's backoff.
 * A notice found already sent is not sent again.  The one window left is
 * a crash between the relay's acceptance and the 'sent' mark: the notice
 * is then sent twice, with the same Message-ID, so a mail client shows it
 * once.  The address is the user's at sending time, or the notice's own
 * to_address (an invitation); the notice must belong to the job's tenant.
 * A secret body (a reset or invitation link) is replaced as it is marked
 * sent, so the link does not stay in the database; a notice without a user
 * (the account's deletion completed) is deleted, address and all.
 */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobs.h"
#include "log.h"
#include "notice-send.h"
#include "pgloop.h"
#include "rallyd.h"
#include "smtp.h"
#include "util.h"
#include "uuid.h"

/*
 * $1 tenant, $2 notice, $3 the Message-ID's domain.  A notice without a
 * user (an account deletion completed, migration 0040) has its own
 * address; one whose user is gone is not sent.
 */
#define NOTICE_SQL_CLAIM \
	"UPDATE rally.notices n SET status = 'sending', attempts = n.attempts + 1," \
	" message_id = coalesce(n.message_id, '<notice.' || n.id::text || '@' || $3 || '>')" \
	" WHERE n.tenant_id = $1 AND n.id = $2::uuid" \
	" AND n.status IN ('queued', 'sending')" \
	" AND coalesce(n.to_address, (SELECT u.email FROM rally.users u" \
	" WHERE u.tenant_id = n.tenant_id AND u.id = n.user_id)) IS NOT NULL" \
	" RETURNING coalesce(n.to_address, (SELECT u.email FROM rally.users u" \
	" WHERE u.tenant_id = n.tenant_id AND u.id = n.user_id))," \
	" n.subject, n.body_text, n.message_id"

/*
 * A secret body (a single-use link, migration 0033) goes once it is sent;
 * a notice without a user goes whole, since its address is the last trace
 * of a deleted account.
 */
#define NOTICE_SQL_SENT \
	"WITH gone AS (DELETE FROM rally.notices WHERE tenant_id = $1" \
	" AND id = $2::uuid AND status = 'sending' AND user_id IS NULL)" \
	" UPDATE rally.notices SET status = 'sent', sent_at = now(), last_error = NULL," \
	" body_text = CASE WHEN body_secret THEN rally.notice_secret_removed()" \
	" ELSE body_text END" \
	" WHERE tenant_id = $1 AND id = $2::uuid AND status = 'sending'" \
	" AND user_id IS NOT NULL"

/* $3 why. */
#define NOTICE_SQL_AGAIN \
	"UPDATE rally.notices SET status = 'queued', last_error = left($3, 2000)" \
	" WHERE tenant_id = $1 AND id = $2::uuid AND status = 'sending'"

struct notice {
	struct job *job;
	char id[UUID_STR_LEN];
	char *error;		/* why it was not sent, for the retry */
	struct notice_send *send;
};

static void
notice_done(struct notice *n, enum job_outcome o, const char *error)
{
	struct job *job = n->job;

	char *why = n->error;

	job->state = NULL;
	free(n);
	job_finish(job, o, error, NULL);
	free(why);
}

/* After a cancel, the answer of the query in flight only frees the state. */
static bool
detached(struct notice *n)
{
	if (n->job != NULL)
		return false;
	free(n->error);
	free(n);
	return true;
}

static void
marked_cb(const PGresult *res, const char *error, void *arg)
{
	struct notice *n = arg;

	(void)res;
	if (detached(n))
		return;
	if (error != NULL)
		notice_done(n, JOB_RETRY, error);
	else if (n->error != NULL)
		notice_done(n, JOB_RETRY, n->error);
	else
		notice_done(n, JOB_DONE, NULL);
}

static void
sent_cb(int rc, const char *cause, void *arg)
{
	struct notice *n = arg;
	const char *params[3] = { n->job->tenant_id, n->id, NULL };

	n->send = NULL;
	if (rc == 0) {
		log_emit(LOG_INFO, NULL, NULL, "notice %s: sent", n->id);
		pgloop_query(n->job->d->db, NOTICE_SQL_SENT, 2, params, marked_cb, n);
		return;
	}
	n->error = xstrdup(cause != NULL ? cause : "not sent");
	params[2] = n->error;
	pgloop_query(n->job->d->db, NOTICE_SQL_AGAIN, 3, params, marked_cb, n);
}

static void
claim_cb(const PGresult *res, const char *error, void *arg)
{
	struct notice *n = arg;
	const struct conf *c;
	const char *params[3];
	char *cause = NULL, *msg;

	if (detached(n))
		return;
	if (error != NULL) {
		notice_done(n, JOB_RETRY, error);
		return;
	}
	c = &n->job->d->conf;
	params[0] = n->job->tenant_id;
	params[1] = n->id;
	if (PQntuples(res) == 0) {
		notice_done(n, JOB_DONE, NULL);	/* sent already, or gone */
		return;
	}
	msg = smtp_compose(c->smtp_from, PQgetvalue(res, 0, 0),
	    PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2),
	    PQgetvalue(res, 0, 3), &cause);
	if (msg != NULL)
		n->send = notice_send_start(n->job->d, c, PQgetvalue(res, 0, 0),
		    msg, sent_cb, n);
	free(msg);
	if (n->send == NULL) {
		n->error = cause != NULL ? cause : xstrdup("no worker thread");
		params[2] = n->error;
		pgloop_query(n->job->d->db, NOTICE_SQL_AGAIN, 3, params,
		    marked_cb, n);
	}
}

static void
notice_start(struct job *job)
{
	const struct conf *c = &job->d->conf;
	char buf[UUID_STR_LEN], *cause = NULL;
	const char *id = job_payload_uuid(job, "notice_id", buf);
	const char *params[3];
	struct notice *n;

	if (id == NULL) {
		job_finish(job, JOB_FAIL, "payload: notice_id is not a uuid", NULL);
		return;
	}
	if (smtp_conf_check(c, &cause) == -1) {
		/* Kept queued until the operator sets the relay up. */
		job_finish(job, JOB_RETRY, cause, NULL);
		free(cause);
		return;
	}
	n = xcalloc(1, sizeof *n);
	n->job = job;
	snprintf(n->id, sizeof n->id, "%s", id);
	job->state = n;
	params[0] = job->tenant_id;
	params[1] = n->id;
	params[2] = strchr(c->smtp_from, '@') + 1;
	pgloop_query(job->d->db, NOTICE_SQL_CLAIM, 3, params, claim_cb, n);
}

/*
 * At shutdown: a delivery in progress finishes without the job (the
 * notice stays 'sending' and is sent again by the next run); a query in
 * flight frees the state when it answers.
 */
static void
notice_cancel(struct job *job)
{
	struct notice *n = job->state;

	if (n == NULL)
		return;
	job->state = NULL;
	if (n->send == NULL) {
		n->job = NULL;
		return;
	}
	notice_send_detach(n->send);
	free(n->error);
	free(n);
}

const struct job_kind job_notice_kind = {
	.name = "notice",
	.start = notice_start,
	.cancel = notice_cancel,
};
