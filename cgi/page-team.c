/* SPDX-License-Identifier: ISC */
/*
 * The team (docs/web.md, "Accounts, invitations and the team"): owners
 * and admins only; to anyone else these pages do not exist (404).
 *
 * GET /team: the members (name, email, role, last sign-in), a page of 100
 * at a time by address, the pending invitations and the invitation form.
 * POST /team/invite: an invitation by email (member or admin; only owners
 * invite admins), sent as a notice with a link valid 7 days.
 * POST /team/revoke: a pending invitation is revoked.
 * POST /team/role (owners): a member's role; the last owner keeps theirs.
 * GET, POST /team/remove (owners): confirms, then removes a member: an
 * account deletion without grace period (rally.web_member_remove()).
 *
 * Ids come from forms and are looked up in the caller's workspace only:
 * one that is malformed, unknown or another workspace's is a 404.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "account.h"
#include "db.h"
#include "log.h"
#include "page.h"
#include "session.h"
#include "uuid.h"

#define TEAM_PAGE_SIZE 100

static const char *const team_roles[] = { "owner", "admin", "member" };

static bool
team_is_owner(const struct cgi *cgi)
{
	return strcmp(cgi->session->role, "owner") == 0;
}

static bool
team_is_manager(const struct cgi *cgi)
{
	return team_is_owner(cgi) || strcmp(cgi->session->role, "admin") == 0;
}

static bool
team_role_ok(const char *role)
{
	for (size_t i = 0; i < nitems(team_roles); i++)
		if (strcmp(role, team_roles[i]) == 0)
			return true;
	return false;
}

static const char *
team_role_label(const char *role)
{
	if (strcmp(role, "owner") == 0)
		return "Owner";
	if (strcmp(role, "admin") == 0)
		return "Admin";
	return "Member";
}

static void
team_not_found(struct cgi *cgi, struct request *req, struct response *resp)
{
	page_error(cgi, req, resp, 404, "We could not find that page.");
}

/*
 * Whether the signed-in user may use a team page (owners_only: an owner's
 * action); if not, the answer is set: 404 for members, who have no team
 * pages, 403 for admins asking for an owner's action.
 */
static bool
team_allowed(struct cgi *cgi, struct request *req, struct response *resp,
    bool owners_only)
{
	if (!team_is_manager(cgi)) {
		team_not_found(cgi, req, resp);
		return false;
	}
	if (owners_only && !team_is_owner(cgi)) {
		page_error(cgi, req, resp, 403, "Only owners of the workspace may "
		    "change roles and remove members.");
		return false;
	}
	return true;
}

/* The form field name as a canonical uuid in out, or false. */
static bool
team_id_field(const struct request *req, const char *name,
    char out[UUID_STR_LEN])
{
	return uuid_canonical(page_field(req, name), out);
}

/* --- the page ------------------------------------------------------------ */

static const struct {
	const char *word, *text;
} team_done[] = {
	{ "invited", "The invitation is sent. The link in it works for 7 days." },
	{ "revoked", "The invitation is revoked: its link no longer works." },
	{ "role", "The role is changed." },
	{ "removed", "The member is removed and signed out. Their account and "
	    "data are being deleted." },
};

static void
team_done_notice(struct page *p)
{
	const char *done = page_param(p->req, "done");

	for (size_t i = 0; i < nitems(team_done); i++)
		if (strcmp(done, team_done[i].word) == 0)
			page_notice(p, team_done[i].text);
}

