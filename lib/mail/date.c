/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "date.h"
#include "util.h"

/* 9999-12-31T23:59:59Z */
#define DATE_MAX INT64_C(253402300799)

static const char months[12][4] = {"jan", "feb", "mar", "apr", "may", "jun",
    "jul", "aug", "sep", "oct", "nov", "dec"};
static const char Months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
static const char Days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri",
    "Sat"};

/* Named zones of RFC 822 and their offsets in minutes. */
static const struct {
	const char *name;
	int minutes;
} zones[] = {
	{"ut", 0}, {"utc", 0}, {"gmt", 0}, {"z", 0},
	{"est", -300}, {"edt", -240}, {"cst", -360}, {"cdt", -300},
	{"mst", -420}, {"mdt", -360}, {"pst", -480}, {"pdt", -420},
};

struct scan {
	const char *s;
	size_t len, i;
};

/* Skips blanks and comments (nested, with quoted-pairs). */
static void
skip_cfws(struct scan *sc)
{
	int depth = 0;

	for (; sc->i < sc->len; sc->i++) {
		char c = sc->s[sc->i];

		if (depth > 0 && c == '\\')
			sc->i++;
		else if (c == '(')
			depth++;
		else if (c == ')' && depth > 0)
			depth--;
		else if (depth == 0 && !isspace((unsigned char)c))
			return;
	}
}

/* Up to max digits: their value and count (0 when none). */
static int
digits(struct scan *sc, int max, int *v)
{
	int n = 0;

	*v = 0;
	while (n < max && sc->i < sc->len && isdigit((unsigned char)sc->s[sc->i])) {
		*v = *v * 10 + (sc->s[sc->i++] - '0');
		n++;
	}
	return n;
}

/* An alphabetic word into w (lower case, truncated to size - 1). */
static size_t
word(struct scan *sc, char *w, size_t size)
{
	size_t n = 0;

	while (sc->i < sc->len && isalpha((unsigned char)sc->s[sc->i])) {
		if (n + 1 < size)
			w[n] = (char)tolower((unsigned char)sc->s[sc->i]);
		n++, sc->i++;
	}
	w[n < size ? n : size - 1] = '\0';
	return n;
}

static bool
take(struct scan *sc, char c)
{
	if (sc->i < sc->len && sc->s[sc->i] == c) {
		sc->i++;
		return true;
	}
	return false;
}

/* The zone after the time, in minutes east of UTC: 0 or -1. */
static int
zone(struct scan *sc, int *minutes)
{
	char w[8];
	int v, sign;

	*minutes = 0;
	skip_cfws(sc);
	if (sc->i >= sc->len)
		return 0;	/* none: taken as UTC */
	if (sc->s[sc->i] == '+' || sc->s[sc->i] == '-') {
		sign = sc->s[sc->i++] == '-' ? -1 : 1;
		if (digits(sc, 4, &v) != 4 || v % 100 > 59)
			return -1;
		*minutes = sign * (v / 100 * 60 + v % 100);
		return 0;
	}
	if (word(sc, w, sizeof w) == 0)
		return -1;
	for (size_t k = 0; k < nitems(zones); k++)
		if (strcmp(w, zones[k].name) == 0) {
			*minutes = zones[k].minutes;
			return 0;
		}
	return strlen(w) == 1 ? 0 : -1;	/* military: unknown, as -0000 */
}

/* "HH:MM[:SS]" into seconds of the day. */
static int
clock_time(struct scan *sc, int *secs)
{
	int h, m, s = 0;

	skip_cfws(sc);
	if (digits(sc, 2, &h) == 0 || !take(sc, ':') || digits(sc, 2, &m) != 2)
		return -1;
	if (take(sc, ':') && digits(sc, 2, &s) != 2)
		return -1;
	if (h > 23 || m > 59 || s > 60)
		return -1;
	*secs = h * 3600 + m * 60 + (s == 60 ? 59 : s);
	return 0;
}

/* "DD Mon YYYY", after an optional day name and comma. */
static int
day_month_year(struct scan *sc, int *d, int *m, int *y)
{
	char w[16];
	size_t save;
	int n;

	skip_cfws(sc);
	save = sc->i;
	if (word(sc, w, sizeof w) > 0) {
		skip_cfws(sc);
		if (!take(sc, ','))
			sc->i = save;	/* no comma: not a day name */
		skip_cfws(sc);
	}
	if (digits(sc, 2, d) == 0)
		return -1;
	skip_cfws(sc);
	if (word(sc, w, sizeof w) < 3)
		return -1;
	for (*m = 0; *m < 12 && strncmp(w, months[*m], 3) != 0; (*m)++)
		;
	if ((*m)++ == 12)
		return -1;
	skip_cfws(sc);
	if ((n = digits(sc, 4, y)) < 2)
		return -1;
	if (n == 2)
		*y += *y < 50 ? 2000 : 1900;
	else if (n == 3)
		*y += 1900;
	return 0;
}

int
mail_date_parse(const char *s, size_t len, time_t *t)
{
	struct scan sc = {s, len, 0};
	int d, m, y, secs, off;
	int64_t v;

	if (day_month_year(&sc, &d, &m, &y) == -1 || clock_time(&sc, &secs) == -1 ||
	    zone(&sc, &off) == -1)
		return -1;
	if (y < 1900 || y > 9999 || d < 1 || d > days_in_month(y, m))
		return -1;
	v = days_from_civil(y, m, d) * 86400 + secs - off * 60;
	if (v > DATE_MAX)
		return -1;	/* past 9999 in UTC */
	*t = (time_t)v;
	return 0;
}

void
mail_date_iso(time_t t, char *buf)
{
	struct tm tm;
	char tmp[64];

	gmtime_r(&t, &tm);
	snprintf(tmp, sizeof tmp, "%04d-%02d-%02dT%02d:%02d:%02dZ",
	    (tm.tm_year + 1900) % 10000, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec);
	memcpy(buf, tmp, MAIL_DATE_ISO_LEN);
	buf[MAIL_DATE_ISO_LEN] = '\0';
}

void
mail_date_rfc5322(time_t t, char *buf)
{
	struct tm tm;
	char tmp[96];

	gmtime_r(&t, &tm);
	snprintf(tmp, sizeof tmp, "%s, %02d %s %04d %02d:%02d:%02d +0000",
	    Days[tm.tm_wday % 7], tm.tm_mday, Months[tm.tm_mon % 12],
	    (tm.tm_year + 1900) % 10000, tm.tm_hour, tm.tm_min, tm.tm_sec);
	memcpy(buf, tmp, MAIL_DATE_RFC_LEN);
	buf[MAIL_DATE_RFC_LEN] = '\0';
}
