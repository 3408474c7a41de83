/* SPDX-License-Identifier: ISC */
/*
 * The inbox (docs/web.md, "Inbox"): GET /inbox lists threads newest
 * first, 50 a page; GET /inbox/outbox lists what the user sent from Rally
 * and where each message is (queued, sending, sent, failed); POST
 * /inbox/outbox/ * /cancel takes back one not yet being sent, and POST
 * /inbox/outbox/ * /retry queues one that failed again.
 *
 * A page of the list is one range scan of an index that matches its
 * ORDER BY (migration 0035: one partial index per view), continued from
 * the last row's key (?before=<microseconds since 1970>&after=<id>), never
 * with OFFSET and never counting the mailbox: its cost does not grow with
 * the mailbox.  The list reads only the thread rows, whose summary
 * (labels, senders, count) rallyd keeps.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "inbox.h"
#include "session.h"

#define INBOX_PAGE 50

/*
 * The views of the user's own mail.  where is the literal predicate of
 * the view's partial index: the planner matches an index's predicate only
 * as written.
 */
static const struct inbox_view {
	const char *name;
	const char *label;
	const char *where;
	const char *empty;
} views[] = {
	{ "inbox", "Inbox", "'INBOX' = any (t.label_ids)",
	    "No conversations in your Inbox." },
	{ "starred", "Starred", "'STARRED' = any (t.label_ids)",
	    "No starred conversations." },
	{ "sent", "Sent", "'SENT' = any (t.label_ids)",
	    "Nothing sent yet." },
	{ "all", "All mail", "not t.hidden",
	    "No mail yet." },
	{ "trash", "Trash", "'TRASH' = any (t.label_ids)",
	    "Trash is empty." },
};

/* Threads shared with the workspace, everyone's but those in Trash. */
static const struct inbox_view team_view = {
	"team", "Shared with the team",
	"t.visibility = 'shared' and not t.hidden",
	"Nobody has shared a conversation with the team yet."
};

struct inbox_query {
	const struct inbox_view *view;
	bool team;
	const char *before;	/* the keyset: NULL on the first page */
	const char *after;
	char after_id[UUID_STR_LEN];
};

#define INBOX_SQL_LIST_COLUMNS \
	"SELECT t.id, t.subject, t.snippet, t.message_count," \
	" array_to_string(t.correspondents, ', ')," \
	" 'UNREAD' = any (t.label_ids)," \
	" 'STARRED' = any (t.label_ids), 'INBOX' = any (t.label_ids)," \
	" 'SENT' = any (t.label_ids), 'TRASH' = any (t.label_ids)," \
	" CASE WHEN t.last_message_at >= date_trunc('day', now())" \
	"  THEN to_char(t.last_message_at, 'HH24:MI')" \
	"  ELSE to_char(t.last_message_at, 'FMDD Mon YYYY') END," \
	" to_char(t.last_message_at AT TIME ZONE 'UTC'," \
	"  'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')," \
	" (extract(epoch FROM t.last_message_at) * 1000000)::bigint," \
	" t.visibility, EXISTS (SELECT 1 FROM rally.mail_label_ops o" \
	"  WHERE o.tenant_id = t.tenant_id AND o.thread_id = t.id" \
	"  AND o.state = 'pending')"
enum { L_ID, L_SUBJECT, L_SNIPPET, L_COUNT, L_FROM, L_UNREAD, L_STARRED,
    L_INBOX, L_SENT, L_TRASH, L_DATE, L_ISO, L_KEY, L_VIS, L_PENDING,
    L_OWNER };

/* The one statement of a page: its shape fixed by the view alone. */
static char *
list_sql(const struct inbox_query *q)
{
	const char *team_cols = ", coalesce(nullif(u.name, ''), u.email)";
	const char *team_join = " JOIN rally.users u"
	    " ON u.tenant_id = t.tenant_id AND u.id = t.user_id";
	const char *mine = " AND t.user_id = rally.current_user_id()";
	const char *key = " AND (t.last_message_at, t.id) <"
	    " ('epoch'::timestamptz + $1::bigint * interval '1 microsecond',"
	    " $2::uuid)";

	return xasprintf("%s%s FROM rally.mail_threads t%s"
	    " WHERE t.tenant_id = rally.current_tenant()%s AND %s"
	    " AND t.last_message_at IS NOT NULL%s"
	    " ORDER BY t.last_message_at DESC, t.id DESC LIMIT %d",
	    INBOX_SQL_LIST_COLUMNS, q->team ? team_cols : "",
	    q->team ? team_join : "", q->team ? "" : mine, q->view->where,
	    q->before != NULL ? key : "", INBOX_PAGE + 1);
}

