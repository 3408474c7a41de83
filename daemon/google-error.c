/* SPDX-License-Identifier: ISC */
/*
 * google-error: what Google's answers mean: an HTTP status and an error
 * body ({"error": {...}} from the APIs, {"error": "..."} from OAuth) become
 * an enum gerr and a message safe to log (google_sanitize).  Used by
 * google-call.c for every answer, and by lib/http's retry decision.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "google-int.h"
#include "json.h"
#include "log.h"
#include "util.h"

/* Error bodies larger or deeper than this are not parsed. */
#define GOOGLE_ERROR_MAX_BODY (64 * 1024)
#define GOOGLE_ERROR_MAX_DEPTH 16

const char *
gerr_kind(enum gerr e)
{
	static const char *const names[] = {
		[GERR_OK] = "ok",
		[GERR_REVOKED] = "revoked",
		[GERR_NOT_CONNECTED] = "not_connected",
		[GERR_AUTH] = "auth",
		[GERR_RATE_LIMITED] = "rate_limited",
		[GERR_UNAVAILABLE] = "unavailable",
		[GERR_NOT_FOUND] = "not_found",
		[GERR_GONE] = "gone",
		[GERR_CONFLICT] = "conflict",
		[GERR_PRECONDITION] = "precondition",
		[GERR_REJECTED] = "rejected",
		[GERR_MALFORMED] = "malformed",
		[GERR_CONFIG] = "config",
	};

	if ((unsigned)e >= nitems(names) || names[e] == NULL)
		return "unknown";
	return names[e];
}

/* One line, at most GOOGLE_MESSAGE_MAX bytes, secrets masked; caller frees. */
char *
google_sanitize(const char *s)
{
	char *r = log_redact(s != NULL ? s : "");
	size_t n = strlen(r);

	for (char *p = r; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	if (n > GOOGLE_MESSAGE_MAX) {
		n = GOOGLE_MESSAGE_MAX;
		/* Do not cut a UTF-8 sequence in two. */
		while (n > 0 && ((unsigned char)r[n] & 0xc0) == 0x80)
			n--;
		r[n] = '\0';
	}
	return r;
}

static bool
reason_ok(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++, n++)
		if (n >= GOOGLE_REASON_MAX || !(isalnum((unsigned char)*s) ||
		    *s == '_' || *s == '.' || *s == '-'))
			return false;
	return n > 0;
}

static void
gerror_set(struct gerror *ge, const char *reason, const char *message)
{
	if (reason != NULL && reason_ok(reason))
		snprintf(ge->reason, sizeof ge->reason, "%s", reason);
	if (message != NULL)
		ge->message = google_sanitize(message);
}

/*
 * {"error": {"code", "message", "errors": [{"reason"}]}} from the APIs, or
 * {"error": "...", "error_description": "..."} from OAuth endpoints.
 * Anything else leaves ge empty.
 */
void
gerror_parse(const struct http_response *r, struct gerror *ge)
{
	json_object *doc, *err, *errors, *first;

	memset(ge, 0, sizeof *ge);
	if (r->err != HTTP_OK || r->body_len == 0)
		return;
	doc = json_parse_limited(r->body, r->body_len, GOOGLE_ERROR_MAX_BODY,
	    GOOGLE_ERROR_MAX_DEPTH, NULL);
	if (doc == NULL)
		return;
	if (!json_object_object_get_ex(doc, "error", &err))
		goto done;
	if (json_object_is_type(err, json_type_string)) {
		gerror_set(ge, json_object_get_string(err),
		    json_get_string(doc, "error_description"));
		goto done;
	}
	if (!json_object_is_type(err, json_type_object))
		goto done;
	first = NULL;
	if (json_object_object_get_ex(err, "errors", &errors) &&
	    json_object_is_type(errors, json_type_array) &&
	    json_object_array_length(errors) > 0)
		first = json_object_array_get_idx(errors, 0);
	gerror_set(ge, json_get_string(first, "reason"),
	    json_get_string(err, "message"));
done:
	json_object_put(doc);
}

static bool
reason_is(const struct gerror *ge, const char *const *list)
{
	for (; *list != NULL; list++)
		if (strcmp(ge->reason, *list) == 0)
			return true;
	return false;
}

/* Reasons of a 403 that are rate limits; quotaExceeded is daily: not retried. */
static const char *const rate_reasons[] = {
	"rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded",
	"dailyLimitExceeded", NULL,
};
static const char *const retry_reasons[] = {
	"rateLimitExceeded", "userRateLimitExceeded", NULL,
};

bool
gerror_should_retry_cb(const struct http_response *r, void *arg)
{
	struct gerror ge;
	bool retry;

	if (http_default_should_retry(r))
		return true;
	if (r->err != HTTP_OK || r->status != 403)
		return false;
	gerror_parse(r, &ge);
	retry = reason_is(&ge, retry_reasons);
	free(ge.message);
	return retry;
}

bool
gerror_should_retry_paced_cb(const struct http_response *r, void *arg)
{
	if (r->err == HTTP_OK && r->status == 429)
		return false;
	return gerror_should_retry_cb(r, arg);
}

enum gerr
gerror_classify(long status, const struct gerror *ge)
{
	if (status >= 200 && status < 300)
		return GERR_OK;
	switch (status) {
	case 401:
		return GERR_AUTH;
	case 403:
		return reason_is(ge, rate_reasons) ? GERR_RATE_LIMITED :
		    GERR_REJECTED;
	case 404:
		return GERR_NOT_FOUND;
	case 409:
		return GERR_CONFLICT;
	case 410:
		return GERR_GONE;
	case 412:
		return GERR_PRECONDITION;
	case 429:
		return GERR_RATE_LIMITED;
	}
	if (status >= 500 && status < 600)
		return GERR_UNAVAILABLE;
	if (status >= 400 && status < 500)
		return GERR_REJECTED;
	return GERR_MALFORMED;	/* 1xx, 3xx: Google does not send these */
}

enum gerr
gerror_classify_transport(enum http_err e)
{
	switch (e) {
	case HTTP_ERR_TOO_LARGE:
	case HTTP_ERR_PROTOCOL:
		return GERR_MALFORMED;
	default:
		return GERR_UNAVAILABLE;
	}
}

