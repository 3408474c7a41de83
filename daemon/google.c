/* SPDX-License-Identifier: ISC */
/*
 * google: see google.h; google-int.h says how the files share the work.
 * This one takes calls from the jobs, starts them and ends the early
 * ones from the loop, and sweeps idle connections.
 */
#include "config.h"

#include <sys/queue.h>

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <json-c/json.h>

#include "google-int.h"
#include "http.h"
#include "rallyd.h"
#include "util.h"
#include "uuid.h"

/* Idle connections whose token has expired are forgotten this often. */
#define GOOGLE_SWEEP_SEC 300
#define GOOGLE_METHOD_MAX 16
#define GOOGLE_URL_MAX 8192
#define GOOGLE_ID_MAX 64

void
google_kick(struct google *g)
{
	event_active(g->ev_kick, EV_TIMEOUT, 0);
}

/* ---- from the loop ---- */

static bool
id_ok(const char *s)
{
	size_t n = 0;

	if (s == NULL)
		return false;
	for (; *s != '\0'; s++, n++)
		if (n >= GOOGLE_ID_MAX || !(isxdigit((unsigned char)*s) ||
		    *s == '-'))
			return false;
	return n > 0;
}

static const char *
call_problem(const struct gcall *call)
{
	if (!id_ok(call->tenant_id) || !id_ok(call->connection_id))
		return "not a tenant and connection id";
	if (call->method[0] == '\0' || strlen(call->method) > GOOGLE_METHOD_MAX)
		return "no method";
	if (call->url[0] == '\0' || strlen(call->url) > GOOGLE_URL_MAX)
		return "no URL, or one too long";
	return NULL;
}

static void
start_incoming(struct gcall *call)
{
	struct gconn *c;
	const char *problem = call_problem(call);

	TAILQ_REMOVE(&call->g->incoming, call, entry);
	if (problem != NULL) {
		gcall_end_err(call, id_ok(call->tenant_id) &&
		    id_ok(call->connection_id) ? GERR_REJECTED :
		    GERR_NOT_CONNECTED, problem);
		return;
	}
	c = gconn_get(call->g, call->tenant_id, call->connection_id);
	call->conn = c;
	call->state = CALL_QUEUED;
	TAILQ_INSERT_TAIL(call->bulk ? &c->bulk : &c->queue, call, entry);
	gconn_pump(c);
}

static void
kick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct google *g = arg;
	struct gcall *call;
	struct gconn *c;

	while ((call = TAILQ_FIRST(&g->deferred)) != NULL) {
		TAILQ_REMOVE(&g->deferred, call, entry);
		c = call->conn;
		gcall_end_err(call, call->err, call->err_msg);
		if (c != NULL)
			gconn_pump(c);
	}
	while ((c = TAILQ_FIRST(&g->pumps)) != NULL) {
		TAILQ_REMOVE(&g->pumps, c, pump_entry);
		c->pump_pending = false;
		gconn_pump(c);
	}
	while ((call = TAILQ_FIRST(&g->incoming)) != NULL)
		start_incoming(call);
}

static void
sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	struct google *g = arg;
	struct gconn *c, *next;

	for (size_t i = 0; i < GOOGLE_BUCKETS; i++)
		for (c = LIST_FIRST(&g->buckets[i]); c != NULL; c = next) {
			next = LIST_NEXT(c, entry);
			if (gconn_idle(c) && !gconn_token_usable(c))
				gconn_free(c);
		}
}

/* ---- public ---- */

struct google *
google_new(struct rallyd *d)
{
	struct google *g = xcalloc(1, sizeof *g);
	struct timeval tv = { GOOGLE_SWEEP_SEC, 0 };

	g->d = d;
	for (size_t i = 0; i < GOOGLE_BUCKETS; i++)
		LIST_INIT(&g->buckets[i]);
	TAILQ_INIT(&g->calls);
	TAILQ_INIT(&g->incoming);
	TAILQ_INIT(&g->deferred);
	TAILQ_INIT(&g->pumps);
	gproject_init(g);
	g->ev_kick = evtimer_new(d->base, kick_cb, g);
	g->ev_sweep = event_new(d->base, -1, EV_PERSIST, sweep_cb, g);
	if (g->ev_kick == NULL || g->ev_sweep == NULL)
		fatalx("google: cannot create timers");
	event_add(g->ev_sweep, &tv);
	return g;
}

void
google_free(struct google *g)
{
	struct gcall *call;
	struct gconn *c;

	if (g == NULL)
		return;
	/* Requests and queries in flight die with http_free and pgloop_free. */
	while ((call = TAILQ_FIRST(&g->calls)) != NULL)
		gcall_free(call);
	for (size_t i = 0; i < GOOGLE_BUCKETS; i++)
		while ((c = LIST_FIRST(&g->buckets[i])) != NULL)
			gconn_free(c);
	gproject_free(g);
	event_free(g->ev_kick);
	event_free(g->ev_sweep);
	free(g);
}