/* An owner's controls for one member: the role, and removal of others. */
static void
team_member_actions(struct page *p, const char *id, const char *name,
    const char *role)
{
	html(&p->sb, "<td><div class=\"actions\">");
	page_form_begin(p, "/team/role");
	html(&p->sb, "<input type=\"hidden\" name=\"user\" value=\"%s\">"
	    "<label class=\"visually-hidden\" for=\"role-%s\">Role of %s</label>"
	    "<select id=\"role-%s\" name=\"role\">", id, id, name, id);
	for (size_t i = 0; i < nitems(team_roles); i++)
		html(&p->sb, "<option value=\"%s\"%r>%s</option>", team_roles[i],
		    strcmp(role, team_roles[i]) == 0 ? " selected" : "",
		    team_role_label(team_roles[i]));
	html(&p->sb, "</select> <button type=\"submit\" class=\"secondary\">"
	    "Change role</button></form>");
	if (strcmp(id, p->cgi->session->user_id) != 0)
		html(&p->sb, "<form method=\"get\" action=\"/team/remove\">"
		    "<input type=\"hidden\" name=\"user\" value=\"%s\">"
		    "<button type=\"submit\" class=\"danger\">Remove %s&hellip;"
		    "</button></form>", id, name);
	html(&p->sb, "</div></td>");
}

static void
team_member_row(struct page *p, const PGresult *res, int i, bool owner)
{
	const char *id = PQgetvalue(res, i, 0), *name = PQgetvalue(res, i, 1);
	const char *email = PQgetvalue(res, i, 2), *role = PQgetvalue(res, i, 3);
	const char *last = PQgetvalue(res, i, 5);
	bool active = strcmp(PQgetvalue(res, i, 4), "active") == 0;
	const char *shown = name[0] != '\0' ? name : email;

	html(&p->sb, "<tr><th scope=\"row\">%s</th><td>%s</td><td>%s</td>"
	    "<td>%s</td>", shown, email, active ? team_role_label(role) :
	    "Account being deleted", last[0] != '\0' ? last : "Never");
	if (owner && active)
		team_member_actions(p, id, shown, role);
	else if (owner)
		html(&p->sb, "<td></td>");
	html(&p->sb, "</tr>");
}

/* The members after address after (lower case), a page at a time. */
static int
team_members(struct page *p, const char *after, char **cause)
{
	const char *params[1] = { after };
	bool owner = team_is_owner(p->cgi);
	PGresult *res;
	int n;

	res = db_exec(p->cgi->db, "SELECT id, name, email, role, status,"
	    " coalesce(to_char(last_login_at, 'YYYY-MM-DD HH24:MI'), ''),"
	    " lower(email) FROM rally.users"
	    " WHERE tenant_id = rally.current_tenant() AND status <> 'deleted'"
	    " AND lower(email) > $1 ORDER BY lower(email) LIMIT 101", 1, params,
	    cause);
	if (res == NULL)
		return -1;
	n = PQntuples(res);
	html(&p->sb, "<h2>Members</h2><table><thead><tr><th scope=\"col\">Name"
	    "</th><th scope=\"col\">Email</th><th scope=\"col\">Role</th>"
	    "<th scope=\"col\">Last sign-in</th>%r</tr></thead><tbody>",
	    owner ? "<th scope=\"col\">Change</th>" : "");
	for (int i = 0; i < n && i < TEAM_PAGE_SIZE; i++)
		team_member_row(p, res, i, owner);
	html(&p->sb, "</tbody></table>");
	if (n > TEAM_PAGE_SIZE)
		html(&p->sb, "<p><a href=\"/team?after=%u\">More members</a></p>",
		    PQgetvalue(res, TEAM_PAGE_SIZE - 1, 6));
	PQclear(res);
	return 0;
}

static void
team_invitation_row(struct page *p, const PGresult *res, int i)
{
	html(&p->sb, "<tr><th scope=\"row\">%s</th><td>%s</td><td>%s</td>"
	    "<td>%s</td><td>", PQgetvalue(res, i, 1),
	    team_role_label(PQgetvalue(res, i, 2)), PQgetvalue(res, i, 3),
	    PQgetvalue(res, i, 4));
	page_form_begin(p, "/team/revoke");
	html(&p->sb, "<input type=\"hidden\" name=\"invitation\" value=\"%s\">"
	    "<button type=\"submit\" class=\"secondary\">Revoke the invitation "
	    "of %s</button></form></td></tr>", PQgetvalue(res, i, 0),
	    PQgetvalue(res, i, 1));
}

