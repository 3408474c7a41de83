/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "db-mask.h"
#include "log.h"
#include "pgconnect.h"
#include "pgloop.h"
#include "util.h"

#define RECONNECT_MIN_MS 100
#define RECONNECT_MAX_MS 5000
#define CONNECT_TIMEOUT_SEC 10
#define PARAM_KEEP 4096		/* bytes of a text param kept whole */
#define PARAM_PREFIX 64		/* of one larger, what is kept */

enum pgloop_state { PGL_IDLE, PGL_CONNECTING, PGL_READY };

struct pgl_query {
	TAILQ_ENTRY(pgl_query) entry;
	char *sql;
	char **params;
	int *lengths;		/* NULL: all text; else with formats */
	int *formats;
	int nparams;
	bool *cut;		/* NULL, or nparams: params[n] only a prefix */
	pgloop_result_cb cb;
	void *arg;
};
TAILQ_HEAD(pgl_queue, pgl_query);

struct pgloop {
	struct event_base *base;
	char *conninfo;
	struct pgloop_cbs cbs;
	enum pgloop_state state;
	PGconn *conn;
	struct pgconnect *connecting;	/* the attempt under way, if any */
	struct event *io;		/* the socket, or the attempt's end */
	struct event *wr;		/* one-shot write readiness while flushing */
	struct event *retry;		/* reconnect after backoff */
	struct event *deadline;		/* connect timeout */
	struct event *fail_ev;		/* fails queries submitted while down */
	unsigned failures;		/* consecutive, for the backoff */
	struct pgl_queue queue;
	struct pgl_query *inflight;
	PGresult *result;		/* last result of the query in flight */
	char *error;			/* first error of the query in flight */
	char **channels;
	size_t nchannels;
	unsigned pending_listens;
};

static void pgl_connect(struct pgloop *);
static void pgl_dispatch(struct pgloop *);
static void pgl_break(struct pgloop *, const char *why);

static void
params_free(struct pgl_query *q)
{
	for (int i = 0; i < q->nparams; i++)
		free(q->params[i]);
	free(q->params);
	free(q->lengths);
	free(q->formats);
	free(q->cut);
	q->params = NULL;
	q->lengths = q->formats = NULL;
	q->cut = NULL;
	q->nparams = 0;
}

/*
 * Once libpq has a query's params in its buffer, what is kept of them for
 * masking its error (db_mask_params()): the text ones, and of those over
 * PARAM_KEEP bytes (a page of events is megabytes) a prefix, by which the
 * error is cut where the server quotes the value (db_mask_from()).  The
 * binary ones are never searched.
 */
static void
params_shed(struct pgl_query *q)
{
	for (int i = 0; i < q->nparams; i++) {
		if (q->params[i] == NULL)
			continue;
		if (q->formats != NULL && q->formats[i] != 0) {
			free(q->params[i]);
			q->params[i] = NULL;
		} else if (strlen(q->params[i]) > PARAM_KEEP) {
			if (q->cut == NULL)
				q->cut = xcalloc((size_t)q->nparams,
				    sizeof *q->cut);
			q->cut[i] = true;
			/* No further than the error is kept: its first line. */
			q->params[i][strcspn(q->params[i], "\n")] = '\0';
			q->params[i][PARAM_PREFIX] = '\0';
			q->params[i] = xreallocarray(q->params[i], PARAM_PREFIX + 1,
			    1);
		}
	}
	free(q->lengths);
	free(q->formats);
	q->lengths = q->formats = NULL;
}

/* The error of query q (taken) with the params it quotes masked. */
static char *
mask_error(const struct pgl_query *q, char *err)
{
	for (int i = 0; q->cut != NULL && i < q->nparams; i++)
		if (q->cut[i])
			err = db_mask_from(err, q->params[i]);
	return db_mask_params(err, q->nparams, (const char *const *)q->params,
	    NULL);
}

static void
query_free(struct pgl_query *q)
{
	if (q == NULL)
		return;
	params_free(q);
	free(q->sql);
	free(q);
}

static void
query_complete(struct pgl_query *q, const PGresult *res, const char *error)
{
	if (q->cb != NULL)
		q->cb(res, error, q->arg);
	query_free(q);
}

