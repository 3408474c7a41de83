/* SPDX-License-Identifier: ISC */
/*
 * The activity form's checks (cgi/activity-form.c): what is accepted, and
 * the sentence for each way a form is refused.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "activity-form.h"
#include "tap.h"
#include "util.h"

/* A good timed form. */
static void
form_init(struct act_form *f)
{
	f->title = xstrdup("Call with Bob");
	f->kind = xstrdup("call");
	f->timing = xstrdup("time");
	f->start = xstrdup("2030-03-04T10:00");
	f->end = xstrdup("2030-03-04T10:30");
	f->first_day = xstrdup("");
	f->last_day = xstrdup("");
	f->location = xstrdup("");
	f->description = xstrdup("");
	f->guests = xstrdup("");
	f->visibility = xstrdup("private");
	f->guest_lines = NULL;
}

/* The field of f called name. */
static char **
field(struct act_form *f, const char *name)
{
	static const char *const names[] = { "title", "kind", "timing", "start",
	    "end", "first_day", "last_day", "location", "description", "guests",
	    "visibility" };
	char **fields[] = { &f->title, &f->kind, &f->timing, &f->start, &f->end,
	    &f->first_day, &f->last_day, &f->location, &f->description,
	    &f->guests, &f->visibility };

	for (size_t i = 0; i < nitems(names); i++)
		if (strcmp(name, names[i]) == 0)
			return fields[i];
	abort();
}

/*
 * A good form with the (field, value) pairs after name set, up to a NULL
 * field, is accepted (want NULL) or refused with a sentence holding want.
 */
static void
check(const char *want, const char *name, ...)
{
	struct act_form f;
	const char *why, *k;
	char **v;
	va_list ap;

	form_init(&f);
	va_start(ap, name);
	while ((k = va_arg(ap, const char *)) != NULL) {
		v = field(&f, k);
		free(*v);
		*v = xstrdup(va_arg(ap, const char *));
	}
	va_end(ap);
	why = act_form_check(&f);
	if (want == NULL)
		ok(why == NULL, "%s: accepted (%s)", name, why ? why : "");
	else
		ok(why != NULL && strstr(why, want) != NULL, "%s: %s", name,
		    why ? why : "(accepted)");
	act_form_free(&f);
}

static char *
repeat(const char *s, size_t n)
{
	size_t len = strlen(s);
	char *r = xmalloc(len * n + 1);

	for (size_t i = 0; i < n; i++)
		memcpy(r + i * len, s, len);
	r[len * n] = '\0';
	return r;
}

static void
test_times(void)
{
	check(NULL, "a timed call", NULL);
	check(NULL, "no end", "end", "", NULL);
	check(NULL, "seconds", "start", "2030-03-04T10:00:15", NULL);
	check("after the start", "end first", "end", "2030-03-04T09:59", NULL);
	check("after the start", "no length", "end", "2030-03-04T10:00", NULL);
	check("when it starts", "no 29 Feb 2030", "start", "2030-02-29T10:00",
	    NULL);
	check(NULL, "29 Feb 2028", "start", "2028-02-29T10:00", "end", "", NULL);
	check("when it starts", "a blank", "start", "2030-03-04 10:00", NULL);
	check("when it starts", "hour 24", "start", "2030-03-04T24:00", NULL);
	check("when it starts", "minute 60", "start", "2030-03-04T10:60", NULL);
	check("when it starts", "1899", "start", "1899-12-31T10:00", NULL);
	check("when it starts", "a sign", "start", "+2030-03-04T10:00", NULL);
	check("when it starts", "short", "start", "2030-3-4T10:00", NULL);
	check("when it ends", "a word", "end", "soon", NULL);
	check("at a time or all day", "timing", "timing", "often", NULL);
}

