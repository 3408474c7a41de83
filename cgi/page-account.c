/* SPDX-License-Identifier: ISC */
/*
 * GET /account and its forms (docs/web.md, "Account and privacy"): the
 * rights of rectification and objection, and the user's sessions.
 *
 * Every change goes through rally.web_account_update(), which audits the
 * names of the fields changed (never their values), so the page sends
 * only the fields whose value differs.  Company and billing details are
 * the owner's: a member sees no form for them and a member's POST is
 * answered 403 with words (the database refuses it too).  Input is
 * checked here against the tables' own checks, so a bad value is a 400
 * that says what to fix, and the form comes back with what was typed.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "db.h"
#include "account.h"
#include "page-account.h"
#include "page.h"
#include "session.h"

static const char *const company_sizes[] = {
	"1-10", "11-50", "51-200", "201-1000", "1001+",
};

/* The billing fields, as rally.account_fields() names them, and limits. */
static const struct {
	const char *field;
	const char *label;
	size_t max;		/* characters */
	const char *autocomplete;
} billing_text[] = {
	{ "billing_name", "Name on invoices", 200, "organization" },
	{ "address_line1", "Address", 200, "address-line1" },
	{ "address_line2", "Address (second line)", 200, "address-line2" },
	{ "postal_code", "Postal code", 32, "postal-code" },
	{ "city", "City", 100, "address-level2" },
	{ "region", "Region or state", 100, "address-level1" },
};

/* ?done= words and what they say: fixed text, nothing reflected. */
static const struct {
	const char *word;
	const char *text;
} done_words[] = {
	{ "profile", "Your profile is saved." },
	{ "email", "Your profile is saved. From now on, sign in with your new "
	    "email address; notices go to it too." },
	{ "company", "The company details are saved." },
	{ "billing", "The billing details are saved." },
	{ "optout", "Rally no longer records how you use it, and what it had "
	    "recorded about you is deleted." },
	{ "optin", "Rally records how you use it again." },
	{ "sessions", "You are signed out everywhere else." },
	{ "unchanged", "Nothing was changed." },
	{ "kept", "Welcome back: your account is kept and its deletion "
	    "cancelled. If Google was connected, it was disconnected when you "
	    "asked for the deletion: connect it again to sync." },
};

static bool
is_owner(const struct cgi *cgi)
{
	return strcmp(cgi->session->role, "owner") == 0;
}

/* --- the page ----------------------------------------------------------- */

struct account {
	struct page p;
	PGresult *user;		/* name, email, zone, opt-out, company, size */
	PGresult *billing;	/* owners: one row or none */
	bool typed;		/* show the form fields as posted */
};

/* A field's value: as typed after a refused POST, else from res. */
static const char *
shown(const struct account *a, const char *field, const PGresult *res,
    int col)
{
	const char *v;

	if (a->typed && (v = req_params_get(&a->p.req->form, field)) != NULL)
		return v;
	if (res == NULL || PQntuples(res) == 0)
		return "";
	return PQgetvalue(res, 0, col);
}

static void
text_field(struct account *a, const char *field, const char *label,
    const char *value, size_t max, const char *autocomplete, const char *help)
{
	/* The fields the database requires; only addresses are emails. */
	bool required = strcmp(field, "name") == 0 ||
	    strcmp(field, "company_name") == 0 || strcmp(autocomplete,
	    "email") == 0;

	html(&a->p.sb, "<p><label for=\"%s\">%s</label><input id=\"%s\" "
	    "name=\"%s\" maxlength=\"%zu\" autocomplete=\"%s\" value=\"%s\"%r",
	    field, label, field, field, max, autocomplete, value, required ?
	    (strcmp(autocomplete, "email") == 0 ? " type=\"email\" required" :
	    " required") : "");
	if (help != NULL)
		html(&a->p.sb, " aria-describedby=\"help-%s\"><small "
		    "id=\"help-%s\">%s</small></p>", field, field, help);
	else
		html(&a->p.sb, "></p>");
}

