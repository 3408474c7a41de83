/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "b64.h"
#include "cookie.h"
#include "log.h"
#include "db.h"
#include "session.h"

#define CSRF_CONTEXT "rally csrf v1"
#define PRE_CSRF_CONTEXT "rally pre-session csrf v1"

static const char *
session_cookie_name(const struct cgi *cgi)
{
	return cgi->https ? "__Host-rally" : "rally";
}

static const char *
pre_cookie_name(const struct cgi *cgi)
{
	return cgi->https ? "__Host-rally-pre" : "rally-pre";
}

/* HMAC-SHA-256 of context under key, base64url. */
static char *
csrf_mac(const void *key, size_t keylen, const char *context)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;

	if (HMAC(EVP_sha256(), key, (int)keylen,
	    (const unsigned char *)context, strlen(context), mac,
	    &maclen) == NULL)
		fatalx("session: HMAC-SHA-256 failed");
	return b64url_encode(mac, maclen);
}

/* The hex SHA-256 of the session id in a cookie, as bytea input. */
static char *
id_hash_hex(const unsigned char id[SESSION_ID_BYTES])
{
	unsigned char h[SHA256_DIGEST_LENGTH];

	SHA256(id, SESSION_ID_BYTES, h);
	return db_bytea_hex(h, sizeof h);
}

/* The id hash of the request's session cookie, or NULL. */
static char *
cookie_id_hash(const struct cgi *cgi, const struct request *req)
{
	char *value, *hex = NULL;
	unsigned char *id;
	size_t len;

	value = cookie_get(request_env(req, "HTTP_COOKIE"),
	    session_cookie_name(cgi));
	if (value == NULL)
		return NULL;
	if (b64url_decode(value, strlen(value), &id, &len) == 0) {
		if (len == SESSION_ID_BYTES)
			hex = id_hash_hex(id);
		OPENSSL_cleanse(id, len);
		free(id);
	}
	free(value);
	return hex;
}

char *
session_cookie_hash(const struct cgi *cgi, const struct request *req)
{
	return cookie_id_hash(cgi, req);
}

void
session_free(struct session *s)
{
	if (s == NULL)
		return;
	free(s->tenant_id);
	free(s->user_id);
	free(s->email);
	free(s->name);
	free(s->role);
	free(s->tenant_name);
	free(s->csrf);
	free(s);
}

/*
 * The session for tenant/user with csrf_secret (bytea text form): the
 * context set for the transaction, the user's row read under it.
 */
static int
session_load(struct cgi *cgi, const char *tenant_id, const char *user_id,
    const char *secret_text, char **cause)
{
	struct session *s;
	PGresult *res;
	unsigned char *secret;
	size_t len;

	if (db_set_tenant(cgi->db, tenant_id, user_id, cause) == -1)
		return -1;
	res = db_exec(cgi->db,
	    "SELECT u.email, u.name, u.role, t.name,"
	    " set_config('TimeZone', u.time_zone, true) FROM rally.users u"
	    " JOIN rally.tenants t ON t.tenant_id = u.tenant_id"
	    " WHERE u.tenant_id = rally.current_tenant()"
	    " AND u.id = rally.current_user_id()", 0, NULL, cause);
	if (res == NULL)
		return -1;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return 0;
	}
	secret = PQunescapeBytea((const unsigned char *)secret_text, &len);
	if (secret == NULL)
		fatalx("session: out of memory");
	s = xcalloc(1, sizeof *s);
	s->tenant_id = xstrdup(tenant_id);
	s->user_id = xstrdup(user_id);
	s->email = xstrdup(PQgetvalue(res, 0, 0));
	s->name = xstrdup(PQgetvalue(res, 0, 1));
	s->role = xstrdup(PQgetvalue(res, 0, 2));
	s->tenant_name = xstrdup(PQgetvalue(res, 0, 3));
	s->csrf = csrf_mac(secret, len, CSRF_CONTEXT);
	OPENSSL_cleanse(secret, len);
	PQfreemem(secret);
	PQclear(res);
	session_free(cgi->session);
	cgi->session = s;
	return 1;
}

int
session_resume(struct cgi *cgi, const struct request *req, char **cause)
{
	const char *params[2];
	char *hash, *idle;
	PGresult *res;
	int rc;

	if ((hash = cookie_id_hash(cgi, req)) == NULL)
		return 0;
	if (cgi_begin(cgi, cause) == -1) {
		free(hash);
		return -1;
	}
	idle = xasprintf("%lld seconds",
	    (long long)cgi->conf.web_session_idle_sec);
	params[0] = hash;
	params[1] = idle;
	res = db_exec(cgi->db, "SELECT tenant_id, user_id, csrf_secret FROM"
	    " rally.web_session_resume($1::bytea, $2::interval)", 2, params,
	    cause);
	free(hash);
	free(idle);
	if (res == NULL)
		return -1;
	rc = 0;
	if (PQntuples(res) == 1)
		rc = session_load(cgi, PQgetvalue(res, 0, 0),
		    PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2), cause);
	PQclear(res);
	return rc;
}

