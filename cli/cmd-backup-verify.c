/* SPDX-License-Identifier: ISC */
/*
 * rallyctl backup verify FILE: opens every chunk of a backup file with the
 * backup keyring and decompresses it to the end, keeping nothing, then
 * compares the file's size and SHA-256 with those rally.backups recorded
 * under its name.  The chunks need no database, so a copy can be checked
 * wherever it is stored: with no database reachable, or no record of that
 * name, it says so and the chunks alone decide.  Exit 0 when the whole
 * file authenticates and matches its record (or has none), EX_DATAERR
 * with the first fault otherwise.
 */
#include "config.h"

#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backup-file.h"
#include "db.h"
#include "keyring.h"
#include "log.h"
#include "rallyctl.h"

static int cmd_backup_verify_exec(struct ctl *, int, char **);

const struct cmd_entry cmd_backup_verify_entry = {
	"backup verify", "[--json] FILE",
	"check that every chunk of a backup file authenticates under the "
	"backup keyring, and that the file is the one rally.backups recorded "
	"under its name (the chunks need no database)",
	cmd_backup_verify_exec,
};

/*
 * The record of the file's name first, then any record of the same bytes
 * (the file may be another backup renamed).  $1 name, $2 SHA-256 in hex.
 */
#define VERIFY_SQL_RECORD \
	"SELECT file_name, status, size_bytes, encode(sha256, 'hex')," \
	"  coalesce(error, '')" \
	" FROM rally.backups" \
	" WHERE tenant_id = '00000000-0000-0000-0000-000000000000'" \
	"  AND (file_name = $1 OR sha256 = decode($2, 'hex'))" \
	" ORDER BY file_name = $1 DESC, started_at DESC LIMIT 2"

enum record_match {
	RECORD_MATCHES,		/* the record of its name: same size and hash */
	RECORD_NONE,		/* no record of its name (note says more) */
	RECORD_UNREACHABLE,	/* no database to ask (note says why) */
	RECORD_DIFFERS,		/* not what its record says: a fault */
};

/* What verify found: the file's figures and how they compare with its record. */
struct verified {
	const char *path;
	const char *name;
	struct backup_reader_stats st;
	char sha[65];
	double secs;
	enum record_match match;
	char *note;		/* a sentence about the record (owned) */
};

static const char *const match_names[] = {
	"matches", "none", "unreachable", "differs",
};

/* The record of res's row 0 said of a file that is not that backup. */
static void
record_differs(struct verified *v, const PGresult *res, int same_bytes_row)
{
	const char *size = PQgetvalue(res, 0, 2), *sha = PQgetvalue(res, 0, 3);
	char *also;

	if (same_bytes_row >= 0)
		also = xasprintf("it is byte for byte the backup recorded as %s",
		    PQgetvalue(res, same_bytes_row, 0));
	else
		also = xstrdup("it is another backup renamed, or a copy of one "
		    "not recorded here");
	v->match = RECORD_DIFFERS;
	v->note = xasprintf("every chunk authenticates, but this is not the "
	    "backup recorded as %s: recorded %s bytes, SHA-256 %s; the file "
	    "has %llu bytes, SHA-256 %s (%s)", v->name,
	    *size != '\0' ? size : "no", *sha != '\0' ? sha : "none",
	    (unsigned long long)v->st.file_bytes, v->sha, also);
	free(also);
}

/* The record of the file's name is row 0 of res. */
static void
compare_named(struct verified *v, const PGresult *res)
{
	const char *status = PQgetvalue(res, 0, 1);
	char size[24], *error;
	int same = PQntuples(res) > 1 ? 1 : -1;

	snprintf(size, sizeof size, "%llu", (unsigned long long)v->st.file_bytes);
	if (strcmp(status, "complete") != 0 && strcmp(status, "pruned") != 0) {
		error = log_redact(PQgetvalue(res, 0, 4));
		v->match = RECORD_DIFFERS;
		v->note = xasprintf("every chunk authenticates, but the backup "
		    "recorded as %s is %s, not complete%s%s", v->name, status,
		    *error != '\0' ? ": " : "", error);
		free(error);
	} else if (strcmp(PQgetvalue(res, 0, 2), size) != 0 ||
	    strcmp(PQgetvalue(res, 0, 3), v->sha) != 0)
		record_differs(v, res, same);
	else {
		v->match = RECORD_MATCHES;
		v->note = xasprintf("size and SHA-256 as recorded for %s%s",
		    v->name, strcmp(status, "pruned") == 0 ? " (recorded as "
		    "pruned: this copy outlived backup.retention)" : "");
	}
}