static void
call_new(struct rallyd *d, bool bulk, const char *tenant_id,
    const char *connection_id, const char *method, const char *url,
    json_object *body, const char *if_match, google_cb cb, void *arg)
{
	struct google *g = d->google;
	struct gcall *call = xcalloc(1, sizeof *call);
	char tid[UUID_STR_LEN], cid[UUID_STR_LEN];
	const char *json;

	/*
	 * The ids go into a token's associated data, which only the
	 * canonical spelling opens; anything else finds no connection.
	 */
	uuid_canonical(tenant_id, tid);
	uuid_canonical(connection_id, cid);
	call->g = g;
	call->tenant_id = xstrdup(tid);
	call->connection_id = xstrdup(cid);
	call->method = xstrdup(method != NULL ? method : "");
	call->url = xstrdup(url != NULL ? url : "");
	call->units = google_gmail_units(&d->conf, call->method, call->url);
	call->bulk = bulk;
	if (if_match != NULL)
		call->if_match = xstrdup(if_match);
	if (body != NULL) {
		json = json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN);
		call->body_len = strlen(json);
		call->body = xstrdup(json);
	}
	call->cb = cb;
	call->arg = arg;
	call->state = CALL_INCOMING;
	TAILQ_INSERT_TAIL(&g->calls, call, all);
	TAILQ_INSERT_TAIL(&g->incoming, call, entry);
	google_kick(g);
}

void
google_call(struct rallyd *d, const char *tenant_id, const char *connection_id,
    const char *method, const char *url, json_object *body,
    const char *if_match, google_cb cb, void *arg)
{
	call_new(d, false, tenant_id, connection_id, method, url, body,
	    if_match, cb, arg);
}

void
google_call_once(struct rallyd *d, const char *tenant_id,
    const char *connection_id, const char *method, const char *url,
    json_object *body, google_cb cb, void *arg)
{
	call_new(d, false, tenant_id, connection_id, method, url, body, NULL,
	    cb, arg);
	TAILQ_LAST(&d->google->incoming, gcall_list)->once = true;
}

void
google_call_upload(struct rallyd *d, const char *tenant_id,
    const char *connection_id, const char *url, const char *content_type,
    char *body, size_t len, google_cb cb, void *arg)
{
	struct gcall *call;

	call_new(d, false, tenant_id, connection_id, "POST", url, NULL, NULL,
	    cb, arg);
	call = TAILQ_LAST(&d->google->incoming, gcall_list);
	call->once = true;
	call->content_type = xstrdup(content_type);
	call->body = body;
	call->body_len = len;
}

void
google_call_batch(struct rallyd *d, const char *tenant_id,
    const char *connection_id, const char *url, const char *boundary,
    char *body, size_t len, unsigned calls, google_cb cb, void *arg)
{
	struct gcall *call;

	call_new(d, true, tenant_id, connection_id, "POST", url, NULL, NULL,
	    cb, arg);
	call = TAILQ_LAST(&d->google->incoming, gcall_list);
	call->content_type = xasprintf("multipart/mixed; boundary=%s",
	    boundary);
	call->body = body;
	call->body_len = len;
	/* The URL's price is one inner call's; each one counts (Gmail). */
	call->units *= calls > 0 ? calls : 1;
}

void
google_call_bulk(struct rallyd *d, const char *tenant_id,
    const char *connection_id, const char *method, const char *url,
    json_object *body, const char *if_match, google_cb cb, void *arg)
{
	call_new(d, true, tenant_id, connection_id, method, url, body,
	    if_match, cb, arg);
}

void
google_forget(struct rallyd *d, const char *tenant_id,
    const char *connection_id)
{
	struct google *g = d->google;
	struct gconn *c;

	LIST_FOREACH(c, &g->buckets[gconn_hash(tenant_id, connection_id)],
	    entry)
		if (strcmp(c->id, connection_id) == 0 &&
		    strcmp(c->tenant_id, tenant_id) == 0) {
			gconn_drop_token(c);
			return;
		}
}

void
google_cancel(struct rallyd *d, void *arg)
{
	struct google *g = d->google;
	struct gcall *call, *next;
	struct gconn *c;

	for (call = TAILQ_FIRST(&g->calls); call != NULL; call = next) {
		next = TAILQ_NEXT(call, all);
		if (call->arg != arg)
			continue;
		if (call->state == CALL_ENDING) {
			/* On a list of calls being ended: its end skips the
			 * callback and frees it. */
			call->cancelled = true;
			continue;
		}
		c = call->conn;
		if (call->req != NULL) {
			/* Its callback runs now and sees the flag. */
			call->cancelled = true;
			http_cancel(g->d->http, call->req);
		}
		gcall_unlink(call);
		gcall_free(call);
		/* A freed slot is used again from the loop, never from here. */
		if (c != NULL && !c->pump_pending) {
			c->pump_pending = true;
			TAILQ_INSERT_TAIL(&g->pumps, c, pump_entry);
			google_kick(g);
		}
	}
}
