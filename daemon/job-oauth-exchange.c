/* SPDX-License-Identifier: ISC */
/*
 * oauth-exchange: the daemon's half of "Connect Google" in rally.cgi
 * (docs/cgi.md, "Connecting Google").  The CGI holds no client secret and
 * never calls Google: rally.web_oauth_callback stored Google's code in the
 * user's rally.oauth_pending attempt and queued this job, payload
 * {pending_id}.  Here the code is exchanged (with the attempt's PKCE
 * verifier), userinfo says which Google account it is, and the connection
 * is stored with its tokens sealed and its first syncs queued, the attempt
 * marked connected in the same transaction (lib/google/connection-store,
 * on a worker thread: daemon/oauth-store.c).  rallyctl google connect does
 * the same steps for operators, synchronously.
 *
 * The payload only names a row: rally.oauth_exchange_load reads it in the
 * job's own tenant and gives it only with a code, no outcome, unexpired,
 * of an active user in an active workspace; otherwise the job ends having
 * done nothing.  Everything that is checked before the code is spent is
 * checked first (the keyring, the client secret, the redirect URI, tokens
 * of the user still waiting for revocation, which would end the new grant
 * too): a code is single use.
 *
 * How it ends, for the page that polls (rally.web_oauth_status): connected,
 * or failed with a detail in the user's words, never Google's raw answer
 * nor a token.  Google unreachable (5xx, 429, network) during the exchange
 * retries the job with the engine's backoff, the code kept; after the last
 * attempt the attempt fails with "Google could not be reached".  Once
 * Google has answered the exchange, the code leaves the row.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "google.h"
#include "google/connection-store.h"
#include "google/oauth.h"
#include "http.h"
#include "jobs.h"
#include "log.h"
#include "oauth-store.h"
#include "pgloop.h"
#include "rallyd.h"
#include "util.h"
#include "uuid.h"

/* How long to wait for earlier tokens of the user to be revoked. */
#define EXCHANGE_REVOCATION_WAIT_MS 15000

#define OAUTH_EXCHANGE_SQL_LOAD \
	"SELECT user_id::text, code, pkce_verifier, redirect_uri," \
	" want_calendar, want_mail, revocation_pending" \
	" FROM rally.oauth_exchange_load($1::uuid, $2::uuid)"
#define OAUTH_EXCHANGE_SQL_USED \
	"SELECT rally.oauth_exchange_used($1::uuid, $2::uuid)"
/* $3 the detail, in the user's words. */
#define OAUTH_EXCHANGE_SQL_FAIL \
	"SELECT rally.oauth_exchange_fail($1::uuid, $2::uuid, $3)"

/* What the user reads when it failed. */
#define DETAIL_UNREACHABLE "Google could not be reached. Please try again."
#define DETAIL_EXPIRED "The sign-in took too long, or its code was " \
	"already used. Please connect again."
#define DETAIL_NOT_SET_UP "Rally is not set up to connect Google " \
	"accounts yet. Please tell your administrator."
#define DETAIL_REFUSED "Google refused the sign-in. Please try again."
#define DETAIL_NO_REFRESH "Google did not give Rally lasting access: " \
	"this Google account allowed Rally before. Remove Rally's access at " \
	"https://myaccount.google.com/permissions and connect again."
#define DETAIL_WHO "Google did not say which account this is. Please " \
	"try again."
#define DETAIL_NOT_GRANTED "Google did not grant the Calendar or Gmail " \
	"access Rally asked for, so nothing was connected. Please connect " \
	"again and allow access on Google's page."
#define DETAIL_NOT_STORED "Rally could not save the connection. Please " \
	"try again."
#define DETAIL_REVOKING "Rally is still removing an earlier connection " \
	"of your Google account. Please try again in a few minutes."

struct exchange {
	struct job *job;		/* NULL once cancelled */
	struct rallyd *d;
	char tenant_id[UUID_STR_LEN], pending_id[UUID_STR_LEN];
	struct log_ctx log;
	char *user_id;
	char *code, *verifier;		/* wiped */
	bool want_calendar, want_mail;
	struct oauth_client client;
	char *secret;			/* wiped */
	struct oauth_tokens tok;	/* wiped */
	char *sub, *google_email;
	struct google_connection_in in;	/* what the store borrows */
	struct http_request *req;	/* in flight, for a cancel */
	struct oauth_store *store;	/* in flight, for a cancel */
	/* How the job ends once the attempt's failure is recorded. */
	enum job_outcome end;
	char *end_error;		/* for JOB_RETRY */
	char *reason;			/* the result's "reason" */
};

