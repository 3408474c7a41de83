/* SPDX-License-Identifier: ISC */
/*
 * rally.cgi: one process per request (RFC 3875).  main.c parses the
 * request, finds its route in routes.c's table and runs the route's
 * handler, which fills in the response.  Each page group is one
 * page-<name>.c exporting its routes; routes.c lists them.
 *
 * The context holds what a handler may need beyond the request: the
 * configuration, loaded only once a route matched, and a database
 * connection as rally_web, opened only when a handler asks for it.
 */
#ifndef RALLY_CGI_H
#define RALLY_CGI_H

#include <stdbool.h>

#include <libpq-fe.h>

#include "conf.h"
#include "request.h"
#include "response.h"

struct cgi {
	struct conf conf;
	PGconn *db;
};

/*
 * The database connection as rally_web (database.web_conninfo), opened on
 * first use.  NULL with *cause set when the server cannot be reached.
 */
PGconn *cgi_db(struct cgi *, char **cause);

/*
 * The status for a failed query: 503 (try again later) when the connection
 * is gone, 500 otherwise.
 */
int cgi_db_error_status(struct cgi *);

typedef void (*route_fn)(struct cgi *, struct request *, struct response *);

struct route {
	const char *method;
	/* Matched exactly, unless segment is set. */
	const char *path;
	/* Reads the body itself (request_read_body()) when it wants one. */
	route_fn handler;
	/*
	 * path ends in '/' and matches only followed by one more segment:
	 * non-empty, without '/', which route_segment() gives the handler.
	 */
	bool segment;
};

/*
 * The route for the request, or NULL with the response set to 404 (no
 * route has the path) or 405 with an Allow header (none has the method).
 */
const struct route *routes_find(const struct request *, struct response *);

/* The segment after a segment route's path, in the request it matched. */
const char *route_segment(const struct route *, const struct request *);

/* page-hooks.c: Google push notifications. */
extern const struct route route_hook_calendar;
extern const struct route route_hook_gmail;
extern const struct route route_hook_gmail_bare;

#endif
