#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cgi.h"

/* Every route rally.cgi serves; paths match exactly. */
static const struct route *const routes[] = {
	&route_hook_calendar,
	&route_hook_gmail,
};

/* The methods the path accepts, "GET, POST", or NULL for an unknown path. */
static char *
allowed_methods(const char *path)
{
	char *allow = NULL, *tmp;

	for (size_t i = 0; i < nitems(routes); i++) {
		if (strcmp(routes[i]->path, path) != 0)
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
		if (strcmp(routes[i]->path, req->path) == 0 &&
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
