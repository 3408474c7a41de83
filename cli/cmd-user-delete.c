/* SPDX-License-Identifier: ISC */
/*
 * rallyctl user delete --user EMAIL [--tenant ID] [--cancel]: requests the
 * deletion of an account (lib/compliance.c).  At once the user can no
 * longer sign in, their sessions end and their Google connections are
 * disconnected; after compliance.deletion_grace rallyd purges every row
 * about them.  --cancel takes the request back while the grace period
 * lasts.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "compliance.h"
#include "rallyctl.h"

static int cmd_user_delete_exec(struct ctl *, int, char **);

const struct cmd_entry cmd_user_delete_entry = {
	"user delete", "--user EMAIL [--tenant ID] [--cancel] [--json]",
	"delete an account: sign-in blocked and tokens deleted now, every row after the grace period",
	cmd_user_delete_exec,
};

struct delete_args {
	const char *email, *tenant;
	bool cancel;
};

static int
parse(struct ctl *ctl, int argc, char **argv, struct delete_args *a)
{
	static const struct option opts[] = {
		{ "user", required_argument, NULL, 'u' },
		{ "tenant", required_argument, NULL, 't' },
		{ "cancel", no_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	optind = 0;
	while ((ch = ctl_getopt(&cmd_user_delete_entry, argc, argv, opts)) != -1) {
		switch (ch) {
		case 'u': a->email = optarg; break;
		case 't': a->tenant = optarg; break;
		case 'c': a->cancel = true; break;
		case 'j': ctl->json = true; break;
		default: return EX_USAGE;
		}
	}
	if (optind != argc || a->email == NULL)
		return cmd_usage(&cmd_user_delete_entry);
	return 0;
}

static int
report(const struct ctl *ctl, const struct ctl_user *u,
    const struct compliance_deletion *r)
{
	json_object *o;

	if (!ctl->json) {
		printf("deletion of %s requested: signed out and disconnected now; "
		    "purged from %s, due by %s (ledger entry %s)\n",
		    u->user_id, r->purge_after, r->due_at, r->ledger_id);
		return 0;
	}
	o = json_object_new_object();
	json_object_object_add(o, "tenant_id", json_object_new_string(u->tenant_id));
	json_object_object_add(o, "user_id", json_object_new_string(u->user_id));
	json_object_object_add(o, "ledger_id", json_object_new_string(r->ledger_id));
	json_object_object_add(o, "purge_after", json_object_new_string(r->purge_after));
	json_object_object_add(o, "due_at", json_object_new_string(r->due_at));
	return ctl_print_json(o);
}

static int
cancel(const struct ctl *ctl, PGconn *db, const struct ctl_user *u)
{
	char *cause = NULL;
	int rc = compliance_delete_cancel(db, u->tenant_id, u->user_id,
	    "operator", &cause);

	if (rc == -1) {
		rc = ctl_error(CTL_FAILURE, "user delete: %s", cause);
		free(cause);
		return rc;
	}
	if (rc == 1)
		return ctl_error(EX_DATAERR, "user delete: no deletion of %s to "
		    "cancel (none requested, or its grace period is over)",
		    u->user_id);
	if (ctl->json)
		return ctl_print_json(json_object_new_string("cancelled"));
	printf("deletion of %s cancelled: the user may sign in again and "
	    "reconnect Google\n", u->user_id);
	return 0;
}

static int
cmd_user_delete_exec(struct ctl *ctl, int argc, char **argv)
{
	struct delete_args a = { 0 };
	struct compliance_deletion r;
	struct ctl_user u;
	char *cause = NULL;
	PGconn *db;
	int rc;

	if ((rc = parse(ctl, argc, argv, &a)) != 0)
		return rc;
	if ((db = ctl_db(ctl)) == NULL)
		return EX_UNAVAILABLE;
	if ((rc = ctl_find_user(db, "user delete", a.email, a.tenant, &u)) != 0)
		return rc;
	if (a.cancel)
		return cancel(ctl, db, &u);
	rc = compliance_delete_request(db, &ctl->conf, u.tenant_id, u.user_id,
	    "operator", &r, &cause);
	if (rc == -1) {
		rc = ctl_error(CTL_FAILURE, "user delete: %s", cause);
		free(cause);
		return rc;
	}
	if (rc == 1)
		return ctl_error(EX_DATAERR, "user delete: %s is already deleted",
		    a.email);
	return report(ctl, &u, &r);
}
