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
 * Timed activities by (tenant_id, start_at) and all-day ones by
 * (tenant_id, start_date) (activities_tenant_start_date, migration 0037), each cut to ten, then merged.
 * A timed activity still going on counts; a day starts at the user's
 * midnight.  The policies already hide a teammate's private rows; the
 * visibility test says so again.
 */
static const char sql_upcoming[] =
    "SELECT id::text, title, kind, day, at, owner_name, mine"
    " FROM ("
    "  (SELECT a.id, a.title, a.kind, a.start_at AS sort_at,"
    "    CASE a.start_at::date - current_date WHEN 0 THEN 'Today'"
    "     WHEN 1 THEN 'Tomorrow' ELSE to_char(a.start_at, 'Dy DD Mon') END"
    "    || ', ' || to_char(a.start_at, 'HH24:MI') AS day,"
    "    to_char(a.start_at, 'YYYY-MM-DD\"T\"HH24:MI:SSTZH:TZM') AS at,"
    "    a.owner_id"
    "   FROM rally.activities a"
    "   WHERE a.tenant_id = rally.current_tenant()"
    "    AND a.start_at >= now() - interval '1 day'"
    "    AND a.start_at < now() + interval '7 days'"
    "    AND coalesce(a.end_at, a.start_at) >= now()"
    "    AND a.deleted_at IS NULL AND a.event_status <> 'cancelled'"
    "    AND (a.owner_id = rally.current_user_id() OR a.visibility = 'shared')"
    "   ORDER BY a.start_at LIMIT 10)"
    "  UNION ALL"
    "  (SELECT a.id, a.title, a.kind, a.start_date::timestamptz,"
    "    CASE a.start_date - current_date WHEN 0 THEN 'Today'"
    "     WHEN 1 THEN 'Tomorrow' ELSE to_char(a.start_date, 'Dy DD Mon') END"
    "    || ', all day',"
    "    to_char(a.start_date, 'YYYY-MM-DD'), a.owner_id"
    "   FROM rally.activities a"
    "   WHERE a.tenant_id = rally.current_tenant()"
    "    AND a.start_date >= current_date"
    "    AND a.start_date < current_date + 7"
    "    AND a.deleted_at IS NULL AND a.event_status <> 'cancelled'"
    "    AND (a.owner_id = rally.current_user_id() OR a.visibility = 'shared')"
    "   ORDER BY a.start_date LIMIT 10)"
    " ) x"
    " CROSS JOIN LATERAL (SELECT x.owner_id = rally.current_user_id() AS mine,"
    "   (SELECT coalesce(nullif(u.name, ''), u.email) FROM rally.users u"
    "    WHERE u.tenant_id = rally.current_tenant() AND u.id = x.owner_id)"
    "   AS owner_name) o"
    " ORDER BY sort_at, id LIMIT 10";

/*
 * The user's own threads by (tenant_id, user_id, last_message_at), the
 * team's shared ones by (tenant_id, last_message_at) where shared
 * (migration 0037), ten of each, merged.  A thread whose every message is
 * in the trash or spam is left out; unread means some message is.
 */
#define NOT_ONLY_TRASH \
	"EXISTS (SELECT 1 FROM rally.mail_messages m" \
	" WHERE m.tenant_id = mail_threads.tenant_id" \
	"  AND m.thread_id = mail_threads.id" \
	"  AND NOT (m.label_ids && ARRAY['TRASH', 'SPAM']))"

static const char sql_threads[] =
    "SELECT t.id::text, coalesce(nullif(t.subject, ''), '(no subject)'),"
    " coalesce(t.snippet, ''), to_char(t.last_message_at,"
    "  CASE WHEN t.last_message_at::date = current_date THEN 'HH24:MI'"
    "  ELSE 'DD Mon' END),"
    " to_char(t.last_message_at, 'YYYY-MM-DD\"T\"HH24:MI:SSTZH:TZM'),"
    " EXISTS (SELECT 1 FROM rally.mail_messages m"
    "  WHERE m.tenant_id = t.tenant_id AND m.thread_id = t.id"
    "   AND 'UNREAD' = ANY (m.label_ids)),"
    " t.user_id = rally.current_user_id(),"
    " coalesce((SELECT coalesce(nullif(u.name, ''), u.email) FROM rally.users u"
    "  WHERE u.tenant_id = t.tenant_id AND u.id = t.user_id), '')"
    " FROM ("
    "  (SELECT tenant_id, id, user_id, subject, snippet, last_message_at"
    "   FROM rally.mail_threads"
    "   WHERE tenant_id = rally.current_tenant()"
    "    AND user_id = rally.current_user_id() AND last_message_at IS NOT NULL"
    "    AND " NOT_ONLY_TRASH
    "   ORDER BY last_message_at DESC LIMIT 10)"
    "  UNION ALL"
    "  (SELECT tenant_id, id, user_id, subject, snippet, last_message_at"
    "   FROM rally.mail_threads"
    "   WHERE tenant_id = rally.current_tenant() AND visibility = 'shared'"
    "    AND user_id <> rally.current_user_id()"
    "    AND last_message_at IS NOT NULL AND " NOT_ONLY_TRASH
    "   ORDER BY last_message_at DESC LIMIT 10)"
    " ) t"
    " ORDER BY t.last_message_at DESC, t.id LIMIT 10";

_Static_assert(DASHBOARD_ROWS == 10, "the LIMITs of the queries");

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