/* A key as the Older link writes it: an integer, and a uuid. */
static bool
key_ok(const char *before, const char *after, char id[UUID_STR_LEN])
{
	const char *digits = before + (before[0] == '-');
	size_t n = strspn(digits, "0123456789");

	return n > 0 && n <= 18 && digits[n] == '\0' &&
	    uuid_canonical(after, id);
}

/* Reads ?f=, ?s= and the key; false for a view or key that is not one. */
static bool
query_parse(const struct request *req, struct inbox_query *q)
{
	const char *f = page_param(req, "f"), *s = page_param(req, "s");
	const char *before = page_param(req, "before");

	memset(q, 0, sizeof *q);
	q->view = &views[0];
	if (strcmp(s, "team") == 0) {
		q->team = true;
		q->view = &team_view;
	} else if (s[0] != '\0' && strcmp(s, "mine") != 0)
		return false;
	if (f[0] != '\0' && !q->team) {
		q->view = NULL;
		for (size_t i = 0; i < nitems(views); i++)
			if (strcmp(f, views[i].name) == 0)
				q->view = &views[i];
		if (q->view == NULL)
			return false;
	}
	if (before[0] == '\0' && page_param(req, "after")[0] == '\0')
		return true;
	if (!key_ok(before, page_param(req, "after"), q->after_id))
		return false;
	q->before = before;
	q->after = q->after_id;
	return true;
}

/* The links between the views: mailbox folders, then the team's. */
static void
list_nav(struct page *p, const struct inbox_query *q)
{
	html(&p->sb, "<div class=\"actions\"><a class=\"button\" "
	    "href=\"/inbox/compose\">Compose</a>"
	    "<a href=\"/inbox/outbox\">Sent from Rally</a></div>"
	    "<nav aria-label=\"Mailbox\" class=\"inbox-views\"><ul>");
	for (size_t i = 0; i < nitems(views); i++)
		html(&p->sb, "<li><a href=\"/inbox?f=%u\"%r>%s</a></li>",
		    views[i].name, q->view == &views[i] ?
		    " aria-current=\"page\"" : "", views[i].label);
	html(&p->sb, "<li><a href=\"/inbox?s=team\"%r>%s</a></li></ul></nav>",
	    q->team ? " aria-current=\"page\"" : "", team_view.label);
}

static bool
is_true(const PGresult *res, int row, int col)
{
	return strcmp(PQgetvalue(res, row, col), "t") == 0;
}

/* The badges of a row: where the thread is, and what is not yet synced. */
static void
row_badges(struct page *p, const PGresult *res, int i, bool team)
{
	if (is_true(res, i, L_INBOX))
		html(&p->sb, " <span class=\"badge\">Inbox</span>");
	if (is_true(res, i, L_SENT))
		html(&p->sb, " <span class=\"badge\">Sent</span>");
	if (is_true(res, i, L_TRASH))
		html(&p->sb, " <span class=\"badge bad\">Trash</span>");
	if (!team && strcmp(PQgetvalue(res, i, L_VIS), "shared") == 0)
		html(&p->sb, " <span class=\"badge ok\">Shared</span>");
	if (is_true(res, i, L_PENDING))
		html(&p->sb, " <span class=\"badge\">Changes waiting to reach "
		    "Gmail</span>");
}

