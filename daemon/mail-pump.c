/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <sys/queue.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "google.h"
#include "json.h"
#include "mail-pump.h"
#include "mail-pump-int.h"
#include "mail/decode.h"
#include "pgloop.h"
#include "rallyd.h"
#include "urlenc.h"
#include "util.h"


static struct batch *
batch_new(void)
{
	struct batch *b = xcalloc(1, sizeof *b);

	b->messages = json_object_new_array();
	b->labels = json_object_new_array();
	b->deleted = json_object_new_array();
	b->skipped = json_object_new_object();
	b->fields = json_object_new_object();
	TAILQ_INIT(&b->cps);
	return b;
}

static void
batch_free(struct batch *b)
{
	struct checkpoint *cp;

	if (b == NULL)
		return;
	while ((cp = TAILQ_FIRST(&b->cps)) != NULL) {
		TAILQ_REMOVE(&b->cps, cp, entry);
		json_object_put(cp->fields);
		free(cp);
	}
	json_object_put(b->messages);
	json_object_put(b->labels);
	json_object_put(b->deleted);
	json_object_put(b->skipped);
	json_object_put(b->fields);
	free(b);
}

static struct batch *
pump_open(struct mail_pump *p)
{
	if (p->open == NULL)
		p->open = batch_new();
	return p->open;
}

static void
pump_skip(struct mail_pump *p, const char *reason)
{
	json_object *skipped = pump_open(p)->skipped, *v;
	int64_t n = 0;

	if (json_object_object_get_ex(skipped, reason, &v))
		n = json_object_get_int64(v);
	json_object_object_add(skipped, reason, json_object_new_int64(n + 1));
	p->skipped++;
}

/* Fetches not answered yet are forgotten: their callbacks never run. */
static void
pump_drop_fetches(struct mail_pump *p)
{
	struct fetch *f;

	pump_batch_drop(p);
	while ((f = TAILQ_FIRST(&p->pending)) != NULL) {
		TAILQ_REMOVE(&p->pending, f, entry);
		free(f);
	}
	while ((f = TAILQ_FIRST(&p->inflight)) != NULL) {
		TAILQ_REMOVE(&p->inflight, f, entry);
		google_cancel(p->d, f);
		json_object_put(f->row);
		free(f);
	}
	p->npending = p->ninflight = 0;
}

static void
pump_really_free(struct mail_pump *p)
{
	struct checkpoint *cp;
	struct batch *b;

	pump_drop_fetches(p);
	while ((cp = TAILQ_FIRST(&p->waiting)) != NULL) {
		TAILQ_REMOVE(&p->waiting, cp, entry);
		json_object_put(cp->fields);
		free(cp);
	}
	while ((b = TAILQ_FIRST(&p->closed)) != NULL) {
		TAILQ_REMOVE(&p->closed, b, entry);
		batch_free(b);
	}
	batch_free(p->open);
	free(p->tenant);
	free(p->conn);
	free(p->job);
	free(p);
}

/* The last callback of a pump being freed frees it. */
void
pump_release(struct mail_pump *p)
{
	if (--p->busy == 0 && p->freed && p->applying == NULL)
		pump_really_free(p);
}

void
pump_fail(struct mail_pump *p, const char *kind, const char *message)
{
	if (p->failed)
		return;
	p->failed = true;
	p->busy++;
	p->on_error(p->arg, kind, message);
	pump_release(p);
}

/* Every fetch up to this one has its row (or its reason) in a batch. */
static uint64_t
pump_done_through(const struct mail_pump *p)
{
	uint64_t low = p->seq + 1;
	const struct fetch *f;

	TAILQ_FOREACH(f, &p->inflight, entry)
		if (f->seq < low)
			low = f->seq;
	if ((f = TAILQ_FIRST(&p->pending)) != NULL && f->seq < low)
		low = f->seq;
	return low - 1;
}

static void
pump_close(struct mail_pump *p)
{
	TAILQ_INSERT_TAIL(&p->closed, p->open, entry);
	p->nclosed++;
	p->open = NULL;
}