/* Fails every queued query; callbacks may queue new ones safely. */
static void
fail_queue(struct pgloop *p, const char *why)
{
	struct pgl_queue failing = TAILQ_HEAD_INITIALIZER(failing);
	struct pgl_query *q;

	TAILQ_CONCAT(&failing, &p->queue, entry);
	while ((q = TAILQ_FIRST(&failing)) != NULL) {
		TAILQ_REMOVE(&failing, q, entry);
		query_complete(q, NULL, why);
	}
}

static void
fail_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pgloop *p = arg;

	if (p->state != PGL_READY)
		fail_queue(p, "not connected to the database");
}

static void
clear_events(struct pgloop *p)
{
	if (p->io != NULL)
		event_free(p->io);
	if (p->wr != NULL)
		event_free(p->wr);
	p->io = p->wr = NULL;
	event_del(p->deadline);
	pgconnect_abandon(p->connecting);
	p->connecting = NULL;
}

static void
retry_cb(evutil_socket_t fd, short what, void *arg)
{
	pgl_connect(arg);
}

static void
schedule_reconnect(struct pgloop *p)
{
	unsigned shift = p->failures < 16 ? p->failures : 16;
	double ms = (double)RECONNECT_MIN_MS * (1u << shift);
	struct timeval tv;

	if (ms > RECONNECT_MAX_MS)
		ms = RECONNECT_MAX_MS;
	ms *= 0.5 + random_unit() / 2;	/* jitter: instances do not stampede */
	tv.tv_sec = (long)ms / 1000;
	tv.tv_usec = ((long)ms % 1000) * 1000;
	p->failures++;
	evtimer_add(p->retry, &tv);
}

/* The connection is gone: fail what was waiting and start over later. */
static void
pgl_break(struct pgloop *p, const char *why)
{
	struct pgl_query *q = p->inflight;
	/* libpq quotes pieces of a conninfo it misread: its password too. */
	char *msg = db_mask_conninfo(xstrdup(why), p->conninfo);
	bool was_ready = p->state == PGL_READY;

	clear_events(p);
	if (p->conn != NULL)
		PQfinish(p->conn);
	p->conn = NULL;
	p->state = PGL_IDLE;
	p->inflight = NULL;
	PQclear(p->result);
	p->result = NULL;
	free(p->error);
	p->error = NULL;
	if (q != NULL)
		query_complete(q, NULL, "connection lost");
	fail_queue(p, "connection lost");
	schedule_reconnect(p);
	if (p->cbs.disconnected_cb != NULL)
		p->cbs.disconnected_cb(p, msg, p->cbs.arg);
	else if (was_ready)
		log_warnx("database connection lost: %s", msg);
	free(msg);
}

static void
deliver_notifies(struct pgloop *p)
{
	PGnotify *n;

	while (p->conn != NULL && (n = PQnotifies(p->conn)) != NULL) {
		if (p->cbs.notify_cb != NULL)
			p->cbs.notify_cb(p, n->relname, n->extra, p->cbs.arg);
		PQfreemem(n);
	}
}

/* Collects results of the query in flight; completes it when done. */
static void
collect_results(struct pgloop *p)
{
	PGresult *r;

	while (p->inflight != NULL && !PQisBusy(p->conn)) {
		if ((r = PQgetResult(p->conn)) != NULL) {
			ExecStatusType st = PQresultStatus(r);

			if (st == PGRES_FATAL_ERROR || st == PGRES_BAD_RESPONSE ||
			    st == PGRES_NONFATAL_ERROR) {
				if (p->error == NULL)
					p->error = xstrdup(PQresultErrorMessage(r));
			}
			PQclear(p->result);
			p->result = r;
			continue;
		}
		struct pgl_query *q = p->inflight;
		PGresult *res = p->result;
		char *err = p->error;

		p->inflight = NULL;
		p->result = NULL;
		p->error = NULL;
		if (err != NULL) {
			err[strcspn(err, "\n")] = '\0';
			/* The server echoes bad input: as db_exec() does, mask it. */
			err = mask_error(q, err);
			query_complete(q, NULL, err);
		} else
			query_complete(q, res, res == NULL ? "no result" : NULL);
		PQclear(res);
		free(err);
	}
}