static void
list_row(struct page *p, const PGresult *res, int i, bool team)
{
	bool unread = is_true(res, i, L_UNREAD);
	const char *subject = PQgetvalue(res, i, L_SUBJECT);
	const char *from = PQgetvalue(res, i, L_FROM);

	html(&p->sb, "<tr%r><td>%r%s</td>", unread ? " class=\"unread\"" : "",
	    unread ? "<span class=\"sr-only\">Unread: </span>" : "",
	    from[0] != '\0' ? from : "(unknown sender)");
	if (team)
		html(&p->sb, "<td>%s</td>", PQgetvalue(res, i, L_OWNER));
	html(&p->sb, "<td>%r<a href=\"/inbox/%u\">%s</a>",
	    is_true(res, i, L_STARRED) ? "<span class=\"star\" "
	    "aria-hidden=\"true\">&#9733;</span><span class=\"sr-only\">"
	    "Starred: </span>" : "",
	    PQgetvalue(res, i, L_ID), subject[0] != '\0' ? subject :
	    "(no subject)");
	row_badges(p, res, i, team);
	html(&p->sb, "<br><span class=\"muted\">");
	html_escape_cut(&p->sb, PQgetvalue(res, i, L_SNIPPET), 140);
	html(&p->sb, "</span></td><td>%s</td><td><time datetime=\"%s\">%s"
	    "</time></td></tr>", PQgetvalue(res, i, L_COUNT),
	    PQgetvalue(res, i, L_ISO), PQgetvalue(res, i, L_DATE));
}

static void
list_table(struct page *p, const struct inbox_query *q, const PGresult *res)
{
	int n = PQntuples(res), shown = n > INBOX_PAGE ? INBOX_PAGE : n;

	if (n == 0) {
		html(&p->sb, "<p>%s</p>", q->before != NULL ?
		    "No older conversations." : q->view->empty);
		return;
	}
	html(&p->sb, "<table class=\"inbox\"><caption class=\"sr-only\">%s"
	    "</caption><thead><tr><th scope=\"col\">From</th>%r"
	    "<th scope=\"col\">Subject</th><th scope=\"col\">Messages</th>"
	    "<th scope=\"col\">Date</th></tr></thead><tbody>", q->view->label,
	    q->team ? "<th scope=\"col\">Shared by</th>" : "");
	for (int i = 0; i < shown; i++)
		list_row(p, res, i, q->team);
	html(&p->sb, "</tbody></table><p class=\"actions\">");
	if (q->before != NULL)
		html(&p->sb, "<a href=\"/inbox?%r%u\">Newest</a>",
		    q->team ? "s=" : "f=", q->view->name);
	if (n > INBOX_PAGE)
		html(&p->sb, "<a href=\"/inbox?%r%u&amp;before=%u&amp;"
		    "after=%u\" rel=\"next\">Older</a>", q->team ? "s=" : "f=",
		    q->view->name, PQgetvalue(res, shown - 1, L_KEY),
		    PQgetvalue(res, shown - 1, L_ID));
	html(&p->sb, "</p>");
}

/* Where the copy of the mailbox stands, in a sentence. */
static int
sync_line(struct page *p, const struct inbox_account *a, char **cause)
{
	const char *params[1] = { a->connection_id };
	PGresult *res;

	res = db_exec(p->cgi->db, "SELECT s.full_sync_required,"
	    " to_char(s.last_success_at, 'FMDD Mon YYYY HH24:MI'),"
	    " s.last_error IS NOT NULL FROM rally.sync_state s"
	    " WHERE s.tenant_id = rally.current_tenant()"
	    " AND s.connection_id = $1 AND s.resource = 'mail'", 1, params,
	    cause);
	if (res == NULL)
		return -1;
	if (PQntuples(res) == 0 || (is_true(res, 0, 0) &&
	    PQgetvalue(res, 0, 1)[0] == '\0'))
		html(&p->sb, "<p class=\"muted\">Rally is copying %s from "
		    "Gmail; mail appears here as it arrives.</p>",
		    a->google_email);
	else
		html(&p->sb, "<p class=\"muted\">%s, synced with Gmail %s.%r"
		    "</p>", a->google_email, PQgetvalue(res, 0, 1),
		    is_true(res, 0, 2) ? " The last sync failed; Rally keeps "
		    "trying." : "");
	PQclear(res);
	return 0;
}

