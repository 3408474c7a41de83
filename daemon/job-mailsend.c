/* SPDX-License-Identifier: ISC */
/*
 * mailsend: sends the mail a connection's user queued in the CRM
 * (rally.mail_outbox) with users.messages.send, oldest first, exactly once
 * across crashes.
 *
 * Before each send the row turns 'sending' (committed); after Gmail's
 * answer it turns 'sent' with Gmail's id.  A row found in 'sending' when
 * the job starts is a send whose answer was lost (a crash, a reset, a
 * timeout): it is looked up in Gmail by its Message-ID, generated when the
 * row was queued (messages.list q=rfc822msgid:), and sent again only when
 * Gmail has no such message.  The raw message is composed in C
 * (lib/mail/compose): header injection and malformed addresses fail the
 * row with the reason, and nothing is sent.  The sender must be the
 * connected account; a reply's Gmail thread comes from the thread row.
 *
 * Files attached to the row (rally.mail_outbox_attachments, written by the
 * web tier) are read only through rally.mail_outbox_attachments_of, which
 * keeps to the row's own user, and checked again here against Gmail's
 * limits.  A message too large for messages.send's JSON body goes to the
 * upload endpoint as multipart/related.  Once sent, the files' bytes are
 * dropped from the database (rally.mail_outbox_end).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <libpq-fe.h>

#include "b64.h"
#include "google.h"
#include "jobs.h"
#include "json.h"
#include "mail/compose.h"
#include "pgloop.h"
#include "rallyd.h"
#include "strbuf.h"
#include "urlenc.h"
#include "util.h"
#include "uuid.h"

/* Rows sent by one run of the job; a longer outbox continues in the next. */
#define MAILSEND_PER_RUN 50
#define MAILSEND_ADDRS_MAX 500

#define MAILSEND_SQL_NEXT "SELECT rally.mail_outbox_next($1, $2)"
#define MAILSEND_SQL_SENDING "SELECT rally.mail_outbox_sending($1, $2, $3)"
#define MAILSEND_SQL_END \
	"SELECT rally.mail_outbox_end($1, $2, $3, $4, $5, $6)"
#define MAILSEND_SQL_ATTACHMENTS \
	"SELECT filename, content_type, size, data" \
	" FROM rally.mail_outbox_attachments_of($1, $2, $3)"
/* Gmail's limit on a message's attachments (migration 0056 says the same). */
#define MAILSEND_ATT_MAX 50
#define MAILSEND_ATT_BYTES 25000000
/* A raw message larger than this goes through the upload endpoint: the
 * JSON body base64url-encodes it again, a third larger. */
#define MAILSEND_SIMPLE_MAX ((size_t)4 << 20)
/*
 * How long after a send that may have gone out (its answer lost) the next
 * attempt waits before it searches Sent: Gmail may still be finishing the
 * call, and its search sees a new message only once indexed.
 */
#define MAILSEND_LOOKUP_WAIT_MS 10000

struct mailsend {
	struct job *job;	/* NULL once cancelled */
	struct rallyd *d;
	char *conn;
	int queries;
	json_object *row;	/* the outbox row at hand */
	char *raw;		/* its message, composed */
	size_t raw_len;
	int sent, failed, found;
};

static void mailsend_next(struct mailsend *);

static void
mailsend_free(struct mailsend *ms)
{
	json_object_put(ms->row);
	free(ms->raw);
	free(ms->conn);
	free(ms);
}

static bool
detached(struct mailsend *ms)
{
	ms->queries--;
	if (ms->job != NULL)
		return false;
	if (ms->queries == 0)
		mailsend_free(ms);
	return true;
}

static void
mailsend_query(struct mailsend *ms, const char *sql, int n,
    const char *const *p, pgloop_result_cb cb)
{
	ms->queries++;
	pgloop_query(ms->d->db, sql, n, p, cb, ms);
}

static void
mailsend_finish(struct mailsend *ms, enum job_outcome outcome,
    const char *error)
{
	struct job *job = ms->job;
	json_object *result = NULL;

	if (outcome == JOB_DONE) {
		result = json_object_new_object();
		json_object_object_add(result, "sent", json_object_new_int(ms->sent));
		json_object_object_add(result, "found_in_sent",
		    json_object_new_int(ms->found));
		json_object_object_add(result, "failed",
		    json_object_new_int(ms->failed));
	}
	google_cancel(ms->d, ms);
	job->state = NULL;
	ms->job = NULL;
	if (ms->queries == 0)
		mailsend_free(ms);
	job_finish(job, outcome, error, result);
}