/* The pending invitations: at most 100 (web_invite_create's limit). */
static int
team_invitations(struct page *p, char **cause)
{
	PGresult *res;
	int n;

	res = db_exec(p->cgi->db, "SELECT i.id, i.email, i.role,"
	    " coalesce(nullif(u.name, ''), u.email, 'a former member'),"
	    " to_char(i.expires_at, 'YYYY-MM-DD HH24:MI')"
	    " FROM rally.invitations i LEFT JOIN rally.users u"
	    " ON u.tenant_id = i.tenant_id AND u.id = i.invited_by"
	    " WHERE i.tenant_id = rally.current_tenant() AND i.expires_at > now()"
	    " ORDER BY i.created_at, i.id LIMIT 100", 0, NULL, cause);
	if (res == NULL)
		return -1;
	n = PQntuples(res);
	html(&p->sb, "<h2>Pending invitations</h2>");
	if (n == 0)
		html(&p->sb, "<p>No invitation is pending.</p>");
	else {
		html(&p->sb, "<table><thead><tr><th scope=\"col\">Email</th>"
		    "<th scope=\"col\">Role</th><th scope=\"col\">Invited by</th>"
		    "<th scope=\"col\">Link works until</th>"
		    "<th scope=\"col\">Revoke</th></tr></thead><tbody>");
		for (int i = 0; i < n; i++)
			team_invitation_row(p, res, i);
		html(&p->sb, "</tbody></table>");
	}
	PQclear(res);
	return 0;
}

static void
team_invite_form(struct page *p, const char *email, const char *role)
{
	html(&p->sb, "<h2>Invite someone</h2>");
	if (p->cgi->conf.web_public_url[0] == '\0')
		html(&p->sb, "<p class=\"muted\">Invitations cannot be sent yet: "
		    "this server's public address is not set up. Ask your "
		    "administrator to set it.</p>");
	page_form_begin(p, "/team/invite");
	html(&p->sb, "<p><label for=\"invite-email\">Email</label>"
	    "<input id=\"invite-email\" name=\"email\" type=\"email\" required "
	    "autocomplete=\"off\" value=\"%s\"></p>"
	    "<p><label for=\"invite-role\">Role</label>"
	    "<select id=\"invite-role\" name=\"role\" "
	    "aria-describedby=\"invite-role-help\">"
	    "<option value=\"member\">Member</option>", email);
	if (team_is_owner(p->cgi))
		html(&p->sb, "<option value=\"admin\"%r>Admin</option>",
		    strcmp(role, "admin") == 0 ? " selected" : "");
	html(&p->sb, "</select><small id=\"invite-role-help\">Admins also see "
	    "this page and invite members; only owners change roles and remove "
	    "members.</small></p>"
	    "<p><button type=\"submit\">Send invitation</button></p></form>");
}

/* The team page, with status and an alert after a refused form. */
static void
team_render(struct cgi *cgi, struct request *req, struct response *resp,
    int status, const char *alert, const char *email, const char *role)
{
	struct page p;
	char *after = page_trim(page_param(req, "after")), *cause = NULL;

	page_begin(&p, cgi, req, resp, "Team", "team");
	team_done_notice(&p);
	if (alert != NULL)
		page_alert(&p, alert);
	html(&p.sb, "<p>Everyone in %s.</p>", cgi->session->tenant_name);
	if (cgi_begin(cgi, &cause) == -1 ||
	    team_members(&p, after, &cause) == -1 ||
	    team_invitations(&p, &cause) == -1) {
		strbuf_free(&p.sb);
		page_db_error(cgi, req, resp, cause);
		free(after);
		return;
	}
	team_invite_form(&p, email, role);
	page_end(&p, status);
	free(after);
}

