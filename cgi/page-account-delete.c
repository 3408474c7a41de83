/* SPDX-License-Identifier: ISC */
/*
 * Deleting an account, and keeping it (docs/web.md, "Account and
 * privacy"; the compliance side is docs/compliance.md).
 *
 * GET /account/delete says what happens and when; POST /account/delete
 * asks for the password again (argon2id, counted in the sign-in throttle
 * like a failed sign-in) and calls rally.web_account_delete_request() with
 * rally.conf's grace and purge lag.  That ends every session of the user
 * at once; the answer is the page that says when the data will be gone,
 * sent in reply to the POST itself because there is no session left for a
 * GET to show it to.
 *
 * The last owner of a workspace that has other members is refused: the
 * members would be left in a workspace nobody can administer or pay for,
 * and deleting the workspace would delete their data, which is not the
 * owner's to delete.  They make someone else owner first.  An owner who
 * is the only member deletes the workspace with the account.
 *
 * During the grace period the account cannot sign in (web_login_lookup
 * finds only active accounts); sign-in calls account_signin_pending()
 * when no active account matched, which offers "Keep my account".  That
 * form asks for the password once more rather than carrying a signed
 * proof: rally.cgi holds no key to sign one with, and a second password
 * check is as strong as the first and costs the user one field.
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

static char *
wait_message(long wait)
{
	long min = (wait + 59) / 60;

	return xasprintf("Too many attempts. Please wait %ld minute%s and try "
	    "again.", min, min == 1 ? "" : "s");
}

/* 1 when password is the signed-in user's, 0 when not, -1 on an error. */
static int
password_is_mine(struct cgi *cgi, const char *password, char **cause)
{
	const char *params[1] = { cgi->session->email };
	PGresult *res;
	int ok;

	res = db_exec(cgi->db, "SELECT password_hash FROM"
	    " rally.web_login_lookup($1) WHERE tenant_id ="
	    " rally.current_tenant() AND user_id = rally.current_user_id()", 1,
	    params, cause);
	if (res == NULL)
		return -1;
	ok = PQntuples(res) == 1 &&
	    passwd_verify(PQgetvalue(res, 0, 0), password) == 1;
	PQclear(res);
	return ok;
}

/* --- the delete page ---------------------------------------------------- */

struct standing {
	int others;		/* other active members */
	int other_owners;
	char *purge_day;	/* when the grace period ends */
	char *due_day;		/* when everything is gone, at the latest */
};

static void
standing_clear(struct standing *s)
{
	free(s->purge_day);
	free(s->due_day);
}

static char *
seconds(int64_t sec)
{
	return xasprintf("%lld seconds", (long long)sec);
}

/* Who else is in the workspace, and the dates a deletion now would have. */
static int
standing_load(struct cgi *cgi, struct standing *s, char **cause)
{
	char *grace = seconds(cgi->conf.deletion_grace_sec);
	char *total = seconds(cgi->conf.deletion_grace_sec +
	    cgi->conf.purge_lag_sec);
	const char *params[3] = { grace, total, ACCOUNT_DATE_FMT };
	PGresult *res;

	res = db_exec(cgi->db, "SELECT count(*) FILTER (WHERE status ="
	    " 'active'), count(*) FILTER (WHERE status = 'active' AND role ="
	    " 'owner'), to_char(now() + $1::interval, $3), to_char(now() +"
	    " $2::interval, $3) FROM rally.users WHERE tenant_id ="
	    " rally.current_tenant() AND id <> rally.current_user_id()", 3,
	    params, cause);
	free(grace);
	free(total);
	if (res == NULL)
		return -1;
	s->others = (int)strtol(PQgetvalue(res, 0, 0), NULL, 10);
	s->other_owners = (int)strtol(PQgetvalue(res, 0, 1), NULL, 10);
	s->purge_day = xstrdup(PQgetvalue(res, 0, 2));
	s->due_day = xstrdup(PQgetvalue(res, 0, 3));
	PQclear(res);
	return 0;
}

static bool
standing_blocked(const struct cgi *cgi, const struct standing *s)
{
	return strcmp(cgi->session->role, "owner") == 0 && s->others > 0 &&
	    s->other_owners == 0;
}

