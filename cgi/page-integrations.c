/* SPDX-License-Identifier: ISC */
/*
 * The Google integrations page (docs/web.md, "Dashboard and Google
 * integrations").
 *
 * GET /integrations: the user's Google connections, how each
 * integration's sync is going (google-status.c), and the buttons: connect
 * (page-connect.c), turn an integration on (a new consent through the same
 * flow), "Sync now", turn one off or disconnect.
 * GET /integrations/disconnect?connection=&what=: the confirmation, which
 * says what will be deleted and what stays; it changes nothing.
 * POST /integrations/disconnect: rally.web_disconnect, the compliance
 * routine (docs/compliance.md): the tokens leave the connection in this
 * request's transaction when nothing is left on, the purges are queued.
 * POST /integrations/sync: rally.web_request_sync.
 *
 * Every connection id comes from the request, so each is looked up under
 * row-level security first: anything not the user's own is a 404.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "google-status.h"
#include "page.h"
#include "session.h"

/* Counting what a disconnect deletes stops here ("more than 10,000"). */
#define COUNT_CAP 10000

enum what { WHAT_NONE, WHAT_CALENDAR, WHAT_MAIL, WHAT_ALL };

static enum what
what_of(const char *s)
{
	if (strcmp(s, "calendar") == 0)
		return WHAT_CALENDAR;
	if (strcmp(s, "mail") == 0)
		return WHAT_MAIL;
	if (strcmp(s, "all") == 0)
		return WHAT_ALL;
	return WHAT_NONE;
}

static void
not_found(struct cgi *cgi, struct request *req, struct response *resp)
{
	page_error(cgi, req, resp, 404, "That Google connection does not "
	    "exist, or it is not yours.");
}

/* The ?done= words: fixed messages, never text from the request. */
static const struct {
	const char *word;
	const char *message;
} done_messages[] = {
	{ "sync", "A sync was requested. It usually takes less than a "
	    "minute." },
	{ "calendar_off", "Google Calendar is off. The events Rally synced "
	    "from it are being deleted; activities you created in Rally "
	    "stay." },
	{ "mail_off", "Gmail is off. The mail Rally synced from it is being "
	    "deleted." },
	{ "disconnected", "The Google account is disconnected. Rally's access "
	    "to it is revoked, and the events and mail Rally synced from it are "
	    "being deleted; activities you created in Rally stay." },
};

static void
done_notice(struct page *p)
{
	const char *done = page_param(p->req, "done");

	for (size_t i = 0; i < nitems(done_messages); i++)
		if (strcmp(done, done_messages[i].word) == 0)
			page_notice(p, done_messages[i].message);
}

/* --- GET /integrations --------------------------------------------------- */

static void
connect_form(struct page *p, bool first)
{
	html(&p->sb, "<section class=\"card\" aria-labelledby=\"connect-h\">"
	    "<h2 id=\"connect-h\">%s</h2>", first ? "Connect Google" :
	    "Connect another Google account");
	if (first)
		html(&p->sb, "<p>Connect your Google account to see your "
		    "calendar and email in Rally and keep them in sync both "
		    "ways.</p>");
	page_form_begin(p, "/integrations/connect");
	html(&p->sb, "<fieldset><legend>What Rally may sync</legend>"
	    "<p><input type=\"checkbox\" id=\"c-cal\" name=\"calendar\" "
	    "checked> <label class=\"inline\" for=\"c-cal\">Google Calendar: "
	    "your events, and the activities you schedule in Rally</label></p>"
	    "<p><input type=\"checkbox\" id=\"c-mail\" name=\"mail\" checked> "
	    "<label class=\"inline\" for=\"c-mail\">Gmail: read, send and "
	    "organize your email in Rally</label></p></fieldset>"
	    "<p class=\"muted\">Google asks you to allow this on its own page. "
	    "You can turn either off here at any time.</p>"
	    "<p><button type=\"submit\">Connect Google</button></p></form>"
	    "</section>");
}

