/* SPDX-License-Identifier: ISC */
/*
 * rallyctl keys rotate [--reseal-only]: adds a key to the keyring, then
 * re-seals every sealed secret in the database under the newest key.
 *
 * Each value is re-sealed in its own transaction that holds the row with
 * SELECT ... FOR UPDATE, so a daemon writing the same row waits rather
 * than losing its write or ours.  A value that does not open is reported
 * and left alone; the others are still re-sealed and the command exits 1.
 * Running it again (with --reseal-only, to not add yet another key) picks
 * up whatever is still under an older key, e.g. tokens a daemon refreshed
 * with its old keyring before it was reloaded.
 *
 * --backup adds a key to the backup keyring instead: new backups are
 * encrypted under it, older files keep opening with the keys kept beside
 * it, and nothing is re-sealed (backup files are never rewritten).
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "lockfile.h"
#include "rallyctl.h"
#include "seal.h"

#define ROTATE_PAGE 500
/* Adding a key takes milliseconds: a longer wait means something is stuck. */
#define ROTATE_LOCK_WAIT 10

static int cmd_keys_rotate_exec(struct ctl *, int, char **);

const struct cmd_entry cmd_keys_rotate_entry = {
	"keys rotate", "[--reseal-only | --backup] [--json]",
	"add a key to the keyring and re-seal every stored secret under it "
	"(--reseal-only: re-seal under the newest key without adding one; "
	"--backup: add a key to the backup keyring for new backups)",
	cmd_keys_rotate_exec,
};

/*
 * Every sealed column in the schema and how its associated data is formed:
 * (tenant_id, ad_row, column name).  token_revocations keeps the bytes of
 * the connection they came from, so its values are bound to that row.
 */
static const struct sealed_column {
	const char *table;
	const char *column;
	const char *id_type;
	const char *ad_row;
} sealed_columns[] = {
	{ "rally.google_connections", "refresh_token", "uuid", "id" },
	{ "rally.google_connections", "access_token", "uuid", "id" },
	{ "rally.token_revocations", "refresh_token", "bigint", "connection_id" },
	{ "rally.token_revocations", "access_token", "bigint", "connection_id" },
};

struct rotate {
	struct ctl *ctl;
	PGconn *db;
	struct keyring *kr;
	uint32_t newest;
	char newest_hex[16];	/* the key id as bytea input: \x00000002 */
	const struct sealed_column *sc;
	char *sql_page, *sql_lock, *sql_update;
	int64_t resealed, failed;
	struct json_object *columns, *failures;
};

static void
rotate_sql(struct rotate *r)
{
	const struct sealed_column *sc = r->sc;

	free(r->sql_page);
	free(r->sql_lock);
	free(r->sql_update);
	/*
	 * Bytes 2-5 of a sealed value are its key id.  $1 the newest key id,
	 * $2, $3 where the last page ended.
	 */
	r->sql_page = xasprintf("SELECT tenant_id::text, id::text FROM %s"
	    " WHERE %s IS NOT NULL AND substring(%s FROM 2 FOR 4) <> $1::bytea"
	    " AND ($2::uuid IS NULL OR (tenant_id, id) > ($2::uuid, $3::%s))"
	    " ORDER BY tenant_id, id LIMIT %d", sc->table, sc->column,
	    sc->column, sc->id_type, ROTATE_PAGE);
	r->sql_lock = xasprintf("SELECT %s, %s::text FROM %s"
	    " WHERE tenant_id = $1::uuid AND id = $2::%s FOR UPDATE",
	    sc->column, sc->ad_row, sc->table, sc->id_type);
	r->sql_update = xasprintf("UPDATE %s SET %s = $3"
	    " WHERE tenant_id = $1::uuid AND id = $2::%s",
	    sc->table, sc->column, sc->id_type);
}