static const char *
row_str(const struct mailsend *ms, const char *key)
{
	return json_get_string(ms->row, key);
}

static void
end_cb(const PGresult *res, const char *error, void *arg)
{
	struct mailsend *ms = arg;

	if (detached(ms))
		return;
	if (error != NULL) {
		mailsend_finish(ms, JOB_RETRY, error);
		return;
	}
	if (ms->sent + ms->failed + ms->found >= MAILSEND_PER_RUN) {
		/* Leave the rest to a new run, behind other tenants' work. */
		mailsend_finish(ms, JOB_DONE, NULL);
		return;
	}
	mailsend_next(ms);
}

static void
row_end(struct mailsend *ms, const char *state, const char *gmail_id,
    const char *error)
{
	const char *p[] = { ms->job->tenant_id, ms->conn, row_str(ms, "id"),
	    state, gmail_id, error };

	if (strcmp(state, "failed") == 0) {
		ms->failed++;
		log_emit(LOG_WARNING, NULL, &ms->job->log,
		    "outbox message %s of connection %s not sent: %s",
		    row_str(ms, "id"), ms->conn, error);
	}
	mailsend_query(ms, MAILSEND_SQL_END, 6, p, end_cb);
}

static void
send_cb(const struct gresp *g, void *arg)
{
	struct mailsend *ms = arg;
	json_object *o;
	char *msg;

	switch (g->err) {
	case GERR_OK:
		o = json_parse_limited(g->body, g->body_len, 1 << 20, 16, NULL);
		if (json_get_string(o, "id") != NULL) {
			ms->sent++;
			row_end(ms, "sent", json_get_string(o, "id"), NULL);
		} else	/* sent, surely: the lookup settles it next time */
			mailsend_finish(ms, JOB_RETRY, "send: an answer without an id");
		json_object_put(o);
		return;
	case GERR_REVOKED:
	case GERR_NOT_CONNECTED:
		mailsend_finish(ms, JOB_DONE, NULL);
		return;
	case GERR_REJECTED:
		msg = xasprintf("Gmail refused the message: %s", g->message);
		row_end(ms, "failed", NULL, msg);
		free(msg);
		return;
	default:
		/*
		 * Maybe sent: the row stays 'sending' and is looked up first,
		 * once Gmail has had time to finish the call it may still be
		 * doing and to index the message for the search.
		 */
		job_defer(ms->job, g->retry_after_ms > MAILSEND_LOOKUP_WAIT_MS ?
		    g->retry_after_ms : MAILSEND_LOOKUP_WAIT_MS);
		msg = xasprintf("%s: %s", gerr_kind(g->err), g->message);
		mailsend_finish(ms, JOB_RETRY, msg);
		free(msg);
		return;
	}
}

/*
 * The raw message through the upload endpoint (uploadType=multipart: the
 * metadata with the thread, then the message/rfc822 itself).  The boundary
 * is random, and the composed message's own are of another form.
 */
