/* SPDX-License-Identifier: ISC */
/*
 * The table of job kinds.  Each kind lives in its own file (job-<name>.c)
 * and exports one struct job_kind; this is the only list of them.
 */
#include "config.h"

#include <string.h>

#include "jobs.h"

extern const struct job_kind job_ping_kind;
extern const struct job_kind job_prune_kind;
extern const struct job_kind job_token_revoke_kind;
extern const struct job_kind job_google_probe_kind;
extern const struct job_kind job_calsync_kind;
extern const struct job_kind job_calpush_kind;
extern const struct job_kind job_calwatch_kind;
extern const struct job_kind job_calpurge_kind;
extern const struct job_kind job_mailsync_kind;
extern const struct job_kind job_maillabel_kind;
extern const struct job_kind job_mailsend_kind;
extern const struct job_kind job_mailwatch_kind;
extern const struct job_kind job_mailreconcile_kind;
extern const struct job_kind job_mailpurge_kind;
extern const struct job_kind job_notice_kind;
extern const struct job_kind job_accountpurge_kind;
extern const struct job_kind job_deletion_watch_kind;
extern const struct job_kind job_export_kind;
extern const struct job_kind job_usage_rollup_kind;
extern const struct job_kind job_backup_kind;
extern const struct job_kind job_backup_check_kind;
extern const struct job_kind job_sync_watch_kind;
extern const struct job_kind job_oauth_exchange_kind;

static const struct job_kind *const kinds[] = {
	&job_ping_kind,
	&job_prune_kind,
	&job_token_revoke_kind,
	&job_google_probe_kind,
	&job_calsync_kind,
	&job_calpush_kind,
	&job_calwatch_kind,
	&job_calpurge_kind,
	&job_mailsync_kind,
	&job_maillabel_kind,
	&job_mailsend_kind,
	&job_mailwatch_kind,
	&job_mailreconcile_kind,
	&job_mailpurge_kind,
	&job_notice_kind,
	&job_accountpurge_kind,
	&job_deletion_watch_kind,
	&job_export_kind,
	&job_usage_rollup_kind,
	&job_backup_kind,
	&job_backup_check_kind,
	&job_sync_watch_kind,
	&job_oauth_exchange_kind,
};

const struct job_kind *
job_kind_find(const char *name)
{
	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
		if (strcmp(kinds[i]->name, name) == 0)
			return kinds[i];
	return NULL;
}
