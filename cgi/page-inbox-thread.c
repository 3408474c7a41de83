/* SPDX-License-Identifier: ISC */
/*
 * One thread of the inbox (docs/web.md, "Inbox"):
 *
 * GET /inbox/<thread>: its messages in order, headers and text bodies
 * escaped, HTML bodies only in a sandboxed frame; the label changes asked
 * for and not yet at Gmail; what the user sent into it from Rally and
 * where that is; the actions, and the reply form (page-inbox-send.c).
 * POST /inbox/<thread>/act: read, unread, archive, unarchive, star,
 * unstar, trash, untrash (a row of rally.mail_label_ops, which rallyd
 * applies at Gmail) or share, private (the thread's visibility, at once).
 * GET /inbox/message/<message>/html: the stored HTML body, for the frame
 * only, under a Content-Security-Policy that runs nothing and loads
 * nothing from elsewhere.
 *
 * Every id is looked up under row-level security: a thread the user may
 * not see, another tenant's, and no thread at all get the same 404.  The
 * owner acts; a teammate reading a shared thread only reads.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "inbox.h"
#include "session.h"

/* Messages shown; a thread longer than that shows its newest ones. */
#define THREAD_MAX_MESSAGES 200

/*
 * The frame's policy: no script (sandbox without allow-scripts, and no
 * script source), nothing fetched from anywhere (images only inline as
 * data: URLs, so a remote image cannot tell the sender the mail was
 * read), inline styles allowed because mail is styled that way.
 */
#define NO_THREAD "There is no such conversation."

#define MAIL_CSP \
	"sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:"

struct thread {
	char id[UUID_STR_LEN];
	char *subject;
	char *owner;
	bool mine, shared;
	/* Gmail's state with the pending changes applied in order. */
	bool unread, starred, inbox, trash;
	bool connected;		/* the owner's mail connection is on */
	char *account;		/* its Gmail address; NULL for a teammate */
	int pending;
};

static const struct {
	const char *op;
	const char *label;	/* the button */
	const char *done;	/* the notice after it */
} ops[] = {
	{ "read", "Mark as read", "Marked as read." },
	{ "unread", "Mark as unread", "Marked as unread." },
	{ "archive", "Archive", "Archived." },
	{ "unarchive", "Move to Inbox", "Moved to the Inbox." },
	{ "star", "Star", "Starred." },
	{ "unstar", "Unstar", "Star removed." },
	{ "trash", "Move to Trash", "Moved to Trash." },
	{ "untrash", "Restore from Trash", "Restored from Trash." },
};

static bool
op_known(const char *op)
{
	for (size_t k = 0; k < nitems(ops); k++)
		if (strcmp(op, ops[k].op) == 0)
			return true;
	return false;
}

static bool
is_true(const PGresult *res, int row, int col)
{
	return strcmp(PQgetvalue(res, row, col), "t") == 0;
}

static void
thread_clear(struct thread *t)
{
	free(t->subject);
	free(t->owner);
	free(t->account);
}

/* What a pending op changes in the state the page shows. */
static void
thread_apply_op(struct thread *t, const char *op)
{
	bool undo = strncmp(op, "un", 2) == 0;
	const char *what = undo ? op + 2 : op;

	if (strcmp(op, "read") == 0)
		t->unread = false;
	else if (strcmp(op, "unread") == 0)
		t->unread = true;
	else if (strcmp(what, "archive") == 0)
		t->inbox = undo;
	else if (strcmp(what, "star") == 0)
		t->starred = !undo;
	else if (strcmp(what, "trash") == 0)
		t->trash = !undo;
}

/*
 * The thread as the user may see it: 1, 0 when not (the 404), -1 on a
 * database error.
 */
