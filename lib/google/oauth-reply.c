/* SPDX-License-Identifier: ISC */
/*
 * google/oauth-reply: what the user pastes back after consent, when no
 * redirect reaches Rally (rallyctl google connect): the code alone, or the
 * whole address Google sent the browser to.  See oauth.h.
 */
#include "config.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "google/oauth.h"
#include "urlenc.h"
#include "util.h"

struct reply {
	char *code, *state, *error;
};

int
oauth_reply_read(FILE *fp, char *buf, size_t size)
{
	size_t n = 0, start = 0;
	int ch;

	while ((ch = getc(fp)) != EOF && ch != '\n') {
		if (ch == '\0' || n >= size - 1) {
			while (ch != EOF && ch != '\n')
				ch = getc(fp);
			buf[0] = '\0';
			return -1;
		}
		buf[n++] = ch;
	}
	while (n > 0 && isspace((unsigned char)buf[n - 1]))
		n--;
	buf[n] = '\0';
	while (isspace((unsigned char)buf[start]))
		start++;
	memmove(buf, buf + start, n - start + 1);
	return 0;
}

/*
 * Form-decodes n bytes of s ('+' is a space); NULL if an escape is broken
 * or decodes to a NUL byte (which would cut a code short unseen).
 */
static char *
form_decode(const char *s, size_t n)
{
	const char *why;
	char *out;

	return urlenc_decode(s, n, URLENC_PLUS, n, &out, &why) == 0 ? out : NULL;
}

static void
reply_clear(struct reply *r)
{
	if (r->code != NULL)
		secure_free(r->code, strlen(r->code));
	free(r->state);
	free(r->error);
	memset(r, 0, sizeof *r);
}

/* Takes code, state and error out of a query string; -1 if malformed. */
static int
reply_from_query(const char *q, struct reply *r)
{
	static const char *const names[] = { "code", "state", "error" };
	char **slots[] = { &r->code, &r->state, &r->error };
	const char *end = q + strcspn(q, "#");

	while (q < end) {
		size_t len = strcspn(q, "&#"), k;

		for (k = 0; k < nitems(names); k++) {
			size_t nl = strlen(names[k]);

			if (len > nl && strncmp(q, names[k], nl) == 0 &&
			    q[nl] == '=')
				break;
		}
		if (k < nitems(names)) {
			size_t nl = strlen(names[k]);

			if (*slots[k] != NULL)
				return -1;	/* a parameter twice */
			if ((*slots[k] = form_decode(q + nl + 1,
			    len - nl - 1)) == NULL)
				return -1;
		}
		q += len;
		if (*q == '&')
			q++;
	}
	return 0;
}

bool
oauth_code_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > OAUTH_CODE_MAX)
		return false;
	for (; *s != '\0'; s++)
		if ((unsigned char)*s <= ' ' || (unsigned char)*s > 0x7e)
			return false;
	return true;
}

/* Google's error= value, safe to print: letters, digits, '_' and '?'. */
static void
copy_error(const char *error, char out[OAUTH_REPLY_ERROR_MAX + 1])
{
	size_t n = 0;

	for (; *error != '\0' && n < OAUTH_REPLY_ERROR_MAX; error++)
		out[n++] = isalnum((unsigned char)*error) || *error == '_' ?
		    *error : '?';
	out[n] = '\0';
}

static bool
state_matches(const char *got, const char *want)
{
	return strlen(got) == strlen(want) &&
	    secret_equal(got, want, strlen(want));
}

enum oauth_reply_result
oauth_reply_parse(const char *line, const char *state, char **code,
    char error[OAUTH_REPLY_ERROR_MAX + 1])
{
	struct reply r = { NULL, NULL, NULL };
	const char *q = strchr(line, '?');
	enum oauth_reply_result res = OAUTH_REPLY_CODE;

	*code = NULL;
	error[0] = '\0';
	if (q == NULL && strchr(line, '=') == NULL)
		r.code = form_decode(line, strlen(line));
	else if (reply_from_query(q != NULL ? q + 1 : line, &r) == -1) {
		reply_clear(&r);
		return OAUTH_REPLY_MALFORMED;
	}
	if (r.error != NULL) {
		copy_error(r.error, error);
		res = OAUTH_REPLY_DENIED;
	} else if (r.state != NULL && !state_matches(r.state, state))
		res = OAUTH_REPLY_WRONG_STATE;
	else if (r.code == NULL || !oauth_code_ok(r.code))
		res = OAUTH_REPLY_NO_CODE;
	else {
		*code = r.code;
		r.code = NULL;
	}
	reply_clear(&r);
	return res;
}
