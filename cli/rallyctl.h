/* SPDX-License-Identifier: ISC */
/*
 * rallyctl: the operators' command-line tool.  main.c parses the global
 * options and loads the configuration; cmd.c holds the command table and
 * the helpers every command shares; each cmd-<verb>.c is one command and
 * exports one struct cmd_entry.
 *
 * A command's exec returns the process exit status (see main.c).  It
 * reports its own errors with ctl_error(), which prints "rallyctl: ..."
 * on stderr; nothing a command prints may contain a password or a token.
 */
#ifndef RALLY_CTL_H
#define RALLY_CTL_H

#include <stdbool.h>
#include <stdint.h>
#include <sysexits.h>

#include <json-c/json.h>
#include <libpq-fe.h>

#include "conf.h"
#include "http.h"
#include "util.h"

#define CTL_FAILURE 1	/* anything that is not one of the sysexits below */

/* A timestamptz column as RFC 3339 UTC text, whatever the session's TimeZone. */
#define CTL_SQL_TIME(col) \
	"to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

/* What every command gets: the loaded configuration and output mode. */
struct ctl {
	const char *conf_path;
	struct conf conf;
	bool json;
	PGconn *db;		/* connected on first use by ctl_db() */
};

struct cmd_entry {
	const char *name;	/* "jobs list": one or two words */
	const char *args;	/* usage after the name */
	const char *summary;
	int (*exec)(struct ctl *, int argc, char **argv);
};

/* cmd.c */
const struct cmd_entry *cmd_find(int argc, char **argv, int *words);
void cmd_list(FILE *);
/* Prints "usage: rallyctl NAME ARGS" and returns EX_USAGE. */
int cmd_usage(const struct cmd_entry *);

struct option;
/*
 * getopt_long over a command's arguments (long options only): the next
 * option, -1 at the end, or '?' after printing what was wrong.  Set optind
 * to 0 before the first call.
 */
int ctl_getopt(const struct cmd_entry *, int argc, char **argv,
    const struct option *longopts);
int ctl_error(int status, const char *fmt, ...) PRINTFLIKE(2, 3);
/* The database connection; NULL after printing why (exit EX_UNAVAILABLE). */
PGconn *ctl_db(struct ctl *);
/* Prints a JSON value on stdout, pretty when stdout is a terminal, and frees it. */
int ctl_print_json(struct json_object *);
/* Parses an option's integer in [min, max] or prints why and returns -1. */
int ctl_parse_int(const char *option, const char *value, int64_t min,
    int64_t max, int64_t *out);
/*
 * The arguments of a command that takes [--json] and one job id: sets
 * ctl->json and *id; returns 0, or the exit status after printing why.
 */
int ctl_args_json_id(struct ctl *, const struct cmd_entry *, int argc,
    char **argv, const char **id);
struct keyring;
/* The backup keyring (keys.backup_keyring); NULL after printing why. */
struct keyring *ctl_backup_keyring(struct ctl *, const char *cmd);
/* Whether s is a uuid in its text form (8-4-4-4-12 hex digits). */
bool ctl_valid_uuid(const char *s);
/* A column of a result as a JSON value: NULL for SQL NULL, else a string. */
struct json_object *ctl_json_string(const PGresult *, int row, int col);
/* The same passed through log_redact(), for stored error messages. */
struct json_object *ctl_json_redacted(const PGresult *, int row, int col);
/* A column holding an integer as a JSON int (NULL for SQL NULL). */
struct json_object *ctl_json_int(const PGresult *, int row, int col);
/*
 * The rows of res as a JSON array of objects keyed by names; types has one
 * letter a column: 's' string, 'i' integer, 'r' string passed through
 * log_redact() (stored error messages).
 */
struct json_object *ctl_json_rows(const PGresult *, const char *const *names,
    const char *types);
/*
 * Prints text from the database on stdout so that it cannot drive the
 * terminal: newlines and tabs become spaces, other control bytes '?'.
 */
void ctl_put_text(const char *);
/*
 * Prints a result as an aligned table with the given column headings;
 * cells are redacted (log_redact) and control bytes shown as '?'.
 */
void ctl_print_table(const PGresult *, const char *const *headings);

extern const struct cmd_entry cmd_migrate_entry;
extern const struct cmd_entry cmd_tenant_create_entry;
extern const struct cmd_entry cmd_user_create_entry;
extern const struct cmd_entry cmd_status_entry;
extern const struct cmd_entry cmd_jobs_list_entry;
extern const struct cmd_entry cmd_jobs_show_entry;
extern const struct cmd_entry cmd_jobs_retry_entry;
extern const struct cmd_entry cmd_keys_generate_entry;
extern const struct cmd_entry cmd_keys_rotate_entry;
extern const struct cmd_entry cmd_google_connect_entry;
extern const struct cmd_entry cmd_user_disconnect_entry;
extern const struct cmd_entry cmd_user_delete_entry;
extern const struct cmd_entry cmd_compliance_check_entry;
extern const struct cmd_entry cmd_compliance_report_entry;
extern const struct cmd_entry cmd_export_entry;
extern const struct cmd_entry cmd_user_update_entry;

/* user-find.c: the user of --user EMAIL [--tenant ID]. */
struct ctl_user {
	char tenant_id[37], user_id[37];
	char status[32];	/* active, deletion_pending, deleted */
};

/*
 * Finds the one user with that address (in tenant, when not NULL); an
 * exit status, after printing why when it is not 0 (verb starts messages).
 */
int ctl_find_user(PGconn *, const char *verb, const char *email,
    const char *tenant, struct ctl_user *);
extern const struct cmd_entry cmd_backup_now_entry;
extern const struct cmd_entry cmd_backup_list_entry;
extern const struct cmd_entry cmd_backup_verify_entry;
extern const struct cmd_entry cmd_restore_entry;

/* fetch.c: one request on a private loop; the finished one copied out. */
struct event_base;

struct ctl_fetched {
	bool done;
	enum http_err err;
	long status;
	char *body;
	size_t body_len;
	char *error;
	struct event_base *base;
};

/*
 * Sends req and waits for its answer; -1 when lib/http refused to send it
 * (it said why: a URL that does not parse or is not https).
 */
int ctl_fetch(const struct ctl *, struct http_request *, struct ctl_fetched *);
/* The answer as lib/google/oauth parses it, borrowing from f. */
struct http_response ctl_fetched_response(const struct ctl_fetched *f);
void ctl_fetched_clear(struct ctl_fetched *);

#endif