static void
mailsend_upload(struct mailsend *ms)
{
	struct strbuf b = STRBUF_INIT;
	json_object *meta = json_object_new_object();
	unsigned char r[12];
	char boundary[64], *ctype, *url, *body;
	size_t len;

	url = google_gmail_upload_url(&ms->d->conf,
	    "users/me/messages/send?uploadType=multipart");
	if (url == NULL) {
		json_object_put(meta);
		row_end(ms, "failed", NULL, "message too large for messages.send, "
		    "and google.gmail_url has no upload endpoint");
		return;
	}
	random_bytes(r, sizeof r);
	snprintf(boundary, sizeof boundary, "rally-upload-%02x%02x%02x%02x%02x"
	    "%02x%02x%02x%02x%02x%02x%02x", r[0], r[1], r[2], r[3], r[4], r[5],
	    r[6], r[7], r[8], r[9], r[10], r[11]);
	if (row_str(ms, "gmail_thread_id") != NULL)
		json_object_object_add(meta, "threadId",
		    json_object_new_string(row_str(ms, "gmail_thread_id")));
	strbuf_addf(&b, "--%s\r\nContent-Type: application/json; charset=UTF-8"
	    "\r\n\r\n%s\r\n--%s\r\nContent-Type: message/rfc822\r\n\r\n",
	    boundary, json_object_to_json_string_ext(meta,
	    JSON_C_TO_STRING_PLAIN), boundary);
	strbuf_add(&b, ms->raw, ms->raw_len);
	strbuf_addf(&b, "\r\n--%s--\r\n", boundary);
	json_object_put(meta);
	/* The copy in the body is the one sent: a retry composes again. */
	free(ms->raw);
	ms->raw = NULL;
	ms->raw_len = 0;
	body = strbuf_take(&b, &len);
	ctype = xasprintf("multipart/related; boundary=\"%s\"", boundary);
	google_call_upload(ms->d, ms->job->tenant_id, ms->conn, url, ctype,
	    body, len, send_cb, ms);
	free(ctype);
	free(url);
}

static void
sending_cb(const PGresult *res, const char *error, void *arg)
{
	struct mailsend *ms = arg;
	json_object *body;
	char *b64, *url;

	if (detached(ms))
		return;
	if (error != NULL) {
		mailsend_finish(ms, JOB_RETRY, error);
		return;
	}
	if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0)) {
		mailsend_next(ms);	/* cancelled meanwhile */
		return;
	}
	if (ms->raw_len > MAILSEND_SIMPLE_MAX) {
		mailsend_upload(ms);
		return;
	}
	b64 = b64url_encode(ms->raw, ms->raw_len);
	body = json_object_new_object();
	json_object_object_add(body, "raw", json_object_new_string(b64));
	free(b64);
	if (row_str(ms, "gmail_thread_id") != NULL)
		json_object_object_add(body, "threadId",
		    json_object_new_string(row_str(ms, "gmail_thread_id")));
	url = xasprintf("%s/users/me/messages/send", ms->d->conf.google_gmail_url);
	/* Once: a retry after a cut answer would send it twice. */
	google_call_once(ms->d, ms->job->tenant_id, ms->conn, "POST", url,
	    body, send_cb, ms);
	json_object_put(body);
	free(url);
}

/* The address of a From value ("Name <a@b>" or "a@b"), borrowed into buf. */
static const char *
addr_spec(const char *from, char *buf, size_t size)
{
	const char *lt = strrchr(from, '<'), *gt;

	if (lt == NULL || (gt = strchr(lt, '>')) == NULL)
		return from;
	if ((size_t)(gt - lt - 1) >= size)
		return "";
	memcpy(buf, lt + 1, (size_t)(gt - lt - 1));
	buf[gt - lt - 1] = '\0';
	return buf;
}

/* The strings of an array member, borrowed; NULL when not all strings. */
static const char **
row_list(const struct mailsend *ms, const char *key, size_t *n)
{
	json_object *a;
	const char **v;

	*n = 0;
	if (!json_object_object_get_ex(ms->row, key, &a) ||
	    !json_object_is_type(a, json_type_array) ||
	    json_object_array_length(a) > MAILSEND_ADDRS_MAX)
		return NULL;
	*n = json_object_array_length(a);
	v = xcalloc(*n + 1, sizeof *v);
	for (size_t i = 0; i < *n; i++)
		if ((v[i] = json_object_get_string(json_object_array_get_idx(a,
		    i))) == NULL) {
			free(v);
			return NULL;
		}
	return v;
}