static int
zone_options(struct account *a, const char *current, char **cause)
{
	const char *params[1] = { current };
	PGresult *res;

	/* Region/City names and UTC; posix/ and right/ copies add nothing. */
	res = db_exec(a->p.cgi->db, "SELECT name, name = $1 FROM"
	    " pg_catalog.pg_timezone_names WHERE (name ~ '/' AND name !~"
	    " '^(posix|right|Etc)/') OR name = 'UTC' OR name = $1"
	    " ORDER BY name", 1, params, cause);
	if (res == NULL)
		return -1;
	for (int i = 0; i < PQntuples(res); i++)
		html(&a->p.sb, "<option%r>%s</option>",
		    PQgetvalue(res, i, 1)[0] == 't' ? " selected" : "",
		    PQgetvalue(res, i, 0));
	PQclear(res);
	return 0;
}

static int
section_profile(struct account *a, char **cause)
{
	html(&a->p.sb, "<section aria-labelledby=\"h-profile\">"
	    "<h2 id=\"h-profile\">Your profile</h2>");
	page_form_begin(&a->p, "/account/profile");
	text_field(a, "name", "Name", shown(a, "name", a->user, 0), 200, "name",
	    NULL);
	text_field(a, "email", "Email", shown(a, "email", a->user, 1), 320,
	    "email", "You sign in with this address and Rally's notices go to "
	    "it. If you change it, sign in with the new address from then on.");
	html(&a->p.sb, "<p><label for=\"time_zone\">Time zone</label>"
	    "<select id=\"time_zone\" name=\"time_zone\" "
	    "aria-describedby=\"help-tz\">");
	if (zone_options(a, shown(a, "time_zone", a->user, 2), cause) == -1)
		return -1;
	html(&a->p.sb, "</select><small id=\"help-tz\">Rally shows every time "
	    "in this zone.</small></p><p><button type=\"submit\">Save profile"
	    "</button></p></form></section>");
	return 0;
}

static void
section_company(struct account *a)
{
	const char *size = shown(a, "company_size", a->user, 5);

	html(&a->p.sb, "<section aria-labelledby=\"h-company\">"
	    "<h2 id=\"h-company\">Company</h2>");
	if (!is_owner(a->p.cgi)) {
		html(&a->p.sb, "<p>%s. Only the workspace owner can change the "
		    "company and billing details.</p></section>",
		    PQgetvalue(a->user, 0, 4));
		return;
	}
	page_form_begin(&a->p, "/account/company");
	text_field(a, "company_name", "Company name",
	    shown(a, "company_name", a->user, 4), 200, "organization", NULL);
	html(&a->p.sb, "<p><label for=\"company_size\">Company size</label>"
	    "<select id=\"company_size\" name=\"company_size\">"
	    "<option value=\"\">Prefer not to say</option>");
	for (size_t i = 0; i < nitems(company_sizes); i++)
		html(&a->p.sb, "<option value=\"%s\"%r>%s people</option>",
		    company_sizes[i], strcmp(size, company_sizes[i]) == 0 ?
		    " selected" : "", company_sizes[i]);
	html(&a->p.sb, "</select></p><p><button type=\"submit\">Save company"
	    "</button></p></form></section>");
}

static void
section_billing(struct account *a)
{
	if (!is_owner(a->p.cgi))
		return;
	html(&a->p.sb, "<section aria-labelledby=\"h-billing\">"
	    "<h2 id=\"h-billing\">Billing details</h2><p>Who pays for Rally, "
	    "for invoices. Rally never stores card numbers.</p>");
	page_form_begin(&a->p, "/account/billing");
	text_field(a, "billing_email", "Billing email",
	    shown(a, "billing_email", a->billing, 0), 320, "email", NULL);
	for (size_t i = 0; i < nitems(billing_text); i++)
		text_field(a, billing_text[i].field, billing_text[i].label,
		    shown(a, billing_text[i].field, a->billing, (int)i + 1),
		    billing_text[i].max, billing_text[i].autocomplete, NULL);
	html(&a->p.sb, "<p><label for=\"country\">Country code</label>"
	    "<input id=\"country\" name=\"country\" maxlength=\"2\" size=\"3\" "
	    "autocomplete=\"country\" aria-describedby=\"help-country\" "
	    "value=\"%s\"><small id=\"help-country\">Two letters, like DE or "
	    "US.</small></p>"
	    "<p><label for=\"vat_id\">VAT id</label><input id=\"vat_id\" "
	    "name=\"vat_id\" maxlength=\"30\" aria-describedby=\"help-vat\" "
	    "value=\"%s\"><small id=\"help-vat\">Letters and digits, like "
	    "DE123456789; leave empty if you have none.</small></p>"
	    "<p><button type=\"submit\">Save billing details</button></p>"
	    "</form></section>", shown(a, "country", a->billing, 7),
	    shown(a, "vat_id", a->billing, 8));
}

