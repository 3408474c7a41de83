/*
 * rallyctl google connect --user EMAIL [--tenant ID] [--calendar] [--mail]
 *
 * Connects a user's Google account without the web front end: prints the
 * authorization URL (fresh state, PKCE S256), reads back the code (or the
 * whole address Google redirected to) from stdin, exchanges it and asks
 * userinfo who the account is, on a private event loop with lib/http, then
 * stores the connection, sealed tokens, sync state and first sync jobs in
 * one transaction.  Without --calendar or --mail it connects the calendar.
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
#include "google/oauth.h"
#include "http.h"
#include "log.h"
#include "rallyctl.h"
#include "seal.h"
#include "token-seal.h"

/* What is pasted back: a code, or a redirect URL holding one. */
#define CONNECT_LINE_MAX 8192
/* OAuth answers are small; a bigger one is refused, not buffered. */
#define CONNECT_MAX_RESPONSE (1024 * 1024)
#define CONNECT_RETRY_MAX_MS 5000
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

/* One finished request, copied out of the callback. */
struct fetched {
	bool done;
	enum http_err err;
	long status;
	char *body;
	size_t body_len;
	char *error;
	struct event_base *base;
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

	res = db_exec(db, "SELECT count(*) FROM rally.token_revocations r"
	    " JOIN rally.google_connections g"
	    " ON g.tenant_id = r.tenant_id AND g.id = r.connection_id"
	    " WHERE r.tenant_id = $1::uuid AND g.user_id = $2::uuid",
	    2, params, &cause);
	if (res == NULL) {
		rc = ctl_error(CTL_FAILURE, "google connect: %s", cause);
		free(cause);
		return rc;
	}
	if (strcmp(PQgetvalue(res, 0, 0), "0") != 0)
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
	const char *scopes[6];
	unsigned char raw[CONNECT_STATE_BYTES];
	size_t n = 0;
	char *url;

	random_bytes(raw, sizeof raw);
	if ((c->state = b64url_encode(raw, sizeof raw)) == NULL)
		fatalx("google connect: cannot encode the state");
	oauth_pkce_new(c->verifier, c->challenge);
	scopes[n++] = "openid";
	scopes[n++] = "email";
	if (c->want_calendar)
		scopes[n++] = GOOGLE_SCOPE_CALENDAR;
	if (c->want_mail) {
		scopes[n++] = GOOGLE_SCOPE_GMAIL_MODIFY;
		scopes[n++] = GOOGLE_SCOPE_GMAIL_SEND;
	}
	scopes[n] = NULL;
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

static void
fetched_cb(const struct http_response *r, void *arg)
{
	struct fetched *f = arg;

	f->done = true;
	f->err = r->err;
	f->status = r->status;
	f->body = xmalloc(r->body_len + 1);
	memcpy(f->body, r->body, r->body_len);
	f->body[r->body_len] = '\0';
	f->body_len = r->body_len;
	f->error = r->error != NULL ? xstrdup(r->error) : NULL;
	event_base_loopbreak(f->base);
}

static void
fetched_clear(struct fetched *f)
{
	if (f->body != NULL)
		secure_free(f->body, f->body_len);
	free(f->error);
	memset(f, 0, sizeof *f);
}

/* The response as lib/google/oauth parses it, borrowing from f. */
static struct http_response
fetched_response(const struct fetched *f)
{
	struct http_response r = { 0 };

	r.err = f->done ? f->err : HTTP_ERR_CANCELLED;
	r.status = f->status;
	r.body = f->body != NULL ? f->body : "";
	r.body_len = f->body_len;
	r.retry_after_ms = -1;
	r.attempts = 1;
	r.error = f->done ? f->error : "the request never finished";
	return r;
}

/*
 * Sends one request on a private loop and waits for its answer; -1 when
 * lib/http refused to send it (it said why: a URL that does not parse or
 * is not https).
 */
static int
fetch(const struct ctl *ctl, struct http_request *req, struct fetched *f)
{
	struct http_opts o = { 0 };
	struct http *h;
	int rc;

	memset(f, 0, sizeof *f);
	if ((f->base = event_base_new()) == NULL)
		fatalx("google connect: cannot create an event loop");
	o.ca_file = ctl->conf.http_ca_file;
	o.connect_timeout_ms = ctl->conf.http_connect_timeout_sec * 1000;
	o.timeout_ms = ctl->conf.http_timeout_sec * 1000;
	o.max_response = ctl->conf.http_max_response < CONNECT_MAX_RESPONSE ?
	    (size_t)ctl->conf.http_max_response : CONNECT_MAX_RESPONSE;
	o.max_retries = (int)ctl->conf.http_max_retries;
	o.retry_max_ms = CONNECT_RETRY_MAX_MS;
	h = http_new(f->base, &o);
	rc = http_submit(h, req, fetched_cb, f);
	if (rc == 0)
		event_base_dispatch(f->base);
	http_free(h);
	event_base_free(f->base);
	f->base = NULL;
	return rc;
}

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
	struct fetched f;
	struct http_response r;
	enum oauth_result res;
	char *cause = NULL;
	int rc = 0;

