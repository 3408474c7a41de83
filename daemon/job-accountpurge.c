/* SPDX-License-Identifier: ISC */
/*
 * accountpurge: when the grace period of an account deletion ends,
 * deletes every row about the user, a short batch at a time
 * (rally.account_purge_batch in sql/functions/account-deletion.sql), and
 * for the last member of a tenant the tenant's company and billing data;
 * then completes the ledger entry.  The payload names the ledger entry
 * ({ledger_id}), never the user: the user is found through the entry's
 * keyed hash, so no job or job run keeps the user's id.  Nothing happens
 * unless the database shows a deletion due (requested, not cancelled,
 * grace over).  The loop is daemon/purge.c's: a purge cut short goes on
 * where it stopped.
 */
#include "config.h"

#include "jobs.h"
#include "purge.h"

static const struct purge_kind accountpurge = {
	.payload_key = "ledger_id",
	.channel_sql = NULL,	/* the request disconnected every connection */
	.batch_sql = "SELECT rally.account_purge_batch($1, $2)",
	.stop = NULL,
	.still_on = "no account deletion due under this ledger entry: nothing purged",
};

static void
accountpurge_start(struct job *job)
{
	purge_start(job, &accountpurge);
}

const struct job_kind job_accountpurge_kind = {
	.name = "accountpurge",
	.start = accountpurge_start,
	.cancel = NULL,
	.discard = purge_discard,
};
