/* SPDX-License-Identifier: ISC */
/*
 * Accepting an invitation (docs/web.md, "Accounts, invitations and the
 * team"); page-team.c sends them.
 *
 * GET /invite/<token>: the workspace, the address and role the link was
 * sent for, and a form for a name and a password.
 * POST /invite/<token>: the account is created in that workspace with that
 * address and role (rally.web_invite_accept(), which deletes the
 * invitation: the link works once), signed in, and sent to the dashboard.
 * A link that is unknown, expired, revoked or used gets the same 404.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "account.h"
#include "db.h"
#include "log.h"
#include "page.h"
#include "session.h"

struct invite {
	char *workspace, *email, *role;
};

static void
invite_clear(struct invite *inv)
{
	free(inv->workspace);
	free(inv->email);
	free(inv->role);
}

/* The invitation of a live link: 1 with inv filled, 0 for none, -1. */
static int
invite_lookup(struct cgi *cgi, const char *token, struct invite *inv,
    char **cause)
{
	const char *params[1] = { token };
	PGresult *res;
	int found;

	if (!account_token_ok(token))
		return 0;
	if (cgi_begin(cgi, cause) == -1 || (res = db_exec(cgi->db,
	    "SELECT tenant_name, email, role FROM rally.web_invite_lookup($1)",
	    1, params, cause)) == NULL)
		return -1;
	found = PQntuples(res) == 1;
	if (found) {
		inv->workspace = xstrdup(PQgetvalue(res, 0, 0));
		inv->email = xstrdup(PQgetvalue(res, 0, 1));
		inv->role = xstrdup(PQgetvalue(res, 0, 2));
	}
	PQclear(res);
	return found;
}

static void
invite_invalid(struct cgi *cgi, struct request *req, struct response *resp)
{
	struct page p;

	page_begin(&p, cgi, req, resp, "This invitation does not work", NULL);
	html(&p.sb, "<p>This invitation link is not valid any more: "
	    "invitations work once, for 7 days, and may be revoked. Please ask "
	    "whoever invited you to send a new one.</p>"
	    "<p><a href=\"/signin\">Sign in</a></p>");
	page_end(&p, 404);
}

static void
invite_page(struct cgi *cgi, struct request *req, struct response *resp,
    int status, const char *alert, const char *token,
    const struct invite *inv, const char *name)
{
	struct page p;
	char *title = xasprintf("Join %s", inv->workspace);
	char *action = xasprintf("/invite/%s", token);

	page_begin(&p, cgi, req, resp, title, NULL);
	if (alert != NULL)
		page_alert(&p, alert);
	html(&p.sb, "<p>You are invited to the workspace %s on Rally as %s, "
	    "with the address <strong>%s</strong>. Choose your name and a "
	    "password to create your account.</p>", inv->workspace,
	    strcmp(inv->role, "admin") == 0 ? "an admin" : "a member",
	    inv->email);
	page_form_begin(&p, action);
	html(&p.sb, "<p><label for=\"name\">Your name</label>"
	    "<input id=\"name\" name=\"name\" required maxlength=\"200\" "
	    "autocomplete=\"name\" value=\"%s\"></p>", name);
	account_password_fields(&p);
	html(&p.sb, "<p><button type=\"submit\">Create my account</button></p>"
	    "</form>");
	page_end(&p, status);
	free(title);
	free(action);
}

static void
invite_form(struct cgi *cgi, struct request *req, struct response *resp)
{
	const char *token = route_segment(&route_invite_form, req);
	struct invite inv = { 0 };
	char *cause = NULL;
	int found;

	if ((found = invite_lookup(cgi, token, &inv, &cause)) == -1)
		page_db_error(cgi, req, resp, cause);
	else if (found == 0)
		invite_invalid(cgi, req, resp);
	else
		invite_page(cgi, req, resp, 200, NULL, token, &inv, "");
	invite_clear(&inv);
}

/*
 * Creates the account: 1 with *tenant and *user set (caller frees), 0 when
 * the link is no longer live, -1 on a database error.
 */
static int
invite_create_account(struct cgi *cgi, const char *token, const char *name,
    const char *phc, char **tenant, char **user, char **cause)
{
	const char *params[3] = { token, name, phc };
	PGresult *res;
	int found;

	res = db_exec(cgi->db, "SELECT tenant_id, user_id FROM"
	    " rally.web_invite_accept($1, $2, $3)", 3, params, cause);
	if (res == NULL)
		return -1;
	found = PQntuples(res) == 1;
	if (found) {
		*tenant = xstrdup(PQgetvalue(res, 0, 0));
		*user = xstrdup(PQgetvalue(res, 0, 1));
	}
	PQclear(res);
	return found;
}

/* What is wrong with the form, or NULL. */
static const char *
invite_check(const char *name, const struct request *req)
{
	if (name[0] == '\0' || account_chars(name) > ACCOUNT_NAME_MAX_CHARS)
		return "Enter your name (at most 200 characters).";
	return account_password_check(page_field(req, "password"),
	    page_field(req, "again"));
}

static void
invite_accept(struct cgi *cgi, struct request *req, struct response *resp)
{
	const char *token = route_segment(&route_invite_accept, req);
	char *name = page_trim(page_field(req, "name"));
	char *phc = NULL, *tenant = NULL, *user = NULL, *cause = NULL;
	struct invite inv = { 0 };
	const char *why;
	int found;

	if ((found = invite_lookup(cgi, token, &inv, &cause)) == -1)
		goto dberr;
	if (found == 0) {
		invite_invalid(cgi, req, resp);
		goto out;
	}
	if ((why = invite_check(name, req)) != NULL) {
		invite_page(cgi, req, resp, 400, why, token, &inv, name);
		goto out;
	}
	if (account_password_hash(cgi, page_field(req, "password"), &phc,
	    &cause) == -1) {
		log_warnx("invite: %s", cause);
		free(cause);
		page_error(cgi, req, resp, 500, "Your password could not be "
		    "stored. Please try again.");
		goto out;
	}
	if ((found = invite_create_account(cgi, token, name, phc, &tenant,
	    &user, &cause)) == -1)
		goto dberr;
	if (found == 0) {
		invite_invalid(cgi, req, resp);
		goto out;
	}
	if (session_open(cgi, req, resp, tenant, user, &cause) == -1)
		goto dberr;
	page_redirect(resp, "/");
	goto out;
dberr:
	page_db_error(cgi, req, resp, cause);
out:
	invite_clear(&inv);
	free(name);
	free(phc);
	free(tenant);
	free(user);
}

const struct route route_invite_form = {
	.method = "GET", .path = "/invite/", .handler = invite_form,
	.segment = true, .flags = ROUTE_PAGE | ROUTE_SECRET_PATH,
};
const struct route route_invite_accept = {
	.method = "POST", .path = "/invite/", .handler = invite_accept,
	.segment = true, .flags = ROUTE_PAGE | ROUTE_SECRET_PATH,
};
