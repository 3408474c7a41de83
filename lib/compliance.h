/* SPDX-License-Identifier: ISC */
/*
 * compliance: the privacy requests every front end shares
 * (docs/compliance.md).  rallyctl calls these with its own connection;
 * rally.cgi reaches the same SQL through the rally.web_* functions, which
 * check that the caller owns what it names.  Each routine is one
 * transaction, so a request is either wholly recorded (the change, the
 * ledger entry, the audit entry, the jobs that finish it) or not at all.
 */
#ifndef RALLY_COMPLIANCE_H
#define RALLY_COMPLIANCE_H

#include <stdbool.h>

#include <libpq-fe.h>

#include "util.h"

/* What to disconnect: one or both. */
#define COMPLIANCE_CALENDAR 0x1
#define COMPLIANCE_MAIL 0x2

struct compliance_disconnected {
	int connections;	/* the user's connections looked at */
	int calendars_off;	/* calendars switched off now */
	int mail_off;		/* mail switched off now */
	int tokens_released;	/* connections whose tokens left the row */
};

/*
 * Disconnects what (COMPLIANCE_*) of the user's Google connections (only
 * connection_id when not NULL) in one transaction: switched off, the
 * tokens of a connection left with no integration moved to the revocation
 * queue, one ledger and one audit entry per integration switched off, and
 * the purge and revocation jobs queued (rally.compliance_disconnect).
 * actor is "operator" or "user" (then actor_id is the acting user).  An
 * integration already off counts for nothing.  0, or -1 with *cause.
 */
int compliance_disconnect(PGconn *, const char *tenant_id,
    const char *user_id, const char *connection_id, unsigned what,
    const char *actor, const char *actor_id,
    struct compliance_disconnected *, char **cause) MUST_CHECK;

struct conf;

struct compliance_deletion {
	char ledger_id[37];
	char purge_after[32], due_at[32];	/* RFC 3339 UTC */
};

/*
 * Requests the deletion of the user's account (rally.account_delete_request):
 * at once sign-in is blocked, sessions ended, connections disconnected and
 * their tokens queued for revocation; the purge starts after
 * compliance.deletion_grace and is due compliance.purge_lag later.  A
 * deletion already requested is returned as it is.  0, 1 when there is no
 * such user (or it is deleted), or -1 with *cause.
 */
int compliance_delete_request(PGconn *, const struct conf *,
    const char *tenant_id, const char *user_id, const char *actor,
    struct compliance_deletion *, char **cause) MUST_CHECK;

/*
 * Cancels a deletion still in its grace period: 0 cancelled, 1 nothing to
 * cancel (none requested, or its purge has begun), -1 with *cause.
 */
int compliance_delete_cancel(PGconn *, const char *tenant_id,
    const char *user_id, const char *actor, char **cause) MUST_CHECK;

/*
 * Builds the export of the user's data now, in the caller's process
 * (rally.export_request, then rally.export_build: the same SQL as the
 * export job), and sets export_id (37 bytes).  0, 1 when the user is not
 * active, -1 with *cause.
 */
int compliance_export(PGconn *, const char *tenant_id, const char *user_id,
    const char *actor, char *export_id, char **cause) MUST_CHECK;

/*
 * Rectification and objection (rally.account_update): changes is a JSON
 * object of the fields to change (name, email, analytics_opt_out,
 * company_name, company_size, billing_email, billing_name, address_line1,
 * address_line2, postal_code, city, region, country, vat_id), audited by
 * name.  *changed (caller frees) lists what changed, comma-separated.  0,
 * 1 when the user is not active, -1 with *cause (a field refused says why).
 */
int compliance_update(PGconn *, const char *tenant_id, const char *user_id,
    const char *actor, const char *changes, char **changed, char **cause)
    MUST_CHECK;

#endif
