/* SPDX-License-Identifier: ISC */
/*
 * rallyctl user create --tenant ID --email E [--name N] [--role R]
 *
 * The password is the first line of stdin, so it never appears in the
 * process list or the shell history; it is hashed with argon2id using the
 * [passwords] parameters and only the PHC string reaches the database.
 */
#include "config.h"

#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "passwd.h"
#include "rallyctl.h"

#define EMAIL_MAX 254
#define EMAIL_LOCAL_MAX 64
#define USER_NAME_MAX 200

static int cmd_user_create_exec(struct ctl *, int, char **);

const struct cmd_entry cmd_user_create_entry = {
	"user create",
	"--tenant ID --email EMAIL [--name NAME] [--role owner|admin|member] "
	"[--json] < password",
	"create a user; the password is the first line of stdin",
	cmd_user_create_exec,
};

struct user_args {
	const char *tenant;
	char *email;		/* lowercased copy */
	const char *name;
	const char *role;
};

static bool
email_domain_ok(const char *d)
{
	size_t n = strlen(d);

	if (n == 0 || d[0] == '.' || d[0] == '-' || d[n - 1] == '.' ||
	    strstr(d, "..") != NULL)
		return false;
	for (; *d != '\0'; d++)
		if (!isalnum((unsigned char)*d) && *d != '.' && *d != '-')
			return false;
	return true;
}

static bool
email_local_ok(const char *l, size_t n)
{
	if (n == 0 || n > EMAIL_LOCAL_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)l[i] <= ' ' || l[i] == 0x7f ||
		    strchr("\"(),:;<>[\\]", l[i]) != NULL)
			return false;
	return true;
}

/* A lowercased copy of an acceptable address, or NULL. */
static char *
email_normalize(const char *s)
{
	const char *at = strchr(s, '@');
	char *e;

	if (strlen(s) > EMAIL_MAX || at == NULL || strchr(at + 1, '@') != NULL)
		return NULL;
	if (!email_local_ok(s, at - s) || !email_domain_ok(at + 1))
		return NULL;
	e = xstrdup(s);
	for (char *p = e; *p != '\0'; p++)
		*p = tolower((unsigned char)*p);
	return e;
}

static bool
text_ok(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return false;
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < ' ' || *s == 0x7f)
			return false;
	return true;
}

/* The first line of stdin, without its line end; EX_USAGE when unusable. */
static int
read_password(char *buf, size_t size)
{
	size_t n = 0;
	int c;

	while ((c = getchar()) != EOF && c != '\n') {
		if (c == '\0' || n >= size - 1) {
			/* Leave no tail of it in stdin. */
			while (c != EOF && c != '\n')
				c = getchar();
			return ctl_error(EX_USAGE, "user create: the password "
			    "must be at most %d bytes without NUL",
			    PASSWD_MAX_LEN);
		}
		buf[n++] = c;
	}
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	if (n == 0)
		return ctl_error(EX_USAGE, "user create: no password on stdin "
		    "(give it as the first line)");
	return 0;
}

static int
hash_password(const struct ctl *ctl, char **phc)
{
	struct passwd_params pp = {
		(uint32_t)ctl->conf.argon2_memory_kib,
		(uint32_t)ctl->conf.argon2_iterations,
		(uint32_t)ctl->conf.argon2_parallelism,
	};
	char pw[PASSWD_MAX_LEN + 1], *cause = NULL;
	int rc;

	if ((rc = read_password(pw, sizeof pw)) != 0) {
		explicit_bzero(pw, sizeof pw);
		return rc;
	}
	rc = passwd_hash(pw, &pp, phc, &cause);
	explicit_bzero(pw, sizeof pw);
	if (rc == -1) {
		rc = ctl_error(CTL_FAILURE, "user create: %s", cause);
		free(cause);
		return rc;
	}
	return 0;
}

