/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "log.h"
#include "page.h"
#include "session.h"

/*
 * No script may run on any page, from anywhere; styles only from this
 * site; forms post only here; frames only from here (the sandboxed mail
 * body); no page may be framed (clickjacking).
 */
#define PAGE_CSP_BEFORE_FORMS \
	"default-src 'none'; style-src 'self'; img-src 'self' data:; "
#define PAGE_CSP_AFTER_FORMS \
	"frame-src 'self'; frame-ancestors 'none'; base-uri 'none'"
#define PAGE_CSP PAGE_CSP_BEFORE_FORMS "form-action 'self'; " \
	PAGE_CSP_AFTER_FORMS

static const struct {
	const char *section;
	const char *href;
	const char *label;
	bool managers;		/* owners and admins only */
} nav[] = {
	{ "dashboard", "/", "Dashboard", false },
	{ "activities", "/activities", "Activities", false },
	{ "inbox", "/inbox", "Inbox", false },
	{ "integrations", "/integrations", "Google", false },
	{ "team", "/team", "Team", true },
	{ "account", "/account", "Account", false },
};

void
page_security_headers(struct response *resp)
{
	response_set_header(resp, "Content-Security-Policy", PAGE_CSP);
	response_set_header(resp, "X-Frame-Options", "DENY");
	response_set_header(resp, "Referrer-Policy", "same-origin");
	response_set_header(resp, "Cross-Origin-Opener-Policy", "same-origin");
}

/*
 * The scheme, host and port of url ("https://accounts.google.com"), or
 * NULL when it has none or holds anything a CSP source may not.
 */
