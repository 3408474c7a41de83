/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "systemd.h"

enum conf_type { T_STRING, T_INT, T_DURATION, T_SIZE };

struct conf_key {
	const char *section;
	const char *name;
	enum conf_type type;
	size_t off;
	int64_t min, max;
	const char *def;
};

#define S(sec, key, field, def) \
	{ sec, key, T_STRING, offsetof(struct conf, field), 0, 0, def }
#define N(sec, key, type, field, lo, hi, def) \
	{ sec, key, type, offsetof(struct conf, field), lo, hi, def }
#define DAY (24 * 3600)

static const struct conf_key keys[] = {
	S("database", "conninfo", db_conninfo, "dbname=rally"),
	S("database", "web_conninfo", db_web_conninfo, "dbname=rally"),

	S("daemon", "instance", instance, ""),
	N("daemon", "concurrency", T_INT, concurrency, 1, 1024, "16"),
	N("daemon", "lease", T_DURATION, lease_sec, 2, DAY, "60s"),
	N("daemon", "shutdown_timeout", T_DURATION, shutdown_timeout_sec, 0, 3600, "10s"),
	N("daemon", "max_attempts", T_INT, max_attempts, 1, 1000, "8"),
	N("daemon", "retry_base", T_DURATION, retry_base_sec, 1, DAY, "5s"),
	N("daemon", "retry_max", T_DURATION, retry_max_sec, 1, 7 * DAY, "1h"),
	N("daemon", "job_retention", T_DURATION, job_retention_sec, 60, 365 * DAY, "7d"),
	N("daemon", "safety_poll", T_DURATION, safety_poll_sec, 1, DAY, "60s"),

	S("log", "level", log_level, "info"),
	S("log", "target", log_target, "auto"),

	S("keys", "keyring", keyring, "/etc/rally/keyring"),
	S("keys", "backup_keyring", backup_keyring, "/etc/rally/backup-key"),

	N("passwords", "argon2_memory_kib", T_INT, argon2_memory_kib, 19456, 4194304, "19456"),
	N("passwords", "argon2_iterations", T_INT, argon2_iterations, 2, 100, "2"),
	N("passwords", "argon2_parallelism", T_INT, argon2_parallelism, 1, 64, "1"),

	S("http", "ca_file", http_ca_file, ""),
	N("http", "connect_timeout", T_DURATION, http_connect_timeout_sec, 1, 600, "10s"),
	N("http", "timeout", T_DURATION, http_timeout_sec, 1, 3600, "60s"),
	N("http", "max_response", T_SIZE, http_max_response, 1024, INT64_C(1) << 32, "32M"),
	N("http", "max_retries", T_INT, http_max_retries, 0, 100, "5"),
	N("http", "max_connections", T_INT, http_max_connections, 1, 4096, "64"),

	S("google", "client_id", google_client_id, ""),
	S("google", "client_secret_file", google_client_secret_file, ""),
	S("google", "redirect_uri", google_redirect_uri, ""),
	S("google", "auth_url", google_auth_url, "https://accounts.google.com/o/oauth2/v2/auth"),
	S("google", "token_url", google_token_url, "https://oauth2.googleapis.com/token"),
	S("google", "revoke_url", google_revoke_url, "https://oauth2.googleapis.com/revoke"),
	S("google", "userinfo_url", google_userinfo_url, "https://openidconnect.googleapis.com/v1/userinfo"),
	S("google", "calendar_url", google_calendar_url, "https://www.googleapis.com/calendar/v3"),
	S("google", "gmail_url", google_gmail_url, "https://gmail.googleapis.com/gmail/v1"),
	S("google", "push_token_file", google_push_token_file, ""),
	N("google", "user_rate", T_INT, google_user_rate, 1, 1000, "20"),
	N("google", "user_burst", T_INT, google_user_burst, 1, 1000, "40"),

	N("calendar", "window", T_DURATION, calendar_window_sec, DAY, 3650 * DAY, "365d"),
	N("calendar", "poll_interval", T_DURATION, calendar_poll_sec, 10, DAY, "15m"),
	S("calendar", "push_url", calendar_push_url, ""),
	N("calendar", "channel_ttl", T_DURATION, calendar_channel_ttl_sec, 3600, 30 * DAY, "7d"),
	N("calendar", "page_size", T_INT, calendar_page_size, 1, 2500, "2500"),
	N("calendar", "deleted_retention", T_DURATION, calendar_deleted_retention_sec, 60, 365 * DAY, "1d"),

	N("mail", "window", T_DURATION, mail_window_sec, DAY, 3650 * DAY, "90d"),
	N("mail", "poll_interval", T_DURATION, mail_poll_sec, 10, DAY, "5m"),
	N("mail", "page_size", T_INT, mail_page_size, 1, 500, "500"),
	S("mail", "pubsub_topic", mail_pubsub_topic, ""),
	N("mail", "quota_rate", T_INT, mail_quota_rate, 1, 1000000, "225"),
	N("mail", "quota_burst", T_INT, mail_quota_burst, 1, 1000000, "25"),
	N("mail", "project_rate", T_INT, mail_project_rate, 0, 10000000, "18000"),
	N("mail", "project_burst", T_INT, mail_project_burst, 200, 10000000, "3000"),
	N("mail", "reconcile_interval", T_DURATION, mail_reconcile_sec, 0, 365 * DAY, "1d"),
	S("mail", "fetch", mail_fetch, "batch"),

	S("smtp", "url", smtp_url, ""),
	S("smtp", "from", smtp_from, ""),
	S("smtp", "username", smtp_username, ""),
	S("smtp", "password_file", smtp_password_file, ""),
	S("smtp", "starttls", smtp_starttls, "required"),
	N("smtp", "timeout", T_DURATION, smtp_timeout_sec, 1, 600, "30s"),

	N("notices", "sync_failing_after", T_DURATION, notices_sync_failing_sec, 600, 30 * DAY, "1d"),

	N("compliance", "deletion_grace", T_DURATION, deletion_grace_sec, 0, 30 * DAY, "14d"),
	N("compliance", "purge_lag", T_DURATION, purge_lag_sec, 60, 30 * DAY, "1d"),

	N("usage", "retention", T_DURATION, usage_retention_sec, 2 * DAY, 365 * DAY, "30d"),

	S("backup", "dir", backup_dir, "/var/lib/rally/backups"),
	S("backup", "time", backup_time, "03:00"),
	N("backup", "retention", T_DURATION, backup_retention_sec, 3600, 30 * DAY, "7d"),
	N("backup", "restore_check", T_DURATION, backup_restore_check_sec, 0, 365 * DAY, "7d"),
	N("backup", "lock_wait", T_DURATION, backup_lock_wait_sec, 1, DAY, "1m"),
	S("backup", "conninfo", backup_conninfo, ""),
	S("backup", "pg_dump", backup_pg_dump, "pg_dump"),
	S("backup", "psql", backup_psql, "psql"),
	N("backup", "zstd_level", T_INT, backup_zstd_level, 1, 19, "1"),

	S("web", "public_url", web_public_url, ""),
	N("web", "session_idle", T_DURATION, web_session_idle_sec, 300, 30 * DAY, "12h"),
	N("web", "session_lifetime", T_DURATION, web_session_lifetime_sec, 3600, 90 * DAY, "14d"),
};

