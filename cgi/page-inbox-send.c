/* SPDX-License-Identifier: ISC */
/*
 * Writing mail from the inbox (docs/web.md, "Inbox"):
 *
 * GET /inbox/compose and POST /inbox/send: a new message (To, Cc,
 * Subject, text) from the user's connected Gmail account.
 * POST /inbox/<thread>/reply: a reply whose recipients, subject,
 * In-Reply-To and References come from the thread's rows, never from the
 * form, which carries only the text.
 *
 * Either becomes one row of rally.mail_outbox; rallyd's mailsend composes
 * and sends it (docs/mail-sync.md, "Send").  The draft is checked here
 * with the composer rallyd uses (lib/mail/compose), so a message this page
 * accepts is one rallyd can send, and a line break in To, Cc or Subject
 * (header injection) is refused with words before anything is stored.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "inbox.h"
#include "mail/addr.h"
#include "mail/compose.h"
#include "session.h"

struct addrs {
	const char **v;		/* into text */
	size_t n;
	struct strbuf text;	/* the mailboxes, one a line */
};

struct draft_form {
	char *to, *cc, *subject;
	const char *body;
};

/* mail_addr_split()'s callback: one mailbox more, on its own line. */
static void
addrs_add_cb(void *arg, const char *mailbox, size_t len)
{
	struct addrs *a = arg;

	if (a->text.len > 0)
		strbuf_addc(&a->text, '\n');
	strbuf_add(&a->text, mailbox, len);
	a->n++;
}

/* The mailboxes of a comma-separated list, as the composer takes them. */
static void
addrs_parse(struct addrs *a, const char *list)
{
	char *line;
	size_t i = 0;

	memset(a, 0, sizeof *a);
	/* One more than allowed, so that too many is refused as such. */
	(void)mail_addr_split(list, strlen(list),
	    MAIL_COMPOSE_MAX_RECIPIENTS + 1, addrs_add_cb, a);
	strbuf_addc(&a->text, '\0');
	a->text.len--;
	a->v = xcalloc(a->n + 1, sizeof *a->v);
	for (line = a->text.p; i < a->n; i++) {
		a->v[i] = line;
		if ((line = strchr(line, '\n')) == NULL)
			break;
		*line++ = '\0';
	}
}

/* The text again, lines joined by newlines (addrs_parse cut it). */
static char *
addrs_lines(const struct addrs *a)
{
	struct strbuf sb = STRBUF_INIT;

	for (size_t i = 0; i < a->n; i++) {
		if (i > 0)
			strbuf_addc(&sb, '\n');
		strbuf_adds(&sb, a->v[i]);
	}
	return strbuf_take(&sb, NULL);
}

static void
addrs_free(struct addrs *a)
{
	free(a->v);
	strbuf_free(&a->text);
}

/* "to[2]" of a composer error, as the user counts: "To, address 3". */
static char *
field_words(const char *what, const struct addrs *to, const struct addrs *cc)
{
	const struct addrs *list = strncmp(what, "to[", 3) == 0 ? to : cc;
	size_t i = strtoul(strchr(what, '[') + 1, NULL, 10);

	if (i >= list->n)
		return xstrdup("An address is not one Rally can send to.");
	return xasprintf("\"%s\" in %s is not an email address Rally can send "
	    "to. Write it as name@example.com or Name <name@example.com>, and "
	    "separate addresses with commas.", list->v[i], list == to ? "To" :
	    "Cc");
}

/*
 * Checks the draft as rallyd will compose it: NULL when it can be sent,
 * else a sentence for the user (caller frees).
 */
