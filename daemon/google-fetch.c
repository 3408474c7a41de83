/* SPDX-License-Identifier: ISC */
/*
 * google-fetch: getting a connection's access token, at most one fetch
 * at a time for all of its calls (single flight): load the row, open the
 * stored token or refresh it at Google and store the new one sealed, and
 * when Google answers invalid_grant, record that access was revoked.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "conf.h"
#include "google-int.h"
#include "google/oauth.h"
#include "http.h"
#include "log.h"
#include "msgid.h"
#include "pgloop.h"
#include "rallyd.h"
#include "token-seal.h"
#include "util.h"

#define GOOGLE_SQL_LOAD \
	"SELECT refresh_token, access_token," \
	" extract(epoch FROM access_token_expires_at - now())::float8," \
	" status, calendar_enabled, mail_enabled" \
	" FROM rally.google_connections WHERE tenant_id = $1 AND id = $2"

/*
 * Only a connection still in use takes the new token: one disconnected or
 * revoked meanwhile keeps no token.  $3 access token, $4 its lifetime in
 * seconds, $5 a new refresh token or NULL.
 */
#define GOOGLE_SQL_STORE \
	"UPDATE rally.google_connections SET access_token = $3::bytea," \
	" access_token_expires_at = now() + make_interval(secs => $4::float8)," \
	" refresh_token = coalesce($5::bytea, refresh_token), updated_at = now()" \
	" WHERE tenant_id = $1 AND id = $2 AND status = 'active'" \
	" AND (calendar_enabled OR mail_enabled) AND refresh_token IS NOT NULL"

/*
 * The user took Rally's access away at Google: the same path as a
 * disconnect of both integrations (rally.compliance_disconnect, in
 * sql/functions/disconnect.sql), with the connection marked revoked: its
 * tokens move to rally.token_revocations, the purges of its synced data
 * are queued, and the ledger and the audit log say so, in one statement.
 * No row when it was revoked already.  $3 the error recorded on the
 * connection.
 */
#define GOOGLE_SQL_REVOKE \
	"SELECT r.calendar_off, r.mail_off FROM rally.google_connections c," \
	" LATERAL rally.compliance_disconnect(c.tenant_id, c.id, true, true," \
	"  'google', NULL, $3) r" \
	" WHERE c.tenant_id = $1 AND c.id = $2 AND c.status <> 'revoked'"

static void
revoke_cb(const PGresult *res, const char *error, void *arg)
{
	struct gconn *c = arg;

	if (error != NULL) {
		log_emit(LOG_WARNING, NULL, &c->log, "google: could not record "
		    "that access was revoked, trying again at the next call: %s",
		    error);
		gconn_fail_all(c, GERR_UNAVAILABLE, "access was revoked at "
		    "Google; recording it failed");
		return;
	}
	/* No row: another instance, or a disconnect, got there first. */
	if (PQntuples(res) == 1)
		log_emit(LOG_NOTICE, MSGID_GOOGLE_REVOKED, &c->log,
		    "google: access was revoked at Google (invalid_grant): "
		    "connection revoked, its tokens queued for revocation and "
		    "its synced %s queued for purging",
		    strcmp(PQgetvalue(res, 0, 1), "f") == 0 ? "calendar" :
		    strcmp(PQgetvalue(res, 0, 0), "f") == 0 ? "mail" :
		    "calendar and mail");
	gconn_fail_all(c, GERR_REVOKED, "access was revoked at Google");
}

static void
conn_revoke(struct gconn *c, const char *cause)
{
	char *why = google_sanitize(cause);
	char *msg = xasprintf("access revoked at Google: %s", why);
	const char *params[] = { c->tenant_id, c->id, msg };

	gconn_drop_token(c);
	c->fetch = FETCH_REVOKING;
	pgloop_query(c->g->d->db, GOOGLE_SQL_REVOKE, 3, params, revoke_cb, c);
	free(msg);
	free(why);
}