static void
delete_explain(struct page *p, const struct standing *s)
{
	const struct conf *c = &p->cgi->conf;

	html(&p->sb, "<h2>What happens</h2><ul>"
	    "<li>At once: you are signed out everywhere and cannot sign in "
	    "normally any more, your Google connections are disconnected and "
	    "their tokens deleted.</li>"
	    "<li>Until %s you can change your mind: sign in with your email "
	    "and password and choose <strong>Keep my account</strong>.</li>"
	    "<li>From then on, Rally deletes everything it holds about you: "
	    "profile, activities, mail, connections, sessions, usage records, "
	    "exports and notices. It is complete by %s at the latest.</li>"
	    "<li>Backups that still hold your data are deleted %ld days after "
	    "they were made, so nothing of you is left anywhere within 30 "
	    "days of your request.</li>"
	    "<li>What stays: a record that an account was deleted and when, "
	    "naming it only by a keyed hash (no name, no address), so that a "
	    "restored backup deletes it again.</li></ul>",
	    s->purge_day, s->due_day,
	    (long)(c->backup_retention_sec / 86400));
	if (s->others == 0)
		html(&p->sb, "<p>You are the only member of %s: the workspace, "
		    "its company details and its billing details are deleted "
		    "with your account.</p>", p->cgi->session->tenant_name);
}

/* The delete page: status, and alert when a POST was refused. */
static void
delete_page(struct cgi *cgi, struct request *req, struct response *resp,
    int status, const char *alert)
{
	struct standing s = { 0 };
	char *cause = NULL;
	struct page p;

	if (standing_load(cgi, &s, &cause) == -1) {
		page_db_error(cgi, req, resp, cause);
		return;
	}
	page_begin(&p, cgi, req, resp, "Delete your account", "account");
	if (alert != NULL)
		page_alert(&p, alert);
	delete_explain(&p, &s);
	if (standing_blocked(cgi, &s)) {
		html(&p.sb, "<p>You are the only owner of %s, and it has %d "
		    "other member%s. Make one of them an owner on the Team "
		    "page first; then you can delete your account.</p>"
		    "<p><a href=\"/account\">Back to your account</a></p>",
		    cgi->session->tenant_name, s.others, s.others == 1 ? "" :
		    "s");
		goto end;
	}
	page_form_begin(&p, "/account/delete");
	html(&p.sb, "<h2>Confirm</h2><p><label for=\"password\">Your password"
	    "</label><input id=\"password\" name=\"password\" "
	    "type=\"password\" required autocomplete=\"current-password\"></p>"
	    "<p class=\"actions\"><button type=\"submit\" class=\"danger\">"
	    "Delete my account</button> <a href=\"/account\">Keep it</a></p>"
	    "</form>");
end:
	page_end(&p, status);
	standing_clear(&s);
}

static void
delete_get(struct cgi *cgi, struct request *req, struct response *resp)
{
	delete_page(cgi, req, resp, 200, NULL);
}

/* After the request: the session is gone, the page says what comes next. */
static void
deleted_page(struct cgi *cgi, struct request *req, struct response *resp,
    const char *purge_day, const char *due)
{
	struct page p;

	page_begin(&p, cgi, req, resp, "Your account is scheduled for "
	    "deletion", NULL);
	html(&p.sb, "<p class=\"notice\" role=\"status\">You are signed out "
	    "everywhere, and your Google connections are disconnected.</p>"
	    "<p>Changed your mind? Until %s, sign in with your email and "
	    "password and choose <strong>Keep my account</strong>.</p>"
	    "<p>After that, everything Rally holds about you is deleted, by "
	    "%s at the latest. We sent you an email with these dates.</p>"
	    "<p><a href=\"/privacy\">How Rally handles your data</a></p>",
	    purge_day, due);
	page_end(&p, 200);
}

/* Asks for the deletion; the two dates to show (caller frees) or -1. */
static int
delete_request(struct cgi *cgi, char **purge_day, char **due, char **cause)
{
	char *grace = seconds(cgi->conf.deletion_grace_sec);
	char *lag = seconds(cgi->conf.purge_lag_sec);
	const char *params[4] = { grace, lag, ACCOUNT_DATE_FMT,
	    ACCOUNT_TIME_FMT };
	PGresult *res;
	int rc = -1;

	/* now() is the transaction's: the same instant the request uses. */
	res = db_exec(cgi->db, "SELECT to_char(now() + $1::interval, $3),"
	    " to_char(d, $4) FROM rally.web_account_delete_request("
	    "$1::interval, $2::interval) d", 4, params, cause);
	free(grace);
	free(lag);
	if (res == NULL)
		return -1;
	if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 1)) {
		*purge_day = xstrdup(PQgetvalue(res, 0, 0));
		*due = xstrdup(PQgetvalue(res, 0, 1));
		rc = 0;
	} else
		*cause = xstrdup("account delete: no deletion was recorded");
	PQclear(res);
	return rc;
}