static void
team(struct cgi *cgi, struct request *req, struct response *resp)
{
	if (team_allowed(cgi, req, resp, false))
		team_render(cgi, req, resp, 200, NULL, "", "member");
}

/* --- invitations --------------------------------------------------------- */

/* The answers of rally.web_invite_create() that refuse, in words. */
static const struct {
	const char *word;
	int status;
	const char *text;
} invite_refusals[] = {
	{ "member", 409, "That address already has an account in this "
	    "workspace." },
	{ "pending", 409, "An invitation to that address is pending already. "
	    "Revoke it to send a new one." },
	{ "full", 409, "This workspace has 100 pending invitations. Revoke "
	    "some before you send more." },
	{ "forbidden", 403, "Only owners may invite admins." },
};

/* rally.web_invite_create()'s word (caller frees), or NULL on an error. */
static char *
invite_send(struct cgi *cgi, const char *email, const char *role,
    const char *base, char **cause)
{
	char token[ACCOUNT_TOKEN_LEN + 1];
	const char *params[4] = { email, role, token, base };
	PGresult *res;
	char *word = NULL;

	account_token_new(token);
	res = db_exec(cgi->db, "SELECT rally.web_invite_create($1, $2, $3, $4)",
	    4, params, cause);
	account_token_clear(token);
	if (res != NULL) {
		word = xstrdup(PQgetvalue(res, 0, 0));
		PQclear(res);
	}
	return word;
}

/* A refused invitation: the team page again with the form as it was. */
static void
invite_refused(struct cgi *cgi, struct request *req, struct response *resp,
    const char *word, const char *email, const char *role)
{
	for (size_t i = 0; i < nitems(invite_refusals); i++)
		if (strcmp(word, invite_refusals[i].word) == 0) {
			team_render(cgi, req, resp, invite_refusals[i].status,
			    invite_refusals[i].text, email, role);
			return;
		}
	log_warnx("team: web_invite_create answered \"%s\"", word);
	page_error(cgi, req, resp, 500, "Something went wrong on our side; "
	    "nothing was sent. Please try again.");
}

static void
team_invite(struct cgi *cgi, struct request *req, struct response *resp)
{
	char *email = page_trim(page_field(req, "email"));
	const char *role = page_field(req, "role"), *base;
	char *word = NULL, *cause = NULL;

	if (!team_allowed(cgi, req, resp, false))
		goto out;
	if (!account_email_ok(email) || (strcmp(role, "member") != 0 &&
	    strcmp(role, "admin") != 0)) {
		team_render(cgi, req, resp, 400, "Enter the address to invite, "
		    "like ann@example.com, and choose a role.", email, "member");
		goto out;
	}
	if ((base = account_public_url(cgi, "invitation")) == NULL) {
		page_error(cgi, req, resp, 503, "Invitations are not set up on "
		    "this server yet: its public address is missing. Please ask "
		    "your administrator to set it.");
		goto out;
	}
	if (cgi_begin(cgi, &cause) == -1 ||
	    (word = invite_send(cgi, email, role, base, &cause)) == NULL) {
		page_db_error(cgi, req, resp, cause);
		goto out;
	}
	if (strcmp(word, "sent") == 0)
		page_redirect(resp, "/team?done=invited");
	else if (strcmp(word, "address") == 0)
		team_render(cgi, req, resp, 400, "That address cannot be used. "
		    "Enter one address, like ann@example.com.", email, role);
	else
		invite_refused(cgi, req, resp, word, email, role);
out:
	free(email);
	free(word);
}

/* 1, 0 for no such row of the caller's, -1: a boolean function's answer. */
static int
team_call_bool(struct cgi *cgi, const char *sql, int n, const char **params,
    char **cause)
{
	PGresult *res;
	int yes;

	if (cgi_begin(cgi, cause) == -1 ||
	    (res = db_exec(cgi->db, sql, n, params, cause)) == NULL)
		return -1;
	yes = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return yes;
}

