/* SPDX-License-Identifier: ISC */
/*
 * Activities (docs/web.md, "Activities"): the list, create, view, edit,
 * delete, and sharing.
 *
 * GET  /activities			the list: upcoming or past, all/mine/shared
 * GET  /activities/new			the form for a new one
 * POST /activities			creates it
 * GET  /activities/<id>		one activity
 * GET  /activities/<id>/edit		the form to change it (owner)
 * POST /activities/<id>		saves the change (owner)
 * GET  /activities/<id>/delete		asks to confirm (owner)
 * POST /activities/<id>/delete		deletes it (owner)
 * POST /activities/<id>/share		shares it with the workspace (owner)
 * POST /activities/<id>/private	makes it private again (owner)
 * POST /activities/<id>/reviewed	marks its sync conflicts as seen (owner)
 *
 * Rows are read and written as rally_web, so the policies decide what a
 * user reaches: their own activities and the tenant's shared ones, and
 * writes only to their own.  An id that is malformed, unknown, another
 * tenant's or a teammate's private activity gets the same 404; a
 * teammate's shared activity is visible, and changing it is a 403 that
 * says who may.  Writes reach Google through the triggers of
 * sql/functions/calendar-outbound.sql: an activity with a date of a user
 * whose calendar is connected joins it and is pushed by rallyd.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "activity-form.h"
#include "db.h"
#include "log.h"
#include "page.h"
#include "session.h"
#include "uuid.h"

#define PAGE_ROWS 50

/* --- reading activities --------------------------------------------------- */

/* The joins every read shares: the owner's name, the user's connection. */
#define ACT_FROM \
	" FROM rally.activities a" \
	" LEFT JOIN rally.users u ON u.tenant_id = a.tenant_id" \
	"  AND u.id = a.owner_id" \
	" LEFT JOIN rally.google_connections c ON c.tenant_id = a.tenant_id" \
	"  AND c.id = a.connection_id"

/*
 * Where the activity stands with Google, as one word for status_words(),
 * and the kind of the last push error.  A conflict shows only to the owner
 * (merge_conflicts is theirs under its policy), and so does the state of
 * the connection (c is NULL for a teammate's activity).
 */
#define ACT_STATUS \
	" CASE WHEN EXISTS (SELECT 1 FROM rally.merge_conflicts m" \
	"   WHERE m.tenant_id = a.tenant_id AND m.activity_id = a.id" \
	"   AND m.seen_at IS NULL) THEN 'conflict'" \
	"  WHEN a.connection_id IS NULL THEN 'local'" \
	"  WHEN c.status = 'revoked' THEN 'revoked'" \
	"  WHEN c.status = 'error' THEN 'connection'" \
	"  WHEN NOT c.calendar_enabled THEN 'off'" \
	"  WHEN a.sync_state = 'error' THEN 'failed'" \
	"  WHEN a.sync_state = 'pending' AND a.sync_error IS NOT NULL" \
	"   THEN 'retrying'" \
	"  WHEN a.sync_state = 'pending' THEN 'pending'" \
	"  ELSE 'synced' END," \
	" split_part(coalesce(a.sync_error, ''), ':', 1)"

/* When, in the viewer's time zone (TimeZone is set per request). */
#define ACT_WHEN \
	" CASE WHEN a.start_date IS NOT NULL THEN" \
	"  to_char(a.start_date, 'Dy DD Mon YYYY') ||" \
	"  CASE WHEN a.end_date - a.start_date > 1 THEN" \
	"   ' – ' || to_char(a.end_date - 1, 'Dy DD Mon YYYY') ELSE '' END" \
	"  || ', all day'" \
	" WHEN a.start_at IS NOT NULL THEN" \
	"  to_char(a.start_at, 'Dy DD Mon YYYY, HH24:MI') ||" \
	"  CASE WHEN a.end_at IS NULL THEN ''" \
	"   WHEN a.end_at::date = a.start_at::date THEN" \
	"    '–' || to_char(a.end_at, 'HH24:MI')" \
	"   ELSE ' – ' || to_char(a.end_at, 'Dy DD Mon YYYY, HH24:MI') END" \
	" ELSE 'No date' END"

/* The owner as teammates know them. */
#define ACT_OWNER " coalesce(nullif(u.name, ''), u.email, '')"

/* One activity, by id, under the policies. */
#define ACT_SQL_ONE \
	"SELECT a.id, a.owner_id = rally.current_user_id(), a.title, a.kind," \
	" a.visibility," ACT_WHEN "," \
	" coalesce(a.location, ''), coalesce(a.description, '')," \
	" (SELECT coalesce(string_agg(x->>'email', E'\\n'), '')" \
	"  FROM jsonb_array_elements(a.attendees) x)," \
	" a.recurrence IS NOT NULL OR a.recurring_activity_id IS NOT NULL," \
	ACT_OWNER "," ACT_STATUS "," \
	" a.start_date IS NOT NULL," \
	" coalesce(to_char(a.start_at, 'YYYY-MM-DD\"T\"HH24:MI'), '')," \
	" coalesce(to_char(a.end_at, 'YYYY-MM-DD\"T\"HH24:MI'), '')," \
	" coalesce(to_char(a.start_date, 'YYYY-MM-DD'), '')," \
	" coalesce(to_char(greatest(a.end_date - 1, a.start_date)," \
	"  'YYYY-MM-DD'), '')" \
	ACT_FROM \
	" WHERE a.tenant_id = rally.current_tenant() AND a.id = $1" \
	" AND a.deleted_at IS NULL"

enum {
	ONE_ID, ONE_MINE, ONE_TITLE, ONE_KIND, ONE_VISIBILITY, ONE_WHEN,
	ONE_LOCATION, ONE_DESCRIPTION, ONE_GUESTS, ONE_REPEATS, ONE_OWNER,
	ONE_STATUS, ONE_ERROR, ONE_ALLDAY, ONE_START, ONE_END, ONE_FIRST_DAY,
	ONE_LAST_DAY,
};

/*
 * A page of the list (rally.activities_after or _before,
 * sql/functions/activities.sql) with what each row shows.
 */
