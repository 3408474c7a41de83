/* SPDX-License-Identifier: ISC */
/*
 * google/oauth: the authorization URL read back parameter by parameter,
 * PKCE against RFC 7636's own example, every shape of token, revoke and
 * userinfo answer built as a struct http_response, and the client secret
 * file's rules.
 */
#include "config.h"

#include <sys/stat.h>

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "google/oauth.h"
#include "tap.h"
#include "urlenc.h"
#include "util.h"

static const struct oauth_client client = {
	"1234-abc.apps.googleusercontent.com",
	"GOCSPX-secret",
	"https://crm.example.com/rally.cgi/oauth/callback?x=1&y=2",
	"https://accounts.google.com/o/oauth2/v2/auth",
	"https://oauth2.googleapis.com/token",
	"https://oauth2.googleapis.com/revoke",
	"https://openidconnect.googleapis.com/v1/userinfo",
};

/* ---- URL reading ---- */

/* Percent-decodes n bytes of s; NULL if an escape is broken or '+' appears
 * (we encode spaces as %20, never '+'). */
static char *
pct_decode(const char *s, size_t n)
{
	const char *why;
	char *out;

	if (memchr(s, '+', n) != NULL ||
	    urlenc_decode(s, n, 0, n, &out, &why) == -1)
		return NULL;
	return out;
}

/* The decoded value of the parameter name in url's query; NULL if absent. */
static char *
query_param(const char *url, const char *name, int *count)
{
	const char *q = strchr(url, '?'), *end;
	char *found = NULL;
	size_t nlen = strlen(name);

	*count = 0;
	if (q == NULL)
		return NULL;
	q++;
	end = strchr(q, '#');
	if (end == NULL)
		end = q + strlen(q);
	while (q < end) {
		const char *amp = memchr(q, '&', end - q);
		size_t plen = (amp != NULL ? amp : end) - q;

		if (plen > nlen && strncmp(q, name, nlen) == 0 && q[nlen] == '=') {
			(*count)++;
			free(found);
			found = pct_decode(q + nlen + 1, plen - nlen - 1);
		}
		q += plen + (amp != NULL ? 1 : 0);
	}
	return found;
}

static void
expect_param(const char *url, const char *name, const char *want)
{
	int count;
	char *got = query_param(url, name, &count);

	if (!ok(count == 1 && got != NULL && strcmp(got, want) == 0,
	    "the URL has %s once, decoding to the value given", name))
		printf("#   got %d times: %s\n#   want: %s\n", count,
		    got != NULL ? got : "(null)", want);
	free(got);
}

/* Every byte of the query is unreserved, '%', '&' or '='. */
static bool
query_fully_escaped(const char *url)
{
	const char *q = strchr(url, '?');

	for (q = q != NULL ? q + 1 : url; *q != '\0' && *q != '#'; q++)
		if (!isalnum((unsigned char)*q) && strchr("-._~%&=", *q) == NULL)
			return false;
	return true;
}

static void
test_auth_url_carries_every_parameter(void)
{
	const char *scopes[] = { "openid", "email", GOOGLE_SCOPE_CALENDAR,
	    NULL };
	const char *state = "st+ate/with=odd&chars";
	char verifier[OAUTH_VERIFIER_LEN + 1], challenge[44];
	char *url;

	oauth_pkce_new(verifier, challenge);
	url = oauth_auth_url(&client, state, challenge, scopes);
	ok(strncmp(url, "https://accounts.google.com/o/oauth2/v2/auth?",
	    strlen("https://accounts.google.com/o/oauth2/v2/auth?")) == 0,
	    "the URL is the endpoint with a query");
	expect_param(url, "client_id", client.client_id);
	expect_param(url, "redirect_uri", client.redirect_uri);
	expect_param(url, "response_type", "code");
	expect_param(url, "scope", "openid email "
	    "https://www.googleapis.com/auth/calendar.events");
	expect_param(url, "access_type", "offline");
	expect_param(url, "prompt", "consent");
	expect_param(url, "include_granted_scopes", "true");
	expect_param(url, "state", state);
	expect_param(url, "code_challenge", challenge);
	expect_param(url, "code_challenge_method", "S256");
	ok(query_fully_escaped(url), "every value is percent-encoded");
	ok(strstr(url, "%20") != NULL && strchr(url, ' ') == NULL,
	    "spaces between scopes are %%20");
	free(url);
}