/*
 * A form of one button posting a connection's id and fields, pairs of
 * name and value ending in NULL: fixed words, written escaped anyway.
 * Each card has the same buttons, so screen readers also hear the account.
 */
static void
conn_button(struct page *p, const char *action, const struct google_conn *c,
    const char *const *fields, const char *label, bool secondary)
{
	page_form_begin(p, action);
	html(&p->sb, "<input type=\"hidden\" name=\"connection\" value=\"%s\">",
	    c->id);
	for (; fields != NULL && fields[0] != NULL; fields += 2)
		html(&p->sb, "<input type=\"hidden\" name=\"%s\" value=\"%s\">",
		    fields[0], fields[1]);
	html(&p->sb, "<button type=\"submit\"%r>%s<span class=\"visually-hidden\">"
	    " for %s</span></button></form>", secondary ?
	    " class=\"secondary\"" : "", label, c->email);
}

/* "Turn off" leads to the confirmation page: a GET form, nothing changes. */
static void
off_button(struct page *p, const struct google_conn *c, const char *what,
    const char *label)
{
	html(&p->sb, "<form method=\"get\" action=\"/integrations/disconnect\">"
	    "<input type=\"hidden\" name=\"connection\" value=\"%s\">"
	    "<input type=\"hidden\" name=\"what\" value=\"%s\">"
	    "<button type=\"submit\" class=\"secondary\">%s"
	    "<span class=\"visually-hidden\"> for %s</span></button></form>",
	    c->id, what, label, c->email);
}

static const char *
resource_word(int which)
{
	return which == GOOGLE_CALENDAR ? "calendar" : "mail";
}

static bool
sync_on(const struct google_conn *c, int which)
{
	return c->sync[which].enabled && strcmp(c->status, "revoked") != 0;
}

static void
sync_actions(struct page *p, const struct google_conn *c, int which)
{
	const char *res = resource_word(which);
	const char *sync[] = { "resource", res, NULL };
	/* A new consent that keeps what is on and adds this one. */
	const char *on[] = { res, "on", resource_word(!which), "on", NULL };
	char *label;

	if (!sync_on(c, !which))
		on[2] = NULL;
	html(&p->sb, "<div class=\"actions\">");
	if (sync_on(c, which)) {
		label = xasprintf("Sync %s now", google_status_name(which));
		conn_button(p, "/integrations/sync", c, sync, label, false);
		free(label);
		label = xasprintf("Turn off %s", google_status_name(which));
		off_button(p, c, res, label);
	} else {
		label = xasprintf("Turn on %s", google_status_name(which));
		conn_button(p, "/integrations/connect", c, on, label, false);
	}
	free(label);
	html(&p->sb, "</div>");
}

static void
conn_badge(struct page *p, const struct google_conn *c)
{
	if (strcmp(c->status, "revoked") == 0)
		html(&p->sb, "<span class=\"badge bad\">Access revoked</span>");
	else if (!c->sync[GOOGLE_CALENDAR].enabled &&
	    !c->sync[GOOGLE_MAIL].enabled)
		html(&p->sb, "<span class=\"badge\">Disconnected</span>");
	else if (strcmp(c->status, "error") == 0)
		html(&p->sb, "<span class=\"badge bad\">Needs attention</span>");
	else
		html(&p->sb, "<span class=\"badge ok\">Connected</span>");
}