static void
section_analytics(struct account *a)
{
	bool out = PQgetvalue(a->user, 0, 3)[0] == 't';
	long days = (long)(a->p.cgi->conf.usage_retention_sec / 86400);

	html(&a->p.sb, "<section aria-labelledby=\"h-analytics\">"
	    "<h2 id=\"h-analytics\">Usage analytics</h2>");
	if (out)
		html(&a->p.sb, "<p>You objected to usage analytics: Rally "
		    "records nothing about how you use it.</p>");
	else
		html(&a->p.sb, "<p>Rally records which pages you use, to "
		    "count daily use and improve the product. Raw records are "
		    "deleted after %ld days; only daily counts stay. You may "
		    "object at any time.</p>", days);
	page_form_begin(&a->p, "/account/analytics");
	html(&a->p.sb, "<input type=\"hidden\" name=\"opt_out\" value=\"%s\">"
	    "<p><button type=\"submit\"%r>%s</button></p></form></section>",
	    out ? "no" : "yes", out ? " class=\"secondary\"" : "", out ?
	    "Allow usage analytics again" : "Stop usage analytics and delete "
	    "what was recorded");
}

static int
section_sessions(struct account *a, char **cause)
{
	char *mine = session_cookie_hash(a->p.cgi, a->p.req);
	const char *params[2] = { mine, ACCOUNT_TIME_FMT };
	PGresult *res;
	int n;

	res = db_exec(a->p.cgi->db, "SELECT to_char(created_at, $2),"
	    " to_char(last_seen_at, $2), id_hash = $1::bytea FROM"
	    " rally.sessions WHERE tenant_id = rally.current_tenant() AND"
	    " user_id = rally.current_user_id() AND expires_at > now()"
	    " ORDER BY id_hash = $1::bytea DESC, last_seen_at DESC", 2, params,
	    cause);
	free(mine);
	if (res == NULL)
		return -1;
	html(&a->p.sb, "<section aria-labelledby=\"h-sessions\">"
	    "<h2 id=\"h-sessions\">Where you are signed in</h2><table><thead>"
	    "<tr><th scope=\"col\">Signed in</th><th scope=\"col\">Last seen"
	    "</th><th scope=\"col\">Browser</th></tr></thead><tbody>");
	n = PQntuples(res);
	for (int i = 0; i < n; i++)
		html(&a->p.sb, "<tr><td>%s</td><td>%s</td><td>%s</td></tr>",
		    PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
		    PQgetvalue(res, i, 2)[0] == 't' ? "This browser" :
		    "Another");
	html(&a->p.sb, "</tbody></table>");
	PQclear(res);
	if (n > 1) {
		page_form_begin(&a->p, "/account/sessions/end-others");
		html(&a->p.sb, "<p><button type=\"submit\" class=\"secondary\">"
		    "Sign out everywhere else</button></p></form>");
	}
	html(&a->p.sb, "</section>");
	return 0;
}