static void
test_auth_url_keeps_an_existing_query(void)
{
	const char *scopes[] = { "openid", NULL };
	struct oauth_client c = client;
	char *url;
	int n;
	char *v;

	c.auth_url = "https://idp.example/auth?hd=example.com";
	url = oauth_auth_url(&c, "s", "c", scopes);
	ok(strncmp(url, "https://idp.example/auth?hd=example.com&client_id=",
	    strlen("https://idp.example/auth?hd=example.com&client_id=")) == 0,
	    "parameters follow the existing query after '&'");
	v = query_param(url, "hd", &n);
	ok(n == 1 && v != NULL && strcmp(v, "example.com") == 0,
	    "the existing parameter is kept as it was");
	free(v);
	free(url);

	c.auth_url = "https://idp.example/auth?";
	url = oauth_auth_url(&c, "s", "c", scopes);
	ok(strncmp(url, "https://idp.example/auth?client_id=",
	    strlen("https://idp.example/auth?client_id=")) == 0,
	    "a URL ending in '?' gets no extra separator");
	free(url);

	c.auth_url = "https://idp.example/auth#frag";
	url = oauth_auth_url(&c, "s", "c", scopes);
	ok(strncmp(url, "https://idp.example/auth?client_id=",
	    strlen("https://idp.example/auth?client_id=")) == 0 &&
	    strcmp(url + strlen(url) - 5, "#frag") == 0,
	    "the query goes before a fragment, which stays last");
	expect_param(url, "state", "s");
	free(url);
}

static void
test_pkce_matches_rfc7636_appendix_b(void)
{
	char challenge[44];

	oauth_pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
	    challenge);
	is_str(challenge, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
	    "the S256 challenge of RFC 7636's example verifier");
}

static void
test_pkce_pairs_are_fresh_and_well_formed(void)
{
	char v1[OAUTH_VERIFIER_LEN + 1], c1[44], v2[OAUTH_VERIFIER_LEN + 1];
	char c2[44], again[44];
	bool charset = true;

	oauth_pkce_new(v1, c1);
	oauth_pkce_new(v2, c2);
	for (size_t i = 0; i < OAUTH_VERIFIER_LEN; i++)
		if (!isalnum((unsigned char)v1[i]) && strchr("-._~", v1[i]) == NULL)
			charset = false;
	ok(strlen(v1) == OAUTH_VERIFIER_LEN && charset,
	    "a verifier is %d unreserved characters", OAUTH_VERIFIER_LEN);
	oauth_pkce_challenge(v1, again);
	ok(strlen(c1) == 43 && strcmp(c1, again) == 0,
	    "its challenge is the S256 of the verifier");
	ok(strcmp(v1, v2) != 0 && strcmp(c1, c2) != 0,
	    "two pairs differ");
}

/* ---- token responses ---- */

static struct http_response
resp(long status, const char *body)
{
	struct http_response r = { 0 };

	r.err = HTTP_OK;
	r.status = status;
	r.body = body;
	r.body_len = strlen(body);
	r.retry_after_ms = -1;
	r.attempts = 1;
	return r;
}

static bool
tokens_empty(const struct oauth_tokens *t)
{
	return t->access_token == NULL && t->refresh_token == NULL &&
	    t->scope == NULL && t->id_token == NULL;
}

/* Parses body with status; checks the result and that no token leaks. */
static void
expect_token(long status, const char *body, enum oauth_result want,
    const char *cause_has, const char *name)
{
	struct http_response r = resp(status, body);
	struct oauth_tokens t;
	char *cause = NULL;
	enum oauth_result got = oauth_parse_token_response(&r, &t, &cause);
	bool good = got == want;

	if (want == OAUTH_OK)
		good = good && cause == NULL && t.access_token != NULL;
	else
		good = good && cause != NULL && tokens_empty(&t) &&
		    (cause_has == NULL || strstr(cause, cause_has) != NULL) &&
		    strstr(cause, "ya29.") == NULL && strstr(cause, "1//") == NULL;
	if (!ok(good, "%s", name))
		printf("#   result %d (want %d), cause: %s\n", got, want,
		    cause != NULL ? cause : "(none)");
	oauth_tokens_clear(&t);
	free(cause);
}

#define GOOD "\"access_token\":\"ya29.a0AfH6\",\"expires_in\":3599," \
	"\"token_type\":\"Bearer\""

static void
test_token_200_fields(void)
{
	struct http_response r = resp(200, "{" GOOD ",\"scope\":\"openid "
	    "https://www.googleapis.com/auth/calendar.events\","
	    "\"refresh_token\":\"1//0gXyz\",\"id_token\":\"eyJ.eyJ.sig\"}");
	struct oauth_tokens t;
	char *cause = NULL;

	ok(oauth_parse_token_response(&r, &t, &cause) == OAUTH_OK &&
	    cause == NULL, "a first grant parses");
	is_str(t.access_token, "ya29.a0AfH6", "access_token is kept");
	is_str(t.refresh_token, "1//0gXyz", "refresh_token is kept");
	is_str(t.id_token, "eyJ.eyJ.sig", "id_token is kept");
	is_str(t.scope, "openid https://www.googleapis.com/auth/calendar.events",
	    "the granted scopes are kept");
	ok(t.expires_in == 3599, "expires_in is kept");
	oauth_tokens_clear(&t);
	ok(tokens_empty(&t) && t.expires_in == 0, "clearing empties the struct");
	oauth_tokens_clear(NULL);

	r = resp(200, "{" GOOD "}");
	ok(oauth_parse_token_response(&r, &t, &cause) == OAUTH_OK &&
	    t.refresh_token == NULL && t.scope == NULL && t.id_token == NULL,
	    "a refresh answer without refresh_token, scope or id_token parses");
	oauth_tokens_clear(&t);
}

