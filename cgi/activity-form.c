/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "activity-form.h"
#include "strbuf.h"
#include "util.h"

#define EMAIL_MAX 320
/* Addresses read, repeats included, before a list is refused as too long. */
#define ACT_GUESTS_WORDS_MAX (10 * ACT_GUESTS_MAX)

const char *const act_kinds[3] = { "meeting", "call", "task" };
const char *const act_kind_labels[3] = { "Meeting", "Call", "Task" };

void
act_form_free(struct act_form *f)
{
	free(f->title);
	free(f->kind);
	free(f->timing);
	free(f->start);
	free(f->end);
	free(f->first_day);
	free(f->last_day);
	free(f->location);
	free(f->description);
	free(f->guests);
	free(f->visibility);
	free(f->guest_lines);
}

/* Characters, not bytes: the request's values are valid UTF-8. */
size_t
act_chars(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

static bool
digits(const char *s, size_t n, int *out)
{
	int v = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

/* YYYY-MM-DD at s, a day that exists, years 1900 to 9999. */
static bool
date_at(const char *s)
{
	int y, m, d;

	return strlen(s) >= 10 && s[4] == '-' && s[7] == '-' &&
	    digits(s, 4, &y) && digits(s + 5, 2, &m) && digits(s + 8, 2, &d) &&
	    y >= 1900 && m >= 1 && m <= 12 && d >= 1 &&
	    d <= days_in_month(y, m);
}

bool
act_date_ok(const char *s)
{
	return strlen(s) == 10 && date_at(s);
}

/* HH:MM, and :SS when seconds is true, at s. */
static bool
clock_ok(const char *s, bool seconds)
{
	int h, m, sec = 0;

	if (!digits(s, 2, &h) || s[2] != ':' || !digits(s + 3, 2, &m))
		return false;
	if (seconds && (s[5] != ':' || !digits(s + 6, 2, &sec)))
		return false;
	return h <= 23 && m <= 59 && sec <= 59;
}

/* What <input type="datetime-local"> sends: YYYY-MM-DDTHH:MM[:SS]. */
bool
act_datetime_local_ok(const char *s)
{
	size_t len = strlen(s);

	if ((len != 16 && len != 19) || !date_at(s) || s[10] != 'T')
		return false;
	return clock_ok(s + 11, len == 19);
}

/* A list cursor: YYYY-MM-DDTHH:MM:SS.UUUUUUZ, as ACT_SQL_LIST writes it. */
bool
act_cursor_ok(const char *s)
{
	int us;

	return strlen(s) == 27 && date_at(s) && s[10] == 'T' &&
	    clock_ok(s + 11, true) && s[19] == '.' && digits(s + 20, 6, &us) &&
	    s[26] == 'Z';
}

/* A plausible address: one '@', something on each side, no blanks. */
static bool
guest_ok(const char *e, size_t len)
{
	const char *at = memchr(e, '@', len);

	if (at == NULL || at == e || at == e + len - 1 || len > EMAIL_MAX)
		return false;
	if (memchr(at + 1, '@', (size_t)(e + len - at - 1)) != NULL)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)e[i] < 0x21 || strchr("<>\"\\()[];:",
		    e[i]) != NULL)
			return false;
	return true;
}

/*
 * The guests field (addresses separated by commas, semicolons or blanks)
 * as lines of lower-case addresses without repeats, in f->guest_lines.
 * NULL, or what is wrong.
 */
static const char *
guests_check(struct act_form *f)
{
	static const char sep[] = ", ;\t\r\n";
	struct strbuf sb = { 0 };
	const char *s = f->guests;
	size_t len, n = 0, words = 0;
	char *addr, *line;

	/* "\na\nb\n": each address between newlines, to find repeats. */
	strbuf_addc(&sb, '\n');
	while (*(s += strspn(s, sep)) != '\0') {
		/* Finding repeats costs the list's length per address. */
		if (n > ACT_GUESTS_MAX || ++words > ACT_GUESTS_WORDS_MAX) {
			strbuf_free(&sb);
			return "An activity can have at most 100 guests.";
		}
		len = strcspn(s, sep);
		if (!guest_ok(s, len)) {
			strbuf_free(&sb);
			return "A guest's email address is not valid; write "
			    "each like ann@example.com.";
		}
		addr = xstrndup(s, len);
		for (char *c = addr; *c != '\0'; c++)
			if (*c >= 'A' && *c <= 'Z')
				*c = (char)(*c - 'A' + 'a');
		line = xasprintf("\n%s\n", addr);
		if (strstr(sb.p, line) == NULL) {
			strbuf_addf(&sb, "%s\n", addr);
			n++;
		}
		free(line);
		free(addr);
		s += len;
	}
	if (n > ACT_GUESTS_MAX) {
		strbuf_free(&sb);
		return "An activity can have at most 100 guests.";
	}
	/* One address a line, without the newlines around them all. */
	f->guest_lines = n == 0 ? xstrdup("") : xstrndup(sb.p + 1, sb.len - 2);
	strbuf_free(&sb);
	return NULL;
}

static const char *
when_check(const struct act_form *f)
{
	if (strcmp(f->timing, "allday") == 0) {
		if (!act_date_ok(f->first_day))
			return "Enter the first day, like 2026-12-24.";
		if (f->last_day[0] != '\0' && !act_date_ok(f->last_day))
			return "Enter the last day, like 2026-12-24, or leave "
			    "it empty.";
		if (f->last_day[0] != '\0' &&
		    strcmp(f->last_day, f->first_day) < 0)
			return "The last day cannot be before the first day.";
		return NULL;
	}
	if (strcmp(f->timing, "time") != 0)
		return "Choose whether the activity is at a time or all day.";
	if (!act_datetime_local_ok(f->start))
		return "Enter when it starts, a date and a time.";
	if (f->end[0] != '\0' && !act_datetime_local_ok(f->end))
		return "Enter when it ends, a date and a time, or leave it "
		    "empty.";
	/* The same fixed-width form: text order is time order. */
	if (f->end[0] != '\0' && strcmp(f->end, f->start) <= 0)
		return "The end must be after the start.";
	return NULL;
}

/* NULL when the form is good, else what to fix. */
const char *
act_form_check(struct act_form *f)
{
	bool kind_ok = false;
	const char *why;

	if (f->title[0] == '\0')
		return "Give the activity a title.";
	if (act_chars(f->title) > ACT_TITLE_MAX)
		return "The title is too long: at most 1024 characters.";
	for (size_t i = 0; i < nitems(act_kinds); i++)
		kind_ok |= strcmp(f->kind, act_kinds[i]) == 0;
	if (!kind_ok)
		return "Choose a kind from the list: meeting, call or task.";
	if ((why = when_check(f)) != NULL)
		return why;
	if (act_chars(f->location) > ACT_LOCATION_MAX)
		return "The location is too long: at most 1024 characters.";
	if (act_chars(f->description) > ACT_DESCRIPTION_MAX)
		return "The description is too long: at most 65,536 "
		    "characters.";
	if (strcmp(f->visibility, "private") != 0 &&
	    strcmp(f->visibility, "shared") != 0)
		return "Choose who can see the activity.";
	return guests_check(f);
}
