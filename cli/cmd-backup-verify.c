/* SPDX-License-Identifier: ISC */
/*
 * rallyctl backup verify FILE: opens every chunk of a backup file with the
 * backup keyring and decompresses it to the end, keeping nothing; needs no
 * database, so a copy can be checked wherever it is stored.  Exit 0 when
 * the whole file authenticates, EX_DATAERR with the first fault otherwise.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "backup-file.h"
#include "keyring.h"
#include "rallyctl.h"

static int cmd_backup_verify_exec(struct ctl *, int, char **);

const struct cmd_entry cmd_backup_verify_entry = {
	"backup verify", "[--json] FILE",
	"check that every chunk of a backup file authenticates under the "
	"backup keyring (no database needed)",
	cmd_backup_verify_exec,
};

static int
report(const struct ctl *ctl, const char *path,
    const struct backup_reader_stats *st, const char *sha, double secs)
{
	double mbps = secs > 0 ? (double)st->plain_bytes / 1e6 / secs : 0;
	struct json_object *o;

	if (!ctl->json) {
		printf("%s: ok, key %u, %llu chunks, %llu bytes, dump %llu "
		    "bytes, sha256 %s, %.0f MB/s\n", path, st->key_id,
		    (unsigned long long)st->chunks,
		    (unsigned long long)st->file_bytes,
		    (unsigned long long)st->plain_bytes, sha, mbps);
		return 0;
	}
	o = json_object_new_object();
	json_object_object_add(o, "file", json_object_new_string(path));
	json_object_object_add(o, "ok", json_object_new_boolean(1));
	json_object_object_add(o, "key_id", json_object_new_int64(st->key_id));
	json_object_object_add(o, "chunks", json_object_new_int64(
	    (int64_t)st->chunks));
	json_object_object_add(o, "size_bytes", json_object_new_int64(
	    (int64_t)st->file_bytes));
	json_object_object_add(o, "plain_bytes", json_object_new_int64(
	    (int64_t)st->plain_bytes));
	json_object_object_add(o, "sha256", json_object_new_string(sha));
	json_object_object_add(o, "seconds", json_object_new_double(secs));
	json_object_object_add(o, "mb_per_s", json_object_new_double(mbps));
	return ctl_print_json(o);
}

static int
verify(struct ctl *ctl, const char *path)
{
	struct backup_reader_stats st;
	unsigned char sha[32];
	char hex[65], *cause = NULL;
	struct keyring *kr;
	uint64_t t0;
	int rc;

	if ((kr = ctl_backup_keyring(ctl, "backup verify")) == NULL)
		return EX_CONFIG;
	t0 = now_usec();
	if (backup_file_read(path, kr, NULL, NULL, &st, sha, &cause) == -1) {
		rc = ctl_error(EX_DATAERR, "backup verify: %s", cause);
		free(cause);
	} else {
		hex_encode(sha, sizeof sha, hex);
		rc = report(ctl, path, &st, hex,
		    (double)(now_usec() - t0) / 1e6);
	}
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