/* Composes the row's message into ms->raw; -1 with err on a bad row. */
static int
mailsend_compose(struct mailsend *ms, const struct mail_attachment *att,
    size_t natt, char *err, size_t errlen)
{
	struct mail_draft m;
	const char **to, **cc, **bcc;
	int rc;

	memset(&m, 0, sizeof m);
	m.att = att;
	m.natt = natt;
	to = row_list(ms, "to", &m.nto);
	cc = row_list(ms, "cc", &m.ncc);
	bcc = row_list(ms, "bcc", &m.nbcc);
	m.to = to;
	m.cc = cc;
	m.bcc = bcc;
	m.from = row_str(ms, "from");
	m.subject = row_str(ms, "subject");
	m.message_id = row_str(ms, "message_id");
	m.in_reply_to = row_str(ms, "in_reply_to");
	m.references = row_str(ms, "references");
	m.body_text = row_str(ms, "body_text");
	m.body_html = row_str(ms, "body_html");
	m.date = time(NULL);
	free(ms->raw);
	ms->raw = NULL;
	if (to == NULL || cc == NULL || bcc == NULL) {
		snprintf(err, errlen, "recipients are not a list of addresses");
		rc = -1;
	} else
		rc = mail_compose(&m, &ms->raw, &ms->raw_len, err, errlen);
	free(to);
	free(cc);
	free(bcc);
	return rc;
}

/* Composed: mark the row 'sending', then send. */
static void
mailsend_composed(struct mailsend *ms, const struct mail_attachment *att,
    size_t natt)
{
	const char *p[] = { ms->job->tenant_id, ms->conn, row_str(ms, "id") };
	char err[256];

	if (mailsend_compose(ms, att, natt, err, sizeof err) == -1) {
		row_end(ms, "failed", NULL, err);
		return;
	}
	mailsend_query(ms, MAILSEND_SQL_SENDING, 3, p, sending_cb);
}

/* Why the files of an attachments query cannot be sent, or NULL. */
static const char *
attachments_problem(const PGresult *res)
{
	int n = PQntuples(res);
	long long total = 0, size;

	if (PQnfields(res) != 4)
		return "unreadable attachments";
	if (n > MAILSEND_ATT_MAX)
		return "too many attachments";
	for (int i = 0; i < n; i++) {
		if (PQgetisnull(res, i, 3))
			return "an attachment's content is gone (sent before?)";
		size = atoll(PQgetvalue(res, i, 2));
		if (size < 0 || size > MAILSEND_ATT_BYTES)
			return "attachments too large";
		total += size;
	}
	return total > MAILSEND_ATT_BYTES ? "attachments too large" : NULL;
}

static void
attachments_cb(const PGresult *res, const char *error, void *arg)
{
	struct mailsend *ms = arg;
	struct mail_attachment *att;
	const char *problem;
	size_t n, len;
	int i;

	if (detached(ms))
		return;
	if (error != NULL) {
		mailsend_finish(ms, JOB_RETRY, error);
		return;
	}
	if ((problem = attachments_problem(res)) != NULL) {
		row_end(ms, "failed", NULL, problem);
		return;
	}
	n = (size_t)PQntuples(res);
	att = xcalloc(n + 1, sizeof *att);
	for (i = 0; i < (int)n; i++) {
		att[i].filename = PQgetvalue(res, i, 0);
		att[i].mime_type = PQgetvalue(res, i, 1);
		att[i].data = PQunescapeBytea(
		    (const unsigned char *)PQgetvalue(res, i, 3), &len);
		if (att[i].data == NULL)
			fatalx("mailsend: out of memory");
		att[i].len = len;
	}
	/* The bytes must be what the row says; the database counted them. */
	for (i = 0; i < (int)n; i++)
		if ((long long)att[i].len != atoll(PQgetvalue(res, i, 2)))
			break;
	if (i < (int)n)
		row_end(ms, "failed", NULL, "an attachment's size is wrong");
	else
		mailsend_composed(ms, att, n);
	for (i = 0; i < (int)n; i++)
		PQfreemem((void *)att[i].data);
	free(att);
}

static void
mailsend_send(struct mailsend *ms)
{
	const char *p[] = { ms->job->tenant_id, ms->conn, row_str(ms, "id") };
	const char *from = row_str(ms, "from"), *account = row_str(ms, "account");
	char buf[512];
	json_object *natt;

	if (from == NULL || account == NULL ||
	    strcasecmp(addr_spec(from, buf, sizeof buf), account) != 0) {
		row_end(ms, "failed", NULL,
		    "the sender is not the connected Google account");
		return;
	}
	if (json_object_object_get_ex(ms->row, "attachments", &natt) &&
	    json_object_get_int64(natt) > 0)
		mailsend_query(ms, MAILSEND_SQL_ATTACHMENTS, 3, p,
		    attachments_cb);
	else
		mailsend_composed(ms, NULL, 0);
}

