/* SPDX-License-Identifier: ISC */
/*
 * session: who a request is from, and the CSRF token its forms carry.
 *
 * A session id is 32 random bytes, base64url in an HttpOnly, SameSite=Lax
 * cookie ("__Host-rally" over HTTPS, with Secure; "rally" otherwise); the
 * database keeps only its SHA-256 (rally.sessions), so a copy of the table
 * opens no session.  A session ends after web.session_idle unused or
 * web.session_lifetime in all, at sign-out, and at the next sign-in in the
 * same browser (the id is never reused: rotation).
 *
 * Every state-changing request (every POST) carries a token in its form's
 * "csrf" field.  Signed in, it is an HMAC of the session's own secret,
 * which only pages of that session can know; signed out (sign-in, sign-up,
 * reset forms) it is an HMAC of a random pre-session cookie, so another
 * site can neither read nor forge it.  Compared in constant time.
 */
#ifndef RALLY_CGI_SESSION_H
#define RALLY_CGI_SESSION_H

#include <stdbool.h>

#include "cgi.h"

#define SESSION_ID_BYTES 32

struct session {
	char *tenant_id;
	char *user_id;
	char *email;
	char *name;
	char *role;		/* owner | admin | member */
	char *tenant_name;
	char *csrf;		/* the token for this session's forms */
};

/*
 * The session of the request's cookie.  1: cgi->session is set and a
 * transaction is open on cgi->db with the tenant and user set for
 * row-level security, and TimeZone set to the user's (so to_char() and
 * timestamptz output in queries show the user's local time).  0: none (no cookie, unknown, expired).  -1: the
 * database failed (*cause set).
 */
int session_resume(struct cgi *, const struct request *, char **cause);

/*
 * Signs tenant_id/user_id in: ends the session the request came with, if
 * any, creates a new one and sets its cookie on resp; cgi->session is then
 * the new one.  Inside the request's transaction.  0, or -1 with *cause.
 */
int session_open(struct cgi *, const struct request *, struct response *,
    const char *tenant_id, const char *user_id, char **cause);

/* Signs out: the session is deleted and its cookie cleared. */
int session_close(struct cgi *, const struct request *, struct response *,
    char **cause);

/*
 * The token for a form of this request: the session's, or a pre-session
 * one (setting its cookie on resp when the browser has none yet).
 */
const char *session_csrf_token(struct cgi *, const struct request *,
    struct response *);

/* Whether token is the one the request's forms were given. */
bool session_csrf_valid(struct cgi *, const struct request *,
    const char *token);

/*
 * The SHA-256 of the request's session cookie in bytea text form ("\\x..."),
 * as rally.sessions.id_hash holds it, or NULL without a cookie; caller
 * frees.  The account page marks "this browser" with it.
 */
char *session_cookie_hash(const struct cgi *, const struct request *);

void session_free(struct session *);

#endif