static void send_userinfo(struct exchange *);

static void
wipe(char **s)
{
	if (*s != NULL)
		secure_free(*s, strlen(*s));
	*s = NULL;
}

static void
exchange_free(struct exchange *x)
{
	free(x->user_id);
	wipe(&x->code);
	wipe(&x->verifier);
	wipe(&x->secret);
	oauth_tokens_clear(&x->tok);
	free(x->sub);
	free(x->google_email);
	free(x->end_error);
	free(x->reason);
	free(x);
}

/* After a cancel, the answer of a query in flight only frees the state. */
static bool
detached(struct exchange *x)
{
	if (x->job != NULL)
		return false;
	exchange_free(x);
	return true;
}

static void
finish(struct exchange *x, enum job_outcome outcome, const char *error,
    json_object *result)
{
	struct job *job = x->job;
	char *why = error != NULL ? xstrdup(error) : NULL;

	/* error may be the state's own (end_error). */
	job->state = NULL;
	exchange_free(x);
	job_finish(job, outcome, why, result);
	free(why);
}

static json_object *
result_new(const char *outcome, const char *reason)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "outcome", json_object_new_string(outcome));
	if (reason != NULL)
		json_object_object_add(o, "reason",
		    json_object_new_string(reason));
	return o;
}

static void
fail_cb(const PGresult *res, const char *error, void *arg)
{
	struct exchange *x = arg;

	(void)res;
	if (detached(x))
		return;
	if (error != NULL) {
		finish(x, JOB_RETRY, error, NULL);
		return;
	}
	if (x->end == JOB_DONE)
		finish(x, JOB_DONE, NULL, result_new("failed", x->reason));
	else
		finish(x, x->end, x->end_error, NULL);
}

/* Ends the attempt as failed (detail for the user), then the job. */
static void
fail_attempt(struct exchange *x, const char *reason, const char *detail)
{
	const char *params[3] = { x->tenant_id, x->pending_id, detail };

	log_emit(LOG_INFO, NULL, &x->log, "oauth-exchange: attempt %s "
	    "failed: %s", x->pending_id, reason);
	free(x->reason);
	x->reason = xstrdup(reason);
	pgloop_query(x->d->db, OAUTH_EXCHANGE_SQL_FAIL, 3, params, fail_cb, x);
}

/*
 * Something that may pass (Google unreachable, no keyring yet): the job
 * tries again, the code kept, but the last attempt fails the attempt.
 */
static void
retry_or_fail(struct exchange *x, const char *why, const char *detail)
{
	if (x->job->attempt < x->job->max_attempts) {
		finish(x, JOB_RETRY, why, NULL);
		return;
	}
	x->end = JOB_RETRY;	/* the engine makes it JOB_FAIL */
	x->end_error = xstrdup(why);
	fail_attempt(x, why, detail);
}

/* ---- storing ---- */

static void
stored_cb(const struct oauth_store_result *r, void *arg)
{
	struct exchange *x = arg;
	json_object *result;

	x->store = NULL;
	switch (r->rc) {
	case GOOGLE_STORE_OK:
		log_emit(LOG_INFO, NULL, &x->log, "oauth-exchange: attempt %s "
		    "stored connection %s (calendar %s, mail %s)",
		    x->pending_id, r->out.connection_id,
		    r->out.calendar ? "on" : "off", r->out.mail ? "on" : "off");
		/* A connection connected again: the next call loads its new tokens. */
		google_forget(x->d, x->tenant_id, r->out.connection_id);
		result = result_new("connected", NULL);
		json_object_object_add(result, "connection_id",
		    json_object_new_string(r->out.connection_id));
		finish(x, JOB_DONE, NULL, result);
		return;
	case GOOGLE_STORE_NOT_GRANTED:
		fail_attempt(x, "scopes not granted", DETAIL_NOT_GRANTED);
		return;
	case GOOGLE_STORE_FAILED:
		break;
	}
	/* The code is spent: another attempt could only fail at Google. */
	log_emit(LOG_ERR, NULL, &x->log, "oauth-exchange: attempt %s: cannot "
	    "store the connection: %s", x->pending_id, r->cause);
	fail_attempt(x, "not stored", DETAIL_NOT_STORED);
}