static void
lookup_cb(const struct gresp *g, void *arg)
{
	struct mailsend *ms = arg;
	json_object *o, *msgs;
	const char *id;
	char *msg;

	if (g->err == GERR_REJECTED) {
		/*
		 * Gmail refused the search, not the message, which may be in
		 * Sent: marked failed, it could be sent again by hand.  It
		 * stays 'sending', to be looked for again.
		 */
		msg = xasprintf("looking for the message in Sent: %s: %s",
		    gerr_kind(g->err), g->message);
		mailsend_finish(ms, JOB_RETRY, msg);
		free(msg);
		return;
	}
	if (g->err != GERR_OK) {
		send_cb(g, ms);	/* the same failures mean the same */
		return;
	}
	o = json_parse_limited(g->body, g->body_len, 1 << 20, 16, NULL);
	if (json_object_object_get_ex(o, "messages", &msgs) &&
	    (id = json_get_string(json_object_array_get_idx(msgs, 0), "id"))
	    != NULL) {
		/* Sent before the crash: record it, do not send again. */
		ms->found++;
		row_end(ms, "sent", id, NULL);
	} else if (json_object_is_type(o, json_type_object))
		mailsend_send(ms);
	else
		mailsend_finish(ms, JOB_RETRY, "malformed: a list that is not JSON");
	json_object_put(o);
}

static void
mailsend_lookup(struct mailsend *ms)
{
	char *q = xasprintf("rfc822msgid:%s", row_str(ms, "message_id"));
	char *esc = urlenc_escape(q);
	char *url = xasprintf("%s/users/me/messages?includeSpamTrash=true"
	    "&maxResults=1&q=%s", ms->d->conf.google_gmail_url, esc);

	google_call(ms->d, ms->job->tenant_id, ms->conn, "GET", url, NULL, NULL,
	    lookup_cb, ms);
	free(url);
	free(esc);
	free(q);
}

static void
next_cb(const PGresult *res, const char *error, void *arg)
{
	struct mailsend *ms = arg;

	if (detached(ms))
		return;
	if (error != NULL) {
		mailsend_finish(ms, JOB_RETRY, error);
		return;
	}
	json_object_put(ms->row);
	ms->row = NULL;
	if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0)) {
		mailsend_finish(ms, JOB_DONE, NULL);	/* the outbox is empty */
		return;
	}
	ms->row = json_tokener_parse(PQgetvalue(res, 0, 0));
	if (row_str(ms, "id") == NULL || row_str(ms, "message_id") == NULL) {
		mailsend_finish(ms, JOB_RETRY, "unreadable outbox row");
		return;
	}
	if (strcmp(row_str(ms, "state"), "sending") == 0)
		mailsend_lookup(ms);
	else
		mailsend_send(ms);
}

static void
mailsend_next(struct mailsend *ms)
{
	const char *p[] = { ms->job->tenant_id, ms->conn };

	mailsend_query(ms, MAILSEND_SQL_NEXT, 2, p, next_cb);
}

static void
mailsend_start(struct job *job)
{
	char buf[UUID_STR_LEN];
	const char *conn = job_payload_uuid(job, "connection_id", buf);
	struct mailsend *ms;

	if (conn == NULL) {
		job_finish(job, JOB_FAIL, "payload: connection_id is not a uuid",
		    NULL);
		return;
	}
	ms = xcalloc(1, sizeof *ms);
	ms->job = job;
	ms->d = job->d;
	ms->conn = xstrdup(conn);
	job->state = ms;
	job_set_connection(job, ms->conn);
	mailsend_next(ms);
}

/* At shutdown: a send in flight may or may not reach Gmail; its row stays
 * 'sending' and the next run looks it up before sending again. */
static void
mailsend_cancel(struct job *job)
{
	struct mailsend *ms = job->state;

	if (ms == NULL)
		return;
	job->state = NULL;
	ms->job = NULL;
	google_cancel(ms->d, ms);
	if (ms->queries == 0)
		mailsend_free(ms);
}

const struct job_kind job_mailsend_kind = {
	.name = "mailsend",
	.start = mailsend_start,
	.cancel = mailsend_cancel,
};
