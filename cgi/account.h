/* SPDX-License-Identifier: ISC */
/*
 * account: what the pages of password reset, invitations and the team
 * share (page-reset.c, page-invite.c, page-team.c; docs/web.md, "Accounts,
 * invitations and the team").
 *
 * A link token is 32 random bytes, base64url: 43 characters in the URL of
 * an emailed link.  The database keeps only its SHA-256
 * (sql/functions/web-accounts.sql); the CGI never logs one, and clears
 * its copies once they are sent on.
 */
#ifndef RALLY_CGI_ACCOUNT_H
#define RALLY_CGI_ACCOUNT_H

#include <stdbool.h>
#include <stddef.h>

#include "cgi.h"
#include "passwd.h"

#define ACCOUNT_TOKEN_LEN 43
#define ACCOUNT_PASSWORD_MIN 10
#define ACCOUNT_NAME_MAX_CHARS 200

/* A new token in out (ACCOUNT_TOKEN_LEN characters and a NUL). */
void account_token_new(char out[ACCOUNT_TOKEN_LEN + 1]);
/* Whether s has the form of a token (anything else is never looked up). */
bool account_token_ok(const char *s);
/* Overwrites a token that is no longer needed. */
void account_token_clear(char *s);

/*
 * web.public_url, the base of emailed links, or NULL when it is not set:
 * then what (e.g. "password reset") is logged for the operator, once, and
 * the caller answers that the feature is not set up.  Links are never
 * built from the request's Host header, which the client chooses.
 */
const char *account_public_url(const struct cgi *, const char *what);

/* The client's address (REMOTE_ADDR), "" when unknown: a throttling key. */
const char *account_client_addr(const struct request *);

/*
 * The sign-in throttle (docs/web.md, "Throttling"), for every form that
 * checks a password: the seconds before email may be tried again from the
 * request's address (0: now; -1 on a database error), and a failure
 * counted under both.
 */
long account_login_wait(struct cgi *, const struct request *,
    const char *email, char **cause);
int account_login_failed(struct cgi *, const struct request *,
    const char *email, char **cause) MUST_CHECK;

/* A plausible single address: one '@', no blanks or separators. */
bool account_email_ok(const char *);

/* The characters (not bytes) of UTF-8 text s, as the database counts. */
size_t account_chars(const char *s);

/* What is wrong with a new password and its confirmation, or NULL. */
const char *account_password_check(const char *password, const char *again);

/* rally.conf's argon2id parameters ([passwords]). */
struct passwd_params;
void account_passwd_params(const struct cgi *, struct passwd_params *);
/* argon2id with rally.conf's parameters; 0, or -1 with *cause. */
int account_password_hash(const struct cgi *, const char *password,
    char **phc, char **cause) MUST_CHECK;

/* The fields of a new password and its confirmation, for a form. */
struct page;
void account_password_fields(struct page *);

/* Pages with a token in their URL: never cached, never sent on. */
void account_private_headers(struct response *);

#endif
