/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/sha.h>

#include "b64.h"
#include "google/oauth.h"
#include "json.h"
#include "log.h"
#include "urlenc.h"

/* A token endpoint answer is a few hundred bytes; an id_token a few K. */
#define OAUTH_MAX_RESPONSE (64 * 1024)
#define OAUTH_MAX_DEPTH 16
#define OAUTH_MAX_SCOPE 4096
#define OAUTH_MAX_EXPIRES_IN (86400 * 30)
#define OAUTH_MAX_SUB 255
#define OAUTH_MAX_EMAIL 320
/* How much of Google's error_description a cause keeps. */
#define OAUTH_MAX_DESCRIPTION 200

/* A form-encoded POST; the encoded form holds secrets, so it is wiped. */
static struct http_request *
oauth_form_post(const char *url, const char *const *kv)
{
	struct http_request *req = http_request_new("POST", url);
	char *form = urlenc_form_encode(kv);

	http_request_header(req, "Accept", "application/json");
	http_request_body(req, "application/x-www-form-urlencoded", form,
	    strlen(form));
	secure_free(form, strlen(form));
	return req;
}

struct http_request *
oauth_exchange_request(const struct oauth_client *c, const char *code,
    const char *verifier)
{
	const char *kv[] = {
		"client_id", c->client_id,
		"client_secret", c->client_secret,
		"code", code,
		"code_verifier", verifier,
		"grant_type", "authorization_code",
		"redirect_uri", c->redirect_uri,
		NULL, NULL,
	};
	struct http_request *req = oauth_form_post(c->token_url, kv);

	/*
	 * A code is single use: if Google redeemed it and the answer was
	 * lost, a retry could only fail with invalid_grant and hide why.
	 */
	http_request_no_retry(req);
	return req;
}

struct http_request *
oauth_refresh_request(const struct oauth_client *c, const char *refresh_token)
{
	const char *kv[] = {
		"client_id", c->client_id,
		"client_secret", c->client_secret,
		"grant_type", "refresh_token",
		"refresh_token", refresh_token,
		NULL, NULL,
	};

	return oauth_form_post(c->token_url, kv);
}

struct http_request *
oauth_revoke_request(const struct oauth_client *c, const char *token)
{
	const char *kv[] = { "token", token, NULL, NULL };

	return oauth_form_post(c->revoke_url, kv);
}

struct http_request *
oauth_userinfo_request(const struct oauth_client *c, const char *access_token)
{
	struct http_request *req = http_request_new("GET", c->userinfo_url);

	http_request_header(req, "Accept", "application/json");
	http_request_bearer(req, access_token);
	return req;
}

/* Whether s (len bytes) is 1..max printable ASCII bytes; spaces if allowed. */
static bool
oauth_text_ok(const char *s, size_t len, size_t max, bool spaces)
{
	if (s == NULL || len == 0 || len > max || strlen(s) != len)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch > 0x7e || ch < 0x20 || (ch == ' ' && !spaces))
			return false;
	}
	return true;
}

/* Google's error text made safe for a terminal or a log, redacted, capped. */
static char *
oauth_safe_text(const char *s)
{
	char buf[OAUTH_MAX_DESCRIPTION + 4];
	size_t n = 0;

	for (; *s != '\0' && n < OAUTH_MAX_DESCRIPTION; s++) {
		unsigned char ch = (unsigned char)*s;

		buf[n++] = ch < 0x20 || ch > 0x7e ? '?' : (char)ch;
	}
	buf[n] = '\0';
	if (*s != '\0')
		strcat(buf, "...");
	return log_redact(buf);
}

/* Sets *cause to "HTTP <status> <error> (<description>)" from an error body. */
static void
oauth_error_cause(const struct http_response *r, json_object *body,
    char **cause)
{
	const char *error = json_get_string(body, "error");
	const char *desc = json_get_string(body, "error_description");
	char *e = NULL, *d = NULL;

	if (error != NULL)
		e = oauth_safe_text(error);
	if (desc != NULL)
		d = oauth_safe_text(desc);
	set_cause(cause, "HTTP %ld %s%s%s%s", r->status,
	    e != NULL ? e : "(no error code)", d != NULL ? " (" : "",
	    d != NULL ? d : "", d != NULL ? ")" : "");
	free(e);
	free(d);
}

