/* rallyctl migrate [--dir DIR]: applies the SQL migrations not yet applied. */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "db.h"
#include "rallyctl.h"

static int cmd_migrate_exec(struct ctl *, int, char **);

const struct cmd_entry cmd_migrate_entry = {
	"migrate", "[--dir DIR] [--json]",
	"apply the database migrations not yet applied (safe to re-run)",
	cmd_migrate_exec,
};

struct migrate_out {
	bool json;
	struct json_object *applied;
};

static void
migrate_applied_cb(const char *name, void *arg)
{
	struct migrate_out *out = arg;

	if (out->json)
		json_object_array_add(out->applied, json_object_new_string(name));
	else
		printf("applied %s\n", name);
	fflush(stdout);
}

static int
migrate_report(struct migrate_out *out, int applied)
{
	struct json_object *o;

	if (!out->json) {
		if (applied == 0)
			printf("nothing to apply: the database is up to date\n");
		json_object_put(out->applied);
		return 0;
	}
	o = json_object_new_object();
	json_object_object_add(o, "applied", out->applied);
	return ctl_print_json(o);
}

static int
cmd_migrate_exec(struct ctl *ctl, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct migrate_out out = { ctl->json, NULL };
	const char *dir = NULL;
	char *cause = NULL;
	PGconn *db;
	int ch, applied, rc;

	optind = 0;
	while ((ch = ctl_getopt(&cmd_migrate_entry, argc, argv,
	    longopts)) != -1) {
		if (ch == 'd')
			dir = optarg;
		else if (ch == 'j')
			out.json = ctl->json = true;
		else
			return cmd_usage(&cmd_migrate_entry);
	}
	if (optind != argc)
		return cmd_usage(&cmd_migrate_entry);
	if ((db = ctl_db(ctl)) == NULL)
		return EX_UNAVAILABLE;
	out.applied = json_object_new_array();
	if (db_migrate_each(db, db_migrations_dir(dir), migrate_applied_cb,
	    &out, &applied, &cause) == -1) {
		json_object_put(out.applied);
		rc = ctl_error(CTL_FAILURE, "migrate: %s (%d applied before it)",
		    cause, applied);
		free(cause);
		return rc;
	}
	return migrate_report(&out, applied);
}
