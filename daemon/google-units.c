/* SPDX-License-Identifier: ISC */
/*
 * google-units: what a call costs in Gmail's quota units, the currency of
 * its per-user limit (250 units a second, 15,000 a minute): a message or
 * list read 5, a history page 2, the profile 1, a batchModify 50, a watch
 * and a send 100; a batch what its inner calls cost.  Calls that are not
 * Gmail's cost nothing here; they are paced by the per-connection request
 * bucket alone.
 */
#include "config.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "google-int.h"
#include "conf.h"
#include "util.h"

struct unit_rule {
	const char *method;
	const char *suffix;	/* of the path after users/me/, "" for any */
	const char *prefix;	/* of the path after users/me/ */
	unsigned units;
};

/* First match wins: the specific before the general. */
static const struct unit_rule rules[] = {
	{ "POST", "/send", "messages/", 100 },
	{ "POST", "", "watch", 100 },
	{ "POST", "", "stop", 50 },
	{ "POST", "", "messages/batchModify", 50 },
	{ "POST", "", "messages/batchDelete", 50 },
	{ "GET", "", "profile", 1 },
	{ "GET", "", "labels", 1 },
	{ "GET", "", "history", 2 },
	{ "GET", "", "threads", 10 },
	{ "POST", "", "threads", 10 },
	{ "", "", "messages", 5 },	/* get, list, modify, trash, untrash, attachments */
};

static bool
suffix_of(const char *path, size_t len, const char *suffix)
{
	size_t n = strlen(suffix);

	return n <= len && memcmp(path + len - n, suffix, n) == 0;
}

#define GMAIL_API_SUFFIX "/gmail/v1"

char *
google_gmail_upload_url(const struct conf *c, const char *path)
{
	size_t n = strlen(c->google_gmail_url), s = strlen(GMAIL_API_SUFFIX);

	if (n < s || strcmp(c->google_gmail_url + n - s, GMAIL_API_SUFFIX) != 0)
		return NULL;
	return xasprintf("%.*s/upload%s/%s", (int)(n - s), c->google_gmail_url,
	    GMAIL_API_SUFFIX, path);
}

char *
google_gmail_batch_url(const struct conf *c)
{
	size_t n = strlen(c->google_gmail_url), s = strlen(GMAIL_API_SUFFIX);

	if (n < s || strcmp(c->google_gmail_url + n - s, GMAIL_API_SUFFIX) != 0)
		return NULL;
	return xasprintf("%.*s/batch%s", (int)(n - s), c->google_gmail_url,
	    GMAIL_API_SUFFIX);
}

/* Whether url is Gmail's batch endpoint (any query aside). */
static bool
gmail_batch(const struct conf *c, const char *url)
{
	char *batch = google_gmail_batch_url(c);
	size_t n = batch != NULL ? strlen(batch) : 0;
	bool is = batch != NULL && strncmp(url, batch, n) == 0 &&
	    (url[n] == '\0' || url[n] == '?');

	free(batch);
	return is;
}

/* The path after .../users/me/ of a Gmail URL, API or upload; NULL if none. */
static const char *
gmail_path(const struct conf *c, const char *url)
{
	size_t base = strlen(c->google_gmail_url);
	char *upload;
	const char *path = NULL;

	if (strncmp(url, c->google_gmail_url, base) == 0 &&
	    strncmp(url + base, "/users/me/", 10) == 0)
		return url + base + 10;
	if ((upload = google_gmail_upload_url(c, "users/me/")) != NULL &&
	    strncmp(url, upload, strlen(upload)) == 0)
		path = url + strlen(upload);
	free(upload);
	return path;
}

unsigned
google_gmail_units(const struct conf *c, const char *method, const char *url)
{
	size_t len;
	const char *path, *q;

	/* A batch is priced per inner call (google_call_batch); this is one
	 * call's price, never 0, so a batch never skips the buckets. */
	if (gmail_batch(c, url))
		return 5;
	if ((path = gmail_path(c, url)) == NULL)
		return 0;
	q = strchr(path, '?');
	len = q != NULL ? (size_t)(q - path) : strlen(path);
	for (size_t i = 0; i < nitems(rules); i++) {
		const struct unit_rule *r = &rules[i];

		if ((r->method[0] == '\0' || strcmp(r->method, method) == 0) &&
		    strncmp(path, r->prefix, strlen(r->prefix)) == 0 &&
		    suffix_of(path, len, r->suffix))
			return r->units;
	}
	return 5;	/* anything else of Gmail's: the common price */
}
