/* SPDX-License-Identifier: ISC */
/*
 * The words of a Google integration's status (cgi/google-status.c): how
 * long ago, behind by how much, and each error kind as a sentence, never
 * the kind itself or Google's own text.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "google-status.h"
#include "tap.h"

static void
test_ago(void)
{
	static const struct {
		long long s;
		const char *want;
	} cases[] = {
		{ -5, "just now" }, { 0, "just now" }, { 59, "just now" },
		{ 60, "1 minute ago" }, { 119, "1 minute ago" },
		{ 310, "5 minutes ago" }, { 3600, "1 hour ago" },
		{ 7210, "2 hours ago" }, { 86400, "1 day ago" },
		{ 3 * 86400 + 5, "3 days ago" },
	};
	char buf[64];

	for (size_t i = 0; i < nitems(cases); i++) {
		google_status_ago(cases[i].s, buf, sizeof buf);
		ok(strcmp(buf, cases[i].want) == 0, "%lld s: %s (got %s)",
		    cases[i].s, cases[i].want, buf);
	}
}

static void
test_error_words(void)
{
	static const char *const kinds[] = {
		"revoked", "auth", "rate_limited", "quota", "unavailable",
		"not_connected", "gone", "stale", "not_found", "conflict",
		"precondition", "rejected", "malformed", "config", "database",
		"something_new", "",
	};

	ok(strstr(google_status_error_words("revoked"), "sign in again") !=
	    NULL, "revoked: sign in again");
	is_str(google_status_error_words("rate_limited"), "Google is "
	    "rate-limiting us; we will catch up.", "rate_limited");
	is_str(google_status_error_words("quota"),
	    google_status_error_words("rate_limited"), "quota as rate limits");
	for (size_t i = 0; i < nitems(kinds); i++) {
		const char *w = google_status_error_words(kinds[i]);

		ok(w != NULL && w[0] >= 'A' && w[0] <= 'Z' &&
		    w[strlen(w) - 1] == '.' && (kinds[i][0] == '\0' ||
		    strstr(w, kinds[i]) == NULL), "%s: a sentence, not the "
		    "kind", kinds[i]);
	}
	is_str(google_status_error_words("<script>"),
	    google_status_error_words("something_new"), "unknown: general");
}

static struct google_conn
conn(const char *status, const char *error_kind)
{
	struct google_conn c;

	memset(&c, 0, sizeof c);
	strcpy(c.id, "00000000-0000-4000-8000-000000000001");
	c.email = (char *)"ann@gmail.test";
	c.status = (char *)status;
	c.error_kind = (char *)error_kind;
	for (int w = 0; w < 2; w++) {
		c.sync[w].ago = -1;
		c.sync[w].when = (char *)"";
		c.sync[w].lag = -1;
		c.sync[w].backlog = -1;
		c.sync[w].error_kind = (char *)"";
	}
	return c;
}

static char *
render(const struct google_conn *c, int which)
{
	struct strbuf sb = STRBUF_INIT;

	google_status_sync_html(&sb, c, which);
	return strbuf_take(&sb, NULL);
}

static void
test_sync_html(void)
{
	struct google_conn c = conn("active", "");
	char *s;

	s = render(&c, GOOGLE_MAIL);
	is_str(s, "<p>Off.</p>", "off");
	free(s);

	c.sync[GOOGLE_CALENDAR].enabled = true;
	c.sync[GOOGLE_CALENDAR].full_sync = true;
	s = render(&c, GOOGLE_CALENDAR);
	ok(strstr(s, "first sync is under way") != NULL, "first sync");
	free(s);

	c.sync[GOOGLE_CALENDAR].ago = 300;
	c.sync[GOOGLE_CALENDAR].when = (char *)"Tue 01 Dec 2026, 14:05";
	c.sync[GOOGLE_CALENDAR].lag = 7200;
	c.sync[GOOGLE_CALENDAR].backlog = 3;
	c.sync[GOOGLE_CALENDAR].error_kind = (char *)"unavailable";
	s = render(&c, GOOGLE_CALENDAR);
	ok(strstr(s, "Last synced 5 minutes ago") != NULL, "last synced: %s", s);
	ok(strstr(s, "Behind by 2 hours.") != NULL, "behind");
	ok(strstr(s, "3 changes waiting.") != NULL, "backlog");
	ok(strstr(s, "could not be reached") != NULL, "error in words");
	ok(strstr(s, "unavailable") == NULL, "not the kind");
	free(s);

	c.sync[GOOGLE_CALENDAR].lag = 60;
	c.sync[GOOGLE_CALENDAR].backlog = 0;
	s = render(&c, GOOGLE_CALENDAR);
	ok(strstr(s, "Behind") == NULL && strstr(s, "waiting") == NULL,
	    "a small lag and no backlog say nothing");
	free(s);

	c = conn("revoked", "revoked");
	c.sync[GOOGLE_CALENDAR].enabled = true;
	s = render(&c, GOOGLE_CALENDAR);
	ok(strstr(s, "sign in again") != NULL, "revoked connection");
	free(s);

	c = conn("error", "auth");
	c.sync[GOOGLE_MAIL].enabled = true;
	c.sync[GOOGLE_MAIL].ago = 100000;
	c.sync[GOOGLE_MAIL].when = (char *)"<b>";
	s = render(&c, GOOGLE_MAIL);
	ok(strstr(s, "Google refused Rally's access") == NULL &&
	    strstr(s, "Google refused Rally&#39;s access") != NULL,
	    "the connection's error, escaped: %s", s);
	ok(strstr(s, "&lt;b&gt;") != NULL && strstr(s, "<b>") == NULL,
	    "the time escaped");
	free(s);
}

int
main(void)
{
	test_ago();
	test_error_words();
	test_sync_html();
	return tap_done();
}