static void
compare_record(struct verified *v, const PGresult *res)
{
	if (PQntuples(res) > 0 && strcmp(PQgetvalue(res, 0, 0), v->name) == 0)
		compare_named(v, res);
	else if (PQntuples(res) > 0) {
		v->match = RECORD_NONE;
		v->note = xasprintf("no record of %s, but the file is byte for "
		    "byte the backup recorded as %s", v->name,
		    PQgetvalue(res, 0, 0));
	} else {
		v->match = RECORD_NONE;
		v->note = xasprintf("no record of %s in rally.backups (a copy "
		    "from another installation, or its record is gone): only "
		    "its chunks were checked", v->name);
	}
}

/* Looks the file up in rally.backups; a database out of reach is no fault. */
static void
check_record(struct ctl *ctl, struct verified *v)
{
	const char *params[] = { v->name, v->sha };
	char *cause = NULL;
	PGresult *res;
	PGconn *db;

	if ((db = db_connect(conf_backup_conninfo(&ctl->conf), &cause)) == NULL ||
	    (res = db_exec(db, VERIFY_SQL_RECORD, 2, params, &cause)) == NULL) {
		v->match = RECORD_UNREACHABLE;
		v->note = xasprintf("not compared with its record (%s): only "
		    "its chunks were checked", cause);
		free(cause);
		db_close(db);
		return;
	}
	compare_record(v, res);
	PQclear(res);
	db_close(db);
}

static int
report(const struct ctl *ctl, const struct verified *v)
{
	double mbps = v->secs > 0 ? (double)v->st.plain_bytes / 1e6 / v->secs : 0;
	struct json_object *o;

	if (!ctl->json) {
		printf("%s: ok, key %u, %llu chunks, %llu bytes, dump %llu "
		    "bytes, sha256 %s, %.0f MB/s\n", v->path, v->st.key_id,
		    (unsigned long long)v->st.chunks,
		    (unsigned long long)v->st.file_bytes,
		    (unsigned long long)v->st.plain_bytes, v->sha, mbps);
		printf("%s: record: %s\n", v->path, v->note);
		return 0;
	}
	o = json_object_new_object();
	json_object_object_add(o, "file", json_object_new_string(v->path));
	json_object_object_add(o, "ok", json_object_new_boolean(1));
	json_object_object_add(o, "key_id", json_object_new_int64(v->st.key_id));
	json_object_object_add(o, "chunks", json_object_new_int64(
	    (int64_t)v->st.chunks));
	json_object_object_add(o, "size_bytes", json_object_new_int64(
	    (int64_t)v->st.file_bytes));
	json_object_object_add(o, "plain_bytes", json_object_new_int64(
	    (int64_t)v->st.plain_bytes));
	json_object_object_add(o, "sha256", json_object_new_string(v->sha));
	json_object_object_add(o, "seconds", json_object_new_double(v->secs));
	json_object_object_add(o, "mb_per_s", json_object_new_double(mbps));
	json_object_object_add(o, "record",
	    json_object_new_string(match_names[v->match]));
	json_object_object_add(o, "record_note", json_object_new_string(v->note));
	return ctl_print_json(o);
}

/* The chunks first: a file that does not authenticate is not looked up. */
static int
verify_file(struct ctl *ctl, const struct keyring *kr, struct verified *v)
{
	unsigned char sha[32];
	char *cause = NULL;
	uint64_t t0 = now_usec();
	int rc;

	if (backup_file_read(v->path, kr, NULL, NULL, &v->st, sha,
	    &cause) == -1) {
		rc = ctl_error(EX_DATAERR, "backup verify: %s", cause);
		free(cause);
		return rc;
	}
	v->secs = (double)(now_usec() - t0) / 1e6;
	hex_encode(sha, sizeof sha, v->sha);
	check_record(ctl, v);
	if (v->match == RECORD_DIFFERS)
		return ctl_error(EX_DATAERR, "backup verify: %s: %s", v->path,
		    v->note);
	return report(ctl, v);
}

static int
verify(struct ctl *ctl, const char *path)
{
	struct verified v = { .path = path };
	char *copy = xstrdup(path);
	struct keyring *kr;
	int rc;

	if ((kr = ctl_backup_keyring(ctl, "backup verify")) == NULL) {
		free(copy);
		return EX_CONFIG;
	}
	v.name = basename(copy);
	rc = verify_file(ctl, kr, &v);
	free(v.note);
	free(copy);
	keyring_free(kr);
	return rc;
}

static int
cmd_backup_verify_exec(struct ctl *ctl, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	optind = 0;
	while ((ch = ctl_getopt(&cmd_backup_verify_entry, argc, argv,
	    longopts)) != -1) {
		if (ch != 'j')
			return cmd_usage(&cmd_backup_verify_entry);
		ctl->json = true;
	}
	if (optind != argc - 1)
		return cmd_usage(&cmd_backup_verify_entry);
	return verify(ctl, argv[optind]);
}
