/* SPDX-License-Identifier: ISC */
/*
 * http-date: Retry-After (RFC 9110 10.2.3) as lib/http reads it from a
 * response, delay-seconds or an HTTP-date (IMF-fixdate, or the obsolete
 * RFC 850 and asctime forms).  Pure functions of their input and a clock
 * passed in, so tests and tests/fuzz/fuzz-http-date.c can call them alone.
 */
#ifndef RALLY_HTTP_DATE_H
#define RALLY_HTTP_DATE_H

#include <time.h>

/* Retry-After values beyond this are taken as this (milliseconds: a day). */
#define HTTP_RETRY_AFTER_MAX_MS (24L * 3600 * 1000)
/* Longer Retry-After values are not something a server means. */
#define HTTP_MAX_RETRY_AFTER_LEN 64

/*
 * Parses a Retry-After value (delay-seconds or an HTTP-date, RFC 9110
 * 10.2.3) into milliseconds from now: -1 for anything else, including a
 * value longer than HTTP_MAX_RETRY_AFTER_LEN bytes once leading blanks are
 * skipped; a date in the past is 0; values over HTTP_RETRY_AFTER_MAX_MS are
 * capped.
 */
long http_parse_retry_after(const char *value, time_t now);

#endif
