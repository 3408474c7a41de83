/* SPDX-License-Identifier: ISC */
/*
 * The functions runner (lib/migrate.h): every file of sql/functions is
 * re-applied on every migrate, all in one transaction, and the digest of
 * the set is recorded so `rallyctl status` can detect drift.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "db.h"
#include "migrate.h"

#define FUNCTIONS_SQL_RECORD \
	"INSERT INTO rally.schema_functions (id, digest, files)" \
	" VALUES (1, $1, $2::text[]) ON CONFLICT (id) DO UPDATE SET" \
	" digest = excluded.digest, files = excluded.files, applied_at = now()"

char *
db_functions_dir(const char *arg, const char *migrations_dir)
{
	const char *e, *m = migrations_dir;
	size_t len = strlen(m);

	if (arg != NULL)
		return xstrdup(arg);
	if ((e = getenv("RALLY_FUNCTIONS_DIR")) != NULL && *e != '\0')
		return xstrdup(e);
	while (len > 1 && m[len - 1] == '/')
		len--;
	while (len > 0 && m[len - 1] != '/')
		len--;
	if (len == 0)
		return xstrdup("functions");
	if (len == 1)
		return xstrdup("/functions");
	return xasprintf("%.*s/functions", (int)(len - 1), m);
}

void
db_functions_free(struct db_functions *fs)
{
	if (fs == NULL)
		return;
	for (size_t i = 0; i < fs->n; i++)
		free(fs->v[i].sql);
	free(fs->v);
	free(fs);
}

/* "<area>.sql", area of [a-z0-9-] not starting with '-'. */
static bool
functions_valid_name(const char *name)
{
	size_t len = strlen(name);

	if (len > DB_MIGRATION_MAX_NAME || len < 5 ||
	    strcmp(name + len - 4, ".sql") != 0)
		return false;
	for (size_t i = 0; i < len - 4; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    (c == '-' && i > 0)))
			return false;
	}
	return true;
}

static int
functions_name_cmp(const void *a, const void *b)
{
	const struct db_functions_file *x = a, *y = b;

	return strcmp(x->name, y->name);
}

/* Every entry but dotfiles, sorted by name (bytes); names checked later. */
static int
functions_scan(const char *dir, struct db_functions *fs, char **cause)
{
	struct dirent *de;
	DIR *d;
	int error;

	if ((d = opendir(dir)) == NULL)
		return set_cause(cause, "functions directory %s: %s "
		    "(--functions-dir or RALLY_FUNCTIONS_DIR names another)",
		    dir, strerror(errno));
	while ((errno = 0, de = readdir(d)) != NULL) {
		struct db_functions_file *f;

		if (de->d_name[0] == '.')
			continue;
		if (strlen(de->d_name) > DB_MIGRATION_MAX_NAME) {
			closedir(d);
			return set_cause(cause, "%s: not a functions file "
			    "name (longer than %d)", de->d_name,
			    DB_MIGRATION_MAX_NAME);
		}
		fs->v = xreallocarray(fs->v, fs->n + 1, sizeof *fs->v);
		f = &fs->v[fs->n++];
		snprintf(f->name, sizeof f->name, "%s", de->d_name);
		f->sql = NULL;
	}
	error = errno;
	closedir(d);
	if (error != 0)
		return set_cause(cause, "%s: %s", dir, strerror(error));
	qsort(fs->v, fs->n, sizeof *fs->v, functions_name_cmp);
	return 0;
}

/* Checks each name and file, and reads it. */
static int
functions_read(const char *dir, struct db_functions *fs, char **cause)
{
	int dfd, rc = 0;
	DIR *d;

	if ((d = opendir(dir)) == NULL)
		return set_cause(cause, "%s: %s", dir, strerror(errno));
	dfd = dirfd(d);
	for (size_t i = 0; rc == 0 && i < fs->n; i++) {
		struct db_functions_file *f = &fs->v[i];

		if (!functions_valid_name(f->name))
			rc = set_cause(cause, "%s: not a functions file name "
			    "(<area>.sql, area in a-z 0-9 -)", f->name);
		else if (migrate_check_file(dfd, f->name, cause) == -1 ||
		    (f->sql = migrate_read(dir, f->name, cause)) == NULL)
			rc = -1;
	}
	closedir(d);
	return rc;
}