/* The JSON object of a response, or NULL (no cause: callers decide). */
static json_object *
oauth_body(const struct http_response *r, char **why)
{
	json_object *o;

	o = json_parse_limited(r->body, r->body_len, OAUTH_MAX_RESPONSE,
	    OAUTH_MAX_DEPTH, why);
	if (o != NULL && !json_object_is_type(o, json_type_object)) {
		json_put_wiped(o);
		set_cause(why, "not a JSON object");
		return NULL;
	}
	return o;
}

/* Transport errors, rate limits and 5xx: worth another try later. */
static enum oauth_result
oauth_transient(const struct http_response *r, const char *what, char **cause)
{
	if (r->err != HTTP_OK)
		set_cause(cause, "%s: %s", what, r->error != NULL ? r->error :
		    "no response");
	else
		set_cause(cause, "%s: HTTP %ld, try again later", what,
		    r->status);
	return OAUTH_TRANSIENT;
}

static bool
oauth_is_transient(const struct http_response *r)
{
	return r->err != HTTP_OK || r->status == 429 || r->status >= 500;
}

/* A 4xx from the token endpoint, typed by Google's error code. */
static enum oauth_result
oauth_token_error(const struct http_response *r, char **cause)
{
	json_object *body = oauth_body(r, NULL);
	const char *error = json_get_string(body, "error");
	enum oauth_result res = OAUTH_REJECTED;

	/* RFC 6749 5.2: a 401 only ever means our client failed to log in. */
	if (r->status == 401 || (error != NULL &&
	    strcmp(error, "invalid_client") == 0))
		res = OAUTH_INVALID_CLIENT;
	else if (r->status == 400 && error != NULL &&
	    strcmp(error, "invalid_grant") == 0)
		res = OAUTH_INVALID_GRANT;
	oauth_error_cause(r, body, cause);
	json_put_wiped(body);
	return res;
}

/* Copies an optional token member; -1 when present but unusable. */
static int
oauth_copy_token(json_object *o, const char *key, char **out)
{
	const char *s;
	size_t len;

	*out = NULL;
	if (!json_object_object_get_ex(o, key, NULL))
		return 0;
	s = json_get_string_len(o, key, &len);
	if (!oauth_text_ok(s, len, OAUTH_MAX_TOKEN, false))
		return -1;
	*out = xstrndup(s, len);
	return 0;
}

/* Fills t from a 200's object; -1 with *cause naming a field, never a value. */
static int
oauth_fill_tokens(json_object *o, struct oauth_tokens *t, char **cause)
{
	const char *type, *scope;
	size_t len;

	if (oauth_copy_token(o, "access_token", &t->access_token) == -1 ||
	    t->access_token == NULL)
		return set_cause(cause, "access_token missing or unusable");
	if (json_get_int64(o, "expires_in", &t->expires_in) == -1 ||
	    t->expires_in < 1 || t->expires_in > OAUTH_MAX_EXPIRES_IN)
		return set_cause(cause, "expires_in missing or out of range");
	if ((type = json_get_string(o, "token_type")) == NULL ||
	    strcasecmp(type, "Bearer") != 0)
		return set_cause(cause, "token_type is not Bearer");
	if (oauth_copy_token(o, "refresh_token", &t->refresh_token) == -1)
		return set_cause(cause, "refresh_token unusable");
	if (oauth_copy_token(o, "id_token", &t->id_token) == -1)
		return set_cause(cause, "id_token unusable");
	if (json_object_object_get_ex(o, "scope", NULL)) {
		scope = json_get_string_len(o, "scope", &len);
		if (!oauth_text_ok(scope, len, OAUTH_MAX_SCOPE, true))
			return set_cause(cause, "scope unusable");
		t->scope = xstrndup(scope, len);
	}
	return 0;
}

enum oauth_result
oauth_parse_token_response(const struct http_response *r,
    struct oauth_tokens *t, char **cause)
{
	json_object *o;
	char *why = NULL;