static void
test_token_200_accepts(void)
{
	char *big, *body;

	expect_token(200, "{" GOOD ",\"unknown\":{\"nested\":[1,2,{}]},"
	    "\"x\":null}", OAUTH_OK, NULL, "unknown fields are ignored");
	expect_token(200, "{\"access_token\":\"ya29.x\",\"expires_in\":3599,"
	    "\"token_type\":\"bearer\"}", OAUTH_OK, NULL,
	    "token_type is compared without case");
	expect_token(200, "{\"access_token\":\"ya29.x\",\"expires_in\":2592000,"
	    "\"token_type\":\"Bearer\"}", OAUTH_OK, NULL,
	    "expires_in of 30 days is accepted");
	expect_token(200, "{\"access_token\":\"ya29.x\",\"expires_in\":1,"
	    "\"token_type\":\"Bearer\"}", OAUTH_OK, NULL,
	    "expires_in of 1 second is accepted");
	big = xmalloc(OAUTH_MAX_TOKEN + 1);
	memset(big, 'a', OAUTH_MAX_TOKEN);
	big[OAUTH_MAX_TOKEN] = '\0';
	body = xasprintf("{\"access_token\":\"%s\",\"expires_in\":60,"
	    "\"token_type\":\"Bearer\"}", big);
	expect_token(200, body, OAUTH_OK, NULL,
	    "an access token of OAUTH_MAX_TOKEN bytes is accepted");
	free(body);
	free(big);
}

static void
test_token_200_malformed(void)
{
	static const struct {
		const char *body, *cause, *name;
	} cases[] = {
		{ "{\"expires_in\":3599,\"token_type\":\"Bearer\"}",
		    "access_token", "no access_token" },
		{ "{\"access_token\":42,\"expires_in\":3599,\"token_type\":"
		    "\"Bearer\"}", "access_token", "a numeric access_token" },
		{ "{\"access_token\":\"\",\"expires_in\":3599,\"token_type\":"
		    "\"Bearer\"}", "access_token", "an empty access_token" },
		{ "{\"access_token\":\"ya29.a b\",\"expires_in\":3599,"
		    "\"token_type\":\"Bearer\"}", "access_token",
		    "a space in access_token" },
		{ "{\"access_token\":\"ya29.\\u0001\",\"expires_in\":3599,"
		    "\"token_type\":\"Bearer\"}", "access_token",
		    "a control byte in access_token" },
		{ "{\"access_token\":\"ya29.\\u0000x\",\"expires_in\":3599,"
		    "\"token_type\":\"Bearer\"}", "access_token",
		    "an escaped NUL in access_token" },
		{ "{\"access_token\":\"ya29.\xc3\xa9\",\"expires_in\":3599,"
		    "\"token_type\":\"Bearer\"}", "access_token",
		    "non-ASCII in access_token" },
		{ "{\"access_token\":\"ya29.x\",\"token_type\":\"Bearer\"}",
		    "expires_in", "no expires_in" },
		{ "{\"access_token\":\"ya29.x\",\"expires_in\":0,"
		    "\"token_type\":\"Bearer\"}", "expires_in", "expires_in 0" },
		{ "{\"access_token\":\"ya29.x\",\"expires_in\":-5,"
		    "\"token_type\":\"Bearer\"}", "expires_in",
		    "a negative expires_in" },
		{ "{\"access_token\":\"ya29.x\",\"expires_in\":2592001,"
		    "\"token_type\":\"Bearer\"}", "expires_in",
		    "expires_in over 30 days" },
		{ "{\"access_token\":\"ya29.x\",\"expires_in\":\"3599\","
		    "\"token_type\":\"Bearer\"}", "expires_in",
		    "expires_in as a string" },
		{ "{\"access_token\":\"ya29.x\",\"expires_in\":3599.5,"
		    "\"token_type\":\"Bearer\"}", "expires_in",
		    "a fractional expires_in" },
		{ "{\"access_token\":\"ya29.x\",\"expires_in\":3599}",
		    "token_type", "no token_type" },
		{ "{\"access_token\":\"ya29.x\",\"expires_in\":3599,"
		    "\"token_type\":\"mac\"}", "token_type", "token_type mac" },
		{ "{" GOOD ",\"refresh_token\":null}", "refresh_token",
		    "a null refresh_token" },
		{ "{" GOOD ",\"refresh_token\":\"1//a\\nb\"}", "refresh_token",
		    "a newline in refresh_token" },
		{ "{" GOOD ",\"id_token\":[]}", "id_token", "an array id_token" },
		{ "{" GOOD ",\"scope\":7}", "scope", "a numeric scope" },
		{ "{" GOOD ",\"scope\":\"a\\tb\"}", "scope", "a tab in scope" },
		{ "", "truncated", "an empty body" },
		{ "<html>oops</html>", "token endpoint", "an HTML body" },
		{ "[" "{" GOOD "}" "]", "not a JSON object", "an array" },
		{ "{" GOOD "} trailing", "data after", "trailing garbage" },
		{ "{" GOOD ",\"x\":NaN}", "NaN", "NaN somewhere" },
		{ "{" GOOD, "truncated", "a truncated body" },
	};

	for (size_t i = 0; i < nitems(cases); i++) {
		char *name = xasprintf("a 200 with %s is malformed",
		    cases[i].name);

		expect_token(200, cases[i].body, OAUTH_MALFORMED,
		    cases[i].cause, name);
		free(name);
	}
}

