/* SPDX-License-Identifier: ISC */
/*
 * html: building pages so that nothing from outside reaches them
 * unescaped.  html() is printf for HTML with its own conversions:
 *
 *	%s	text, escaped (& < > " ' become entities): safe in element
 *		content and in a quoted attribute value alike
 *	%r	raw HTML: only markup Rally built itself, never input
 *	%u	a URL component, percent-escaped (then safe in an attribute)
 *	%d %ld %lld %zu	numbers
 *	%%	a '%'
 *
 * A NULL string is written as nothing.  The conversions are not printf's,
 * so the compiler cannot check them: an unknown one is a programming
 * error and aborts, and the unit test exercises every one.
 */
#ifndef RALLY_CGI_HTML_H
#define RALLY_CGI_HTML_H

#include "strbuf.h"

void html(struct strbuf *, const char *fmt, ...);
/* s escaped, as %s. */
void html_escape(struct strbuf *, const char *s);
/* The first max characters of s (never cutting a UTF-8 sequence), escaped,
 * and "…" when more was cut. */
void html_escape_cut(struct strbuf *, const char *s, size_t max);

#endif
