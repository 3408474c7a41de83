/* SPDX-License-Identifier: ISC */
/*
 * rallyctl export --user EMAIL [--tenant ID] [--output FILE]: builds the
 * archive of everything Rally holds about the user (docs/compliance.md,
 * docs/export.schema.json) with lib/compliance.c, keeps it in
 * rally.exports for 7 days like one the user asked for, and with
 * --output writes it to FILE (created mode 0600: it is personal data;
 * never over an existing file, and never left half written).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compliance.h"
#include "db.h"
#include "rallyctl.h"
#include "util.h"

static int cmd_export_exec(struct ctl *, int, char **);

const struct cmd_entry cmd_export_entry = {
	"export", "--user EMAIL [--tenant ID] [--output FILE] [--json]",
	"build a user's data export (JSON), kept 7 days; --output writes it",
	cmd_export_exec,
};

#define EXPORT_SQL_READ \
	"SELECT convert_from(content, 'UTF8'), size_bytes, encode(sha256, 'hex')," \
	" " CTL_SQL_TIME("expires_at") " FROM rally.exports" \
	" WHERE tenant_id = $1::uuid AND id = $2::uuid AND status = 'ready'"

/*
 * Gives the complete file its name.  link(), not rename(): rename would
 * replace a file already at path, and an existing --output is refused.
 */
static int
link_new(const char *tmp, const char *path)
{
	if (link(tmp, path) == 0)
		return 0;
	return ctl_error(errno == EEXIST ? EX_CANTCREAT : EX_IOERR,
	    "export: %s: %s", path, strerror(errno));
}

/* Makes the new name (and the temporary one's removal) durable. */
static int
sync_parent(const char *path)
{
	char *copy = xstrdup(path), *cause = NULL;
	int rc = 0;

	if (fsync_dir(dirname(copy), &cause) == -1) {
		rc = ctl_error(EX_IOERR, "export: %s", cause);
		free(cause);
	}
	free(copy);
	return rc;
}

/*
 * Writes the archive to a temporary file beside path (O_EXCL, mode 0600:
 * it is personal data) and names it path only once it is whole and
 * synced, so that a full disk leaves no partial file for a rerun to trip
 * over.  On any error neither name is left.
 */
static int
write_file(const char *path, const char *data, size_t len)
{
	char *tmp = xasprintf("%s.XXXXXX", path), *cause = NULL;
	bool linked = false;
	int fd, rc;

	if ((fd = mkostemp(tmp, O_CLOEXEC)) == -1) {
		rc = ctl_error(EX_CANTCREAT, "export: %s: %s", path,
		    strerror(errno));
		free(tmp);
		return rc;
	}
	/* Errors name path, the file asked for, not the temporary one. */
	if (write_sync_close(fd, path, data, len, &cause) == -1) {
		rc = ctl_error(EX_IOERR, "export: %s", cause);
		free(cause);
	} else
		rc = 0;
	if (rc == 0 && (rc = link_new(tmp, path)) == 0)
		linked = true;
	if (unlink(tmp) == -1 && rc == 0)
		rc = ctl_error(EX_IOERR, "export: %s: %s", tmp, strerror(errno));
	if (rc == 0)
		rc = sync_parent(path);
	if (rc != 0 && linked)
		unlink(path);	/* already failing: the first error is the one told */
	free(tmp);
	return rc;
}

static int
report(struct ctl *ctl, PGconn *db, const struct ctl_user *u, const char *id,
    const char *output)
{
	const char *params[] = { u->tenant_id, id };
	char *cause = NULL;
	PGresult *res;
	json_object *o;
	int rc = 0;

	if ((res = db_exec(db, EXPORT_SQL_READ, 2, params, &cause)) == NULL) {
		rc = ctl_error(CTL_FAILURE, "export: %s", cause);
		free(cause);
		return rc;
	}
	if (output != NULL)
		rc = write_file(output, PQgetvalue(res, 0, 0),
		    (size_t)PQgetlength(res, 0, 0));
	if (rc == 0 && ctl->json) {
		o = json_object_new_object();
		json_object_object_add(o, "export_id", json_object_new_string(id));
		json_object_object_add(o, "size_bytes", ctl_json_int(res, 0, 1));
		json_object_object_add(o, "sha256", ctl_json_string(res, 0, 2));
		json_object_object_add(o, "expires_at", ctl_json_string(res, 0, 3));
		rc = ctl_print_json(o);
	} else if (rc == 0)
		printf("export %s: %s bytes, sha256 %s, kept until %s%s%s\n", id,
		    PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2),
		    PQgetvalue(res, 0, 3), output != NULL ? "; written to " : "",
		    output != NULL ? output : "");
	PQclear(res);
	return rc;
}

static int
cmd_export_exec(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "user", required_argument, NULL, 'u' },
		{ "tenant", required_argument, NULL, 't' },
		{ "output", required_argument, NULL, 'o' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	const char *email = NULL, *tenant = NULL, *output = NULL;
	char id[37], *cause = NULL;
	struct ctl_user u;
	PGconn *db;
	int ch, rc;

	optind = 0;
	while ((ch = ctl_getopt(&cmd_export_entry, argc, argv, opts)) != -1) {
		switch (ch) {
		case 'u': email = optarg; break;
		case 't': tenant = optarg; break;
		case 'o': output = optarg; break;
		case 'j': ctl->json = true; break;
		default: return EX_USAGE;
		}
	}
	if (optind != argc || email == NULL)
		return cmd_usage(&cmd_export_entry);
	if ((db = ctl_db(ctl)) == NULL)
		return EX_UNAVAILABLE;
	if ((rc = ctl_find_user(db, "export", email, tenant, &u)) != 0)
		return rc;
	rc = compliance_export(db, u.tenant_id, u.user_id, "operator", id, &cause);
	if (rc == -1) {
		rc = ctl_error(CTL_FAILURE, "export: %s", cause);
		free(cause);
		return rc;
	}
	if (rc == 1)
		return ctl_error(EX_DATAERR, "export: %s is not an active user", email);
	return report(ctl, db, &u, id, output);
}
