/* SPDX-License-Identifier: ISC */
/* The command table and the helpers rallyctl's commands share. */
#include "config.h"

#include <ctype.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db.h"
#include "keyring.h"
#include "log.h"
#include "rallyctl.h"
#include "uuid.h"

static const struct cmd_entry *const cmd_table[] = {
	&cmd_migrate_entry,
	&cmd_tenant_create_entry,
	&cmd_user_create_entry,
	&cmd_status_entry,
	&cmd_jobs_list_entry,
	&cmd_jobs_show_entry,
	&cmd_jobs_retry_entry,
	&cmd_keys_generate_entry,
	&cmd_keys_rotate_entry,
	&cmd_google_connect_entry,
	&cmd_user_disconnect_entry,
	&cmd_user_delete_entry,
	&cmd_user_update_entry,
	&cmd_compliance_check_entry,
	&cmd_compliance_report_entry,
	&cmd_export_entry,
	&cmd_backup_now_entry,
	&cmd_backup_list_entry,
	&cmd_backup_verify_entry,
	&cmd_restore_entry,
};

/* Whether name is "first" or "first second". */
static bool
name_matches(const char *name, const char *first, const char *second)
{
	size_t n = strlen(first);

	if (strncmp(name, first, n) != 0)
		return false;
	if (name[n] == '\0')
		return true;
	return name[n] == ' ' && second != NULL &&
	    strcmp(name + n + 1, second) == 0;
}

/*
 * The entry argv names and in *words how many words its name has.  When
 * there is none, *words is 2 if argv[0] starts some two-word name (so the
 * caller can quote both words), else 1.
 */
const struct cmd_entry *
cmd_find(int argc, char **argv, int *words)
{
	const char *second = argc > 1 ? argv[1] : NULL;
	size_t n = strlen(argv[0]);

	*words = 1;
	for (size_t i = 0; i < nitems(cmd_table); i++) {
		const char *name = cmd_table[i]->name;

		if (name_matches(name, argv[0], second)) {
			*words = strchr(name, ' ') != NULL ? 2 : 1;
			return cmd_table[i];
		}
		if (strncmp(name, argv[0], n) == 0 && name[n] == ' ' &&
		    second != NULL)
			*words = 2;
	}
	return NULL;
}

void
cmd_list(FILE *f)
{
	for (size_t i = 0; i < nitems(cmd_table); i++)
		fprintf(f, "  %-14s %s\n      %s\n", cmd_table[i]->name,
		    cmd_table[i]->args, cmd_table[i]->summary);
}

int
cmd_usage(const struct cmd_entry *cmd)
{
	fprintf(stderr, "usage: rallyctl %s %s\n", cmd->name, cmd->args);
	return EX_USAGE;
}

int
ctl_getopt(const struct cmd_entry *cmd, int argc, char **argv,
    const struct option *longopts)
{
	int ch;

	opterr = 0;	/* getopt would name argv[0], the command word, not us */
	ch = getopt_long(argc, argv, "", longopts, NULL);
	if (ch != '?')
		return ch;
	for (const struct option *o = longopts; o->name != NULL; o++)
		if (optopt != 0 && o->val == optopt) {
			ctl_error(EX_USAGE, "%s: --%s needs an argument",
			    cmd->name, o->name);
			return '?';
		}
	ctl_error(EX_USAGE, "%s: unknown option %s", cmd->name,
	    argv[optind - 1]);
	return '?';
}

/* Masked like a log line: errors quote libpq, the server and Google. */
int
ctl_error(int status, const char *fmt, ...)
{
	va_list ap;
	char *raw, *msg;

	fflush(stdout);
	va_start(ap, fmt);
	raw = xvasprintf(fmt, ap);
	va_end(ap);
	msg = log_redact(raw);
	fprintf(stderr, "rallyctl: %s\n", msg);
	free(msg);
	free(raw);
	return status;
}

PGconn *
ctl_db(struct ctl *ctl)
{
	char *cause = NULL;

	if (ctl->db != NULL)
		return ctl->db;
	if ((ctl->db = db_connect(ctl->conf.db_conninfo, &cause)) == NULL) {
		ctl_error(EX_UNAVAILABLE, "%s", cause);
		free(cause);
	}
	return ctl->db;
}

int
ctl_print_json(struct json_object *o)
{
	int flags = JSON_C_TO_STRING_NOSLASHESCAPE;

	flags |= isatty(STDOUT_FILENO) ? JSON_C_TO_STRING_PRETTY :
	    JSON_C_TO_STRING_PLAIN;
	puts(json_object_to_json_string_ext(o, flags));
	json_object_put(o);
	return 0;
}

int
ctl_parse_int(const char *option, const char *value, int64_t min, int64_t max,
    int64_t *out)
{
	if (parse_int64(value, min, max, out) == 0)
		return 0;
	ctl_error(EX_USAGE, "%s must be an integer from %lld to %lld, not \"%s\"",
	    option, (long long)min, (long long)max, value);
	return -1;
}

