/* SPDX-License-Identifier: ISC */
/*
 * Sign-up, sign-in and sign-out (docs/web.md, "Accounts and sessions").
 *
 * GET/POST /signup: a new workspace (company name and size) and its owner.
 * GET/POST /signin: email and password, checked with argon2id; the stored
 * hash is upgraded when rally.conf asks for stronger parameters.  Five
 * failures for an account or twenty from one address in fifteen minutes
 * make the next attempts wait (rally.web_login_wait()), with the same
 * answer whether the account exists or not; an unknown address still
 * costs one argon2id hash, so timing does not tell either.
 * POST /signout: the session is deleted.
 *
 * An address may have accounts in several workspaces: the one whose
 * password matches, most recently created first, is signed in.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "log.h"
#include "account.h"
#include "page-account.h"
#include "page.h"
#include "passwd.h"
#include "session.h"

static const char *const company_sizes[] = {
	"1-10", "11-50", "51-200", "201-1000", "1001+",
};

/* --- sign-in ------------------------------------------------------------ */

static void
signin_page(struct cgi *cgi, struct request *req, struct response *resp,
    int status, const char *alert, const char *email)
{
	struct page p;
	const char *done = page_param(req, "done");

	page_begin(&p, cgi, req, resp, "Sign in", NULL);
	if (strcmp(done, "signedout") == 0)
		page_notice(&p, "You are signed out.");
	else if (strcmp(done, "reset") == 0)
		page_notice(&p, "Your password is changed. Sign in with it.");
	if (alert != NULL)
		page_alert(&p, alert);
	page_form_begin(&p, "/signin");
	html(&p.sb, "<p><label for=\"email\">Email</label>"
	    "<input id=\"email\" name=\"email\" type=\"email\" required "
	    "autocomplete=\"username\" value=\"%s\"%r></p>"
	    "<p><label for=\"password\">Password</label>"
	    "<input id=\"password\" name=\"password\" type=\"password\" "
	    "required autocomplete=\"current-password\"%r></p>"
	    "<p><button type=\"submit\">Sign in</button></p></form>"
	    "<p><a href=\"/reset\">Forgot your password?</a> &middot; "
	    "<a href=\"/signup\">Create a workspace</a></p>",
	    email, email[0] == '\0' ? " autofocus" : "",
	    email[0] != '\0' ? " autofocus" : "");
	page_end(&p, status);
}

static void
signin_form(struct cgi *cgi, struct request *req, struct response *resp)
{
	if (cgi->session != NULL) {
		page_redirect(resp, "/");
		return;
	}
	signin_page(cgi, req, resp, 200, NULL, "");
}

/*
 * The account email's password opens: 1 with tenant and user set (caller
 * frees), 0 when none, -1 on a database error.  *phc is its stored hash.
 */
static int
signin_match(struct cgi *cgi, const char *email, const char *password,
    char **tenant, char **user, char **phc, char **cause)
{
	const char *params[1] = { email };
	PGresult *res;
	int n, found = 0;

	res = db_exec(cgi->db, "SELECT tenant_id, user_id, password_hash"
	    " FROM rally.web_login_lookup($1) ORDER BY user_id", 1, params,
	    cause);
	if (res == NULL)
		return -1;
	n = PQntuples(res);
	if (n == 0) {
		char *phc_unused = NULL, *why = NULL;

		if (account_password_hash(cgi, password, &phc_unused, &why) == 0)
			free(phc_unused);
		free(why);
	}
	for (int i = 0; i < n && !found; i++) {
		if (passwd_verify(PQgetvalue(res, i, 2), password) != 1)
			continue;
		*tenant = xstrdup(PQgetvalue(res, i, 0));
		*user = xstrdup(PQgetvalue(res, i, 1));
		*phc = xstrdup(PQgetvalue(res, i, 2));
		found = 1;
	}
	PQclear(res);
	return found;
}

/* Stores a stronger hash when rally.conf's parameters went up. */
static int
signin_rehash(struct cgi *cgi, const char *phc, const char *password,
    char **cause)
{
	struct passwd_params pp;
	const char *params[1];
	char *fresh;
	int rc;

	account_passwd_params(cgi, &pp);
	if (!passwd_needs_rehash(phc, &pp))
		return 0;
	if (passwd_hash(password, &pp, &fresh, cause) == -1)
		return -1;
	params[0] = fresh;
	rc = db_command(cgi->db, "UPDATE rally.users SET password_hash = $1,"
	    " updated_at = now() WHERE tenant_id = rally.current_tenant()"
	    " AND id = rally.current_user_id()", 1, params, cause);
	free(fresh);
	return rc;
}