static void
section_rights(struct account *a)
{
	html(&a->p.sb, "<section aria-labelledby=\"h-data\">"
	    "<h2 id=\"h-data\">Your data</h2><p>A copy of everything Rally "
	    "holds about you, as a JSON file: your profile, activities, mail, "
	    "connections, usage and the audit entries about you.</p>");
	page_form_begin(&a->p, "/account/export");
	html(&a->p.sb, "<p class=\"actions\"><button type=\"submit\">Download "
	    "my data</button> <a href=\"/account/exports\">Your exports</a></p>"
	    "</form></section><section aria-labelledby=\"h-delete\">"
	    "<h2 id=\"h-delete\">Delete your account</h2><p>Rally deletes "
	    "everything about you within 30 days. "
	    "<a href=\"/account/delete\">Delete my account</a></p>"
	    "<p><a href=\"/privacy\">What Rally stores and your rights</a></p>"
	    "</section>");
}

static int
account_load(struct account *a, char **cause)
{
	struct cgi *cgi = a->p.cgi;

	a->user = db_exec(cgi->db, "SELECT u.name, u.email, u.time_zone,"
	    " u.analytics_opt_out, t.name, coalesce(t.company_size, '')"
	    " FROM rally.users u JOIN rally.tenants t ON t.tenant_id ="
	    " u.tenant_id WHERE u.tenant_id = rally.current_tenant() AND u.id ="
	    " rally.current_user_id()", 0, NULL, cause);
	if (a->user == NULL)
		return -1;
	if (PQntuples(a->user) != 1) {
		*cause = xstrdup("account: the signed-in user's row is gone");
		return -1;
	}
	if (!is_owner(cgi))
		return 0;
	a->billing = db_exec(cgi->db, "SELECT billing_email, billing_name,"
	    " address_line1, address_line2, postal_code, city, region,"
	    " coalesce(country, ''), coalesce(vat_id, '') FROM"
	    " rally.billing_profiles WHERE tenant_id = rally.current_tenant()",
	    0, NULL, cause);
	return a->billing == NULL ? -1 : 0;
}

/*
 * The account page, with status; after a refused POST, alert says why and
 * the forms show what was typed.
 */
static void
account_page(struct cgi *cgi, struct request *req, struct response *resp,
    int status, const char *alert)
{
	struct account a = { .typed = alert != NULL };
	const char *done = page_param(req, "done");
	char *cause = NULL;

	page_begin(&a.p, cgi, req, resp, "Account", "account");
	for (size_t i = 0; i < nitems(done_words) && alert == NULL; i++)
		if (strcmp(done, done_words[i].word) == 0)
			page_notice(&a.p, done_words[i].text);
	if (alert != NULL)
		page_alert(&a.p, alert);
	if (account_load(&a, &cause) == -1 ||
	    section_profile(&a, &cause) == -1)
		goto dberr;
	section_company(&a);
	section_billing(&a);
	section_analytics(&a);
	if (section_sessions(&a, &cause) == -1)
		goto dberr;
	section_rights(&a);
	page_end(&a.p, status);
	goto out;
dberr:
	strbuf_free(&a.p.sb);
	page_db_error(cgi, req, resp, cause);
out:
	PQclear(a.user);
	PQclear(a.billing);
}

static void
account_get(struct cgi *cgi, struct request *req, struct response *resp)
{
	account_page(cgi, req, resp, 200, NULL);
}

/* --- changes ------------------------------------------------------------ */

/*
 * Sends changes (consumed) to rally.web_account_update(); an empty object
 * changes nothing and is not sent.  1 when something changed, 0 not, -1
 * on a database error.
 */
static int
account_apply(struct cgi *cgi, json_object *changes, char **cause)
{
	const char *params[1];
	int rc = 0;

	if (json_object_object_length(changes) > 0) {
		params[0] = json_object_to_json_string_ext(changes,
		    JSON_C_TO_STRING_PLAIN);
		rc = db_command(cgi->db, "SELECT rally.web_account_update($1::"
		    "jsonb)", 1, params, cause) == -1 ? -1 : 1;
	}
	json_object_put(changes);
	return rc;
}

/* Adds field to changes when value differs from the stored one. */
static void
change_if(json_object *changes, const char *field, const char *value,
    const char *stored)
{
	if (strcmp(value, stored) != 0)
		json_object_object_add(changes, field,
		    json_object_new_string(value));
}

