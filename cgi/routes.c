/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cgi.h"

/* Every route rally.cgi serves. */
static const struct route *const routes[] = {
	&route_dashboard,
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
};

/*
 * Exact, or for a segment route its path and then one segment: the Gmail
 * hook's secret, which must not make any other path match.
 */
static bool
route_matches(const struct route *r, const char *path)
{
	size_t len = strlen(r->path);
	const char *rest;

	if (!r->segment)
		return strcmp(r->path, path) == 0;
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
