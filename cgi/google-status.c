/* SPDX-License-Identifier: ISC */
/*
 * google-status: see google-status.h.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "google-status.h"
#include "html.h"

/*
 * One row per connection and integration, in the order of
 * rally.web_google_status() (sql/functions/web-dashboard.sql), a PL/pgSQL
 * function so that its plan is made once per backend.
 */
static const char sql_status[] =
    "SELECT connection_id, google_email, status, error_kind, resource,"
    " enabled, known, last_success_ago, last_success, lag_seconds, backlog,"
    " sync_error_kind, full_sync_required FROM rally.web_google_status()";

/* Error kinds (daemon/google-error.c gerr_kind() and the jobs' own) in
 * words; anything else gets the last, general sentence. */
static const struct {
	const char *kind;
	const char *words;
} error_words[] = {
	{ "revoked", "Google asked you to sign in again: connect Google "
	    "again to resume syncing." },
	{ "auth", "Google refused Rally's access. If this goes on, connect "
	    "Google again." },
	{ "rate_limited", "Google is rate-limiting us; we will catch up." },
	{ "quota", "Google is rate-limiting us; we will catch up." },
	{ "unavailable", "Google could not be reached; we will try again "
	    "shortly." },
	{ "not_connected", "This integration is no longer connected." },
	{ "gone", "Google asked for a full resync; it is under way." },
	{ "stale", "A full resync started; it is under way." },
	{ "not_found", "Google could not find your primary calendar or "
	    "mailbox." },
	{ "conflict", "A change clashed with one made at Google; we will try "
	    "again." },
	{ "precondition", "A change clashed with one made at Google; we will "
	    "try again." },
	{ "rejected", "Google refused one of Rally's requests; we will try "
	    "again." },
	{ "malformed", "Google sent an answer Rally could not read; we will "
	    "try again." },
	{ "config", "Rally is not set up to talk to Google right now. "
	    "Please tell your administrator." },
	{ "database", "Rally had a problem on its side; we will try again." },
};

_Static_assert(GOOGLE_STATUS_MAX == 10, "the LIMIT of rally.web_google_status()");

const char *
google_status_error_words(const char *kind)
{
	for (size_t i = 0; i < nitems(error_words); i++)
		if (strcmp(kind, error_words[i].kind) == 0)
			return error_words[i].words;
	return "The last sync did not finish; we will try again.";
}

const char *
google_status_name(int which)
{
	return which == GOOGLE_CALENDAR ? "Google Calendar" : "Gmail";
}

/* "5 minutes", "1 hour", "2 days"; "less than a minute". */
static void
duration_words(long long s, char *buf, size_t size)
{
	static const struct {
		long long unit;
		const char *name;
	} units[] = {
		{ 86400, "day" }, { 3600, "hour" }, { 60, "minute" },
	};

	for (size_t i = 0; i < nitems(units); i++) {
		long long n = s / units[i].unit;

		if (n >= 1) {
			snprintf(buf, size, "%lld %s%s", n, units[i].name,
			    n == 1 ? "" : "s");
			return;
		}
	}
	snprintf(buf, size, "less than a minute");
}

void
google_status_ago(long long s, char *buf, size_t size)
{
	char d[48];

	if (s < 60) {
		snprintf(buf, size, "just now");
		return;
	}
	duration_words(s, d, sizeof d);
	snprintf(buf, size, "%s ago", d);
}

static long long
col_ll(const PGresult *res, int row, int col)
{
	return strtoll(PQgetvalue(res, row, col), NULL, 10);
}

static bool
col_bool(const PGresult *res, int row, int col)
{
	return strcmp(PQgetvalue(res, row, col), "t") == 0;
}

static void
sync_fill(struct google_sync *s, const PGresult *res, int row)
{
	s->enabled = col_bool(res, row, 5);
	s->known = col_bool(res, row, 6);
	s->ago = col_ll(res, row, 7);
	s->when = xstrdup(PQgetvalue(res, row, 8));
	s->lag = col_ll(res, row, 9);
	s->backlog = col_ll(res, row, 10);
	s->error_kind = xstrdup(PQgetvalue(res, row, 11));
	s->full_sync = col_bool(res, row, 12);
}

