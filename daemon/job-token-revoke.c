/* SPDX-License-Identifier: ISC */
/*
 * token-revoke: the last step of a disconnect (docs/architecture.md).  The
 * release_tokens trigger moved a connection's sealed tokens to
 * rally.token_revocations and queued this job (payload {connection_id});
 * here each such row is opened, revoked at Google (the refresh token when
 * there is one: that revokes its access tokens too) and deleted, whatever
 * Google answers.
 *
 * Only a transient failure (Google unreachable, 5xx, 429, no keyring or no
 * client secret yet) keeps a row: its attempts and last_error are recorded
 * and a new token-revoke job is queued for the connection, due after a
 * backoff but never later than REVOKE_DEADLINE_SEC after the row was
 * queued.  Past that the row is deleted anyway, with a warning: a token
 * copy Rally promised to delete does not outlive the promise because Google
 * is down.  (The job queues its own next run rather than returning
 * JOB_RETRY because the engine's backoff and max_attempts know nothing of
 * that deadline.)  The associated data that opens a row's tokens is built
 * from the row's own ids, never from the payload.  A key id missing from
 * this instance's keyring (rotated on another host) is transient too, and
 * critical: another instance, or this one after a reload, may have the key.
 * A row whose tokens do not open with the key they name is deleted with a
 * warning: no retry can open it.
 *
 * Before the grant is revoked, the push channels the row names (the
 * calendar channel and the Gmail watch open when the tokens left the
 * connection) are stopped with the same tokens (daemon/revoke-stop.c): a
 * revoked grant can no longer stop them.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "google.h"
#include "google/oauth.h"
#include "http.h"
#include "jobs.h"
#include "log.h"
#include "msgid.h"
#include "pgloop.h"
#include "rallyd.h"
#include "revoke-stop.h"
#include "token-seal.h"
#include "util.h"
#include "uuid.h"

#define REVOKE_DEADLINE_SEC 600
#define REVOKE_BACKOFF_BASE_SEC 5
#define REVOKE_BACKOFF_MAX_SEC 120
#define REVOKE_PAGE "100"
#define REVOKE_ID_MAX 64

/* $1 tenant, $2 connection, $3 the last id seen. */
#define TOKEN_REVOKE_SQL_ROWS \
	"SELECT id, refresh_token, access_token," \
	" extract(epoch FROM now() - queued_at)::float8, attempts," \
	" tenant_id::text, connection_id::text," \
	" coalesce(access_token_expires_at > now() + interval '60 seconds', false)," \
	" calendar_channel_id, calendar_channel_resource_id, gmail_watch" \
	" FROM rally.token_revocations" \
	" WHERE tenant_id = $1 AND connection_id = $2 AND id > $3::bigint" \
	" ORDER BY id LIMIT " REVOKE_PAGE

#define TOKEN_REVOKE_SQL_DELETE \
	"DELETE FROM rally.token_revocations WHERE tenant_id = $1 AND id = $2"

/* $3 the error. */
#define TOKEN_REVOKE_SQL_KEEP \
	"UPDATE rally.token_revocations SET attempts = attempts + 1," \
	" last_attempt_at = now(), last_error = $3" \
	" WHERE tenant_id = $1 AND id = $2"

/* $3 seconds until the next run.  A pending twin is brought forward. */
#define TOKEN_REVOKE_SQL_REQUEUE \
	"SELECT rally.job_enqueue($1, 'token-revoke', $2::uuid::text," \
	"  jsonb_build_object('connection_id', $2::uuid)," \
	"  now() + make_interval(secs => $3::float8))"

struct row {
	char id[REVOKE_ID_MAX];
	char tenant_id[UUID_STR_LEN], connection_id[UUID_STR_LEN];
	char *refresh, *access;		/* bytea text, or NULL */
	double age;			/* seconds since queued, when read */
	uint64_t read_at;		/* monotonic usec */
	int attempts;
	bool access_usable;		/* not expiring within a minute */
	char *channel_id, *resource_id;	/* the calendar channel, or NULL */
	bool gmail_watch;
};

