/* SPDX-License-Identifier: ISC */
/*
 * rallyctl backup now: makes a backup in this process, as rallyd's daily
 * job does (lib/backup-run.h): pg_dump through zstd and the encrypted
 * format into backup.dir, read back and checked, recorded in
 * rally.backups, then the backups older than backup.retention deleted.
 * Another backup running (rallyd's or another rallyctl's) holds the
 * backup lock: exit EX_TEMPFAIL, nothing written.
 */
#include "config.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "backup-run.h"
#include "cancel.h"
#include "keyring.h"
#include "rallyctl.h"

static int cmd_backup_now_exec(struct ctl *, int, char **);

const struct cmd_entry cmd_backup_now_entry = {
	"backup now", "[--json]",
	"make an encrypted backup in backup.dir now, verify it and apply "
	"backup.retention",
	cmd_backup_now_exec,
};

/* Its flag only: the backup stops at its next read (lib/cancel.h). */
static struct cancel stop = CANCEL_INITIALIZER;

static void
cancel_handler(int sig)
{
	(void)sig;
	stop.requested = 1;
}

static void
progress(void *arg, uint64_t dump, uint64_t file)
{
	(void)arg;
	fprintf(stderr, "\rdumped %llu MiB, wrote %llu MiB ",
	    (unsigned long long)(dump >> 20), (unsigned long long)(file >> 20));
}

static int
report(const struct ctl *ctl, const struct backup_result *res)
{
	struct json_object *o;

	if (!ctl->json) {
		printf("backup %s/%s: %llu bytes (dump %llu bytes), key %u, "
		    "%llu chunks, verified; %.1f s; %d old backup%s deleted\n",
		    ctl->conf.backup_dir, res->name,
		    (unsigned long long)res->size,
		    (unsigned long long)res->plain_bytes, res->key_id,
		    (unsigned long long)res->chunks, res->seconds, res->pruned,
		    res->pruned == 1 ? "" : "s");
		return 0;
	}
	o = json_object_new_object();
	json_object_object_add(o, "id", json_object_new_string(res->id));
	json_object_object_add(o, "file", json_object_new_string(res->name));
	json_object_object_add(o, "dir",
	    json_object_new_string(ctl->conf.backup_dir));
	json_object_object_add(o, "size_bytes", json_object_new_int64(
	    (int64_t)res->size));
	json_object_object_add(o, "plain_bytes", json_object_new_int64(
	    (int64_t)res->plain_bytes));
	json_object_object_add(o, "sha256", json_object_new_string(res->sha256));
	json_object_object_add(o, "key_id", json_object_new_int64(res->key_id));
	json_object_object_add(o, "chunks", json_object_new_int64(
	    (int64_t)res->chunks));
	json_object_object_add(o, "seconds", json_object_new_double(res->seconds));
	json_object_object_add(o, "dump_seconds",
	    json_object_new_double(res->dump_seconds));
	json_object_object_add(o, "verify_seconds",
	    json_object_new_double(res->verify_seconds));
	json_object_object_add(o, "pruned", json_object_new_int(res->pruned));
	json_object_object_add(o, "row_counts", json_object_get(res->row_counts));
	return ctl_print_json(o);
}

static int
backup_now(struct ctl *ctl)
{
	struct backup_opts o = { .conf = &ctl->conf, .cancel = &stop };
	struct backup_result res;
	char *cause = NULL, *instance;
	enum backup_status st;
	int rc;

	if ((o.kr = ctl_backup_keyring(ctl, "backup now")) == NULL)
		return EX_CONFIG;
	instance = xasprintf("rallyctl:%ld", (long)getpid());
	o.instance = instance;
	if (isatty(STDERR_FILENO) && !ctl->json)
		o.progress = progress;
	signal(SIGINT, cancel_handler);
	signal(SIGTERM, cancel_handler);
	st = backup_run(&o, &res, &cause);
	if (o.progress != NULL)
		fputc('\n', stderr);
	if (st == BACKUP_OK)
		rc = report(ctl, &res);
	else {
		rc = ctl_error(st == BACKUP_BUSY ? EX_TEMPFAIL : CTL_FAILURE,
		    "backup now: %s", cause);
		free(cause);
	}
	backup_result_clear(&res);
	keyring_free((struct keyring *)o.kr);
	free(instance);
	return rc;
}

static int
cmd_backup_now_exec(struct ctl *ctl, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	optind = 0;
	while ((ch = ctl_getopt(&cmd_backup_now_entry, argc, argv,
	    longopts)) != -1) {
		if (ch != 'j')
			return cmd_usage(&cmd_backup_now_entry);
		ctl->json = true;
	}
	if (optind != argc)
		return cmd_usage(&cmd_backup_now_entry);
	return backup_now(ctl);
}