/* Attaches the checkpoints whose fetches are all in, closing the batch. */
static void
pump_attach(struct mail_pump *p)
{
	uint64_t through = pump_done_through(p);
	struct checkpoint *cp;
	struct batch *b;
	bool attached = false;

	while ((cp = TAILQ_FIRST(&p->waiting)) != NULL && cp->after <= through) {
		TAILQ_REMOVE(&p->waiting, cp, entry);
		b = pump_open(p);
		json_object_object_foreach(cp->fields, k, v)
			json_object_object_add(b->fields, k, json_object_get(v));
		TAILQ_INSERT_TAIL(&b->cps, cp, entry);
		attached = true;
	}
	if (attached || (p->open != NULL && (p->open->rows >= PUMP_BATCH_ROWS ||
	    p->open->bytes >= PUMP_BATCH_BYTES)))
		pump_close(p);
}

static json_object *
batch_document(struct batch *b)
{
	json_object *doc = json_object_new_object();

	json_object_object_foreach(b->fields, k, v)
		json_object_object_add(doc, k, json_object_get(v));
	json_object_object_add(doc, "messages", json_object_get(b->messages));
	json_object_object_add(doc, "labels", json_object_get(b->labels));
	json_object_object_add(doc, "deleted", json_object_get(b->deleted));
	json_object_object_add(doc, "skipped", json_object_get(b->skipped));
	return doc;
}

static void
apply_committed(struct mail_pump *p, struct batch *b, json_object *r)
{
	struct checkpoint *cp;
	json_object *v;

	if (json_object_object_get_ex(r, "gone", &v)) {
		pump_fail(p, "gone", "mail is off or the connection revoked");
		return;
	}
	if (json_object_object_get_ex(r, "stale", &v)) {
		pump_fail(p, "stale", "a newer full sync began");
		return;
	}
	while ((cp = TAILQ_FIRST(&b->cps)) != NULL && !p->freed) {
		TAILQ_REMOVE(&b->cps, cp, entry);
		cp->cb(cp->arg, r);
		json_object_put(cp->fields);
		free(cp);
	}
}

static void
apply_cb(const PGresult *res, const char *error, void *arg)
{
	struct mail_pump *p = arg;
	struct batch *b = p->applying;
	json_object *r = NULL;

	p->applying = NULL;
	p->busy++;
	if (p->freed || p->failed)
		;
	else if (error != NULL)
		pump_fail(p, strstr(error, "json") ? "malformed" : "database", error);
	else if ((r = json_tokener_parse(PQgetvalue(res, 0, 0))) == NULL)
		pump_fail(p, "database", "unreadable batch result");
	else
		apply_committed(p, b, r);
	json_object_put(r);
	batch_free(b);
	if (!p->freed)
		pump_progress(p);
	pump_release(p);
}

static void
pump_submit(struct mail_pump *p)
{
	struct batch *b = TAILQ_FIRST(&p->closed);
	json_object *doc = batch_document(b);
	const char *params[3] = { p->tenant, p->conn, NULL };

	TAILQ_REMOVE(&p->closed, b, entry);
	p->nclosed--;
	p->applying = b;
	params[2] = json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN);
	pgloop_query(p->d->db, PUMP_SQL_APPLY, 3, params, apply_cb, p);
	json_object_put(doc);
}

void
pump_add_row(struct mail_pump *p, json_object *row, size_t bytes)
{
	struct batch *b = pump_open(p);

	json_object_array_add(b->messages, row);
	b->rows++;
	b->bytes += bytes;
	p->fetched++;
}

/*
 * Decodes a fetched message.  -1: the body is not JSON (nothing stored,
 * fetch it again); 1: its row waits in f for the body parts Gmail left
 * out; 0: done.
 */