static int
thread_load(struct cgi *cgi, const char *id, struct thread *t, char **cause)
{
	const char *params[1] = { id };
	PGresult *res;

	memset(t, 0, sizeof *t);
	res = db_exec(cgi->db, "SELECT coalesce(t.subject, ''),"
	    " coalesce(nullif(u.name, ''), u.email),"
	    " t.user_id = rally.current_user_id(), t.visibility = 'shared',"
	    " 'UNREAD' = any (t.label_ids), 'STARRED' = any (t.label_ids),"
	    " 'INBOX' = any (t.label_ids), 'TRASH' = any (t.label_ids),"
	    " EXISTS (SELECT 1 FROM rally.google_connections c"
	    "  WHERE c.tenant_id = t.tenant_id AND c.id = t.connection_id"
	    "  AND c.mail_enabled AND c.status = 'active'),"
	    " (SELECT c.google_email FROM rally.google_connections c"
	    "  WHERE c.tenant_id = t.tenant_id AND c.id = t.connection_id)"
	    " FROM rally.mail_threads t JOIN rally.users u"
	    " ON u.tenant_id = t.tenant_id AND u.id = t.user_id"
	    " WHERE t.tenant_id = rally.current_tenant() AND t.id = $1", 1,
	    params, cause);
	if (res == NULL)
		return -1;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return 0;
	}
	memcpy(t->id, id, UUID_STR_LEN);
	t->subject = xstrdup(PQgetvalue(res, 0, 0));
	t->owner = xstrdup(PQgetvalue(res, 0, 1));
	t->mine = is_true(res, 0, 2);
	t->shared = is_true(res, 0, 3);
	t->unread = is_true(res, 0, 4);
	t->starred = is_true(res, 0, 5);
	t->inbox = is_true(res, 0, 6);
	t->trash = is_true(res, 0, 7);
	t->connected = is_true(res, 0, 8);
	if (!PQgetisnull(res, 0, 9))
		t->account = xstrdup(PQgetvalue(res, 0, 9));
	PQclear(res);
	return 1;
}

/* --- the page ------------------------------------------------------------- */

#define THREAD_SQL_MESSAGES \
	"SELECT m.id, coalesce(m.from_addr, ''), coalesce(m.reply_to, '')," \
	" array_to_string(m.to_addrs, ', ')," \
	" array_to_string(m.cc_addrs, ', ')," \
	" CASE WHEN m.user_id = rally.current_user_id()" \
	"  THEN array_to_string(m.bcc_addrs, ', ') ELSE '' END," \
	" coalesce(m.subject, ''), m.body_text, m.body_html IS NOT NULL," \
	" to_char(m.internal_date, 'FMDD Mon YYYY HH24:MI')," \
	" 'UNREAD' = any (m.label_ids), m.body_text IS NULL, m.gmail_id" \
	" FROM (SELECT * FROM rally.mail_messages" \
	"  WHERE tenant_id = rally.current_tenant() AND thread_id = $1" \
	"  ORDER BY internal_date DESC NULLS LAST, id DESC LIMIT 200) m" \
	" ORDER BY m.internal_date NULLS FIRST, m.id"
enum { M_ID, M_FROM, M_REPLYTO, M_TO, M_CC, M_BCC, M_SUBJECT, M_TEXT,
    M_HAS_HTML, M_DATE, M_UNREAD, M_NO_TEXT, M_GMAIL_ID };

#define THREAD_SQL_ATTACHMENTS \
	"SELECT m.id, coalesce(a->>'filename', ''), coalesce(a->>'mime_type'," \
	" a->>'mimeType', ''), coalesce(pg_size_pretty(CASE WHEN" \
	" a->>'size' ~ '^[0-9]{1,18}$' THEN (a->>'size')::bigint END), '')" \
	" FROM rally.mail_messages m, jsonb_array_elements(m.attachments) a" \
	" WHERE m.tenant_id = rally.current_tenant() AND m.thread_id = $1" \
	" AND jsonb_typeof(a) = 'object' ORDER BY m.id LIMIT 2000"

static void
header_line(struct page *p, const char *name, const char *value)
{
	if (value[0] != '\0')
		html(&p->sb, "<dt>%s</dt><dd>%s</dd>", name, value);
}

static void
message_attachments(struct page *p, const PGresult *att, const char *id)
{
	bool any = false;

	for (int i = 0; i < PQntuples(att); i++) {
		const char *name = PQgetvalue(att, i, 1);

		if (strcmp(PQgetvalue(att, i, 0), id) != 0)
			continue;
		if (!any)
			html(&p->sb, "<h4>Attachments</h4><p class=\"muted\">"
			    "Rally keeps only their names: open the message "
			    "in Gmail to download them.</p>"
			    "<ul class=\"attachments\">");
		any = true;
		html(&p->sb, "<li>%s <span class=\"muted\">%s%r%s</span></li>",
		    name[0] != '\0' ? name : "(no name)", PQgetvalue(att, i, 2),
		    PQgetvalue(att, i, 3)[0] != '\0' ? ", " : "",
		    PQgetvalue(att, i, 3));
	}
	if (any)
		html(&p->sb, "</ul>");
}