static void
signin(struct cgi *cgi, struct request *req, struct response *resp)
{
	char *email = page_trim(page_field(req, "email"));
	const char *password = page_field(req, "password");
	const char *params[1] = { email };
	char *tenant = NULL, *user = NULL, *phc = NULL, *cause = NULL;
	char *msg;
	long wait;
	int found;

	if (email[0] == '\0' || password[0] == '\0') {
		signin_page(cgi, req, resp, 400, "Enter your email and "
		    "password.", email);
		goto out;
	}
	if (cgi_begin(cgi, &cause) == -1 ||
	    (wait = account_login_wait(cgi, req, email, &cause)) == -1)
		goto dberr;
	if (wait > 0) {
		msg = xasprintf("Too many attempts. Please wait %ld minute%s "
		    "and try again.", (wait + 59) / 60,
		    (wait + 59) / 60 == 1 ? "" : "s");
		signin_page(cgi, req, resp, 429, msg, email);
		free(msg);
		goto out;
	}
	if ((found = signin_match(cgi, email, password, &tenant, &user, &phc,
	    &cause)) == -1)
		goto dberr;
	/* An account in its grace period may still be kept (page-account-delete.c). */
	if (found == 0 && (found = account_signin_pending(cgi, req, resp, email,
	    password, &cause)) != 0) {
		if (found == -1)
			goto dberr;
		goto out;
	}
	if (found == 0) {
		if (account_login_failed(cgi, req, email, &cause) == -1)
			goto dberr;
		signin_page(cgi, req, resp, 403, "That email and password do "
		    "not match an account.", email);
		goto out;
	}
	if (db_command(cgi->db, "SELECT rally.web_login_succeeded($1)", 1,
	    params, &cause) == -1 ||
	    session_open(cgi, req, resp, tenant, user, &cause) == -1 ||
	    signin_rehash(cgi, phc, password, &cause) == -1)
		goto dberr;
	page_redirect(resp, "/");
	goto out;
dberr:
	page_db_error(cgi, req, resp, cause);
out:
	free(email);
	free(tenant);
	free(user);
	free(phc);
}

static void
signout(struct cgi *cgi, struct request *req, struct response *resp)
{
	char *cause = NULL;

	if (session_close(cgi, req, resp, &cause) == -1) {
		page_db_error(cgi, req, resp, cause);
		return;
	}
	page_redirect(resp, "/signin?done=signedout");
}

/* --- sign-up ------------------------------------------------------------ */

struct signup_form {
	char *company, *size, *name, *email;
};

static void
signup_page(struct cgi *cgi, struct request *req, struct response *resp,
    int status, const char *alert, const struct signup_form *f)
{
	struct page p;

	page_begin(&p, cgi, req, resp, "Create a workspace", NULL);
	if (alert != NULL)
		page_alert(&p, alert);
	page_form_begin(&p, "/signup");
	html(&p.sb, "<fieldset><legend>Your company</legend>"
	    "<p><label for=\"company\">Company name</label>"
	    "<input id=\"company\" name=\"company\" required maxlength=\"200\" "
	    "autocomplete=\"organization\" value=\"%s\"></p>"
	    "<p><label for=\"size\">Company size</label>"
	    "<select id=\"size\" name=\"size\">"
	    "<option value=\"\">Prefer not to say</option>", f->company);
	for (size_t i = 0; i < nitems(company_sizes); i++)
		html(&p.sb, "<option value=\"%s\"%r>%s people</option>",
		    company_sizes[i], strcmp(f->size, company_sizes[i]) == 0 ?
		    " selected" : "", company_sizes[i]);
	html(&p.sb, "</select></p></fieldset>"
	    "<fieldset><legend>You, the owner</legend>"
	    "<p><label for=\"name\">Your name</label>"
	    "<input id=\"name\" name=\"name\" required maxlength=\"200\" "
	    "autocomplete=\"name\" value=\"%s\"></p>"
	    "<p><label for=\"email\">Email</label>"
	    "<input id=\"email\" name=\"email\" type=\"email\" required "
	    "autocomplete=\"email\" value=\"%s\"></p>"
	    "<p><label for=\"password\">Password</label>"
	    "<input id=\"password\" name=\"password\" type=\"password\" "
	    "required minlength=\"%d\" autocomplete=\"new-password\" "
	    "aria-describedby=\"password-help\">"
	    "<small id=\"password-help\">At least %d characters.</small></p>"
	    "</fieldset><p><button type=\"submit\">Create workspace</button>"
	    "</p></form><p>Already have an account? "
	    "<a href=\"/signin\">Sign in</a></p>", f->name, f->email,
	    ACCOUNT_PASSWORD_MIN, ACCOUNT_PASSWORD_MIN);
	page_end(&p, status);
}