struct revoke {
	struct job *job;		/* NULL once cancelled */
	struct rallyd *d;
	char *tenant_id, *connection_id;
	struct log_ctx log;
	PGresult *page;
	int next_row;
	char last_id[REVOKE_ID_MAX];
	struct row row;
	char *token;			/* the opened token being revoked */
	size_t token_len;
	bool token_is_refresh;
	struct revoke_stop *stop;	/* channels being stopped first */
	struct http_request *req;
	int revoked, dropped, kept;
	int max_attempts_kept;		/* of the rows kept, the most tried */
	double oldest_kept;		/* age of the oldest row kept */
};

static void next_row(struct revoke *);
static void read_page(struct revoke *);
static void row_send_revoke(struct revoke *);

static void
row_clear(struct row *r)
{
	free(r->refresh);
	free(r->access);
	free(r->channel_id);
	free(r->resource_id);
	memset(r, 0, sizeof *r);
}

static void
revoke_free(struct revoke *rv)
{
	row_clear(&rv->row);
	if (rv->token != NULL)
		secure_free(rv->token, rv->token_len);
	PQclear(rv->page);
	free(rv->tenant_id);
	free(rv->connection_id);
	free(rv);
}

/* After a cancel, the answer of what was in flight only frees the state. */
static bool
detached(struct revoke *rv)
{
	if (rv->job != NULL)
		return false;
	revoke_free(rv);
	return true;
}

static void
finish(struct revoke *rv, enum job_outcome outcome, const char *error)
{
	struct job *job = rv->job;
	json_object *result = NULL;

	if (outcome == JOB_DONE) {
		result = json_object_new_object();
		json_object_object_add(result, "revoked",
		    json_object_new_int(rv->revoked));
		json_object_object_add(result, "deleted_unrevoked",
		    json_object_new_int(rv->dropped));
		json_object_object_add(result, "kept", json_object_new_int(rv->kept));
	}
	job->state = NULL;
	revoke_free(rv);
	job_finish(job, outcome, error, result);
}

static double
row_age(const struct row *r)
{
	return r->age + (double)(now_usec() - r->read_at) / 1e6;
}

static void
row_done_cb(const PGresult *res, const char *error, void *arg)
{
	struct revoke *rv = arg;

	if (detached(rv))
		return;
	if (error != NULL) {
		finish(rv, JOB_RETRY, error);
		return;
	}
	next_row(rv);
}

static void
row_delete(struct revoke *rv)
{
	const char *params[] = { rv->tenant_id, rv->row.id };

	pgloop_query(rv->d->db, TOKEN_REVOKE_SQL_DELETE, 2, params, row_done_cb, rv);
}

/* Google could not be asked (or did not answer): keep the row, or not. */
static void
row_transient(struct revoke *rv, const char *why)
{
	char *msg = google_sanitize(why);
	const char *params[] = { rv->tenant_id, rv->row.id, msg };
	double age = row_age(&rv->row);

	if (age >= REVOKE_DEADLINE_SEC) {
		log_emit(LOG_WARNING, NULL, &rv->log, "token-revoke: could not "
		    "revoke the tokens of entry %s at Google within %d s (%s): "
		    "deleted them unrevoked", rv->row.id, REVOKE_DEADLINE_SEC,
		    msg);
		rv->dropped++;
		free(msg);
		row_delete(rv);
		return;
	}
	log_emit(LOG_INFO, NULL, &rv->log, "token-revoke: entry %s kept for "
	    "another attempt: %s", rv->row.id, msg);
	rv->kept++;
	if (rv->row.attempts + 1 > rv->max_attempts_kept)
		rv->max_attempts_kept = rv->row.attempts + 1;
	if (age > rv->oldest_kept)
		rv->oldest_kept = age;
	pgloop_query(rv->d->db, TOKEN_REVOKE_SQL_KEEP, 3, params, row_done_cb, rv);
	free(msg);
}

