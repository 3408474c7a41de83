/* SPDX-License-Identifier: ISC */
/*
 * rallyctl export --user EMAIL [--tenant ID] [--output FILE]: builds the
 * archive of everything Rally holds about the user (docs/compliance.md,
 * docs/export.schema.json) with lib/compliance.c, keeps it in
 * rally.exports for 7 days like one the user asked for, and with
 * --output writes it to FILE (created mode 0600: it is personal data).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compliance.h"
#include "db.h"
#include "rallyctl.h"

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

static int
write_file(const char *path, const char *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	ssize_t n = 0;

	if (fd == -1)
		return ctl_error(EX_CANTCREAT, "export: %s: %s", path, strerror(errno));
	for (size_t off = 0; off < len; off += (size_t)n) {
		n = write(fd, data + off, len - off);
		if (n == -1 && errno == EINTR) {
			n = 0;
			continue;
		}
		if (n == -1)
			break;
	}
	if (n == -1 || fsync(fd) == -1 || close(fd) == -1)
		return ctl_error(EX_IOERR, "export: %s: %s", path, strerror(errno));
	return 0;
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
