/* SPDX-License-Identifier: ISC */
/*
 * Connecting Google from the web (docs/web.md, "Dashboard and Google
 * integrations"; the hand-over to rallyd is docs/cgi.md section 7).
 *
 * POST /integrations/connect: a state (32 random bytes, base64url) and a
 * PKCE verifier; rally.web_oauth_begin stores the state's SHA-256 and the
 * verifier for the signed-in user, and the browser goes to Google's
 * consent page.  With connection= (an integration turned on for an
 * existing connection) Google is told which account (login_hint).
 * GET /oauth/callback?state=&code= (or &error=): Google sends the browser
 * back with the session cookie (a top-level navigation, SameSite=Lax);
 * rally.web_oauth_callback accepts it only for this user's own pending
 * attempt with that state and hands the code to rallyd.  The only GET that
 * writes: it records Google's answer, nothing else.
 * GET /integrations/connecting/<id>: reloads itself every two seconds
 * (no script) until rally.web_oauth_status says connected or failed.
 *
 * rally.cgi holds no client secret and never calls Google: the client id
 * and consent URL are public.  The state, the verifier and the code are
 * never logged; the state and verifier are wiped once sent.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "b64.h"
#include "db.h"
#include "google-status.h"
#include "google/oauth.h"
#include "log.h"
#include "page.h"
#include "session.h"
#include "urlenc.h"

#define STATE_BYTES 32
/* base64url of STATE_BYTES, unpadded. */
#define STATE_LEN 43
/* Seconds between reloads of the connecting page. */
#define CONNECTING_REFRESH 2

/* sha256(s) as bytea input ("\x...": text parameters). */
static char *
sha256_bytea(const char *s)
{
	unsigned char h[SHA256_DIGEST_LENGTH];

	SHA256((const unsigned char *)s, strlen(s), h);
	return db_bytea_hex(h, sizeof h);
}

/* --- POST /integrations/connect ---------------------------------------- */

struct attempt {
	char *state;
	char verifier[OAUTH_VERIFIER_LEN + 1];
	char challenge[44];
	bool calendar, mail;
};

static void
attempt_wipe(struct attempt *a)
{
	if (a->state != NULL)
		secure_free(a->state, strlen(a->state));
	a->state = NULL;
	OPENSSL_cleanse(a->verifier, sizeof a->verifier);
}

/* The attempt's id, or NULL when the account may not connect; -1 on error. */
static int
attempt_begin(struct cgi *cgi, struct attempt *a, char **id, char **cause)
{
	unsigned char raw[STATE_BYTES];
	const char *params[5];
	char *hash;
	PGresult *res;

	random_bytes(raw, sizeof raw);
	if ((a->state = b64url_encode(raw, sizeof raw)) == NULL)
		fatalx("connect: cannot encode the state");
	OPENSSL_cleanse(raw, sizeof raw);
	oauth_pkce_new(a->verifier, a->challenge);
	hash = sha256_bytea(a->state);
	params[0] = hash;
	params[1] = a->verifier;
	params[2] = cgi->conf.google_redirect_uri;
	params[3] = a->calendar ? "true" : "false";
	params[4] = a->mail ? "true" : "false";
	res = db_exec(cgi->db, "SELECT rally.web_oauth_begin($1::bytea, $2, $3,"
	    " $4::boolean, $5::boolean)", 5, params, cause);
	free(hash);
	if (res == NULL)
		return -1;
	*id = PQgetisnull(res, 0, 0) ? NULL : xstrdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return 0;
}

/* Google's consent page for the attempt; caller frees. */
static char *
consent_url(const struct cgi *cgi, const struct attempt *a,
    const char *login_hint)
{
	const char *scopes[GOOGLE_CONNECT_SCOPES_MAX];
	struct oauth_client client = {
		.client_id = cgi->conf.google_client_id,
		.redirect_uri = cgi->conf.google_redirect_uri,
		.auth_url = cgi->conf.google_auth_url,
	};
	char *url;

	google_connect_scopes(a->calendar, a->mail, scopes);
	url = oauth_auth_url(&client, a->state, a->challenge, scopes);
	if (login_hint != NULL)
		urlenc_append_param(&url, "login_hint", login_hint);
	return url;
}