static void
message_body(struct page *p, const PGresult *res, int i)
{
	const char *id = PQgetvalue(res, i, M_ID);

	if (is_true(res, i, M_HAS_HTML))
		html(&p->sb, "<iframe class=\"mail\" sandbox "
		    "src=\"/inbox/message/%u/html\" title=\"Message from %s\" "
		    "referrerpolicy=\"no-referrer\"></iframe>", id,
		    PQgetvalue(res, i, M_FROM));
	if (!is_true(res, i, M_NO_TEXT) && (!is_true(res, i, M_HAS_HTML) ||
	    PQgetvalue(res, i, M_TEXT)[0] != '\0')) {
		if (is_true(res, i, M_HAS_HTML))
			html(&p->sb, "<details><summary>Plain text version"
			    "</summary>");
		html(&p->sb, "<pre class=\"mail\">%s</pre>",
		    PQgetvalue(res, i, M_TEXT));
		if (is_true(res, i, M_HAS_HTML))
			html(&p->sb, "</details>");
	} else if (!is_true(res, i, M_HAS_HTML))
		html(&p->sb, "<p class=\"muted\">This message has no text."
		    "</p>");
}

/*
 * Gmail's own view of the message, for the owner: where the attachments
 * are, and the whole of a long thread.
 */
static void
message_gmail_link(struct page *p, const char *account, const char *gmail_id)
{
	if (account == NULL)
		return;
	html(&p->sb, "<p><a href=\"https://mail.google.com/mail/?authuser=%u"
	    "#all/%u\" rel=\"noreferrer\">Open in Gmail</a></p>", account,
	    gmail_id);
}

static void
message_article(struct page *p, const PGresult *res, int i,
    const PGresult *att, const char *account)
{
	const char *subject = PQgetvalue(res, i, M_SUBJECT);

	html(&p->sb, "<article class=\"message\" aria-labelledby=\"m-%s\">"
	    "<h3 id=\"m-%s\">%s%r</h3><dl class=\"headers\">",
	    PQgetvalue(res, i, M_ID), PQgetvalue(res, i, M_ID),
	    PQgetvalue(res, i, M_FROM)[0] != '\0' ? PQgetvalue(res, i, M_FROM) :
	    "(unknown sender)", is_true(res, i, M_UNREAD) ?
	    " <span class=\"badge\">Unread</span>" : "");
	header_line(p, "Date", PQgetvalue(res, i, M_DATE));
	header_line(p, "To", PQgetvalue(res, i, M_TO));
	header_line(p, "Cc", PQgetvalue(res, i, M_CC));
	header_line(p, "Bcc", PQgetvalue(res, i, M_BCC));
	header_line(p, "Reply-To", PQgetvalue(res, i, M_REPLYTO));
	header_line(p, "Subject", subject);
	html(&p->sb, "</dl>");
	message_body(p, res, i);
	message_attachments(p, att, PQgetvalue(res, i, M_ID));
	message_gmail_link(p, account, PQgetvalue(res, i, M_GMAIL_ID));
	html(&p->sb, "</article>");
}

static int
thread_messages(struct page *p, const struct thread *t, char **cause)
{
	const char *params[1] = { t->id };
	PGresult *res, *att;
	int n;

	res = db_exec(p->cgi->db, THREAD_SQL_MESSAGES, 1, params, cause);
	if (res == NULL)
		return -1;
	att = db_exec(p->cgi->db, THREAD_SQL_ATTACHMENTS, 1, params, cause);
	if (att == NULL) {
		PQclear(res);
		return -1;
	}
	if ((n = PQntuples(res)) == THREAD_MAX_MESSAGES)
		html(&p->sb, "<p class=\"muted\">This thread is long: here "
		    "are its %d newest messages. Gmail has them all.</p>", n);
	html(&p->sb, "<h2>Messages</h2>");
	for (int i = 0; i < n; i++)
		message_article(p, res, i, att, t->account);
	PQclear(att);
	PQclear(res);
	return 0;
}

/*
 * The changes asked for here and not yet at Gmail, and refusals of the
 * last day, oldest first (caller PQclear()s); NULL on a database error.
 */