#define ACT_SQL_LIST(fn, dir) \
	"SELECT a.id, a.owner_id = rally.current_user_id(), a.title, a.kind," \
	" a.visibility," ACT_WHEN "," ACT_OWNER "," ACT_STATUS "," \
	" a.recurrence IS NOT NULL OR a.recurring_activity_id IS NOT NULL," \
	" to_char(p.key AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')" \
	" FROM rally." fn "($1::timestamptz, $2::uuid, $3::boolean," \
	"  $4::boolean) p" \
	" JOIN rally.activities a ON a.tenant_id = rally.current_tenant()" \
	"  AND a.id = p.id" \
	" LEFT JOIN rally.users u ON u.tenant_id = a.tenant_id" \
	"  AND u.id = a.owner_id" \
	" LEFT JOIN rally.google_connections c ON c.tenant_id = a.tenant_id" \
	"  AND c.id = a.connection_id" \
	" ORDER BY p.key " dir ", p.id " dir

enum {
	LIST_ID, LIST_MINE, LIST_TITLE, LIST_KIND, LIST_VISIBILITY, LIST_WHEN,
	LIST_OWNER, LIST_STATUS, LIST_ERROR, LIST_REPEATS, LIST_KEY,
};

static bool
is_true(const PGresult *res, int row, int col)
{
	return strcmp(PQgetvalue(res, row, col), "t") == 0;
}

static const char *
kind_label(const char *kind)
{
	for (size_t i = 0; i < nitems(act_kinds); i++)
		if (strcmp(kind, act_kinds[i]) == 0)
			return act_kind_labels[i];
	return kind;
}

/* Why a push failed, in the user's words, from the error's kind. */
static const char *
error_words(const char *kind, bool *lasting)
{
	static const struct {
		const char *kind, *words;
		bool lasting;	/* retrying will not help */
	} w[] = {
		{ "rejected", "Google Calendar refused this activity; change it "
		    "and save to try again", true },
		{ "revoked", "Google access was withdrawn; connect Google again",
		    true },
		{ "not_connected", "Google Calendar is not connected", true },
		{ "config", "Rally's Google set-up is incomplete; tell your "
		    "administrator", true },
		{ "auth", "Google did not accept Rally's sign-in", false },
		{ "rate_limited", "Google asked Rally to slow down", false },
		{ "unavailable", "Google could not be reached", false },
		{ "malformed", "Google's answer could not be read", false },
	};

	for (size_t i = 0; i < nitems(w); i++)
		if (strcmp(kind, w[i].kind) == 0) {
			*lasting = w[i].lasting;
			return w[i].words;
		}
	*lasting = false;
	return "Google Calendar reported a problem";
}

/*
 * The sync status of a row: a sentence and whether it is good news (1),
 * bad (-1) or neither (0).  Caller frees the sentence.
 */
static char *
status_words(const char *status, const char *error, int *tone)
{
	bool lasting;
	const char *why;

	*tone = 0;
	if (strcmp(status, "synced") == 0) {
		*tone = 1;
		return xstrdup("Synced to Google Calendar");
	}
	if (strcmp(status, "pending") == 0)
		return xstrdup("Waiting to sync");
	if (strcmp(status, "local") == 0)
		return xstrdup("Only in Rally");
	*tone = -1;
	if (strcmp(status, "conflict") == 0)
		return xstrdup("Conflict: changed in both places");
	if (strcmp(status, "revoked") == 0)
		return xstrdup("Not synced: Google access was withdrawn; "
		    "connect Google again");
	if (strcmp(status, "connection") == 0)
		return xstrdup("Not synced: the Google connection has a "
		    "problem");
	if (strcmp(status, "off") == 0)
		return xstrdup("Not synced: Google Calendar is switched off");
	why = error_words(error, &lasting);
	if (strcmp(status, "retrying") == 0 && !lasting) {
		*tone = 0;
		return xasprintf("Waiting to sync: %s; Rally will try again",
		    why);
	}
	return xasprintf("Not synced: %s", why);
}

static void
status_badge(struct page *p, const char *status, const char *error)
{
	int tone;
	char *words = status_words(status, error, &tone);

	html(&p->sb, "<span class=\"badge%r\">%s</span>",
	    tone > 0 ? " ok" : tone < 0 ? " bad" : "", words);
	free(words);
}

/* --- ids ------------------------------------------------------------------ */

/* The activity id of the request's path; false when it is no uuid. */
static bool
path_id(const struct route *r, const struct request *req,
    char id[UUID_STR_LEN])
{
	char seg[UUID_STR_LEN + 1];

	return route_wild(r, req, seg, sizeof seg) && uuid_canonical(seg, id);
}

static void
not_found(struct cgi *cgi, struct request *req, struct response *resp)
{
	page_error(cgi, req, resp, 404, "There is no such activity, or it "
	    "is not shared with you.");
}

/*
 * The activity id under the policies: 1 with *res its row (caller
 * PQclear()s), 0 when not found (the 404 page is set), -1 on a database
 * error (the error page is set).
 */
static int
load_activity(struct cgi *cgi, struct request *req, struct response *resp,
    const char *id, PGresult **res)
{
	const char *params[1] = { id };
	char *cause = NULL;

	*res = db_exec(cgi->db, ACT_SQL_ONE, 1, params, &cause);
	if (*res == NULL) {
		page_db_error(cgi, req, resp, cause);
		return -1;
	}
	if (PQntuples(*res) != 1) {
		PQclear(*res);
		*res = NULL;
		not_found(cgi, req, resp);
		return 0;
	}
	return 1;
}

/* A teammate's shared activity: seen, not changed. */
static void
not_owner(struct cgi *cgi, struct request *req, struct response *resp,
    const PGresult *res)
{
	char *msg = xasprintf("Only %s, who owns this activity, can change "
	    "it.", PQgetvalue(res, 0, ONE_OWNER));

	page_error(cgi, req, resp, 403, msg);
	free(msg);
}

/*
 * The activity of the path, which must be the user's own: 1 with *res,
 * or 0 with the answer set (404, 403 or a database error).
 */
static int
load_own(struct cgi *cgi, struct request *req, struct response *resp,
    const struct route *r, char id[UUID_STR_LEN], PGresult **res)
{
	if (!path_id(r, req, id)) {
		not_found(cgi, req, resp);
		return 0;
	}
	if (load_activity(cgi, req, resp, id, res) != 1)
		return 0;
	if (!is_true(*res, 0, ONE_MINE)) {
		not_owner(cgi, req, resp, *res);
		PQclear(*res);
		*res = NULL;
		return 0;
	}
	return 1;
}