	if (fetch(c->ctl, oauth_exchange_request(&c->client, code,
	    c->verifier), &f) == -1)
		return unsendable("token_url");
	r = fetched_response(&f);
	res = oauth_parse_token_response(&r, &c->tok, &cause);
	fetched_clear(&f);
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
	struct fetched f;
	struct http_response r;
	enum oauth_result res;
	char *cause = NULL;
	int rc = 0;

	if (fetch(c->ctl, oauth_userinfo_request(&c->client,
	    c->tok.access_token), &f) == -1)
		return unsendable("userinfo_url");
	r = fetched_response(&f);
	res = oauth_parse_userinfo(&r, &c->sub, &c->google_email, &cause);
	fetched_clear(&f);
	if (res != OAUTH_OK)
		rc = ctl_error(oauth_status(res), "google connect: cannot "
		    "learn which Google account this is: %s", cause);
	free(cause);
	return rc;
}

/* ---- storing the connection ---- */

struct previous {
	bool found, calendar, mail;	/* integrations on and not revoked */
};

/* Locks the user's connection to this Google account, if any. */
static int
lock_previous(struct connect *c, PGconn *db, struct previous *p,
    char **cause)
{
	const char *params[3] = { c->tenant_id, c->user_id, c->sub };
	PGresult *res;

	memset(p, 0, sizeof *p);
	res = db_exec(db, "SELECT id::text,"
	    " calendar_enabled AND status <> 'revoked',"
	    " mail_enabled AND status <> 'revoked'"
	    " FROM rally.google_connections WHERE tenant_id = $1::uuid"
	    " AND user_id = $2::uuid AND google_subject = $3 FOR UPDATE",
	    3, params, cause);
	if (res == NULL)
		return -1;
	if (PQntuples(res) == 1) {
		p->found = true;
		c->conn_id = xstrdup(PQgetvalue(res, 0, 0));
		p->calendar = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
		p->mail = strcmp(PQgetvalue(res, 0, 2), "t") == 0;
	}
	PQclear(res);
	if (p->found)
		return 0;
	/* The id is bound into the sealed tokens, so it is chosen first. */
	if ((res = db_exec(db, "SELECT gen_random_uuid()::text", 0, NULL,
	    cause)) == NULL)
		return -1;
	c->conn_id = xstrdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return 0;
}

/*
 * Which integrations the connection has: those asked for, and those it
 * had, as far as Google granted their scopes.  Mail needs both of its.
 */
static void
decide_integrations(struct connect *c, const struct previous *p)
{
	const char *g = c->tok.scope;
	bool cal = oauth_scope_granted(g, GOOGLE_SCOPE_CALENDAR);
	bool mail = oauth_scope_granted(g, GOOGLE_SCOPE_GMAIL_MODIFY) &&
	    oauth_scope_granted(g, GOOGLE_SCOPE_GMAIL_SEND);

	c->calendar = cal && (c->want_calendar || p->calendar);
	c->mail = mail && (c->want_mail || p->mail);
}

static const char sql_insert[] =
    "INSERT INTO rally.google_connections (tenant_id, id, user_id,"
    " google_email, google_subject, scopes, calendar_enabled, mail_enabled,"
    " status, refresh_token, access_token, access_token_expires_at)"
    " VALUES ($1::uuid, $2::uuid, $3::uuid, $4, $5,"
    " array_remove(string_to_array($6, ' '), ''), $7::boolean, $8::boolean,"
    " 'active', $9, $10, now() + make_interval(secs => $11::int))"
    " ON CONFLICT DO NOTHING RETURNING id";