static PGresult *
thread_ops_load(struct cgi *cgi, struct thread *t, char **cause)
{
	const char *params[1] = { t->id };
	PGresult *res;

	res = db_exec(cgi->db, "SELECT op, state, coalesce(last_error, ''),"
	    " to_char(requested_at, 'FMDD Mon YYYY HH24:MI')"
	    " FROM rally.mail_label_ops"
	    " WHERE tenant_id = rally.current_tenant()"
	    " AND thread_id = $1 AND (state = 'pending' OR (state = 'failed'"
	    " AND requested_at > now() - interval '1 day')) ORDER BY id"
	    " LIMIT 50", 1, params, cause);
	if (res == NULL)
		return NULL;
	for (int i = 0; i < PQntuples(res); i++)
		if (strcmp(PQgetvalue(res, i, 1), "pending") == 0) {
			t->pending++;
			thread_apply_op(t, PQgetvalue(res, i, 0));
		}
	return res;
}

static const char *
op_label(const char *op)
{
	for (size_t k = 0; k < nitems(ops); k++)
		if (strcmp(op, ops[k].op) == 0)
			return ops[k].label;
	return op;
}

static void
thread_ops_list(struct page *p, const PGresult *res)
{
	if (PQntuples(res) == 0)
		return;
	html(&p->sb, "<ul class=\"sync-state\" aria-label=\"Changes not yet "
	    "in Gmail\">");
	for (int i = 0; i < PQntuples(res); i++) {
		const char *label = op_label(PQgetvalue(res, i, 0));
		const char *why = PQgetvalue(res, i, 2);

		if (strcmp(PQgetvalue(res, i, 1), "pending") == 0)
			html(&p->sb, "<li><span class=\"badge\">Waiting to "
			    "reach Gmail</span> %s (asked %s)</li>", label,
			    PQgetvalue(res, i, 3));
		else
			html(&p->sb, "<li><span class=\"badge bad\">Gmail "
			    "refused</span> %s: %s</li>", label,
			    why[0] != '\0' ? why : "no reason given");
	}
	html(&p->sb, "</ul>");
}

/* What the user sent into the thread that Gmail has not brought back. */
static int
thread_outbox(struct page *p, const struct thread *t, char **cause)
{
	const char *params[1] = { t->id };
	PGresult *res;

	res = db_exec(p->cgi->db, "SELECT o.state, coalesce(o.last_error, ''),"
	    " to_char(o.sent_at, 'FMDD Mon YYYY HH24:MI'),"
	    " to_char(o.queued_at, 'FMDD Mon YYYY HH24:MI'),"
	    " array_to_string(o.to_addrs, ', ')"
	    " FROM rally.mail_outbox o"
	    " WHERE o.tenant_id = rally.current_tenant()"
	    " AND o.thread_id = $1 AND NOT EXISTS (SELECT 1"
	    "  FROM rally.mail_messages m WHERE m.tenant_id = o.tenant_id"
	    "  AND m.connection_id = o.connection_id"
	    "  AND m.rfc822_message_id = o.message_id)"
	    " ORDER BY o.queued_at LIMIT 20", 1, params, cause);
	if (res == NULL)
		return -1;
	if (PQntuples(res) > 0)
		html(&p->sb, "<h2>Your replies from Rally</h2>"
		    "<ul class=\"outbox\">");
	for (int i = 0; i < PQntuples(res); i++) {
		html(&p->sb, "<li>To %s, written %s: ", PQgetvalue(res, i, 4),
		    PQgetvalue(res, i, 3));
		inbox_outbox_state(p, PQgetvalue(res, i, 0),
		    PQgetvalue(res, i, 1), PQgetvalue(res, i, 2));
		html(&p->sb, "</li>");
	}
	if (PQntuples(res) > 0)
		html(&p->sb, "</ul>");
	PQclear(res);
	return 0;
}

static void
action_button(struct page *p, const char *op, bool secondary)
{
	for (size_t k = 0; k < nitems(ops); k++)
		if (strcmp(op, ops[k].op) == 0)
			html(&p->sb, "<button type=\"submit\" name=\"op\" "
			    "value=\"%s\"%r>%s</button>", op, secondary ?
			    " class=\"secondary\"" : "", ops[k].label);
}

static void
thread_actions(struct page *p, const struct thread *t)
{
	char *action = xasprintf("/inbox/%s/act", t->id);

	html(&p->sb, "<h2 class=\"sr-only\">Actions</h2>");
	page_form_begin(p, action);
	html(&p->sb, "<p class=\"actions\">");
	if (t->connected) {
		action_button(p, t->unread ? "read" : "unread", true);
		action_button(p, t->inbox ? "archive" : "unarchive", true);
		action_button(p, t->starred ? "unstar" : "star", true);
		action_button(p, t->trash ? "untrash" : "trash", true);
	}
	html(&p->sb, "<button type=\"submit\" name=\"op\" value=\"%s\" "
	    "class=\"secondary\">%s</button></p></form>",
	    t->shared ? "private" : "share",
	    t->shared ? "Make private" : "Share with the team");
	free(action);
	if (!t->connected)
		html(&p->sb, "<p class=\"muted\">Gmail is not connected, so "
		    "this thread cannot be changed or answered from Rally. "
		    "<a href=\"/integrations\">Connect Google</a>.</p>");
}