int
google_status_load(PGconn *db, struct google_status *st, char **cause)
{
	PGresult *res;
	struct google_conn *c = NULL;

	memset(st, 0, sizeof *st);
	if ((res = db_exec(db, sql_status, 0, NULL, cause)) == NULL)
		return -1;
	for (int i = 0; i < PQntuples(res); i++) {
		const char *id = PQgetvalue(res, i, 0);
		int which = strcmp(PQgetvalue(res, i, 4), "calendar") == 0 ?
		    GOOGLE_CALENDAR : GOOGLE_MAIL;

		if (c == NULL || strcmp(c->id, id) != 0) {
			if (st->n == GOOGLE_STATUS_MAX)
				break;
			c = &st->conn[st->n++];
			(void)uuid_canonical(id, c->id);
			c->email = xstrdup(PQgetvalue(res, i, 1));
			c->status = xstrdup(PQgetvalue(res, i, 2));
			c->error_kind = xstrdup(PQgetvalue(res, i, 3));
		}
		sync_fill(&c->sync[which], res, i);
	}
	PQclear(res);
	return 0;
}

void
google_status_clear(struct google_status *st)
{
	for (int i = 0; i < st->n; i++) {
		struct google_conn *c = &st->conn[i];

		free(c->email);
		free(c->status);
		free(c->error_kind);
		for (int w = 0; w < 2; w++) {
			free(c->sync[w].when);
			free(c->sync[w].error_kind);
		}
	}
	memset(st, 0, sizeof *st);
}

/* When it last worked, and how far behind it is. */
static void
sync_progress_html(struct strbuf *sb, const struct google_sync *s)
{
	char ago[64];

	if (s->ago < 0) {
		html(sb, "<p>%s</p>", s->full_sync ? "The first sync is under "
		    "way; this can take a few minutes." : "Waiting for the "
		    "first sync.");
		return;
	}
	google_status_ago(s->ago, ago, sizeof ago);
	html(sb, "<p>Last synced %s <span class=\"muted\">(%s)</span>.",
	    ago, s->when);
	if (s->lag > 300) {
		duration_words(s->lag, ago, sizeof ago);
		html(sb, " Behind by %s.", ago);
	}
	if (s->backlog > 0)
		html(sb, " %lld change%s waiting.", s->backlog,
		    s->backlog == 1 ? "" : "s");
	html(sb, "</p>");
}

void
google_status_sync_html(struct strbuf *sb, const struct google_conn *c,
    int which)
{
	const struct google_sync *s = &c->sync[which];

	if (strcmp(c->status, "revoked") == 0) {
		html(sb, "<p class=\"sync-error\">%s</p>",
		    google_status_error_words("revoked"));
		return;
	}
	if (!s->enabled) {
		html(sb, "<p>Off.</p>");
		return;
	}
	sync_progress_html(sb, s);
	if (s->error_kind[0] != '\0')
		html(sb, "<p class=\"sync-error\">%s</p>",
		    google_status_error_words(s->error_kind));
	else if (strcmp(c->status, "error") == 0)
		html(sb, "<p class=\"sync-error\">%s</p>",
		    google_status_error_words(c->error_kind));
}

int
google_conn_find(PGconn *db, const char *id, struct google_conn_row *row,
    char **cause)
{
	const char *params[1];
	PGresult *res;
	int found;

	memset(row, 0, sizeof *row);
	if (!uuid_canonical(id, row->id))
		return 0;
	params[0] = row->id;
	res = db_exec(db, "SELECT google_email, status, calendar_enabled,"
	    " mail_enabled FROM rally.google_connections"
	    " WHERE tenant_id = rally.current_tenant()"
	    " AND user_id = rally.current_user_id() AND id = $1::uuid", 1,
	    params, cause);
	if (res == NULL)
		return -1;
	if ((found = PQntuples(res) == 1)) {
		row->email = xstrdup(PQgetvalue(res, 0, 0));
		row->status = xstrdup(PQgetvalue(res, 0, 1));
		row->calendar = col_bool(res, 0, 2);
		row->mail = col_bool(res, 0, 3);
	}
	PQclear(res);
	return found;
}

void
google_conn_row_clear(struct google_conn_row *row)
{
	free(row->email);
	free(row->status);
	memset(row, 0, sizeof *row);
}