/* What is wrong with the profile form, or NULL; a database error is -1. */
static int
profile_check(struct cgi *cgi, const char *name, const char *email,
    const char *zone, const char **why, char **cause)
{
	const char *params[2] = { zone, email };
	PGresult *res;

	*why = NULL;
	if (name[0] == '\0' || account_chars(name) > 200)
		*why = "Enter your name in at most 200 characters.";
	else if (!account_email_ok(email))
		*why = "Enter your email address, like ann@example.com.";
	if (*why != NULL)
		return 0;
	res = db_exec(cgi->db, "SELECT EXISTS (SELECT 1 FROM"
	    " pg_catalog.pg_timezone_names WHERE name = $1), EXISTS (SELECT 1"
	    " FROM rally.users WHERE tenant_id = rally.current_tenant() AND id"
	    " <> rally.current_user_id() AND lower(email) = lower($2))", 2,
	    params, cause);
	if (res == NULL)
		return -1;
	if (PQgetvalue(res, 0, 0)[0] != 't')
		*why = "Choose a time zone from the list.";
	else if (PQgetvalue(res, 0, 1)[0] == 't')
		*why = "Another account of this workspace has that email "
		    "address. Choose another one.";
	PQclear(res);
	return 0;
}

/* The signed-in user's row as the forms change it: name, email, time zone. */
static PGresult *
profile_stored(struct cgi *cgi, char **cause)
{
	PGresult *res;

	res = db_exec(cgi->db, "SELECT name, email, time_zone FROM rally.users"
	    " WHERE tenant_id = rally.current_tenant() AND id ="
	    " rally.current_user_id()", 0, NULL, cause);
	if (res != NULL && PQntuples(res) != 1) {
		PQclear(res);
		*cause = xstrdup("account: the signed-in user's row is gone");
		return NULL;
	}
	return res;
}

static void
profile_post(struct cgi *cgi, struct request *req, struct response *resp)
{
	char *name = page_trim(page_field(req, "name"));
	char *email = page_trim(page_field(req, "email"));
	const char *zone = page_field(req, "time_zone"), *why;
	PGresult *res = NULL;
	char *cause = NULL;
	json_object *changes;
	bool email_changed;
	int rc;

	if (profile_check(cgi, name, email, zone, &why, &cause) == -1)
		goto dberr;
	if (why != NULL) {
		account_page(cgi, req, resp, 400, why);
		goto out;
	}
	if ((res = profile_stored(cgi, &cause)) == NULL)
		goto dberr;
	email_changed = strcmp(email, PQgetvalue(res, 0, 1)) != 0;
	changes = json_object_new_object();
	change_if(changes, "name", name, PQgetvalue(res, 0, 0));
	change_if(changes, "email", email, PQgetvalue(res, 0, 1));
	change_if(changes, "time_zone", zone, PQgetvalue(res, 0, 2));
	if ((rc = account_apply(cgi, changes, &cause)) == -1)
		goto dberr;
	page_redirect(resp, rc == 0 ? "/account?done=unchanged" :
	    email_changed ? "/account?done=email" : "/account?done=profile");
	goto out;
dberr:
	page_db_error(cgi, req, resp, cause);
out:
	PQclear(res);
	free(name);
	free(email);
}

/* Owners only; anyone else is told so (403) and nothing is read. */
static bool
owner_only(struct cgi *cgi, struct request *req, struct response *resp)
{
	if (is_owner(cgi))
		return true;
	page_error(cgi, req, resp, 403, "Only the workspace owner can change "
	    "the company and billing details.");
	return false;
}

static bool
size_ok(const char *size)
{
	for (size_t i = 0; i < nitems(company_sizes); i++)
		if (strcmp(size, company_sizes[i]) == 0)
			return true;
	return size[0] == '\0';
}