static void
thread_state(struct page *p, const struct thread *t)
{
	html(&p->sb, "<p>%r%r%r%r%r</p>", t->shared ?
	    "<span class=\"badge ok\">Shared with the team</span> " :
	    "<span class=\"badge\">Private</span> ", t->inbox ?
	    "<span class=\"badge\">Inbox</span> " : "", t->starred ?
	    "<span class=\"badge\">Starred</span> " : "", t->trash ?
	    "<span class=\"badge bad\">Trash</span> " : "", t->unread ?
	    "<span class=\"badge\">Unread</span>" : "");
	if (!t->mine)
		html(&p->sb, "<p class=\"muted\">%s shared this conversation "
		    "with the team. Only they can change or answer it.</p>",
		    t->owner);
}

static const char *
done_text(const char *done)
{
	for (size_t k = 0; k < nitems(ops); k++)
		if (strcmp(done, ops[k].op) == 0)
			return ops[k].done;
	if (strcmp(done, "share") == 0)
		return "Shared with the team: your teammates see this "
		    "thread now.";
	if (strcmp(done, "private") == 0)
		return "Private again: only you see this thread.";
	if (strcmp(done, "replied") == 0)
		return "Your reply is queued. Rally sends it through Gmail in "
		    "a moment; its state shows below.";
	return NULL;
}

static void
thread_notice(struct page *p, const struct thread *t)
{
	const char *word = page_param(p->req, "done");
	const char *done = done_text(word);

	if (done == NULL)
		return;
	page_notice(p, done);
	if (t->mine && op_known(word))
		html(&p->sb, "<p class=\"muted\">The change is waiting to "
		    "reach Gmail; Rally applies it there in a moment.</p>");
}

static int
thread_body(struct page *p, struct thread *t, char **cause)
{
	PGresult *ops_res = NULL;

	/* Pending changes adjust the state shown: read them first. */
	if (t->mine && (ops_res = thread_ops_load(p->cgi, t, cause)) == NULL)
		return -1;
	thread_notice(p, t);
	html(&p->sb, "<p><a href=\"/inbox\">Back to the inbox</a></p>");
	thread_state(p, t);
	if (t->mine) {
		thread_ops_list(p, ops_res);
		PQclear(ops_res);
		thread_actions(p, t);
	}
	if (thread_messages(p, t, cause) == -1 ||
	    (t->mine && thread_outbox(p, t, cause) == -1))
		return -1;
	if (t->mine && t->connected && inbox_reply_form(p, t->id, cause) == -1)
		return -1;
	return 0;
}

static void
thread_page(struct cgi *cgi, struct request *req, struct response *resp)
{
	char id[UUID_STR_LEN], *cause = NULL;
	struct thread t;
	struct page p;
	int found;

	if (!uuid_canonical(route_segment(&route_inbox_thread, req), id)) {
		page_error(cgi, req, resp, 404, NO_THREAD);
		return;
	}
	if ((found = thread_load(cgi, id, &t, &cause)) != 1) {
		if (found == -1)
			page_db_error(cgi, req, resp, cause);
		else
			page_error(cgi, req, resp, 404, NO_THREAD);
		return;
	}
	page_begin(&p, cgi, req, resp, t.subject[0] != '\0' ? t.subject :
	    "(no subject)", "inbox");
	if (thread_body(&p, &t, &cause) == -1) {
		strbuf_free(&p.sb);
		thread_clear(&t);
		page_db_error(cgi, req, resp, cause);
		return;
	}
	thread_clear(&t);
	page_end(&p, 200);
}

/* --- actions -------------------------------------------------------------- */

