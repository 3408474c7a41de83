/* SPDX-License-Identifier: ISC */
/*
 * google/oauth-url: the first step of Google's OAuth, apart from the rest
 * of google/oauth because rally.cgi needs it and nothing else: the PKCE
 * pair, the scopes of a connection and the consent URL.  Nothing here
 * talks to Google or touches a secret, so the CGI links neither libcurl
 * nor the token sealing (each library a CGI process maps costs its
 * start-up time, docs/cgi.md).
 */
#include "config.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "b64.h"
#include "google/oauth.h"
#include "log.h"
#include "urlenc.h"

void
oauth_pkce_challenge(const char *verifier, char challenge[44])
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	char *enc;

	SHA256((const unsigned char *)verifier, strlen(verifier), md);
	if ((enc = b64url_encode(md, sizeof md)) == NULL || strlen(enc) != 43)
		fatalx("oauth: cannot encode a PKCE challenge");
	memcpy(challenge, enc, 44);
	free(enc);
	explicit_bzero(md, sizeof md);
}

void
oauth_pkce_new(char verifier[OAUTH_VERIFIER_LEN + 1], char challenge[44])
{
	/* 48 random bytes are 64 base64url characters, all unreserved. */
	unsigned char raw[OAUTH_VERIFIER_LEN / 4 * 3];
	char *enc;

	random_bytes(raw, sizeof raw);
	if ((enc = b64url_encode(raw, sizeof raw)) == NULL ||
	    strlen(enc) != OAUTH_VERIFIER_LEN)
		fatalx("oauth: cannot encode a PKCE verifier");
	memcpy(verifier, enc, OAUTH_VERIFIER_LEN + 1);
	secure_free(enc, OAUTH_VERIFIER_LEN);
	explicit_bzero(raw, sizeof raw);
	oauth_pkce_challenge(verifier, challenge);
}

/* The scopes joined by single spaces; caller frees. */
static char *
oauth_join_scopes(const char *const *scopes)
{
	size_t n = 1;
	char *out;

	for (const char *const *s = scopes; *s != NULL; s++)
		n += strlen(*s) + 1;
	out = xmalloc(n);
	*out = '\0';
	for (const char *const *s = scopes; *s != NULL; s++) {
		if (s != scopes)
			strcat(out, " ");
		strcat(out, *s);
	}
	return out;
}

char *
oauth_auth_url(const struct oauth_client *c, const char *state,
    const char *challenge, const char *const *scopes)
{
	char *scope = oauth_join_scopes(scopes), *query, *url, *base;
	const char *kv[] = {
		"client_id", c->client_id,
		"redirect_uri", c->redirect_uri,
		"response_type", "code",
		"scope", scope,
		"access_type", "offline",
		"prompt", "consent",
		"include_granted_scopes", "true",
		"state", state,
		"code_challenge", challenge,
		"code_challenge_method", "S256",
		NULL, NULL,
	};
	const char *frag, *sep;
	size_t blen;

	query = urlenc_form_encode(kv);
	/* Parameters go into the query, before any fragment. */
	frag = strchr(c->auth_url, '#');
	blen = frag != NULL ? (size_t)(frag - c->auth_url) :
	    strlen(c->auth_url);
	base = xstrndup(c->auth_url, blen);
	if (memchr(base, '?', blen) == NULL)
		sep = "?";
	else if (base[blen - 1] == '?' || base[blen - 1] == '&')
		sep = "";
	else
		sep = "&";
	url = xasprintf("%s%s%s%s", base, sep, query, frag != NULL ? frag : "");
	free(base);
	free(query);
	free(scope);
	return url;
}

void
google_connect_scopes(bool calendar, bool mail,
    const char *out[GOOGLE_CONNECT_SCOPES_MAX])
{
	size_t n = 0;

	out[n++] = "openid";
	out[n++] = "email";
	if (calendar)
		out[n++] = GOOGLE_SCOPE_CALENDAR;
	if (mail) {
		out[n++] = GOOGLE_SCOPE_GMAIL_MODIFY;
		out[n++] = GOOGLE_SCOPE_GMAIL_SEND;
	}
	out[n] = NULL;
}
