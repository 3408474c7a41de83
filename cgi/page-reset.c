/* SPDX-License-Identifier: ISC */
/*
 * Password reset by a single-use emailed link (docs/web.md, "Accounts,
 * invitations and the team").
 *
 * GET/POST /reset: the address.  The answer is the same whether an
 * account uses it or not; three requests an hour per address and ten per
 * client are served (rally.web_reset_request()).  Each active account with
 * the address gets a link <web.public_url>/reset/<token>, valid an hour,
 * as a notice that rallyd mails.
 * GET/POST /reset/<token>: the new password.  Stored as argon2id; every
 * session of the account ends and every reset link of it is voided.
 *
 * Without web.public_url no link is built (the Host header is the
 * client's to choose): the operator is told in the log, the user that
 * password reset is not set up.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "account.h"
#include "db.h"
#include "log.h"
#include "page.h"

/* Links for an address in more workspaces than this: the most recent. */
#define RESET_MAX_ACCOUNTS 5

static void
reset_not_set_up(struct cgi *cgi, struct request *req, struct response *resp)
{
	page_error(cgi, req, resp, 503, "Password reset is not set up on this "
	    "server yet. Please ask your administrator to set Rally's public "
	    "address, or to reset your password for you.");
}

static void
reset_page(struct cgi *cgi, struct request *req, struct response *resp,
    int status, const char *alert, const char *email)
{
	struct page p;

	page_begin(&p, cgi, req, resp, "Reset your password", NULL);
	if (strcmp(page_param(req, "done"), "sent") == 0)
		page_notice(&p, "If an account uses that address, we sent a link "
		    "to it. The link works for an hour; look in your spam folder "
		    "if it does not arrive.");
	if (alert != NULL)
		page_alert(&p, alert);
	html(&p.sb, "<p>Enter the email address of your account. We will send "
	    "you a link to choose a new password.</p>");
	page_form_begin(&p, "/reset");
	html(&p.sb, "<p><label for=\"email\">Email</label>"
	    "<input id=\"email\" name=\"email\" type=\"email\" required "
	    "autocomplete=\"username\" value=\"%s\"></p>"
	    "<p><button type=\"submit\">Send me a link</button></p></form>"
	    "<p><a href=\"/signin\">Back to sign in</a></p>", email);
	page_end(&p, status);
}

static void
reset_form(struct cgi *cgi, struct request *req, struct response *resp)
{
	if (account_public_url(cgi, "password reset") == NULL) {
		reset_not_set_up(cgi, req, resp);
		return;
	}
	reset_page(cgi, req, resp, 200, NULL, "");
}

/* "{t1,t2,...}": tokens need no quoting in an array literal. */
static char *
reset_tokens(void)
{
	char tok[ACCOUNT_TOKEN_LEN + 1];
	size_t len = RESET_MAX_ACCOUNTS * (ACCOUNT_TOKEN_LEN + 1) + 2;
	char *arr = xmalloc(len), *p = arr;

	*p++ = '{';
	for (int i = 0; i < RESET_MAX_ACCOUNTS; i++) {
		account_token_new(tok);
		if (i > 0)
			*p++ = ',';
		memcpy(p, tok, ACCOUNT_TOKEN_LEN);
		p += ACCOUNT_TOKEN_LEN;
	}
	*p++ = '}';
	*p = '\0';
	account_token_clear(tok);
	return arr;
}

/* Seconds to wait (0: the links are queued), or -1 on a database error. */
static long
reset_request_links(struct cgi *cgi, const char *email, const char *addr,
    const char *base, char **cause)
{
	const char *params[4];
	char *tokens = reset_tokens();
	PGresult *res;
	long wait = -1;

	params[0] = email;
	params[1] = addr;
	params[2] = tokens;
	params[3] = base;
	if (cgi_begin(cgi, cause) == 0 && (res = db_exec(cgi->db,
	    "SELECT rally.web_reset_request($1, $2, $3::text[], $4)", 4, params,
	    cause)) != NULL) {
		wait = strtol(PQgetvalue(res, 0, 0), NULL, 10);
		PQclear(res);
	}
	account_token_clear(tokens);
	free(tokens);
	return wait;
}

static void
reset_request(struct cgi *cgi, struct request *req, struct response *resp)
{
	char *email = page_trim(page_field(req, "email"));
	const char *base;
	char *cause = NULL, *msg;
	long wait;

	if ((base = account_public_url(cgi, "password reset")) == NULL) {
		reset_not_set_up(cgi, req, resp);
		goto out;
	}
	if (!account_email_ok(email)) {
		reset_page(cgi, req, resp, 400, "Enter the email address of your "
		    "account, like ann@example.com.", email);
		goto out;
	}
	wait = reset_request_links(cgi, email, account_client_addr(req), base,
	    &cause);
	if (wait == -1) {
		page_db_error(cgi, req, resp, cause);
		goto out;
	}
	if (wait > 0) {
		msg = xasprintf("Too many requests for a link. Please wait %ld "
		    "minute%s and try again.", (wait + 59) / 60,
		    (wait + 59) / 60 == 1 ? "" : "s");
		reset_page(cgi, req, resp, 429, msg, email);
		free(msg);
		goto out;
	}
	page_redirect(resp, "/reset?done=sent");
out:
	free(email);
}

/* --- the link ------------------------------------------------------------ */

