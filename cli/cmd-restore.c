/* SPDX-License-Identifier: ISC */
/*
 * rallyctl restore FILE --dbname NAME: restores a backup file into the
 * new, empty database NAME, all or nothing, and re-applies the deletion
 * ledger of the live database (backup.conninfo) in the same transaction
 * (lib/backup-restore.h).  When the live database is gone,
 * --ledger-from-backup-only says so: the file's own ledger is re-applied.
 */
#include "config.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backup-restore.h"
#include "db.h"
#include "keyring.h"
#include "rallyctl.h"

#define RESTORE_MAX_DBNAME 63

static int cmd_restore_exec(struct ctl *, int, char **);

const struct cmd_entry cmd_restore_entry = {
	"restore", "--dbname NAME [--ledger-from-backup-only] [--json] FILE",
	"restore a backup file into the new, empty database NAME and re-apply "
	"the live database's deletion ledger",
	cmd_restore_exec,
};

static void
progress(void *arg, uint64_t file, uint64_t plain)
{
	(void)arg;
	(void)file;
	fprintf(stderr, "\rrestored %llu MiB of dump ",
	    (unsigned long long)(plain >> 20));
}

static int
report(const struct ctl *ctl, const char *dbname,
    const struct restore_result *res)
{
	struct json_object *o;
	long tables = 0, rows = 0;

	json_object_object_foreach(res->restored, k, v) {
		(void)k;
		tables++;
		rows += (long)json_object_get_int64(v);
	}
	if (!ctl->json) {
		printf("restored into %s: %ld tables, %ld rows, %llu bytes of "
		    "dump, %ld ledger entries re-applied, %.1f s\n", dbname,
		    tables, rows, (unsigned long long)res->st.plain_bytes,
		    res->ledger_entries, res->seconds);
		return 0;
	}
	o = json_object_new_object();
	json_object_object_add(o, "dbname", json_object_new_string(dbname));
	json_object_object_add(o, "key_id", json_object_new_int64(res->st.key_id));
	json_object_object_add(o, "chunks", json_object_new_int64(
	    (int64_t)res->st.chunks));
	json_object_object_add(o, "plain_bytes", json_object_new_int64(
	    (int64_t)res->st.plain_bytes));
	json_object_object_add(o, "ledger_entries",
	    json_object_new_int64(res->ledger_entries));
	json_object_object_add(o, "dumped_rows", json_object_get(res->dumped));
	json_object_object_add(o, "restored_rows",
	    json_object_get(res->restored));
	json_object_object_add(o, "seconds", json_object_new_double(res->seconds));
	return ctl_print_json(o);
}

/* The live database whose ledger is re-applied; NULL after printing why. */
static PGconn *
source_db(struct ctl *ctl)
{
	char *cause = NULL;
	PGconn *db;

	if ((db = db_connect(conf_backup_conninfo(&ctl->conf), &cause)) != NULL)
		return db;
	ctl_error(EX_UNAVAILABLE, "restore: the live database, whose deletion "
	    "ledger must be re-applied, cannot be reached: %s (if it is lost, "
	    "--ledger-from-backup-only re-applies the backup's own)", cause);
	free(cause);
	return NULL;
}

static int
restore(struct ctl *ctl, const char *path, const char *dbname,
    bool own_ledger)
{
	struct restore_opts o = { .conf = &ctl->conf, .path = path,
		.dbname = dbname, .reapply = true };
	struct restore_result res;
	char *cause = NULL;
	int rc;

	if ((o.kr = ctl_backup_keyring(ctl, "restore")) == NULL)
		return EX_CONFIG;
	if (!own_ledger && (o.source = source_db(ctl)) == NULL) {
		keyring_free((struct keyring *)o.kr);
		return EX_UNAVAILABLE;
	}
	if (isatty(STDERR_FILENO) && !ctl->json)
		o.progress = progress;
	signal(SIGPIPE, SIG_IGN);
	rc = backup_restore(&o, &res, &cause);
	if (o.progress != NULL)
		fputc('\n', stderr);
	if (rc == 0)
		rc = report(ctl, dbname, &res);
	else {
		rc = ctl_error(EX_DATAERR, "restore: %s; nothing was restored "
		    "into %s", cause, dbname);
		free(cause);
	}
	restore_result_clear(&res);
	db_close(o.source);
	keyring_free((struct keyring *)o.kr);
	return rc;
}

static int
cmd_restore_exec(struct ctl *ctl, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "dbname", required_argument, NULL, 'd' },
		{ "ledger-from-backup-only", no_argument, NULL, 'l' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dbname = NULL;
	bool own_ledger = false;
	int ch;

	optind = 0;
	while ((ch = ctl_getopt(&cmd_restore_entry, argc, argv,
	    longopts)) != -1) {
		if (ch == 'd')
			dbname = optarg;
		else if (ch == 'l')
			own_ledger = true;
		else if (ch == 'j')
			ctl->json = true;
		else
			return cmd_usage(&cmd_restore_entry);
	}
	if (optind != argc - 1 || dbname == NULL)
		return cmd_usage(&cmd_restore_entry);
	if (*dbname == '\0' || strlen(dbname) > RESTORE_MAX_DBNAME)
		return ctl_error(EX_USAGE, "restore: --dbname must be 1 to %d "
		    "bytes", RESTORE_MAX_DBNAME);
	return restore(ctl, argv[optind], dbname, own_ledger);
}
