/* SPDX-License-Identifier: ISC */
/*
 * rallyctl backup list: the backups rally.backups records, newest first,
 * with their verification and restore check; the files themselves are in
 * backup.dir (pruned ones are gone).
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "db.h"
#include "rallyctl.h"

static int cmd_backup_list_exec(struct ctl *, int, char **);

const struct cmd_entry cmd_backup_list_entry = {
	"backup list", "[--json]",
	"list backups, newest first: status, size, key, verification, "
	"restore check",
	cmd_backup_list_exec,
};

#define BACKUP_SQL_LIST \
	"SELECT file_name, status, " CTL_SQL_TIME("started_at") "," \
	"  size_bytes, key_id, " CTL_SQL_TIME("verified_at") "," \
	"  restore_check, " CTL_SQL_TIME("restore_checked_at") "," \
	"  encode(sha256, 'hex'), plain_bytes, instance," \
	"  coalesce(error, restore_error)" \
	" FROM rally.backups ORDER BY started_at DESC, file_name DESC"

static const char *const list_cols[] = {
	"file", "status", "started_at", "size_bytes", "key_id", "verified_at",
	"restore_check", "restore_checked_at", "sha256", "plain_bytes",
	"instance", "error",
};

static int
print_json(const PGresult *res)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "backups",
	    ctl_json_rows(res, list_cols, "sssiissssisr"));
	return ctl_print_json(o);
}

static int
list(struct ctl *ctl)
{
	static const char *const h[] = {
		"FILE", "STATUS", "STARTED", "SIZE", "KEY", "VERIFIED",
		"RESTORE CHECK", "CHECKED", "SHA-256", "DUMP BYTES", "BY", "ERROR",
	};
	char *cause = NULL;
	PGresult *res;
	PGconn *db;
	int rc = 0;

	if ((db = ctl_db(ctl)) == NULL)
		return EX_UNAVAILABLE;
	if ((res = db_exec(db, BACKUP_SQL_LIST, 0, NULL, &cause)) == NULL) {
		rc = ctl_error(CTL_FAILURE, "backup list: %s", cause);
		free(cause);
		return rc;
	}
	if (ctl->json)
		rc = print_json(res);
	else
		ctl_print_table(res, h);
	PQclear(res);
	return rc;
}

static int
cmd_backup_list_exec(struct ctl *ctl, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	optind = 0;
	while ((ch = ctl_getopt(&cmd_backup_list_entry, argc, argv,
	    longopts)) != -1) {
		if (ch != 'j')
			return cmd_usage(&cmd_backup_list_entry);
		ctl->json = true;
	}
	if (optind != argc)
		return cmd_usage(&cmd_backup_list_entry);
	return list(ctl);
}
