/* SPDX-License-Identifier: ISC */
/* rallyctl tenant create NAME [--size N]: creates a tenant, prints its id. */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "rallyctl.h"

#define TENANT_NAME_MAX 200
#define TENANT_SIZE_MAX INT64_C(100000000)

static int cmd_tenant_create_exec(struct ctl *, int, char **);

const struct cmd_entry cmd_tenant_create_entry = {
	"tenant create",
	"NAME [--size N|1-10|11-50|51-200|201-1000|1001+] [--json]",
	"create a tenant (a company's workspace) and print its id; --size is "
	"the company's head count or its bracket",
	cmd_tenant_create_exec,
};

static bool
name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > TENANT_NAME_MAX)
		return false;
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < ' ' || *s == 0x7f)
			return false;
	return true;
}

/* The company-size bracket the schema stores, from a head count or a bracket. */
static const char *
size_bracket(const char *arg)
{
	static const struct { int64_t upto; const char *label; } brackets[] = {
		{ 10, "1-10" }, { 50, "11-50" }, { 200, "51-200" },
		{ 1000, "201-1000" }, { TENANT_SIZE_MAX, "1001+" },
	};
	int64_t n;

	for (size_t i = 0; i < nitems(brackets); i++)
		if (strcmp(arg, brackets[i].label) == 0)
			return brackets[i].label;
	if (parse_int64(arg, 1, TENANT_SIZE_MAX, &n) == -1)
		return NULL;
	for (size_t i = 0; i < nitems(brackets); i++)
		if (n <= brackets[i].upto)
			return brackets[i].label;
	return NULL;
}

static int
insert_tenant(struct ctl *ctl, const char *name, const char *size)
{
	const char *params[2] = { name, size };
	char *cause = NULL;
	struct json_object *o;
	PGresult *res;
	PGconn *db;
	int rc;

	if ((db = ctl_db(ctl)) == NULL)
		return EX_UNAVAILABLE;
	res = db_exec(db, "INSERT INTO rally.tenants (name, company_size) "
	    "VALUES ($1, $2) RETURNING tenant_id", 2, params, &cause);
	if (res == NULL) {
		rc = ctl_error(CTL_FAILURE, "tenant create: %s", cause);
		free(cause);
		return rc;
	}
	if (!ctl->json)
		printf("%s\n", PQgetvalue(res, 0, 0));
	else {
		o = json_object_new_object();
		json_object_object_add(o, "tenant_id",
		    ctl_json_string(res, 0, 0));
		json_object_object_add(o, "name", json_object_new_string(name));
		json_object_object_add(o, "company_size",
		    size != NULL ? json_object_new_string(size) : NULL);
		ctl_print_json(o);
	}
	PQclear(res);
	return 0;
}

static int
cmd_tenant_create_exec(struct ctl *ctl, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "size", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	const char *size = NULL;
	int ch;

	optind = 0;
	while ((ch = ctl_getopt(&cmd_tenant_create_entry, argc, argv,
	    longopts)) != -1) {
		if (ch == 's') {
			if ((size = size_bracket(optarg)) == NULL)
				return ctl_error(EX_USAGE, "tenant create: --size "
				    "must be a head count or one of 1-10, 11-50, "
				    "51-200, 201-1000, 1001+");
		} else if (ch == 'j')
			ctl->json = true;
		else
			return cmd_usage(&cmd_tenant_create_entry);
	}
	if (argc - optind != 1)
		return cmd_usage(&cmd_tenant_create_entry);
	if (!name_ok(argv[optind]))
		return ctl_error(EX_USAGE, "tenant create: the name must be 1 to "
		    "%d bytes without control characters", TENANT_NAME_MAX);
	return insert_tenant(ctl, argv[optind], size);
}