static char *
draft_check(const char *from, const struct addrs *to, const struct addrs *cc,
    const char *subject, const char *body, const char *in_reply_to,
    const char *references)
{
	struct mail_draft d = {
		.from = from, .to = to->v, .nto = to->n, .cc = cc->v,
		.ncc = cc->n, .subject = subject, .body_text = body,
		.message_id = "<check@rally.invalid>",
		.in_reply_to = in_reply_to, .references = references,
	};
	char err[128], *raw, *bad;
	size_t len;

	if (to->n == 0)
		return xstrdup("Enter at least one address in To.");
	if (mail_compose(&d, &raw, &len, err, sizeof err) == 0) {
		free(raw);
		return NULL;
	}
	if ((bad = strstr(err, "bad address in ")) != NULL)
		return field_words(bad + strlen("bad address in "), to, cc);
	if (strstr(err, "header injection") != NULL)
		return xstrdup("Line breaks are not allowed in To, Cc or "
		    "Subject.");
	if (strcmp(err, "too many recipients") == 0)
		return xasprintf("A message can have at most %d recipients.",
		    MAIL_COMPOSE_MAX_RECIPIENTS);
	if (strcmp(err, "subject too long") == 0)
		return xstrdup("The subject is too long.");
	if (strcmp(err, "message too large") == 0)
		return xstrdup("The message is too long to send.");
	return xstrdup("Rally cannot send this message as it is. Check the "
	    "addresses and the subject.");
}

/* --- compose ------------------------------------------------------------- */

static void
compose_page(struct cgi *cgi, struct request *req, struct response *resp,
    int status, const char *alert, const struct draft_form *f)
{
	struct page p;

	page_begin(&p, cgi, req, resp, "New message", "inbox");
	if (alert != NULL)
		page_alert(&p, alert);
	page_form_begin(&p, "/inbox/send");
	html(&p.sb, "<p><label for=\"to\">To</label>"
	    "<input id=\"to\" name=\"to\" type=\"text\" required "
	    "autocomplete=\"off\" aria-describedby=\"to-help\" value=\"%s\">"
	    "<small id=\"to-help\">Addresses separated by commas, such as "
	    "ann@example.com, Bob Jones &lt;bob@example.com&gt;</small></p>"
	    "<p><label for=\"cc\">Cc</label><input id=\"cc\" name=\"cc\" "
	    "type=\"text\" autocomplete=\"off\" value=\"%s\"></p>"
	    "<p><label for=\"subject\">Subject</label><input id=\"subject\" "
	    "name=\"subject\" type=\"text\" maxlength=\"998\" value=\"%s\"></p>"
	    "<p><label for=\"body\">Message</label><textarea id=\"body\" "
	    "name=\"body\" rows=\"14\">%s</textarea></p>"
	    "<p class=\"actions\"><button type=\"submit\">Send</button>"
	    "<a href=\"/inbox\">Cancel</a></p></form>", f->to, f->cc,
	    f->subject, f->body);
	page_end(&p, status);
}

static void
compose_form(struct cgi *cgi, struct request *req, struct response *resp)
{
	struct draft_form f = { "", "", "", "" };
	struct inbox_account a;
	struct page p;
	char *cause = NULL;
	int found;

	if ((found = inbox_account_get(cgi, &a, &cause)) == -1) {
		page_db_error(cgi, req, resp, cause);
		return;
	}
	inbox_account_clear(&a);
	if (found == 0) {
		page_begin(&p, cgi, req, resp, "New message", "inbox");
		inbox_connect_first(&p);
		page_end(&p, 200);
		return;
	}
	compose_page(cgi, req, resp, 200, NULL, &f);
}

/*
 * Queues the message on the account's connection: 1, 0 when the account
 * is no longer connected, -1 on a database error.  The Message-ID is
 * made here, before sending, so a send whose answer is lost can be found
 * in Gmail's Sent (docs/mail-sync.md, "Send").
 */