static void
conn_section(struct page *p, const struct google_conn *c, int n)
{
	html(&p->sb, "<section class=\"card\" aria-labelledby=\"conn-%d\">"
	    "<h2 id=\"conn-%d\">%s ", n, n, c->email);
	conn_badge(p, c);
	html(&p->sb, "</h2><table class=\"google\"><caption class=\"muted\">"
	    "What Rally syncs with %s</caption><thead><tr>"
	    "<th scope=\"col\">Integration</th><th scope=\"col\">Status</th>"
	    "<th scope=\"col\">Actions</th></tr></thead><tbody>", c->email);
	for (int w = GOOGLE_CALENDAR; w <= GOOGLE_MAIL; w++) {
		html(&p->sb, "<tr><th scope=\"row\">%s</th><td>",
		    google_status_name(w));
		google_status_sync_html(&p->sb, c, w);
		html(&p->sb, "</td><td>");
		sync_actions(p, c, w);
		html(&p->sb, "</td></tr>");
	}
	html(&p->sb, "</tbody></table>");
	if (sync_on(c, GOOGLE_CALENDAR) && sync_on(c, GOOGLE_MAIL)) {
		html(&p->sb, "<div class=\"actions\">");
		off_button(p, c, "all", "Disconnect this Google account");
		html(&p->sb, "</div>");
	}
	html(&p->sb, "</section>");
}

static void
integrations(struct cgi *cgi, struct request *req, struct response *resp)
{
	struct google_status st;
	struct page p;
	char *cause = NULL;

	if (google_status_load(cgi->db, &st, &cause) == -1) {
		page_db_error(cgi, req, resp, cause);
		return;
	}
	page_begin(&p, cgi, req, resp, "Google", "integrations");
	done_notice(&p);
	for (int i = 0; i < st.n; i++)
		conn_section(&p, &st.conn[i], i + 1);
	connect_form(&p, st.n == 0);
	html(&p.sb, "<p class=\"muted\">Rally uses your Google data only for "
	    "these features. Events and mail you mark as shared are visible to "
	    "your team; everything else only to you.</p>");
	page_end(&p, 200);
	google_status_clear(&st);
}

/* --- disconnect: confirm, then do ----------------------------------------- */

/* What turning off what leaves on. */
static bool
left_on(const struct google_conn_row *row, enum what what, int which)
{
	if (which == GOOGLE_CALENDAR)
		return row->calendar && what == WHAT_MAIL;
	return row->mail && what == WHAT_CALENDAR;
}

/*
 * How many rows of the connection a table holds, at most COUNT_CAP + 1
 * (the unique keys on (tenant_id, connection_id, ...) find them).
 */
static long long
count_rows(struct cgi *cgi, const char *sql, const char *id, char **cause)
{
	const char *params[1] = { id };
	PGresult *res;
	long long n;

	if ((res = db_exec(cgi->db, sql, 1, params, cause)) == NULL)
		return -1;
	n = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return n;
}

#define SQL_COUNT(from, where) \
	"SELECT count(*) FROM (SELECT 1 FROM " from \
	" WHERE tenant_id = rally.current_tenant() AND connection_id = $1::uuid" \
	where " LIMIT 10001) x"

static void
count_words(struct strbuf *sb, long long n, const char *one,
    const char *many)
{
	if (n > COUNT_CAP)
		html(sb, "more than 10,000 %s", many);
	else
		html(sb, "%lld %s", n, n == 1 ? one : many);
}

static int
confirm_calendar(struct page *p, const struct google_conn_row *row,
    char **cause)
{
	long long synced, own;

	if ((synced = count_rows(p->cgi, SQL_COUNT("rally.activities",
	    " AND origin = 'google'"), row->id, cause)) == -1 ||
	    (own = count_rows(p->cgi, SQL_COUNT("rally.activities",
	    " AND origin = 'crm'"), row->id, cause)) == -1)
		return -1;
	html(&p->sb, "<li>Rally stops syncing your Google Calendar.</li>");
	if (synced == 0)
		html(&p->sb, "<li>Rally holds no events synced from Google "
		    "Calendar, so none are deleted.</li>");
	else {
		html(&p->sb, "<li>The ");
		count_words(&p->sb, synced, "event", "events");
		html(&p->sb, " Rally synced from Google Calendar %s deleted "
		    "from Rally within minutes.</li>", synced == 1 ? "is" : "are");
	}
	if (own > 0) {
		html(&p->sb, "<li>The ");
		count_words(&p->sb, own, "activity", "activities");
		html(&p->sb, " you created in Rally %s in Rally, no longer "
		    "linked to Google Calendar.</li>", own == 1 ? "stays" : "stay");
	} else
		html(&p->sb, "<li>Activities created in Rally are never "
		    "deleted by this.</li>");
	html(&p->sb, "<li>Nothing is deleted from your Google Calendar "
	    "itself.</li>");
	return 0;
}

