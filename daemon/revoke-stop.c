/* SPDX-License-Identifier: ISC */
/* revoke-stop: the push channels stopped before a revocation (revoke-stop.h). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "google.h"
#include "google/oauth.h"
#include "http.h"
#include "log.h"
#include "rallyd.h"
#include "revoke-stop.h"
#include "util.h"

enum stop_step {
	STEP_REFRESH,
	STEP_CALENDAR,
	STEP_GMAIL,
	STEP_DONE,
};

struct revoke_stop {
	struct rallyd *d;
	struct log_ctx log;
	char *tenant, *connection, *job;	/* for the log context */
	char *access, *refresh;		/* wiped when freed */
	char *channel_id, *resource_id;
	bool gmail_watch;
	bool starting;		/* inside revoke_stop_start() */
	bool finished;		/* ended while starting: no callback */
	bool cancelled;
	enum stop_step step;
	int stopped;
	struct http_request *req;
	revoke_stop_cb cb;
	void *arg;
};

static void step(struct revoke_stop *);

static char *
dup_or_null(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

static void
wipe(char **s)
{
	if (*s != NULL)
		secure_free(*s, strlen(*s));
	*s = NULL;
}

static void
stop_free(struct revoke_stop *st)
{
	wipe(&st->access);
	wipe(&st->refresh);
	free(st->channel_id);
	free(st->resource_id);
	free(st->tenant);
	free(st->connection);
	free(st->job);
	free(st);
}

static void
refresh_cb(const struct http_response *hr, void *arg)
{
	struct revoke_stop *st = arg;
	struct oauth_tokens t;
	char *cause = NULL;

	st->req = NULL;
	if (st->cancelled) {
		stop_free(st);
		return;
	}
	memset(&t, 0, sizeof t);
	if (oauth_parse_token_response(hr, &t, &cause) == OAUTH_OK) {
		st->access = t.access_token;
		t.access_token = NULL;
	} else {
		char *why = google_sanitize(cause != NULL ? cause : "failed");

		log_emit(LOG_NOTICE, NULL, &st->log, "token-revoke: no access "
		    "token to stop the push channels with (%s): revoking the "
		    "grant without stopping them", why);
		free(why);
	}
	oauth_tokens_clear(&t);
	free(cause);
	st->step = st->access != NULL ? STEP_CALENDAR : STEP_DONE;
	step(st);
}

static void
stopped_cb(const struct http_response *hr, void *arg)
{
	struct revoke_stop *st = arg;
	const char *what = st->step == STEP_CALENDAR ? "calendar channel" :
	    "Gmail watch";

	st->req = NULL;
	if (st->cancelled) {
		stop_free(st);
		return;
	}
	if (hr->err == HTTP_OK && hr->status >= 200 && hr->status < 300) {
		st->stopped++;
		log_emit(LOG_INFO, NULL, &st->log, "token-revoke: %s stopped "
		    "at Google", what);
	} else {
		log_emit(LOG_NOTICE, NULL, &st->log, "token-revoke: Google did "
		    "not stop the %s (%s %ld): revoking the grant anyway", what,
		    hr->err == HTTP_OK ? "HTTP" : "transport error",
		    hr->err == HTTP_OK ? hr->status : (long)hr->err);
	}
	st->step++;
	step(st);
}

static void
submit(struct revoke_stop *st, struct http_request *req, http_done_cb cb)
{
	st->req = req;
	if (http_submit(st->d->http, req, cb, st) == -1) {
		/* lib/http said why; nothing was sent. */
		st->req = NULL;
		st->step = st->step == STEP_REFRESH ? STEP_DONE : st->step + 1;
		step(st);
	}
}

static void
send_refresh(struct revoke_stop *st)
{
	struct oauth_client client;
	char *secret = NULL, *cause = NULL;
	struct http_request *req;

	if (st->refresh == NULL || oauth_client_from_conf(&st->d->conf,
	    &client, &secret, &cause) == -1) {
		free(cause);
		st->step = STEP_DONE;
		step(st);
		return;
	}
	req = oauth_refresh_request(&client, st->refresh);
	secure_free(secret, strlen(secret));
	submit(st, req, refresh_cb);
}

static void
send_stop(struct revoke_stop *st, const char *url, json_object *body)
{
	struct http_request *req = http_request_new("POST", url);

	http_request_bearer(req, st->access);
	if (body != NULL) {
		const char *text = json_object_to_json_string(body);

		http_request_body(req, "application/json", text, strlen(text));
	}
	submit(st, req, stopped_cb);
}

static void
send_calendar_stop(struct revoke_stop *st)
{
	json_object *body = json_object_new_object();
	char *url = xasprintf("%s/channels/stop",
	    st->d->conf.google_calendar_url);

	json_object_object_add(body, "id",
	    json_object_new_string(st->channel_id));
	json_object_object_add(body, "resourceId",
	    json_object_new_string(st->resource_id));
	send_stop(st, url, body);
	json_object_put(body);
	free(url);
}

static void
send_gmail_stop(struct revoke_stop *st)
{
	char *url = xasprintf("%s/users/me/stop", st->d->conf.google_gmail_url);

	send_stop(st, url, NULL);
	free(url);
}

/* Runs the next step there is something for; at the end, the callback. */
static void
step(struct revoke_stop *st)
{
	revoke_stop_cb cb;
	void *arg;
	int stopped;

	if (st->step == STEP_CALENDAR && st->channel_id == NULL)
		st->step = STEP_GMAIL;
	if (st->step == STEP_GMAIL && !st->gmail_watch)
		st->step = STEP_DONE;
	switch (st->step) {
	case STEP_REFRESH:
		send_refresh(st);
		return;
	case STEP_CALENDAR:
		send_calendar_stop(st);
		return;
	case STEP_GMAIL:
		send_gmail_stop(st);
		return;
	case STEP_DONE:
		break;
	}
	if (st->starting) {
		st->finished = true;
		return;
	}
	cb = st->cb;
	arg = st->arg;
	stopped = st->stopped;
	stop_free(st);
	cb(stopped, arg);
}

struct revoke_stop *
revoke_stop_start(struct rallyd *d, const struct revoke_stop_req *req,
    const struct log_ctx *log, revoke_stop_cb cb, void *arg)
{
	struct revoke_stop *st;

	if ((req->calendar_channel_id == NULL ||
	    req->calendar_resource_id == NULL) && !req->gmail_watch)
		return NULL;
	if (req->access_token == NULL && req->refresh_token == NULL)
		return NULL;
	st = xcalloc(1, sizeof *st);
	st->d = d;
	st->tenant = dup_or_null(log->tenant);
	st->connection = dup_or_null(log->connection);
	st->job = dup_or_null(log->job);
	st->log.tenant = st->tenant;
	st->log.connection = st->connection;
	st->log.job = st->job;
	st->access = dup_or_null(req->access_token);
	st->refresh = dup_or_null(req->refresh_token);
	if (req->calendar_resource_id != NULL) {
		st->channel_id = dup_or_null(req->calendar_channel_id);
		st->resource_id = dup_or_null(req->calendar_resource_id);
	}
	st->gmail_watch = req->gmail_watch;
	st->cb = cb;
	st->arg = arg;
	st->step = st->access != NULL ? STEP_CALENDAR : STEP_REFRESH;
	st->starting = true;
	step(st);
	st->starting = false;
	if (st->finished) {
		/* Nothing could be sent: the caller goes on at once. */
		stop_free(st);
		return NULL;
	}
	return st;
}

void
revoke_stop_cancel(struct revoke_stop *st)
{
	if (st == NULL)
		return;
	/* A request is always in flight here; its callback frees st. */
	st->cancelled = true;
	http_cancel(st->d->http, st->req);
}