static void
store(struct exchange *x)
{
	x->in = (struct google_connection_in){
		.tenant_id = x->tenant_id,
		.user_id = x->user_id,
		.google_email = x->google_email,
		.google_subject = x->sub,
		.want_calendar = x->want_calendar,
		.want_mail = x->want_mail,
		.tokens = &x->tok,
		.pending_id = x->pending_id,
	};
	if ((x->store = oauth_store_start(x->d, &x->in, stored_cb, x)) == NULL) {
		log_emit(LOG_ERR, NULL, &x->log, "oauth-exchange: attempt %s: "
		    "no worker thread to store the connection", x->pending_id);
		fail_attempt(x, "no worker thread", DETAIL_NOT_STORED);
	}
}

/* ---- who the account is ---- */

static void
userinfo_cb(const struct http_response *hr, void *arg)
{
	struct exchange *x = arg;
	enum oauth_result rc;
	char *cause = NULL;

	x->req = NULL;
	if (detached(x))
		return;
	rc = oauth_parse_userinfo(hr, &x->sub, &x->google_email, &cause);
	if (rc == OAUTH_OK) {
		store(x);
		return;
	}
	log_emit(LOG_WARNING, NULL, &x->log, "oauth-exchange: attempt %s: "
	    "userinfo: %s", x->pending_id, cause);
	free(cause);
	/* lib/http retried what was transient; the code is spent already. */
	fail_attempt(x, rc == OAUTH_TRANSIENT ? "userinfo unreachable" :
	    "userinfo unusable", rc == OAUTH_TRANSIENT ? DETAIL_UNREACHABLE :
	    DETAIL_WHO);
}

static void
used_cb(const PGresult *res, const char *error, void *arg)
{
	struct exchange *x = arg;

	(void)res;
	if (detached(x))
		return;
	/* Not fatal: the outcome, written later, wipes the code too. */
	if (error != NULL)
		log_emit(LOG_WARNING, NULL, &x->log, "oauth-exchange: attempt "
		    "%s: cannot wipe the used code yet: %s", x->pending_id, error);
	send_userinfo(x);
}

static void
send_userinfo(struct exchange *x)
{
	x->req = oauth_userinfo_request(&x->client, x->tok.access_token);
	if (http_submit(x->d->http, x->req, userinfo_cb, x) == -1) {
		x->req = NULL;
		fail_attempt(x, "google.userinfo_url unusable", DETAIL_NOT_SET_UP);
	}
}

/* ---- the exchange ---- */

/* Google's final answer to the code: anything but OK ends the attempt. */
static void
exchange_refused(struct exchange *x, enum oauth_result rc, const char *cause)
{
	switch (rc) {
	case OAUTH_INVALID_GRANT:
		fail_attempt(x, "invalid_grant", DETAIL_EXPIRED);
		break;
	case OAUTH_INVALID_CLIENT:
		log_emit(LOG_ERR, NULL, &x->log, "oauth-exchange: Google "
		    "refused the OAuth client (%s): check google.client_id and "
		    "the client secret", cause);
		fail_attempt(x, "invalid_client", DETAIL_NOT_SET_UP);
		break;
	default:
		log_emit(LOG_WARNING, NULL, &x->log, "oauth-exchange: attempt "
		    "%s: Google refused the code: %s", x->pending_id, cause);
		fail_attempt(x, "refused", DETAIL_REFUSED);
		break;
	}
}

static void
exchange_cb(const struct http_response *hr, void *arg)
{
	struct exchange *x = arg;
	const char *params[2] = { x->tenant_id, x->pending_id };
	enum oauth_result rc;
	char *cause = NULL;

	x->req = NULL;
	if (detached(x))
		return;
	rc = oauth_parse_token_response(hr, &x->tok, &cause);
	if (rc == OAUTH_TRANSIENT) {
		if (hr->retry_after_ms > 0)
			job_defer(x->job, hr->retry_after_ms);
		retry_or_fail(x, cause, DETAIL_UNREACHABLE);
		free(cause);
		return;
	}
	if (rc != OAUTH_OK)
		exchange_refused(x, rc, cause);
	else if (x->tok.refresh_token == NULL)
		fail_attempt(x, "no refresh token", DETAIL_NO_REFRESH);
	else
		pgloop_query(x->d->db, OAUTH_EXCHANGE_SQL_USED, 2, params,
		    used_cb, x);
	free(cause);
}