static void
team_revoke(struct cgi *cgi, struct request *req, struct response *resp)
{
	char id[UUID_STR_LEN], *cause = NULL;
	const char *params[1] = { id };
	int rc;

	if (!team_allowed(cgi, req, resp, false))
		return;
	if (!team_id_field(req, "invitation", id)) {
		team_not_found(cgi, req, resp);
		return;
	}
	rc = team_call_bool(cgi, "SELECT rally.web_invite_revoke($1::uuid)", 1,
	    params, &cause);
	if (rc == -1)
		page_db_error(cgi, req, resp, cause);
	else if (rc == 0)
		team_not_found(cgi, req, resp);
	else
		page_redirect(resp, "/team?done=revoked");
}

/* --- roles and removal --------------------------------------------------- */

/* A one-word answer of a team function (caller frees), NULL on an error. */
static char *
team_call_word(struct cgi *cgi, const char *sql, int n, const char **params,
    char **cause)
{
	PGresult *res;
	char *word;

	if (cgi_begin(cgi, cause) == -1 ||
	    (res = db_exec(cgi->db, sql, n, params, cause)) == NULL)
		return NULL;
	word = xstrdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return word;
}

static void
team_role(struct cgi *cgi, struct request *req, struct response *resp)
{
	char id[UUID_STR_LEN], *word, *cause = NULL;
	const char *role = page_field(req, "role");
	const char *params[2] = { id, role };

	if (!team_allowed(cgi, req, resp, true))
		return;
	if (!team_id_field(req, "user", id)) {
		team_not_found(cgi, req, resp);
		return;
	}
	if (!team_role_ok(role)) {
		team_render(cgi, req, resp, 400, "Choose owner, admin or member.",
		    "", "member");
		return;
	}
	if ((word = team_call_word(cgi, "SELECT rally.web_member_role($1::uuid,"
	    " $2)", 2, params, &cause)) == NULL) {
		page_db_error(cgi, req, resp, cause);
		return;
	}
	if (strcmp(word, "changed") == 0 || strcmp(word, "unchanged") == 0)
		page_redirect(resp, "/team?done=role");
	else if (strcmp(word, "last_owner") == 0)
		team_render(cgi, req, resp, 409, "A workspace always keeps an "
		    "owner: make someone else an owner first.", "", "member");
	else
		team_not_found(cgi, req, resp);
	free(word);
}

/*
 * The active member id of the caller's workspace: 1 with *name (caller
 * frees), 0 when there is none, -1 on a database error.
 */
static int
team_member_name(struct cgi *cgi, const char *id, char **name, char **cause)
{
	const char *params[1] = { id };
	PGresult *res;
	int found;

	if (cgi_begin(cgi, cause) == -1 || (res = db_exec(cgi->db,
	    "SELECT coalesce(nullif(name, ''), email), email FROM rally.users"
	    " WHERE tenant_id = rally.current_tenant() AND id = $1::uuid"
	    " AND status = 'active'", 1, params, cause)) == NULL)
		return -1;
	found = PQntuples(res) == 1;
	if (found)
		*name = xasprintf("%s (%s)", PQgetvalue(res, 0, 0),
		    PQgetvalue(res, 0, 1));
	PQclear(res);
	return found;
}

/* How long the purge may take, in words: "a day", "3 days", "5 hours". */
static char *
team_lag_words(const struct conf *c)
{
	long long s = (long long)c->purge_lag_sec;

	if (s >= 86400)
		return s < 2 * 86400 ? xstrdup("a day") :
		    xasprintf("%lld days", s / 86400);
	if (s >= 7200)
		return xasprintf("%lld hours", s / 3600);
	return xstrdup("an hour");
}