/* --- the form ------------------------------------------------------------- */

static void
form_from_request(struct act_form *f, const struct request *req)
{
	memset(f, 0, sizeof *f);
	f->title = page_trim(page_field(req, "title"));
	f->kind = page_trim(page_field(req, "kind"));
	f->timing = page_trim(page_field(req, "timing"));
	f->start = page_trim(page_field(req, "start"));
	f->end = page_trim(page_field(req, "end"));
	f->first_day = page_trim(page_field(req, "first_day"));
	f->last_day = page_trim(page_field(req, "last_day"));
	f->location = page_trim(page_field(req, "location"));
	f->description = xstrdup(page_field(req, "description"));
	f->guests = page_trim(page_field(req, "guests"));
	f->visibility = page_trim(page_field(req, "visibility"));
}

static void
form_from_row(struct act_form *f, const PGresult *res)
{
	memset(f, 0, sizeof *f);
	f->title = xstrdup(PQgetvalue(res, 0, ONE_TITLE));
	f->kind = xstrdup(PQgetvalue(res, 0, ONE_KIND));
	f->timing = xstrdup(is_true(res, 0, ONE_ALLDAY) ? "allday" : "time");
	f->start = xstrdup(PQgetvalue(res, 0, ONE_START));
	f->end = xstrdup(PQgetvalue(res, 0, ONE_END));
	f->first_day = xstrdup(PQgetvalue(res, 0, ONE_FIRST_DAY));
	f->last_day = xstrdup(PQgetvalue(res, 0, ONE_LAST_DAY));
	f->location = xstrdup(PQgetvalue(res, 0, ONE_LOCATION));
	f->description = xstrdup(PQgetvalue(res, 0, ONE_DESCRIPTION));
	f->guests = xstrdup(PQgetvalue(res, 0, ONE_GUESTS));
	f->visibility = xstrdup(PQgetvalue(res, 0, ONE_VISIBILITY));
}

static void
form_when(struct page *p, const struct act_form *f, const char *zone)
{
	bool allday = strcmp(f->timing, "allday") == 0;

	html(&p->sb, "<fieldset><legend>When</legend>"
	    "<p><input type=\"radio\" id=\"timing-time\" name=\"timing\" "
	    "value=\"time\"%r> <label class=\"inline\" for=\"timing-time\">"
	    "At a time</label></p>"
	    "<p><label for=\"start\">Starts</label><input id=\"start\" "
	    "name=\"start\" type=\"datetime-local\" value=\"%s\"></p>"
	    "<p><label for=\"end\">Ends</label><input id=\"end\" name=\"end\" "
	    "type=\"datetime-local\" value=\"%s\" "
	    "aria-describedby=\"end-help\"><small id=\"end-help\">Optional. "
	    "Times are in your time zone, %s.</small></p>",
	    allday ? "" : " checked", f->start, f->end, zone);
	html(&p->sb, "<p><input type=\"radio\" id=\"timing-allday\" "
	    "name=\"timing\" value=\"allday\"%r> <label class=\"inline\" "
	    "for=\"timing-allday\">All day</label></p>"
	    "<p><label for=\"first_day\">First day</label><input "
	    "id=\"first_day\" name=\"first_day\" type=\"date\" value=\"%s\">"
	    "</p><p><label for=\"last_day\">Last day</label><input "
	    "id=\"last_day\" name=\"last_day\" type=\"date\" value=\"%s\" "
	    "aria-describedby=\"last-help\"><small id=\"last-help\">Optional; "
	    "the same as the first day when empty.</small></p></fieldset>",
	    allday ? " checked" : "", f->first_day, f->last_day);
}

static void
form_visibility(struct page *p, const struct act_form *f)
{
	bool shared = strcmp(f->visibility, "shared") == 0;

	html(&p->sb, "<fieldset><legend>Who can see it</legend>"
	    "<p><input type=\"radio\" id=\"vis-private\" name=\"visibility\" "
	    "value=\"private\"%r> <label class=\"inline\" for=\"vis-private\">"
	    "Only me</label></p>"
	    "<p><input type=\"radio\" id=\"vis-shared\" name=\"visibility\" "
	    "value=\"shared\"%r> <label class=\"inline\" for=\"vis-shared\">"
	    "Everyone in %s</label></p></fieldset>",
	    shared ? "" : " checked", shared ? " checked" : "",
	    p->cgi->session->tenant_name);
}

/* What the pages say about where the user's activities go. */
struct act_ctx {
	char *zone;		/* the user's time zone (TimeZone) */
	char *calendar;		/* the Google account new ones go to, or NULL */
};

/*
 * The user's zone, set from theirs per request, and the calendar the
 * INSERT trigger gives a new activity (the same choice: the first
 * connected).  On a database error the page still shows, without them.
 */
static void
ctx_load(struct cgi *cgi, struct act_ctx *ctx)
{
	char *cause = NULL;
	PGresult *res;

	res = db_exec(cgi->db, "SELECT current_setting('TimeZone'),"
	    " (SELECT google_email FROM rally.google_connections"
	    "  WHERE tenant_id = rally.current_tenant()"
	    "  AND user_id = rally.current_user_id() AND status = 'active'"
	    "  AND calendar_enabled ORDER BY connected_at LIMIT 1)", 0, NULL,
	    &cause);
	if (res == NULL) {
		log_warnx("database: %s", cause);
		free(cause);
		ctx->zone = xstrdup("UTC");
		ctx->calendar = NULL;
		return;
	}
	ctx->zone = xstrdup(PQgetvalue(res, 0, 0));
	ctx->calendar = PQgetisnull(res, 0, 1) ? NULL :
	    xstrdup(PQgetvalue(res, 0, 1));
	PQclear(res);
}

static void
ctx_clear(struct act_ctx *ctx)
{
	free(ctx->zone);
	free(ctx->calendar);
}

/* Where activities with a date go, in one sentence. */
static void
ctx_calendar(struct page *p, const struct act_ctx *ctx)
{
	if (ctx->calendar != NULL)
		html(&p->sb, "<p class=\"muted\">New activities with a date "
		    "go to the Google Calendar of %s.</p>", ctx->calendar);
	else
		html(&p->sb, "<p class=\"muted\">Google Calendar is not "
		    "connected, so new activities stay in Rally. <a "
		    "href=\"/integrations\">Connect Google</a></p>");
}

