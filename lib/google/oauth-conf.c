/* SPDX-License-Identifier: ISC */
/*
 * The OAuth client as rally.conf and the client secret file describe it,
 * for rallyd and "rallyctl google connect" (rally.cgi holds no secret and
 * never calls this).
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "google/oauth.h"
#include "secretfile.h"

#define OAUTH_SECRET_CREDENTIAL "google-client-secret"

/* systemd's credential if passed, else the configured file; caller frees. */
static char *
oauth_secret_path(const struct conf *cf)
{
	const char *dir = getenv("CREDENTIALS_DIRECTORY");
	char *path;

	if (dir != NULL && *dir != '\0') {
		path = xasprintf("%s/%s", dir, OAUTH_SECRET_CREDENTIAL);
		if (access(path, F_OK) == 0)
			return path;
		free(path);
	}
	if (cf->google_client_secret_file == NULL ||
	    *cf->google_client_secret_file == '\0')
		return NULL;
	return xstrdup(cf->google_client_secret_file);
}

/* The first line of buf (len bytes) as the secret: printable, no blanks. */
static int
oauth_secret_line(const char *path, char *buf, size_t len, char **secret,
    char **cause)
{
	size_t n = 0;

	while (n < len && buf[n] != '\n')
		n++;
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	if (n == 0)
		return set_cause(cause, "client secret %s is empty", path);
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)buf[i];

		if (ch <= ' ' || ch > 0x7e)
			return set_cause(cause, "client secret %s: the first "
			    "line holds a blank or a control byte", path);
	}
	*secret = xstrndup(buf, n);
	return 0;
}

static int
oauth_read_secret(const char *path, char **secret, char **cause)
{
	char *buf;
	size_t n;
	int rc;

	if (secretfile_read("client secret", path, 0, OAUTH_MAX_SECRET_FILE,
	    &buf, &n, NULL, cause) == -1)
		return -1;
	if (n > OAUTH_MAX_SECRET_FILE)
		rc = set_cause(cause, "client secret %s is larger than %d bytes",
		    path, OAUTH_MAX_SECRET_FILE);
	else
		rc = oauth_secret_line(path, buf, n, secret, cause);
	secure_free(buf, OAUTH_MAX_SECRET_FILE + 1);
	return rc;
}

/* The name of the first [google] setting the client needs that is empty. */
static const char *
oauth_missing_setting(const struct conf *cf)
{
	static const struct {
		const char *name;
		size_t off;
	} need[] = {
		{ "client_id", offsetof(struct conf, google_client_id) },
		{ "redirect_uri", offsetof(struct conf, google_redirect_uri) },
		{ "auth_url", offsetof(struct conf, google_auth_url) },
		{ "token_url", offsetof(struct conf, google_token_url) },
		{ "revoke_url", offsetof(struct conf, google_revoke_url) },
		{ "userinfo_url", offsetof(struct conf, google_userinfo_url) },
	};

	for (size_t i = 0; i < nitems(need); i++) {
		const char *v;

		v = *(char *const *)((const char *)cf + need[i].off);

		if (v == NULL || *v == '\0')
			return need[i].name;
	}
	return NULL;
}

int
oauth_client_from_conf(const struct conf *cf, struct oauth_client *c,
    char **secret_out, char **cause)
{
	const char *missing;
	char *path;
	int rc;

	memset(c, 0, sizeof *c);
	*secret_out = NULL;
	if ((missing = oauth_missing_setting(cf)) != NULL)
		return set_cause(cause, "google.%s is not set", missing);
	if ((path = oauth_secret_path(cf)) == NULL)
		return set_cause(cause, "google.client_secret_file is not set "
		    "(and no %s credential)", OAUTH_SECRET_CREDENTIAL);
	rc = oauth_read_secret(path, secret_out, cause);
	free(path);
	if (rc == -1)
		return -1;
	c->client_id = cf->google_client_id;
	c->client_secret = *secret_out;
	c->redirect_uri = cf->google_redirect_uri;
	c->auth_url = cf->google_auth_url;
	c->token_url = cf->google_token_url;
	c->revoke_url = cf->google_revoke_url;
	c->userinfo_url = cf->google_userinfo_url;
	return 0;
}