static char *
url_origin(const char *url)
{
	const char *host, *end;

	if (strncmp(url, "https://", 8) == 0)
		host = url + 8;
	else if (strncmp(url, "http://", 7) == 0)
		host = url + 7;
	else
		return NULL;
	end = host + strcspn(host, "/?#");
	if (end == host || (size_t)(end - host) != strspn(host,
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]"))
		return NULL;
	return xstrndup(url, (size_t)(end - url));
}

/*
 * A page's policy.  "Connect Google" posts here and is redirected to
 * Google's consent page, and browsers check form-action on each redirect
 * of a form's submission too (CSP Level 3): the origin of google.auth_url
 * is allowed as well, or Chromium refuses the redirect and the user stays
 * on the integrations page.
 */
static void
page_csp(struct response *resp, const struct conf *c)
{
	char *origin = c->google_auth_url != NULL ?
	    url_origin(c->google_auth_url) : NULL;
	char *csp;

	if (origin == NULL)
		return;
	csp = xasprintf("%sform-action 'self' %s; %s", PAGE_CSP_BEFORE_FORMS,
	    origin, PAGE_CSP_AFTER_FORMS);
	response_set_header(resp, "Content-Security-Policy", csp);
	free(csp);
	free(origin);
}

static void
page_nav(struct page *p, const char *section)
{
	const struct session *s = p->cgi->session;
	bool manager;

	html(&p->sb, "<header class=\"top\"><a class=\"brand\" href=\"/\">"
	    "Rally</a>");
	if (s == NULL) {
		html(&p->sb, "</header>");
		return;
	}
	manager = strcmp(s->role, "owner") == 0 || strcmp(s->role, "admin") == 0;
	html(&p->sb, "<nav aria-label=\"Main\"><ul>");
	for (size_t i = 0; i < nitems(nav); i++) {
		if (nav[i].managers && !manager)
			continue;
		html(&p->sb, "<li><a href=\"%s\"%r>%s</a></li>", nav[i].href,
		    section != NULL && strcmp(section, nav[i].section) == 0 ?
		    " aria-current=\"page\"" : "", nav[i].label);
	}
	html(&p->sb, "</ul></nav><div class=\"who\"><span>%s &middot; %s"
	    "</span>", s->name[0] != '\0' ? s->name : s->email,
	    s->tenant_name);
	page_form_begin(p, "/signout");
	html(&p->sb, "<button type=\"submit\" class=\"link\">Sign out"
	    "</button></form></div></header>");
}

void
page_begin(struct page *p, struct cgi *cgi, const struct request *req,
    struct response *resp, const char *title, const char *section)
{
	page_begin_refresh(p, cgi, req, resp, title, section, 0);
}

void
page_begin_refresh(struct page *p, struct cgi *cgi, const struct request *req,
    struct response *resp, const char *title, const char *section,
    int refresh)
{
	memset(p, 0, sizeof *p);
	p->cgi = cgi;
	p->req = req;
	p->resp = resp;
	html(&p->sb, "<!DOCTYPE html>\n<html lang=\"en\"><head>"
	    "<meta charset=\"utf-8\">"
	    "<meta name=\"viewport\" content=\"width=device-width, "
	    "initial-scale=1\"><title>%s &middot; Rally</title>", title);
	if (refresh > 0)
		html(&p->sb, "<meta http-equiv=\"refresh\" content=\"%d\">",
		    refresh);
	html(&p->sb, "<link rel=\"stylesheet\" href=\"/static/rally.css\">"
	    "</head><body><a class=\"skip\" href=\"#main\">Skip to content</a>");
	page_nav(p, section);
	html(&p->sb, "<main id=\"main\"><h1>%s</h1>", title);
}

void
page_end(struct page *p, int status)
{
	size_t len;
	char *body;

	html(&p->sb, "</main><footer><p>Rally CRM &middot; "
	    "<a href=\"/privacy\">Privacy</a></p></footer></body></html>\n");
	body = strbuf_take(&p->sb, &len);
	response_set_body(p->resp, status, "text/html; charset=utf-8", body,
	    len);
	page_security_headers(p->resp);
	page_csp(p->resp, &p->cgi->conf);
	free(body);
}

void
page_notice(struct page *p, const char *text)
{
	html(&p->sb, "<p class=\"notice\" role=\"status\">%s</p>", text);
}

void
page_alert(struct page *p, const char *text)
{
	html(&p->sb, "<p class=\"alert\" role=\"alert\">%s</p>", text);
}

void
page_csrf_field(struct page *p)
{
	html(&p->sb, "<input type=\"hidden\" name=\"csrf\" value=\"%s\">",
	    session_csrf_token(p->cgi, p->req, p->resp));
}

void
page_form_begin(struct page *p, const char *action)
{
	html(&p->sb, "<form method=\"post\" action=\"%s\">", action);
	page_csrf_field(p);
}

void
page_error(struct cgi *cgi, const struct request *req,
    struct response *resp, int status, const char *message)
{
	struct page p;

	page_begin(&p, cgi, req, resp, response_reason(status), NULL);
	html(&p.sb, "<p>%s</p><p><a href=\"/\">Back to the start</a></p>",
	    message);
	page_end(&p, status);
}

void
page_db_error(struct cgi *cgi, const struct request *req,
    struct response *resp, char *cause)
{
	int status = cgi_db_error_status(cgi);

	log_warnx("database: %s", cause != NULL ? cause : "unknown error");
	free(cause);
	if (cgi->db != NULL)
		(void)db_rollback(cgi->db, NULL);
	page_error(cgi, req, resp, status, status == 503 ?
	    "Rally cannot reach its database just now. Please try again in a "
	    "minute." : "Something went wrong on our side; nothing was "
	    "changed. Please try again.");
}

void
page_redirect(struct response *resp, const char *location)
{
	response_set_body(resp, 303, "text/plain; charset=utf-8", "", 0);
	response_set_header(resp, "Location", location);
}

const char *
page_field(const struct request *req, const char *name)
{
	const char *v = req_params_get(&req->form, name);

	return v != NULL ? v : "";
}

const char *
page_param(const struct request *req, const char *name)
{
	const char *v = req_params_get(&req->params, name);

	return v != NULL ? v : "";
}

char *
page_trim(const char *s)
{
	size_t len;

	while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
		s++;
	len = strlen(s);
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t' ||
	    s[len - 1] == '\r' || s[len - 1] == '\n'))
		len--;
	return xstrndup(s, len);
}