static const char sql_update[] =
    "UPDATE rally.google_connections SET google_email = $4,"
    " scopes = array_remove(string_to_array($6, ' '), ''),"
    " calendar_enabled = $7::boolean, mail_enabled = $8::boolean,"
    " status = 'active', last_error = NULL, last_error_kind = NULL,"
    " last_error_at = NULL, refresh_token = $9, access_token = $10,"
    " access_token_expires_at = now() + make_interval(secs => $11::int),"
    " updated_at = now()"
    " WHERE tenant_id = $1::uuid AND id = $2::uuid AND user_id = $3::uuid"
    " AND google_subject = $5 RETURNING id";

/* Inserts or updates the connection row with sealed tokens. */
static int
write_connection(struct connect *c, PGconn *db, bool update, char **cause)
{
	char *rt = NULL, *at = NULL, expires[24];
	const char *params[11];
	PGresult *res;
	int rc = -1;

	if (token_seal(c->kr, c->tenant_id, c->conn_id, "refresh_token",
	    c->tok.refresh_token, &rt, cause) == -1 || token_seal(c->kr,
	    c->tenant_id, c->conn_id, "access_token", c->tok.access_token, &at,
	    cause) == -1)
		goto out;
	snprintf(expires, sizeof expires, "%lld", (long long)c->tok.expires_in);
	params[0] = c->tenant_id;
	params[1] = c->conn_id;
	params[2] = c->user_id;
	params[3] = c->google_email;
	params[4] = c->sub;
	params[5] = c->tok.scope != NULL ? c->tok.scope : "";
	params[6] = c->calendar ? "true" : "false";
	params[7] = c->mail ? "true" : "false";
	params[8] = rt;
	params[9] = at;
	params[10] = expires;
	res = db_exec(db, update ? sql_update : sql_insert, 11, params, cause);
	if (res == NULL)
		goto out;
	if (PQntuples(res) != 1)
		set_cause(cause, "the connection changed while this ran "
		    "(another connect of the same account?): run the command "
		    "again");
	else
		rc = 0;
	PQclear(res);
out:
	free(rt);
	free(at);
	return rc;
}

/*
 * The sync state of one resource, and its first sync job (kind NULL: none
 * yet, for mail until its sync exists).  A resource that was off starts
 * over with a full sync: what it synced before was purged.
 */
static int
start_sync(struct connect *c, PGconn *db, const char *resource,
    const char *kind, bool was_on, char **cause)
{
	const char *params[4] = { c->tenant_id, c->conn_id, resource,
	    was_on ? "true" : "false" };
	const char *jparams[3] = { c->tenant_id, c->conn_id, kind };

	if (db_command(db, "INSERT INTO rally.sync_state"
	    " (tenant_id, connection_id, resource)"
	    " VALUES ($1::uuid, $2::uuid, $3)"
	    " ON CONFLICT (tenant_id, connection_id, resource) DO UPDATE"
	    " SET full_sync_required = true, calendar_sync_token = NULL,"
	    " gmail_history_id = NULL, full_sync_page_token = NULL,"
	    " full_sync_started_at = NULL, updated_at = now()"
	    " WHERE NOT $4::boolean", 4, params, cause) == -1)
		return -1;
	if (kind == NULL)
		return 0;
	return db_command(db, "SELECT rally.job_enqueue($1::uuid, $3,"
	    " $2::uuid::text, jsonb_build_object('connection_id', $2::uuid))",
	    3, jparams, cause);
}

/* Everything in one transaction; an exit status. */
static int
store(struct connect *c, PGconn *db)
{
	struct previous p;
	char *cause = NULL;
	int rc;

	if (db_begin(db, &cause) == -1)
		goto fail;
	if (db_set_tenant(db, c->tenant_id, c->user_id, &cause) == -1 ||
	    lock_previous(c, db, &p, &cause) == -1)
		goto fail;
	decide_integrations(c, &p);
	if (!c->calendar && !c->mail) {
		db_rollback(db, NULL);
		return ctl_error(EX_DATAERR, "google connect: Google granted "
		    "none of the access asked for (granted: %s); nothing was "
		    "stored", c->tok.scope != NULL ? c->tok.scope : "nothing");
	}
	if (write_connection(c, db, p.found, &cause) == -1 ||
	    (c->calendar && start_sync(c, db, "calendar", "calsync",
	    p.calendar, &cause) == -1) ||
	    (c->mail && start_sync(c, db, "mail", NULL, p.mail,
	    &cause) == -1) || db_commit(db, &cause) == -1)
		goto fail;
	return 0;
fail:
	db_rollback(db, NULL);
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