static void
test_token_200_limits(void)
{
	char *big, *body, *deep;
	size_t n = 70 * 1024;

	big = xmalloc(OAUTH_MAX_TOKEN + 2);
	memset(big, 'a', OAUTH_MAX_TOKEN + 1);
	big[OAUTH_MAX_TOKEN + 1] = '\0';
	body = xasprintf("{\"access_token\":\"%s\",\"expires_in\":60,"
	    "\"token_type\":\"Bearer\"}", big);
	expect_token(200, body, OAUTH_MALFORMED, "access_token",
	    "an access token one byte over OAUTH_MAX_TOKEN is malformed");
	free(body);
	body = xasprintf("{" GOOD ",\"refresh_token\":\"%s\"}", big);
	expect_token(200, body, OAUTH_MALFORMED, "refresh_token",
	    "an oversize refresh token is malformed");
	free(body);
	free(big);

	big = xmalloc(n + 1);
	memset(big, 'p', n);
	big[n] = '\0';
	body = xasprintf("{" GOOD ",\"padding\":\"%s\"}", big);
	expect_token(200, body, OAUTH_MALFORMED, "larger than",
	    "a body over 64 KiB is malformed");
	free(body);
	free(big);

	deep = xmalloc(2 * 40 + 1);
	memset(deep, '[', 40);
	memset(deep + 40, ']', 40);
	deep[80] = '\0';
	body = xasprintf("{" GOOD ",\"x\":%s}", deep);
	expect_token(200, body, OAUTH_MALFORMED, "nesting",
	    "a body nested 40 deep is malformed");
	free(body);
	free(deep);
}

static void
test_token_errors(void)
{
	expect_token(400, "{\"error\":\"invalid_grant\",\"error_description\":"
	    "\"Token has been expired or revoked.\"}", OAUTH_INVALID_GRANT,
	    "invalid_grant (Token has been expired or revoked.)",
	    "400 invalid_grant is INVALID_GRANT with Google's words");
	expect_token(400, "{\"error\":\"invalid_grant\",\"error_description\":"
	    "\"Bad Request\"}", OAUTH_INVALID_GRANT, "HTTP 400 invalid_grant",
	    "a used code is INVALID_GRANT");
	expect_token(401, "{\"error\":\"invalid_client\",\"error_description\":"
	    "\"Unauthorized\"}", OAUTH_INVALID_CLIENT, "invalid_client",
	    "401 invalid_client is INVALID_CLIENT");
	expect_token(400, "{\"error\":\"invalid_client\"}", OAUTH_INVALID_CLIENT,
	    "invalid_client", "400 invalid_client is INVALID_CLIENT too");
	expect_token(401, "not json", OAUTH_INVALID_CLIENT, "HTTP 401",
	    "401 with no JSON is INVALID_CLIENT");
	expect_token(400, "{\"error\":\"invalid_request\",\"error_description\":"
	    "\"Missing required parameter: code\"}", OAUTH_REJECTED,
	    "invalid_request", "another 400 is REJECTED");
	expect_token(400, "{\"error\":\"redirect_uri_mismatch\"}",
	    OAUTH_REJECTED, "redirect_uri_mismatch",
	    "redirect_uri_mismatch is REJECTED");
	expect_token(400, "<html>", OAUTH_REJECTED, "(no error code)",
	    "a 400 without JSON is REJECTED");
	expect_token(403, "{\"error\":\"access_denied\"}", OAUTH_REJECTED,
	    "HTTP 403", "403 is REJECTED");
	expect_token(404, "", OAUTH_REJECTED, "HTTP 404", "404 is REJECTED");
	expect_token(429, "{\"error\":\"rate\"}", OAUTH_TRANSIENT, "429",
	    "429 is TRANSIENT");
	expect_token(500, "", OAUTH_TRANSIENT, "500", "500 is TRANSIENT");
	expect_token(503, "{" GOOD "}", OAUTH_TRANSIENT, "503",
	    "503 is TRANSIENT whatever its body");
	expect_token(302, "", OAUTH_REJECTED, "302",
	    "a redirect is REJECTED (never followed)");
	expect_token(204, "", OAUTH_MALFORMED, "204",
	    "a 2xx other than 200 is MALFORMED");
}

