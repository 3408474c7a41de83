/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pgloop.h"
#include "push-secret.h"
#include "pushtoken.h"
#include "rallyd.h"

/* Changes the row only when the hash changed, so the log says when it did. */
#define PUSH_SECRET_UPSERT \
	"INSERT INTO rally.push_secrets (name, sha256)" \
	" VALUES ('gmail', $1::bytea) " \
	"ON CONFLICT (tenant_id, name) DO UPDATE " \
	"SET sha256 = excluded.sha256, updated_at = now() " \
	"WHERE push_secrets.sha256 <> excluded.sha256"

void
push_secret_load(struct rallyd *d)
{
	const char *path = d->conf.google_push_token_file;
	char *secret = NULL, *cause = NULL;
	size_t len;

	if (*path == '\0') {
		log_debug("google.push_token_file is not set: the Gmail push "
		    "secret in the database is left as it is");
		return;
	}
	if (pushtoken_read(path, &secret, &len, &cause) == -1) {
		log_warnx("google.push_token_file: %s%s", cause,
		    d->push_sha256_set ? "; keeping the secret loaded before" :
		    "; Gmail pushes are not acted on until it is fixed");
		free(cause);
		return;
	}
	pushtoken_sha256(secret, len, d->push_sha256);
	d->push_sha256_set = true;
	pushtoken_free(secret);
}

static void
publish_cb(const PGresult *res, const char *error, void *arg)
{
	if (res == NULL) {
		/* A reconnect publishes again. */
		log_warnx("storing the Gmail push secret's hash: %s", error);
		return;
	}
	if (strcmp(PQcmdTuples((PGresult *)res), "0") == 0)
		log_debug("the Gmail push secret's hash is up to date");
	else
		log_info("stored the hash of google.push_token_file for Gmail "
		    "pushes");
}

void
push_secret_publish(struct rallyd *d)
{
	char hex[2 + 2 * PUSH_TOKEN_SHA256_LEN + 1];
	const char *params[] = { hex };

	if (!d->push_sha256_set || !pgloop_connected(d->db))
		return;
	memcpy(hex, "\\x", 2);
	for (size_t i = 0; i < PUSH_TOKEN_SHA256_LEN; i++)
		snprintf(hex + 2 + 2 * i, 3, "%02x", d->push_sha256[i]);
	pgloop_query(d->db, PUSH_SECRET_UPSERT, 1, params, publish_cb, d);
}