/* Sends what libpq buffered; if the socket is full, again when writable. */
static void
flush(struct pgloop *p)
{
	int rc = PQflush(p->conn);

	if (rc == -1)
		pgl_break(p, PQerrorMessage(p->conn));
	else if (rc == 1)
		event_add(p->wr, NULL);
}

static void
write_cb(evutil_socket_t fd, short what, void *arg)
{
	flush(arg);
}

static void
read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pgloop *p = arg;

	if (!PQconsumeInput(p->conn) || PQstatus(p->conn) == CONNECTION_BAD) {
		pgl_break(p, PQerrorMessage(p->conn));
		return;
	}
	collect_results(p);
	if (p->conn == NULL)
		return;
	deliver_notifies(p);
	if (p->conn != NULL)
		pgl_dispatch(p);
}

static void
pgl_dispatch(struct pgloop *p)
{
	struct pgl_query *q;

	if (p->state != PGL_READY || p->inflight != NULL ||
	    (q = TAILQ_FIRST(&p->queue)) == NULL)
		return;
	TAILQ_REMOVE(&p->queue, q, entry);
	p->inflight = q;
	if (!PQsendQueryParams(p->conn, q->sql, q->nparams, NULL,
		(const char *const *)q->params, q->lengths, q->formats, 0)) {
		pgl_break(p, PQerrorMessage(p->conn));
		return;
	}
	params_shed(q);		/* libpq has them in its output buffer */
	flush(p);
}

static void
listen_done_cb(const PGresult *res, const char *error, void *arg)
{
	struct pgloop *p = arg;

	if (error != NULL) {
		/* The connection broke or the server refused: either way, retry. */
		if (p->state == PGL_READY)
			pgl_break(p, error);
		return;
	}
	if (--p->pending_listens == 0 && p->cbs.connected_cb != NULL)
		p->cbs.connected_cb(p, p->cbs.arg);
}

/* Queues a query whose params (each malloc'd, or NULL) it takes. */
static void
enqueue(struct pgloop *p, const char *sql, int nparams, char **params,
    pgloop_result_cb cb, void *arg)
{
	struct pgl_query *q = xcalloc(1, sizeof *q);

	q->sql = xstrdup(sql);
	q->nparams = nparams;
	q->params = params;
	q->cb = cb;
	q->arg = arg;
	TAILQ_INSERT_TAIL(&p->queue, q, entry);
}

static char **
params_copy(int nparams, const char *const *params)
{
	char **copy = xcalloc(nparams > 0 ? nparams : 1, sizeof *copy);

	for (int i = 0; i < nparams; i++)
		copy[i] = params[i] != NULL ? xstrdup(params[i]) : NULL;
	return copy;
}

static void
issue_listen(struct pgloop *p, const char *channel)
{
	char *ident = PQescapeIdentifier(p->conn, channel, strlen(channel));
	char *sql;

	if (ident == NULL)
		fatalx("cannot quote LISTEN channel %s", channel);
	sql = xasprintf("LISTEN %s", ident);
	PQfreemem(ident);
	p->pending_listens++;
	enqueue(p, sql, 0, NULL, listen_done_cb, p);
	free(sql);
}

static void
on_connected(struct pgloop *p)
{
	clear_events(p);
	if (PQsetnonblocking(p->conn, 1) != 0) {
		pgl_break(p, PQerrorMessage(p->conn));
		return;
	}
	p->state = PGL_READY;
	p->failures = 0;
	p->io = event_new(p->base, PQsocket(p->conn), EV_READ | EV_PERSIST,
	    read_cb, p);
	p->wr = event_new(p->base, PQsocket(p->conn), EV_WRITE, write_cb, p);
	event_add(p->io, NULL);
	p->pending_listens = 0;
	for (size_t i = 0; i < p->nchannels; i++)
		issue_listen(p, p->channels[i]);
	if (p->nchannels == 0 && p->cbs.connected_cb != NULL)
		p->cbs.connected_cb(p, p->cbs.arg);
	pgl_dispatch(p);
}

