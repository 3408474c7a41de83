/* SPDX-License-Identifier: ISC */
/*
 * rallyctl google connect --user EMAIL [--tenant ID] [--calendar] [--mail]
 *
 * Connects a user's Google account without the web front end: prints the
 * authorization URL (fresh state, PKCE S256), reads back the code (or the
 * whole address Google redirected to) from stdin, exchanges it and asks
 * userinfo who the account is, on a private event loop with lib/http, then
 * stores the connection, sealed tokens, sync state and first sync jobs in
 * one transaction (lib/google/connection-store).  Without --calendar or
 * --mail it connects the calendar.
 *
 * Tokens only ever leave this process sealed, into the database: nothing
 * printed, logged or put into an error message holds one.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "b64.h"
#include "db.h"
#include "google/connection-store.h"
#include "google/oauth.h"
#include "http.h"
#include "keyring.h"
#include "log.h"
#include "rallyctl.h"

/* What is pasted back: a code, or a redirect URL holding one. */
#define CONNECT_LINE_MAX 8192
#define CONNECT_STATE_BYTES 32
/* How many tenants an ambiguous address lists. */
#define CONNECT_TENANTS_SHOWN 10

static int cmd_google_connect_exec(struct ctl *, int, char **);

const struct cmd_entry cmd_google_connect_entry = {
	"google connect",
	"--user EMAIL [--tenant ID] [--calendar] [--mail] [--json] < code",
	"connect a user's Google account: prints the consent URL, reads the "
	"code or the redirect URL from stdin (calendar unless --mail alone)",
	cmd_google_connect_exec,
};

struct connect {
	struct ctl *ctl;
	const char *user_email;
	const char *tenant_arg;
	bool want_calendar, want_mail;

	char *tenant_id, *user_id;
	struct oauth_client client;
	char *secret;
	struct keyring *kr;
	char *state;
	char verifier[OAUTH_VERIFIER_LEN + 1];
	char challenge[44];

	struct oauth_tokens tok;
	char *sub, *google_email;

	char *conn_id;
	bool calendar, mail;	/* enabled on the stored connection */
};

/* ---- arguments and set-up ---- */

static int
parse_args(struct connect *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "user", required_argument, NULL, 'u' },
		{ "tenant", required_argument, NULL, 't' },
		{ "calendar", no_argument, NULL, 'C' },
		{ "mail", no_argument, NULL, 'M' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	optind = 0;
	while ((ch = ctl_getopt(&cmd_google_connect_entry, argc, argv,
	    longopts)) != -1) {
		switch (ch) {
		case 'u': c->user_email = optarg; break;
		case 't': c->tenant_arg = optarg; break;
		case 'C': c->want_calendar = true; break;
		case 'M': c->want_mail = true; break;
		case 'j': c->ctl->json = true; break;
		default: return cmd_usage(&cmd_google_connect_entry);
		}
	}
	if (optind != argc || c->user_email == NULL)
		return cmd_usage(&cmd_google_connect_entry);
	if (c->tenant_arg != NULL && !ctl_valid_uuid(c->tenant_arg))
		return ctl_error(EX_USAGE, "google connect: --tenant \"%s\" is "
		    "not a tenant id", c->tenant_arg);
	if (!c->want_calendar && !c->want_mail)
		c->want_calendar = true;
	return 0;
}

/* The OAuth client and the keyring: both before Google is asked anything. */
static int
load_secrets(struct connect *c)
{
	const char *path = conf_keyring_path(&c->ctl->conf);
	char *cause = NULL;
	int rc;

	if (oauth_client_from_conf(&c->ctl->conf, &c->client, &c->secret,
	    &cause) == -1) {
		rc = ctl_error(EX_CONFIG, "google connect: %s", cause);
		free(cause);
		return rc;
	}
	if ((c->kr = keyring_load(path, &cause)) == NULL) {
		rc = ctl_error(EX_CONFIG, "google connect: %s", cause);
		free(cause);
		return rc;
	}
	return 0;
}

static int
ambiguous_user(const struct connect *c, PGresult *res)
{
	int n = PQntuples(res);

	fflush(stdout);
	fprintf(stderr, "rallyctl: google connect: %s is a user of %d tenants; "
	    "choose one with --tenant:\n", c->user_email, n);
	for (int i = 0; i < n && i < CONNECT_TENANTS_SHOWN; i++)
		fprintf(stderr, "  %s\n", PQgetvalue(res, i, 0));
	return EX_DATAERR;
}

