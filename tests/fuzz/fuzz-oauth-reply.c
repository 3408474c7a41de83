/* SPDX-License-Identifier: ISC */
/*
 * What a user pastes back to rallyctl google connect (lib/google/
 * oauth-reply.c): the first line of arbitrary bytes read as stdin would
 * be, then parsed against a fixed state.
 *
 * Checks besides "no crash": a line that was read fits its buffer and has
 * no blank at either end; a code is handed back exactly when the result
 * says so, and is one oauth_code_ok() accepts; a denial's error holds only
 * letters, digits, '_' and '?'.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "google/oauth.h"
#include "util.h"

#define LINE_MAX_FUZZ 8192

static const char state[] = "c3RhdGUtb2YtdGhpcy1ydW4";

static void
check_line(const char *line)
{
	size_t n = strlen(line);

	if (n >= LINE_MAX_FUZZ || (n > 0 && (isspace((unsigned char)line[0]) ||
	    isspace((unsigned char)line[n - 1]))))
		abort();
}

static void
check_error(const char *error)
{
	if (strlen(error) > OAUTH_REPLY_ERROR_MAX)
		abort();
	for (; *error != '\0'; error++)
		if (!isalnum((unsigned char)*error) && *error != '_' &&
		    *error != '?')
			abort();
}

static void
check_parse(const char *line)
{
	char *code, error[OAUTH_REPLY_ERROR_MAX + 1];
	enum oauth_reply_result res;

	res = oauth_reply_parse(line, state, &code, error);
	if ((res == OAUTH_REPLY_CODE) != (code != NULL))
		abort();
	if (code != NULL && !oauth_code_ok(code))
		abort();
	if (res == OAUTH_REPLY_DENIED)
		check_error(error);
	if (code != NULL)
		secure_free(code, strlen(code));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *line = xmalloc(LINE_MAX_FUZZ + 1);
	FILE *fp;

	if (size == 0 || (fp = fmemopen((void *)data, size, "r")) == NULL) {
		free(line);
		return 0;
	}
	if (oauth_reply_read(fp, line, LINE_MAX_FUZZ + 1) == 0) {
		check_line(line);
		check_parse(line);
	}
	fclose(fp);
	free(line);
	return 0;
}