/*
 * The create form (id NULL) or the edit form of activity id, filled in
 * with f, and alert at the top when the last try was refused.
 */
static void
form_page(struct cgi *cgi, struct request *req, struct response *resp,
    int status, const char *alert, const struct act_form *f, const char *id)
{
	struct page p;
	char *action = id != NULL ? xasprintf("/activities/%s", id) :
	    xstrdup("/activities");
	struct act_ctx ctx;

	ctx_load(cgi, &ctx);
	page_begin(&p, cgi, req, resp, id != NULL ? "Edit activity" :
	    "New activity", "activities");
	if (alert != NULL)
		page_alert(&p, alert);
	if (id == NULL)
		ctx_calendar(&p, &ctx);
	page_form_begin(&p, action);
	html(&p.sb, "<p><label for=\"title\">Title</label><input id=\"title\" "
	    "name=\"title\" required maxlength=\"%d\" value=\"%s\"></p>"
	    "<p><label for=\"kind\">Kind</label><select id=\"kind\" "
	    "name=\"kind\">", ACT_TITLE_MAX, f->title);
	for (size_t i = 0; i < nitems(act_kinds); i++)
		html(&p.sb, "<option value=\"%s\"%r>%s</option>", act_kinds[i],
		    strcmp(f->kind, act_kinds[i]) == 0 ? " selected" : "",
		    act_kind_labels[i]);
	html(&p.sb, "</select></p>");
	form_when(&p, f, ctx.zone);
	html(&p.sb, "<p><label for=\"location\">Location</label><input "
	    "id=\"location\" name=\"location\" maxlength=\"%d\" value=\"%s\">"
	    "</p><p><label for=\"guests\">Guests</label><textarea "
	    "id=\"guests\" name=\"guests\" rows=\"3\" "
	    "aria-describedby=\"guests-help\">%s</textarea><small "
	    "id=\"guests-help\">Email addresses, one a line or separated by "
	    "commas.</small></p>"
	    "<p><label for=\"description\">Description</label><textarea "
	    "id=\"description\" name=\"description\">%s</textarea></p>",
	    ACT_LOCATION_MAX, f->location, f->guests, f->description);
	form_visibility(&p, f);
	html(&p.sb, "<p class=\"actions\"><button type=\"submit\">%s</button> "
	    "<a href=\"%s\">Cancel</a></p></form>", id != NULL ?
	    "Save changes" : "Create activity", id != NULL ? action :
	    "/activities");
	free(action);
	ctx_clear(&ctx);
	page_end(&p, status);
}

/*
 * The form's values as the parameters $1 to $11 of ACT_SQL_INSERT and
 * ACT_SQL_UPDATE; unused times are NULL.
 */
static void
form_params(const struct act_form *f, const char *params[12])
{
	bool allday = strcmp(f->timing, "allday") == 0;

	params[0] = f->title;
	params[1] = f->kind;
	params[2] = allday ? NULL : f->start;
	params[3] = allday || f->end[0] == '\0' ? NULL : f->end;
	params[4] = allday ? f->first_day : NULL;
	params[5] = !allday ? NULL : f->last_day[0] != '\0' ? f->last_day :
	    f->first_day;
	params[6] = f->location;
	params[7] = f->description;
	params[8] = f->guest_lines;
	params[9] = f->visibility;
	params[10] = allday ? "true" : "false";
}

/*
 * A form's times: local times in the user's zone (TimeZone), the last day
 * inclusive (stored exclusive, as Google's).  A timed activity keeps the
 * zone it has (an event from Google keeps Google's), a new one takes the
 * user's.
 */
#define ACT_SQL_INSERT \
	"INSERT INTO rally.activities (tenant_id, owner_id, title, kind," \
	" start_at, end_at, start_date, end_date, location, description," \
	" attendees, visibility, time_zone)" \
	" SELECT rally.current_tenant(), rally.current_user_id(), $1::text," \
	" $2::text," \
	" $3::timestamptz, $4::timestamptz, $5::date, $6::date + 1," \
	" nullif($7, ''), nullif($8, '')," \
	" (SELECT coalesce(jsonb_agg(jsonb_build_object('email', e)" \
	"   ORDER BY n), '[]') FROM unnest(string_to_array(nullif($9, ''), E'\\n'))" \
	"   WITH ORDINALITY g(e, n))," \
	" $10::text, CASE WHEN $11::boolean THEN NULL" \
	"  ELSE current_setting('TimeZone') END" \
	" RETURNING id"

/*
 * Guests already there keep what Google says of them (name, answer).  For
 * an activity in a calendar, updated_at is the time of its last change of
 * a synced field, which the merge weighs against Google's (the trigger
 * sets it): a change of kind or visibility alone must not make an older
 * edit win a conflict.
 */
#define ACT_SQL_UPDATE \
	"UPDATE rally.activities a SET title = $1, kind = $2," \
	" start_at = $3::timestamptz, end_at = $4::timestamptz," \
	" start_date = $5::date, end_date = $6::date + 1," \
	" location = nullif($7, ''), description = nullif($8, '')," \
	" attendees = (SELECT coalesce(jsonb_agg(coalesce((SELECT o" \
	"   FROM jsonb_array_elements(a.attendees) o" \
	"   WHERE lower(o->>'email') = g.e LIMIT 1)," \
	"   jsonb_build_object('email', g.e)) ORDER BY g.n), '[]')" \
	"  FROM unnest(string_to_array(nullif($9, ''), E'\\n'))" \
	"  WITH ORDINALITY g(e, n))," \
	" visibility = $10," \
	" time_zone = CASE WHEN $11::boolean THEN NULL" \
	"  ELSE coalesce(a.time_zone, current_setting('TimeZone')) END," \
	" updated_at = CASE WHEN a.connection_id IS NULL THEN now()" \
	"  ELSE a.updated_at END" \
	" WHERE a.tenant_id = rally.current_tenant() AND a.id = $12" \
	" AND a.owner_id = rally.current_user_id() AND a.deleted_at IS NULL"