/* Sets tenant_id and user_id from --user (and --tenant); an exit status. */
static int
find_user(struct connect *c, PGconn *db)
{
	const char *params[2] = { c->user_email, c->tenant_arg };
	char *cause = NULL;
	PGresult *res;
	int rc = 0;

	res = db_exec(db, "SELECT u.tenant_id::text, u.id::text, u.status,"
	    " t.status FROM rally.users u"
	    " JOIN rally.tenants t USING (tenant_id)"
	    " WHERE lower(u.email) = lower($1)"
	    " AND ($2::uuid IS NULL OR u.tenant_id = $2::uuid)"
	    " ORDER BY u.tenant_id", 2, params, &cause);
	if (res == NULL) {
		rc = ctl_error(CTL_FAILURE, "google connect: %s", cause);
		free(cause);
		return rc;
	}
	if (PQntuples(res) == 0)
		rc = ctl_error(EX_DATAERR, "google connect: no user %s%s%s",
		    c->user_email, c->tenant_arg != NULL ? " in tenant " : "",
		    c->tenant_arg != NULL ? c->tenant_arg : "");
	else if (PQntuples(res) > 1)
		rc = ambiguous_user(c, res);
	else if (strcmp(PQgetvalue(res, 0, 3), "active") != 0)
		rc = ctl_error(EX_DATAERR, "google connect: tenant %s is %s",
		    PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 3));
	else if (strcmp(PQgetvalue(res, 0, 2), "active") != 0)
		rc = ctl_error(EX_DATAERR, "google connect: user %s is %s",
		    c->user_email, PQgetvalue(res, 0, 2));
	else {
		c->tenant_id = xstrdup(PQgetvalue(res, 0, 0));
		c->user_id = xstrdup(PQgetvalue(res, 0, 1));
	}
	PQclear(res);
	return rc;
}

/*
 * Refuses while tokens of one of the user's connections wait to be revoked:
 * revoking them at Google ends the whole grant of the account to our
 * client, so it would also end the one this run is about to get.
 */
static int
revocation_pending(const struct connect *c, PGconn *db)
{
	const char *params[2] = { c->tenant_id, c->user_id };
	char *cause = NULL;
	PGresult *res;
	int rc = 0;

	res = db_exec(db, "SELECT rally.google_revocation_pending($1::uuid,"
	    " $2::uuid)", 2, params, &cause);
	if (res == NULL) {
		rc = ctl_error(CTL_FAILURE, "google connect: %s", cause);
		free(cause);
		return rc;
	}
	if (strcmp(PQgetvalue(res, 0, 0), "t") == 0)
		rc = ctl_error(CTL_FAILURE, "google connect: earlier tokens of "
		    "%s are still queued for revocation at Google, which would "
		    "also end a new grant; rallyd does it within minutes: run "
		    "the command again then", c->user_email);
	PQclear(res);
	return rc;
}

/* ---- the consent step ---- */

static void
print_auth_url(struct connect *c)
{
	const char *scopes[GOOGLE_CONNECT_SCOPES_MAX];
	unsigned char raw[CONNECT_STATE_BYTES];
	char *url;

	random_bytes(raw, sizeof raw);
	if ((c->state = b64url_encode(raw, sizeof raw)) == NULL)
		fatalx("google connect: cannot encode the state");
	oauth_pkce_new(c->verifier, c->challenge);
	google_connect_scopes(c->want_calendar, c->want_mail, scopes);
	url = oauth_auth_url(&c->client, c->state, c->challenge, scopes);
	printf("%s\n", url);
	fflush(stdout);
	free(url);
	fprintf(stderr, "Open the URL above in a browser, sign in as the "
	    "Google account to connect for %s and allow access.\nThen paste "
	    "the code, or the whole address the browser was sent to, and "
	    "press Enter:\n", c->user_email);
}

/* The first line of stdin, trimmed; an exit status. */
static int
read_reply(char *buf, size_t size)
{
	if (oauth_reply_read(stdin, buf, size) == -1)
		return ctl_error(EX_USAGE, "google connect: the line on stdin "
		    "must be at most %zu bytes without NUL", size - 1);
	if (buf[0] == '\0')
		return ctl_error(EX_USAGE, "google connect: no code on stdin");
	return 0;
}