static bool
connect_configured(const struct conf *c)
{
	if (c->google_client_id[0] != '\0' && c->google_redirect_uri[0] != '\0'
	    && c->google_auth_url[0] != '\0')
		return true;
	log_warnx("connect: set google.client_id, google.redirect_uri and "
	    "google.auth_url in rally.conf for users to connect Google");
	return false;
}

/*
 * The existing connection an integration is turned on for: 1 (its email
 * in *hint), 0 none asked, -1 the response is set (404 or an error).
 */
static int
connect_target(struct cgi *cgi, struct request *req, struct response *resp,
    char **hint)
{
	const char *id = page_field(req, "connection");
	struct google_conn_row row;
	char *cause = NULL;
	int found;

	*hint = NULL;
	if (id[0] == '\0')
		return 0;
	if ((found = google_conn_find(cgi->db, id, &row, &cause)) == -1) {
		page_db_error(cgi, req, resp, cause);
		return -1;
	}
	if (found == 0) {
		page_error(cgi, req, resp, 404, "That Google connection does "
		    "not exist, or it is not yours.");
		return -1;
	}
	*hint = row.email;
	row.email = NULL;
	google_conn_row_clear(&row);
	return 1;
}

static void
connect_start(struct cgi *cgi, struct request *req, struct response *resp)
{
	struct attempt a = { 0 };
	char *hint = NULL, *id = NULL, *url, *cause = NULL;

	a.calendar = strcmp(page_field(req, "calendar"), "on") == 0;
	a.mail = strcmp(page_field(req, "mail"), "on") == 0;
	if (connect_target(cgi, req, resp, &hint) == -1)
		return;
	if (!a.calendar && !a.mail) {
		page_error(cgi, req, resp, 400, "Choose Google Calendar, Gmail "
		    "or both, then connect.");
		goto out;
	}
	if (!connect_configured(&cgi->conf)) {
		page_error(cgi, req, resp, 503, "Connecting Google is not set up "
		    "on this server yet. Please tell your administrator.");
		goto out;
	}
	if (attempt_begin(cgi, &a, &id, &cause) == -1) {
		page_db_error(cgi, req, resp, cause);
		goto out;
	}
	if (id == NULL) {
		page_error(cgi, req, resp, 403, "Your account cannot connect "
		    "Google right now.");
		goto out;
	}
	url = consent_url(cgi, &a, hint);
	page_redirect(resp, url);
	secure_free(url, strlen(url));
out:
	attempt_wipe(&a);
	free(hint);
	free(id);
}

/* --- GET /oauth/callback ------------------------------------------------ */

/* A state this site could have made: STATE_LEN base64url characters. */
static bool
state_ok(const char *s)
{
	if (strlen(s) != STATE_LEN)
		return false;
	return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789-_") == STATE_LEN;
}

static void
callback_refused(struct cgi *cgi, struct request *req, struct response *resp)
{
	struct page p;

	page_begin(&p, cgi, req, resp, "Google sign-in expired",
	    "integrations");
	html(&p.sb, "<p>This sign-in with Google has expired, was already "
	    "used, or was not started here in your account. Nothing was "
	    "connected.</p><p><a href=\"/integrations\">Connect Google "
	    "again</a></p>");
	page_end(&p, 400);
}

static void
oauth_callback(struct cgi *cgi, struct request *req, struct response *resp)
{
	const char *state = page_param(req, "state");
	const char *code = page_param(req, "code");
	const char *error = page_param(req, "error");
	const char *params[3];
	char *hash, *cause = NULL, *where;
	PGresult *res;

	if (!state_ok(state)) {
		callback_refused(cgi, req, resp);
		return;
	}
	hash = sha256_bytea(state);
	params[0] = hash;
	/* An error wins; no code at all fails the attempt in the database. */
	params[1] = error[0] == '\0' && code[0] != '\0' ? code : NULL;
	params[2] = error[0] != '\0' ? error : NULL;
	res = db_exec(cgi->db, "SELECT rally.web_oauth_callback($1::bytea, $2,"
	    " $3)", 3, params, &cause);
	free(hash);
	if (res == NULL) {
		page_db_error(cgi, req, resp, cause);
		return;
	}
	if (PQgetisnull(res, 0, 0))
		callback_refused(cgi, req, resp);
	else {
		where = xasprintf("/integrations/connecting/%s",
		    PQgetvalue(res, 0, 0));
		page_redirect(resp, where);
		free(where);
	}
	PQclear(res);
}

