/* SPDX-License-Identifier: ISC */
/*
 * purge: what the purge job kinds share (calpurge, mailpurge; the account
 * purge follows the same pattern).  After a disconnect or a revoked
 * grant, first the integration's push channel is stopped at Google while
 * the connection still has tokens (when the disconnect took the last
 * integration, token-revoke stops it with the queued copy instead), then
 * the synced rows are deleted by repeated calls of a SQL function that
 * deletes one short batch and returns how many rows it deleted: 0 when
 * nothing is left, -1 when the database shows the integration still on,
 * whatever the payload claimed.  Each batch commits on its own, so a purge
 * cut short by a crash goes on where it stopped when the job is retried.
 */
#ifndef RALLYD_PURGE_H
#define RALLYD_PURGE_H

#include <json-c/json.h>
#include <libpq-fe.h>

struct job;

struct purge_kind {
	/* The payload's uuid naming what to purge; NULL: "connection_id". */
	const char *payload_key;
	/*
	 * $1 tenant, $2 connection: one row when a channel is to be stopped
	 * with the connection's own tokens, none otherwise.  NULL: no channel.
	 */
	const char *channel_sql;
	/* $1 tenant, $2 what the payload names: the rows deleted, as one int. */
	const char *batch_sql;
	/* The URL (caller frees) and JSON body (or NULL) of the stop. */
	char *(*stop)(struct job *, const PGresult *channel, json_object **body);
	/* The job's error when the integration is still on. */
	const char *still_on;
};

/* Starts a purge job: payload {connection_id} (or kind->payload_key). */
void purge_start(struct job *, const struct purge_kind *);
/* The kinds' discard (jobs.h): frees a purge stopped at exit mid-batch. */
void purge_discard(struct job *);

#endif
