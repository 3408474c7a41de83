/* SPDX-License-Identifier: ISC */
/*
 * Google push receivers (docs/cgi.md has the answers and why).
 *
 * POST /hooks/google/calendar: a Calendar watch channel's notification,
 * all in X-Goog-* headers.  rally.hook_calendar() checks the channel token
 * against its stored hash and queues a deduplicated calsync job.  Google
 * retries only on 5xx, so an unknown channel gets 404 (never retried) and
 * an unreachable database 503 (retried).
 *
 * POST /hooks/google/gmail/SECRET: a Pub/Sub push of a Gmail watch
 * notification, authenticated by the secret in google.push_token_file (in
 * the path, not the query, which access logs keep; docs/operations.md says
 * how to mask the path).  rally.hook_gmail() checks the secret again and
 * will queue the mailbox's sync; it answers nothing, so neither does this
 * about the address.
 *
 * Neither reads anything from Google: the daemon's sync does that.  Tokens
 * are never logged; channel ids and Pub/Sub message ids are not secret.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgi.h"
#include "db.h"
#include "log.h"
#include "pubsub.h"
#include "pushtoken.h"

/* rally.sync_state.channel_id; Google's limit on a channel token. */
#define HOOK_MAX_CHANNEL_ID 256
#define HOOK_MAX_CHANNEL_TOKEN 256
#define HOOK_MAX_RESOURCE_ID 256
#define HOOK_MAX_RESOURCE_STATE 16
#define HOOK_MAX_MESSAGE_NUMBER 20

/* --- Calendar ----------------------------------------------------------- */

struct calendar_push {
	const char *channel_id;
	const char *token;
	const char *state;
	const char *resource_id;
	const char *message_number;
};

static int
calendar_headers(const struct request *req, struct calendar_push *p,
    char **cause)
{
	if (request_header(req, "X-Goog-Channel-ID", HOOK_MAX_CHANNEL_ID,
	    &p->channel_id, cause) == -1 ||
	    request_header(req, "X-Goog-Channel-Token", HOOK_MAX_CHANNEL_TOKEN,
	    &p->token, cause) == -1 ||
	    request_header(req, "X-Goog-Resource-State",
	    HOOK_MAX_RESOURCE_STATE, &p->state, cause) == -1 ||
	    request_header(req, "X-Goog-Resource-ID", HOOK_MAX_RESOURCE_ID,
	    &p->resource_id, cause) == -1 ||
	    request_header(req, "X-Goog-Message-Number",
	    HOOK_MAX_MESSAGE_NUMBER, &p->message_number, cause) == -1)
		return -1;
	if (strcmp(p->state, "sync") != 0 && strcmp(p->state, "exists") != 0 &&
	    strcmp(p->state, "not_exists") != 0)
		return set_cause(cause, "X-Goog-Resource-State header unknown");
	if (strspn(p->message_number, "0123456789") !=
	    strlen(p->message_number))
		return set_cause(cause,
		    "X-Goog-Message-Number header not a number");
	return 0;
}

/* Runs rally.hook_calendar(); 0 when queued, else the status to answer. */
static int
calendar_queue(struct cgi *cgi, const struct calendar_push *p)
{
	const char *params[] = { p->channel_id, p->token };
	char *cause = NULL;
	PGresult *res;
	PGconn *conn;
	bool accepted;

	if ((conn = cgi_db(cgi, &cause)) == NULL) {
		log_warnx("calendar push: %s", cause);
		free(cause);
		return 503;
	}
	res = db_exec(conn, "SELECT rally.hook_calendar($1, $2)", 2, params,
	    &cause);
	if (res == NULL) {
		log_warnx("calendar push: rally.hook_calendar: %s", cause);
		free(cause);
		return cgi_db_error_status(cgi);
	}
	accepted = PQntuples(res) == 1 &&
	    strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	if (!accepted) {
		log_notice("calendar push: channel %s is unknown, stopped, or "
		    "its token does not match", p->channel_id);
		return 404;
	}
	return 0;
}

static void
hook_calendar(struct cgi *cgi, struct request *req, struct response *resp)
{
	struct calendar_push p;
	char *cause = NULL;
	int status;

	if (calendar_headers(req, &p, &cause) == -1) {
		log_notice("calendar push: %s", cause);
		response_plain(resp, 400, cause);
		free(cause);
		return;
	}
	if (req->content_length != 0) {
		log_notice("calendar push: unexpected body");
		response_plain(resp, 400, "a notification has no body");
		return;
	}
	/*
	 * "sync" opens a channel and says nothing changed.  It may arrive
	 * before rallyd has stored the channel it just created, so it is not
	 * checked: accepting it queues nothing and reveals nothing.
	 */
	if (strcmp(p.state, "sync") == 0) {
		log_debug("calendar push: channel %s opened", p.channel_id);
		response_plain(resp, 200, NULL);
		return;
	}
	if ((status = calendar_queue(cgi, &p)) != 0) {
		response_plain(resp, status, NULL);
		return;
	}
	log_debug("calendar push: channel %s message %s: sync queued",
	    p.channel_id, p.message_number);
	response_plain(resp, 200, NULL);
}