/* A label change for rallyd to make at Gmail; false when not the owner's. */
static int
act_label(struct cgi *cgi, const char *id, const char *op, char **cause)
{
	const char *params[2] = { id, op };
	PGresult *res;
	int n;

	res = db_exec(cgi->db, "INSERT INTO rally.mail_label_ops (tenant_id,"
	    " user_id, connection_id, thread_id, op)"
	    " SELECT t.tenant_id, t.user_id, t.connection_id, t.id, $2"
	    " FROM rally.mail_threads t JOIN rally.google_connections c"
	    " ON c.tenant_id = t.tenant_id AND c.id = t.connection_id"
	    " WHERE t.tenant_id = rally.current_tenant() AND t.id = $1"
	    " AND t.user_id = rally.current_user_id() AND c.mail_enabled"
	    " AND c.status = 'active' RETURNING 1", 2, params, cause);
	if (res == NULL)
		return -1;
	n = PQntuples(res);
	PQclear(res);
	return n;
}

static int
act_visibility(struct cgi *cgi, const char *id, const char *op, char **cause)
{
	const char *params[2] = { id, strcmp(op, "share") == 0 ? "shared" :
	    "private" };
	PGresult *res;
	int n;

	res = db_exec(cgi->db, "UPDATE rally.mail_threads SET visibility = $2,"
	    " updated_at = now() WHERE tenant_id = rally.current_tenant()"
	    " AND id = $1 AND user_id = rally.current_user_id() RETURNING 1",
	    2, params, cause);
	if (res == NULL)
		return -1;
	n = PQntuples(res);
	PQclear(res);
	return n;
}

static void
thread_act(struct cgi *cgi, struct request *req, struct response *resp)
{
	const char *op = page_field(req, "op");
	char id[UUID_STR_LEN], *cause = NULL, *to;
	bool label = op_known(op);
	struct thread t;
	int found, n;

	if (!inbox_path_id(&route_inbox_thread_act, req, id) ||
	    (found = thread_load(cgi, id, &t, &cause)) == 0) {
		page_error(cgi, req, resp, 404, NO_THREAD);
		return;
	}
	if (found == -1)
		goto dberr;
	if (!label && strcmp(op, "share") != 0 && strcmp(op, "private") != 0) {
		page_error(cgi, req, resp, 400, "Rally does not know that "
		    "action. Go back and use one of the buttons.");
		goto out;
	}
	if (!t.mine) {
		page_error(cgi, req, resp, 403, "Only the owner of this "
		    "conversation can change it.");
		goto out;
	}
	n = label ? act_label(cgi, id, op, &cause) :
	    act_visibility(cgi, id, op, &cause);
	if (n == -1)
		goto dberr;
	if (n == 0) {
		page_error(cgi, req, resp, 409, "Gmail is not connected, so "
		    "Rally cannot change this conversation there. Connect "
		    "Google again and retry.");
		goto out;
	}
	to = xasprintf("/inbox/%s?done=%s", id, op);
	page_redirect(resp, to);
	free(to);
	goto out;
dberr:
	page_db_error(cgi, req, resp, cause);
out:
	thread_clear(&t);
}

/* --- the HTML body, framed ------------------------------------------------ */

static void
message_html(struct cgi *cgi, struct request *req, struct response *resp)
{
	char id[UUID_STR_LEN], *cause = NULL;
	const char *params[1] = { id };
	PGresult *res;

	if (!inbox_path_id(&route_inbox_message_html, req, id)) {
		response_plain(resp, 404, NULL);
		return;
	}
	res = db_exec(cgi->db, "SELECT body_html FROM rally.mail_messages"
	    " WHERE tenant_id = rally.current_tenant() AND id = $1"
	    " AND body_html IS NOT NULL", 1, params, &cause);
	if (res == NULL) {
		page_db_error(cgi, req, resp, cause);
		return;
	}
	if (PQntuples(res) != 1)
		response_plain(resp, 404, NULL);
	else {
		response_set_body(resp, 200, "text/html; charset=utf-8",
		    PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
		response_set_header(resp, "Content-Security-Policy", MAIL_CSP);
		/* Framed by Rally's own thread page only. */
		response_set_header(resp, "X-Frame-Options", "SAMEORIGIN");
		response_set_header(resp, "Referrer-Policy", "no-referrer");
		response_set_header(resp, "Cross-Origin-Resource-Policy",
		    "same-origin");
	}
	PQclear(res);
}

const struct route route_inbox_thread = {
	.method = "GET", .path = "/inbox/", .segment = true,
	.handler = thread_page, .flags = ROUTE_SIGNED_IN,
};
const struct route route_inbox_thread_act = {
	.method = "POST", .path = "/inbox/*/act", .handler = thread_act,
	.flags = ROUTE_SIGNED_IN,
};
const struct route route_inbox_message_html = {
	.method = "GET", .path = "/inbox/message/*/html",
	.handler = message_html, .flags = ROUTE_SIGNED_IN,
};