static void
store_cb(const PGresult *res, const char *error, void *arg)
{
	struct gconn *c = arg;

	if (error != NULL) {
		gconn_drop_new_token(c);
		gconn_fail_all(c, GERR_UNAVAILABLE, "could not store the "
		    "refreshed access token");
		return;
	}
	if (atol(PQcmdTuples((PGresult *)res)) != 1) {
		/* Disconnected or revoked while refreshing: the token is not ours. */
		gconn_drop_new_token(c);
		gconn_fail_all(c, GERR_NOT_CONNECTED, "the connection is no "
		    "longer active");
		return;
	}
	gconn_set_token(c, c->new_token, c->new_token_len, c->new_ttl);
	c->new_token = NULL;
	c->new_token_len = 0;
	gconn_dispatch(c);
}

/* Seals and stores a refreshed token; takes tok's members it keeps. */
static void
conn_store(struct gconn *c, struct oauth_tokens *tok)
{
	const struct keyring *kr = c->g->d->keyring;
	uint64_t elapsed = (now_usec() - c->refresh_sent) / 1000000;
	char *at_hex = NULL, *rt_hex = NULL, *cause = NULL, ttl[32];
	const char *params[5];
	int64_t lifetime = tok->expires_in;

	if (lifetime < GOOGLE_TOKEN_MIN_TTL_SEC)
		lifetime = GOOGLE_TOKEN_MIN_TTL_SEC;
	if (lifetime > GOOGLE_TOKEN_MAX_TTL_SEC)
		lifetime = GOOGLE_TOKEN_MAX_TTL_SEC;
	/* Counted from when the request left: Google's clock started then. */
	if ((uint64_t)lifetime > elapsed + 1)
		lifetime -= (int64_t)elapsed;
	if (token_seal(kr, c->tenant_id, c->id, "access_token",
	    tok->access_token, &at_hex, &cause) == -1 ||
	    (tok->refresh_token != NULL && token_seal(kr, c->tenant_id, c->id,
	    "refresh_token", tok->refresh_token, &rt_hex, &cause) == -1)) {
		gconn_fail_all(c, GERR_CONFIG, cause);
		free(cause);
		free(at_hex);
		return;
	}
	c->new_token_len = strlen(tok->access_token);
	c->new_token = tok->access_token;
	tok->access_token = NULL;
	c->new_ttl = lifetime;
	snprintf(ttl, sizeof ttl, "%lld", (long long)lifetime);
	params[0] = c->tenant_id;
	params[1] = c->id;
	params[2] = at_hex;
	params[3] = ttl;
	params[4] = rt_hex;
	c->fetch = FETCH_STORING;
	pgloop_query(c->g->d->db, GOOGLE_SQL_STORE, 5, params, store_cb, c);
	free(at_hex);
	free(rt_hex);
}

static void
refresh_cb(const struct http_response *hr, void *arg)
{
	struct gconn *c = arg;
	struct oauth_tokens tok = { 0 };
	char *cause = NULL, *msg;
	enum oauth_result rc;

	c->refresh_req = NULL;
	rc = oauth_parse_token_response(hr, &tok, &cause);
	if (rc == OAUTH_OK) {
		log_emit(LOG_DEBUG, NULL, &c->log, "google: refreshed the access "
		    "token (valid %lld s)", (long long)tok.expires_in);
		conn_store(c, &tok);
		oauth_tokens_clear(&tok);
		return;
	}
	oauth_tokens_clear(&tok);
	if (rc == OAUTH_INVALID_GRANT) {
		conn_revoke(c, cause != NULL ? cause : "invalid_grant");
		free(cause);
		return;
	}
	msg = xasprintf("token refresh: %s", cause != NULL ? cause : "failed");
	switch (rc) {
	case OAUTH_TRANSIENT:
		gconn_fail_all(c, GERR_UNAVAILABLE, msg);
		break;
	case OAUTH_INVALID_CLIENT:
		log_emit(LOG_WARNING, NULL, &c->log, "google: %s (check "
		    "google.client_id and google.client_secret_file)", msg);
		gconn_fail_all(c, GERR_CONFIG, msg);
		break;
	case OAUTH_MALFORMED:
		gconn_fail_all(c, GERR_MALFORMED, msg);
		break;
	default:
		gconn_fail_all(c, GERR_AUTH, msg);
		break;
	}
	free(msg);
	free(cause);
}