static void
company_post(struct cgi *cgi, struct request *req, struct response *resp)
{
	char *company = page_trim(page_field(req, "company_name"));
	const char *size = page_field(req, "company_size");
	char *cause = NULL;
	PGresult *res = NULL;
	json_object *changes;
	int rc;

	if (!owner_only(cgi, req, resp))
		goto out;
	if (company[0] == '\0' || account_chars(company) > 200) {
		account_page(cgi, req, resp, 400, "Enter your company's name "
		    "in at most 200 characters.");
		goto out;
	}
	if (!size_ok(size)) {
		account_page(cgi, req, resp, 400, "Choose a company size from "
		    "the list.");
		goto out;
	}
	res = db_exec(cgi->db, "SELECT name, coalesce(company_size, '') FROM"
	    " rally.tenants WHERE tenant_id = rally.current_tenant()", 0, NULL,
	    &cause);
	if (res == NULL || PQntuples(res) != 1)
		goto dberr;
	changes = json_object_new_object();
	change_if(changes, "company_name", company, PQgetvalue(res, 0, 0));
	if (strcmp(size, PQgetvalue(res, 0, 1)) != 0)
		json_object_object_add(changes, "company_size", size[0] ==
		    '\0' ? NULL : json_object_new_string(size));
	if ((rc = account_apply(cgi, changes, &cause)) == -1)
		goto dberr;
	page_redirect(resp, rc == 0 ? "/account?done=unchanged" :
	    "/account?done=company");
	goto out;
dberr:
	page_db_error(cgi, req, resp, cause);
out:
	PQclear(res);
	free(company);
}

/* s in upper case without blanks (VAT ids are often typed with spaces). */
static char *
code_of(const char *s)
{
	char *c = xstrdup(s), *w = c;

	for (; *s != '\0'; s++)
		if (*s != ' ' && *s != '\t' && *s != '.' && *s != '-')
			*w++ = (char)toupper((unsigned char)*s);
	*w = '\0';
	return c;
}

/* Whether s is min..max characters of A-Z (and 0-9 when digits). */
static bool
code_ok(const char *s, size_t min, size_t max, bool digits)
{
	size_t n = strlen(s);

	if (n < min || n > max)
		return false;
	for (; *s != '\0'; s++)
		if (!(*s >= 'A' && *s <= 'Z') && !(digits && *s >= '0' &&
		    *s <= '9'))
			return false;
	return true;
}

/*
 * The billing form's problem, or NULL; country and vat_id come normalised.
 * why is room for a message that names a field.
 */
static const char *
billing_check(struct request *req, const char *email, const char *country,
    const char *vat, char *why, size_t whylen)
{

	if (!account_email_ok(email) || strlen(email) < 3)
		return "Enter the billing email address, like "
		    "accounts@example.com.";
	for (size_t i = 0; i < nitems(billing_text); i++)
		if (account_chars(page_field(req, billing_text[i].field)) >
		    billing_text[i].max) {
			snprintf(why, whylen, "The %s can be at most %zu "
			    "characters long.", billing_text[i].label,
			    billing_text[i].max);
			why[4] = (char)tolower((unsigned char)why[4]);
			return why;
		}
	if (country[0] != '\0' && !code_ok(country, 2, 2, false))
		return "Enter the country as its two-letter code, like DE or "
		    "US.";
	if (vat[0] != '\0' && !code_ok(vat, 2, 20, true))
		return "Enter the VAT id as 2 to 20 letters and digits, like "
		    "DE123456789, or leave it empty.";
	return NULL;
}

/* The billing changes against the stored row (none stored: all of them). */
static json_object *
billing_changes(struct request *req, const PGresult *res, const char *email,
    const char *country, const char *vat)
{
	json_object *changes = json_object_new_object();
	bool none = PQntuples(res) == 0;
	char *v;

	change_if(changes, "billing_email", email, none ? "" :
	    PQgetvalue(res, 0, 0));
	for (size_t i = 0; i < nitems(billing_text); i++) {
		v = page_trim(page_field(req, billing_text[i].field));
		change_if(changes, billing_text[i].field, v, none ? "" :
		    PQgetvalue(res, 0, (int)i + 1));
		free(v);
	}
	if (strcmp(country, none ? "" : PQgetvalue(res, 0, 7)) != 0)
		json_object_object_add(changes, "country", country[0] == '\0' ?
		    NULL : json_object_new_string(country));
	if (strcmp(vat, none ? "" : PQgetvalue(res, 0, 8)) != 0)
		json_object_object_add(changes, "vat_id", vat[0] == '\0' ?
		    NULL : json_object_new_string(vat));
	return changes;
}

