/* SPDX-License-Identifier: ISC */
/*
 * rally.cgi's output escaping (cgi/html.c) and its cookies (cgi/cookie.c):
 * every conversion of html(), every character that must become an
 * entity, UTF-8 kept whole when cut; the Cookie header read strictly and
 * Set-Cookie values written with the attributes sessions rely on.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cookie.h"
#include "html.h"
#include "tap.h"

static char *
render(void (*fn)(struct strbuf *, const char *), const char *s)
{
	struct strbuf sb = STRBUF_INIT;

	fn(&sb, s);
	return strbuf_take(&sb, NULL);
}

static void
test_escape(void)
{
	char *s;

	s = render(html_escape, "<script>alert(\"x\" & 'y')</script>");
	is_str(s, "&lt;script&gt;alert(&quot;x&quot; &amp; &#39;y&#39;)"
	    "&lt;/script&gt;", "the five characters become entities");
	free(s);
	s = render(html_escape, "plain text, café");
	is_str(s, "plain text, café", "other text is left alone");
	free(s);
	s = render(html_escape, NULL);
	is_str(s, "", "NULL is nothing");
	free(s);
}

static void
test_conversions(void)
{
	struct strbuf sb = STRBUF_INIT;
	char *s;

	html(&sb, "<a href=\"/x?q=%u\" title=\"%s\">%r</a> %d %ld %lld %zu 100%%",
	    "a b&c/é", "\"><img onerror=x>", "<b>raw</b>", -3, 40L,
	    (long long)1 << 40, (size_t)7);
	s = strbuf_take(&sb, NULL);
	is_str(s, "<a href=\"/x?q=a%20b%26c%2F%C3%A9\" title=\"&quot;&gt;"
	    "&lt;img onerror=x&gt;\"><b>raw</b></a> -3 40 1099511627776 7 100%",
	    "every conversion");
	free(s);
	html(&sb, "[%s][%r][%u]", NULL, NULL, NULL);
	s = strbuf_take(&sb, NULL);
	is_str(s, "[][][]", "NULL arguments write nothing");
	free(s);
}

static void
test_cut(void)
{
	struct strbuf sb = STRBUF_INIT;
	char *s;

	html_escape_cut(&sb, "ééé<é", 4);
	s = strbuf_take(&sb, NULL);
	is_str(s, "ééé&lt;…", "cut after four characters, none split");
	free(s);
	html_escape_cut(&sb, "short", 10);
	s = strbuf_take(&sb, NULL);
	is_str(s, "short", "nothing cut, no ellipsis");
	free(s);
}

static void
test_cookie_get(void)
{
	char *v, big[COOKIE_MAX_HEADER + 16];

	v = cookie_get("a=1; rally=abc_-DEF; rally-pre=x", "rally");
	is_str(v, "abc_-DEF", "the named cookie");
	free(v);
	v = cookie_get("rally-pre=x;rally=y", "rally");
	is_str(v, "y", "a name that is a prefix of another does not match it");
	free(v);
	v = cookie_get("rally=\"q\"  ", "rally");
	is_str(v, "q", "quotes and trailing blanks go");
	free(v);
	v = cookie_get("rally=first; rally=second", "rally");
	is_str(v, "first", "the first of two");
	free(v);
	ok(cookie_get(NULL, "rally") == NULL, "no header");
	ok(cookie_get("other=1", "rally") == NULL, "absent");
	ok(cookie_get("rally=a b", "rally") == NULL, "a space in the value");
	ok(cookie_get("rally=a\\b", "rally") == NULL, "a backslash");
	ok(cookie_get("rally=\x01", "rally") == NULL, "a control byte");
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	memcpy(big, "rally=", 6);
	ok(cookie_get(big, "rally") == NULL, "an oversized header is ignored");
	memset(big, 'a', COOKIE_MAX_VALUE + 7);
	memcpy(big, "rally=", 6);
	big[COOKIE_MAX_VALUE + 7] = '\0';
	ok(cookie_get(big, "rally") == NULL, "an oversized value");
	big[COOKIE_MAX_VALUE + 6] = '\0';
	v = cookie_get(big, "rally");
	ok(v != NULL && strlen(v) == COOKIE_MAX_VALUE, "the longest value");
	free(v);
}

static void
test_cookie_format(void)
{
	char *c;

	c = cookie_format("rally", "abc", 60, false);
	is_str(c, "rally=abc; Path=/; Max-Age=60; HttpOnly; SameSite=Lax",
	    "a session cookie");
	free(c);
	c = cookie_format("__Host-rally", "", 0, true);
	is_str(c, "__Host-rally=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax; "
	    "Secure", "deleting one over HTTPS");
	free(c);
	c = cookie_format("rally-pre", "x", -1, false);
	is_str(c, "rally-pre=x; Path=/; HttpOnly; SameSite=Lax",
	    "no Max-Age: ends with the browser");
	free(c);
}

int
main(void)
{
	test_escape();
	test_conversions();
	test_cut();
	test_cookie_get();
	test_cookie_format();
	return tap_done();
}
