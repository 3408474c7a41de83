/* SPDX-License-Identifier: ISC */
/*
 * rallyctl user disconnect --user EMAIL [--tenant ID] [--connection ID]
 * --calendar|--email: switches the integration off for the user's Google
 * connections (or the one named), in one transaction with its ledger and
 * audit entries (lib/compliance.c).  When no integration is left on a
 * connection its tokens leave it at once; rallyd stops the push channels,
 * revokes the grant at Google, and purges the synced events or mail.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "compliance.h"
#include "rallyctl.h"

static int cmd_user_disconnect_exec(struct ctl *, int, char **);

const struct cmd_entry cmd_user_disconnect_entry = {
	"user disconnect",
	"--user EMAIL [--tenant ID] [--connection ID] [--calendar] [--email] [--json]",
	"switch off Google Calendar or Gmail for a user: tokens, then synced data, deleted",
	cmd_user_disconnect_exec,
};

struct disconnect_args {
	const char *email, *tenant, *connection;
	unsigned what;
};

static int
parse(struct ctl *ctl, int argc, char **argv, struct disconnect_args *a)
{
	static const struct option opts[] = {
		{ "user", required_argument, NULL, 'u' },
		{ "tenant", required_argument, NULL, 't' },
		{ "connection", required_argument, NULL, 'c' },
		{ "calendar", no_argument, NULL, 'C' },
		{ "email", no_argument, NULL, 'E' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	optind = 0;
	while ((ch = ctl_getopt(&cmd_user_disconnect_entry, argc, argv,
	    opts)) != -1) {
		switch (ch) {
		case 'u': a->email = optarg; break;
		case 't': a->tenant = optarg; break;
		case 'c': a->connection = optarg; break;
		case 'C': a->what |= COMPLIANCE_CALENDAR; break;
		case 'E': a->what |= COMPLIANCE_MAIL; break;
		case 'j': ctl->json = true; break;
		default: return EX_USAGE;
		}
	}
	if (optind != argc || a->email == NULL || a->what == 0)
		return cmd_usage(&cmd_user_disconnect_entry);
	if (a->connection != NULL && !ctl_valid_uuid(a->connection))
		return ctl_error(EX_USAGE, "user disconnect: --connection \"%s\" "
		    "is not a connection id", a->connection);
	return 0;
}

static int
report(const struct ctl *ctl, const struct ctl_user *u,
    const struct compliance_disconnected *r)
{
	json_object *o;

	if (!ctl->json) {
		printf("%d connection%s: %d calendar%s and %d mailbox%s "
		    "disconnected; tokens of %d queued for revocation\n",
		    r->connections, r->connections == 1 ? "" : "s",
		    r->calendars_off, r->calendars_off == 1 ? "" : "s",
		    r->mail_off, r->mail_off == 1 ? "" : "es", r->tokens_released);
		return 0;
	}
	o = json_object_new_object();
	json_object_object_add(o, "tenant_id", json_object_new_string(u->tenant_id));
	json_object_object_add(o, "user_id", json_object_new_string(u->user_id));
	json_object_object_add(o, "connections", json_object_new_int(r->connections));
	json_object_object_add(o, "calendars_off", json_object_new_int(r->calendars_off));
	json_object_object_add(o, "mail_off", json_object_new_int(r->mail_off));
	json_object_object_add(o, "tokens_released",
	    json_object_new_int(r->tokens_released));
	return ctl_print_json(o);
}

static int
cmd_user_disconnect_exec(struct ctl *ctl, int argc, char **argv)
{
	struct disconnect_args a = { 0 };
	struct compliance_disconnected r;
	struct ctl_user u;
	char *cause = NULL;
	PGconn *db;
	int rc;

	if ((rc = parse(ctl, argc, argv, &a)) != 0)
		return rc;
	if ((db = ctl_db(ctl)) == NULL)
		return EX_UNAVAILABLE;
	if ((rc = ctl_find_user(db, "user disconnect", a.email, a.tenant, &u)) != 0)
		return rc;
	if (compliance_disconnect(db, u.tenant_id, u.user_id, a.connection,
	    a.what, "operator", NULL, &r, &cause) == -1) {
		rc = ctl_error(CTL_FAILURE, "user disconnect: %s", cause);
		free(cause);
		return rc;
	}
	if (a.connection != NULL && r.connections == 0)
		return ctl_error(EX_DATAERR, "user disconnect: %s has no "
		    "connection %s", a.email, a.connection);
	return report(ctl, &u, &r);
}
