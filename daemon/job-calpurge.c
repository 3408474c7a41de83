/* SPDX-License-Identifier: ISC */
/*
 * calpurge: after a calendar disconnect or a revoked grant, removes what
 * was synced from that connection's calendar, a batch at a time so no
 * lock is held long (rally.cal_purge_batch).  Activities created in the
 * CRM stay, detached from Google; events that came from Google go.  The
 * loop is daemon/purge.c's.
 *
 * First it stops the push channel at Google while the connection keeps a
 * token (mail still on).  When the disconnect took the last integration,
 * token-revoke stops the channel with the queued copy of the tokens before
 * it revokes the grant (the copy records the channel), and the purge
 * clears the channel's token hash so the hook refuses what it still sends.
 *
 * The payload only names the connection: the purge happens, and the
 * channel is stopped, only when the database says that connection's
 * calendar is off or its grant revoked (rally.cal_purge_batch checks it).
 */
#include "config.h"

#include "jobs.h"
#include "purge.h"
#include "rallyd.h"
#include "util.h"

static char *
calpurge_stop(struct job *job, const PGresult *res, json_object **body)
{
	*body = json_object_new_object();
	json_object_object_add(*body, "id",
	    json_object_new_string(PQgetvalue(res, 0, 0)));
	json_object_object_add(*body, "resourceId",
	    json_object_new_string(PQgetvalue(res, 0, 1)));
	return xasprintf("%s/channels/stop", job->d->conf.google_calendar_url);
}

static const struct purge_kind calpurge = {
	.channel_sql =
	    "SELECT s.channel_id, s.channel_resource_id FROM rally.sync_state s"
	    " JOIN rally.google_connections c"
	    "  ON c.tenant_id = s.tenant_id AND c.id = s.connection_id"
	    " WHERE s.tenant_id = $1 AND s.connection_id = $2"
	    "  AND s.resource = 'calendar' AND s.channel_id IS NOT NULL"
	    "  AND s.channel_resource_id IS NOT NULL AND c.refresh_token IS NOT NULL"
	    "  AND NOT (c.calendar_enabled AND c.status <> 'revoked')",
	.batch_sql = "SELECT rally.cal_purge_batch($1, $2)",
	.stop = calpurge_stop,
	.still_on = "the calendar of this connection is still on: nothing purged",
};

static void
calpurge_start(struct job *job)
{
	purge_start(job, &calpurge);
}

const struct job_kind job_calpurge_kind = {
	.name = "calpurge",
	.start = calpurge_start,
	.cancel = NULL,
	.discard = purge_discard,
};
