/* SPDX-License-Identifier: ISC */
/*
 * Google's OAuth answers (lib/google/oauth.c) on arbitrary bodies: the token
 * endpoint's as a 200, a 400 and a 401, and the same bytes as userinfo and
 * revoke answers.
 *
 * Checks besides "no crash": a result or a cause, never both or neither;
 * an accepted token answer has an access token of 1..OAUTH_MAX_TOKEN
 * printable ASCII bytes without blanks and an expires_in within 30 days;
 * a refused one leaves every member empty; only a 200 is ever accepted.
 */
#include "config.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "google/oauth.h"

static bool
token_ok(const char *s)
{
	size_t n;

	if (s == NULL || (n = strlen(s)) == 0 || n > OAUTH_MAX_TOKEN)
		return false;
	for (; *s != '\0'; s++)
		if ((unsigned char)*s <= ' ' || (unsigned char)*s > 0x7e)
			return false;
	return true;
}

static void
check_token(const struct http_response *r)
{
	struct oauth_tokens t;
	char *cause = NULL;
	enum oauth_result res = oauth_parse_token_response(r, &t, &cause);

	if (res == OAUTH_OK) {
		if (cause != NULL || r->status != 200 ||
		    !token_ok(t.access_token) || t.expires_in < 1 ||
		    t.expires_in > 86400 * 30 ||
		    (t.refresh_token != NULL && !token_ok(t.refresh_token)) ||
		    (t.id_token != NULL && !token_ok(t.id_token)))
			abort();
	} else if (cause == NULL || t.access_token != NULL ||
	    t.refresh_token != NULL || t.scope != NULL || t.id_token != NULL)
		abort();
	oauth_tokens_clear(&t);
	free(cause);
}

static void
check_userinfo(const struct http_response *r)
{
	char *sub = NULL, *email = NULL, *cause = NULL;
	enum oauth_result res = oauth_parse_userinfo(r, &sub, &email, &cause);

	if (res == OAUTH_OK) {
		if (cause != NULL || sub == NULL || email == NULL ||
		    strchr(email, '@') == NULL || r->status != 200)
			abort();
	} else if (cause == NULL || sub != NULL || email != NULL)
		abort();
	free(sub);
	free(email);
	free(cause);
}

static void
check_revoke(const struct http_response *r)
{
	char *cause = NULL;
	enum oauth_result res = oauth_parse_revoke_response(r, &cause);

	if ((res == OAUTH_OK) != (cause == NULL))
		abort();
	free(cause);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const long statuses[] = { 200, 400, 401 };
	/* The body of an http_response is NUL-terminated. */
	char *body = xmalloc(size + 1);

	memcpy(body, data, size);
	body[size] = '\0';
	for (size_t i = 0; i < nitems(statuses); i++) {
		struct http_response r = { 0 };

		r.err = HTTP_OK;
		r.status = statuses[i];
		r.body = body;
		r.body_len = size;
		r.retry_after_ms = -1;
		r.attempts = 1;
		check_token(&r);
		check_userinfo(&r);
		check_revoke(&r);
	}
	free(body);
	return 0;
}