static int
confirm_mail(struct page *p, const struct google_conn_row *row, char **cause)
{
	long long threads;

	if ((threads = count_rows(p->cgi, SQL_COUNT("rally.mail_threads", ""),
	    row->id, cause)) == -1)
		return -1;
	html(&p->sb, "<li>Rally stops syncing your Gmail.</li>");
	if (threads == 0)
		html(&p->sb, "<li>Rally holds no mail synced from Gmail, so none "
		    "is deleted.</li>");
	else {
		html(&p->sb, "<li>The ");
		count_words(&p->sb, threads, "conversation", "conversations");
		html(&p->sb, " Rally synced from Gmail %s deleted from Rally "
		    "within minutes.</li>", threads == 1 ? "is" : "are");
	}
	html(&p->sb, "<li>Messages still waiting in Rally's outbox are not "
	    "sent.</li><li>Nothing is deleted from your Gmail itself.</li>");
	return 0;
}

static const char *
confirm_title(enum what what)
{
	switch (what) {
	case WHAT_CALENDAR:
		return "Turn off Google Calendar?";
	case WHAT_MAIL:
		return "Turn off Gmail?";
	default:
		return "Disconnect this Google account?";
	}
}

static int
confirm_page(struct page *p, const struct google_conn_row *row,
    enum what what, char **cause)
{
	bool cal = row->calendar && what != WHAT_MAIL;
	bool mail = row->mail && what != WHAT_CALENDAR;

	html(&p->sb, "<p>For the Google account <strong>%s</strong>:</p><ul>",
	    row->email);
	if ((cal && confirm_calendar(p, row, cause) == -1) ||
	    (mail && confirm_mail(p, row, cause) == -1))
		return -1;
	if (!left_on(row, what, GOOGLE_CALENDAR) &&
	    !left_on(row, what, GOOGLE_MAIL))
		html(&p->sb, "<li>Rally's access to this Google account is "
		    "revoked, and its access tokens are deleted at once.</li>");
	html(&p->sb, "</ul><p>You can connect again later; what was deleted "
	    "is then synced again from Google.</p>");
	page_form_begin(p, "/integrations/disconnect");
	html(&p->sb, "<input type=\"hidden\" name=\"connection\" value=\"%s\">"
	    "<input type=\"hidden\" name=\"what\" value=\"%s\">"
	    "<div class=\"actions\"><button type=\"submit\" class=\"danger\">"
	    "%s</button><a href=\"/integrations\">Cancel</a></div></form>",
	    row->id, what == WHAT_CALENDAR ? "calendar" : what == WHAT_MAIL ?
	    "mail" : "all", what == WHAT_CALENDAR ? "Turn off Google Calendar" :
	    what == WHAT_MAIL ? "Turn off Gmail" : "Disconnect");
	return 0;
}

/* Whether turning off what would switch anything off. */
static bool
anything_on(const struct google_conn_row *row, enum what what)
{
	return (row->calendar && what != WHAT_MAIL) ||
	    (row->mail && what != WHAT_CALENDAR);
}

static void
disconnect_confirm(struct cgi *cgi, struct request *req,
    struct response *resp)
{
	enum what what = what_of(page_param(req, "what"));
	struct google_conn_row row;
	struct page p;
	char *cause = NULL;
	int found;