static void
send_exchange(struct exchange *x)
{
	x->req = oauth_exchange_request(&x->client, x->code, x->verifier);
	wipe(&x->code);
	wipe(&x->verifier);
	if (http_submit(x->d->http, x->req, exchange_cb, x) == -1) {
		x->req = NULL;
		fail_attempt(x, "google.token_url unusable", DETAIL_NOT_SET_UP);
	}
}

/* ---- before the code is spent ---- */

/* Whether everything the exchange and the store need is there. */
static bool
ready(struct exchange *x, const char *redirect_uri)
{
	const char *conf_uri = x->d->conf.google_redirect_uri;
	char *cause = NULL;

	if (conf_uri == NULL || strcmp(conf_uri, redirect_uri) != 0) {
		log_emit(LOG_ERR, NULL, &x->log, "oauth-exchange: attempt %s "
		    "was started for a redirect URI other than google."
		    "redirect_uri: rally.cgi and rallyd must use the same one",
		    x->pending_id);
		fail_attempt(x, "redirect_uri mismatch", DETAIL_NOT_SET_UP);
		return false;
	}
	if (x->d->keyring == NULL) {
		retry_or_fail(x, "no keyring", DETAIL_NOT_SET_UP);
		return false;
	}
	if (oauth_client_from_conf(&x->d->conf, &x->client, &x->secret,
	    &cause) == -1) {
		log_emit(LOG_ERR, NULL, &x->log, "oauth-exchange: %s", cause);
		retry_or_fail(x, "no OAuth client", DETAIL_NOT_SET_UP);
		free(cause);
		return false;
	}
	return true;
}

static void
load_cb(const PGresult *res, const char *error, void *arg)
{
	struct exchange *x = arg;

	if (detached(x))
		return;
	if (error != NULL) {
		finish(x, JOB_RETRY, error, NULL);
		return;
	}
	if (PQntuples(res) != 1) {
		/* Not this tenant's, already ended, expired, or no code. */
		finish(x, JOB_DONE, NULL, result_new("none", NULL));
		return;
	}
	x->user_id = xstrdup(PQgetvalue(res, 0, 0));
	x->code = xstrdup(PQgetvalue(res, 0, 1));
	x->verifier = xstrdup(PQgetvalue(res, 0, 2));
	x->want_calendar = strcmp(PQgetvalue(res, 0, 4), "t") == 0;
	x->want_mail = strcmp(PQgetvalue(res, 0, 5), "t") == 0;
	if (strcmp(PQgetvalue(res, 0, 6), "t") == 0) {
		job_defer(x->job, EXCHANGE_REVOCATION_WAIT_MS);
		retry_or_fail(x, "earlier tokens of the user wait for "
		    "revocation", DETAIL_REVOKING);
		return;
	}
	if (ready(x, PQgetvalue(res, 0, 3)))
		send_exchange(x);
}

static void
exchange_start(struct job *job)
{
	char buf[UUID_STR_LEN];
	const char *pending = job_payload_uuid(job, "pending_id", buf);
	const char *params[2];
	struct exchange *x;

	if (pending == NULL) {
		job_finish(job, JOB_FAIL, "payload: pending_id is not a uuid",
		    NULL);
		return;
	}
	x = xcalloc(1, sizeof *x);
	x->job = job;
	x->d = job->d;
	x->end = JOB_DONE;
	snprintf(x->tenant_id, sizeof x->tenant_id, "%s", job->tenant_id);
	snprintf(x->pending_id, sizeof x->pending_id, "%s", pending);
	x->log.tenant = x->tenant_id;
	x->log.job = job->id;
	job->state = x;
	params[0] = x->tenant_id;
	params[1] = x->pending_id;
	pgloop_query(x->d->db, OAUTH_EXCHANGE_SQL_LOAD, 2, params, load_cb, x);
}

/*
 * At shutdown.  A request is stopped (its callback, with the job gone,
 * frees the state); a store is waited for, and the lease released: the
 * next run finds the attempt ended.  A query's answer frees the state.
 */
static void
exchange_cancel(struct job *job)
{
	struct exchange *x = job->state;

	if (x == NULL)
		return;
	job->state = NULL;
	x->job = NULL;
	x->log.job = NULL;
	if (x->store != NULL) {
		oauth_store_cancel(x->store);
		exchange_free(x);
		return;
	}
	if (x->req != NULL)
		http_cancel(x->d->http, x->req);
}

const struct job_kind job_oauth_exchange_kind = {
	.name = "oauth-exchange",
	.start = exchange_start,
	.cancel = exchange_cancel,
};
