/* SPDX-License-Identifier: ISC */
/*
 * GET /privacy: in plain words, what Rally stores and syncs, for how long,
 * who sees it, and where the user exercises their rights (docs/web.md,
 * "Account and privacy").  Public: the footer of every page links to it,
 * signed in or not.  The periods come from the rally.conf this CGI runs
 * with, so the page says what this installation actually does.
 */
#include "config.h"

#include <stdint.h>

#include "page.h"

#define DAY_SEC 86400

/* "14 days", "1 day", "12 hours": a period of rally.conf in words. */
static void
period(struct strbuf *sb, int64_t sec)
{
	long n;

	if (sec >= DAY_SEC) {
		n = (long)((sec + DAY_SEC / 2) / DAY_SEC);
		html(sb, "%ld day%r", n, n == 1 ? "" : "s");
	} else {
		n = (long)((sec + 1800) / 3600);
		html(sb, "%ld hour%r", n, n == 1 ? "" : "s");
	}
}

static void
privacy_stored(struct page *p)
{
	html(&p->sb, "<h2>What Rally stores</h2><ul>"
	    "<li><strong>Your account</strong>: name, email address, time "
	    "zone, role, when you last signed in, and your password, stored "
	    "only as an argon2id hash that cannot be turned back into it.</li>"
	    "<li><strong>Your company</strong>: its name and size, and for "
	    "invoices the billing email, name, address, country and VAT id. "
	    "Never card numbers.</li>"
	    "<li><strong>What you put into the CRM</strong>: activities and "
	    "the mail you write.</li>"
	    "<li><strong>Usage</strong>: which pages you use, to count daily "
	    "use and improve the product, unless you object.</li>"
	    "<li><strong>Sign-in records</strong>: your sessions (only a hash "
	    "of each) and failed attempts (hashed, kept a day), to keep your "
	    "account safe.</li></ul>"
	    "<h2>What Rally syncs from Google</h2>"
	    "<p>Only when you connect a Google account, and only for the parts "
	    "you switch on:</p><ul>"
	    "<li><strong>Calendar</strong>: the events of your primary "
	    "calendar, both ways, so meetings you schedule in Rally appear in "
	    "Google and the other way round.</li>"
	    "<li><strong>Gmail</strong>: your mail, both ways, to read, send "
	    "and organise it in Rally's inbox.</li>"
	    "<li>The address of the Google account, shown on the Google page."
	    "</li></ul><p>Google data is used only for these features: never "
	    "sold, never used for advertising, never used to train models. "
	    "The keys to your Google account (tokens) are stored encrypted, "
	    "and the web pages you are reading cannot open them.</p>"
	    "<h2>Who sees it</h2><p>You. Members of your workspace see the "
	    "activities and mail threads you mark as shared, never the private "
	    "ones; everything is private until you share it. No one "
	    "else.</p>");
}

static void
privacy_periods(struct page *p)
{
	const struct conf *c = &p->cgi->conf;

	html(&p->sb, "<h2>How long Rally keeps it</h2><table><thead><tr>"
	    "<th scope=\"col\">What</th><th scope=\"col\">Kept</th></tr>"
	    "</thead><tbody>"
	    "<tr><td>Google tokens</td><td>While connected; deleted the moment "
	    "you disconnect</td></tr>"
	    "<tr><td>Synced events and mail</td><td>While your account is "
	    "active and the integration is on; deleted within minutes of a "
	    "disconnect</td></tr><tr><td>Raw usage records</td><td>");
	period(&p->sb, c->usage_retention_sec);
	html(&p->sb, ", then only daily counts</td></tr>"
	    "<tr><td>Copies of your data you download</td><td>7 days</td></tr>"
	    "<tr><td>Your account and everything in it</td><td>Until you "
	    "delete it, then at most 30 days</td></tr>"
	    "<tr><td>Backups</td><td>");
	period(&p->sb, c->backup_retention_sec);
	html(&p->sb, "</td></tr></tbody></table>");
}

static void
privacy_rights(struct page *p)
{
	const struct conf *c = &p->cgi->conf;

	html(&p->sb, "<h2>Your rights</h2><ul>"
	    "<li><strong>Access and portability</strong>: download a copy of "
	    "everything Rally holds about you, as JSON, on "
	    "<a href=\"/account\">your account page</a>.</li>"
	    "<li><strong>Rectification</strong>: correct your name, email "
	    "address and time zone, and (owners) the company and billing "
	    "details, on <a href=\"/account\">your account page</a>.</li>"
	    "<li><strong>Objection</strong>: stop usage analytics there too; "
	    "what was recorded is deleted at once.</li>"
	    "<li><strong>Disconnecting Google</strong>: on the "
	    "<a href=\"/integrations\">Google page</a>, or from your Google "
	    "Account; Rally notices and acts the same way.</li>"
	    "<li><strong>Deletion</strong>: "
	    "<a href=\"/account/delete\">delete your account</a>.</li></ul>"
	    "<p>The GDPR applies. You may also complain to your data "
	    "protection authority.</p>"
	    "<h2>Deleting your account</h2><p>When you delete your account "
	    "you are signed out everywhere at once and Google is disconnected. "
	    "For ");
	period(&p->sb, c->deletion_grace_sec);
	html(&p->sb, " you can change your mind by signing in. Then everything "
	    "Rally holds about you is deleted, within ");
	period(&p->sb, c->purge_lag_sec);
	html(&p->sb, ". Backups made before are deleted as they expire, so no "
	    "copy of your data is left anywhere within 30 days of your "
	    "request. Rally keeps only a record that an account was deleted "
	    "and when, naming it by a keyed hash, with no name or address, so "
	    "that a restored backup deletes it again.</p>"
	    "<h2>Backups and security</h2><p>Rally makes an encrypted backup "
	    "every day. Connections to Rally are encrypted in transit; tokens "
	    "and credentials are encrypted or hashed at rest.</p>"
	    "<h2>Notices</h2><p>Rally writes to you by email about your "
	    "account only: when Google access ends, when a deletion is "
	    "scheduled, when a copy of your data is ready, and when a sync "
	    "keeps failing.</p>");
}

static void
privacy(struct cgi *cgi, struct request *req, struct response *resp)
{
	struct page p;

	page_begin(&p, cgi, req, resp, "Privacy", NULL);
	html(&p.sb, "<p>Rally CRM helps sales teams keep their meetings and "
	    "mail in one place. This page says in plain words what it stores, "
	    "for how long, and how you use your rights.</p>");
	privacy_stored(&p);
	privacy_periods(&p);
	privacy_rights(&p);
	page_end(&p, 200);
}

const struct route route_privacy = {
	.method = "GET", .path = "/privacy", .handler = privacy,
	.flags = ROUTE_PAGE,
};
