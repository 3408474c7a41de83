/* SPDX-License-Identifier: ISC */
/*
 * google/connection-store: see connection-store.h.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "google/connection-store.h"
#include "google/oauth.h"
#include "token-seal.h"
#include "util.h"

struct previous {
	bool found, calendar, mail;	/* integrations on and not revoked */
};

struct store {
	PGconn *db;
	const struct keyring *kr;
	const struct google_connection_in *in;
	char *conn_id;
	bool calendar, mail;
	struct previous p;
};

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

/* Locks the user's connection to this Google account, if any. */
static int
lock_previous(struct store *s, char **cause)
{
	const char *params[3] = { s->in->tenant_id, s->in->user_id,
	    s->in->google_subject };
	struct previous *p = &s->p;
	PGresult *res;

	memset(p, 0, sizeof *p);
	res = db_exec(s->db, "SELECT id::text,"
	    " calendar_enabled AND status <> 'revoked',"
	    " mail_enabled AND status <> 'revoked'"
	    " FROM rally.google_connections WHERE tenant_id = $1::uuid"
	    " AND user_id = $2::uuid AND google_subject = $3 FOR UPDATE",
	    3, params, cause);
	if (res == NULL)
		return -1;
	if (PQntuples(res) == 1) {
		p->found = true;
		s->conn_id = xstrdup(PQgetvalue(res, 0, 0));
		p->calendar = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
		p->mail = strcmp(PQgetvalue(res, 0, 2), "t") == 0;
	}
	PQclear(res);
	if (p->found)
		return 0;
	/* The id is bound into the sealed tokens, so it is chosen first. */
	if ((res = db_exec(s->db, "SELECT gen_random_uuid()::text", 0, NULL,
	    cause)) == NULL)
		return -1;
	s->conn_id = xstrdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return 0;
}

/*
 * Which integrations the connection has: those asked for, and those it
 * had, as far as Google granted their scopes.  Mail needs both of its.
 */
static void
decide_integrations(struct store *s)
{
	const char *g = s->in->tokens->scope;
	bool cal = oauth_scope_granted(g, GOOGLE_SCOPE_CALENDAR);
	bool mail = oauth_scope_granted(g, GOOGLE_SCOPE_GMAIL_MODIFY) &&
	    oauth_scope_granted(g, GOOGLE_SCOPE_GMAIL_SEND);

	s->calendar = cal && (s->in->want_calendar || s->p.calendar);
	s->mail = mail && (s->in->want_mail || s->p.mail);
}

static int
write_row(struct store *s, const char *rt, const char *at, char **cause)
{
	const struct google_connection_in *in = s->in;
	const char *params[11];
	char expires[24];
	PGresult *res;
	int rc = -1;

	snprintf(expires, sizeof expires, "%lld",
	    (long long)in->tokens->expires_in);
	params[0] = in->tenant_id;
	params[1] = s->conn_id;
	params[2] = in->user_id;
	params[3] = in->google_email;
	params[4] = in->google_subject;
	params[5] = in->tokens->scope != NULL ? in->tokens->scope : "";
	params[6] = s->calendar ? "true" : "false";
	params[7] = s->mail ? "true" : "false";
	params[8] = rt;
	params[9] = at;
	params[10] = expires;
	res = db_exec(s->db, s->p.found ? sql_update : sql_insert, 11, params,
	    cause);
	if (res == NULL)
		return -1;
	if (PQntuples(res) != 1)
		set_cause(cause, "the connection changed while this ran "
		    "(another connect of the same account?): run the command "
		    "again");
	else
		rc = 0;
	PQclear(res);
	return rc;
}

/* Inserts or updates the connection row with sealed tokens. */
static int
write_connection(struct store *s, char **cause)
{
	const struct oauth_tokens *tok = s->in->tokens;
	const char *tenant = s->in->tenant_id;
	char *rt = NULL, *at = NULL;
	int rc = -1;

	if (token_seal(s->kr, tenant, s->conn_id, "refresh_token",
	    tok->refresh_token, &rt, cause) == 0 && token_seal(s->kr, tenant,
	    s->conn_id, "access_token", tok->access_token, &at, cause) == 0)
		rc = write_row(s, rt, at, cause);
	free(rt);
	free(at);
	return rc;
}