/*
 * What is wrong with the form, as act_form_check() says, or with its times
 * in the user's zone: local times that a change of clocks makes run
 * backwards ("02:30" on the night clocks go forward is "03:30") compare
 * the other way than their text.  0 with *why NULL or set; -1 on a
 * database error.
 */
static int
form_verify(struct cgi *cgi, struct act_form *f, const char **why,
    char **cause)
{
	const char *params[2] = { f->start, f->end };
	PGresult *res;

	if ((*why = act_form_check(f)) != NULL || strcmp(f->timing, "time") != 0 ||
	    f->end[0] == '\0')
		return 0;
	if ((res = db_exec(cgi->db, "SELECT $2::timestamptz > $1::timestamptz",
	    2, params, cause)) == NULL)
		return -1;
	if (!is_true(res, 0, 0))
		*why = "The end must be after the start.";
	PQclear(res);
	return 0;
}

/* --- create --------------------------------------------------------------- */

static void
new_form(struct cgi *cgi, struct request *req, struct response *resp)
{
	struct act_form f = { 0 };

	f.title = xstrdup("");
	f.kind = xstrdup("meeting");
	f.timing = xstrdup("time");
	f.start = xstrdup("");
	f.end = xstrdup("");
	f.first_day = xstrdup("");
	f.last_day = xstrdup("");
	f.location = xstrdup("");
	f.description = xstrdup("");
	f.guests = xstrdup("");
	f.visibility = xstrdup("private");
	form_page(cgi, req, resp, 200, NULL, &f, NULL);
	act_form_free(&f);
}

/*
 * The submitted form, checked, as the statement's parameters: false when
 * the response is set already (the form shown again saying why, or a
 * database error).  f is the caller's to free either way; id is the
 * activity's when editing one, else NULL.
 */
static bool
form_accepted(struct cgi *cgi, struct request *req, struct response *resp,
    const char *id, struct act_form *f, const char *params[12])
{
	const char *why;
	char *cause = NULL;

	form_from_request(f, req);
	if (form_verify(cgi, f, &why, &cause) == -1) {
		page_db_error(cgi, req, resp, cause);
		return false;
	}
	if (why != NULL) {
		form_page(cgi, req, resp, 400, why, f, id);
		return false;
	}
	form_params(f, params);
	return true;
}

static void
create(struct cgi *cgi, struct request *req, struct response *resp)
{
	struct act_form f;
	const char *params[12];
	char *cause = NULL, *location;
	PGresult *res;

	if (!form_accepted(cgi, req, resp, NULL, &f, params))
		goto out;
	res = db_exec(cgi->db, ACT_SQL_INSERT, 11, params, &cause);
	if (res == NULL) {
		page_db_error(cgi, req, resp, cause);
		goto out;
	}
	location = xasprintf("/activities/%s?done=created",
	    PQgetvalue(res, 0, 0));
	page_redirect(resp, location);
	free(location);
	PQclear(res);
out:
	act_form_free(&f);
}

/* --- view ----------------------------------------------------------------- */

static void
view_notice(struct page *p, const char *done)
{
	static const struct {
		const char *word, *text;
	} n[] = {
		{ "created", "The activity is saved." },
		{ "saved", "Your changes are saved." },
		{ "shared", "Everyone in your workspace can now see this "
		    "activity." },
		{ "private", "Only you can see this activity now." },
		{ "reviewed", "The conflicts are marked as reviewed." },
	};

	for (size_t i = 0; i < nitems(n); i++)
		if (strcmp(done, n[i].word) == 0)
			page_notice(p, n[i].text);
}

/* The guests, one address a line in lines, as a list. */
static void
view_guests(struct page *p, const char *lines)
{
	const char *s = lines, *nl;
	char *one;

	html(&p->sb, "<dt>Guests</dt><dd><ul class=\"plain\">");
	for (; *s != '\0'; s = *nl == '\0' ? nl : nl + 1) {
		nl = s + strcspn(s, "\n");
		one = xstrndup(s, (size_t)(nl - s));
		html(&p->sb, "<li>%s</li>", one);
		free(one);
	}
	html(&p->sb, "</ul></dd>");
}

static void
view_details(struct page *p, const PGresult *res)
{
	const char *location = PQgetvalue(res, 0, ONE_LOCATION);
	const char *guests = PQgetvalue(res, 0, ONE_GUESTS);
	const char *description = PQgetvalue(res, 0, ONE_DESCRIPTION);

	html(&p->sb, "<dl class=\"card details\"><dt>Kind</dt><dd>%s</dd>"
	    "<dt>When</dt><dd>%s%r</dd>",
	    kind_label(PQgetvalue(res, 0, ONE_KIND)),
	    PQgetvalue(res, 0, ONE_WHEN), is_true(res, 0, ONE_REPEATS) ?
	    " <span class=\"badge\">Repeats</span>" : "");
	if (location[0] != '\0')
		html(&p->sb, "<dt>Location</dt><dd>%s</dd>", location);
	if (guests[0] != '\0')
		view_guests(p, guests);
	html(&p->sb, "<dt>Owner</dt><dd>%s</dd><dt>Who can see it</dt>"
	    "<dd>%s</dd><dt>Google Calendar</dt><dd>", is_true(res, 0,
	    ONE_MINE) ? "You" : PQgetvalue(res, 0, ONE_OWNER),
	    strcmp(PQgetvalue(res, 0, ONE_VISIBILITY), "shared") == 0 ?
	    "Everyone in the workspace" : "Only its owner");
	status_badge(p, PQgetvalue(res, 0, ONE_STATUS),
	    PQgetvalue(res, 0, ONE_ERROR));
	html(&p->sb, "</dd></dl>");
	if (description[0] != '\0')
		html(&p->sb, "<h2>Description</h2><pre class=\"text\">%s</pre>",
		    description);
}