static void
rotate_failure(struct rotate *r, const char *tenant, const char *id,
    const char *why)
{
	struct json_object *o;

	r->failed++;
	ctl_error(CTL_FAILURE, "keys rotate: %s %s/%s %s: %s", r->sc->table,
	    tenant, id, r->sc->column, why);
	o = json_object_new_object();
	json_object_object_add(o, "table", json_object_new_string(r->sc->table));
	json_object_object_add(o, "column", json_object_new_string(r->sc->column));
	json_object_object_add(o, "tenant_id", json_object_new_string(tenant));
	json_object_object_add(o, "id", json_object_new_string(id));
	json_object_object_add(o, "error", json_object_new_string(why));
	json_object_array_add(r->failures, o);
}

/* Opens a value and seals it again under the newest key; 0 or -1 with *cause. */
static int
reseal_value(struct rotate *r, const struct seal_ad *ad,
    const unsigned char *in, size_t inlen, unsigned char **out,
    size_t *outlen, char **cause)
{
	unsigned char *pt;
	size_t ptlen;
	int rc;

	if (seal_open(r->kr, ad, in, inlen, &pt, &ptlen, cause) == -1)
		return -1;
	rc = seal_seal(r->kr, ad, pt, ptlen, out, outlen, cause);
	secure_free(pt, ptlen);
	return rc;
}

/*
 * Re-seals one value inside the open transaction: 1 re-sealed, 0 nothing to
 * do (gone, or already under the newest key), -1 error (*cause set).
 */
static int
reseal_locked(struct rotate *r, const char *tenant, const char *id,
    char **cause)
{
	const char *params[3] = { tenant, id, NULL };
	int lengths[3] = { 0, 0, 0 }, formats[3] = { 0, 0, 1 };
	struct seal_ad ad = { tenant, NULL, r->sc->column };
	unsigned char *out = NULL;
	size_t outlen;
	uint32_t kid;
	PGresult *res;
	int rc = 0;

	res = db_exec_params(r->db, r->sql_lock, 2, params, NULL, NULL, 1, cause);
	if (res == NULL)
		return -1;
	if (PQntuples(res) == 0 || PQgetisnull(res, 0, 0))
		goto done;
	ad.row_id = PQgetvalue(res, 0, 1);
	if (seal_key_id((unsigned char *)PQgetvalue(res, 0, 0),
	    PQgetlength(res, 0, 0), &kid) == -1) {
		rc = set_cause(cause, "not a sealed value");
		goto done;
	}
	if (kid == r->newest)
		goto done;
	if (reseal_value(r, &ad, (unsigned char *)PQgetvalue(res, 0, 0),
	    PQgetlength(res, 0, 0), &out, &outlen, cause) == -1) {
		rc = -1;
		goto done;
	}
	params[2] = (const char *)out;
	lengths[2] = (int)outlen;
	PQclear(res);
	res = db_exec_params(r->db, r->sql_update, 3, params, lengths, formats,
	    0, cause);
	rc = res == NULL ? -1 : 1;
done:
	free(out);
	PQclear(res);
	return rc;
}

static void
reseal_row(struct rotate *r, const char *tenant, const char *id)
{
	char *cause = NULL;
	int rc;

	if (db_begin(r->db, &cause) == -1) {
		rotate_failure(r, tenant, id, cause);
		free(cause);
		return;
	}
	if ((rc = reseal_locked(r, tenant, id, &cause)) == -1 ||
	    db_commit(r->db, &cause) == -1) {
		db_rollback(r->db, NULL);
		rotate_failure(r, tenant, id, cause);
		free(cause);
		return;
	}
	if (rc == 1)
		r->resealed++;
}