static int
outbox_queue(struct cgi *cgi, const struct inbox_account *a,
    const char *const fields[7], char **cause)
{
	const char *params[8] = { a->connection_id, fields[0], fields[1],
	    fields[2], fields[3], fields[4], fields[5], fields[6] };
	PGresult *res;
	int n;

	res = db_exec(cgi->db, "INSERT INTO rally.mail_outbox (tenant_id,"
	    " user_id, connection_id, message_id, from_addr, to_addrs,"
	    " cc_addrs, subject, body_text, thread_id, in_reply_to,"
	    " references_header)"
	    " SELECT c.tenant_id, c.user_id, c.id, '<' || gen_random_uuid() ||"
	    " '@' || split_part(c.google_email, '@', 2) || '>', c.google_email,"
	    " string_to_array($2, E'\\n'), string_to_array($3, E'\\n'), $4, $5,"
	    " $6::uuid, $7, $8 FROM rally.google_connections c"
	    " WHERE c.tenant_id = rally.current_tenant() AND c.id = $1"
	    " AND c.user_id = rally.current_user_id() AND c.mail_enabled"
	    " AND c.status = 'active' RETURNING id", 8, params, cause);
	if (res == NULL)
		return -1;
	n = PQntuples(res);
	PQclear(res);
	return n;
}

static bool
one_line(const char *s)
{
	return strpbrk(s, "\r\n") == NULL;
}

static void
compose_send(struct cgi *cgi, struct request *req, struct response *resp)
{
	struct draft_form f;
	struct inbox_account a;
	struct addrs to, cc;
	char *alert = NULL, *cause = NULL, *tol = NULL, *ccl = NULL;
	const char *fields[7];
	int found = 0, queued;

	f.to = page_trim(page_field(req, "to"));
	f.cc = page_trim(page_field(req, "cc"));
	f.subject = page_trim(page_field(req, "subject"));
	f.body = page_field(req, "body");
	addrs_parse(&to, f.to);
	addrs_parse(&cc, f.cc);
	if ((found = inbox_account_get(cgi, &a, &cause)) == -1)
		goto dberr;
	if (found == 0) {
		page_error(cgi, req, resp, 409, "Connect Google first: Rally "
		    "sends mail through your Gmail account.");
		goto out;
	}
	if (!one_line(f.to) || !one_line(f.cc) || !one_line(f.subject))
		alert = xstrdup("Line breaks are not allowed in To, Cc or "
		    "Subject.");
	else
		alert = draft_check(a.google_email, &to, &cc, f.subject, f.body,
		    NULL, NULL);
	if (alert != NULL) {
		compose_page(cgi, req, resp, 400, alert, &f);
		goto out;
	}
	tol = addrs_lines(&to);
	ccl = addrs_lines(&cc);
	fields[0] = tol;
	fields[1] = ccl;
	fields[2] = f.subject;
	fields[3] = f.body;
	fields[4] = fields[5] = fields[6] = NULL;
	if ((queued = outbox_queue(cgi, &a, fields, &cause)) == -1)
		goto dberr;
	if (queued == 0)
		page_error(cgi, req, resp, 409, "Your Gmail account was "
		    "disconnected meanwhile; nothing was sent.");
	else
		page_redirect(resp, "/inbox/outbox?done=queued");
	goto out;
dberr:
	page_db_error(cgi, req, resp, cause);
out:
	if (found == 1)
		inbox_account_clear(&a);
	addrs_free(&to);
	addrs_free(&cc);
	free(alert);
	free(tol);
	free(ccl);
	free(f.to);
	free(f.cc);
	free(f.subject);
}

/* --- reply ---------------------------------------------------------------- */

/*
 * Everything about a reply but its text, from the rows: the newest
 * message's sender (its Reply-To first) unless that is the user, then
 * the newest message's recipients; its Message-ID as In-Reply-To, and
 * References with it (the last 20 well-formed ids).
 */
