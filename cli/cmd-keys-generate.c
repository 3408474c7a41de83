/* SPDX-License-Identifier: ISC */
/*
 * rallyctl keys generate [--backup]: creates the keyring (or, --backup, the
 * backup keyring) with key 1; never overwrites.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "keyring.h"
#include "rallyctl.h"

static int cmd_keys_generate_exec(struct ctl *, int, char **);

const struct cmd_entry cmd_keys_generate_entry = {
	"keys generate", "[--backup] [--json]",
	"create the keyring file (keys.keyring, or keys.backup_keyring with "
	"--backup) holding key 1; refuses to overwrite one",
	cmd_keys_generate_exec,
};

static int
cmd_keys_generate_exec(struct ctl *ctl, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "backup", no_argument, NULL, 'b' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path;
	bool backup = false;
	char *cause = NULL;
	struct json_object *o;
	int ch, rc;

	optind = 0;
	while ((ch = ctl_getopt(&cmd_keys_generate_entry, argc, argv,
	    longopts)) != -1) {
		if (ch == 'j')
			ctl->json = true;
		else if (ch == 'b')
			backup = true;
		else
			return cmd_usage(&cmd_keys_generate_entry);
	}
	if (optind != argc)
		return cmd_usage(&cmd_keys_generate_entry);
	path = backup ? conf_backup_keyring_path(&ctl->conf) :
	    conf_keyring_path(&ctl->conf);
	/* keyring_generate opens with O_EXCL: an existing keyring is an error. */
	if (keyring_generate(path, &cause) == -1) {
		rc = ctl_error(CTL_FAILURE, "keys generate: %s", cause);
		free(cause);
		return rc;
	}
	if (!ctl->json) {
		printf("created keyring %s with key 1\n", path);
		return 0;
	}
	o = json_object_new_object();
	json_object_object_add(o, "keyring", json_object_new_string(path));
	json_object_object_add(o, "key_id", json_object_new_int(1));
	return ctl_print_json(o);
}