static int
pump_row(struct mail_pump *p, struct fetch *f, const struct gresp *g)
{
	struct mail_decode_stats st;
	json_object *msg, *row = NULL;
	char err[128];
	int rc = 0;

	msg = json_parse_limited(g->body, g->body_len, PUMP_ANSWER_MAX,
	    PUMP_JSON_DEPTH, NULL);
	if (msg == NULL)
		return -1;
	memset(&st, 0, sizeof st);
	if (mail_decode(msg, NULL, &row, &st, err, sizeof err) == -1) {
		log_emit(LOG_WARNING, NULL, &p->log,
		    "a message of connection %s is not stored: %s", p->conn, err);
		pump_skip(p, "undecodable");
	} else {
		p->repaired += st.repaired;
		p->converted += st.charset_converted;
		p->truncated += st.truncated;
		f->row = row;
		f->bytes = g->body_len;
		if (st.body_external > 0 && pump_body_fetch(f))
			rc = 1;
		else {
			pump_add_row(p, row, g->body_len);
			f->row = NULL;
		}
	}
	json_object_put(msg);
	return rc;
}

void
pump_requeue(struct mail_pump *p, struct fetch *f)
{
	struct fetch *at;

	/* pump_done_through reads the head as the lowest pending seq. */
	f->single = true;
	TAILQ_FOREACH(at, &p->pending, entry)
		if (at->seq > f->seq)
			break;
	if (at != NULL)
		TAILQ_INSERT_BEFORE(at, f, entry);
	else
		TAILQ_INSERT_TAIL(&p->pending, f, entry);
	p->npending++;
}

void
pump_answer(struct mail_pump *p, struct fetch *f, const struct gresp *g)
{
	int rc;

	switch (g->err) {
	case GERR_OK:
		if ((rc = pump_row(p, f, g)) == 0)
			break;
		if (rc == 1) {
			/* Still in flight: its body parts are being fetched. */
			TAILQ_INSERT_TAIL(&p->inflight, f, entry);
			p->ninflight++;
			return;
		}
		if (++f->tries < PUMP_FETCH_TRIES) {
			pump_requeue(p, f);
			return;
		}
		pump_fail(p, "malformed", "a message that is not JSON");
		break;
	case GERR_NOT_FOUND:
		/* Deleted since it was listed: gone here too, if stored. */
		json_object_array_add(pump_open(p)->deleted,
		    json_object_new_string(f->id));
		p->vanished++;
		break;
	default:
		pump_fail(p, gerr_kind(g->err), g->message);
		break;
	}
	free(f);
}

static void
fetch_cb(const struct gresp *g, void *arg)
{
	struct fetch *f = arg;
	struct mail_pump *p = f->p;

	TAILQ_REMOVE(&p->inflight, f, entry);
	p->ninflight--;
	p->busy++;
	pump_answer(p, f, g);
	if (!p->freed)
		pump_progress(p);
	pump_release(p);
}

static void
pump_issue(struct mail_pump *p)
{
	struct fetch *f = TAILQ_FIRST(&p->pending);
	char *id = urlenc_escape(f->id);
	char *url = xasprintf("%s/users/me/messages/%s?format=full",
	    p->d->conf.google_gmail_url, id);

	TAILQ_REMOVE(&p->pending, f, entry);
	p->npending--;
	TAILQ_INSERT_TAIL(&p->inflight, f, entry);
	p->ninflight++;
	(p->bulk ? google_call_bulk : google_call)(p->d, p->tenant, p->conn,
	    "GET", url, NULL, NULL, fetch_cb, f);
	free(url);
	free(id);
}

void
pump_progress(struct mail_pump *p)
{
	if (p->failed)
		return;
	pump_attach(p);
	if (p->applying == NULL && p->nclosed > 0)
		pump_submit(p);
	/* A full batch waiting: fetch no more until it is being applied. */
	while (p->npending > 0 && p->nclosed == 0) {
		if (p->batch && !TAILQ_FIRST(&p->pending)->single) {
			if (p->ninflight > PUMP_BATCH_INFLIGHT - PUMP_BATCH_CALLS)
				break;
			pump_batch_issue(p);
		} else if (p->ninflight < PUMP_INFLIGHT)
			pump_issue(p);
		else
			break;
	}
}

