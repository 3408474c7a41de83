/* SPDX-License-Identifier: ISC */
/*
 * pgloop: one asynchronous PostgreSQL connection driven by libevent, for
 * rallyd's event loop.  It connects without blocking, runs queued queries
 * one at a time, delivers LISTEN/NOTIFY, and when the connection breaks it
 * fails the queued queries, reconnects with capped exponential backoff and
 * jitter, re-issues every LISTEN, and then calls connected_cb so the owner
 * can run its catch-up query for whatever it missed while disconnected.
 */
#ifndef RALLY_PGLOOP_H
#define RALLY_PGLOOP_H

#include <stdbool.h>

#include <event2/event.h>
#include <libpq-fe.h>

struct pgloop;

struct pgloop_cbs {
	/* After every successful (re)connect, once the LISTENs are in place. */
	void (*connected_cb)(struct pgloop *, void *arg);
	/* The connection broke or an attempt failed; reconnecting is automatic. */
	void (*disconnected_cb)(struct pgloop *, const char *why, void *arg);
	void (*notify_cb)(struct pgloop *, const char *channel,
	    const char *payload, void *arg);
	void *arg;
};

/*
 * A query's completion: res is the final result (owned by pgloop, valid
 * during the call) when the query succeeded; otherwise res is NULL and
 * error says why (server message or "connection lost").
 */
typedef void (*pgloop_result_cb)(const PGresult *res, const char *error,
    void *arg);

struct pgloop *pgloop_new(struct event_base *, const char *conninfo,
    const struct pgloop_cbs *);
/* Drops queued queries without calling their callbacks. */
void pgloop_free(struct pgloop *);
void pgloop_start(struct pgloop *);
bool pgloop_connected(const struct pgloop *);
/* Replaces the connection string; takes effect at the next reconnect. */
void pgloop_set_conninfo(struct pgloop *, const char *);
/* Remembers channel and LISTENs on it now and after every reconnect. */
void pgloop_listen(struct pgloop *, const char *channel);

/*
 * Queues a query; params are copied.  When not connected, cb is called with
 * an error from the event loop (never from within this call).
 */
void pgloop_query(struct pgloop *, const char *sql, int nparams,
    const char *const *params, pgloop_result_cb cb, void *arg);
/*
 * The same, taking params instead of copying them: an array of nparams
 * strings, each malloc'd or NULL, freed once libpq has them, but for what
 * is kept to mask the query's error (lib/pgloop.c params_shed()).
 */
void pgloop_query_give(struct pgloop *, const char *sql, int nparams,
    char **params, pgloop_result_cb cb, void *arg);
/*
 * The same with some params in binary format: formats[n] is 1 for one
 * (lengths[n] bytes, which may hold NULs), 0 for text; lengths and formats
 * (nparams ints each, malloc'd) are taken too.  A binary param is never
 * searched for in an error message (db_mask_params()).
 */
void pgloop_query_give_formats(struct pgloop *, const char *sql, int nparams,
    char **params, int *lengths, int *formats, pgloop_result_cb cb,
    void *arg);

#endif
