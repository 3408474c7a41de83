/* SPDX-License-Identifier: ISC */
/*
 * date: the Date header (RFC 5322 section 3.3, obsolete forms included)
 * read into a time, and a time written as RFC 5322 and as ISO 8601.
 * Locale-free and without the C library's time zone state.
 */
#ifndef RALLY_MAIL_DATE_H
#define RALLY_MAIL_DATE_H

#include <stddef.h>
#include <time.h>

/*
 * Parses "[Day,] DD Mon YYYY HH:MM[:SS] [zone]" with comments and extra
 * blanks anywhere: two- and three-digit years (RFC 5322 4.3), the named
 * zones of RFC 822 (UT, GMT, EST...; military letters as -0000), a
 * missing zone as UTC, a leap second as :59.  Years 1900..9999.  0 and
 * *t, or -1.
 */
int mail_date_parse(const char *s, size_t len, time_t *t);

/* "2026-12-01T11:54:24Z" into buf (at least MAIL_DATE_ISO_LEN + 1). */
#define MAIL_DATE_ISO_LEN 20
void mail_date_iso(time_t, char *buf);

/* "Tue, 01 Dec 2026 11:54:24 +0000" into buf (at least
 * MAIL_DATE_RFC_LEN + 1). */
#define MAIL_DATE_RFC_LEN 31
void mail_date_rfc5322(time_t, char *buf);

#endif