#define SEND_SQL_REPLY \
	"WITH t AS (SELECT t.id, coalesce(t.subject, '') subject, c.id conn," \
	"  c.google_email FROM rally.mail_threads t" \
	"  JOIN rally.google_connections c ON c.tenant_id = t.tenant_id" \
	"  AND c.id = t.connection_id" \
	"  WHERE t.tenant_id = rally.current_tenant()" \
	"  AND t.id = $1 AND t.user_id = rally.current_user_id()" \
	"  AND c.mail_enabled AND c.status = 'active')," \
	" m AS (SELECT m.* FROM rally.mail_messages m, t" \
	"  WHERE m.tenant_id = rally.current_tenant() AND m.thread_id = t.id" \
	"  ORDER BY m.internal_date DESC NULLS LAST, m.id DESC LIMIT 200)," \
	" newest AS (SELECT * FROM m ORDER BY internal_date DESC NULLS LAST," \
	"  id DESC LIMIT 1)," \
	" them AS (SELECT coalesce(nullif(m.reply_to, ''), m.from_addr) a" \
	"  FROM m, t WHERE m.from_addr IS NOT NULL AND lower(coalesce(" \
	"  substring(m.from_addr FROM '<([^<>]*)>\\s*$')," \
	"  btrim(m.from_addr)))" \
	"  <> lower(t.google_email)" \
	"  ORDER BY m.internal_date DESC NULLS LAST, m.id DESC LIMIT 1)" \
	" SELECT t.conn, t.google_email, (SELECT a FROM them)," \
	" (SELECT array_to_string(to_addrs, ', ') FROM newest)," \
	" (SELECT rfc822_message_id FROM newest" \
	"  WHERE rfc822_message_id ~ '^<[!-~]+>$'" \
	"  AND length(rfc822_message_id) <= 900)," \
	" (SELECT string_agg(w, ' ' ORDER BY o) FROM (SELECT w, o" \
	"  FROM newest, regexp_split_to_table(btrim(coalesce(" \
	"  newest.references_header, '') || ' ' || coalesce(" \
	"  newest.rfc822_message_id, '')), '\\s+') WITH ORDINALITY x(w, o)" \
	"  WHERE w ~ '^<[!-~]+>$' AND length(w) <= 900" \
	"  ORDER BY o DESC LIMIT 20) r)," \
	" CASE WHEN t.subject ~* '^\\s*re:' THEN t.subject" \
	"  ELSE 'Re: ' || t.subject END FROM t"
enum { R_CONN, R_ACCOUNT, R_THEM, R_MINE_TO, R_IRT, R_REFS, R_SUBJECT };

int
inbox_reply_form(struct page *p, const char *thread_id, char **cause)
{
	const char *params[1] = { thread_id };
	char *action;
	PGresult *res;

	res = db_exec(p->cgi->db, SEND_SQL_REPLY, 1, params, cause);
	if (res == NULL)
		return -1;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return 0;
	}
	action = xasprintf("/inbox/%s/reply", thread_id);
	html(&p->sb, "<h2 id=\"reply\">Reply</h2><dl class=\"headers\">"
	    "<dt>From</dt><dd>%s</dd><dt>To</dt><dd>%s</dd><dt>Subject</dt>"
	    "<dd>%s</dd></dl>", PQgetvalue(res, 0, R_ACCOUNT),
	    PQgetvalue(res, 0, PQgetisnull(res, 0, R_THEM) ? R_MINE_TO :
	    R_THEM), PQgetvalue(res, 0, R_SUBJECT));
	page_form_begin(p, action);
	html(&p->sb, "<p><label for=\"reply-body\">Your reply</label>"
	    "<textarea id=\"reply-body\" name=\"body\" rows=\"8\" required "
	    "aria-describedby=\"reply-help\"></textarea>"
	    "<small id=\"reply-help\">"
	    "Sent from your Gmail account in the same Gmail thread. The "
	    "conversation is not quoted.</small></p>"
	    "<p><button type=\"submit\">Send reply</button></p></form>");
	free(action);
	PQclear(res);
	return 0;
}

/* The reply's recipients: the sender's list, else the user's own To. */
static void
reply_addrs(const PGresult *res, struct addrs *to)
{
	addrs_parse(to, PQgetvalue(res, 0, PQgetisnull(res, 0, R_THEM) ?
	    R_MINE_TO : R_THEM));
}

