/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cgi.h"

/* Every route rally.cgi serves. */
static const struct route *const routes[] = {
	&route_dashboard,
	&route_integrations,
	&route_integrations_disconnect_form,
	&route_integrations_disconnect,
	&route_integrations_sync,
	&route_integrations_connect,
	&route_oauth_callback,
	&route_connecting,
	&route_signin_form,
	&route_signin,
	&route_signout,
	&route_signup_form,
	&route_signup,
	/* page-reset.c, page-invite.c, page-team.c */
	&route_reset_form,
	&route_reset_request,
	&route_reset_link_form,
	&route_reset_link_set,
	&route_invite_form,
	&route_invite_accept,
	&route_team,
	&route_team_invite,
	&route_team_revoke,
	&route_team_role,
	&route_team_remove_confirm,
	&route_team_remove,
	/* The inbox: its fixed paths before the thread's "/inbox/<id>". */
	&route_inbox,
	&route_inbox_outbox,
	&route_inbox_outbox_cancel,
	&route_inbox_outbox_retry,
	&route_inbox_compose,
	&route_inbox_send,
	&route_inbox_message_html,
	&route_inbox_thread,
	&route_inbox_thread_act,
	&route_inbox_reply,
	&route_stylesheet,
	/* page-account*.c, page-privacy.c */
	&route_account,
	&route_account_profile,
	&route_account_company,
	&route_account_billing,
	&route_account_analytics,
	&route_account_sessions,
	&route_account_export,
	&route_account_exports,
	&route_account_export_file,
	&route_account_delete_form,
	&route_account_delete,
	&route_signin_keep,
	&route_privacy,
	&route_hook_calendar,
	&route_hook_gmail,
	&route_hook_gmail_bare,
	/* page-activities.c: /activities/new before /activities/<id>. */
	&route_activities,
	&route_activity_new,
	&route_activity_create,
	&route_activity,
	&route_activity_save,
	&route_activity_edit,
	&route_activity_delete_form,
	&route_activity_delete,
	&route_activity_share,
	&route_activity_private,
	&route_activity_reviewed,
};

/*
 * A path with '*' segments ("/inbox/ * /reply" without the blanks): each
 * '*' matches one non-empty segment without '/'.  *wild, when not NULL, is
 * where the first one's segment starts in path.
 */
static bool
pattern_matches(const char *pat, const char *path, const char **wild)
{
	size_t n;

	while (*pat != '\0') {
		if (*pat == '*') {
			if ((n = strcspn(path, "/")) == 0)
				return false;
			if (wild != NULL && *wild == NULL)
				*wild = path;
			path += n;
			pat++;
		} else if (*pat++ != *path++)
			return false;
	}
	return *path == '\0';
}

/*
 * Exact (or with '*' segments), or for a segment route its path and then
 * one segment: the Gmail hook's secret, which must not make any other
 * path match.
 */
static bool
route_matches(const struct route *r, const char *path)
{
	size_t len = strlen(r->path);
	const char *rest;

	if (!r->segment)
		return pattern_matches(r->path, path, NULL);
	if (strncmp(r->path, path, len) != 0)
		return false;
	rest = path + len;
	return *rest != '\0' && strchr(rest, '/') == NULL;
}

const char *
route_segment(const struct route *r, const struct request *req)
{
	return req->path + strlen(r->path);
}

bool
route_wild(const struct route *r, const struct request *req, char *out,
    size_t outlen)
{
	const char *wild = NULL;
	size_t n;

	if (!pattern_matches(r->path, req->path, &wild) || wild == NULL ||
	    (n = strcspn(wild, "/")) >= outlen) {
		if (outlen > 0)
			out[0] = '\0';
		return false;
	}
	memcpy(out, wild, n);
	out[n] = '\0';
	return true;
}

/* The methods the path accepts, "GET, POST", or NULL for an unknown path. */
static char *
allowed_methods(const char *path)
{
	char *allow = NULL, *tmp;

	for (size_t i = 0; i < nitems(routes); i++) {
		if (!route_matches(routes[i], path))
			continue;
		if (allow == NULL)
			allow = xstrdup(routes[i]->method);
		else {
			tmp = xasprintf("%s, %s", allow, routes[i]->method);
			free(allow);
			allow = tmp;
		}
	}
	return allow;
}

const struct route *
routes_find(const struct request *req, struct response *resp)
{
	char *allow;

	for (size_t i = 0; i < nitems(routes); i++)
		if (route_matches(routes[i], req->path) &&
		    strcmp(routes[i]->method, req->method) == 0)
			return routes[i];
	if ((allow = allowed_methods(req->path)) == NULL) {
		response_plain(resp, 404, NULL);
		return NULL;
	}
	response_plain(resp, 405, NULL);
	response_set_header(resp, "Allow", allow);
	free(allow);
	return NULL;
}
