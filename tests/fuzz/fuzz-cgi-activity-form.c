/* SPDX-License-Identifier: ISC */
/*
 * The activity form's checks (cgi/activity-form.c) on arbitrary fields:
 * the input split at NUL bytes into title, kind, timing, start, end,
 * first day, last day, location, description, guests and visibility (the
 * missing ones empty), each valid UTF-8 as cgi/request.c guarantees (an
 * input that is not is skipped); and the whole input as a list cursor.
 *
 * Checks besides "no crash": an accepted form's fields are within their
 * limits, its guests one address a line, lower case, without repeats or
 * blanks, at most ACT_GUESTS_MAX; a refusal is a sentence; an accepted
 * cursor has the one fixed shape.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "activity-form.h"
#include "fuzz.h"
#include "utf8.h"
#include "util.h"

#define FIELDS 11

static void
check_guests(const char *lines)
{
	const char *s = lines, *nl;
	size_t n = 0, len;
	char *line, *rest;

	for (; *s != '\0'; s = *nl == '\0' ? nl : nl + 1) {
		nl = s + strcspn(s, "\n");
		len = (size_t)(nl - s);
		if (len == 0 || len > 320 || memchr(s, '@', len) == NULL ||
		    ++n > ACT_GUESTS_MAX)
			abort();
		for (size_t i = 0; i < len; i++)
			if ((s[i] >= 'A' && s[i] <= 'Z') || s[i] == ' ' ||
			    s[i] == ',' || s[i] == ';' || s[i] == '\t')
				abort();
		/* No repeat further on. */
		line = xasprintf("\n%.*s\n", (int)len, s);
		rest = xasprintf("\n%s\n", nl);
		if (strstr(rest, line) != NULL)
			abort();
		free(line);
		free(rest);
	}
}

static void
check_form(char **v)
{
	struct act_form f = { v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7],
	    v[8], v[9], v[10], NULL };
	const char *why = act_form_check(&f);

	if (why != NULL) {
		if (why[0] == '\0')
			abort();
	} else {
		if (f.guest_lines == NULL ||
		    act_chars(f.title) > ACT_TITLE_MAX || f.title[0] == '\0' ||
		    act_chars(f.location) > ACT_LOCATION_MAX ||
		    act_chars(f.description) > ACT_DESCRIPTION_MAX)
			abort();
		check_guests(f.guest_lines);
	}
	free(f.guest_lines);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy, *v[FIELDS], *s;
	size_t n = 0;

	copy = xmalloc(size + 1);
	memcpy(copy, data, size);
	copy[size] = '\0';
	/* The fields, split where the input has NULs. */
	for (s = copy; n < FIELDS; n++) {
		v[n] = s;
		if (s < copy + size)
			s += strlen(s) + 1;
		if (s > copy + size)
			s = copy + size;
	}
	for (size_t i = 0; i < FIELDS; i++)
		if (!utf8_text(v[i], strlen(v[i])))
			goto out;
	check_form(v);
	if (act_cursor_ok(copy) && (strlen(copy) != 27 || copy[26] != 'Z'))
		abort();
out:
	free(copy);
	return 0;
}