/*
 * The sync state of one resource, and its first sync job.  A resource
 * that was off starts over with a full sync: what it synced before was
 * purged.
 */
static int
start_sync(struct store *s, const char *resource, const char *kind,
    bool was_on, char **cause)
{
	const char *params[4] = { s->in->tenant_id, s->conn_id, resource,
	    was_on ? "true" : "false" };
	const char *jparams[3] = { s->in->tenant_id, s->conn_id, kind };

	if (db_command(s->db, "INSERT INTO rally.sync_state"
	    " (tenant_id, connection_id, resource)"
	    " VALUES ($1::uuid, $2::uuid, $3)"
	    " ON CONFLICT (tenant_id, connection_id, resource) DO UPDATE"
	    " SET full_sync_required = true, calendar_sync_token = NULL,"
	    " gmail_history_id = NULL, full_sync_page_token = NULL,"
	    " full_sync_started_at = NULL, updated_at = now()"
	    " WHERE NOT $4::boolean", 4, params, cause) == -1)
		return -1;
	return db_command(s->db, "SELECT rally.job_enqueue($1::uuid, $3,"
	    " $2::uuid::text, jsonb_build_object('connection_id', $2::uuid))",
	    3, jparams, cause);
}

/* The web's attempt ends with the connection it stored. */
static int
end_attempt(struct store *s, char **cause)
{
	struct google_connection_out out = { s->conn_id, s->calendar, s->mail };
	char *detail = google_connection_summary(s->in, &out);
	const char *params[4] = { s->in->tenant_id, s->in->pending_id,
	    s->conn_id, detail };
	int rc;

	rc = db_command(s->db, "SELECT rally.oauth_exchange_connected($1::uuid,"
	    " $2::uuid, $3::uuid, $4)", 4, params, cause);
	free(detail);
	return rc;
}

/* Everything after the decision, still in the transaction. */
static int
write_all(struct store *s, char **cause)
{
	if (write_connection(s, cause) == -1)
		return -1;
	if (s->calendar && start_sync(s, "calendar", "calsync", s->p.calendar,
	    cause) == -1)
		return -1;
	if (s->mail && start_sync(s, "mail", "mailsync", s->p.mail, cause) == -1)
		return -1;
	if (s->in->pending_id != NULL && end_attempt(s, cause) == -1)
		return -1;
	return db_commit(s->db, cause);
}

enum google_store_result
google_connection_store(PGconn *db, const struct keyring *kr,
    const struct google_connection_in *in, struct google_connection_out *out,
    char **cause)
{
	struct store s = { .db = db, .kr = kr, .in = in };
	enum google_store_result rc = GOOGLE_STORE_FAILED;

	if (db_begin(db, cause) == -1)
		goto fail;
	if (db_set_tenant(db, in->tenant_id, in->user_id, cause) == -1 ||
	    lock_previous(&s, cause) == -1)
		goto fail;
	decide_integrations(&s);
	if (!s.calendar && !s.mail) {
		rc = GOOGLE_STORE_NOT_GRANTED;
		goto fail;
	}
	if (write_all(&s, cause) == -1)
		goto fail;
	out->connection_id = s.conn_id;
	out->calendar = s.calendar;
	out->mail = s.mail;
	return GOOGLE_STORE_OK;
fail:
	db_rollback(db, NULL);
	free(s.conn_id);
	return rc;
}

char *
google_connection_summary(const struct google_connection_in *in,
    const struct google_connection_out *out)
{
	const char *on;

	if (out->calendar && out->mail)
		on = "Google Calendar and Gmail are connected.";
	else if (out->calendar)
		on = "Google Calendar is connected.";
	else
		on = "Gmail is connected.";
	return xasprintf("%s%s%s", on, in->want_calendar && !out->calendar ?
	    " Google Calendar is not: Google did not grant Rally access to it." :
	    "", in->want_mail && !out->mail ? " Gmail is not: Google did not "
	    "grant Rally both read and send access to it." : "");
}
