/* SPDX-License-Identifier: ISC */
/*
 * http-date: Retry-After as delay-seconds and as the three HTTP-date forms,
 * its caps and what it refuses.  Moved from test-http.c with lib/http-date.c.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "http-date.h"
#include "tap.h"

static const time_t now = 784111777; /* Sun, 06 Nov 1994 08:49:37 GMT */

static void
test_delay_seconds_are_milliseconds_capped_at_a_day(void)
{
	ok(http_parse_retry_after("120", now) == 120000, "seconds");
	ok(http_parse_retry_after("0", now) == 0, "zero seconds");
	ok(http_parse_retry_after(" 3\t", now) == 3000, "blanks around seconds");
	ok(http_parse_retry_after("86399", now) == 86399000, "just under a day");
	ok(http_parse_retry_after("86401", now) == HTTP_RETRY_AFTER_MAX_MS,
	    "over a day is capped");
	ok(http_parse_retry_after("999999999999999999999999999999", now) ==
	    HTTP_RETRY_AFTER_MAX_MS, "a huge number is capped, not overflowed");
}

static void
test_dates_in_all_three_forms_count_from_now(void)
{
	ok(http_parse_retry_after("Sun, 06 Nov 1994 08:49:47 GMT", now) == 10000,
	    "IMF-fixdate");
	ok(http_parse_retry_after("Sunday, 06-Nov-94 08:49:47 GMT", now) == 10000,
	    "RFC 850 date");
	ok(http_parse_retry_after("Sun Nov  6 08:49:47 1994", now) == 10000,
	    "asctime date");
	ok(http_parse_retry_after("  Sun, 06 Nov 1994 08:49:47 GMT\t", now) ==
	    10000, "blanks around a date");
	ok(http_parse_retry_after("Sun, 06 Nov 1994 08:49:27 GMT", now) == 0,
	    "a date in the past is 0");
	ok(http_parse_retry_after("Thu, 01 Jan 1970 00:00:00 GMT", now) == 0,
	    "the epoch is in the past");
	ok(http_parse_retry_after("Thu, 29 Feb 1996 00:00:00 GMT", now) ==
	    HTTP_RETRY_AFTER_MAX_MS, "a far date is capped (and 29 Feb of a leap "
	    "year parses)");
}

static void
test_malformed_dates_are_garbage(void)
{
	ok(http_parse_retry_after("Thu, 29 Feb 1995 00:00:00 GMT", now) == -1,
	    "29 Feb of a common year is garbage");
	ok(http_parse_retry_after("Sun, 06 Nov 1994 24:00:00 GMT", now) == -1,
	    "hour 24 is garbage");
	ok(http_parse_retry_after("Sun, 06 Nov 1994 08:49:47 UTC", now) == -1,
	    "a zone other than GMT is garbage");
	ok(http_parse_retry_after("Sun, 06 Nov 1994 08:49:47 GMT x", now) == -1,
	    "trailing text is garbage");
	ok(http_parse_retry_after("Fun, 06 Nov 1994 08:49:47 GMT", now) == -1,
	    "an unknown day name is garbage");
	ok(http_parse_retry_after("Sun, 06 Nov 1994 08:49 GMT", now) == -1,
	    "a missing field is garbage");
}

static void
test_other_values_are_garbage(void)
{
	ok(http_parse_retry_after("", now) == -1, "empty is garbage");
	ok(http_parse_retry_after("soon", now) == -1, "a word is garbage");
	ok(http_parse_retry_after("-5", now) == -1, "a negative is garbage");
	ok(http_parse_retry_after("+5", now) == -1, "a sign is garbage");
	ok(http_parse_retry_after("1.5", now) == -1, "a fraction is garbage");
	ok(http_parse_retry_after("5s", now) == -1, "a unit is garbage");
	ok(http_parse_retry_after(NULL, now) == -1, "NULL is garbage");
}

static void
test_length_limit_is_refused_before_parsing(void)
{
	char longv[200], edge[HTTP_MAX_RETRY_AFTER_LEN + 2];

	memset(longv, '1', sizeof longv - 1);
	longv[sizeof longv - 1] = '\0';
	ok(http_parse_retry_after(longv, now) == -1,
	    "an overlong value is refused before parsing");
	memset(edge, '0', sizeof edge - 1);
	edge[sizeof edge - 2] = '7';
	edge[sizeof edge - 1] = '\0';
	ok(http_parse_retry_after(edge, now) == -1,
	    "one byte over HTTP_MAX_RETRY_AFTER_LEN is refused");
	ok(http_parse_retry_after(edge + 1, now) == 7000,
	    "HTTP_MAX_RETRY_AFTER_LEN bytes are read");
	memset(longv, ' ', sizeof longv - 1);
	longv[0] = '9';
	longv[sizeof longv - 2] = 'x';
	ok(http_parse_retry_after(longv, now) == -1,
	    "an overlong value is not parsed as its first bytes (fuzz-http-date)");
}

int
main(void)
{
	test_delay_seconds_are_milliseconds_capped_at_a_day();
	test_dates_in_all_three_forms_count_from_now();
	test_malformed_dates_are_garbage();
	test_other_values_are_garbage();
	test_length_limit_is_refused_before_parsing();
	return tap_done();
}