static void
test_token_transport_errors_are_transient(void)
{
	static const enum http_err errs[] = { HTTP_ERR_CONNECT,
	    HTTP_ERR_TIMEOUT, HTTP_ERR_TLS, HTTP_ERR_TOO_LARGE,
	    HTTP_ERR_PROTOCOL, HTTP_ERR_CANCELLED };
	struct oauth_tokens t;

	for (size_t i = 0; i < nitems(errs); i++) {
		struct http_response r = resp(0, "");
		char *cause = NULL;

		r.err = errs[i];
		r.error = "connection refused";
		ok(oauth_parse_token_response(&r, &t, &cause) ==
		    OAUTH_TRANSIENT && cause != NULL &&
		    strstr(cause, "connection refused") != NULL &&
		    tokens_empty(&t), "transport error %d is TRANSIENT with "
		    "its reason", errs[i]);
		free(cause);
	}
}

static void
test_token_error_text_is_made_safe(void)
{
	struct http_response r;
	struct oauth_tokens t;
	char *cause = NULL, *body, *longtext;

	r = resp(400, "{\"error\":\"invalid_grant\",\"error_description\":"
	    "\"bad token ya29.a0secretsecret and 1//0gsecret\\u001b[31m\"}");
	oauth_parse_token_response(&r, &t, &cause);
	ok(cause != NULL && strstr(cause, "secretsecret") == NULL &&
	    strstr(cause, "0gsecret") == NULL,
	    "a token quoted by Google's description is redacted");
	ok(cause != NULL && strchr(cause, '\033') == NULL,
	    "control bytes in the description are replaced");
	free(cause);
	cause = NULL;

	longtext = xmalloc(5001);
	memset(longtext, 'd', 5000);
	longtext[5000] = '\0';
	body = xasprintf("{\"error\":\"invalid_request\",\"error_description\":"
	    "\"%s\"}", longtext);
	r = resp(400, body);
	oauth_parse_token_response(&r, &t, &cause);
	ok(cause != NULL && strlen(cause) < 300 && strstr(cause, "...") != NULL,
	    "a long description is cut short");
	free(cause);
	free(body);
	free(longtext);
}

/* ---- revoke and userinfo ---- */

static void
expect_revoke(long status, const char *body, enum oauth_result want,
    const char *name)
{
	struct http_response r = resp(status, body);
	char *cause = NULL;
	enum oauth_result got = oauth_parse_revoke_response(&r, &cause);

	if (!ok(got == want && (want == OAUTH_OK) == (cause == NULL), "%s",
	    name))
		printf("#   result %d (want %d), cause: %s\n", got, want,
		    cause != NULL ? cause : "(none)");
	free(cause);
}

static void
test_revoke(void)
{
	struct http_response r = resp(0, "");
	char *cause = NULL;

	expect_revoke(200, "{}", OAUTH_OK, "revoke 200 is done");
	expect_revoke(200, "", OAUTH_OK, "revoke 200 with no body is done");
	expect_revoke(400, "{\"error\":\"invalid_token\",\"error_description\":"
	    "\"Token expired or revoked\"}", OAUTH_OK,
	    "revoke 400 invalid_token (already revoked) is done");
	expect_revoke(400, "{\"error\":\"invalid_request\"}", OAUTH_REJECTED,
	    "another revoke 400 is REJECTED");
	expect_revoke(400, "junk", OAUTH_REJECTED,
	    "a revoke 400 without JSON is REJECTED");
	expect_revoke(401, "{}", OAUTH_REJECTED, "revoke 401 is REJECTED");
	expect_revoke(429, "", OAUTH_TRANSIENT, "revoke 429 is TRANSIENT");
	expect_revoke(503, "", OAUTH_TRANSIENT, "revoke 503 is TRANSIENT");
	r.err = HTTP_ERR_TIMEOUT;
	r.error = "timed out";
	ok(oauth_parse_revoke_response(&r, &cause) == OAUTH_TRANSIENT &&
	    cause != NULL, "a revoke that timed out is TRANSIENT");
	free(cause);
}

static void
expect_userinfo(long status, const char *body, enum oauth_result want,
    const char *want_sub, const char *want_email, const char *name)
{
	struct http_response r = resp(status, body);
	char *sub = NULL, *email = NULL, *cause = NULL;
	enum oauth_result got = oauth_parse_userinfo(&r, &sub, &email, &cause);
	bool good = got == want;

	if (want == OAUTH_OK)
		good = good && cause == NULL && sub != NULL && email != NULL &&
		    strcmp(sub, want_sub) == 0 && strcmp(email, want_email) == 0;
	else
		good = good && cause != NULL && sub == NULL && email == NULL;
	if (!ok(good, "%s", name))
		printf("#   result %d (want %d), cause: %s\n", got, want,
		    cause != NULL ? cause : "(none)");
	free(sub);
	free(email);
	free(cause);
}

