/* SPDX-License-Identifier: ISC */
/*
 * page: what every HTML page of rally.cgi shares: the layout (head,
 * navigation, main, footer), the security headers, error pages,
 * redirects after a POST, and the CSRF field of forms.
 *
 * Handlers build their content with html() into p->sb between
 * page_begin() and page_end(); page_end() makes it the response.  Every
 * page is sent with a Content-Security-Policy that allows no script at
 * all and styles only from /static/, X-Frame-Options: DENY and a
 * Referrer-Policy, so markup that slipped through escaping could still
 * run nothing and leak no URL.
 */
#ifndef RALLY_CGI_PAGE_H
#define RALLY_CGI_PAGE_H

#include "cgi.h"
#include "html.h"
#include "strbuf.h"

struct page {
	struct cgi *cgi;
	const struct request *req;
	struct response *resp;
	struct strbuf sb;
};

/*
 * Starts a page titled title ("Inbox"); section names the navigation
 * entry to mark as current ("inbox"), NULL for none.
 */
void page_begin(struct page *, struct cgi *, const struct request *,
    struct response *, const char *title, const char *section);
/*
 * The same for a page that reloads itself every refresh seconds (a
 * <meta http-equiv="refresh">: no script needed), while work it waits for
 * goes on elsewhere.
 */
void page_begin_refresh(struct page *, struct cgi *, const struct request *,
    struct response *, const char *title, const char *section, int refresh);
/* Ends it and makes it the response, with status. */
void page_end(struct page *, int status);

/* A status message at the top of the content (role="status"). */
void page_notice(struct page *, const char *text);
/* An error message there (role="alert"). */
void page_alert(struct page *, const char *text);

/* <form method="post" action="action"> and its CSRF field. */
void page_form_begin(struct page *, const char *action);
/* The CSRF field alone, for a form the page writes itself. */
void page_csrf_field(struct page *);

/* An error page: status and a sentence for the user. */
void page_error(struct cgi *, const struct request *, struct response *,
    int status, const char *message);
/*
 * A failed query: logged with cause (freed), the transaction rolled back,
 * and a 503 or 500 page.
 */
void page_db_error(struct cgi *, const struct request *, struct response *,
    char *cause);
/* 303 See Other to location, a path of this site ("/inbox?done=sent"). */
void page_redirect(struct response *, const char *location);

/* The security headers every HTML page carries (page_end() sets them). */
void page_security_headers(struct response *);

/* Form field name of a POST, "" when absent or given twice. */
const char *page_field(const struct request *, const char *name);
/* Query parameter name, "" when absent or given twice. */
const char *page_param(const struct request *, const char *name);
/* A copy of s without leading and trailing blanks; caller frees. */
char *page_trim(const char *s);

#endif
