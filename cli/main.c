/* SPDX-License-Identifier: ISC */
/*
 * rallyctl [-c PATH] [--json] COMMAND [ARGS]
 *
 * Exit status (man/rallyctl.8 lists the same):
 *	0	success
 *	1	failure: a query failed, a secret did not open, ...
 *	64	EX_USAGE: bad command line, or a password on stdin that is empty
 *		or too long
 *	65	EX_DATAERR: input the database refuses as data (a duplicate
 *		email, an unknown tenant or job, a job not in a state allowing
 *		the action)
 *	69	EX_UNAVAILABLE: the database cannot be reached
 *	78	EX_CONFIG: the configuration file is missing or wrong
 *		("file:line: why" on stderr), or so is the keyring
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "log.h"
#include "rallyctl.h"
#include "util.h"

static void
usage(FILE *f)
{
	fprintf(f, "usage: rallyctl [-c PATH] [--json] COMMAND [ARGS]\n"
	    "       rallyctl -h | --help | --version\n\ncommands:\n");
	cmd_list(f);
}

/* Whether the command's own arguments ask for help (before any "--"). */
static bool
wants_help(int argc, char **argv)
{
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
			return true;
	}
	return false;
}

static int
run(struct ctl *ctl, const struct cmd_entry *cmd, int argc, char **argv)
{
	char *cause = NULL;
	int rc;

	if (wants_help(argc, argv)) {
		printf("usage: rallyctl %s %s\n%s\n", cmd->name, cmd->args,
		    cmd->summary);
		return 0;
	}
	if (conf_load(ctl->conf_path, &ctl->conf, &cause) == -1) {
		rc = ctl_error(EX_CONFIG, "%s", cause);
		free(cause);
		return rc;
	}
	rc = cmd->exec(ctl, argc, argv);
	db_close(ctl->db);
	conf_clear(&ctl->conf);
	return rc;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct ctl ctl = { 0 };
	const struct cmd_entry *cmd;
	const char *config = NULL;
	int ch, words;

	process_no_core();
	log_init("rallyctl", LOG_TARGET_STDERR, LOG_WARNING);
	/* "+": options after the command belong to the command. */
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "+c:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			config = optarg;
			break;
		case 'j':
			ctl.json = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("rallyctl %s\n", PACKAGE_VERSION);
			return 0;
		default:
			ctl_error(EX_USAGE, "%s: unknown option or missing "
			    "argument", argv[optind - 1]);
			usage(stderr);
			return EX_USAGE;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0) {
		usage(stderr);
		return EX_USAGE;
	}
	if ((cmd = cmd_find(argc, argv, &words)) == NULL) {
		ctl_error(EX_USAGE, "unknown command \"%s%s%s\"", argv[0],
		    words > 1 ? " " : "", words > 1 ? argv[1] : "");
		usage(stderr);
		return EX_USAGE;
	}
	ctl.conf_path = conf_path(config);
	/* The command sees its last word as argv[0], as getopt expects. */
	return run(&ctl, cmd, argc - words + 1, argv + words - 1);
}