static void
test_days(void)
{
	check(NULL, "one day", "timing", "allday", "first_day", "2030-05-06",
	    NULL);
	check(NULL, "the same last day", "timing", "allday", "first_day",
	    "2030-05-06", "last_day", "2030-05-06", NULL);
	check("before the first", "backwards", "timing", "allday", "first_day",
	    "2030-05-06", "last_day", "2030-05-05", NULL);
	check("the first day", "no first day", "timing", "allday", NULL);
	check("the first day", "a time", "timing", "allday", "first_day",
	    "2030-05-06T10:00", NULL);
	check("the first day", "31 April", "timing", "allday", "first_day",
	    "2030-04-31", NULL);
	check("the last day", "bad last day", "timing", "allday", "first_day",
	    "2030-05-06", "last_day", "x", NULL);
}

static void
test_fields(void)
{
	char *long_title = repeat("é", ACT_TITLE_MAX);
	char *too_long = repeat("x", ACT_TITLE_MAX + 1);

	check("a title", "no title", "title", "", NULL);
	check(NULL, "1024 characters of 2 bytes", "title", long_title, NULL);
	check("too long", "1025 characters", "title", too_long, NULL);
	check("location is too long", "location", "location", too_long, NULL);
	check("a kind from the list", "kind", "kind", "party", NULL);
	check(NULL, "a task", "kind", "task", NULL);
	check("who can see", "visibility", "visibility", "public", NULL);
	check(NULL, "shared", "visibility", "shared", NULL);
	free(long_title);
	free(too_long);
	ok(act_chars("a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80") == 4,
	    "characters, not bytes");
}

static void
test_guests(void)
{
	struct act_form f;
	char *many, *s;

	form_init(&f);
	free(f.guests);
	f.guests = xstrdup(" Carol@Example.com, dave@example.com;\n"
	    "carol@example.com\tERIN@example.COM ");
	ok(act_form_check(&f) == NULL, "guests accepted");
	is_str(f.guest_lines, "carol@example.com\ndave@example.com\n"
	    "erin@example.com", "lower case, one a line, no repeats");
	act_form_free(&f);
	form_init(&f);
	ok(act_form_check(&f) == NULL && strcmp(f.guest_lines, "") == 0,
	    "no guests");
	act_form_free(&f);

	check("not valid", "a word", "guests", "carol@example.com, nope", NULL);
	check("not valid", "two @", "guests", "a@b@example.com", NULL);
	check("not valid", "no local part", "guests", "@example.com", NULL);
	check("not valid", "no domain", "guests", "carol@", NULL);
	check("not valid", "brackets", "guests", "<carol@example.com>", NULL);
	check("not valid", "quotes", "guests", "\"c\"@example.com", NULL);
	many = xstrdup("");
	for (int i = 0; i < ACT_GUESTS_MAX + 1; i++) {
		s = xasprintf("%sg%d@example.com\n", many, i);
		free(many);
		many = s;
	}
	check("at most 100", "101 guests", "guests", many, NULL);
	free(many);
	/* The same address many times is one guest, up to a point. */
	many = repeat("g@example.com ", 500);
	check(NULL, "one guest 500 times", "guests", many, NULL);
	free(many);
	many = repeat("g@example.com ", 20000);
	check("at most 100", "one guest 20,000 times", "guests", many, NULL);
	free(many);
}

static void
test_cursor(void)
{
	ok(act_cursor_ok("2026-12-01T14:05:00.123456Z"), "a cursor");
	ok(!act_cursor_ok("2026-12-01T14:05:00Z"), "no microseconds");
	ok(!act_cursor_ok("2026-13-01T14:05:00.123456Z"), "month 13");
	ok(!act_cursor_ok("2026-12-01T14:05:00.123456+01"), "an offset");
	ok(!act_cursor_ok("2026-12-01T14:05:00.12345aZ"), "a letter");
	ok(!act_cursor_ok(""), "empty");
	ok(act_date_ok("2030-12-31") && !act_date_ok("2030-12-31x"),
	    "a date is exactly one");
	ok(act_datetime_local_ok("2030-12-31T23:59") &&
	    !act_datetime_local_ok("2030-12-31T23:59:60"), "seconds below 60");
}

int
main(void)
{
	test_times();
	test_days();
	test_fields();
	test_guests();
	test_cursor();
	return tap_done();
}
