/* SPDX-License-Identifier: ISC */
/*
 * rallyctl migrate [--dir DIR] [--functions-dir DIR | --no-functions]:
 * applies the SQL migrations not yet applied, then re-applies every
 * functions file (lib/migrate.h).
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "migrate.h"
#include "rallyctl.h"

/* How much of a digest the human output shows, as git shows commits. */
#define MIGRATE_SHORT_DIGEST 12

static int cmd_migrate_exec(struct ctl *, int, char **);

const struct cmd_entry cmd_migrate_entry = {
	"migrate", "[--dir DIR] [--functions-dir DIR | --no-functions] [--json]",
	"apply the database migrations not yet applied, then the functions "
	"(safe to re-run)",
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

static struct json_object *
functions_json(const struct db_functions *fs)
{
	struct json_object *o = json_object_new_object(), *a;

	a = json_object_new_array();
	for (size_t i = 0; i < fs->n; i++)
		json_object_array_add(a, json_object_new_string(fs->v[i].name));
	json_object_object_add(o, "files", a);
	json_object_object_add(o, "digest", json_object_new_string(fs->digest));
	return o;
}

/* fs is NULL under --no-functions. */
static int
migrate_report(struct migrate_out *out, int applied,
    const struct db_functions *fs)
{
	struct json_object *o;

	if (!out->json) {
		if (applied == 0)
			printf("nothing to apply: the database is up to date\n");
		if (fs != NULL)
			printf("functions: %zu file(s) applied, digest %.*s\n",
			    fs->n, MIGRATE_SHORT_DIGEST, fs->digest);
		json_object_put(out->applied);
		return 0;
	}
	o = json_object_new_object();
	json_object_object_add(o, "applied", out->applied);
	if (fs != NULL)
		json_object_object_add(o, "functions", functions_json(fs));
	return ctl_print_json(o);
}

/*
 * The functions are read before any migration runs, so a directory that
 * is missing or malformed stops the run before it changes anything.
 */
static int
migrate_run(PGconn *db, const char *dir, const char *fdir, bool functions,
    struct migrate_out *out)
{
	struct db_functions *fs = NULL;
	char *cause = NULL, *fpath;
	int applied = 0, rc = 0;

	if (functions) {
		fpath = db_functions_dir(fdir, dir);
		fs = db_functions_load(fpath, &cause);
		free(fpath);
		if (fs == NULL)
			rc = ctl_error(CTL_FAILURE, "migrate: %s", cause);
	}
	if (rc == 0 && (db_migrate_each(db, dir, migrate_applied_cb, out,
	    &applied, &cause) == -1 ||
	    (fs != NULL && db_functions_apply(db, fs, &cause) == -1)))
		rc = ctl_error(CTL_FAILURE, "migrate: %s (%d migration(s) "
		    "applied before it)", cause, applied);
	if (rc == 0)
		rc = migrate_report(out, applied, fs);
	else
		json_object_put(out->applied);
	free(cause);
	db_functions_free(fs);
	return rc;
}

static int
cmd_migrate_exec(struct ctl *ctl, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "functions-dir", required_argument, NULL, 'f' },
		{ "no-functions", no_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct migrate_out out = { ctl->json, NULL };
	const char *dir = NULL, *fdir = NULL;
	bool functions = true;
	PGconn *db;
	int ch;

	optind = 0;
	while ((ch = ctl_getopt(&cmd_migrate_entry, argc, argv,
	    longopts)) != -1) {
		if (ch == 'd')
			dir = optarg;
		else if (ch == 'f')
			fdir = optarg;
		else if (ch == 'n')
			functions = false;
		else if (ch == 'j')
			out.json = ctl->json = true;
		else
			return cmd_usage(&cmd_migrate_entry);
	}
	if (optind != argc || (fdir != NULL && !functions))
		return cmd_usage(&cmd_migrate_entry);
	if ((db = ctl_db(ctl)) == NULL)
		return EX_UNAVAILABLE;
	out.applied = json_object_new_array();
	return migrate_run(db, db_migrations_dir(dir), fdir, functions, &out);
}