static int
parse_args(struct ctl *ctl, struct user_args *a, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "tenant", required_argument, NULL, 't' },
		{ "email", required_argument, NULL, 'e' },
		{ "name", required_argument, NULL, 'n' },
		{ "role", required_argument, NULL, 'r' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	const char *email = NULL;
	int ch;

	optind = 0;
	while ((ch = ctl_getopt(&cmd_user_create_entry, argc, argv,
	    longopts)) != -1) {
		switch (ch) {
		case 't': a->tenant = optarg; break;
		case 'e': email = optarg; break;
		case 'n': a->name = optarg; break;
		case 'r': a->role = optarg; break;
		case 'j': ctl->json = true; break;
		default: return cmd_usage(&cmd_user_create_entry);
		}
	}
	if (optind != argc || a->tenant == NULL || email == NULL)
		return cmd_usage(&cmd_user_create_entry);
	if (!ctl_valid_uuid(a->tenant))
		return ctl_error(EX_USAGE, "user create: --tenant \"%s\" is "
		    "not a tenant id", a->tenant);
	if (strcmp(a->role, "owner") != 0 && strcmp(a->role, "admin") != 0 &&
	    strcmp(a->role, "member") != 0)
		return ctl_error(EX_USAGE, "user create: --role must be owner, "
		    "admin or member");
	if (a->name != NULL && !text_ok(a->name, USER_NAME_MAX))
		return ctl_error(EX_USAGE, "user create: --name must be 1 to "
		    "%d bytes without control characters", USER_NAME_MAX);
	if ((a->email = email_normalize(email)) == NULL)
		return ctl_error(EX_DATAERR, "user create: \"%s\" is not a "
		    "valid email address", email);
	return 0;
}

/* 0 when the tenant exists and is active, else the exit status after saying why. */
static int
tenant_exists(PGconn *db, const char *tenant)
{
	const char *params[1] = { tenant };
	char *cause = NULL;
	PGresult *res;
	int rc;

	res = db_exec(db, "SELECT status FROM rally.tenants "
	    "WHERE tenant_id = $1::uuid", 1, params, &cause);
	if (res == NULL) {
		rc = ctl_error(CTL_FAILURE, "user create: %s", cause);
		free(cause);
		return rc;
	}
	if (PQntuples(res) == 0)
		rc = ctl_error(EX_DATAERR, "user create: no tenant %s", tenant);
	else if (strcmp(PQgetvalue(res, 0, 0), "active") != 0)
		rc = ctl_error(EX_DATAERR, "user create: tenant %s is %s",
		    tenant, PQgetvalue(res, 0, 0));
	else
		rc = 0;
	PQclear(res);
	return rc;
}

/* Inserts the user; *id is its id, or NULL when the email is taken. */
static int
insert_user(PGconn *db, const struct user_args *a, const char *phc,
    char **id, char **cause)
{
	const char *params[5] = { a->tenant, a->email, a->name, phc, a->role };
	PGresult *res;

	*id = NULL;
	if (db_begin(db, cause) == -1)
		return -1;
	if (db_set_tenant(db, a->tenant, NULL, cause) == -1)
		goto fail;
	/* An operator vouches for the address (migration 0064). */
	res = db_exec(db, "INSERT INTO rally.users "
	    "(tenant_id, email, name, password_hash, role, email_confirmed_at) "
	    "VALUES ($1::uuid, $2, coalesce($3, ''), $4, $5, now()) "
	    "ON CONFLICT DO NOTHING RETURNING id", 5, params, cause);
	if (res == NULL)
		goto fail;
	if (PQntuples(res) == 1)
		*id = xstrdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	if (db_commit(db, cause) == -1) {
		free(*id);
		*id = NULL;
		return -1;
	}
	return 0;
fail:
	db_rollback(db, NULL);
	return -1;
}

static int
report(const struct ctl *ctl, const struct user_args *a, const char *id)
{
	struct json_object *o;

	if (!ctl->json) {
		printf("%s\n", id);
		return 0;
	}
	o = json_object_new_object();
	json_object_object_add(o, "user_id", json_object_new_string(id));
	json_object_object_add(o, "tenant_id", json_object_new_string(a->tenant));
	json_object_object_add(o, "email", json_object_new_string(a->email));
	json_object_object_add(o, "role", json_object_new_string(a->role));
	return ctl_print_json(o);
}

static int
create(struct ctl *ctl, const struct user_args *a)
{
	char *phc = NULL, *id = NULL, *cause = NULL;
	PGconn *db;
	int rc;

	if ((db = ctl_db(ctl)) == NULL)
		return EX_UNAVAILABLE;
	if ((rc = tenant_exists(db, a->tenant)) != 0 ||
	    (rc = hash_password(ctl, &phc)) != 0)
		return rc;
	if (insert_user(db, a, phc, &id, &cause) == -1) {
		rc = ctl_error(CTL_FAILURE, "user create: %s", cause);
		free(cause);
	} else if (id == NULL)
		rc = ctl_error(EX_DATAERR, "user create: tenant %s already has "
		    "a user with email %s", a->tenant, a->email);
	else
		rc = report(ctl, a, id);
	free(id);
	free(phc);
	return rc;
}

static int
cmd_user_create_exec(struct ctl *ctl, int argc, char **argv)
{
	struct user_args a = { NULL, NULL, NULL, "member" };
	int rc;

	if ((rc = parse_args(ctl, &a, argc, argv)) == 0)
		rc = create(ctl, &a);
	free(a.email);
	return rc;
}