static const char *
value_or_null(const PGresult *res, int col)
{
	return PQgetisnull(res, 0, col) ? NULL : PQgetvalue(res, 0, col);
}

/* Checks and queues the reply; the response is set either way. */
static int
reply_queue(struct cgi *cgi, struct request *req, struct response *resp,
    const char *thread, const PGresult *r, const char *body, char **cause)
{
	struct inbox_account a = {
		.google_email = PQgetvalue(r, 0, R_ACCOUNT),
	};
	struct addrs to, cc = { 0 };
	const char *fields[7];
	char *alert, *tol, *loc;
	int queued = 1;

	(void)uuid_canonical(PQgetvalue(r, 0, R_CONN), a.connection_id);
	reply_addrs(r, &to);
	alert = draft_check(a.google_email, &to, &cc,
	    PQgetvalue(r, 0, R_SUBJECT), body, value_or_null(r, R_IRT),
	    value_or_null(r, R_REFS));
	if (alert != NULL) {
		/* Nothing the user typed but the text: say what in the thread
		 * stops it, and where else to answer. */
		loc = xasprintf("Rally cannot send a reply in this "
		    "conversation. %s Reply from Gmail instead.", alert);
		page_error(cgi, req, resp, 422, loc);
		free(loc);
		goto out;
	}
	tol = addrs_lines(&to);
	fields[0] = tol;
	fields[1] = "";
	fields[2] = PQgetvalue(r, 0, R_SUBJECT);
	fields[3] = body;
	fields[4] = thread;
	fields[5] = value_or_null(r, R_IRT);
	fields[6] = value_or_null(r, R_REFS);
	queued = outbox_queue(cgi, &a, fields, cause);
	free(tol);
	if (queued == 1) {
		loc = xasprintf("/inbox/%s?done=replied", thread);
		page_redirect(resp, loc);
		free(loc);
	}
out:
	free(alert);
	addrs_free(&to);
	return queued;
}

static void
reply(struct cgi *cgi, struct request *req, struct response *resp)
{
	char id[UUID_STR_LEN], *cause = NULL, *body;
	const char *params[1] = { id };
	PGresult *res = NULL;
	int rc;

	if (!inbox_path_id(&route_inbox_reply, req, id)) {
		page_error(cgi, req, resp, 404, "There is no such "
		    "conversation.");
		return;
	}
	body = page_trim(page_field(req, "body"));
	res = db_exec(cgi->db, SEND_SQL_REPLY, 1, params, &cause);
	if (res == NULL) {
		page_db_error(cgi, req, resp, cause);
		goto out;
	}
	if (PQntuples(res) != 1)
		page_error(cgi, req, resp, 404, "There is no such conversation "
		    "that you can answer from Rally.");
	else if (body[0] == '\0')
		page_error(cgi, req, resp, 400, "Write your reply before "
		    "sending it. Go back to the conversation and try again.");
	else if ((rc = reply_queue(cgi, req, resp, id, res, page_field(req,
	    "body"), &cause)) == -1)
		page_db_error(cgi, req, resp, cause);
	else if (rc == 0)
		page_error(cgi, req, resp, 409, "Your Gmail account was "
		    "disconnected meanwhile; nothing was sent.");
out:
	PQclear(res);
	free(body);
}

const struct route route_inbox_compose = {
	.method = "GET", .path = "/inbox/compose", .handler = compose_form,
	.flags = ROUTE_SIGNED_IN,
};
const struct route route_inbox_send = {
	.method = "POST", .path = "/inbox/send", .handler = compose_send,
	.flags = ROUTE_SIGNED_IN,
};
const struct route route_inbox_reply = {
	.method = "POST", .path = "/inbox/*/reply", .handler = reply,
	.flags = ROUTE_SIGNED_IN,
};