/* SHA-256 over name, NUL, contents, NUL per file (as functions_digest()). */
static int
functions_hash(struct db_functions *fs, char **cause)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx;
	bool good;

	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return set_cause(cause, "functions digest: out of memory");
	good = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1;
	for (size_t i = 0; good && i < fs->n; i++)
		good = EVP_DigestUpdate(ctx, fs->v[i].name,
		    strlen(fs->v[i].name) + 1) == 1 &&
		    EVP_DigestUpdate(ctx, fs->v[i].sql,
		    strlen(fs->v[i].sql) + 1) == 1;
	good = good && EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 &&
	    mdlen * 2 == DB_FUNCTIONS_DIGEST_LEN;
	EVP_MD_CTX_free(ctx);
	if (!good)
		return set_cause(cause, "functions digest: SHA-256 failed");
	for (unsigned int i = 0; i < mdlen; i++)
		snprintf(fs->digest + 2 * i, 3, "%02x", md[i]);
	return 0;
}

struct db_functions *
db_functions_load(const char *dir, char **cause)
{
	struct db_functions *fs = xcalloc(1, sizeof *fs);

	if (functions_scan(dir, fs, cause) == -1 ||
	    functions_read(dir, fs, cause) == -1 ||
	    functions_hash(fs, cause) == -1) {
		db_functions_free(fs);
		return NULL;
	}
	return fs;
}

/* Runs every file inside the open transaction. */
static int
functions_run(PGconn *conn, const struct db_functions *fs, char **cause)
{
	/* A function may name a table or function another file defines. */
	if (db_command(conn, "SET LOCAL check_function_bodies = off", 0, NULL,
	    cause) == -1)
		return -1;
	/* Each file sets its own role (SET LOCAL ROLE): undone after it. */
	for (size_t i = 0; i < fs->n; i++) {
		char *what = xasprintf("functions/%s", fs->v[i].name);
		int rc;

		rc = migrate_exec_file(conn, what, fs->v[i].sql, cause);
		free(what);
		if (rc == -1 || db_command(conn, "RESET ROLE", 0, NULL,
		    cause) == -1)
			return -1;
	}
	return 0;
}

/* The files' names as a text[] literal: the names need no quoting. */
static char *
functions_array(const struct db_functions *fs)
{
	size_t len = 3;
	char *a;

	for (size_t i = 0; i < fs->n; i++)
		len += strlen(fs->v[i].name) + 1;
	a = xmalloc(len);
	strcpy(a, "{");
	for (size_t i = 0; i < fs->n; i++) {
		if (i > 0)
			strcat(a, ",");
		strcat(a, fs->v[i].name);
	}
	strcat(a, "}");
	return a;
}

/* rally.schema_functions (migration 0012) is rally_owner's. */
static int
functions_record(PGconn *conn, const struct db_functions *fs, char **cause)
{
	char *files = functions_array(fs);
	const char *params[2] = { fs->digest, files };
	int rc;

	rc = db_command(conn, "SET LOCAL ROLE rally_owner", 0, NULL, cause);
	if (rc == 0)
		rc = db_command(conn, FUNCTIONS_SQL_RECORD, 2, params, cause);
	free(files);
	return rc;
}

int
db_functions_apply(PGconn *conn, const struct db_functions *fs, char **cause)
{
	char *inner;

	if (PQtransactionStatus(conn) != PQTRANS_IDLE)
		return set_cause(cause, "functions need a connection outside "
		    "any transaction");
	if (migrate_lock(conn, cause) == -1)
		return -1;
	if (functions_run(conn, fs, cause) == -1) {
		db_rollback(conn, NULL);
		return -1;
	}
	if (functions_record(conn, fs, cause) == -1 ||
	    db_commit(conn, cause) == -1) {
		db_rollback(conn, NULL);
		inner = *cause;
		set_cause(cause, "functions: recording them: %s", inner);
		free(inner);
		return -1;
	}
	return 0;
}

int
db_functions_recorded(PGconn *conn, char **digest, char **cause)
{
	PGresult *res;
	bool exists;

	*digest = NULL;
	res = db_exec(conn, "SELECT to_regclass('rally.schema_functions')"
	    " IS NOT NULL", 0, NULL, cause);
	if (res == NULL)
		return -1;
	exists = PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	if (!exists)
		return 0;
	res = db_exec(conn, "SELECT digest FROM rally.schema_functions"
	    " WHERE id = 1", 0, NULL, cause);
	if (res == NULL)
		return -1;
	if (PQntuples(res) == 1)
		*digest = xstrdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return 0;
}