static void
revoke_cb(const struct http_response *hr, void *arg)
{
	struct revoke *rv = arg;
	char *cause = NULL;
	enum oauth_result rc;

	rv->req = NULL;
	secure_free(rv->token, rv->token_len);
	rv->token = NULL;
	if (detached(rv))
		return;
	rc = oauth_parse_revoke_response(hr, &cause);
	switch (rc) {
	case OAUTH_OK:
		log_emit(LOG_INFO, NULL, &rv->log, "token-revoke: entry %s "
		    "revoked at Google", rv->row.id);
		rv->revoked++;
		row_delete(rv);
		break;
	case OAUTH_TRANSIENT:
		row_transient(rv, cause != NULL ? cause : "Google unavailable");
		break;
	default:
		/* Whatever Google says, the copy goes. */
		log_emit(LOG_WARNING, NULL, &rv->log, "token-revoke: Google "
		    "refused to revoke entry %s (%s): deleted it anyway",
		    rv->row.id, cause != NULL ? cause : "no reason given");
		rv->dropped++;
		row_delete(rv);
		break;
	}
	free(cause);
}

/* Opens the refresh token, else the access token; -1 when neither opens. */
static int
open_token(struct revoke *rv, char **cause)
{
	const struct keyring *kr = rv->d->keyring;
	const struct row *r = &rv->row;
	char *why = NULL;

	rv->token_is_refresh = true;
	if (r->refresh != NULL && token_open(kr, r->tenant_id,
	    r->connection_id, "refresh_token", r->refresh, &rv->token,
	    &rv->token_len, &why) == 0)
		return 0;
	rv->token_is_refresh = false;
	if (r->access != NULL && token_open(kr, r->tenant_id,
	    r->connection_id, "access_token", r->access, &rv->token,
	    &rv->token_len, why == NULL ? &why : NULL) == 0) {
		if (why != NULL)
			log_emit(LOG_WARNING, NULL, &rv->log, "token-revoke: "
			    "entry %s: the refresh token does not open (%s); "
			    "revoking the access token alone", rv->row.id, why);
		free(why);
		return 0;
	}
	*cause = why != NULL ? why : xstrdup("no token");
	return -1;
}

static void
stops_done_cb(int stopped, void *arg)
{
	struct revoke *rv = arg;

	(void)stopped;
	rv->stop = NULL;
	row_send_revoke(rv);
}

/* The access token to stop channels with: opened only when still usable. */
static char *
usable_access(struct revoke *rv, size_t *len)
{
	const struct row *r = &rv->row;
	char *token = NULL;

	if (!r->access_usable || r->access == NULL)
		return NULL;
	if (!rv->token_is_refresh) {
		*len = rv->token_len;
		return rv->token;
	}
	if (token_open(rv->d->keyring, r->tenant_id, r->connection_id,
	    "access_token", r->access, &token, len, NULL) == -1)
		return NULL;
	return token;
}

static void
row_stop_channels(struct revoke *rv)
{
	struct revoke_stop_req req;
	size_t access_len = 0;
	char *access = usable_access(rv, &access_len);

	memset(&req, 0, sizeof req);
	req.access_token = access;
	req.refresh_token = rv->token_is_refresh ? rv->token : NULL;
	req.calendar_channel_id = rv->row.channel_id;
	req.calendar_resource_id = rv->row.resource_id;
	req.gmail_watch = rv->row.gmail_watch;
	rv->stop = revoke_stop_start(rv->d, &req, &rv->log, stops_done_cb, rv);
	if (access != NULL && access != rv->token)
		secure_free(access, access_len);
	if (rv->stop == NULL)
		row_send_revoke(rv);
}