const struct route route_hook_calendar = {
	.method = "POST", .path = "/hooks/google/calendar",
	.handler = hook_calendar,
};

/* --- Gmail -------------------------------------------------------------- */

/* SHA-256 of both sides, so the comparison's time says nothing of either. */
static bool
push_token_equal(const char *a, size_t alen, const char *b, size_t blen)
{
	unsigned char da[PUSH_TOKEN_SHA256_LEN], db[PUSH_TOKEN_SHA256_LEN];

	pushtoken_sha256(a, alen, da);
	pushtoken_sha256(b, blen, db);
	return secret_equal(da, db, sizeof da);
}

/* 0 when the path's last segment is the configured secret, else a status. */
static int
gmail_authenticate(struct cgi *cgi, const char *given)
{
	const char *path = cgi->conf.google_push_token_file;
	char *secret = NULL, *cause = NULL;
	size_t len = 0;
	int status = 0;

	if (*path == '\0') {
		log_warnx("gmail push: google.push_token_file is not set");
		return 403;
	}
	if (pushtoken_read(path, &secret, &len, &cause) == -1) {
		log_warnx("gmail push: google.push_token_file: %s", cause);
		status = 500;
	} else if (strlen(given) > PUSH_TOKEN_MAX ||
	    !push_token_equal(given, strlen(given), secret, len)) {
		log_notice("gmail push: wrong secret");
		status = 403;
	}
	free(cause);
	pushtoken_free(secret);
	return status;
}

/*
 * Runs rally.hook_gmail(), which checks the secret again against the hash
 * rallyd stored and tells nothing back; 0 when done, else the status.
 */
static int
gmail_queue(struct cgi *cgi, const struct gmail_push *push, const char *secret)
{
	const char *params[] = { push->email, secret };
	char *cause = NULL;
	PGresult *res;
	PGconn *conn;

	if ((conn = cgi_db(cgi, &cause)) == NULL) {
		log_warnx("gmail push: %s", cause);
		free(cause);
		return 503;
	}
	if ((res = db_exec(conn, "SELECT rally.hook_gmail($1, $2)", 2, params,
	    &cause)) == NULL) {
		log_warnx("gmail push: rally.hook_gmail: %s", cause);
		free(cause);
		return cgi_db_error_status(cgi);
	}
	PQclear(res);
	log_debug("gmail push: message %s accepted", push->message_id);
	return 0;
}

static int
gmail_read(const struct cgi *cgi, struct request *req,
    struct gmail_push *push)
{
	char *cause = NULL;
	int status;

	if (strcmp(req->content_type, "application/json") != 0) {
		log_notice("gmail push: content type is not application/json");
		return 415;
	}
	if (req->content_length > PUBSUB_MAX_BODY) {
		log_notice("gmail push: body larger than %d bytes",
		    PUBSUB_MAX_BODY);
		return 413;
	}
	if ((status = request_read_body(req, cgi->body_fd, &cause)) != 0 ||
	    pubsub_gmail_parse(req->body, req->body_len, push, &cause) == -1) {
		log_notice("gmail push: %s", cause);
		free(cause);
		return 400;
	}
	return 0;
}

/*
 * The secret was once a ?token= parameter, which every access log records:
 * a subscription still configured so is refused loudly, never accepted.
 */
static bool
gmail_query_refused(const struct request *req, struct response *resp)
{
	if (*req->query == '\0')
		return false;
	log_notice("gmail push: refused a query string: the secret goes in "
	    "the path, /hooks/google/gmail/SECRET");
	response_plain(resp, 400, "the Gmail hook takes no query string: "
	    "push to /hooks/google/gmail/SECRET");
	return true;
}

static void
hook_gmail(struct cgi *cgi, struct request *req, struct response *resp)
{
	const char *secret = route_segment(&route_hook_gmail, req);
	struct gmail_push push = { 0 };
	int status;

	if (gmail_query_refused(req, resp))
		return;
	/*
	 * Authenticated before the body is even read; the same answer
	 * whether or not the address is connected anywhere.
	 */
	if ((status = gmail_authenticate(cgi, secret)) != 0 ||
	    (status = gmail_read(cgi, req, &push)) != 0 ||
	    (status = gmail_queue(cgi, &push, secret)) != 0)
		response_plain(resp, status, NULL);
	else
		response_plain(resp, 204, NULL);
	gmail_push_clear(&push);
}

/* No secret in the path: an old ?token= subscription, or a mistake. */
static void
hook_gmail_bare(struct cgi *cgi, struct request *req, struct response *resp)
{
	if (gmail_query_refused(req, resp))
		return;
	log_notice("gmail push: no secret in the path");
	response_plain(resp, 404, NULL);
}

const struct route route_hook_gmail = {
	.method = "POST", .path = "/hooks/google/gmail/", .handler = hook_gmail,
	.segment = true, .flags = ROUTE_SECRET_PATH,
};

const struct route route_hook_gmail_bare = {
	.method = "POST", .path = "/hooks/google/gmail",
	.handler = hook_gmail_bare,
};