struct mail_pump *
mail_pump_new(struct rallyd *d, const char *tenant_id,
    const char *connection_id, const struct log_ctx *log,
    mail_pump_error_cb on_error, void *arg)
{
	struct mail_pump *p = xcalloc(1, sizeof *p);

	p->d = d;
	p->tenant = xstrdup(tenant_id);
	p->conn = xstrdup(connection_id);
	p->job = log->job != NULL ? xstrdup(log->job) : NULL;
	p->log.tenant = p->tenant;
	p->log.connection = p->conn;
	p->log.job = p->job;
	p->on_error = on_error;
	p->arg = arg;
	TAILQ_INIT(&p->pending);
	TAILQ_INIT(&p->inflight);
	TAILQ_INIT(&p->batches);
	TAILQ_INIT(&p->waiting);
	TAILQ_INIT(&p->closed);
	return p;
}

void
mail_pump_bulk(struct mail_pump *p, bool bulk)
{
	char *url = google_gmail_batch_url(&p->d->conf);

	p->bulk = bulk;
	/*
	 * Incremental syncs' few fetches stay single: they are not bulk.  A
	 * gmail_url with no batch endpoint beside it fetches single too, and
	 * so does a quota too small for a whole batch (Google's real per-user
	 * rate): such an import is paced by the quota, not by CPU, and one
	 * request a message keeps closer to that pace (bench/gmail
	 * --real-quota: 93 % of it single, 87 % in batches of 5).
	 */
	p->batch = bulk && url != NULL &&
	    strcmp(p->d->conf.mail_fetch, "batch") == 0 &&
	    pump_batch_calls(&p->d->conf) == PUMP_BATCH_CALLS;
	free(url);
}

void
mail_pump_free(struct mail_pump *p)
{
	if (p == NULL)
		return;
	p->freed = true;
	pump_drop_fetches(p);
	if (p->busy == 0 && p->applying == NULL)
		pump_really_free(p);
}

void
mail_pump_fetch(struct mail_pump *p, const char *gmail_id)
{
	size_t len = strnlen(gmail_id, PUMP_ID_MAX + 1);
	struct fetch *f;

	if (len == 0 || len > PUMP_ID_MAX) {
		pump_skip(p, "bad_id");
		return;
	}
	f = xcalloc(1, sizeof *f + len + 1);
	f->p = p;
	f->seq = ++p->seq;
	memcpy(f->id, gmail_id, len);
	TAILQ_INSERT_TAIL(&p->pending, f, entry);
	p->npending++;
	/* Issued from mail_pump_checkpoint or a callback, never here: a
	 * caller queueing a page must not see a callback meanwhile. */
}

void
mail_pump_labels(struct mail_pump *p, const char *gmail_id,
    json_object *label_ids, const char *history_id)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "id", json_object_new_string(gmail_id));
	json_object_object_add(o, "label_ids", label_ids);
	json_object_object_add(o, "history_id",
	    json_object_new_string(history_id));
	json_object_array_add(pump_open(p)->labels, o);
}

void
mail_pump_delete(struct mail_pump *p, const char *gmail_id)
{
	json_object_array_add(pump_open(p)->deleted,
	    json_object_new_string(gmail_id));
}

void
mail_pump_checkpoint(struct mail_pump *p, json_object *fields,
    mail_pump_cb cb, void *arg)
{
	struct checkpoint *cp = xcalloc(1, sizeof *cp);

	cp->after = p->seq;
	cp->fields = fields;
	cp->cb = cb;
	cp->arg = arg;
	TAILQ_INSERT_TAIL(&p->waiting, cp, entry);
	pump_progress(p);
}

unsigned
mail_pump_backlog(const struct mail_pump *p)
{
	return p->npending + p->ninflight;
}

void
mail_pump_counts(const struct mail_pump *p, json_object *o)
{
	static const char *const names[] = {
		"fetched", "vanished", "repaired", "charset_converted",
		"truncated", "skipped",
	};
	const int64_t v[] = { p->fetched, p->vanished, p->repaired,
		p->converted, p->truncated, p->skipped };

	for (size_t i = 0; i < nitems(names); i++)
		json_object_object_add(o, names[i], json_object_new_int64(v[i]));
	if (p->batch)
		json_object_object_add(o, "batch_retried",
		    json_object_new_int64(p->batch_retried));
}