	if ((found = google_conn_find(cgi->db, page_param(req, "connection"),
	    &row, &cause)) == -1) {
		page_db_error(cgi, req, resp, cause);
		return;
	}
	if (found == 0 || what == WHAT_NONE) {
		not_found(cgi, req, resp);
		goto out;
	}
	if (!anything_on(&row, what)) {
		page_error(cgi, req, resp, 409, what == WHAT_ALL ? "This Google "
		    "account is already disconnected." : "That integration is "
		    "already off.");
		goto out;
	}
	page_begin(&p, cgi, req, resp, confirm_title(what), "integrations");
	if (confirm_page(&p, &row, what, &cause) == -1) {
		strbuf_free(&p.sb);
		page_db_error(cgi, req, resp, cause);
		goto out;
	}
	page_end(&p, 200);
out:
	google_conn_row_clear(&row);
}

static int
request_disconnect(struct cgi *cgi, const struct google_conn_row *row,
    enum what what, bool *done, char **cause)
{
	const char *params[3] = { row->id,
	    what == WHAT_MAIL ? "false" : "true",
	    what == WHAT_CALENDAR ? "false" : "true" };
	PGresult *res;

	res = db_exec(cgi->db, "SELECT rally.web_disconnect($1::uuid,"
	    " $2::boolean, $3::boolean)", 3, params, cause);
	if (res == NULL)
		return -1;
	*done = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return 0;
}

static void
disconnect(struct cgi *cgi, struct request *req, struct response *resp)
{
	enum what what = what_of(page_field(req, "what"));
	struct google_conn_row row;
	char *cause = NULL;
	bool done = false;
	int found;

	if ((found = google_conn_find(cgi->db, page_field(req, "connection"),
	    &row, &cause)) == -1 ||
	    (found == 1 && what != WHAT_NONE &&
	    request_disconnect(cgi, &row, what, &done, &cause) == -1)) {
		page_db_error(cgi, req, resp, cause);
		goto out;
	}
	if (!done) {
		not_found(cgi, req, resp);
		goto out;
	}
	if (left_on(&row, what, GOOGLE_CALENDAR))
		page_redirect(resp, "/integrations?done=mail_off");
	else if (left_on(&row, what, GOOGLE_MAIL))
		page_redirect(resp, "/integrations?done=calendar_off");
	else
		page_redirect(resp, "/integrations?done=disconnected");
out:
	google_conn_row_clear(&row);
}

/* --- sync now -------------------------------------------------------------- */

static void
sync_now(struct cgi *cgi, struct request *req, struct response *resp)
{
	const char *resource = page_field(req, "resource");
	struct google_conn_row row;
	const char *params[2];
	char *cause = NULL;
	PGresult *res = NULL;
	int found;

	if ((found = google_conn_find(cgi->db, page_field(req, "connection"),
	    &row, &cause)) == -1)
		goto dberr;
	if (found == 0 || (strcmp(resource, "calendar") != 0 &&
	    strcmp(resource, "mail") != 0)) {
		not_found(cgi, req, resp);
		goto out;
	}
	params[0] = row.id;
	params[1] = resource;
	if ((res = db_exec(cgi->db, "SELECT rally.web_request_sync($1::uuid,"
	    " $2)", 2, params, &cause)) == NULL)
		goto dberr;
	if (strcmp(PQgetvalue(res, 0, 0), "t") == 0)
		page_redirect(resp, "/integrations?done=sync");
	else
		page_error(cgi, req, resp, 409, "That integration is off, so "
		    "there is nothing to sync. Turn it on first.");
	goto out;
dberr:
	page_db_error(cgi, req, resp, cause);
out:
	PQclear(res);
	google_conn_row_clear(&row);
}

const struct route route_integrations = {
	.method = "GET", .path = "/integrations", .handler = integrations,
	.flags = ROUTE_SIGNED_IN,
};
const struct route route_integrations_disconnect_form = {
	.method = "GET", .path = "/integrations/disconnect",
	.handler = disconnect_confirm, .flags = ROUTE_SIGNED_IN,
};
const struct route route_integrations_disconnect = {
	.method = "POST", .path = "/integrations/disconnect",
	.handler = disconnect, .flags = ROUTE_SIGNED_IN,
};
const struct route route_integrations_sync = {
	.method = "POST", .path = "/integrations/sync", .handler = sync_now,
	.flags = ROUTE_SIGNED_IN,
};