static void
test_userinfo(void)
{
	expect_userinfo(200, "{\"sub\":\"1099\",\"email\":\"ann@gmail.com\","
	    "\"email_verified\":true,\"picture\":\"x\"}", OAUTH_OK, "1099",
	    "ann@gmail.com", "userinfo gives sub and email");
	expect_userinfo(200, "{\"sub\":\"1099\"}", OAUTH_MALFORMED, NULL, NULL,
	    "userinfo without email is malformed");
	expect_userinfo(200, "{\"email\":\"ann@gmail.com\"}", OAUTH_MALFORMED,
	    NULL, NULL, "userinfo without sub is malformed");
	expect_userinfo(200, "{\"sub\":\"1\",\"email\":\"no-at-sign\"}",
	    OAUTH_MALFORMED, NULL, NULL, "an email without '@' is malformed");
	expect_userinfo(200, "{\"sub\":\"1\",\"email\":\"a b@c\"}",
	    OAUTH_MALFORMED, NULL, NULL, "an email with a space is malformed");
	expect_userinfo(200, "{\"sub\":\"1\",\"email\":\"a@b@c\"}",
	    OAUTH_MALFORMED, NULL, NULL, "an email with two '@' is malformed");
	expect_userinfo(200, "{\"sub\":1,\"email\":\"a@b.c\"}", OAUTH_MALFORMED,
	    NULL, NULL, "a numeric sub is malformed");
	expect_userinfo(200, "nope", OAUTH_MALFORMED, NULL, NULL,
	    "a userinfo body that is not JSON is malformed");
	expect_userinfo(401, "{\"error\":\"invalid_request\"}",
	    OAUTH_INVALID_GRANT, NULL, NULL,
	    "userinfo 401 means the access token is not good");
	expect_userinfo(403, "{}", OAUTH_REJECTED, NULL, NULL,
	    "userinfo 403 is REJECTED");
	expect_userinfo(500, "", OAUTH_TRANSIENT, NULL, NULL,
	    "userinfo 500 is TRANSIENT");
}

static void
test_scope_granted(void)
{
	const char *g = "openid  https://www.googleapis.com/auth/calendar.events "
	    "https://www.googleapis.com/auth/userinfo.email";

	ok(oauth_scope_granted(g, GOOGLE_SCOPE_CALENDAR),
	    "a granted scope is found");
	ok(oauth_scope_granted(g, "openid"), "the first one too");
	ok(!oauth_scope_granted(g, GOOGLE_SCOPE_GMAIL_MODIFY),
	    "a scope not granted is not found");
	ok(!oauth_scope_granted(g, "https://www.googleapis.com/auth/calendar"),
	    "a prefix of a granted scope is not that scope");
	ok(!oauth_scope_granted(g, "calendar.events"),
	    "a suffix of a granted scope is not that scope");
	ok(!oauth_scope_granted(NULL, "openid"), "nothing granted: not found");
	ok(!oauth_scope_granted(g, ""), "the empty scope is never granted");
}

/* ---- the client from rally.conf ---- */

static char dir[] = "/tmp/rally-test-oauth-XXXXXX";

static char *
write_secret(const char *name, const char *text, size_t len, mode_t mode)
{
	char *path = xasprintf("%s/%s", dir, name);
	FILE *f = fopen(path, "w");

	fwrite(text, 1, len, f);
	fclose(f);
	chmod(path, mode);
	return path;
}

/* Loads the client with client_secret_file = path; -1 with *cause. */
static int
load_client(const char *path, struct oauth_client *c, char **secret,
    char **cause, bool with_client_id)
{
	struct conf cf;
	char *text, *err = NULL;
	int rc;

	text = xasprintf("[google]\n%sclient_secret_file = %s\n"
	    "redirect_uri = https://crm.example.com/cb\n",
	    with_client_id ? "client_id = cid\n" : "", path);
	if (conf_load_buffer(text, strlen(text), "test", &cf, &err) == -1) {
		printf("# conf: %s\n", err);
		free(err);
		free(text);
		return -2;
	}
	free(text);
	rc = oauth_client_from_conf(&cf, c, secret, cause);
	if (rc == 0)
		ok(strcmp(c->client_id, "cid") == 0 &&
		    strcmp(c->token_url, "https://oauth2.googleapis.com/token")
		    == 0 && c->client_secret == *secret,
		    "the client points at the settings and the secret");
	/* c's strings live in cf: check before clearing. */
	conf_clear(&cf);
	memset(c, 0, sizeof *c);
	return rc;
}

static void
expect_secret(const char *name, const char *text, size_t len, mode_t mode,
    const char *want, const char *cause_has, const char *test)
{
	char *path = write_secret(name, text, len, mode), *secret = NULL;
	char *cause = NULL;
	struct oauth_client c;
	int rc = load_client(path, &c, &secret, &cause, true);

	if (want != NULL)
		ok(rc == 0 && secret != NULL && strcmp(secret, want) == 0, "%s",
		    test);
	else if (!ok(rc == -1 && secret == NULL && cause != NULL &&
	    strstr(cause, cause_has) != NULL && (len < 4 ||
	    strstr(cause, "GOCSPX") == NULL), "%s", test))
		printf("#   cause: %s\n", cause != NULL ? cause : "(none)");
	if (secret != NULL)
		secure_free(secret, strlen(secret));
	free(cause);
	unlink(path);
	free(path);
}