/* The attempt's thread ended: a connection to use, or why not. */
static void
connected_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pgloop *p = arg;

	p->conn = pgconnect_take(p->connecting);
	p->connecting = NULL;
	if (p->conn == NULL)
		pgl_break(p, "out of memory");
	else if (PQstatus(p->conn) != CONNECTION_OK)
		pgl_break(p, PQerrorMessage(p->conn));
	else
		on_connected(p);
}

static void
deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	pgl_break(arg, "timed out connecting to the database");
}

static void
pgl_connect(struct pgloop *p)
{
	struct timeval tv = { CONNECT_TIMEOUT_SEC, 0 };
	char *cause = NULL;

	/*
	 * On a thread (lib/pgconnect.h): libpq resolves host names where it
	 * is called.  The deadline covers the name lookup too; an attempt
	 * given up is left to end on its own.
	 */
	p->connecting = pgconnect_start(p->conninfo, CONNECT_TIMEOUT_SEC,
	    &cause);
	if (p->connecting == NULL) {
		pgl_break(p, cause);
		free(cause);
		return;
	}
	p->state = PGL_CONNECTING;
	evtimer_add(p->deadline, &tv);
	p->io = event_new(p->base, pgconnect_fd(p->connecting), EV_READ,
	    connected_cb, p);
	event_add(p->io, NULL);
}

struct pgloop *
pgloop_new(struct event_base *base, const char *conninfo,
    const struct pgloop_cbs *cbs)
{
	struct pgloop *p = xcalloc(1, sizeof *p);

	p->base = base;
	p->conninfo = xstrdup(conninfo);
	p->cbs = *cbs;
	TAILQ_INIT(&p->queue);
	p->retry = evtimer_new(base, retry_cb, p);
	p->deadline = evtimer_new(base, deadline_cb, p);
	p->fail_ev = event_new(base, -1, 0, fail_cb, p);
	return p;
}

void
pgloop_free(struct pgloop *p)
{
	struct pgl_query *q;

	if (p == NULL)
		return;
	clear_events(p);
	event_free(p->retry);
	event_free(p->deadline);
	event_free(p->fail_ev);
	if (p->conn != NULL)
		PQfinish(p->conn);
	query_free(p->inflight);
	PQclear(p->result);
	free(p->error);
	while ((q = TAILQ_FIRST(&p->queue)) != NULL) {
		TAILQ_REMOVE(&p->queue, q, entry);
		query_free(q);
	}
	for (size_t i = 0; i < p->nchannels; i++)
		free(p->channels[i]);
	free(p->channels);
	free(p->conninfo);
	free(p);
}

void
pgloop_start(struct pgloop *p)
{
	if (p->state == PGL_IDLE && !evtimer_pending(p->retry, NULL))
		pgl_connect(p);
}

bool
pgloop_connected(const struct pgloop *p)
{
	return p->state == PGL_READY;
}

void
pgloop_set_conninfo(struct pgloop *p, const char *conninfo)
{
	free(p->conninfo);
	p->conninfo = xstrdup(conninfo);
}

void
pgloop_listen(struct pgloop *p, const char *channel)
{
	p->channels = xreallocarray(p->channels, p->nchannels + 1,
	    sizeof *p->channels);
	p->channels[p->nchannels++] = xstrdup(channel);
	if (p->state == PGL_READY) {
		issue_listen(p, channel);
		pgl_dispatch(p);
	}
}

void
pgloop_query_give_formats(struct pgloop *p, const char *sql, int nparams,
    char **params, int *lengths, int *formats, pgloop_result_cb cb, void *arg)
{
	struct pgl_query *q;

	enqueue(p, sql, nparams, params, cb, arg);
	q = TAILQ_LAST(&p->queue, pgl_queue);
	q->lengths = lengths;
	q->formats = formats;
	if (p->state == PGL_READY)
		pgl_dispatch(p);
	else
		event_active(p->fail_ev, 0, 0);
}

void
pgloop_query_give(struct pgloop *p, const char *sql, int nparams,
    char **params, pgloop_result_cb cb, void *arg)
{
	pgloop_query_give_formats(p, sql, nparams, params, NULL, NULL, cb, arg);
}

void
pgloop_query(struct pgloop *p, const char *sql, int nparams,
    const char *const *params, pgloop_result_cb cb, void *arg)
{
	pgloop_query_give(p, sql, nparams, params_copy(nparams, params), cb,
	    arg);
}