/* --- GET /integrations/connecting/<id> ---------------------------------- */

/* "Try again" with what the attempt asked for. */
static void
try_again_form(struct page *p, const PGresult *res)
{
	page_form_begin(p, "/integrations/connect");
	if (strcmp(PQgetvalue(res, 0, 4), "t") == 0)
		html(&p->sb, "<input type=\"hidden\" name=\"calendar\" "
		    "value=\"on\">");
	if (strcmp(PQgetvalue(res, 0, 5), "t") == 0)
		html(&p->sb, "<input type=\"hidden\" name=\"mail\" value=\"on\">");
	html(&p->sb, "<div class=\"actions\"><button type=\"submit\">Try "
	    "again</button><a href=\"/integrations\">Back to Google settings"
	    "</a></div></form>");
}

static void
connecting_page(struct cgi *cgi, struct request *req, struct response *resp,
    const char *id, const PGresult *res)
{
	const char *state = PQgetvalue(res, 0, 0);
	const char *detail = PQgetvalue(res, 0, 1);
	struct page p;

	if (strcmp(state, "connected") == 0) {
		page_begin(&p, cgi, req, resp, "Google is connected",
		    "integrations");
		page_notice(&p, detail[0] != '\0' ? detail : "Google is "
		    "connected.");
		html(&p.sb, "<p>Rally is syncing <strong>%s</strong>. The first "
		    "sync can take a few minutes.</p><p><a href=\"/\">Go to your "
		    "dashboard</a> &middot; <a href=\"/integrations\">Google "
		    "settings</a></p>", PQgetvalue(res, 0, 3));
	} else if (strcmp(state, "failed") == 0) {
		page_begin(&p, cgi, req, resp, "Google was not connected",
		    "integrations");
		page_alert(&p, detail[0] != '\0' ? detail : "Google was not "
		    "connected. Please try again.");
		try_again_form(&p, res);
	} else {
		page_begin_refresh(&p, cgi, req, resp, "Connecting to Google\xe2"
		    "\x80\xa6", "integrations", CONNECTING_REFRESH);
		html(&p.sb, "<p role=\"status\">%s</p><p class=\"muted\">This "
		    "page updates by itself. You can also <a href=\""
		    "/integrations/connecting/%s\">reload it</a>.</p>",
		    strcmp(state, "waiting") == 0 ? "Waiting for Google's "
		    "answer." : "Google answered; Rally is finishing the "
		    "connection.", id);
	}
	page_end(&p, 200);
}

static void
connecting(struct cgi *cgi, struct request *req, struct response *resp)
{
	char id[UUID_STR_LEN], *cause = NULL;
	const char *params[1] = { id };
	PGresult *res;

	if (!uuid_canonical(route_segment(&route_connecting, req), id)) {
		page_error(cgi, req, resp, 404, "There is no such connection "
		    "attempt.");
		return;
	}
	/* want_* are readable by rally_web (its own rows only). */
	res = db_exec(cgi->db, "SELECT s.state, coalesce(s.detail, ''),"
	    " s.connection_id, coalesce(s.google_email, ''),"
	    " p.want_calendar, p.want_mail"
	    " FROM rally.web_oauth_status($1::uuid) s"
	    " JOIN rally.oauth_pending p ON p.tenant_id = rally.current_tenant()"
	    "  AND p.id = $1::uuid", 1, params, &cause);
	if (res == NULL) {
		page_db_error(cgi, req, resp, cause);
		return;
	}
	if (PQntuples(res) != 1)
		page_error(cgi, req, resp, 404, "There is no such connection "
		    "attempt.");
	else
		connecting_page(cgi, req, resp, id, res);
	PQclear(res);
}

const struct route route_integrations_connect = {
	.method = "POST", .path = "/integrations/connect",
	.handler = connect_start, .flags = ROUTE_SIGNED_IN,
};
const struct route route_oauth_callback = {
	.method = "GET", .path = "/oauth/callback", .handler = oauth_callback,
	.flags = ROUTE_SIGNED_IN,
};
const struct route route_connecting = {
	.method = "GET", .path = "/integrations/connecting/",
	.handler = connecting, .segment = true, .flags = ROUTE_SIGNED_IN,
};