int
conf_parse_duration(const char *s, int64_t *sec)
{
	static const struct { char unit; int64_t mul; } units[] = {
		{ 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', DAY },
	};
	size_t n = strlen(s);
	int64_t mul = 1, v;
	char *num;
	int rc;

	if (n == 0)
		return -1;
	/* One unit at most: "m" alone must not read before s, "5ms" is not 5m. */
	for (size_t i = 0; i < nitems(units); i++)
		if (s[n - 1] == units[i].unit) {
			mul = units[i].mul;
			n--;
			break;
		}
	num = xstrndup(s, n);
	rc = parse_int64(num, 0, INT64_MAX / mul, &v);
	free(num);
	if (rc == -1)
		return -1;
	*sec = v * mul;
	return 0;
}

int
conf_parse_size(const char *s, int64_t *bytes)
{
	size_t n = strlen(s);
	int64_t mul = 1, v;
	const char *u;
	char *num;
	int rc;

	if (n == 0)
		return -1;
	if ((u = strchr("KMG", toupper((unsigned char)s[n - 1]))) != NULL &&
	    *u != '\0') {
		mul = INT64_C(1) << (10 * (u - "KMG" + 1));
		n--;
	}
	num = xstrndup(s, n);
	rc = parse_int64(num, 0, INT64_MAX / mul, &v);
	free(num);
	if (rc == -1)
		return -1;
	*bytes = v * mul;
	return 0;
}

static const char *const type_hint[] = {
	[T_STRING] = "a string",
	[T_INT] = "an integer",
	[T_DURATION] = "a duration such as 30s, 5m, 2h or 7d",
	[T_SIZE] = "a size such as 512K or 32M",
};

/* Stores value for k into c; on error returns a message (caller frees). */
static char *
conf_set(struct conf *c, const struct conf_key *k, const char *value)
{
	void *field = (char *)c + k->off;
	int64_t v;
	int rc;

	if (k->type == T_STRING) {
		char **sp = field;

		free(*sp);
		*sp = xstrdup(value);
		return NULL;
	}
	if (k->type == T_INT)
		rc = parse_int64(value, INT64_MIN, INT64_MAX, &v);
	else if (k->type == T_DURATION)
		rc = conf_parse_duration(value, &v);
	else
		rc = conf_parse_size(value, &v);
	if (rc == -1)
		return xasprintf("%s.%s must be %s, not \"%s\"", k->section,
		    k->name, type_hint[k->type], value);
	if (v < k->min || v > k->max)
		return xasprintf("%s.%s = %s is out of range (%lld to %lld%s)",
		    k->section, k->name, value, (long long)k->min,
		    (long long)k->max,
		    k->type == T_DURATION ? " seconds" :
		    k->type == T_SIZE ? " bytes" : "");
	*(int64_t *)field = v;
	return NULL;
}

void
conf_defaults(struct conf *c)
{
	memset(c, 0, sizeof *c);
	for (size_t i = 0; i < nitems(keys); i++) {
		char *err = conf_set(c, &keys[i], keys[i].def);

		if (err != NULL) /* a wrong default is a programming error */
			abort();
	}
}

void
conf_clear(struct conf *c)
{
	for (size_t i = 0; i < nitems(keys); i++)
		if (keys[i].type == T_STRING)
			free(*(char **)((char *)c + keys[i].off));
	memset(c, 0, sizeof *c);
}

void
conf_copy(struct conf *dst, const struct conf *src)
{
	memcpy(dst, src, sizeof *dst);
	for (size_t i = 0; i < nitems(keys); i++)
		if (keys[i].type == T_STRING) {
			char **d = (char **)((char *)dst + keys[i].off);

			*d = xstrdup(*d);
		}
}

static char *
trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static const struct conf_key *
find_key(const char *section, const char *name)
{
	for (size_t i = 0; i < nitems(keys); i++)
		if (strcmp(keys[i].section, section) == 0 &&
		    strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

static bool
known_section(const char *section)
{
	for (size_t i = 0; i < nitems(keys); i++)
		if (strcmp(keys[i].section, section) == 0)
			return true;
	return false;
}

/* Parser state for one file. */
struct conf_parse {
	const char *path;
	unsigned line;
	char section[64];
	bool seen[nitems(keys)];
	struct conf *c;
};

static int
parse_section(struct conf_parse *p, char *s, char **cause)
{
	char *end = strchr(s, ']');

	if (end == NULL || *trim(end + 1) != '\0')
		return set_cause(cause, "%s:%u: malformed section header",
		    p->path, p->line);
	*end = '\0';
	s = trim(s + 1);
	if (!known_section(s))
		return set_cause(cause, "%s:%u: unknown section [%s]", p->path,
		    p->line, s);
	snprintf(p->section, sizeof p->section, "%s", s);
	return 0;
}

static int
parse_value(struct conf_parse *p, char *s, char **value, char **cause)
{
	size_t n = strlen(s);

	*value = s;
	if (n > 0 && s[0] == '"') {
		if (n < 2 || s[n - 1] != '"')
			return set_cause(cause, "%s:%u: unterminated quoted value",
			    p->path, p->line);
		s[n - 1] = '\0';
		*value = s + 1;
	}
	return 0;
}

static int
parse_assignment(struct conf_parse *p, char *s, char **cause)
{
	char *eq = strchr(s, '='), *name, *value, *err;
	const struct conf_key *k;

	if (eq == NULL)
		return set_cause(cause, "%s:%u: expected \"key = value\"",
		    p->path, p->line);
	if (p->section[0] == '\0')
		return set_cause(cause, "%s:%u: key outside any [section]",
		    p->path, p->line);
	*eq = '\0';
	name = trim(s);
	if (parse_value(p, trim(eq + 1), &value, cause) == -1)
		return -1;
	if ((k = find_key(p->section, name)) == NULL)
		return set_cause(cause, "%s:%u: unknown key \"%s\" in [%s]",
		    p->path, p->line, name, p->section);
	if (p->seen[k - keys])
		return set_cause(cause, "%s:%u: %s.%s is set twice", p->path,
		    p->line, p->section, name);
	p->seen[k - keys] = true;
	if ((err = conf_set(p->c, k, value)) != NULL) {
		set_cause(cause, "%s:%u: %s", p->path, p->line, err);
		free(err);
		return -1;
	}
	return 0;
}

static int
parse_line(struct conf_parse *p, char *s, char **cause)
{
	s = trim(s);
	if (*s == '\0' || *s == '#' || *s == ';')
		return 0;
	if (*s == '[')
		return parse_section(p, s, cause);
	return parse_assignment(p, s, cause);
}

/* Splits buf into lines with the file's limits and parses each. */
static int
parse_buffer(struct conf_parse *p, const char *buf, size_t len, char **cause)
{
	char line[CONF_MAX_LINE + 1];
	const char *s = buf, *end = buf + len, *nl;
	size_t n;

	if (len > CONF_MAX_FILE)
		return set_cause(cause, "%s: larger than %d bytes", p->path,
		    CONF_MAX_FILE);
	while (s < end) {
		if ((nl = memchr(s, '\n', (size_t)(end - s))) == NULL)
			nl = end;
		n = (size_t)(nl - s);
		p->line++;
		if (n > CONF_MAX_LINE)
			return set_cause(cause, "%s:%u: line longer than %d bytes",
			    p->path, p->line, CONF_MAX_LINE);
		if (memchr(s, '\0', n) != NULL)
			return set_cause(cause, "%s:%u: NUL byte", p->path,
			    p->line);
		memcpy(line, s, n);
		line[n] = '\0';
		if (parse_line(p, line, cause) == -1)
			return -1;
		s = nl + 1;
	}
	return 0;
}

/* Reads at most CONF_MAX_FILE + 1 bytes of path into *buf (caller frees). */
static int
read_file(const char *path, char **buf, size_t *len, char **cause)
{
	FILE *f;
	size_t n;

	if ((f = fopen(path, "re")) == NULL)
		return set_cause(cause, "%s: %s", path, strerror(errno));
	*buf = xmalloc(CONF_MAX_FILE + 1);
	n = fread(*buf, 1, CONF_MAX_FILE + 1, f);
	if (ferror(f)) {
		set_cause(cause, "%s: %s", path, strerror(errno));
		fclose(f);
		free(*buf);
		return -1;
	}
	fclose(f);
	*len = n;
	return 0;
}

/* A duration as rally.conf writes it, in its largest exact unit. */
static const char *
duration_text(int64_t sec, char *buf, size_t size)
{
	if (sec % DAY == 0)
		snprintf(buf, size, "%lldd", (long long)(sec / DAY));
	else if (sec % 3600 == 0)
		snprintf(buf, size, "%lldh", (long long)(sec / 3600));
	else if (sec % 60 == 0)
		snprintf(buf, size, "%lldm", (long long)(sec / 60));
	else
		snprintf(buf, size, "%llds", (long long)sec);
	return buf;
}

/* The 30-day promise of an account deletion, backups included. */
static int
conf_validate_promise(const struct conf *c, const char *path, char **cause)
{
	char g[32], l[32], r[32];

	if (c->deletion_grace_sec + c->purge_lag_sec + c->backup_retention_sec <=
	    CONF_DELETION_PROMISE_SEC)
		return 0;
	return set_cause(cause, "%s: compliance.deletion_grace (%s) + "
	    "compliance.purge_lag (%s) + backup.retention (%s) is more than the "
	    "30 days within which a deleted account must be gone, backups "
	    "included: shorten one of them", path,
	    duration_text(c->deletion_grace_sec, g, sizeof g),
	    duration_text(c->purge_lag_sec, l, sizeof l),
	    duration_text(c->backup_retention_sec, r, sizeof r));
}

/* Checks that need more than one key's type and bounds. */
static int
conf_validate(const struct conf *c, const char *path, char **cause)
{
	if (log_priority_from_name(c->log_level) == -1)
		return set_cause(cause, "%s: log.level \"%s\" is not one of "
		    "debug, info, notice, warning, err, crit", path, c->log_level);
	if (strcmp(c->log_target, "auto") != 0 &&
	    strcmp(c->log_target, "stderr") != 0 &&
	    strcmp(c->log_target, "journal") != 0)
		return set_cause(cause, "%s: log.target \"%s\" is not one of "
		    "auto, stderr, journal", path, c->log_target);
	if (strcmp(c->log_target, "journal") == 0 && !systemd_built_in())
		return set_cause(cause, "%s: log.target = journal needs systemd, "
		    "and this build was configured --without-systemd: use auto "
		    "or stderr", path);
	if (conf_backup_minute(c->backup_time) == -1)
		return set_cause(cause, "%s: backup.time \"%s\" is not HH:MM "
		    "(UTC, 00:00 to 23:59)", path, c->backup_time);
	if (c->backup_dir[0] != '/')
		return set_cause(cause, "%s: backup.dir must be an absolute "
		    "path", path);
	if (strcmp(c->mail_fetch, "single") != 0 &&
	    strcmp(c->mail_fetch, "batch") != 0)
		return set_cause(cause, "%s: mail.fetch \"%s\" is not one of "
		    "single, batch", path, c->mail_fetch);
	if (c->retry_base_sec > c->retry_max_sec)
		return set_cause(cause, "%s: daemon.retry_base is longer than "
		    "daemon.retry_max", path);
	return conf_validate_promise(c, path, cause);
}

int
conf_load_buffer(const char *buf, size_t len, const char *name, struct conf *c,
    char **cause)
{
	struct conf_parse p = { .path = name, .c = c };
	int rc;

	conf_defaults(c);
	rc = parse_buffer(&p, buf, len, cause);
	if (rc == 0)
		rc = conf_validate(c, name, cause);
	if (rc == -1)
		conf_clear(c);
	return rc;
}

int
conf_load(const char *path, struct conf *c, char **cause)
{
	char *buf = NULL;
	size_t len = 0;
	int rc;

	if (read_file(path, &buf, &len, cause) == -1) {
		memset(c, 0, sizeof *c);	/* as after any other error */
		return -1;
	}
	rc = conf_load_buffer(buf, len, path, c, cause);
	free(buf);
	return rc;
}

const char *
conf_path(const char *arg)
{
	const char *e;

	if (arg != NULL)
		return arg;
	if ((e = getenv("RALLY_CONFIG")) != NULL && *e != '\0')
		return e;
	return CONF_DEFAULT_PATH;
}

/*
 * The systemd credential name, when $CREDENTIALS_DIRECTORY holds it, else
 * fallback.  Derived from the environment, which is process-wide too; a
 * static buffer spares every caller a free().  Valid until the next call.
 */
static const char *
credential_path(const char *name, const char *fallback)
{
	static char path[4096];
	const char *dir = getenv("CREDENTIALS_DIRECTORY");
	int n;

	if (dir != NULL && *dir != '\0') {
		n = snprintf(path, sizeof path, "%s/%s", dir, name);
		if (n > 0 && (size_t)n < sizeof path && access(path, F_OK) == 0)
			return path;
	}
	return fallback;
}

const char *
conf_keyring_path(const struct conf *c)
{
	return credential_path("keyring", c->keyring);
}

const char *
conf_backup_keyring_path(const struct conf *c)
{
	return credential_path("backup-key", c->backup_keyring);
}

const char *
conf_backup_conninfo(const struct conf *c)
{
	return c->backup_conninfo[0] != '\0' ? c->backup_conninfo :
	    c->db_conninfo;
}

int
conf_backup_minute(const char *s)
{
	int h, m;

	if (strlen(s) != 5 || s[2] != ':')
		return -1;
	for (int i = 0; i < 5; i++)
		if (i != 2 && !isdigit((unsigned char)s[i]))
			return -1;
	h = (s[0] - '0') * 10 + s[1] - '0';
	m = (s[3] - '0') * 10 + s[4] - '0';
	return h > 23 || m > 59 ? -1 : h * 60 + m;
}