/* Deletes the session the request's cookie names, whoever's it is. */
static int
end_cookie_session(struct cgi *cgi, const struct request *req, char **cause)
{
	const char *params[1];
	char *hash;
	int rc;

	if ((hash = cookie_id_hash(cgi, req)) == NULL)
		return 0;
	params[0] = hash;
	rc = db_command(cgi->db, "SELECT rally.web_session_end($1::bytea)", 1,
	    params, cause);
	free(hash);
	return rc;
}

int
session_open(struct cgi *cgi, const struct request *req,
    struct response *resp, const char *tenant_id, const char *user_id,
    char **cause)
{
	unsigned char id[SESSION_ID_BYTES], secret[32];
	char *hash, *secret_hex, *life, *value, *cookie;
	const char *params[3];
	int rc;

	if (cgi_begin(cgi, cause) == -1 ||
	    end_cookie_session(cgi, req, cause) == -1 ||
	    db_set_tenant(cgi->db, tenant_id, user_id, cause) == -1)
		return -1;
	random_bytes(id, sizeof id);
	random_bytes(secret, sizeof secret);
	hash = id_hash_hex(id);
	secret_hex = db_bytea_hex(secret, sizeof secret);
	life = xasprintf("%lld seconds",
	    (long long)cgi->conf.web_session_lifetime_sec);
	params[0] = hash;
	params[1] = secret_hex;
	params[2] = life;
	rc = db_command(cgi->db,
	    "INSERT INTO rally.sessions (tenant_id, id_hash, user_id,"
	    " csrf_secret, expires_at) VALUES (rally.current_tenant(),"
	    " $1::bytea, rally.current_user_id(), $2::bytea,"
	    " now() + $3::interval)", 3, params, cause);
	if (rc == 0)
		rc = db_command(cgi->db, "UPDATE rally.users SET last_login_at ="
		    " now() WHERE tenant_id = rally.current_tenant() AND id ="
		    " rally.current_user_id()", 0, NULL, cause);
	if (rc == 0)
		rc = session_load(cgi, tenant_id, user_id, secret_hex, cause)
		    == 1 ? 0 : -1;
	if (rc == -1 && *cause == NULL)
		*cause = xstrdup("session: the new session's user is gone");
	if (rc == 0) {
		value = b64url_encode(id, sizeof id);
		cookie = cookie_format(session_cookie_name(cgi), value,
		    (long)cgi->conf.web_session_lifetime_sec, cgi->https);
		response_add_header(resp, "Set-Cookie", cookie);
		OPENSSL_cleanse(value, strlen(value));
		free(value);
		free(cookie);
	}
	OPENSSL_cleanse(id, sizeof id);
	OPENSSL_cleanse(secret, sizeof secret);
	OPENSSL_cleanse(secret_hex, strlen(secret_hex));
	free(hash);
	free(secret_hex);
	free(life);
	return rc;
}

int
session_close(struct cgi *cgi, const struct request *req,
    struct response *resp, char **cause)
{
	char *cookie;

	if (cgi_begin(cgi, cause) == -1 ||
	    end_cookie_session(cgi, req, cause) == -1)
		return -1;
	cookie = cookie_format(session_cookie_name(cgi), "", 0, cgi->https);
	response_add_header(resp, "Set-Cookie", cookie);
	free(cookie);
	session_free(cgi->session);
	cgi->session = NULL;
	return 0;
}

/* The pre-session cookie's token; "" names no cookie. */
static char *
pre_token(const char *cookie_value)
{
	return csrf_mac(cookie_value, strlen(cookie_value), PRE_CSRF_CONTEXT);
}

const char *
session_csrf_token(struct cgi *cgi, const struct request *req,
    struct response *resp)
{
	unsigned char raw[32];
	char *value, *cookie;

	if (cgi->session != NULL)
		return cgi->session->csrf;
	if (cgi->pre_csrf != NULL)
		return cgi->pre_csrf;
	value = cookie_get(request_env(req, "HTTP_COOKIE"),
	    pre_cookie_name(cgi));
	if (value == NULL || strlen(value) < 43) {
		free(value);
		random_bytes(raw, sizeof raw);
		value = b64url_encode(raw, sizeof raw);
		cookie = cookie_format(pre_cookie_name(cgi), value, -1,
		    cgi->https);
		response_add_header(resp, "Set-Cookie", cookie);
		free(cookie);
	}
	cgi->pre_csrf = pre_token(value);
	free(value);
	return cgi->pre_csrf;
}

bool
session_csrf_valid(struct cgi *cgi, const struct request *req,
    const char *token)
{
	char *value, *expect = NULL;
	bool ok;

	if (token == NULL)
		return false;
	if (cgi->session != NULL)
		expect = xstrdup(cgi->session->csrf);
	else if ((value = cookie_get(request_env(req, "HTTP_COOKIE"),
	    pre_cookie_name(cgi))) != NULL) {
		if (strlen(value) >= 43)
			expect = pre_token(value);
		free(value);
	}
	ok = expect != NULL && strlen(expect) == strlen(token) &&
	    CRYPTO_memcmp(expect, token, strlen(token)) == 0;
	free(expect);
	return ok;
}
