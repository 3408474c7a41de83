/* SPDX-License-Identifier: ISC */
/*
 * activity-form: the activity form of cgi/page-activities.c as the browser
 * sends it, and its checks: what a user may type, and the one sentence
 * that says what to fix.  No database and no page here, so that the unit
 * test (tests/unit/test-cgi-activity-form.c) can try every refusal.
 *
 * Values are the request's: valid UTF-8 without NUL (cgi/request.c), so
 * lengths are counted in characters, as PostgreSQL's length() counts them
 * in the schema's checks.
 */
#ifndef RALLY_CGI_ACTIVITY_FORM_H
#define RALLY_CGI_ACTIVITY_FORM_H

#include <stdbool.h>
#include <stddef.h>

#define ACT_TITLE_MAX 1024	/* characters, as the schema's checks */
#define ACT_LOCATION_MAX 1024
#define ACT_DESCRIPTION_MAX 65536
#define ACT_GUESTS_MAX 100

/* The kinds the schema allows, and their names on the page. */
extern const char *const act_kinds[3];
extern const char *const act_kind_labels[3];

/* Every field as sent (trimmed), all set, owned by the form. */
struct act_form {
	char *title, *kind, *timing, *start, *end, *first_day, *last_day;
	char *location, *description, *guests, *visibility;
	/* Set by act_form_check(): the guests one a line, lower case. */
	char *guest_lines;
};

void act_form_free(struct act_form *);
/*
 * NULL when the form may be saved (guest_lines then set), else what to
 * fix, in the user's words.  timing is "time" (start, optional end, as
 * <input type="datetime-local"> sends them) or "allday" (first_day,
 * optional last_day, inclusive).
 */
const char *act_form_check(struct act_form *);

/* Characters in s. */
size_t act_chars(const char *s);
/* YYYY-MM-DD, a day that exists, from 1900 on. */
bool act_date_ok(const char *s);
/* YYYY-MM-DDTHH:MM or YYYY-MM-DDTHH:MM:SS. */
bool act_datetime_local_ok(const char *s);
/* A list cursor: YYYY-MM-DDTHH:MM:SS.UUUUUUZ. */
bool act_cursor_ok(const char *s);

#endif
