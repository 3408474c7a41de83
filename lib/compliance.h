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

#endif
