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
	&route_hook_calendar,
	&route_hook_gmail,
	&route_hook_gmail_bare,
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