static int
list_body(struct page *p, const struct inbox_query *q, char **cause)
{
	const char *params[2] = { q->before, q->after };
	struct inbox_account a;
	PGresult *res;
	char *sql;
	int found;

	if ((found = inbox_account_get(p->cgi, &a, cause)) == -1)
		return -1;
	if (found == 0 && !q->team)
		inbox_connect_first(p);
	else if (found == 1 && sync_line(p, &a, cause) == -1) {
		inbox_account_clear(&a);
		return -1;
	}
	inbox_account_clear(&a);
	list_nav(p, q);
	html(&p->sb, "<h2>%s</h2>", q->view->label);
	sql = list_sql(q);
	res = db_exec(p->cgi->db, sql, q->before != NULL ? 2 : 0, params,
	    cause);
	free(sql);
	if (res == NULL)
		return -1;
	list_table(p, q, res);
	PQclear(res);
	return 0;
}

static void
inbox_list(struct cgi *cgi, struct request *req, struct response *resp)
{
	struct inbox_query q;
	struct page p;
	char *cause = NULL;

	if (!query_parse(req, &q)) {
		page_error(cgi, req, resp, 400, "There is no such view of "
		    "the inbox. Go back to the inbox and choose one from its "
		    "list.");
		return;
	}
	page_begin(&p, cgi, req, resp, "Inbox", "inbox");
	if (list_body(&p, &q, &cause) == -1) {
		strbuf_free(&p.sb);
		page_db_error(cgi, req, resp, cause);
		return;
	}
	page_end(&p, 200);
}

/* --- the outbox ----------------------------------------------------------- */

void
inbox_outbox_state(struct page *p, const char *state, const char *error,
    const char *sent_at)
{
	if (strcmp(state, "queued") == 0)
		html(&p->sb, "<span class=\"badge\">Queued</span> waiting for "
		    "Rally to send it");
	else if (strcmp(state, "sending") == 0)
		html(&p->sb, "<span class=\"badge\">Sending</span> to Gmail "
		    "now");
	else if (strcmp(state, "sent") == 0)
		html(&p->sb, "<span class=\"badge ok\">Sent</span> %s",
		    sent_at);
	else
		html(&p->sb, "<span class=\"badge bad\">Not sent</span> %s",
		    error[0] != '\0' ? error : "Gmail refused it.");
}

static const struct {
	const char *word;
	const char *text;
} outbox_done[] = {
	{ "queued", "Your message is queued. Rally sends it through Gmail "
	    "in a moment; this page shows when it is sent." },
	{ "cancelled", "The message was taken back and will not be sent." },
	{ "started", "That message is already being sent and can no longer "
	    "be taken back." },
	{ "again", "The message is queued again, as a new message. Rally "
	    "sends it through Gmail in a moment." },
	{ "notagain", "Only a message that was not sent can be sent again, "
	    "from a Gmail account that is still connected." },
};

#define INBOX_SQL_OUTBOX \
	"SELECT o.id, o.thread_id, o.subject, array_to_string(o.to_addrs" \
	" || o.cc_addrs, ', '), o.state, coalesce(o.last_error, '')," \
	" to_char(o.queued_at, 'FMDD Mon YYYY HH24:MI')," \
	" to_char(o.sent_at, 'FMDD Mon YYYY HH24:MI')" \
	" FROM rally.mail_outbox o WHERE o.tenant_id = rally.current_tenant()" \
	" AND o.user_id = rally.current_user_id()" \
	" ORDER BY o.queued_at DESC, o.id DESC LIMIT 50"

static void
outbox_button(struct page *p, const char *id, const char *action,
    const char *label)
{
	html(&p->sb, "<form method=\"post\" action=\"/inbox/outbox/%u/%u\">",
	    id, action);
	page_csrf_field(p);
	html(&p->sb, "<button type=\"submit\" class=\"secondary\">%s</button>"
	    "</form>", label);
}