/* The code from what was pasted, its state checked; an exit status. */
static int
parse_reply(const struct connect *c, const char *line, char **code)
{
	char error[OAUTH_REPLY_ERROR_MAX + 1];

	switch (oauth_reply_parse(line, c->state, code, error)) {
	case OAUTH_REPLY_CODE:
		return 0;
	case OAUTH_REPLY_MALFORMED:
		return ctl_error(EX_DATAERR, "google connect: the address "
		    "pasted is malformed");
	case OAUTH_REPLY_DENIED:
		return ctl_error(EX_DATAERR, "google connect: Google answered "
		    "error=%s%s", error, strcmp(error, "access_denied") == 0 ?
		    ": access was not allowed" : "");
	case OAUTH_REPLY_WRONG_STATE:
		return ctl_error(EX_DATAERR, "google connect: the state in the "
		    "pasted address is not this run's: paste the address "
		    "Google sent the browser to after opening the URL printed "
		    "above");
	case OAUTH_REPLY_NO_CODE:
		break;
	}
	return ctl_error(EX_DATAERR, "google connect: no usable code in "
	    "what was pasted");
}

/* ---- talking to Google ---- */

static int
unsendable(const char *setting)
{
	return ctl_error(EX_CONFIG, "google connect: cannot send a request to "
	    "google.%s", setting);
}

static int
oauth_status(enum oauth_result r)
{
	switch (r) {
	case OAUTH_OK:
		return 0;
	case OAUTH_INVALID_GRANT:
		return EX_DATAERR;
	case OAUTH_INVALID_CLIENT:
		return EX_CONFIG;
	case OAUTH_TRANSIENT:
		return EX_UNAVAILABLE;
	case OAUTH_REJECTED:
	case OAUTH_MALFORMED:
		break;
	}
	return CTL_FAILURE;
}

static int
exchange_failed(enum oauth_result res, const char *cause)
{
	int status = oauth_status(res);

	if (res == OAUTH_INVALID_GRANT)
		return ctl_error(status, "google connect: Google refused the "
		    "code (%s): it was used already, has expired or belongs to "
		    "another run; run the command again", cause);
	if (res == OAUTH_INVALID_CLIENT)
		return ctl_error(status, "google connect: Google refused the "
		    "OAuth client (%s): check google.client_id and the client "
		    "secret", cause);
	if (res == OAUTH_TRANSIENT)
		return ctl_error(status, "google connect: cannot reach Google "
		    "(%s); the code may still be good for a few minutes: run "
		    "the command again", cause);
	return ctl_error(status, "google connect: code exchange failed: %s",
	    cause);
}

static int
exchange(struct connect *c, const char *code)
{
	struct ctl_fetched f;
	struct http_response r;
	enum oauth_result res;
	char *cause = NULL;
	int rc = 0;

	if (ctl_fetch(c->ctl, oauth_exchange_request(&c->client, code,
	    c->verifier), &f) == -1)
		return unsendable("token_url");
	r = ctl_fetched_response(&f);
	res = oauth_parse_token_response(&r, &c->tok, &cause);
	ctl_fetched_clear(&f);
	if (res != OAUTH_OK)
		rc = exchange_failed(res, cause);
	else if (c->tok.refresh_token == NULL)
		rc = ctl_error(EX_DATAERR, "google connect: Google sent no "
		    "refresh token, so Rally could not keep access: this "
		    "account granted access to this client before.  Remove "
		    "the app's access at "
		    "https://myaccount.google.com/permissions and run the "
		    "command again");
	free(cause);
	return rc;
}

static int
who_is_it(struct connect *c)
{
	struct ctl_fetched f;
	struct http_response r;
	enum oauth_result res;
	char *cause = NULL;
	int rc = 0;

	if (ctl_fetch(c->ctl, oauth_userinfo_request(&c->client,
	    c->tok.access_token), &f) == -1)
		return unsendable("userinfo_url");
	r = ctl_fetched_response(&f);
	res = oauth_parse_userinfo(&r, &c->sub, &c->google_email, &cause);
	ctl_fetched_clear(&f);
	if (res != OAUTH_OK)
		rc = ctl_error(oauth_status(res), "google connect: cannot "
		    "learn which Google account this is: %s", cause);
	free(cause);
	return rc;
}

