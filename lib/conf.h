/* SPDX-License-Identifier: ISC */
/*
 * conf: rally.conf, shared by rallyd, rallyctl and rally.cgi.
 *
 * The format is INI-like: "[section]" headers and "key = value" lines;
 * '#' or ';' starts a comment line; a value may be double-quoted to keep
 * leading or trailing blanks.  Every key is declared in conf.c's table with
 * its type, bounds and default; an unknown section or key, a duplicate, or
 * a value out of bounds is an error that names the file and line.
 */
#ifndef RALLY_CONF_H
#define RALLY_CONF_H

#include <stdbool.h>
#include <stdint.h>

#include "util.h"

#define CONF_DEFAULT_PATH SYSCONFDIR "/rally/rally.conf"
#define CONF_MAX_FILE (1024 * 1024)
#define CONF_MAX_LINE 4096

struct conf {
	/* [database] */
	char *db_conninfo;	/* rallyd and rallyctl */
	char *db_web_conninfo;	/* rally.cgi */

	/* [daemon] */
	char *instance;		/* lease owner name; default host:pid */
	int64_t concurrency;	/* jobs run at once by one instance */
	int64_t lease_sec;
	int64_t shutdown_timeout_sec;
	int64_t max_attempts;
	int64_t retry_base_sec;
	int64_t retry_max_sec;
	int64_t job_retention_sec;
	int64_t safety_poll_sec;	/* re-check for due work even without NOTIFY */

	/* [log] */
	char *log_level;
	char *log_target;

	/* [keys] */
	char *keyring;
	char *backup_keyring;	/* the keys of backup files, apart */

	/* [passwords] */
	int64_t argon2_memory_kib;
	int64_t argon2_iterations;
	int64_t argon2_parallelism;

	/* [http] */
	char *http_ca_file;
	int64_t http_connect_timeout_sec;
	int64_t http_timeout_sec;
	int64_t http_max_response;
	int64_t http_max_retries;
	int64_t http_max_connections;

	/* [google] */
	char *google_client_id;
	char *google_client_secret_file;
	char *google_redirect_uri;
	char *google_auth_url;
	char *google_token_url;
	char *google_revoke_url;
	char *google_userinfo_url;
	char *google_calendar_url;
	char *google_gmail_url;
	char *google_push_token_file;	/* rally.cgi: Gmail Pub/Sub push secret */
	int64_t google_user_rate;	/* requests per second, per connection */
	int64_t google_user_burst;

	/* [calendar] */
	int64_t calendar_window_sec;	/* a full sync reaches this far back */
	int64_t calendar_poll_sec;	/* sync at least this often, push or not */
	char *calendar_push_url;	/* rally.cgi's public URL; "" = poll only */
	int64_t calendar_channel_ttl_sec;
	int64_t calendar_page_size;	/* events.list maxResults */
	int64_t calendar_deleted_retention_sec;	/* soft-deleted, unconnected */

	/* [mail] */
	int64_t mail_window_sec;	/* a full sync reaches this far back */
	int64_t mail_poll_sec;		/* sync at least this often, push or not */
	int64_t mail_page_size;		/* messages.list maxResults */
	char *mail_pubsub_topic;	/* users.watch topic; "" = poll only */
	int64_t mail_quota_rate;	/* Gmail units a second, per connection */
	int64_t mail_quota_burst;	/* units spent at once */
	int64_t mail_project_rate;	/* Gmail units a second, all instances; 0 off */
	int64_t mail_project_burst;	/* the project bucket's depth */
	int64_t mail_reconcile_sec;	/* compare with Gmail's ids; 0: never */
	char *mail_fetch;		/* single | batch: a full sync's messages.get */

	/* [smtp]: the relay of notices by email (lib/smtp.h) */
	char *smtp_url;		/* "" = no relay: notices wait */
	char *smtp_from;
	char *smtp_username;
	char *smtp_password_file;
	char *smtp_starttls;	/* required | off */
	int64_t smtp_timeout_sec;

	/* [notices] */
	int64_t notices_sync_failing_sec;	/* a failing sync is told after */

	/* [compliance]: the 30-day promise (docs/compliance.md) */
	int64_t deletion_grace_sec;	/* an account deletion may be cancelled */
	int64_t purge_lag_sec;		/* the purge finishes within this after */

	/* [usage] */
	int64_t usage_retention_sec;	/* raw usage events, then only rollups */

	/* [backup] */
	char *backup_dir;
	char *backup_time;	/* "HH:MM", UTC */
	int64_t backup_retention_sec;	/* part of the 30-day deletion promise */
	int64_t backup_restore_check_sec;	/* 0: never */
	int64_t backup_lock_wait_sec;	/* for the tables' locks, then fail */
	char *backup_conninfo;	/* "" = database.conninfo */
	char *backup_pg_dump;
	char *backup_psql;
	int64_t backup_zstd_level;

	/* [web]: rally.cgi's pages */
	char *web_public_url;	/* "https://crm.example.com", for emailed links */
	int64_t web_session_idle_sec;	/* a session unused this long ends */
	int64_t web_session_lifetime_sec;	/* and any session after this */
};

/* grace + purge lag + backup retention may not exceed this (DESIGN 6). */
#define CONF_DELETION_PROMISE_SEC (30 * 24 * 3600)

/* Loads path over the defaults.  On error sets *cause ("file:line: why"). */
int conf_load(const char *path, struct conf *, char **cause) MUST_CHECK;
/* The same for a file already in memory; name is used in messages. */
int conf_load_buffer(const char *buf, size_t len, const char *name,
    struct conf *, char **cause) MUST_CHECK;
/* The defaults alone (for tests and --help). */
void conf_defaults(struct conf *);
void conf_clear(struct conf *);
/* A deep copy of src (for a worker thread); conf_clear() frees it. */
void conf_copy(struct conf *dst, const struct conf *src);

/* Parses "30s", "5m", "2h", "7d" or plain seconds; 0 or -1. */
int conf_parse_duration(const char *, int64_t *sec);
/* Parses "512", "64K", "32M", "1G" (powers of 1024); 0 or -1. */
int conf_parse_size(const char *, int64_t *bytes);

/* The path to use: -c argument, else $RALLY_CONFIG, else the default. */
const char *conf_path(const char *arg);

/*
 * The keyring to use: the systemd credential "keyring" when
 * $CREDENTIALS_DIRECTORY holds one, else keys.keyring.
 */
const char *conf_keyring_path(const struct conf *);
/* The same for keys.backup_keyring and the credential "backup-key". */
const char *conf_backup_keyring_path(const struct conf *);
/* backup.conninfo, else database.conninfo. */
const char *conf_backup_conninfo(const struct conf *);
/* backup.time as minutes after midnight UTC, or -1 if malformed. */
int conf_backup_minute(const char *);

#endif
