/* SPDX-License-Identifier: ISC */
/*
 * http_parse_retry_after() (lib/http-date.c) on arbitrary bytes, read as the
 * header value up to a NUL, at two clocks (1994 and 2026, both far from a
 * new year, so that a day either way keeps RFC 850's century).
 *
 * Checks besides "no crash": the result is -1 or in [0,
 * HTTP_RETRY_AFTER_MAX_MS]; delay-seconds give what their digits say
 * whatever the clock; a date is exact to the second, and once it is in the
 * past gives 0.
 */
#include "config.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "http-date.h"

#define FUZZ_DAY 86400

/* The value is delay-seconds: digits alone between blanks. */
static bool
is_delay(const char *s, long *ms)
{
	long secs = 0;
	size_t n;

	s += strspn(s, " \t");
	n = strspn(s, "0123456789");
	if (n == 0 || s[n + strspn(s + n, " \t")] != '\0')
		return false;
	for (size_t i = 0; i < n; i++)
		if ((secs = secs * 10 + (s[i] - '0')) >= FUZZ_DAY)
			secs = FUZZ_DAY;
	*ms = secs >= FUZZ_DAY ? HTTP_RETRY_AFTER_MAX_MS : secs * 1000;
	return true;
}

static void
check_at(const char *s, time_t now)
{
	long r = http_parse_retry_after(s, now), want;
	time_t then;

	if (r < -1 || r > HTTP_RETRY_AFTER_MAX_MS)
		abort();
	if (r == -1)
		return;
	if (is_delay(s, &want)) {
		if (r != want || http_parse_retry_after(s, now + FUZZ_DAY) != r)
			abort();
		return;
	}
	then = now + r / 1000;
	if (r > 0 && r < HTTP_RETRY_AFTER_MAX_MS &&
	    http_parse_retry_after(s, then - 1) != 1000)
		abort();
	if (r < HTTP_RETRY_AFTER_MAX_MS &&
	    (http_parse_retry_after(s, then) != 0 ||
	    http_parse_retry_after(s, then + FUZZ_DAY) != 0))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	check_at(s, 784111777);		/* Sun, 06 Nov 1994 08:49:37 GMT */
	check_at(s, 1782864000);	/* Wed, 01 Jul 2026 00:00:00 GMT */
	free(s);
	return 0;
}