/* ---- storing the connection ---- */

/* One transaction (lib/google/connection-store); an exit status. */
static int
store(struct connect *c, PGconn *db)
{
	struct google_connection_in in = {
		.tenant_id = c->tenant_id,
		.user_id = c->user_id,
		.google_email = c->google_email,
		.google_subject = c->sub,
		.want_calendar = c->want_calendar,
		.want_mail = c->want_mail,
		.tokens = &c->tok,
	};
	struct google_connection_out out = { NULL, false, false };
	char *cause = NULL;
	int rc;

	switch (google_connection_store(db, c->kr, &in, &out, &cause)) {
	case GOOGLE_STORE_OK:
		c->conn_id = out.connection_id;
		c->calendar = out.calendar;
		c->mail = out.mail;
		return 0;
	case GOOGLE_STORE_NOT_GRANTED:
		return ctl_error(EX_DATAERR, "google connect: Google granted "
		    "none of the access asked for (granted: %s); nothing was "
		    "stored", c->tok.scope != NULL ? c->tok.scope : "nothing");
	case GOOGLE_STORE_FAILED:
		break;
	}
	rc = ctl_error(CTL_FAILURE, "google connect: %s", cause);
	free(cause);
	return rc;
}

static void
warn_not_granted(const struct connect *c)
{
	if (c->want_calendar && !c->calendar)
		ctl_error(0, "google connect: warning: calendar access was not "
		    "granted; the calendar stays off");
	if (c->want_mail && !c->mail)
		ctl_error(0, "google connect: warning: Gmail access was not "
		    "granted (both read and send are needed); mail stays off");
}

static int
report(const struct connect *c)
{
	struct json_object *o;

	warn_not_granted(c);
	if (!c->ctl->json) {
		printf("%s\n", c->conn_id);
		return 0;
	}
	o = json_object_new_object();
	json_object_object_add(o, "connection_id",
	    json_object_new_string(c->conn_id));
	json_object_object_add(o, "google_email",
	    json_object_new_string(c->google_email));
	json_object_object_add(o, "calendar",
	    json_object_new_boolean(c->calendar));
	json_object_object_add(o, "mail", json_object_new_boolean(c->mail));
	return ctl_print_json(o);
}

/* ---- the command ---- */

static int
authorize(struct connect *c, char **code)
{
	char *line = xmalloc(CONNECT_LINE_MAX + 1);
	int rc;

	print_auth_url(c);
	if ((rc = read_reply(line, CONNECT_LINE_MAX + 1)) == 0)
		rc = parse_reply(c, line, code);
	secure_free(line, CONNECT_LINE_MAX + 1);
	return rc;
}

static int
connect_account(struct connect *c)
{
	char *code = NULL;
	PGconn *db;
	int rc;

	if ((rc = load_secrets(c)) != 0)
		return rc;
	if ((db = ctl_db(c->ctl)) == NULL)
		return EX_UNAVAILABLE;
	if ((rc = find_user(c, db)) != 0 ||
	    (rc = revocation_pending(c, db)) != 0 ||
	    (rc = authorize(c, &code)) != 0)
		return rc;
	rc = exchange(c, code);
	secure_free(code, strlen(code));
	if (rc == 0 && (rc = who_is_it(c)) == 0 && (rc = store(c, db)) == 0)
		rc = report(c);
	return rc;
}

static void
connect_clear(struct connect *c)
{
	free(c->tenant_id);
	free(c->user_id);
	if (c->secret != NULL)
		secure_free(c->secret, strlen(c->secret));
	keyring_free(c->kr);
	if (c->state != NULL)
		secure_free(c->state, strlen(c->state));
	explicit_bzero(c->verifier, sizeof c->verifier);
	oauth_tokens_clear(&c->tok);
	free(c->sub);
	free(c->google_email);
	free(c->conn_id);
}

static int
cmd_google_connect_exec(struct ctl *ctl, int argc, char **argv)
{
	struct connect c = { .ctl = ctl };
	int rc;

	if ((rc = parse_args(&c, argc, argv)) == 0)
		rc = connect_account(&c);
	connect_clear(&c);
	return rc;
}
