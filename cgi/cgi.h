/* SPDX-License-Identifier: ISC */
/*
 * rally.cgi: one process per request (RFC 3875), or one process for
 * request after request under FastCGI (fastcgi.h).  main.c parses the
 * request, finds its route in routes.c's table and runs the route's
 * handler, which fills in the response.  Each page group is one
 * page-<name>.c exporting its routes; routes.c lists them.
 *
 * The context holds what a handler may need beyond the request: the
 * configuration, loaded only once a route matched, a database connection
 * as rally_web, opened only when a handler asks for it, and the session.
 *
 * A page's queries run in one transaction (cgi_begin()), with the tenant
 * and user set for it alone (set_config(..., true)): that is what lets
 * pgbouncer in transaction mode share connections between requests.
 * main.c commits it once the handler returns, unless the answer is a 5xx
 * or a query failed, and then rolls it back.
 */
#ifndef RALLY_CGI_H
#define RALLY_CGI_H

#include <stdbool.h>

#include <libpq-fe.h>

#include "conf.h"
#include "request.h"
#include "response.h"

struct session;

struct cgi {
	struct conf conf;
	bool conf_loaded;	/* CGI: once a route matched */
	PGconn *db;
	int body_fd;		/* the request body: stdin under CGI */
	bool https;		/* served over TLS: Secure cookies */
	struct session *session;	/* NULL when signed out */
	char *pre_csrf;		/* a signed-out form's token, once made */
};

/*
 * The database connection as rally_web (database.web_conninfo), opened on
 * first use.  NULL with *cause set when the server cannot be reached.
 */
PGconn *cgi_db(struct cgi *, char **cause);

/* Opens the request's transaction (once); 0, or -1 with *cause. */
int cgi_begin(struct cgi *, char **cause) MUST_CHECK;

/*
 * The status for a failed query: 503 (try again later) when the connection
 * is gone, 500 otherwise.
 */
int cgi_db_error_status(struct cgi *);

typedef void (*route_fn)(struct cgi *, struct request *, struct response *);

/*
 * What main.c does before a route's handler runs.  ROUTE_PAGE: an HTML
 * page: the session is resumed (cgi->session, NULL when signed out) and a
 * POST must be a form whose "csrf" field is the session's token (else 403,
 * the handler never runs).  ROUTE_SIGNED_IN as well: signed out, a GET is
 * sent to /signin and a POST answered 403.
 */
#define ROUTE_PAGE 0x1
#define ROUTE_SIGNED_IN (0x2 | ROUTE_PAGE)
/*
 * The path carries a secret (a reset or invitation token): every answer,
 * an error before the handler's included, is sent with Cache-Control
 * no-store and Referrer-Policy no-referrer, so that neither a cache nor
 * the Referer of the page's next request (its stylesheet, logged by the
 * web server with the referring address) keeps it.
 */
#define ROUTE_SECRET_PATH 0x4

struct route {
	const char *method;
	/*
	 * Matched exactly, unless segment is set; a segment "*" matches any
	 * one non-empty segment ("/inbox/ * /reply", without the blanks),
	 * which route_wild() gives the handler.
	 */
	const char *path;
	/* Reads the body itself (request_read_body()) when it wants one. */
	route_fn handler;
	/*
	 * path ends in '/' and matches only followed by one more segment:
	 * non-empty, without '/', which route_segment() gives the handler.
	 */
	bool segment;
	unsigned flags;
};

/*
 * The route for the request, or NULL with the response set to 404 (no
 * route has the path) or 405 with an Allow header (none has the method).
 */
const struct route *routes_find(const struct request *, struct response *);

/* The segment after a segment route's path, in the request it matched. */
const char *route_segment(const struct route *, const struct request *);
/*
 * The segment the first '*' of the route's path matched, copied into out;
 * false (out empty) when it does not fit in outlen bytes.
 */
bool route_wild(const struct route *, const struct request *, char *out,
    size_t outlen);

/* page-auth.c: sign-up, sign-in, sign-out. */
extern const struct route route_signin_form, route_signin, route_signout;
extern const struct route route_signup_form, route_signup;
/* page-dashboard.c: the home page; page-integrations.c and
 * page-connect.c: Google connections, connecting, disconnecting. */
extern const struct route route_dashboard;
extern const struct route route_integrations;
extern const struct route route_integrations_disconnect_form;
extern const struct route route_integrations_disconnect;
extern const struct route route_integrations_sync;
extern const struct route route_integrations_connect;
extern const struct route route_oauth_callback;
extern const struct route route_connecting;
/* page-reset.c, page-invite.c, page-team.c: password reset, invitations,
 * the team. */
extern const struct route route_reset_form, route_reset_request;
extern const struct route route_reset_link_form, route_reset_link_set;
extern const struct route route_invite_form, route_invite_accept;
extern const struct route route_team, route_team_invite, route_team_revoke;
extern const struct route route_team_role, route_team_remove_confirm;
extern const struct route route_team_remove;
/* page-inbox.c, page-inbox-thread.c, page-inbox-send.c: the inbox. */
extern const struct route route_inbox, route_inbox_outbox;
extern const struct route route_inbox_outbox_cancel, route_inbox_outbox_retry;
extern const struct route route_inbox_compose, route_inbox_send;
extern const struct route route_inbox_message_html;
extern const struct route route_inbox_thread, route_inbox_thread_act;
extern const struct route route_inbox_reply;
/* page-static.c: the stylesheet. */
extern const struct route route_stylesheet;

/*
 * page-account.c, page-account-export.c, page-account-delete.c,
 * page-privacy.c: the account page and the privacy rights.
 */
extern const struct route route_account, route_account_profile;
extern const struct route route_account_company, route_account_billing;
extern const struct route route_account_analytics, route_account_sessions;
extern const struct route route_account_export, route_account_exports;
extern const struct route route_account_export_file;
extern const struct route route_account_delete_form, route_account_delete;
extern const struct route route_signin_keep, route_privacy;
/* page-activities.c: the activities list, create, view, edit, delete, sharing. */
extern const struct route route_activities, route_activity_new;
extern const struct route route_activity_create, route_activity;
extern const struct route route_activity_save, route_activity_edit;
extern const struct route route_activity_delete_form, route_activity_delete;
extern const struct route route_activity_share, route_activity_private;
extern const struct route route_activity_reviewed;

/* page-hooks.c: Google push notifications. */
extern const struct route route_hook_calendar;
extern const struct route route_hook_gmail;
extern const struct route route_hook_gmail_bare;

#endif
