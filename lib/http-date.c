/* SPDX-License-Identifier: ISC */
/*
 * http-date: Retry-After values; see http-date.h.
 *
 * sscanf's field widths bound every field; http_date_time() then checks
 * names, ranges and the calendar, so "31 Feb" or hour 24 is refused rather
 * than normalised into another date.
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http-date.h"
#include "util.h"

static const char *const http_months[] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};
static const char *const http_wkdays[] = {
	"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun",
};
static const char *const http_weekdays[] = {
	"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday",
	"Sunday",
};

struct http_date {
	char wkday[16], mon[4];
	char day[3], year[5], hh[3], mm[3], ss[3];
};

static int
http_name_index(const char *s, const char *const *names, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (strcmp(s, names[i]) == 0)
			return (int)i;
	}
	return -1;
}

static bool
http_digits(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
	}
	return s[n] == '\0';
}

/* Seconds since the epoch of the parsed fields, -1 when invalid. */
static int64_t
http_date_time(const struct http_date *d, bool long_wkday, time_t now)
{
	int64_t year;
	int mon, day, hh, mm, ss;

	if (http_name_index(d->wkday, long_wkday ? http_weekdays : http_wkdays,
	    7) < 0)
		return -1;
	mon = http_name_index(d->mon, http_months, 12) + 1;
	if (mon == 0 || !http_digits(d->hh, 2) || !http_digits(d->mm, 2) ||
	    !http_digits(d->ss, 2))
		return -1;
	if (!http_digits(d->day, strlen(d->day)) || strlen(d->day) == 0)
		return -1;
	if (strlen(d->year) == 2 && http_digits(d->year, 2)) {
		/* RFC 9110: over 50 years ahead means the last century. */
		int64_t now_year = 1970 + (int64_t)now / 31556952;

		year = now_year - now_year % 100 + atoi(d->year);
		if (year > now_year + 50)
			year -= 100;
	} else if (http_digits(d->year, 4))
		year = atoi(d->year);
	else
		return -1;
	day = atoi(d->day);
	hh = atoi(d->hh);
	mm = atoi(d->mm);
	ss = atoi(d->ss);
	if (day < 1 || day > days_in_month(year, mon) || hh > 23 ||
	    mm > 59 || ss > 60)
		return -1;
	return days_from_civil(year, mon, day) * 86400 + hh * 3600 +
	    mm * 60 + ss;
}

/* IMF-fixdate, or the obsolete RFC 850 and asctime forms. */
static int64_t
http_parse_date(const char *s, time_t now)
{
	struct http_date d;
	size_t len = strlen(s);
	int end;

	memset(&d, 0, sizeof d);
	end = -1;
	if (sscanf(s, "%3[A-Za-z], %2[0-9] %3[A-Za-z] %4[0-9] "
	    "%2[0-9]:%2[0-9]:%2[0-9] GMT%n", d.wkday, d.day, d.mon, d.year,
	    d.hh, d.mm, d.ss, &end) == 7 && end == (int)len &&
	    strlen(d.day) == 2 && strlen(d.year) == 4)
		return http_date_time(&d, false, now);

	memset(&d, 0, sizeof d);
	end = -1;
	if (sscanf(s, "%9[A-Za-z], %2[0-9]-%3[A-Za-z]-%2[0-9] "
	    "%2[0-9]:%2[0-9]:%2[0-9] GMT%n", d.wkday, d.day, d.mon, d.year,
	    d.hh, d.mm, d.ss, &end) == 7 && end == (int)len &&
	    strlen(d.day) == 2 && strlen(d.year) == 2)
		return http_date_time(&d, true, now);

	memset(&d, 0, sizeof d);
	end = -1;
	if (sscanf(s, "%3[A-Za-z] %3[A-Za-z] %2[0-9] %2[0-9]:%2[0-9]:%2[0-9] "
	    "%4[0-9]%n", d.wkday, d.mon, d.day, d.hh, d.mm, d.ss, d.year,
	    &end) == 7 && end == (int)len && strlen(d.year) == 4)
		return http_date_time(&d, false, now);
	return -1;
}

long
http_parse_retry_after(const char *value, time_t now)
{
	const long max_s = HTTP_RETRY_AFTER_MAX_MS / 1000;
	char buf[HTTP_MAX_RETRY_AFTER_LEN + 1];
	size_t len, i;
	int64_t t;
	long secs = 0;

	if (value == NULL)
		return -1;
	while (*value == ' ' || *value == '\t')
		value++;
	/*
	 * Judged before trimming: trimming the first bytes of a longer value
	 * would parse "9<blanks>garbage" as its prefix.
	 */
	len = strnlen(value, HTTP_MAX_RETRY_AFTER_LEN + 1);
	if (len > HTTP_MAX_RETRY_AFTER_LEN)
		return -1;
	while (len > 0 && (value[len - 1] == ' ' || value[len - 1] == '\t'))
		len--;
	if (len == 0)
		return -1;
	memcpy(buf, value, len);
	buf[len] = '\0';

	if (http_digits(buf, len)) {
		for (i = 0; i < len && secs <= max_s; i++)
			secs = secs * 10 + (buf[i] - '0');
		return secs >= max_s ? HTTP_RETRY_AFTER_MAX_MS : secs * 1000;
	}
	if ((t = http_parse_date(buf, now)) < 0)
		return -1;
	if (t <= (int64_t)now)
		return 0;
	if (t - (int64_t)now >= max_s)
		return HTTP_RETRY_AFTER_MAX_MS;
	return (long)(t - (int64_t)now) * 1000;
}