static void
signup_form(struct cgi *cgi, struct request *req, struct response *resp)
{
	struct signup_form f = { "", "", "", "" };

	if (cgi->session != NULL) {
		page_redirect(resp, "/");
		return;
	}
	signup_page(cgi, req, resp, 200, NULL, &f);
}

/* What is wrong with the form, or NULL. */
static const char *
signup_check(const struct signup_form *f, const char *password)
{
	bool size_ok = f->size[0] == '\0';

	for (size_t i = 0; i < nitems(company_sizes); i++)
		size_ok |= strcmp(f->size, company_sizes[i]) == 0;
	if (f->company[0] == '\0' ||
	    account_chars(f->company) > ACCOUNT_NAME_MAX_CHARS)
		return "Enter your company's name (at most 200 characters).";
	if (!size_ok)
		return "Choose a company size from the list.";
	if (f->name[0] == '\0' ||
	    account_chars(f->name) > ACCOUNT_NAME_MAX_CHARS)
		return "Enter your name (at most 200 characters).";
	if (!account_email_ok(f->email))
		return "Enter your email address, like ann@example.com.";
	if (strlen(password) < ACCOUNT_PASSWORD_MIN)
		return "Choose a password of at least 10 characters.";
	if (strlen(password) > PASSWD_MAX_LEN)
		return "That password is too long.";
	return NULL;
}

static void
signup(struct cgi *cgi, struct request *req, struct response *resp)
{
	struct signup_form f;
	const char *password = page_field(req, "password");
	const char *why, *params[6];
	struct passwd_params pp;
	char *phc = NULL, *cause = NULL;
	PGresult *res;

	f.company = page_trim(page_field(req, "company"));
	f.size = page_trim(page_field(req, "size"));
	f.name = page_trim(page_field(req, "name"));
	f.email = page_trim(page_field(req, "email"));
	if ((why = signup_check(&f, password)) != NULL) {
		signup_page(cgi, req, resp, 400, why, &f);
		goto out;
	}
	account_passwd_params(cgi, &pp);
	if (passwd_hash(password, &pp, &phc, &cause) == -1) {
		log_warnx("signup: %s", cause);
		free(cause);
		page_error(cgi, req, resp, 500, "Your password could not be "
		    "stored. Please try again.");
		goto out;
	}
	if (cgi_begin(cgi, &cause) == -1)
		goto dberr;
	params[0] = f.company;
	params[1] = f.size;
	params[2] = f.name;
	params[3] = f.email;
	params[4] = phc;
	params[5] = account_client_addr(req);
	res = db_exec(cgi->db, "SELECT tenant_id, user_id FROM"
	    " rally.web_signup($1, $2, $3, $4, $5, $6)", 6, params, &cause);
	if (res == NULL) {
		/* The throttle's own words; anything else is a failure. */
		if (cause != NULL && strncmp(cause, "Too many", 8) == 0) {
			(void)db_rollback(cgi->db, NULL);
			signup_page(cgi, req, resp, 429, cause, &f);
			free(cause);
			goto out;
		}
		goto dberr;
	}
	if (session_open(cgi, req, resp, PQgetvalue(res, 0, 0),
	    PQgetvalue(res, 0, 1), &cause) == -1) {
		PQclear(res);
		goto dberr;
	}
	PQclear(res);
	page_redirect(resp, "/?done=welcome");
	goto out;
dberr:
	page_db_error(cgi, req, resp, cause);
out:
	free(f.company);
	free(f.size);
	free(f.name);
	free(f.email);
	free(phc);
}

const struct route route_signin_form = {
	.method = "GET", .path = "/signin", .handler = signin_form,
	.flags = ROUTE_PAGE,
};
const struct route route_signin = {
	.method = "POST", .path = "/signin", .handler = signin,
	.flags = ROUTE_PAGE,
};
const struct route route_signout = {
	.method = "POST", .path = "/signout", .handler = signout,
	.flags = ROUTE_SIGNED_IN,
};
const struct route route_signup_form = {
	.method = "GET", .path = "/signup", .handler = signup_form,
	.flags = ROUTE_PAGE,
};
const struct route route_signup = {
	.method = "POST", .path = "/signup", .handler = signup,
	.flags = ROUTE_PAGE,
};
