/* SPDX-License-Identifier: ISC */
/*
 * mailpurge: after a mail disconnect or a revoked grant, deletes what was
 * synced from that connection's Gmail (threads, messages, outbox, label
 * operations), a short batch at a time (rally.mail_purge_batch in
 * sql/functions/mail-purge.sql), so another tenant's writes never wait
 * long behind it.  The loop is daemon/purge.c's.
 *
 * First it stops the Gmail watch (users.stop) while the connection keeps
 * its tokens, that is when the calendar stays on.  When mail was the last
 * integration, token-revoke stops the watch with the queued copy of the
 * tokens before it revokes the grant (docs/compliance.md).  The payload
 * only names the connection: the watch is stopped and the purge happens
 * only when the database shows that connection's mail off or its grant
 * revoked.
 */
#include "config.h"

#include "jobs.h"
#include "purge.h"
#include "rallyd.h"
#include "util.h"

static char *
mailpurge_stop(struct job *job, const PGresult *res, json_object **body)
{
	(void)res;
	*body = NULL;
	return xasprintf("%s/users/me/stop", job->d->conf.google_gmail_url);
}

static const struct purge_kind mailpurge = {
	.channel_sql =
	    "SELECT 1 FROM rally.google_connections"
	    " WHERE tenant_id = $1 AND id = $2 AND refresh_token IS NOT NULL"
	    "  AND NOT (mail_enabled AND status <> 'revoked')",
	.batch_sql = "SELECT rally.mail_purge_batch($1, $2)",
	.stop = mailpurge_stop,
	.still_on = "the mail of this connection is still on: nothing purged",
};

static void
mailpurge_start(struct job *job)
{
	purge_start(job, &mailpurge);
}

const struct job_kind job_mailpurge_kind = {
	.name = "mailpurge",
	.start = mailpurge_start,
	.cancel = NULL,
	.discard = purge_discard,
};