static void
billing_post(struct cgi *cgi, struct request *req, struct response *resp)
{
	char *email = page_trim(page_field(req, "billing_email"));
	char *country = code_of(page_field(req, "country"));
	char *vat = code_of(page_field(req, "vat_id"));
	const char *why;
	char *cause = NULL, whybuf[128];
	PGresult *res = NULL;
	int rc;

	if (!owner_only(cgi, req, resp))
		goto out;
	if ((why = billing_check(req, email, country, vat, whybuf,
	    sizeof whybuf)) != NULL) {
		account_page(cgi, req, resp, 400, why);
		goto out;
	}
	res = db_exec(cgi->db, "SELECT billing_email, billing_name,"
	    " address_line1, address_line2, postal_code, city, region,"
	    " coalesce(country, ''), coalesce(vat_id, '') FROM"
	    " rally.billing_profiles WHERE tenant_id = rally.current_tenant()",
	    0, NULL, &cause);
	if (res == NULL || (rc = account_apply(cgi, billing_changes(req, res,
	    email, country, vat), &cause)) == -1)
		goto dberr;
	page_redirect(resp, rc == 0 ? "/account?done=unchanged" :
	    "/account?done=billing");
	goto out;
dberr:
	page_db_error(cgi, req, resp, cause);
out:
	PQclear(res);
	free(email);
	free(country);
	free(vat);
}

static void
analytics_post(struct cgi *cgi, struct request *req, struct response *resp)
{
	const char *v = page_field(req, "opt_out");
	json_object *changes;
	char *cause = NULL;

	if (strcmp(v, "yes") != 0 && strcmp(v, "no") != 0) {
		page_error(cgi, req, resp, 400, "Choose whether Rally may "
		    "record how you use it, with one of the buttons on your "
		    "account page.");
		return;
	}
	changes = json_object_new_object();
	json_object_object_add(changes, "analytics_opt_out",
	    json_object_new_boolean(strcmp(v, "yes") == 0));
	if (account_apply(cgi, changes, &cause) == -1) {
		page_db_error(cgi, req, resp, cause);
		return;
	}
	page_redirect(resp, strcmp(v, "yes") == 0 ? "/account?done=optout" :
	    "/account?done=optin");
}

/* Ends every session of the user but the one this request came with. */
static void
sessions_post(struct cgi *cgi, struct request *req, struct response *resp)
{
	char *mine = session_cookie_hash(cgi, req);
	const char *params[1] = { mine };
	char *cause = NULL;
	int rc;

	rc = db_command(cgi->db, "DELETE FROM rally.sessions WHERE tenant_id ="
	    " rally.current_tenant() AND user_id = rally.current_user_id() AND"
	    " id_hash <> $1::bytea", 1, params, &cause);
	free(mine);
	if (rc == -1) {
		page_db_error(cgi, req, resp, cause);
		return;
	}
	page_redirect(resp, "/account?done=sessions");
}

const struct route route_account = {
	.method = "GET", .path = "/account", .handler = account_get,
	.flags = ROUTE_SIGNED_IN,
};
const struct route route_account_profile = {
	.method = "POST", .path = "/account/profile", .handler = profile_post,
	.flags = ROUTE_SIGNED_IN,
};
const struct route route_account_company = {
	.method = "POST", .path = "/account/company", .handler = company_post,
	.flags = ROUTE_SIGNED_IN,
};
const struct route route_account_billing = {
	.method = "POST", .path = "/account/billing", .handler = billing_post,
	.flags = ROUTE_SIGNED_IN,
};
const struct route route_account_analytics = {
	.method = "POST", .path = "/account/analytics",
	.handler = analytics_post, .flags = ROUTE_SIGNED_IN,
};
const struct route route_account_sessions = {
	.method = "POST", .path = "/account/sessions/end-others",
	.handler = sessions_post, .flags = ROUTE_SIGNED_IN,
};