/* One page of rows still under an older key; the number of rows, or -1. */
static int
reseal_page(struct rotate *r, char **last_tenant, char **last_id)
{
	const char *params[3] = { r->newest_hex, *last_tenant, *last_id };
	char *cause = NULL;
	PGresult *res;
	int n;

	res = db_exec(r->db, r->sql_page, 3, params, &cause);
	if (res == NULL) {
		ctl_error(CTL_FAILURE, "keys rotate: %s.%s: %s", r->sc->table,
		    r->sc->column, cause);
		free(cause);
		return -1;
	}
	n = PQntuples(res);
	for (int i = 0; i < n; i++)
		reseal_row(r, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1));
	if (n > 0) {
		free(*last_tenant);
		free(*last_id);
		*last_tenant = xstrdup(PQgetvalue(res, n - 1, 0));
		*last_id = xstrdup(PQgetvalue(res, n - 1, 1));
	}
	PQclear(res);
	return n;
}

/* How many values of the column the newest key seals now; -1 on error. */
static int64_t
count_current(struct rotate *r)
{
	const char *params[1] = { r->newest_hex };
	char *sql, *cause = NULL;
	PGresult *res;
	int64_t n = -1;

	sql = xasprintf("SELECT count(*) FROM %s WHERE %s IS NOT NULL"
	    " AND substring(%s FROM 2 FOR 4) = $1::bytea", r->sc->table,
	    r->sc->column, r->sc->column);
	res = db_exec(r->db, sql, 1, params, &cause);
	free(sql);
	if (res == NULL) {
		ctl_error(CTL_FAILURE, "keys rotate: %s.%s: %s", r->sc->table,
		    r->sc->column, cause);
		free(cause);
		return -1;
	}
	if (parse_int64(PQgetvalue(res, 0, 0), 0, INT64_MAX, &n) == -1)
		n = -1;
	PQclear(res);
	return n;
}

static void
column_report(struct rotate *r, int64_t resealed, int64_t failed,
    int64_t current)
{
	struct json_object *o;

	if (!r->ctl->json) {
		printf("%s.%s: %lld re-sealed, %lld failed, %lld under key %u\n",
		    r->sc->table, r->sc->column, (long long)resealed,
		    (long long)failed, (long long)current, r->newest);
		return;
	}
	o = json_object_new_object();
	json_object_object_add(o, "table", json_object_new_string(r->sc->table));
	json_object_object_add(o, "column", json_object_new_string(r->sc->column));
	json_object_object_add(o, "resealed", json_object_new_int64(resealed));
	json_object_object_add(o, "failed", json_object_new_int64(failed));
	json_object_object_add(o, "current", json_object_new_int64(current));
	json_object_array_add(r->columns, o);
}

/* Re-seals one column of one table; -1 when the column could not be walked. */
static int
reseal_column(struct rotate *r, const struct sealed_column *sc)
{
	int64_t resealed = r->resealed, failed = r->failed, current;
	char *last_tenant = NULL, *last_id = NULL;
	int n;

	r->sc = sc;
	rotate_sql(r);
	while ((n = reseal_page(r, &last_tenant, &last_id)) == ROTATE_PAGE)
		;
	free(last_tenant);
	free(last_id);
	if (n == -1 || (current = count_current(r)) == -1)
		return -1;
	column_report(r, r->resealed - resealed, r->failed - failed, current);
	return 0;
}

/*
 * Adds key newest+1 under <keyring>.lock, held from reading the keyring to
 * renaming the new one into place: two rotations at once would otherwise
 * both write the same id with different keys, and one key would be lost
 * with every secret sealed under it.  An exit status.
 */
static int
add_key_locked(const char *path, uint32_t *id)
{
	char *cause = NULL;
	int fd, rc = 0;

	if ((fd = lockfile_acquire(path, ROTATE_LOCK_WAIT, &cause)) == -1) {
		rc = ctl_error(EX_TEMPFAIL, "keys rotate: %s (is another keys "
		    "rotate running?)", cause);
		free(cause);
		return rc;
	}
	if (keyring_add_key(path, id, &cause) == -1) {
		rc = ctl_error(EX_CONFIG, "keys rotate: %s", cause);
		free(cause);
	}
	lockfile_release(fd);
	return rc;
}