/* Asks Google for a new access token with the refresh token (bytea text). */
static void
conn_refresh(struct gconn *c, const char *refresh_bytea)
{
	struct oauth_client client;
	struct http_request *req;
	char *rt = NULL, *secret = NULL, *cause = NULL;
	size_t rtlen;

	if (token_open(c->g->d->keyring, c->tenant_id, c->id,
	    "refresh_token", refresh_bytea, &rt, &rtlen, &cause) == -1) {
		log_emit(LOG_WARNING, NULL, &c->log, "google: the stored refresh "
		    "token does not open: %s", cause);
		gconn_fail_all(c, GERR_CONFIG, cause);
		free(cause);
		return;
	}
	if (oauth_client_from_conf(&c->g->d->conf, &client, &secret,
	    &cause) == -1) {
		secure_free(rt, rtlen);
		gconn_fail_all(c, GERR_CONFIG, cause);
		free(cause);
		return;
	}
	req = oauth_refresh_request(&client, rt);
	secure_free(rt, rtlen);
	if (secret != NULL)
		secure_free(secret, strlen(secret));
	c->fetch = FETCH_REFRESHING;
	c->refresh_sent = now_usec();
	c->refresh_req = req;
	if (http_submit(c->g->d->http, req, refresh_cb, c) == -1) {
		c->refresh_req = NULL;
		gconn_fail_all(c, GERR_CONFIG, "the token request was refused "
		    "(google.token_url)");
	}
}

/* Opens the stored access token when it is good for a while yet; 0 or -1. */
static int
conn_take_stored(struct gconn *c, const PGresult *res)
{
	char *token, *cause = NULL;
	size_t len;
	double ttl;

	if (PQgetisnull(res, 0, 1) || PQgetisnull(res, 0, 2))
		return -1;
	ttl = atof(PQgetvalue(res, 0, 2));
	if (ttl <= GOOGLE_REFRESH_MARGIN_SEC || ttl > GOOGLE_TOKEN_MAX_TTL_SEC)
		return -1;
	if (token_open(c->g->d->keyring, c->tenant_id, c->id,
	    "access_token", PQgetvalue(res, 0, 1), &token, &len,
	    &cause) == -1) {
		log_emit(LOG_WARNING, NULL, &c->log, "google: the stored access "
		    "token does not open, refreshing instead: %s", cause);
		free(cause);
		return -1;
	}
	gconn_set_token(c, token, len, (int64_t)ttl);
	return 0;
}

static void
load_cb(const PGresult *res, const char *error, void *arg)
{
	struct gconn *c = arg;
	bool force = c->force_refresh;

	c->force_refresh = false;
	if (error != NULL) {
		gconn_fail_all(c, GERR_UNAVAILABLE, error);
		return;
	}
	if (PQntuples(res) != 1 || strcmp(PQgetvalue(res, 0, 3), "active") != 0 ||
	    PQgetisnull(res, 0, 0) || (strcmp(PQgetvalue(res, 0, 4), "t") != 0 &&
	    strcmp(PQgetvalue(res, 0, 5), "t") != 0)) {
		gconn_fail_all(c, GERR_NOT_CONNECTED, "no active connection "
		    "with tokens");
		return;
	}
	if (c->g->d->keyring == NULL) {
		gconn_fail_all(c, GERR_CONFIG, "no keyring");
		return;
	}
	if (!force && conn_take_stored(c, res) == 0) {
		gconn_dispatch(c);
		return;
	}
	conn_refresh(c, PQgetvalue(res, 0, 0));
}

void
gconn_fetch(struct gconn *c)
{
	const char *params[] = { c->tenant_id, c->id };

	if (c->fetch != FETCH_IDLE)
		return;		/* single flight: the waiters get its token */
	c->fetch = FETCH_LOADING;
	log_emit(LOG_DEBUG, NULL, &c->log, "google: loading the tokens of "
	    "connection %s", c->id);
	pgloop_query(c->g->d->db, GOOGLE_SQL_LOAD, 2, params, load_cb, c);
}

