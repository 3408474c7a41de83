/* SPDX-License-Identifier: ISC */
/*
 * GET /: the dashboard of a signed-in user (docs/web.md, "Dashboard and
 * Google integrations"); signed out, the sign-in page.
 *
 * Three short lists, each one bounded, indexed query under row-level
 * security: the activities of the next seven days (the user's own and the
 * team's shared ones), the ten newest conversations (the user's own and
 * the team's shared ones), and how each Google integration is doing.
 * Times are formatted by PostgreSQL in the user's time zone (the session
 * sets TimeZone).
 */
#include "config.h"

#include <string.h>

#include "db.h"
#include "google-status.h"
#include "page.h"
#include "session.h"

#define DASHBOARD_ROWS 10
#define SUBJECT_CHARS 120
#define SNIPPET_CHARS 140

/*
 * The lists are PL/pgSQL functions (sql/functions/web-dashboard.sql), so
 * that the backend plans their queries once, not on every request; the
 * columns are in the order of the function's table.
 */
static const char sql_upcoming[] =
    "SELECT id, title, kind, day, at, owner_name, mine"
    " FROM rally.web_dashboard_upcoming()";
static const char sql_threads[] =
    "SELECT id, subject, snippet, at_short, at, unread, mine, owner_name"
    " FROM rally.web_dashboard_threads()";

_Static_assert(DASHBOARD_ROWS == 10, "the LIMITs of web-dashboard.sql");

static void
upcoming_html(struct page *p, const PGresult *res)
{
	html(&p->sb, "<section class=\"card\" aria-labelledby=\"upcoming-h\">"
	    "<h2 id=\"upcoming-h\">Next 7 days</h2>");
	if (PQntuples(res) == 0)
		html(&p->sb, "<p>Nothing scheduled in the next 7 days.</p>");
	else
		html(&p->sb, "<table><thead><tr><th scope=\"col\">When</th>"
		    "<th scope=\"col\">Activity</th><th scope=\"col\">Whose"
		    "</th></tr></thead><tbody>");
	for (int i = 0; i < PQntuples(res); i++) {
		const char *title = PQgetvalue(res, i, 1);
		bool mine = strcmp(PQgetvalue(res, i, 6), "t") == 0;

		html(&p->sb, "<tr><td><time datetime=\"%s\">%s</time></td>"
		    "<td><a href=\"/activities/%s\">", PQgetvalue(res, i, 4),
		    PQgetvalue(res, i, 3), PQgetvalue(res, i, 0));
		html_escape_cut(&p->sb, title[0] != '\0' ? title :
		    "(no title)", SUBJECT_CHARS);
		html(&p->sb, "</a> <span class=\"badge\">%s</span></td>"
		    "<td>%s</td></tr>", PQgetvalue(res, i, 2),
		    mine ? "Yours" : PQgetvalue(res, i, 5));
	}
	if (PQntuples(res) > 0)
		html(&p->sb, "</tbody></table>");
	html(&p->sb, "<p><a href=\"/activities\">All activities</a></p>"
	    "</section>");
}

static void
thread_row(struct page *p, const PGresult *res, int i)
{
	bool unread = strcmp(PQgetvalue(res, i, 5), "t") == 0;
	bool mine = strcmp(PQgetvalue(res, i, 6), "t") == 0;

	html(&p->sb, "<tr%r><td><a href=\"/inbox/%s\">", unread ?
	    " class=\"unread\"" : "", PQgetvalue(res, i, 0));
	if (unread)
		html(&p->sb, "<span class=\"visually-hidden\">Unread: </span>");
	html_escape_cut(&p->sb, PQgetvalue(res, i, 1), SUBJECT_CHARS);
	html(&p->sb, "</a>");
	if (!mine)
		html(&p->sb, " <span class=\"badge\">shared by %s</span>",
		    PQgetvalue(res, i, 7));
	html(&p->sb, "<small>");
	html_escape_cut(&p->sb, PQgetvalue(res, i, 2), SNIPPET_CHARS);
	html(&p->sb, "</small></td><td><time datetime=\"%s\">%s</time></td>"
	    "</tr>", PQgetvalue(res, i, 4), PQgetvalue(res, i, 3));
}

static void
threads_html(struct page *p, const PGresult *res)
{
	html(&p->sb, "<section class=\"card\" aria-labelledby=\"mail-h\">"
	    "<h2 id=\"mail-h\">Recent mail</h2>");
	if (PQntuples(res) == 0)
		html(&p->sb, "<p>No mail yet.</p>");
	else
		html(&p->sb, "<table><thead><tr><th scope=\"col\">Conversation"
		    "</th><th scope=\"col\">Last message</th></tr></thead>"
		    "<tbody>");
	for (int i = 0; i < PQntuples(res); i++)
		thread_row(p, res, i);
	if (PQntuples(res) > 0)
		html(&p->sb, "</tbody></table>");
	html(&p->sb, "<p><a href=\"/inbox\">Inbox</a></p></section>");
}

static void
google_html(struct page *p, const struct google_status *st)
{
	html(&p->sb, "<section class=\"card\" aria-labelledby=\"google-h\">"
	    "<h2 id=\"google-h\">Google</h2>");
	if (st->n == 0)
		html(&p->sb, "<p>Rally is not connected to Google yet. "
		    "<a href=\"/integrations\">Connect Google</a> to see your "
		    "calendar and email here.</p>");
	else
		html(&p->sb, "<table class=\"google\"><thead><tr>"
		    "<th scope=\"col\">Account</th><th scope=\"col\">"
		    "Integration</th><th scope=\"col\">Status</th></tr></thead>"
		    "<tbody>");
	for (int i = 0; i < st->n; i++)
		for (int w = GOOGLE_CALENDAR; w <= GOOGLE_MAIL; w++) {
			html(&p->sb, "<tr><td>%s</td><th scope=\"row\">%s</th>"
			    "<td>", st->conn[i].email, google_status_name(w));
			google_status_sync_html(&p->sb, &st->conn[i], w);
			html(&p->sb, "</td></tr>");
		}
	if (st->n > 0)
		html(&p->sb, "</tbody></table>");
	html(&p->sb, "<p><a href=\"/integrations\">Google settings</a></p>"
	    "</section>");
}

static void
dashboard(struct cgi *cgi, struct request *req, struct response *resp)
{
	struct google_status st = { 0 };
	PGresult *upcoming = NULL, *threads = NULL;
	struct page p;
	char *cause = NULL;

	if (cgi->session == NULL) {
		page_redirect(resp, "/signin");
		return;
	}
	if ((upcoming = db_exec(cgi->db, sql_upcoming, 0, NULL, &cause)) ==
	    NULL || (threads = db_exec(cgi->db, sql_threads, 0, NULL,
	    &cause)) == NULL || google_status_load(cgi->db, &st, &cause) == -1) {
		page_db_error(cgi, req, resp, cause);
		goto out;
	}
	page_begin(&p, cgi, req, resp, "Dashboard", "dashboard");
	if (strcmp(page_param(req, "done"), "welcome") == 0)
		page_notice(&p, "Your workspace is ready.");
	html(&p.sb, "<p>Welcome, %s.</p><div class=\"grid\">",
	    cgi->session->name);
	upcoming_html(&p, upcoming);
	threads_html(&p, threads);
	google_html(&p, &st);
	html(&p.sb, "</div>");
	page_end(&p, 200);
out:
	PQclear(upcoming);
	PQclear(threads);
	google_status_clear(&st);
}

const struct route route_dashboard = {
	.method = "GET", .path = "/", .handler = dashboard,
	.flags = ROUTE_PAGE,
};
