/* SPDX-License-Identifier: ISC */
/*
 * rallyctl user update --user EMAIL [--tenant ID] [--name N] [--new-email E]
 * [--company NAME] [--company-size SIZE] [--billing-email E] [--vat-id V]
 * [--country CC] [--analytics-opt-out yes|no]: rectification and
 * objection for a user (lib/compliance.c), audited by field name.
 * Opting out of analytics deletes the user's usage events and rollups and
 * stops recording them.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compliance.h"
#include "rallyctl.h"

static int cmd_user_update_exec(struct ctl *, int, char **);

const struct cmd_entry cmd_user_update_entry = {
	"user update",
	"--user EMAIL [--tenant ID] [--name N] [--new-email E] [--company NAME] "
	"[--company-size SIZE] [--billing-email E] [--vat-id V] [--country CC] "
	"[--analytics-opt-out yes|no] [--json]",
	"correct a user's profile, company or billing details; object to analytics",
	cmd_user_update_exec,
};

/* Long option name -> the field of rally.account_update. */
static const struct { const char *option, *field; } fields[] = {
	{ "name", "name" },
	{ "new-email", "email" },
	{ "company", "company_name" },
	{ "company-size", "company_size" },
	{ "billing-email", "billing_email" },
	{ "vat-id", "vat_id" },
	{ "country", "country" },
};

static int
opt_out(json_object *changes, const char *v)
{
	if (strcmp(v, "yes") != 0 && strcmp(v, "no") != 0)
		return ctl_error(EX_USAGE, "user update: --analytics-opt-out is "
		    "yes or no");
	json_object_object_add(changes, "analytics_opt_out",
	    json_object_new_boolean(v[0] == 'y'));
	return 0;
}

static int
parse(struct ctl *ctl, int argc, char **argv, const char **email,
    const char **tenant, json_object *changes)
{
	static const struct option opts[] = {
		{ "user", required_argument, NULL, 'u' },
		{ "tenant", required_argument, NULL, 't' },
		{ "analytics-opt-out", required_argument, NULL, 'o' },
		{ "json", no_argument, NULL, 'j' },
		{ "name", required_argument, NULL, 0 },
		{ "new-email", required_argument, NULL, 1 },
		{ "company", required_argument, NULL, 2 },
		{ "company-size", required_argument, NULL, 3 },
		{ "billing-email", required_argument, NULL, 4 },
		{ "vat-id", required_argument, NULL, 5 },
		{ "country", required_argument, NULL, 6 },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	optind = 0;
	while ((ch = ctl_getopt(&cmd_user_update_entry, argc, argv, opts)) != -1) {
		if (ch >= 0 && ch < (int)nitems(fields)) {
			json_object_object_add(changes, fields[ch].field,
			    json_object_new_string(optarg));
			continue;
		}
		switch (ch) {
		case 'u': *email = optarg; break;
		case 't': *tenant = optarg; break;
		case 'j': ctl->json = true; break;
		case 'o':
			if (opt_out(changes, optarg) != 0)
				return EX_USAGE;
			break;
		default: return EX_USAGE;
		}
	}
	if (optind != argc || *email == NULL || json_object_object_length(changes) == 0)
		return cmd_usage(&cmd_user_update_entry);
	return 0;
}

static int
cmd_user_update_exec(struct ctl *ctl, int argc, char **argv)
{
	const char *email = NULL, *tenant = NULL;
	json_object *changes = json_object_new_object();
	char *changed = NULL, *cause = NULL;
	struct ctl_user u;
	PGconn *db;
	int rc;

	if ((rc = parse(ctl, argc, argv, &email, &tenant, changes)) != 0 ||
	    (db = ctl_db(ctl)) == NULL ||
	    (rc = ctl_find_user(db, "user update", email, tenant, &u)) != 0) {
		json_object_put(changes);
		return rc != 0 ? rc : EX_UNAVAILABLE;
	}
	rc = compliance_update(db, u.tenant_id, u.user_id, "operator",
	    json_object_to_json_string(changes), &changed, &cause);
	json_object_put(changes);
	if (rc == -1) {
		rc = ctl_error(EX_DATAERR, "user update: %s", cause);
		free(cause);
		return rc;
	}
	if (rc == 1)
		return ctl_error(EX_DATAERR, "user update: %s is not an active user",
		    email);
	if (ctl->json)
		rc = ctl_print_json(json_object_new_string(changed));
	else
		printf("updated %s: %s\n", u.user_id, changed);
	free(changed);
	return rc;
}
