/* SPDX-License-Identifier: ISC */
/*
 * mail-pump: one mail sync's stream from Gmail into the database.
 *
 * The sync (job-mailsync.c) feeds it work in order: message ids to fetch
 * whole, label states and deletions history reported, and checkpoints
 * (the sync position that a batch completes: a messages.list page token,
 * or the history id at the end).  The pump fetches messages with bounded
 * concurrency (users.messages.get?format=full), decodes each in C
 * (lib/mail/decode), gathers the rows into batches by count and size, and
 * applies one batch at a time, in order, with rally.mail_apply_batch.
 *
 * A checkpoint rides on the first batch closed once everything queued
 * before it is in a batch, and its callback runs when that batch has
 * committed: a crash repeats work after the last committed checkpoint,
 * never skips any.  Memory is bounded whatever the mailbox: no fetch
 * starts while a full batch waits behind the one being applied.
 *
 * A message Gmail no longer has when it is fetched (404: deleted since it
 * was listed) is removed, if stored, and counted as vanished, not an
 * error.  One that cannot be parsed or decoded is counted by reason in
 * sync_state.skipped, never dropped silently.
 */
#ifndef RALLYD_MAIL_PUMP_H
#define RALLYD_MAIL_PUMP_H

#include <stdbool.h>

#include <json-c/json.h>

#include "log.h"

struct rallyd;
struct mail_pump;

/* A checkpoint's batch committed; result is the database's answer
 * (borrowed): {"written", "labels", "deleted", "swept"}, or {"gone":
 * true} (mail off or revoked), or {"stale": true} (a newer full sync
 * began).  May free the pump. */
typedef void (*mail_pump_cb)(void *arg, json_object *result);
/* The pump failed and does nothing more: kind is a gerr_kind() name,
 * "database" or "malformed"; message one line, safe to log and store.
 * May free the pump. */
typedef void (*mail_pump_error_cb)(void *arg, const char *kind,
    const char *message);

/* Callbacks run from the event loop only, never from a mail_pump_ call. */
struct mail_pump *mail_pump_new(struct rallyd *, const char *tenant_id,
    const char *connection_id, const struct log_ctx *,
    mail_pump_error_cb, void *arg);
/* Its fetches from now on are bulk work (google_call_bulk): a first
 * import's or a reconcile's, after every send and incremental sync. */
void mail_pump_bulk(struct mail_pump *, bool);
/* Drops everything not committed; an apply in flight commits on its own. */
void mail_pump_free(struct mail_pump *);

/* Queues the fetch of one message (a Gmail id, at most 256 bytes). */
void mail_pump_fetch(struct mail_pump *, const char *gmail_id);
/* The message's labels as of history id history_id (label_ids taken). */
void mail_pump_labels(struct mail_pump *, const char *gmail_id,
    json_object *label_ids, const char *history_id);
/* The message is gone at Gmail. */
void mail_pump_delete(struct mail_pump *, const char *gmail_id);
/*
 * Merges fields (taken: "page_token", "history_id", "done",
 * "full_started") into the batch that completes what was queued so far,
 * and calls cb once it committed.  A checkpoint with nothing before it
 * still commits (an empty history page moves the history id).
 */
void mail_pump_checkpoint(struct mail_pump *, json_object *fields,
    mail_pump_cb cb, void *arg);

/* Messages queued to fetch and not yet fetched. */
unsigned mail_pump_backlog(const struct mail_pump *);
/* Adds the pump's counts (fetched, vanished, repaired, skipped, ...) to o. */
void mail_pump_counts(const struct mail_pump *, json_object *o);

#endif
