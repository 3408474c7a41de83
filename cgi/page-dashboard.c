/* SPDX-License-Identifier: ISC */
/*
 * GET /: the dashboard of a signed-in user; signed out, the sign-in page.
 */
#include "config.h"

#include <string.h>

#include "page.h"
#include "session.h"

static void
dashboard(struct cgi *cgi, struct request *req, struct response *resp)
{
	struct page p;

	if (cgi->session == NULL) {
		page_redirect(resp, "/signin");
		return;
	}
	page_begin(&p, cgi, req, resp, "Dashboard", "dashboard");
	if (strcmp(page_param(req, "done"), "welcome") == 0)
		page_notice(&p, "Your workspace is ready.");
	html(&p.sb, "<p>Welcome, %s.</p>", cgi->session->name);
	page_end(&p, 200);
}

const struct route route_dashboard = {
	.method = "GET", .path = "/", .handler = dashboard,
	.flags = ROUTE_PAGE,
};
