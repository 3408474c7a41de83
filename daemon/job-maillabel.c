/* SPDX-License-Identifier: ISC */
/*
 * maillabel: applies at Gmail the label changes users asked for in the
 * CRM (rally.mail_label_ops: read, unread, archive, unarchive, star,
 * unstar, trash, untrash), one connection at a time, oldest first.
 *
 * An op on one message is a messages.modify (or trash, untrash); on a
 * thread, a messages.batchModify of the thread's messages (trash and
 * untrash one message at a time: Gmail has no batch form of them).  The
 * database says which messages an op reaches and whether the op is the
 * connection's own user's (rally.mail_label_ops_due): a row the web tier
 * wrote for another mailbox reaches nothing.  When Gmail takes an op the
 * CRM's copy changes at once; history brings Gmail's own word later.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "google.h"
#include "jobs.h"
#include "json.h"
#include "pgloop.h"
#include "rallyd.h"
#include "urlenc.h"
#include "util.h"
#include "uuid.h"

/* Ops read at once; more are read when these are done. */
#define MAILLABEL_BATCH 50
/* batchModify takes at most this many ids. */
#define MAILLABEL_IDS_MAX 1000

#define MAILLABEL_SQL_DUE \
	"SELECT id, op, to_jsonb(gmail_ids)," \
	"  to_jsonb((rally.mail_op_labels(op)).add_ids)," \
	"  to_jsonb((rally.mail_op_labels(op)).remove_ids)" \
	" FROM rally.mail_label_ops_due($1, $2, $3::int)"

#define MAILLABEL_SQL_END \
	"SELECT rally.mail_label_op_end($1, $2, $3::bigint, $4, $5)"

struct maillabel {
	struct job *job;	/* NULL once cancelled */
	struct rallyd *d;
	char *conn;
	int queries;
	PGresult *due;		/* the ops being applied */
	int row;		/* the op at hand */
	json_object *ids;	/* its Gmail ids */
	size_t next_id;		/* trash/untrash: the id at hand */
	int done, failed;
};

static void maillabel_next(struct maillabel *);
static void maillabel_load(struct maillabel *);

static void
maillabel_free(struct maillabel *ml)
{
	PQclear(ml->due);
	json_object_put(ml->ids);
	free(ml->conn);
	free(ml);
}

static bool
detached(struct maillabel *ml)
{
	ml->queries--;
	if (ml->job != NULL)
		return false;
	if (ml->queries == 0)
		maillabel_free(ml);
	return true;
}

static void
maillabel_finish(struct maillabel *ml, enum job_outcome outcome,
    const char *error)
{
	struct job *job = ml->job;
	json_object *result = NULL;

	if (outcome == JOB_DONE) {
		result = json_object_new_object();
		json_object_object_add(result, "done", json_object_new_int(ml->done));
		json_object_object_add(result, "failed",
		    json_object_new_int(ml->failed));
	}
	google_cancel(ml->d, ml);
	job->state = NULL;
	ml->job = NULL;
	if (ml->queries == 0)
		maillabel_free(ml);
	job_finish(job, outcome, error, result);
}

static const char *
op_name(const struct maillabel *ml)
{
	return PQgetvalue(ml->due, ml->row, 1);
}

static bool
op_is_trash(const struct maillabel *ml)
{
	return strcmp(op_name(ml), "trash") == 0 ||
	    strcmp(op_name(ml), "untrash") == 0;
}

static void
end_cb(const PGresult *res, const char *error, void *arg)
{
	struct maillabel *ml = arg;

	if (detached(ml))
		return;
	if (error != NULL) {
		maillabel_finish(ml, JOB_RETRY, error);
		return;
	}
	ml->row++;
	maillabel_next(ml);
}

/* Records the op's end (state "done", "failed" or, to retry, "pending"). */
static void
op_end(struct maillabel *ml, const char *state, const char *error)
{
	const char *p[] = { ml->job->tenant_id, ml->conn,
	    PQgetvalue(ml->due, ml->row, 0), state, error };

	if (strcmp(state, "done") == 0)
		ml->done++;
	else if (strcmp(state, "failed") == 0)
		ml->failed++;
	ml->queries++;
	pgloop_query(ml->d->db, MAILLABEL_SQL_END, 5, p, end_cb, ml);
}

static void op_call(struct maillabel *);