/* The password, the throttle and the ownership rule; 1 to go on. */
static int
delete_allowed(struct cgi *cgi, struct request *req, struct response *resp,
    const char *password, char **cause)
{
	struct standing s = { 0 };
	long wait;
	int ok;
	char *msg;

	if (password[0] == '\0') {
		delete_page(cgi, req, resp, 400, "Enter your password to "
		    "confirm.");
		return 0;
	}
	if ((wait = account_login_wait(cgi, req, cgi->session->email, cause)) == -1)
		return -1;
	if (wait > 0) {
		msg = wait_message(wait);
		delete_page(cgi, req, resp, 429, msg);
		free(msg);
		return 0;
	}
	if ((ok = password_is_mine(cgi, password, cause)) != 1) {
		if (ok == -1 || account_login_failed(cgi, req, cgi->session->email,
		    cause) == -1)
			return -1;
		delete_page(cgi, req, resp, 403, "That is not your password. "
		    "Your account was not deleted.");
		return 0;
	}
	if (standing_load(cgi, &s, cause) == -1)
		return -1;
	ok = !standing_blocked(cgi, &s);
	standing_clear(&s);
	if (!ok)
		delete_page(cgi, req, resp, 409, "Your account was not "
		    "deleted.");
	return ok;
}

static void
delete_post(struct cgi *cgi, struct request *req, struct response *resp)
{
	char *purge_day = NULL, *due = NULL, *cause = NULL;
	int rc;

	if ((rc = delete_allowed(cgi, req, resp, page_field(req, "password"),
	    &cause)) == 0)
		return;
	if (rc == -1 || delete_request(cgi, &purge_day, &due, &cause) == -1 ||
	    session_close(cgi, req, resp, &cause) == -1) {
		page_db_error(cgi, req, resp, cause);
		goto out;
	}
	deleted_page(cgi, req, resp, purge_day, due);
out:
	free(purge_day);
	free(due);
}

/* --- keeping it: sign-in during the grace period ------------------------ */

/*
 * One argon2id hash for nothing, so that a failed sign-in costs the same
 * whether the address has an active account, a pending one, or none: the
 * time an answer takes tells no one which.
 */
static void
dummy_hash(const struct cgi *cgi, const char *password)
{
	char *phc = NULL, *why = NULL;

	if (account_password_hash(cgi, password, &phc, &why) == 0)
		free(phc);
	free(why);
}

/*
 * The account in its grace period that email and password open: 1 with
 * the context set for it and its ids in *tenant and *user (caller frees),
 * 0 when none, -1 on an error.
 */
static int
pending_match(struct cgi *cgi, const char *email, const char *password,
    char **tenant, char **user, char **cause)
{
	const char *params[1] = { email };
	PGresult *res;
	int rc = 0;

	res = db_exec(cgi->db, "SELECT tenant_id, user_id, password_hash FROM"
	    " rally.web_deletion_pending_lookup($1) ORDER BY user_id", 1,
	    params, cause);
	if (res == NULL)
		return -1;
	if (PQntuples(res) == 0)
		dummy_hash(cgi, password);
	for (int i = 0; i < PQntuples(res) && rc == 0; i++) {
		if (passwd_verify(PQgetvalue(res, i, 2), password) != 1)
			continue;
		*tenant = xstrdup(PQgetvalue(res, i, 0));
		*user = xstrdup(PQgetvalue(res, i, 1));
		rc = db_set_tenant(cgi->db, *tenant, *user, cause) == -1 ?
		    -1 : 1;
	}
	PQclear(res);
	return rc;
}

/* The day the pending deletion starts, in the user's zone; NULL on error. */
static char *
pending_day(struct cgi *cgi, char **cause)
{
	const char *params[1] = { ACCOUNT_DATE_FMT };
	PGresult *res;
	char *day;

	res = db_exec(cgi->db, "SELECT to_char(d.purge_after AT TIME ZONE"
	    " u.time_zone, $1) FROM rally.web_deletion_pending_dates() d,"
	    " rally.users u WHERE u.tenant_id = rally.current_tenant() AND"
	    " u.id = rally.current_user_id()", 1, params, cause);
	if (res == NULL)
		return NULL;
	day = xstrdup(PQntuples(res) == 1 ? PQgetvalue(res, 0, 0) : "");
	PQclear(res);
	return day;
}