/* The fields both sides changed, and which value stayed. */
static int
view_conflicts(struct page *p, const char *id, char **cause)
{
	const char *params[1] = { id };
	PGresult *res;
	char *action;
	int n;

	res = db_exec(p->cgi->db, "SELECT field, coalesce(CASE winner"
	    " WHEN 'local' THEN local_value ELSE remote_value END #>> '{}', ''),"
	    " coalesce(CASE winner WHEN 'local' THEN remote_value"
	    " ELSE local_value END #>> '{}', ''), winner,"
	    " to_char(recorded_at, 'Dy DD Mon YYYY, HH24:MI')"
	    " FROM rally.merge_conflicts WHERE tenant_id = rally.current_tenant()"
	    " AND activity_id = $1 AND seen_at IS NULL ORDER BY id LIMIT 50",
	    1, params, cause);
	if (res == NULL)
		return -1;
	if ((n = PQntuples(res)) > 0) {
		html(&p->sb, "<h2>Changed in both places</h2><p>This activity "
		    "was changed in Rally and in Google Calendar at the same "
		    "time. The later change was kept.</p><table><thead><tr>"
		    "<th scope=\"col\">Field</th><th scope=\"col\">Kept</th>"
		    "<th scope=\"col\">Replaced</th><th scope=\"col\">When</th>"
		    "</tr></thead><tbody>");
		for (int i = 0; i < n; i++)
			html(&p->sb, "<tr><td>%s</td><td>%s (%s)</td><td>%s</td>"
			    "<td>%s</td></tr>", PQgetvalue(res, i, 0),
			    PQgetvalue(res, i, 1), strcmp(PQgetvalue(res, i, 3),
			    "local") == 0 ? "from Rally" : "from Google",
			    PQgetvalue(res, i, 2), PQgetvalue(res, i, 4));
		html(&p->sb, "</tbody></table>");
		action = xasprintf("/activities/%s/reviewed", id);
		page_form_begin(p, action);
		html(&p->sb, "<p><button type=\"submit\" class=\"secondary\">"
		    "Mark as reviewed</button></p></form>");
		free(action);
	}
	PQclear(res);
	return n;
}

/* The owner's buttons. */
static void
view_actions(struct page *p, const PGresult *res, const char *id)
{
	bool shared = strcmp(PQgetvalue(res, 0, ONE_VISIBILITY), "shared") == 0;
	char *action = xasprintf("/activities/%s/%s", id, shared ? "private" :
	    "share");

	html(&p->sb, "<div class=\"actions\"><a class=\"button\" "
	    "href=\"/activities/%s/edit\">Edit</a>", id);
	page_form_begin(p, action);
	html(&p->sb, "<button type=\"submit\" class=\"secondary\">%s</button>"
	    "</form><a class=\"button secondary\" "
	    "href=\"/activities/%s/delete\">Delete…</a></div>", shared ?
	    "Make private" : "Share with the workspace", id);
	free(action);
}

static void
view(struct cgi *cgi, struct request *req, struct response *resp)
{
	char id[UUID_STR_LEN], *cause = NULL;
	PGresult *res;
	struct page p;

	if (!path_id(&route_activity, req, id)) {
		not_found(cgi, req, resp);
		return;
	}
	if (load_activity(cgi, req, resp, id, &res) != 1)
		return;
	page_begin(&p, cgi, req, resp, PQgetvalue(res, 0, ONE_TITLE)[0] !=
	    '\0' ? PQgetvalue(res, 0, ONE_TITLE) : "Untitled", "activities");
	view_notice(&p, page_param(req, "done"));
	view_details(&p, res);
	if (!is_true(res, 0, ONE_MINE)) {
		html(&p.sb, "<p>%s shared this activity with the workspace. "
		    "Only they can change it.</p>", PQgetvalue(res, 0,
		    ONE_OWNER));
	} else {
		if (view_conflicts(&p, id, &cause) == -1) {
			strbuf_free(&p.sb);
			PQclear(res);
			page_db_error(cgi, req, resp, cause);
			return;
		}
		view_actions(&p, res, id);
	}
	html(&p.sb, "<p><a href=\"/activities\">All activities</a></p>");
	PQclear(res);
	page_end(&p, 200);
}

/* --- edit ----------------------------------------------------------------- */

static void
edit_form(struct cgi *cgi, struct request *req, struct response *resp)
{
	char id[UUID_STR_LEN];
	struct act_form f;
	PGresult *res;

	if (load_own(cgi, req, resp, &route_activity_edit, id, &res) != 1)
		return;
	form_from_row(&f, res);
	PQclear(res);
	form_page(cgi, req, resp, 200, NULL, &f, id);
	act_form_free(&f);
}

/*
 * After a write found no row of the user's: the same answers as a GET
 * (404, or 403 for a teammate's shared activity).
 */
static void
write_refused(struct cgi *cgi, struct request *req, struct response *resp,
    const char *id)
{
	PGresult *res;

	if (load_activity(cgi, req, resp, id, &res) != 1)
		return;
	if (is_true(res, 0, ONE_MINE))
		page_error(cgi, req, resp, 409, "This activity changed while "
		    "you were editing it. Please go back and try again.");
	else
		not_owner(cgi, req, resp, res);
	PQclear(res);
}

static void
update(struct cgi *cgi, struct request *req, struct response *resp)
{
	char id[UUID_STR_LEN], *cause = NULL, *location;
	const char *params[12];
	struct act_form f;
	PGresult *res;

	if (load_own(cgi, req, resp, &route_activity_save, id, &res) != 1)
		return;
	PQclear(res);
	if (!form_accepted(cgi, req, resp, id, &f, params))
		goto out;
	params[11] = id;
	if ((res = db_exec(cgi->db, ACT_SQL_UPDATE, 12, params, &cause)) ==
	    NULL) {
		page_db_error(cgi, req, resp, cause);
		goto out;
	}
	if (strcmp(PQcmdTuples(res), "1") != 0)
		write_refused(cgi, req, resp, id);
	else {
		location = xasprintf("/activities/%s?done=saved", id);
		page_redirect(resp, location);
		free(location);
	}
	PQclear(res);
out:
	act_form_free(&f);
}

/* --- delete --------------------------------------------------------------- */

static void
delete_form(struct cgi *cgi, struct request *req, struct response *resp)
{
	char id[UUID_STR_LEN], *action;
	PGresult *res;
	struct page p;
	bool google;

	if (load_own(cgi, req, resp, &route_activity_delete_form, id, &res) !=
	    1)
		return;
	google = strcmp(PQgetvalue(res, 0, ONE_STATUS), "local") != 0;
	page_begin(&p, cgi, req, resp, "Delete activity", "activities");
	html(&p.sb, "<p>Delete <strong>%s</strong> (%s)?%r</p>",
	    PQgetvalue(res, 0, ONE_TITLE), PQgetvalue(res, 0, ONE_WHEN),
	    google ? " It is also removed from your Google Calendar." : "");
	action = xasprintf("/activities/%s/delete", id);
	html(&p.sb, "<div class=\"actions\">");
	page_form_begin(&p, action);
	html(&p.sb, "<button type=\"submit\" class=\"danger\">Delete this "
	    "activity</button></form><a href=\"/activities/%s\">Keep it</a>"
	    "</div>", id);
	free(action);
	PQclear(res);
	page_end(&p, 200);
}