static void
row_revoke(struct revoke *rv)
{
	char *cause = NULL;

	if (rv->d->keyring == NULL) {
		row_transient(rv, "no keyring");
		return;
	}
	/*
	 * Whichever token opens revokes the grant (an access token resealed
	 * after a rotation elsewhere must not stop the refresh token here).
	 * Only when none opens and a key is missing is the row kept.
	 */
	if (open_token(rv, &cause) == -1 &&
	    (token_key_missing(rv->d->keyring, rv->row.refresh) ||
	    token_key_missing(rv->d->keyring, rv->row.access))) {
		log_emit(LOG_CRIT, MSGID_KEY_MISSING, &rv->log, "token-revoke: "
		    "entry %s was sealed with a key this instance's keyring "
		    "does not have (was it rotated on another host?): kept for "
		    "another attempt, until the revocation deadline", rv->row.id);
		free(cause);
		row_transient(rv, "sealed with a key not in the keyring");
		return;
	}
	if (cause != NULL) {
		log_emit(LOG_WARNING, NULL, &rv->log, "token-revoke: entry %s "
		    "does not open (%s): deleted it unrevoked", rv->row.id,
		    cause);
		free(cause);
		rv->dropped++;
		row_delete(rv);
		return;
	}
	row_stop_channels(rv);
}

static void
row_send_revoke(struct revoke *rv)
{
	struct oauth_client client;
	char *secret = NULL, *cause = NULL;
	int rc;

	if (oauth_client_from_conf(&rv->d->conf, &client, &secret,
	    &cause) == -1) {
		secure_free(rv->token, rv->token_len);
		rv->token = NULL;
		row_transient(rv, cause);
		free(cause);
		return;
	}
	rv->req = oauth_revoke_request(&client, rv->token);
	secure_free(secret, strlen(secret));
	rc = http_submit(rv->d->http, rv->req, revoke_cb, rv);
	if (rc == -1) {
		rv->req = NULL;
		secure_free(rv->token, rv->token_len);
		rv->token = NULL;
		row_transient(rv, "the revoke request was refused "
		    "(google.revoke_url)");
	}
}

static void
take_row(struct revoke *rv, const PGresult *res, int i)
{
	struct row *r = &rv->row;

	row_clear(r);
	snprintf(r->id, sizeof r->id, "%s", PQgetvalue(res, i, 0));
	snprintf(rv->last_id, sizeof rv->last_id, "%s", r->id);
	if (!PQgetisnull(res, i, 1))
		r->refresh = xstrdup(PQgetvalue(res, i, 1));
	if (!PQgetisnull(res, i, 2))
		r->access = xstrdup(PQgetvalue(res, i, 2));
	r->age = atof(PQgetvalue(res, i, 3));
	r->read_at = now_usec();
	r->attempts = atoi(PQgetvalue(res, i, 4));
	snprintf(r->tenant_id, sizeof r->tenant_id, "%s", PQgetvalue(res, i, 5));
	snprintf(r->connection_id, sizeof r->connection_id, "%s",
	    PQgetvalue(res, i, 6));
	r->access_usable = strcmp(PQgetvalue(res, i, 7), "t") == 0;
	if (!PQgetisnull(res, i, 8) && !PQgetisnull(res, i, 9)) {
		r->channel_id = xstrdup(PQgetvalue(res, i, 8));
		r->resource_id = xstrdup(PQgetvalue(res, i, 9));
	}
	r->gmail_watch = strcmp(PQgetvalue(res, i, 10), "t") == 0;
}

/* When to try the rows kept again: backoff, but by the deadline. */
static double
requeue_delay(const struct revoke *rv)
{
	double d = REVOKE_BACKOFF_BASE_SEC;
	double left = REVOKE_DEADLINE_SEC - rv->oldest_kept + 1;

	for (int i = 1; i < rv->max_attempts_kept && d < REVOKE_BACKOFF_MAX_SEC;
	    i++)
		d *= 2;
	if (d > REVOKE_BACKOFF_MAX_SEC)
		d = REVOKE_BACKOFF_MAX_SEC;
	if (d > left)
		d = left;
	return d < 1 ? 1 : d;
}