static void
outbox_row(struct page *p, const PGresult *res, int i)
{
	const char *subject = PQgetvalue(res, i, 2);

	if (subject[0] == '\0')
		subject = "(no subject)";
	html(&p->sb, "<tr><td>%s</td><td>", PQgetvalue(res, i, 3));
	if (PQgetvalue(res, i, 1)[0] != '\0')
		html(&p->sb, "<a href=\"/inbox/%u\">%s</a>",
		    PQgetvalue(res, i, 1), subject);
	else
		html(&p->sb, "%s", subject);
	html(&p->sb, "</td><td>%s</td><td>", PQgetvalue(res, i, 6));
	inbox_outbox_state(p, PQgetvalue(res, i, 4), PQgetvalue(res, i, 5),
	    PQgetvalue(res, i, 7));
	if (strcmp(PQgetvalue(res, i, 4), "queued") == 0)
		outbox_button(p, PQgetvalue(res, i, 0), "cancel",
		    "Cancel sending");
	else if (strcmp(PQgetvalue(res, i, 4), "failed") == 0)
		outbox_button(p, PQgetvalue(res, i, 0), "retry", "Send again");
	html(&p->sb, "</td></tr>");
}

static void
outbox(struct cgi *cgi, struct request *req, struct response *resp)
{
	const char *done = page_param(req, "done");
	struct page p;
	PGresult *res;
	char *cause = NULL;

	res = db_exec(cgi->db, INBOX_SQL_OUTBOX, 0, NULL, &cause);
	if (res == NULL) {
		page_db_error(cgi, req, resp, cause);
		return;
	}
	page_begin(&p, cgi, req, resp, "Sent from Rally", "inbox");
	for (size_t i = 0; i < nitems(outbox_done); i++)
		if (strcmp(done, outbox_done[i].word) == 0)
			page_notice(&p, outbox_done[i].text);
	html(&p.sb, "<p><a href=\"/inbox\">Back to the inbox</a> &middot; "
	    "<a href=\"/inbox/compose\">Compose</a></p>");
	if (PQntuples(res) == 0)
		html(&p.sb, "<p>You have not sent anything from Rally yet."
		    "</p>");
	else {
		html(&p.sb, "<p class=\"muted\">Your 50 most recent messages."
		    "</p><table><thead><tr><th scope=\"col\">To</th>"
		    "<th scope=\"col\">Subject</th><th scope=\"col\">Written"
		    "</th><th scope=\"col\">State</th></tr></thead><tbody>");
		for (int i = 0; i < PQntuples(res); i++)
			outbox_row(&p, res, i);
		html(&p.sb, "</tbody></table>");
	}
	PQclear(res);
	page_end(&p, 200);
}

static void
outbox_cancel(struct cgi *cgi, struct request *req, struct response *resp)
{
	char id[UUID_STR_LEN], *cause = NULL;
	const char *params[1] = { id };
	PGresult *res;
	bool deleted, exists;

	if (!inbox_path_id(&route_inbox_outbox_cancel, req, id)) {
		page_error(cgi, req, resp, 404, "There is no such message.");
		return;
	}
	/* Only a queued row may go (the policy's rule too): one being sent
	 * may already be at Gmail. */
	res = db_exec(cgi->db, "WITH d AS (DELETE FROM rally.mail_outbox"
	    " WHERE tenant_id = rally.current_tenant() AND id = $1"
	    " AND user_id = rally.current_user_id() AND state = 'queued'"
	    " RETURNING 1) SELECT EXISTS (SELECT 1 FROM d), EXISTS (SELECT 1"
	    " FROM rally.mail_outbox WHERE tenant_id = rally.current_tenant()"
	    " AND id = $1)", 1, params, &cause);
	if (res == NULL) {
		page_db_error(cgi, req, resp, cause);
		return;
	}
	deleted = is_true(res, 0, 0);
	exists = is_true(res, 0, 1);
	PQclear(res);
	if (!deleted && !exists)
		page_error(cgi, req, resp, 404, "There is no such message.");
	else
		page_redirect(resp, deleted ? "/inbox/outbox?done=cancelled" :
		    "/inbox/outbox?done=started");
}

/*
 * A message that failed, queued again as a new one (a new Message-ID: the
 * failed one may be known to Gmail) from the same connection, if it is
 * still on; the failed row stays as the record of the failure.
 */