/* Adds a key unless asked not to, then loads the keyring; an exit status. */
static int
rotate_keyring(struct rotate *r, bool add)
{
	const char *path = conf_keyring_path(&r->ctl->conf);
	char *cause = NULL;
	uint32_t id;
	int rc;

	if (add && (rc = add_key_locked(path, &id)) != 0)
		return rc;
	if ((r->kr = keyring_load(path, &cause)) == NULL)
		goto fail;
	r->newest = keyring_newest_id(r->kr);
	snprintf(r->newest_hex, sizeof r->newest_hex, "\\x%08x", r->newest);
	if (add && !r->ctl->json)
		printf("added key %u to %s\n", id, path);
	return 0;
fail:
	rc = ctl_error(EX_CONFIG, "keys rotate: %s", cause);
	free(cause);
	return rc;
}

static int
rotate_report(struct rotate *r, bool added)
{
	struct json_object *o;

	if (!r->ctl->json)
		return 0;
	o = json_object_new_object();
	json_object_object_add(o, "key_id", json_object_new_int64(r->newest));
	json_object_object_add(o, "key_added", json_object_new_boolean(added));
	json_object_object_add(o, "resealed", json_object_new_int64(r->resealed));
	json_object_object_add(o, "failed", json_object_new_int64(r->failed));
	json_object_object_add(o, "columns", json_object_get(r->columns));
	json_object_object_add(o, "failures", json_object_get(r->failures));
	return ctl_print_json(o);
}

static int
rotate(struct ctl *ctl, bool add)
{
	struct rotate r = { .ctl = ctl };
	int rc, broken = 0;

	/* Connect first: a new key with nothing re-sealed under it helps no one. */
	if ((r.db = ctl_db(ctl)) == NULL)
		return EX_UNAVAILABLE;
	if ((rc = rotate_keyring(&r, add)) != 0)
		return rc;
	r.columns = json_object_new_array();
	r.failures = json_object_new_array();
	for (size_t i = 0; i < nitems(sealed_columns); i++)
		if (reseal_column(&r, &sealed_columns[i]) == -1)
			broken++;
	rotate_report(&r, add);
	rc = broken > 0 || r.failed > 0 ? CTL_FAILURE : 0;
	json_object_put(r.columns);
	json_object_put(r.failures);
	free(r.sql_page);
	free(r.sql_lock);
	free(r.sql_update);
	keyring_free(r.kr);
	return rc;
}

/* --backup: a new key for new backup files; old ones keep theirs. */
static int
rotate_backup(struct ctl *ctl)
{
	const char *path = conf_backup_keyring_path(&ctl->conf);
	struct json_object *o;
	uint32_t id;
	int rc;

	if ((rc = add_key_locked(path, &id)) != 0)
		return rc;
	if (!ctl->json) {
		printf("added backup key %u to %s: new backups are encrypted "
		    "under it; keep the older keys to open older files\n", id,
		    path);
		return 0;
	}
	o = json_object_new_object();
	json_object_object_add(o, "backup_keyring", json_object_new_string(path));
	json_object_object_add(o, "key_id", json_object_new_int64(id));
	return ctl_print_json(o);
}

static int
cmd_keys_rotate_exec(struct ctl *ctl, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "reseal-only", no_argument, NULL, 'r' },
		{ "backup", no_argument, NULL, 'b' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	bool add = true, backup = false;
	int ch;

	optind = 0;
	while ((ch = ctl_getopt(&cmd_keys_rotate_entry, argc, argv,
	    longopts)) != -1) {
		if (ch == 'r')
			add = false;
		else if (ch == 'b')
			backup = true;
		else if (ch == 'j')
			ctl->json = true;
		else
			return cmd_usage(&cmd_keys_rotate_entry);
	}
	if (optind != argc || (backup && !add))
		return cmd_usage(&cmd_keys_rotate_entry);
	return backup ? rotate_backup(ctl) : rotate(ctl, add);
}
