/* SPDX-License-Identifier: ISC */
/*
 * google/oauth: Google's OAuth 2.0 for installed web apps, as Rally uses
 * it: the authorization URL (state, PKCE S256, offline access), and the
 * token, revoke and userinfo requests with their answers parsed.  It only
 * builds http_requests and parses http_responses, so the daemon (async,
 * on its event loop) and rallyctl (on a private loop) share it.
 */
#ifndef RALLY_GOOGLE_OAUTH_H
#define RALLY_GOOGLE_OAUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include "http.h"

#define GOOGLE_SCOPE_CALENDAR "https://www.googleapis.com/auth/calendar.events"
#define GOOGLE_SCOPE_GMAIL_MODIFY "https://www.googleapis.com/auth/gmail.modify"
#define GOOGLE_SCOPE_GMAIL_SEND "https://www.googleapis.com/auth/gmail.send"

#define OAUTH_VERIFIER_LEN 64		/* PKCE verifier: 43..128 allowed */
#define OAUTH_MAX_TOKEN 4096		/* longest token accepted from Google */

struct oauth_client {
	const char *client_id;
	const char *client_secret;
	const char *redirect_uri;
	const char *auth_url;
	const char *token_url;
	const char *revoke_url;
	const char *userinfo_url;
};

/* A fresh PKCE pair: verifier (NUL-terminated, OAUTH_VERIFIER_LEN chars) and
 * its S256 challenge (43 chars, NUL-terminated). */
void oauth_pkce_new(char verifier[OAUTH_VERIFIER_LEN + 1], char challenge[44]);
/* The S256 challenge of a given verifier. */
void oauth_pkce_challenge(const char *verifier, char challenge[44]);

/*
 * The scopes to ask for: openid and email (who the account is), then each
 * wanted integration's (mail needs both Gmail scopes).  For
 * oauth_auth_url(); NULL-terminated in out.
 */
#define GOOGLE_CONNECT_SCOPES_MAX 6
void google_connect_scopes(bool calendar, bool mail,
    const char *out[GOOGLE_CONNECT_SCOPES_MAX]);

/* The URL to send the user to; scopes is NULL-terminated.  Caller frees. */
char *oauth_auth_url(const struct oauth_client *, const char *state,
    const char *challenge, const char *const *scopes);

struct http_request *oauth_exchange_request(const struct oauth_client *,
    const char *code, const char *verifier);
struct http_request *oauth_refresh_request(const struct oauth_client *,
    const char *refresh_token);
struct http_request *oauth_revoke_request(const struct oauth_client *,
    const char *token);
struct http_request *oauth_userinfo_request(const struct oauth_client *,
    const char *access_token);

enum oauth_result {
	OAUTH_OK,
	OAUTH_INVALID_GRANT,	/* revoked, expired, or a used code: final */
	OAUTH_INVALID_CLIENT,	/* our client id/secret: an operator's problem */
	OAUTH_REJECTED,		/* any other 4xx answer: final for this request */
	OAUTH_TRANSIENT,	/* 5xx, 429, network: try again later */
	OAUTH_MALFORMED,	/* a 200 we cannot use: missing or oversize fields */
};

struct oauth_tokens {
	char *access_token;
	char *refresh_token;	/* NULL when Google sent none (refresh grants) */
	int64_t expires_in;	/* seconds */
	char *scope;		/* granted scopes, space separated */
	char *id_token;
};

/* Parses a token endpoint answer; on anything but OAUTH_OK sets *cause to
 * Google's error code and description (never a token). */
enum oauth_result oauth_parse_token_response(const struct http_response *,
    struct oauth_tokens *, char **cause);
/* Wipes and frees the members. */
void oauth_tokens_clear(struct oauth_tokens *);
/* A revoke answer: 200, or 400 invalid_token (already revoked), is done. */
enum oauth_result oauth_parse_revoke_response(const struct http_response *,
    char **cause);
/* userinfo: sub and email (caller frees both). */
enum oauth_result oauth_parse_userinfo(const struct http_response *,
    char **sub, char **email, char **cause);
/* Whether a granted scope string includes scope. */
int oauth_scope_granted(const char *granted, const char *scope);

struct conf;

/* Longest client secret file accepted. */
#define OAUTH_MAX_SECRET_FILE 1024

/*
 * Fills c from the [google] settings (pointers into conf) and reads the
 * client secret into *secret_out (c->client_secret points to it; the
 * caller frees it with secure_free(*secret_out, strlen(*secret_out))).
 * The secret is the first line of the systemd credential
 * "google-client-secret" when $CREDENTIALS_DIRECTORY holds one, else of
 * google.client_secret_file; the file must be a regular file, at most
 * OAUTH_MAX_SECRET_FILE bytes, neither readable by others nor writable by
 * group or others.  -1 with *cause (never the secret) when a setting is
 * missing or the file unusable.
 */
int oauth_client_from_conf(const struct conf *, struct oauth_client *,
    char **secret_out, char **cause);

/*
 * What the user pastes back after consent when no redirect reaches Rally
 * (oauth-reply.c): the code alone, or the address Google sent the browser
 * to, holding code, state or error in its query.
 */
#define OAUTH_CODE_MAX 2048		/* longest code accepted */
#define OAUTH_REPLY_ERROR_MAX 64	/* longest error= kept */

enum oauth_reply_result {
	OAUTH_REPLY_CODE,	/* *code set */
	OAUTH_REPLY_MALFORMED,	/* a query string that does not parse */
	OAUTH_REPLY_DENIED,	/* Google sent error= (error set) */
	OAUTH_REPLY_WRONG_STATE, /* a state that is not the one expected */
	OAUTH_REPLY_NO_CODE,	/* no code, or one Google does not issue */
};

/*
 * Reads the first line of fp into buf (size bytes), trimmed of blanks;
 * -1, with the rest of the line read, when it holds a NUL or does not fit.
 */
int oauth_reply_read(FILE *, char *buf, size_t size);
/*
 * Parses a pasted line against this run's state.  On OAUTH_REPLY_CODE the
 * caller frees *code with secure_free(*code, strlen(*code)); on
 * OAUTH_REPLY_DENIED error holds Google's error= cut to
 * OAUTH_REPLY_ERROR_MAX bytes, all but letters, digits and '_' as '?'.
 * A line without state is accepted: a bare code carries none.
 */
enum oauth_reply_result oauth_reply_parse(const char *line,
    const char *state, char **code, char error[OAUTH_REPLY_ERROR_MAX + 1]);
/* A code as Google issues them: 1..OAUTH_CODE_MAX printable ASCII bytes, no blanks. */
bool oauth_code_ok(const char *);

#endif