static void
requeue_cb(const PGresult *res, const char *error, void *arg)
{
	struct revoke *rv = arg;

	if (detached(rv))
		return;
	if (error != NULL) {
		finish(rv, JOB_RETRY, error);
		return;
	}
	finish(rv, JOB_DONE, NULL);
}

static void
all_rows_done(struct revoke *rv)
{
	char delay[32];
	const char *params[] = { rv->tenant_id, rv->connection_id, delay };

	if (rv->kept == 0) {
		finish(rv, JOB_DONE, NULL);
		return;
	}
	snprintf(delay, sizeof delay, "%.0f", requeue_delay(rv));
	log_emit(LOG_NOTICE, NULL, &rv->log, "token-revoke: %d entr%s not "
	    "revoked yet, next attempt in %s s", rv->kept,
	    rv->kept == 1 ? "y" : "ies", delay);
	pgloop_query(rv->d->db, TOKEN_REVOKE_SQL_REQUEUE, 3, params, requeue_cb, rv);
}

static void
next_row(struct revoke *rv)
{
	if (rv->page == NULL || rv->next_row >= PQntuples(rv->page)) {
		bool full = rv->page != NULL &&
		    PQntuples(rv->page) == atoi(REVOKE_PAGE);

		PQclear(rv->page);
		rv->page = NULL;
		if (full)
			read_page(rv);
		else
			all_rows_done(rv);
		return;
	}
	take_row(rv, rv->page, rv->next_row++);
	row_revoke(rv);
}

static void
page_cb(const PGresult *res, const char *error, void *arg)
{
	struct revoke *rv = arg;

	if (detached(rv))
		return;
	if (error != NULL) {
		finish(rv, JOB_RETRY, error);
		return;
	}
	/* pgloop owns res: keep a copy while the rows are worked on. */
	rv->page = PQcopyResult(res, PG_COPYRES_ATTRS | PG_COPYRES_TUPLES);
	if (rv->page == NULL)
		fatalx("token-revoke: out of memory");
	rv->next_row = 0;
	next_row(rv);
}

static void
read_page(struct revoke *rv)
{
	const char *params[] = { rv->tenant_id, rv->connection_id, rv->last_id };

	pgloop_query(rv->d->db, TOKEN_REVOKE_SQL_ROWS, 3, params, page_cb, rv);
}

static void
revoke_start(struct job *job)
{
	struct revoke *rv;
	char buf[UUID_STR_LEN];
	const char *conn = job_payload_uuid(job, "connection_id", buf);

	if (conn == NULL) {
		job_finish(job, JOB_FAIL, "payload: connection_id is not a uuid",
		    NULL);
		return;
	}
	rv = xcalloc(1, sizeof *rv);
	rv->job = job;
	rv->d = job->d;
	rv->tenant_id = xstrdup(job->tenant_id);
	rv->connection_id = xstrdup(conn);
	rv->log.tenant = rv->tenant_id;
	rv->log.connection = rv->connection_id;
	rv->log.job = job->id;
	snprintf(rv->last_id, sizeof rv->last_id, "0");
	job->state = rv;
	/* The tokens left the connection: this instance forgets them too. */
	google_forget(rv->d, rv->tenant_id, rv->connection_id);
	read_page(rv);
}

/*
 * At shutdown: what is in flight finishes without the job.  A request is
 * stopped now (its callback frees the state); a query's answer frees it.
 */
static void
revoke_cancel(struct job *job)
{
	struct revoke *rv = job->state;

	if (rv == NULL)
		return;
	job->state = NULL;
	rv->job = NULL;
	rv->log.job = NULL;
	if (rv->stop != NULL) {
		/* Only the stops are in flight: nothing else will free rv. */
		revoke_stop_cancel(rv->stop);
		revoke_free(rv);
		return;
	}
	if (rv->req != NULL)
		http_cancel(rv->d->http, rv->req);
}

const struct job_kind job_token_revoke_kind = {
	.name = "token-revoke",
	.start = revoke_start,
	.cancel = revoke_cancel,
};