static void
reset_link_invalid(struct cgi *cgi, struct request *req, struct response *resp)
{
	struct page p;

	page_begin(&p, cgi, req, resp, "This link does not work", NULL);
	html(&p.sb, "<p>This password reset link is not valid any more: links "
	    "work once, for an hour, and a new password voids them all.</p>"
	    "<p><a href=\"/reset\">Ask for a new link</a> &middot; "
	    "<a href=\"/signin\">Sign in</a></p>");
	page_end(&p, 404);
}

/*
 * The account of the route's token: 1 with *email and *workspace set
 * (caller frees), 0 for no live link, -1 on a database error.
 */
static int
reset_link_account(struct cgi *cgi, const char *token, char **email,
    char **workspace, char **cause)
{
	const char *params[1] = { token };
	PGresult *res;
	int found;

	if (!account_token_ok(token))
		return 0;
	if (cgi_begin(cgi, cause) == -1 || (res = db_exec(cgi->db,
	    "SELECT email, tenant_name FROM rally.web_reset_check($1)", 1,
	    params, cause)) == NULL)
		return -1;
	found = PQntuples(res) == 1;
	if (found) {
		*email = xstrdup(PQgetvalue(res, 0, 0));
		*workspace = xstrdup(PQgetvalue(res, 0, 1));
	}
	PQclear(res);
	return found;
}

static void
reset_password_page(struct cgi *cgi, struct request *req,
    struct response *resp, int status, const char *alert, const char *token,
    const char *email, const char *workspace)
{
	struct page p;
	char *action = xasprintf("/reset/%s", token);

	page_begin(&p, cgi, req, resp, "Choose a new password", NULL);
	if (alert != NULL)
		page_alert(&p, alert);
	html(&p.sb, "<p>For the account <strong>%s</strong> in the workspace "
	    "%s. Once it is changed, every device signed in to this account "
	    "is signed out.</p>", email, workspace);
	page_form_begin(&p, action);
	account_password_fields(&p);
	html(&p.sb, "<p><button type=\"submit\">Change my password</button></p>"
	    "</form>");
	page_end(&p, status);
	free(action);
}

static void
reset_link(struct cgi *cgi, struct request *req, struct response *resp,
    const char *token)
{
	char *email = NULL, *workspace = NULL, *cause = NULL;
	int found;

	if ((found = reset_link_account(cgi, token, &email, &workspace,
	    &cause)) == -1)
		page_db_error(cgi, req, resp, cause);
	else if (found == 0)
		reset_link_invalid(cgi, req, resp);
	else
		reset_password_page(cgi, req, resp, 200, NULL, token, email,
		    workspace);
	free(email);
	free(workspace);
}

static void
reset_link_form(struct cgi *cgi, struct request *req, struct response *resp)
{
	reset_link(cgi, req, resp, route_segment(&route_reset_link_form, req));
}

/* 1 when the link was live and the password is changed, 0, -1. */
static int
reset_complete(struct cgi *cgi, const char *token, const char *phc,
    char **cause)
{
	const char *params[2] = { token, phc };
	PGresult *res;
	int done;

	res = db_exec(cgi->db, "SELECT rally.web_reset_complete($1, $2)", 2,
	    params, cause);
	if (res == NULL)
		return -1;
	done = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return done;
}

static void
reset_link_set(struct cgi *cgi, struct request *req, struct response *resp)
{
	const char *token = route_segment(&route_reset_link_set, req);
	const char *password = page_field(req, "password");
	const char *why;
	char *email = NULL, *workspace = NULL, *phc = NULL, *cause = NULL;
	int found;

	if ((found = reset_link_account(cgi, token, &email, &workspace,
	    &cause)) == -1)
		goto dberr;
	if (found == 0) {
		reset_link_invalid(cgi, req, resp);
		goto out;
	}
	if ((why = account_password_check(password, page_field(req, "again")))
	    != NULL) {
		reset_password_page(cgi, req, resp, 400, why, token, email,
		    workspace);
		goto out;
	}
	if (account_password_hash(cgi, password, &phc, &cause) == -1) {
		log_warnx("reset: %s", cause);
		free(cause);
		page_error(cgi, req, resp, 500, "Your password could not be "
		    "stored. Please try again.");
		goto out;
	}
	if ((found = reset_complete(cgi, token, phc, &cause)) == -1)
		goto dberr;
	if (found == 0)
		reset_link_invalid(cgi, req, resp);
	else
		page_redirect(resp, "/signin?done=reset");
	goto out;
dberr:
	page_db_error(cgi, req, resp, cause);
out:
	free(email);
	free(workspace);
	free(phc);
}

const struct route route_reset_form = {
	.method = "GET", .path = "/reset", .handler = reset_form,
	.flags = ROUTE_PAGE,
};
const struct route route_reset_request = {
	.method = "POST", .path = "/reset", .handler = reset_request,
	.flags = ROUTE_PAGE,
};
const struct route route_reset_link_form = {
	.method = "GET", .path = "/reset/", .handler = reset_link_form,
	.segment = true, .flags = ROUTE_PAGE | ROUTE_SECRET_PATH,
};
const struct route route_reset_link_set = {
	.method = "POST", .path = "/reset/", .handler = reset_link_set,
	.segment = true, .flags = ROUTE_PAGE | ROUTE_SECRET_PATH,
};