static void
test_client_secret_file(void)
{
	char big[OAUTH_MAX_SECRET_FILE + 2], want[OAUTH_MAX_SECRET_FILE + 1];

	expect_secret("s1", "GOCSPX-abc\n", 11, 0600, "GOCSPX-abc",
	    NULL, "the secret is the first line without its newline");
	expect_secret("s2", "GOCSPX-abc\r\nsecond line\n", 24, 0400,
	    "GOCSPX-abc", NULL, "a CRLF is trimmed and later lines ignored");
	expect_secret("s3", "GOCSPX-abc", 10, 0600, "GOCSPX-abc", NULL,
	    "a file without a newline is fine");
	expect_secret("s3g", "GOCSPX-abc\n", 11, 0640, NULL,
	    "readable by group: chmod 600 ",
	    "a group-readable file is refused: the web server is in the group");
	expect_secret("s4", "GOCSPX-abc\n", 11, 0644, NULL,
	    "readable by others", "a world-readable file is refused");
	expect_secret("s5", "GOCSPX-abc\n", 11, 0620, NULL,
	    "writable by group", "a group-writable file is refused");
	expect_secret("s6", "\n", 1, 0600, NULL, "empty",
	    "an empty first line is refused");
	expect_secret("s7", "GOCSPX abc\n", 11, 0600, NULL, "blank",
	    "a blank inside the secret is refused");
	memset(big, 'x', sizeof big);
	expect_secret("s8", big, OAUTH_MAX_SECRET_FILE + 1, 0600, NULL,
	    "larger than 1024", "a file over 1 KiB is refused");
	memset(want, 'x', OAUTH_MAX_SECRET_FILE);
	want[OAUTH_MAX_SECRET_FILE] = '\0';
	expect_secret("s9", big, OAUTH_MAX_SECRET_FILE, 0600, want, NULL,
	    "a file of exactly 1 KiB is read");
}

static void
test_client_from_conf_settings(void)
{
	struct oauth_client c;
	char *secret = NULL, *cause = NULL, *path, *creds;
	int rc;

	path = write_secret("file", "from-file\n", 10, 0600);
	rc = load_client(path, &c, &secret, &cause, false);
	ok(rc == -1 && cause != NULL && strstr(cause, "google.client_id") !=
	    NULL, "a missing client_id is named");
	free(cause);
	cause = NULL;

	rc = load_client("", &c, &secret, &cause, true);
	ok(rc == -1 && cause != NULL &&
	    strstr(cause, "google.client_secret_file") != NULL,
	    "a missing secret file setting is named");
	free(cause);
	cause = NULL;

	rc = load_client("/nonexistent/secret", &c, &secret, &cause, true);
	ok(rc == -1 && cause != NULL && strstr(cause, "/nonexistent/secret") !=
	    NULL, "an unreadable secret file is named");
	free(cause);
	cause = NULL;

	/* systemd's credential wins over the configured file. */
	creds = xasprintf("%s/creds", dir);
	mkdir(creds, 0700);
	free(write_secret("creds/google-client-secret", "from-cred\n", 10,
	    0400));
	setenv("CREDENTIALS_DIRECTORY", creds, 1);
	rc = load_client(path, &c, &secret, &cause, true);
	ok(rc == 0 && strcmp(secret, "from-cred") == 0,
	    "the google-client-secret credential is used when present");
	secure_free(secret, strlen(secret));
	secret = NULL;
	free(creds);
	creds = xasprintf("%s/empty-creds", dir);
	mkdir(creds, 0700);
	setenv("CREDENTIALS_DIRECTORY", creds, 1);
	rc = load_client(path, &c, &secret, &cause, true);
	ok(rc == 0 && strcmp(secret, "from-file") == 0,
	    "without the credential the configured file is used");
	secure_free(secret, strlen(secret));
	unsetenv("CREDENTIALS_DIRECTORY");
	free(creds);
	free(path);
}

/* ---- the pasted reply ---- */

static const char reply_state[] = "St4te_-x";

static void
reply_is(const char *line, enum oauth_reply_result want, const char *want_code,
    const char *name)
{
	char *code = NULL, error[OAUTH_REPLY_ERROR_MAX + 1];
	enum oauth_reply_result got = oauth_reply_parse(line, reply_state,
	    &code, error);

	if (!ok(got == want, "%s", name))
		printf("#   got %d, want %d\n", got, want);
	if (want == OAUTH_REPLY_CODE)
		is_str(code, want_code, "  and the code is the one pasted");
	else
		ok(code == NULL, "  and no code is handed back");
	if (code != NULL)
		secure_free(code, strlen(code));
}