static void
keep_page(struct cgi *cgi, struct request *req, struct response *resp,
    int status, const char *alert, const char *email, const char *day)
{
	struct page p;

	page_begin(&p, cgi, req, resp, "Your account is scheduled for "
	    "deletion", NULL);
	if (alert != NULL)
		page_alert(&p, alert);
	if (day != NULL)
		html(&p.sb, "<p>Your account is scheduled for deletion on %s. "
		    "Until then you can keep it.</p>", day);
	page_form_begin(&p, "/signin/cancel-deletion");
	html(&p.sb, "<input type=\"hidden\" name=\"email\" value=\"%s\">"
	    "<p><label for=\"password\">Enter your password again to keep "
	    "your account</label><input id=\"password\" name=\"password\" "
	    "type=\"password\" required autocomplete=\"current-password\" "
	    "autofocus></p><p><button type=\"submit\">Keep my account</button>"
	    "</p></form><p>To let the deletion go ahead, do nothing: you are "
	    "not signed in.</p>", email);
	page_end(&p, status);
}

int
account_signin_pending(struct cgi *cgi, struct request *req,
    struct response *resp, const char *email, const char *password,
    char **cause)
{
	char *tenant = NULL, *user = NULL, *day = NULL;
	int rc;

	if ((rc = pending_match(cgi, email, password, &tenant, &user,
	    cause)) == 1) {
		if ((day = pending_day(cgi, cause)) == NULL)
			rc = -1;
		else
			keep_page(cgi, req, resp, 200, NULL, email, day);
	}
	free(tenant);
	free(user);
	free(day);
	return rc;
}

/*
 * Cancels the deletion of the account pending_match() found and signs it
 * in: 1, 0 when it can no longer be cancelled (the purge began), -1.
 */
static int
keep_account(struct cgi *cgi, struct request *req, struct response *resp,
    const char *email, const char *tenant, const char *user, char **cause)
{
	const char *params[1] = { email };
	PGresult *res;
	bool kept;

	res = db_exec(cgi->db, "SELECT rally.web_account_delete_cancel()", 0,
	    NULL, cause);
	if (res == NULL)
		return -1;
	kept = PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	if (!kept)
		return 0;
	if (db_command(cgi->db, "SELECT rally.web_login_succeeded($1)", 1,
	    params, cause) == -1 ||
	    session_open(cgi, req, resp, tenant, user, cause) == -1)
		return -1;
	return 1;
}

/* The password was wrong, or the throttle says wait: 0, or -1. */
static int
keep_refused(struct cgi *cgi, struct request *req, struct response *resp,
    const char *email, long wait, char **cause)
{
	char *msg;

	if (wait > 0) {
		msg = wait_message(wait);
		keep_page(cgi, req, resp, 429, msg, email, NULL);
		free(msg);
		return 0;
	}
	if (account_login_failed(cgi, req, email, cause) == -1)
		return -1;
	keep_page(cgi, req, resp, 403, "That email and password do not match "
	    "an account whose deletion can be cancelled.", email, NULL);
	return 0;
}

static void
keep_post(struct cgi *cgi, struct request *req, struct response *resp)
{
	char *email = page_trim(page_field(req, "email"));
	const char *password = page_field(req, "password");
	char *tenant = NULL, *user = NULL, *cause = NULL;
	long wait;
	int rc = 0;

	if (email[0] == '\0' || password[0] == '\0') {
		keep_page(cgi, req, resp, 400, "Enter your password to keep "
		    "your account.", email, NULL);
		goto out;
	}
	if (cgi_begin(cgi, &cause) == -1 ||
	    (wait = account_login_wait(cgi, req, email, &cause)) == -1)
		goto dberr;
	if (wait > 0 || (rc = pending_match(cgi, email, password, &tenant,
	    &user, &cause)) == 0) {
		if (keep_refused(cgi, req, resp, email, wait, &cause) == -1)
			goto dberr;
		goto out;
	}
	if (rc == -1 || (rc = keep_account(cgi, req, resp, email, tenant, user,
	    &cause)) == -1)
		goto dberr;
	if (rc == 0)
		page_error(cgi, req, resp, 409, "The deletion of this account "
		    "has already begun and can no longer be cancelled.");
	else
		page_redirect(resp, "/account?done=kept");
	goto out;
dberr:
	page_db_error(cgi, req, resp, cause);
out:
	free(email);
	free(tenant);
	free(user);
}

const struct route route_account_delete_form = {
	.method = "GET", .path = "/account/delete", .handler = delete_get,
	.flags = ROUTE_SIGNED_IN,
};
const struct route route_account_delete = {
	.method = "POST", .path = "/account/delete", .handler = delete_post,
	.flags = ROUTE_SIGNED_IN,
};
const struct route route_signin_keep = {
	.method = "POST", .path = "/signin/cancel-deletion",
	.handler = keep_post, .flags = ROUTE_PAGE,
};