static void
call_cb(const struct gresp *g, void *arg)
{
	struct maillabel *ml = arg;
	char *msg;

	switch (g->err) {
	case GERR_OK:
	case GERR_NOT_FOUND:	/* gone at Gmail: history removes it here */
		if (op_is_trash(ml) &&
		    ++ml->next_id < json_object_array_length(ml->ids)) {
			op_call(ml);
			return;
		}
		op_end(ml, "done", NULL);
		return;
	case GERR_REVOKED:
	case GERR_NOT_CONNECTED:
		maillabel_finish(ml, JOB_DONE, NULL);
		return;
	case GERR_REJECTED:
	case GERR_MALFORMED:
		/* Gmail refuses this op for good: say why, go on with the rest. */
		msg = xasprintf("%s: %s", gerr_kind(g->err), g->message);
		op_end(ml, "failed", msg);
		free(msg);
		return;
	default:
		/* Worth retrying: the op stays pending, the job retries. */
		job_defer(ml->job, g->retry_after_ms);
		msg = xasprintf("%s: %s", gerr_kind(g->err), g->message);
		maillabel_finish(ml, JOB_RETRY, msg);
		free(msg);
		return;
	}
}

static json_object *
column_json(const struct maillabel *ml, int col)
{
	return json_tokener_parse(PQgetvalue(ml->due, ml->row, col));
}

/* The call for the op at hand (for trash/untrash: for its next id). */
static void
op_call(struct maillabel *ml)
{
	const char *base = ml->d->conf.google_gmail_url;
	size_t n = json_object_array_length(ml->ids);
	json_object *body = NULL;
	char *url, *id;

	if (op_is_trash(ml)) {
		id = urlenc_escape(json_object_get_string(
		    json_object_array_get_idx(ml->ids, ml->next_id)));
		url = xasprintf("%s/users/me/messages/%s/%s", base, id, op_name(ml));
		free(id);
	} else {
		body = json_object_new_object();
		json_object_object_add(body, "addLabelIds", column_json(ml, 3));
		json_object_object_add(body, "removeLabelIds", column_json(ml, 4));
		if (n == 1) {
			id = urlenc_escape(json_object_get_string(
			    json_object_array_get_idx(ml->ids, 0)));
			url = xasprintf("%s/users/me/messages/%s/modify", base, id);
			free(id);
		} else {
			json_object_object_add(body, "ids", json_object_get(ml->ids));
			url = xasprintf("%s/users/me/messages/batchModify", base);
		}
	}
	google_call(ml->d, ml->job->tenant_id, ml->conn, "POST", url, body, NULL,
	    call_cb, ml);
	json_object_put(body);
	free(url);
}

/* The next op of the set read, or the next set. */
static void
maillabel_next(struct maillabel *ml)
{
	size_t n;

	if (ml->row >= PQntuples(ml->due)) {
		if (PQntuples(ml->due) < MAILLABEL_BATCH)
			maillabel_finish(ml, JOB_DONE, NULL);
		else
			maillabel_load(ml);
		return;
	}
	json_object_put(ml->ids);
	ml->ids = column_json(ml, 2);
	ml->next_id = 0;
	n = json_object_array_length(ml->ids);
	if (!json_object_is_type(ml->ids, json_type_array) || n == 0)
		op_end(ml, "done", NULL);	/* no message left to change */
	else if (n > MAILLABEL_IDS_MAX && !op_is_trash(ml))
		op_end(ml, "failed", "the thread has more than 1000 messages");
	else
		op_call(ml);
}

static void
due_cb(const PGresult *res, const char *error, void *arg)
{
	struct maillabel *ml = arg;

	if (detached(ml))
		return;
	if (error != NULL) {
		maillabel_finish(ml, JOB_RETRY, error);
		return;
	}
	PQclear(ml->due);
	ml->due = PQcopyResult(res, PG_COPYRES_ATTRS | PG_COPYRES_TUPLES);
	ml->row = 0;
	maillabel_next(ml);
}

static void
maillabel_load(struct maillabel *ml)
{
	char limit[16];
	const char *p[] = { ml->job->tenant_id, ml->conn, limit };

	snprintf(limit, sizeof limit, "%d", MAILLABEL_BATCH);
	ml->queries++;
	pgloop_query(ml->d->db, MAILLABEL_SQL_DUE, 3, p, due_cb, ml);
}

static void
maillabel_start(struct job *job)
{
	char buf[UUID_STR_LEN];
	const char *conn = job_payload_uuid(job, "connection_id", buf);
	struct maillabel *ml;

	if (conn == NULL) {
		job_finish(job, JOB_FAIL, "payload: connection_id is not a uuid",
		    NULL);
		return;
	}
	ml = xcalloc(1, sizeof *ml);
	ml->job = job;
	ml->d = job->d;
	ml->conn = xstrdup(conn);
	job->state = ml;
	job_set_connection(job, ml->conn);
	maillabel_load(ml);
}

/* At shutdown: the call in flight is dropped; its op stays pending. */
static void
maillabel_cancel(struct job *job)
{
	struct maillabel *ml = job->state;

	if (ml == NULL)
		return;
	job->state = NULL;
	ml->job = NULL;
	google_cancel(ml->d, ml);
	if (ml->queries == 0)
		maillabel_free(ml);
}

const struct job_kind job_maillabel_kind = {
	.name = "maillabel",
	.start = maillabel_start,
	.cancel = maillabel_cancel,
};