int
ctl_args_json_id(struct ctl *ctl, const struct cmd_entry *entry, int argc,
    char **argv, const char **id)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	int64_t v;
	int ch;

	optind = 0;
	while ((ch = ctl_getopt(entry, argc, argv, longopts)) != -1) {
		if (ch != 'j')
			return cmd_usage(entry);
		ctl->json = true;
	}
	if (argc - optind != 1)
		return cmd_usage(entry);
	if (ctl_parse_int("ID", argv[optind], 1, INT64_MAX, &v) == -1)
		return EX_USAGE;
	*id = argv[optind];
	return 0;
}

bool
ctl_valid_uuid(const char *s)
{
	char canonical[UUID_STR_LEN];

	return uuid_canonical(s, canonical);
}

struct json_object *
ctl_json_string(const PGresult *res, int row, int col)
{
	if (PQgetisnull(res, row, col))
		return NULL;
	return json_object_new_string(PQgetvalue(res, row, col));
}

struct json_object *
ctl_json_redacted(const PGresult *res, int row, int col)
{
	struct json_object *o;
	char *s;

	if (PQgetisnull(res, row, col))
		return NULL;
	s = log_redact(PQgetvalue(res, row, col));
	o = json_object_new_string(s);
	free(s);
	return o;
}

struct json_object *
ctl_json_int(const PGresult *res, int row, int col)
{
	int64_t v;

	if (PQgetisnull(res, row, col) ||
	    parse_int64(PQgetvalue(res, row, col), INT64_MIN, INT64_MAX, &v) == -1)
		return NULL;
	return json_object_new_int64(v);
}

/* Display width of a UTF-8 string, counting each code point as one column. */
static size_t
text_width(const char *s)
{
	size_t w = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

static const char *
cell(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? "-" : PQgetvalue(res, row, col);
}

void
ctl_put_text(const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\n' || *s == '\t')
			putchar(' ');
		else if ((unsigned char)*s < 0x20 || *s == 0x7f)
			putchar('?');
		else
			putchar(*s);
	}
}

static void
print_row(int ncols, const size_t *width, const char *const *v)
{
	for (int c = 0; c < ncols; c++) {
		ctl_put_text(v[c]);
		if (c == ncols - 1)
			break;
		for (size_t pad = text_width(v[c]); pad < width[c] + 2; pad++)
			putchar(' ');
	}
	putchar('\n');
}

void
ctl_print_table(const PGresult *res, const char *const *headings)
{
	int ncols = PQnfields(res), nrows = PQntuples(res);
	size_t *width = xcalloc(ncols, sizeof *width);
	const char **v = xcalloc(ncols, sizeof *v);

	char **cells = xcalloc((size_t)ncols * (nrows > 0 ? nrows : 1),
	    sizeof *cells);

	/* Redacted in case a token ever slipped into a stored error message. */
	for (int r = 0; r < nrows; r++)
		for (int c = 0; c < ncols; c++)
			cells[r * ncols + c] = log_redact(cell(res, r, c));
	for (int c = 0; c < ncols; c++) {
		width[c] = text_width(headings[c]);
		for (int r = 0; r < nrows; r++) {
			size_t w = text_width(cells[r * ncols + c]);

			if (w > width[c])
				width[c] = w;
		}
	}
	print_row(ncols, width, headings);
	for (int r = 0; r < nrows; r++) {
		for (int c = 0; c < ncols; c++)
			v[c] = cells[r * ncols + c];
		print_row(ncols, width, v);
	}
	for (int i = 0; i < ncols * nrows; i++)
		free(cells[i]);
	free(cells);
	free(v);
	free(width);
}

struct keyring *
ctl_backup_keyring(struct ctl *ctl, const char *cmd)
{
	struct keyring *kr;
	char *cause = NULL;

	if ((kr = keyring_load(conf_backup_keyring_path(&ctl->conf),
	    &cause)) == NULL) {
		ctl_error(EX_CONFIG, "%s: %s (rallyctl keys generate --backup "
		    "creates it)", cmd, cause);
		free(cause);
	}
	return kr;
}

struct json_object *
ctl_json_rows(const PGresult *res, const char *const *names, const char *types)
{
	struct json_object *a = json_object_new_array(), *o, *v;

	for (int r = 0; r < PQntuples(res); r++) {
		o = json_object_new_object();
		for (int c = 0; c < PQnfields(res) && types[c] != '\0'; c++) {
			if (types[c] == 'i')
				v = ctl_json_int(res, r, c);
			else if (types[c] == 'r')
				v = ctl_json_redacted(res, r, c);
			else
				v = ctl_json_string(res, r, c);
			json_object_object_add(o, names[c], v);
		}
		json_object_array_add(a, o);
	}
	return a;
}