/*
 * A deleted activity goes at once; the DELETE trigger leaves a tombstone
 * for one Google knows or may know, and rallyd deletes the event.
 */
static void
delete(struct cgi *cgi, struct request *req, struct response *resp)
{
	char id[UUID_STR_LEN], *cause = NULL;
	const char *params[1] = { id };
	PGresult *res;

	if (load_own(cgi, req, resp, &route_activity_delete, id, &res) != 1)
		return;
	PQclear(res);
	if ((res = db_exec(cgi->db, "DELETE FROM rally.activities"
	    " WHERE tenant_id = rally.current_tenant() AND id = $1"
	    " AND owner_id = rally.current_user_id()", 1, params, &cause)) ==
	    NULL) {
		page_db_error(cgi, req, resp, cause);
		return;
	}
	if (strcmp(PQcmdTuples(res), "1") != 0)
		write_refused(cgi, req, resp, id);
	else
		page_redirect(resp, "/activities?done=deleted");
	PQclear(res);
}

/* --- sharing and conflicts ------------------------------------------------ */

/* Sets the visibility of the path's activity, the user's own. */
static void
set_visibility(struct cgi *cgi, struct request *req, struct response *resp,
    const struct route *r, const char *visibility)
{
	char id[UUID_STR_LEN], *cause = NULL, *location;
	const char *params[2] = { id, visibility };
	PGresult *res;

	if (load_own(cgi, req, resp, r, id, &res) != 1)
		return;
	PQclear(res);
	/* Not a calendar change: updated_at stays (see ACT_SQL_UPDATE). */
	if ((res = db_exec(cgi->db, "UPDATE rally.activities SET"
	    " visibility = $2, updated_at = CASE WHEN connection_id IS NULL"
	    " THEN now() ELSE updated_at END"
	    " WHERE tenant_id = rally.current_tenant() AND id = $1"
	    " AND owner_id = rally.current_user_id()", 2, params, &cause)) ==
	    NULL) {
		page_db_error(cgi, req, resp, cause);
		return;
	}
	if (strcmp(PQcmdTuples(res), "1") != 0)
		write_refused(cgi, req, resp, id);
	else {
		location = xasprintf("/activities/%s?done=%s", id,
		    strcmp(visibility, "shared") == 0 ? "shared" : "private");
		page_redirect(resp, location);
		free(location);
	}
	PQclear(res);
}

static void
share(struct cgi *cgi, struct request *req, struct response *resp)
{
	set_visibility(cgi, req, resp, &route_activity_share, "shared");
}

static void
make_private(struct cgi *cgi, struct request *req, struct response *resp)
{
	set_visibility(cgi, req, resp, &route_activity_private, "private");
}

/* The owner has seen what a merge replaced: the conflict badge goes. */
static void
reviewed(struct cgi *cgi, struct request *req, struct response *resp)
{
	char id[UUID_STR_LEN], *cause = NULL, *location;
	const char *params[1] = { id };
	PGresult *res;

	if (load_own(cgi, req, resp, &route_activity_reviewed, id, &res) != 1)
		return;
	PQclear(res);
	if (db_command(cgi->db, "UPDATE rally.merge_conflicts SET"
	    " seen_at = now() WHERE tenant_id = rally.current_tenant()"
	    " AND activity_id = $1 AND seen_at IS NULL", 1, params, &cause) ==
	    -1) {
		page_db_error(cgi, req, resp, cause);
		return;
	}
	location = xasprintf("/activities/%s?done=reviewed", id);
	page_redirect(resp, location);
	free(location);
}

/* --- the list ------------------------------------------------------------- */

struct list_query {
	bool past;
	const char *show;	/* all, mine, shared */
	const char *after;	/* the cursor, or NULL for the first page */
	char after_id[UUID_STR_LEN];
};

/* The list's parameters; false when they make no sense. */
static bool
list_query_of(const struct request *req, struct list_query *q)
{
	const char *view = page_param(req, "view");
	const char *after = page_param(req, "after");
	const char *id = page_param(req, "id");

	memset(q, 0, sizeof *q);
	if (strcmp(view, "past") == 0)
		q->past = true;
	else if (view[0] != '\0' && strcmp(view, "upcoming") != 0)
		return false;
	q->show = page_param(req, "show");
	if (q->show[0] == '\0')
		q->show = "all";
	if (strcmp(q->show, "all") != 0 && strcmp(q->show, "mine") != 0 &&
	    strcmp(q->show, "shared") != 0)
		return false;
	if (after[0] == '\0' && id[0] == '\0') {
		strcpy(q->after_id, "00000000-0000-0000-0000-000000000000");
		return true;
	}
	q->after = after;
	return act_cursor_ok(after) && uuid_canonical(id, q->after_id);
}

/* A link to the first page of the list with view and show. */
static void
list_link(struct page *p, bool past, const char *show, const char *label,
    bool current)
{
	html(&p->sb, "<li><a href=\"/activities?view=%s&amp;show=%s\"%r>%s"
	    "</a></li>", past ? "past" : "upcoming", show, current ?
	    " aria-current=\"page\"" : "", label);
}

static void
list_filters(struct page *p, const struct list_query *q)
{
	html(&p->sb, "<nav aria-label=\"Which activities\" class=\"filters\">"
	    "<ul>");
	list_link(p, false, q->show, "Upcoming", !q->past);
	list_link(p, true, q->show, "Past", q->past);
	html(&p->sb, "</ul><ul>");
	list_link(p, q->past, "all", "All", strcmp(q->show, "all") == 0);
	list_link(p, q->past, "mine", "Mine", strcmp(q->show, "mine") == 0);
	list_link(p, q->past, "shared", "Shared",
	    strcmp(q->show, "shared") == 0);
	html(&p->sb, "</ul></nav>");
}