static void
test_reply_parse(void)
{
	char *code, error[OAUTH_REPLY_ERROR_MAX + 1], longcode[OAUTH_CODE_MAX + 2];

	reply_is("4/0Ab-c_d", OAUTH_REPLY_CODE, "4/0Ab-c_d",
	    "a bare code is taken as it is");
	reply_is("4%2F0Abc", OAUTH_REPLY_CODE, "4/0Abc",
	    "a bare code is percent-decoded");
	reply_is("https://crm.example.com/cb?state=St4te_-x&code=4%2F0Abc"
	    "&scope=email", OAUTH_REPLY_CODE, "4/0Abc",
	    "the redirect address gives its code when the state is this run's");
	reply_is("https://crm.example.com/cb?code=4%2F0Abc#state=other",
	    OAUTH_REPLY_CODE, "4/0Abc",
	    "the fragment is not part of the query");
	reply_is("code=abc&state=St4te_-x", OAUTH_REPLY_CODE, "abc",
	    "a query string alone is read too");
	reply_is("https://x/cb?state=St4te_-y&code=abc",
	    OAUTH_REPLY_WRONG_STATE, NULL, "another run's state is refused");
	reply_is("https://x/cb?state=St4te_&code=abc",
	    OAUTH_REPLY_WRONG_STATE, NULL, "a prefix of the state is refused");
	reply_is("https://x/cb?code=a&code=b", OAUTH_REPLY_MALFORMED, NULL,
	    "a code given twice is malformed");
	reply_is("https://x/cb?code=a%2", OAUTH_REPLY_MALFORMED, NULL,
	    "a broken escape is malformed");
	reply_is("https://x/cb?code=ab%00cd", OAUTH_REPLY_MALFORMED, NULL,
	    "an escaped NUL is malformed, not a code cut short");
	reply_is("ab%00cd", OAUTH_REPLY_NO_CODE, NULL,
	    "a bare code with an escaped NUL is no code");
	reply_is("https://x/cb?state=St4te_-x", OAUTH_REPLY_NO_CODE, NULL,
	    "an address without a code has no code");
	reply_is("https://x/cb?code=a+b", OAUTH_REPLY_NO_CODE, NULL,
	    "a code with a blank is not one Google issues");
	memset(longcode, 'a', OAUTH_CODE_MAX + 1);
	longcode[OAUTH_CODE_MAX + 1] = '\0';
	reply_is(longcode, OAUTH_REPLY_NO_CODE, NULL,
	    "a code over OAUTH_CODE_MAX bytes is refused");
	longcode[OAUTH_CODE_MAX] = '\0';
	reply_is(longcode, OAUTH_REPLY_CODE, longcode,
	    "a code of OAUTH_CODE_MAX bytes is taken");

	ok(oauth_reply_parse("https://x/cb?error=access_denied&state=nope",
	    reply_state, &code, error) == OAUTH_REPLY_DENIED && code == NULL,
	    "error= wins over a wrong state and hands back no code");
	is_str(error, "access_denied", "  and Google's error is kept");
	ok(oauth_reply_parse("https://x/cb?error=%3Cb%3E%0Aevil", reply_state,
	    &code, error) == OAUTH_REPLY_DENIED, "an unusual error= is denied");
	is_str(error, "?b??evil", "  and only letters, digits and '_' are kept");
}

static int
reply_read_n(const char *in, size_t len, char *buf, size_t size)
{
	FILE *fp = fmemopen((void *)in, len, "r");
	int rc = oauth_reply_read(fp, buf, size);

	fclose(fp);
	return rc;
}

#define reply_read(lit, buf, size) reply_read_n(lit, sizeof lit - 1, buf, size)

static void
test_reply_read(void)
{
	char buf[16];

	ok(reply_read("  abc def \t\nsecond\n", buf, sizeof buf) == 0,
	    "the first line is read");
	is_str(buf, "abc def", "  trimmed of blanks at both ends");
	ok(reply_read("no newline", buf, sizeof buf) == 0 &&
	    strcmp(buf, "no newline") == 0, "a line without newline is read");
	ok(reply_read("   \n", buf, sizeof buf) == 0 && buf[0] == '\0',
	    "a blank line reads as empty");
	ok(reply_read("123456789012345\n", buf, sizeof buf) == 0,
	    "a line filling the buffer is read");
	ok(reply_read("1234567890123456\n", buf, sizeof buf) == -1,
	    "a line one byte longer is refused");
	ok(reply_read("ab\0cd\n", buf, sizeof buf) == -1,
	    "a line holding a NUL is refused");
}

static void
cleanup(void)
{
	char *cmd = xasprintf("rm -rf '%s'", dir);

	if (system(cmd) != 0)
		printf("# could not remove %s\n", dir);
	free(cmd);
}

int
main(void)
{
	test_auth_url_carries_every_parameter();
	test_auth_url_keeps_an_existing_query();
	test_pkce_matches_rfc7636_appendix_b();
	test_pkce_pairs_are_fresh_and_well_formed();
	test_token_200_fields();
	test_token_200_accepts();
	test_token_200_malformed();
	test_token_200_limits();
	test_token_errors();
	test_token_transport_errors_are_transient();
	test_token_error_text_is_made_safe();
	test_revoke();
	test_userinfo();
	test_scope_granted();
	test_reply_parse();
	test_reply_read();
	if (mkdtemp(dir) == NULL) {
		ok(0, "mkdtemp");
		return tap_done();
	}
	test_client_secret_file();
	test_client_from_conf_settings();
	cleanup();
	return tap_done();
}