	memset(t, 0, sizeof *t);
	if (oauth_is_transient(r))
		return oauth_transient(r, "token endpoint", cause);
	if (r->status >= 400)
		return oauth_token_error(r, cause);
	if (r->status != 200) {
		set_cause(cause, "token endpoint: unexpected HTTP %ld",
		    r->status);
		return r->status >= 300 ? OAUTH_REJECTED : OAUTH_MALFORMED;
	}
	if ((o = oauth_body(r, &why)) == NULL) {
		set_cause(cause, "token endpoint: unusable answer: %s", why);
		free(why);
		return OAUTH_MALFORMED;
	}
	if (oauth_fill_tokens(o, t, &why) == -1) {
		set_cause(cause, "token endpoint: %s", why);
		free(why);
		json_put_wiped(o);
		oauth_tokens_clear(t);
		return OAUTH_MALFORMED;
	}
	/* The tokens are copied out; json-c's copies must not linger. */
	json_put_wiped(o);
	return OAUTH_OK;
}

static void
oauth_wipe(char **s)
{
	if (*s != NULL)
		secure_free(*s, strlen(*s));
	*s = NULL;
}

void
oauth_tokens_clear(struct oauth_tokens *t)
{
	if (t == NULL)
		return;
	oauth_wipe(&t->access_token);
	oauth_wipe(&t->refresh_token);
	oauth_wipe(&t->id_token);
	free(t->scope);
	memset(t, 0, sizeof *t);
}

enum oauth_result
oauth_parse_revoke_response(const struct http_response *r, char **cause)
{
	json_object *body;
	const char *error;
	enum oauth_result res;

	if (oauth_is_transient(r))
		return oauth_transient(r, "revoke endpoint", cause);
	if (r->status == 200)
		return OAUTH_OK;
	body = oauth_body(r, NULL);
	error = json_get_string(body, "error");
	if (r->status == 400 && error != NULL &&
	    strcmp(error, "invalid_token") == 0)
		res = OAUTH_OK;		/* unknown or already revoked: done */
	else {
		res = OAUTH_REJECTED;
		oauth_error_cause(r, body, cause);
	}
	json_object_put(body);
	return res;
}

static bool
oauth_email_ok(const char *s, size_t len)
{
	const char *at;

	if (!oauth_text_ok(s, len, OAUTH_MAX_EMAIL, false) || len < 3)
		return false;
	at = strchr(s, '@');
	return at != NULL && at != s && at[1] != '\0' &&
	    strchr(at + 1, '@') == NULL;
}

enum oauth_result
oauth_parse_userinfo(const struct http_response *r, char **sub, char **email,
    char **cause)
{
	json_object *o;
	const char *s, *e;
	size_t slen, elen;
	char *why = NULL;

	*sub = *email = NULL;
	if (oauth_is_transient(r))
		return oauth_transient(r, "userinfo endpoint", cause);
	if (r->status != 200) {
		set_cause(cause, "userinfo endpoint: HTTP %ld", r->status);
		/* The access token we sent is not (or no longer) good. */
		return r->status == 401 ? OAUTH_INVALID_GRANT : OAUTH_REJECTED;
	}
	if ((o = oauth_body(r, &why)) == NULL) {
		set_cause(cause, "userinfo endpoint: unusable answer: %s", why);
		free(why);
		return OAUTH_MALFORMED;
	}
	s = json_get_string_len(o, "sub", &slen);
	e = json_get_string_len(o, "email", &elen);
	if (!oauth_text_ok(s, slen, OAUTH_MAX_SUB, false) ||
	    !oauth_email_ok(e, elen)) {
		set_cause(cause, "userinfo endpoint: %s missing or unusable",
		    !oauth_text_ok(s, slen, OAUTH_MAX_SUB, false) ? "sub" :
		    "email");
		json_object_put(o);
		return OAUTH_MALFORMED;
	}
	*sub = xstrndup(s, slen);
	*email = xstrndup(e, elen);
	json_object_put(o);
	return OAUTH_OK;
}

int
oauth_scope_granted(const char *granted, const char *scope)
{
	size_t n = strlen(scope);
	const char *p = granted;

	if (granted == NULL || n == 0)
		return 0;
	while (*p != '\0') {
		size_t w;

		while (*p == ' ')
			p++;
		w = strcspn(p, " ");
		if (w == n && strncmp(p, scope, n) == 0)
			return 1;
		p += w;
	}
	return 0;
}
