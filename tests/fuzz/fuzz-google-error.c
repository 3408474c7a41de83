/* SPDX-License-Identifier: ISC */
/*
 * gerror_parse() and google_sanitize() (daemon/google-error.c) on what
 * Google, or anything answering in its place, might send.  The input is
 * parsed as an error body as it is; its text up to the first NUL is also
 * sanitized, and sent as the message of both error shapes (the APIs' and
 * OAuth's) with the text after that NUL as the reason.
 *
 * Checks besides "no crash": a message is one line of at most
 * GOOGLE_MESSAGE_MAX bytes, UTF-8 when its text was; a reason is kept as
 * it came or not at all, within GOOGLE_REASON_MAX; a Google token that
 * starts a word of the text (ya29. or 1// and at least 20 token
 * characters, log_redact()'s shapes) never comes out.
 */
#include "config.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "fuzz.h"
#include "google-int.h"
#include "utf8.h"

#define TOKEN_MIN 20	/* token characters after the prefix */
#define BUILT_MAX 4096	/* escaped, far below the 64 KiB an error body may be */

static const long statuses[] = { 400, 401, 403, 404, 409, 410, 429, 500, 503 };

static bool
is_word_char(unsigned char c)
{
	return isalnum(c) || c == '_' || c == '-';
}

static bool
is_token_char(unsigned char c)
{
	return is_word_char(c) || c == '.';
}

/* The length of a Google token at s[i], prefix included, or 0. */
static size_t
token_at(const char *s, size_t i)
{
	size_t pl, n = 0;

	if (strncasecmp(s + i, "ya29.", 5) == 0)
		pl = 5;
	else if (strncmp(s + i, "1//", 3) == 0)
		pl = 3;
	else
		return 0;
	while (is_token_char((unsigned char)s[i + pl + n]))
		n++;
	return n >= TOKEN_MIN ? pl + n : 0;
}

/* Whether every occurrence of s[i, i + n) in s starts a word. */
static bool
only_at_word_starts(const char *s, size_t i, size_t n)
{
	const char *p = s;

	while ((p = memmem(p, strlen(p), s + i, n)) != NULL) {
		if (p > s && is_word_char((unsigned char)p[-1]))
			return false;
		p++;
	}
	return true;
}

/* Aborts if a token at the start of a word of text comes out in out. */
static void
check_tokens(const char *text, const char *out)
{
	size_t n;

	for (size_t i = 0; text[i] != '\0'; i++) {
		if (i > 0 && is_word_char((unsigned char)text[i - 1]))
			continue;
		if ((n = token_at(text, i)) == 0 ||
		    !only_at_word_starts(text, i, n))
			continue;
		if (memmem(out, strlen(out), text + i, n) != NULL) {
			fprintf(stderr, "token %.*s survived in: %s\n", (int)n,
			    text + i, out);
			abort();
		}
	}
}

static void
check_message(const char *m)
{
	if (strlen(m) > GOOGLE_MESSAGE_MAX)
		abort();
	for (const char *p = m; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			abort();
}

static void
check_reason(const struct gerror *ge, const char *given)
{
	size_t n = strnlen(ge->reason, sizeof ge->reason);

	if (n > GOOGLE_REASON_MAX)
		abort();
	if (given != NULL && n > 0 && strcmp(ge->reason, given) != 0)
		abort();
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)ge->reason[i] <= 0x20 || ge->reason[i] == 0x7f)
			abort();
}

static void
check_sanitize(const char *text)
{
	char *m = google_sanitize(text);

	check_message(m);
	if (utf8_valid(text, strlen(text)) && !utf8_valid(m, strlen(m)))
		abort();
	check_tokens(text, m);
	free(m);
}

static void
parse(const char *body, size_t len, long status, struct gerror *ge)
{
	struct http_response r = {
		.err = HTTP_OK, .status = status, .body = body, .body_len = len,
		.retry_after_ms = -1,
	};

	gerror_parse(&r, ge);
	if (strcmp(gerr_kind(gerror_classify(status, ge)), "unknown") == 0)
		abort();
	(void)gerror_should_retry_cb(&r, NULL);
	if (ge->message != NULL)
		check_message(ge->message);
	check_reason(ge, NULL);
}

/* The APIs' {"error": {...}} (oauth false) or OAuth's {"error": "..."}. */
static json_object *
error_body(const char *text, const char *reason, bool oauth)
{
	json_object *doc = json_object_new_object(), *err, *errors, *first;

	if (oauth) {
		json_object_object_add(doc, "error",
		    json_object_new_string(reason));
		json_object_object_add(doc, "error_description",
		    json_object_new_string(text));
		return doc;
	}
	err = json_object_new_object();
	errors = json_object_new_array();
	first = json_object_new_object();
	json_object_object_add(first, "reason", json_object_new_string(reason));
	json_object_array_add(errors, first);
	json_object_object_add(err, "code", json_object_new_int(400));
	json_object_object_add(err, "message", json_object_new_string(text));
	json_object_object_add(err, "errors", errors);
	json_object_object_add(doc, "error", err);
	return doc;
}

/* text as the message of an error body: it comes out as sanitize says. */
static void
check_built(const char *text, const char *reason, bool oauth, long status)
{
	json_object *doc = error_body(text, reason, oauth);
	const char *body = json_object_to_json_string_ext(doc,
	    JSON_C_TO_STRING_PLAIN);
	struct gerror ge;
	char *m;

	parse(body, strlen(body), status, &ge);
	check_reason(&ge, reason);
	/* Bytes that are not UTF-8 are refused with the body. */
	if (utf8_valid(text, strlen(text)) && utf8_valid(reason, strlen(reason))) {
		if (ge.message == NULL)
			abort();
		m = google_sanitize(text);
		if (strcmp(m, ge.message) != 0)
			abort();
		free(m);
		check_tokens(text, ge.message);
	}
	free(ge.message);
	json_object_put(doc);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1);
	const char *text, *reason;
	long status = statuses[size % (sizeof statuses / sizeof statuses[0])];
	struct gerror ge;
	size_t tl;

	if (buf == NULL)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	parse(buf, size, status, &ge);
	free(ge.message);

	text = buf;
	tl = strlen(text);
	reason = tl < size ? text + tl + 1 : "";
	check_sanitize(text);
	if (tl <= BUILT_MAX && strlen(reason) <= BUILT_MAX) {
		check_built(text, reason, false, status);
		check_built(text, reason, true, status);
	}
	free(buf);
	return 0;
}