static void
team_remove_page(struct cgi *cgi, struct request *req, struct response *resp,
    const char *id, const char *name)
{
	struct page p;
	char *lag = team_lag_words(&cgi->conf);

	page_begin(&p, cgi, req, resp, "Remove a member", "team");
	html(&p.sb, "<p>Remove %s from %s?</p><p>They are signed out at once "
	    "and cannot sign in again. Their account and everything Rally holds "
	    "about them &mdash; their activities, mail and Google connections, "
	    "shared ones included &mdash; are deleted within %s. This cannot be "
	    "undone.</p>", name, cgi->session->tenant_name, lag);
	page_form_begin(&p, "/team/remove");
	html(&p.sb, "<input type=\"hidden\" name=\"user\" value=\"%s\">"
	    "<p class=\"actions\"><button type=\"submit\" class=\"danger\">"
	    "Remove %s</button> <a href=\"/team\">Keep them</a></p></form>",
	    id, name);
	page_end(&p, 200);
	free(lag);
}

static void
team_remove_confirm(struct cgi *cgi, struct request *req,
    struct response *resp)
{
	char id[UUID_STR_LEN], *name = NULL, *cause = NULL;
	int found;

	if (!team_allowed(cgi, req, resp, true))
		return;
	if (!uuid_canonical(page_param(req, "user"), id)) {
		team_not_found(cgi, req, resp);
		return;
	}
	if (strcmp(id, cgi->session->user_id) == 0) {
		page_error(cgi, req, resp, 409, "You cannot remove yourself. To "
		    "leave the workspace, delete your account on the Account "
		    "page.");
		return;
	}
	if ((found = team_member_name(cgi, id, &name, &cause)) == -1)
		page_db_error(cgi, req, resp, cause);
	else if (found == 0)
		team_not_found(cgi, req, resp);
	else
		team_remove_page(cgi, req, resp, id, name);
	free(name);
}

static void
team_remove(struct cgi *cgi, struct request *req, struct response *resp)
{
	char id[UUID_STR_LEN], *lag, *word, *cause = NULL;
	const char *params[2] = { id, NULL };

	if (!team_allowed(cgi, req, resp, true))
		return;
	if (!team_id_field(req, "user", id)) {
		team_not_found(cgi, req, resp);
		return;
	}
	lag = xasprintf("%lld seconds", (long long)cgi->conf.purge_lag_sec);
	params[1] = lag;
	word = team_call_word(cgi, "SELECT rally.web_member_remove($1::uuid,"
	    " $2::interval)", 2, params, &cause);
	free(lag);
	if (word == NULL) {
		page_db_error(cgi, req, resp, cause);
		return;
	}
	if (strcmp(word, "removed") == 0)
		page_redirect(resp, "/team?done=removed");
	else if (strcmp(word, "self") == 0)
		page_error(cgi, req, resp, 409, "You cannot remove yourself. To "
		    "leave the workspace, delete your account on the Account "
		    "page.");
	else
		team_not_found(cgi, req, resp);
	free(word);
}

const struct route route_team = {
	.method = "GET", .path = "/team", .handler = team,
	.flags = ROUTE_SIGNED_IN,
};
const struct route route_team_invite = {
	.method = "POST", .path = "/team/invite", .handler = team_invite,
	.flags = ROUTE_SIGNED_IN,
};
const struct route route_team_revoke = {
	.method = "POST", .path = "/team/revoke", .handler = team_revoke,
	.flags = ROUTE_SIGNED_IN,
};
const struct route route_team_role = {
	.method = "POST", .path = "/team/role", .handler = team_role,
	.flags = ROUTE_SIGNED_IN,
};
const struct route route_team_remove_confirm = {
	.method = "GET", .path = "/team/remove", .handler = team_remove_confirm,
	.flags = ROUTE_SIGNED_IN,
};
const struct route route_team_remove = {
	.method = "POST", .path = "/team/remove", .handler = team_remove,
	.flags = ROUTE_SIGNED_IN,
};