static void
list_row(struct page *p, const PGresult *res, int i)
{
	bool mine = is_true(res, i, LIST_MINE);

	html(&p->sb, "<tr><td><a href=\"/activities/%s\">%s</a>%r</td>"
	    "<td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>",
	    PQgetvalue(res, i, LIST_ID), PQgetvalue(res, i, LIST_TITLE)[0] !=
	    '\0' ? PQgetvalue(res, i, LIST_TITLE) : "Untitled",
	    is_true(res, i, LIST_REPEATS) ? " <span class=\"badge\">Repeats"
	    "</span>" : "", kind_label(PQgetvalue(res, i, LIST_KIND)),
	    PQgetvalue(res, i, LIST_WHEN), mine ? "You" :
	    PQgetvalue(res, i, LIST_OWNER),
	    strcmp(PQgetvalue(res, i, LIST_VISIBILITY), "shared") == 0 ?
	    "Shared" : "Only you");
	status_badge(p, PQgetvalue(res, i, LIST_STATUS),
	    PQgetvalue(res, i, LIST_ERROR));
	html(&p->sb, "</td></tr>");
}

static void
list_table(struct page *p, const struct list_query *q, const PGresult *res)
{
	int n = PQntuples(res), shown = n > PAGE_ROWS ? PAGE_ROWS : n;

	if (n == 0) {
		if (q->after != NULL)
			html(&p->sb, "<p>No more activities.</p>");
		else if (q->past)
			html(&p->sb, "<p>No past activities.</p>");
		else
			html(&p->sb, "<p>Nothing coming up. <a "
			    "href=\"/activities/new\">Create an activity</a>."
			    "</p>");
		return;
	}
	html(&p->sb, "<table><caption class=\"muted\">%s</caption><thead><tr>"
	    "<th scope=\"col\">Title</th><th scope=\"col\">Kind</th>"
	    "<th scope=\"col\">When</th><th scope=\"col\">Owner</th>"
	    "<th scope=\"col\">Who can see it</th>"
	    "<th scope=\"col\">Google Calendar</th></tr></thead><tbody>",
	    q->past ? "Latest first" : "Soonest first");
	for (int i = 0; i < shown; i++)
		list_row(p, res, i);
	html(&p->sb, "</tbody></table>");
	if (n > PAGE_ROWS)
		html(&p->sb, "<p><a href=\"/activities?view=%s&amp;show=%s"
		    "&amp;after=%u&amp;id=%s\" rel=\"next\">%s 50</a></p>",
		    q->past ? "past" : "upcoming", q->show,
		    PQgetvalue(res, PAGE_ROWS - 1, LIST_KEY),
		    PQgetvalue(res, PAGE_ROWS - 1, LIST_ID), q->past ?
		    "Earlier: the previous" : "Later: the next");
}

static PGresult *
list_fetch(struct cgi *cgi, const struct list_query *q, char **cause)
{
	bool own = strcmp(q->show, "shared") != 0;
	bool shared = strcmp(q->show, "mine") != 0;
	const char *params[4] = { q->after, q->after_id, own ? "true" : "false",
	    shared ? "true" : "false" };

	return db_exec(cgi->db, q->past ?
	    ACT_SQL_LIST("activities_before", "DESC") :
	    ACT_SQL_LIST("activities_after", "ASC"), 4, params, cause);
}

static void
list(struct cgi *cgi, struct request *req, struct response *resp)
{
	struct list_query q;
	struct act_ctx ctx;
	char *cause = NULL;
	struct page p;
	PGresult *res;

	if (!list_query_of(req, &q)) {
		page_error(cgi, req, resp, 400, "This list link is not valid. "
		    "Go back to the activities and follow the links there.");
		return;
	}
	if ((res = list_fetch(cgi, &q, &cause)) == NULL) {
		page_db_error(cgi, req, resp, cause);
		return;
	}
	ctx_load(cgi, &ctx);
	page_begin(&p, cgi, req, resp, "Activities", "activities");
	if (strcmp(page_param(req, "done"), "deleted") == 0)
		page_notice(&p, "The activity is deleted.");
	html(&p.sb, "<p class=\"actions\"><a class=\"button\" "
	    "href=\"/activities/new\">New activity</a> <span class=\"muted\">"
	    "Times in %s.</span></p>", ctx.zone);
	ctx_calendar(&p, &ctx);
	list_filters(&p, &q);
	list_table(&p, &q, res);
	ctx_clear(&ctx);
	PQclear(res);
	page_end(&p, 200);
}

const struct route route_activities = {
	.method = "GET", .path = "/activities", .handler = list,
	.flags = ROUTE_SIGNED_IN,
};
const struct route route_activity_new = {
	.method = "GET", .path = "/activities/new", .handler = new_form,
	.flags = ROUTE_SIGNED_IN,
};
const struct route route_activity_create = {
	.method = "POST", .path = "/activities", .handler = create,
	.flags = ROUTE_SIGNED_IN,
};
const struct route route_activity = {
	.method = "GET", .path = "/activities/*", .handler = view,
	.flags = ROUTE_SIGNED_IN,
};
const struct route route_activity_save = {
	.method = "POST", .path = "/activities/*", .handler = update,
	.flags = ROUTE_SIGNED_IN,
};
const struct route route_activity_edit = {
	.method = "GET", .path = "/activities/*/edit", .handler = edit_form,
	.flags = ROUTE_SIGNED_IN,
};
const struct route route_activity_delete_form = {
	.method = "GET", .path = "/activities/*/delete", .handler = delete_form,
	.flags = ROUTE_SIGNED_IN,
};
const struct route route_activity_delete = {
	.method = "POST", .path = "/activities/*/delete", .handler = delete,
	.flags = ROUTE_SIGNED_IN,
};
const struct route route_activity_share = {
	.method = "POST", .path = "/activities/*/share", .handler = share,
	.flags = ROUTE_SIGNED_IN,
};
const struct route route_activity_private = {
	.method = "POST", .path = "/activities/*/private",
	.handler = make_private, .flags = ROUTE_SIGNED_IN,
};
const struct route route_activity_reviewed = {
	.method = "POST", .path = "/activities/*/reviewed", .handler = reviewed,
	.flags = ROUTE_SIGNED_IN,
};
