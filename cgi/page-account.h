/* SPDX-License-Identifier: ISC */
/*
 * The account and privacy pages (docs/web.md, "Account and privacy"):
 * page-account.c (profile, company, billing, analytics, sessions),
 * page-account-export.c (download my data), page-account-delete.c
 * (deleting an account, and keeping it when its owner signs in during the
 * grace period), page-privacy.c (the privacy page).  What they share, and
 * the one call sign-in makes into them.
 */
#ifndef RALLY_CGI_PAGE_ACCOUNT_H
#define RALLY_CGI_PAGE_ACCOUNT_H

#include "cgi.h"

/* How the account pages show a time (in the user's TimeZone). */
#define ACCOUNT_TIME_FMT "FMDD Mon YYYY, HH24:MI TZ"
#define ACCOUNT_DATE_FMT "FMDD FMMonth YYYY"

/*
 * Called by sign-in when no active account matched: when email and
 * password open an account whose deletion is in its grace period, shows
 * the page that offers to keep it and returns 1; 0 when none matched
 * (nothing written), -1 on a database error (*cause set).
 */
int account_signin_pending(struct cgi *, struct request *, struct response *,
    const char *email, const char *password, char **cause);

#endif