static void
outbox_retry(struct cgi *cgi, struct request *req, struct response *resp)
{
	char id[UUID_STR_LEN], *cause = NULL;
	const char *params[1] = { id };
	PGresult *res;
	bool queued, exists;

	if (!inbox_path_id(&route_inbox_outbox_retry, req, id)) {
		page_error(cgi, req, resp, 404, "There is no such message.");
		return;
	}
	res = db_exec(cgi->db, "WITH n AS (INSERT INTO rally.mail_outbox"
	    " (tenant_id, user_id, connection_id, thread_id, message_id,"
	    " in_reply_to, references_header, from_addr, to_addrs, cc_addrs,"
	    " bcc_addrs, subject, body_text, body_html)"
	    " SELECT o.tenant_id, o.user_id, o.connection_id, o.thread_id,"
	    " '<' || gen_random_uuid() || '@' ||"
	    " split_part(c.google_email, '@', 2) || '>', o.in_reply_to,"
	    " o.references_header, o.from_addr,"
	    " o.to_addrs, o.cc_addrs, o.bcc_addrs, o.subject, o.body_text,"
	    " o.body_html FROM rally.mail_outbox o"
	    " JOIN rally.google_connections c ON c.tenant_id = o.tenant_id"
	    " AND c.id = o.connection_id"
	    " WHERE o.tenant_id = rally.current_tenant()"
	    " AND o.id = $1 AND o.user_id = rally.current_user_id()"
	    " AND o.state = 'failed' AND c.mail_enabled AND c.status = 'active'"
	    " RETURNING 1) SELECT EXISTS (SELECT 1 FROM n), EXISTS (SELECT 1"
	    " FROM rally.mail_outbox WHERE tenant_id = rally.current_tenant()"
	    " AND id = $1)", 1, params, &cause);
	if (res == NULL) {
		page_db_error(cgi, req, resp, cause);
		return;
	}
	queued = is_true(res, 0, 0);
	exists = is_true(res, 0, 1);
	PQclear(res);
	if (!queued && !exists)
		page_error(cgi, req, resp, 404, "There is no such message.");
	else
		page_redirect(resp, queued ? "/inbox/outbox?done=again" :
		    "/inbox/outbox?done=notagain");
}

/* --- shared with the other inbox pages ------------------------------------ */

bool
inbox_path_id(const struct route *r, const struct request *req,
    char out[UUID_STR_LEN])
{
	char seg[64];

	return route_wild(r, req, seg, sizeof seg) && uuid_canonical(seg, out);
}

int
inbox_account_get(struct cgi *cgi, struct inbox_account *a, char **cause)
{
	PGresult *res;
	int found;

	memset(a, 0, sizeof *a);
	res = db_exec(cgi->db, "SELECT id, google_email"
	    " FROM rally.google_connections"
	    " WHERE tenant_id = rally.current_tenant()"
	    " AND user_id = rally.current_user_id() AND mail_enabled"
	    " AND status = 'active' ORDER BY connected_at, id LIMIT 1", 0, NULL,
	    cause);
	if (res == NULL)
		return -1;
	if ((found = PQntuples(res)) == 1) {
		(void)uuid_canonical(PQgetvalue(res, 0, 0), a->connection_id);
		a->google_email = xstrdup(PQgetvalue(res, 0, 1));
	}
	PQclear(res);
	return found;
}

void
inbox_account_clear(struct inbox_account *a)
{
	free(a->google_email);
	a->google_email = NULL;
}

void
inbox_connect_first(struct page *p)
{
	html(&p->sb, "<section class=\"card\"><h2>Connect Google first</h2>"
	    "<p>Rally shows and sends your mail through your Gmail account. "
	    "<a href=\"/integrations\">Connect Google</a> and switch Email "
	    "on; your mail then appears here.</p></section>");
}

const struct route route_inbox = {
	.method = "GET", .path = "/inbox", .handler = inbox_list,
	.flags = ROUTE_SIGNED_IN,
};
const struct route route_inbox_outbox = {
	.method = "GET", .path = "/inbox/outbox", .handler = outbox,
	.flags = ROUTE_SIGNED_IN,
};
const struct route route_inbox_outbox_cancel = {
	.method = "POST", .path = "/inbox/outbox/*/cancel",
	.handler = outbox_cancel, .flags = ROUTE_SIGNED_IN,
};
const struct route route_inbox_outbox_retry = {
	.method = "POST", .path = "/inbox/outbox/*/retry",
	.handler = outbox_retry, .flags = ROUTE_SIGNED_IN,
};
