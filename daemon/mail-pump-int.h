/* SPDX-License-Identifier: ISC */
/*
 * mail-pump-int.h: what mail-pump.c (fetches, batches, checkpoints) and
 * mail-pump-body.c (bodies Gmail leaves out of a message) share, and
 * nobody else sees.
 */
#ifndef RALLYD_MAIL_PUMP_INT_H
#define RALLYD_MAIL_PUMP_INT_H

#include <sys/queue.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "log.h"
#include "mail-pump.h"

struct gresp;

/* A batch closes at this many messages or bytes of Google's JSON. */
#define PUMP_BATCH_ROWS 100
#define PUMP_BATCH_BYTES (4u << 20)
/* Fetches handed to the Google layer at once (it runs at most
 * GOOGLE_MAX_PER_CONNECTION of them; the rest wait there, in order). */
#define PUMP_INFLIGHT 8
/* A message's parts nest (multipart in multipart): json depth allowed. */
#define PUMP_JSON_DEPTH 256
#define PUMP_ID_MAX 256
/*
 * The largest messages.get (format=full) or attachments.get answer parsed:
 * Gmail takes messages up to 35 MB, inline data is base64url (4/3) inside
 * JSON, so about 47 MB at most.  http.max_response (32M by default) is the
 * first limit; this one holds when an operator raises that.
 */
#define PUMP_ANSWER_MAX (64u << 20)
/* A message answered with a body that is not JSON (a garbled or cut
 * transfer) is fetched again this many times before the sync fails. */
#define PUMP_FETCH_TRIES 3
/* mail.fetch = batch: calls a batch request carries (Google: at most 100,
 * 50 recommended), and the most messages in flight then, two batches. */
#define PUMP_BATCH_CALLS 50
#define PUMP_BATCH_INFLIGHT (2 * PUMP_BATCH_CALLS)

#define PUMP_SQL_APPLY "SELECT rally.mail_apply_batch($1, $2, $3::jsonb)"

struct fetch {
	struct mail_pump *p;
	uint64_t seq;
	int tries;
	bool single;		/* fetched on its own, never in a batch again */
	/* A message whose body Gmail left out (too large to send inline):
	 * its row waits here while the body parts are fetched, one by one. */
	json_object *row;
	size_t bytes;
	TAILQ_ENTRY(fetch) entry;
	char id[];
};
TAILQ_HEAD(fetch_list, fetch);

/* A batch request in flight (mail-pump-batch.c): its fetches, in order. */
struct pbatch {
	struct mail_pump *p;
	unsigned n;
	TAILQ_ENTRY(pbatch) entry;
	struct fetch *f[];
};
TAILQ_HEAD(pbatch_list, pbatch);

struct checkpoint {
	uint64_t after;		/* the last fetch queued before it */
	json_object *fields;
	mail_pump_cb cb;
	void *arg;
	TAILQ_ENTRY(checkpoint) entry;
};
TAILQ_HEAD(checkpoint_list, checkpoint);

struct batch {
	json_object *messages, *labels, *deleted, *skipped;
	json_object *fields;	/* merged checkpoint fields */
	unsigned rows;
	size_t bytes;
	struct checkpoint_list cps;
	TAILQ_ENTRY(batch) entry;
};
TAILQ_HEAD(batch_list, batch);

struct mail_pump {
	struct rallyd *d;
	char *tenant, *conn, *job;
	struct log_ctx log;
	mail_pump_error_cb on_error;
	void *arg;
	struct fetch_list pending, inflight;
	unsigned npending, ninflight;
	struct pbatch_list batches;
	bool batch;		/* mail.fetch = batch, and bulk work */
	int64_t batch_retried;	/* messages a batch did not answer */
	uint64_t seq;
	struct checkpoint_list waiting;
	struct batch *open;
	struct batch_list closed;
	unsigned nclosed;
	struct batch *applying;
	bool failed;
	bool bulk;		/* mail_pump_bulk: calls yield to ordinary ones */
	int busy;		/* inside a callback: free later */
	bool freed;
	int64_t fetched, vanished, repaired, converted, truncated, skipped;
};

void pump_progress(struct mail_pump *);
/*
 * A fetch's answer (f already out of the in-flight list): its row, its
 * deletion, a retry, or the pump's failure.  f is freed or queued again.
 */
void pump_answer(struct mail_pump *, struct fetch *f, const struct gresp *);
/* Back into the pending list, in its place by seq, fetched on its own. */
void pump_requeue(struct mail_pump *, struct fetch *f);
/* Sends the next batch request from the pending list (mail-pump-batch.c). */
void pump_batch_issue(struct mail_pump *);
/* How many calls one batch may carry under the configured quota buckets. */
unsigned pump_batch_calls(const struct conf *);
/* Cancels the batches in flight; their fetches are the caller's. */
void pump_batch_drop(struct mail_pump *);
void pump_add_row(struct mail_pump *, json_object *row, size_t bytes);
void pump_fail(struct mail_pump *, const char *kind, const char *message);
/* The end of a callback: the last one of a pump being freed frees it. */
void pump_release(struct mail_pump *);

/*
 * Fetches the next body part of f's row that Gmail left out of the
 * message (messages.attachments.get); false when none is left and the
 * row can go into a batch (mail-pump-body.c).
 */
bool pump_body_fetch(struct fetch *);

#endif
