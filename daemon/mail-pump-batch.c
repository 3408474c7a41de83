/* SPDX-License-Identifier: ISC */
/*
 * mail-pump-batch: the pump's fetcher through Gmail's batch endpoint
 * (mail.fetch = batch, bulk work only: a full sync, a reconcile).  Up to
 * PUMP_BATCH_CALLS messages.get go in one request, two requests in
 * flight; each answer part goes where a single fetch's answer would
 * (pump_answer).  A part that is a rate limit, a 5xx, anything else but
 * 200 or 404, or no part at all, is fetched again on its own, with
 * lib/http's backoff; so is every message of an answer that does not
 * parse.  Nothing a batch leaves out is lost.
 */
#include "config.h"

#include <sys/queue.h>

#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "google.h"
#include "http-batch.h"
#include "mail-pump-int.h"
#include "rallyd.h"
#include "urlenc.h"
#include "util.h"

#define BOUNDARY_BYTES 12

/* The path of google.gmail_url ("/gmail/v1"): inner requests name it. */
static const char *
gmail_path(const char *url)
{
	const char *p = strstr(url, "://");

	p = p != NULL ? strchr(p + 3, '/') : NULL;
	return p != NULL ? p : "";
}

static void
batch_part(struct mail_pump *p, struct fetch *f,
    const struct http_batch_part *part)
{
	struct gresp g = { .status = part->status, .body = part->body,
		.body_len = part->body_len, .reason = "", .message = "",
		.retry_after_ms = -1 };

	if (part->status >= 200 && part->status < 300)
		g.err = GERR_OK;
	else if (part->status == 404)
		g.err = GERR_NOT_FOUND;
	else {
		p->batch_retried++;
		pump_requeue(p, f);
		return;
	}
	pump_answer(p, f, &g);
}

/* Whether a batch that failed whole is worth its messages one by one. */
static bool
batch_retry_single(enum gerr err)
{
	return err == GERR_RATE_LIMITED || err == GERR_UNAVAILABLE ||
	    err == GERR_MALFORMED || err == GERR_REJECTED ||
	    err == GERR_NOT_FOUND;
}

static void
batch_requeue_all(struct mail_pump *p, struct pbatch *pb, const char *why)
{
	log_emit(LOG_WARNING, NULL, &p->log, "a batch of %u messages of "
	    "connection %s is fetched again one by one: %s", pb->n, p->conn,
	    why);
	p->batch_retried += pb->n;
	for (unsigned i = 0; i < pb->n; i++)
		pump_requeue(p, pb->f[i]);
}

static void
batch_answer(struct mail_pump *p, struct pbatch *pb, const struct gresp *g)
{
	struct http_batch_part parts[PUMP_BATCH_CALLS];
	char err[160];

	if (g->err != GERR_OK && !batch_retry_single(g->err)) {
		pump_fail(p, gerr_kind(g->err), g->message);
		for (unsigned i = 0; i < pb->n; i++)
			free(pb->f[i]);
		return;
	}
	if (g->err != GERR_OK) {
		batch_requeue_all(p, pb, g->message);
		return;
	}
	if (http_batch_parse(g->content_type, g->body, g->body_len,
	    (size_t)p->d->conf.http_max_response, parts, pb->n, err,
	    sizeof err) != HTTP_BATCH_OK) {
		batch_requeue_all(p, pb, err);
		return;
	}
	for (unsigned i = 0; i < pb->n; i++) {
		if (p->failed || p->freed)
			free(pb->f[i]);
		else
			batch_part(p, pb->f[i], &parts[i]);
	}
}

static void
batch_cb(const struct gresp *g, void *arg)
{
	struct pbatch *pb = arg;
	struct mail_pump *p = pb->p;

	TAILQ_REMOVE(&p->batches, pb, entry);
	for (unsigned i = 0; i < pb->n; i++)
		TAILQ_REMOVE(&p->inflight, pb->f[i], entry);
	p->ninflight -= pb->n;
	p->busy++;
	batch_answer(p, pb, g);
	free(pb);
	if (!p->freed)
		pump_progress(p);
	pump_release(p);
}

/* The batch's body: one GET per fetch, escaped ids. */
static char *
batch_body(const struct mail_pump *p, const struct pbatch *pb,
    const char *boundary, size_t *len)
{
	const char *base = gmail_path(p->d->conf.google_gmail_url);
	char *paths[PUMP_BATCH_CALLS], *id, *body;

	for (unsigned i = 0; i < pb->n; i++) {
		id = urlenc_escape(pb->f[i]->id);
		paths[i] = xasprintf("%s/users/me/messages/%s?format=full",
		    base, id);
		free(id);
	}
	body = http_batch_request(boundary, (const char *const *)paths, pb->n,
	    len);
	for (unsigned i = 0; i < pb->n; i++)
		free(paths[i]);
	return body;
}

/*
 * Calls a batch may carry: its units (5 each) must fit in what a bulk
 * grant may take of the project bucket, the burst less its quarter kept
 * for ordinary calls, or it would wait for a grant that never comes; and
 * in the connection's burst, or Google would meet a whole batch's units at
 * one instant where its per-user limit allows that burst only.
 */
unsigned
pump_batch_calls(const struct conf *c)
{
	int64_t units = c->mail_quota_burst;
	int64_t project = c->mail_project_burst - c->mail_project_burst / 4;

	if (c->mail_project_rate != 0 && project < units)
		units = project;
	if (units / 5 >= PUMP_BATCH_CALLS)
		return PUMP_BATCH_CALLS;
	return units >= 5 ? (unsigned)(units / 5) : 1;
}

void
pump_batch_issue(struct mail_pump *p)
{
	struct pbatch *pb = xcalloc(1, sizeof *pb +
	    PUMP_BATCH_CALLS * sizeof pb->f[0]);
	unsigned char rnd[BOUNDARY_BYTES];
	char boundary[2 * BOUNDARY_BYTES + 8] = "batch_";
	char *url, *body;
	struct fetch *f;
	size_t len;
	unsigned max = pump_batch_calls(&p->d->conf);

	pb->p = p;
	while (pb->n < max && (f = TAILQ_FIRST(&p->pending)) !=
	    NULL && !f->single) {
		TAILQ_REMOVE(&p->pending, f, entry);
		p->npending--;
		TAILQ_INSERT_TAIL(&p->inflight, f, entry);
		p->ninflight++;
		pb->f[pb->n++] = f;
	}
	random_bytes(rnd, sizeof rnd);
	hex_encode(rnd, sizeof rnd, boundary + 6);
	body = batch_body(p, pb, boundary, &len);
	url = google_gmail_batch_url(&p->d->conf);
	TAILQ_INSERT_TAIL(&p->batches, pb, entry);
	google_call_batch(p->d, p->tenant, p->conn, url, boundary, body, len,
	    pb->n, batch_cb, pb);
	free(url);
}

void
pump_batch_drop(struct mail_pump *p)
{
	struct pbatch *pb;

	while ((pb = TAILQ_FIRST(&p->batches)) != NULL) {
		TAILQ_REMOVE(&p->batches, pb, entry);
		google_cancel(p->d, pb);
		free(pb);
	}
}
