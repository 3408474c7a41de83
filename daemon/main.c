/* SPDX-License-Identifier: ISC */
/*
 * rallyd: the Rally daemon.  One libevent loop runs everything: the
 * database connection (pgloop), the job engine, the periodic scheduler,
 * signals and the systemd notifications (lib/systemd: no-ops in a build
 * configured --without-systemd).  See rallyd(8).
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "conf.h"
#include "google.h"
#include "http.h"
#include "jobs.h"
#include "keyring.h"
#include "log.h"
#include "msgid.h"
#include "pgloop.h"
#include "push-secret.h"
#include "rallyd.h"
#include "sched.h"
#include "systemd.h"
#include "util.h"

#define EX_USAGE 64
#define EX_CONFIG 78
#define JOBS_CHANNEL "rally_jobs"
/* While the database is unreachable, repeat the warning this often. */
#define DB_DOWN_LOG_EVERY_SEC 30

static void
usage(FILE *f)
{
	fprintf(f, "usage: rallyd [-v] [-c PATH] [--check-config] [--version]\n");
}

void
rallyd_update_status(struct rallyd *d)
{
	if (d->stopping)
		systemd_notify("STATUS=stopping; %u job(s) running",
		    jobs_running(d->jobs));
	else if (!pgloop_connected(d->db))
		systemd_notify("STATUS=waiting for the database; %u job(s) running",
		    jobs_running(d->jobs));
	else
		systemd_notify("STATUS=connected; %u job(s) running; backlog %ld",
		    jobs_running(d->jobs), jobs_backlog(d->jobs));
}

void
rallyd_exit(struct rallyd *d, int code)
{
	d->exit_code = code;
	event_base_loopbreak(d->base);
}

static void
db_connected_cb(struct pgloop *p, void *arg)
{
	struct rallyd *d = arg;

	log_emit(d->ready_sent ? LOG_NOTICE : LOG_INFO, MSGID_DB_CONNECTED, NULL,
	    "%s the database; listening on %s",
	    d->ready_sent ? "reconnected to" : "connected to", JOBS_CHANNEL);
	if (!d->ready_sent) {
		d->ready_sent = true;
		systemd_notify("READY=1");
		log_emit(LOG_INFO, MSGID_READY, NULL, "ready as instance %s",
		    d->instance);
	}
	jobs_connected(d->jobs);
	push_secret_publish(d);
	sched_tick(d->sched);
	rallyd_update_status(d);
}

static void
db_disconnected_cb(struct pgloop *p, const char *why, void *arg)
{
	struct rallyd *d = arg;
	static time_t last_logged;	/* main.c owns the process: see STYLE */
	time_t now = time(NULL);
	char *msg = xstrdup(why);

	msg[strcspn(msg, "\n")] = '\0';
	if (now - last_logged >= DB_DOWN_LOG_EVERY_SEC) {
		log_emit(LOG_WARNING, MSGID_DB_LOST, NULL,
		    "database unavailable, retrying: %s", msg);
		last_logged = now;
	}
	free(msg);
	rallyd_update_status(d);
}

static void
db_notify_cb(struct pgloop *p, const char *channel, const char *payload,
    void *arg)
{
	struct rallyd *d = arg;

	if (strcmp(channel, JOBS_CHANNEL) == 0)
		jobs_wake(d->jobs);
}

static void
sigterm_cb(evutil_socket_t sig, short what, void *arg)
{
	struct rallyd *d = arg;

	if (d->stopping) {
		log_emit(LOG_NOTICE, MSGID_STOPPING, NULL,
		    "second signal: stopping now; unfinished leases expire");
		rallyd_exit(d, 0);
		return;
	}
	d->stopping = true;
	systemd_notify("STOPPING=1");
	log_emit(LOG_NOTICE, MSGID_STOPPING, NULL, "stopping on signal %d",
	    (int)sig);
	rallyd_update_status(d);
	jobs_stop(d->jobs);
}

static void
apply_log_settings(const struct conf *c, bool verbose)
{
	enum log_target t = LOG_TARGET_AUTO;

	if (strcmp(c->log_target, "stderr") == 0)
		t = LOG_TARGET_STDERR;
	else if (strcmp(c->log_target, "journal") == 0)
		t = LOG_TARGET_JOURNAL;
	log_init("rallyd", t,
	    verbose ? LOG_DEBUG : log_priority_from_name(c->log_level));
}

/*
 * Loads the keyring into d->keyring, replacing the one loaded before: 0, or
 * -1 when the file exists but cannot be used.  A missing keyring is not an
 * error: work that needs no secret goes on and Google calls fail with
 * "no keyring" (and are retried) until one is installed.
 */
static int
load_keyring(struct rallyd *d)
{
	const char *path = conf_keyring_path(&d->conf);
	struct keyring *kr;
	struct stat st;
	char *cause = NULL;

	if (stat(path, &st) == -1 && errno == ENOENT) {
		log_emit(LOG_WARNING, MSGID_KEYRING_INVALID, NULL,
		    "no keyring at %s: %s", path, d->keyring != NULL ?
		    "keeping the keys loaded before" :
		    "calls to Google fail until one is installed");
		return 0;
	}
	if ((kr = keyring_load(path, &cause)) == NULL) {
		log_emit(LOG_ERR, MSGID_KEYRING_INVALID, NULL,
		    "invalid keyring: %s", cause);
		free(cause);
		return -1;
	}
	keyring_free(d->keyring);
	d->keyring = kr;
	log_info("keyring %s loaded: %zu key(s), newest %u", path,
	    keyring_count(kr), keyring_newest_id(kr));
	return 0;
}

static void
sighup_cb(evutil_socket_t sig, short what, void *arg)
{
	struct rallyd *d = arg;
	struct conf fresh;
	char *cause = NULL;

	systemd_notify("RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)now_usec());
	if (conf_load(d->conf_path, &fresh, &cause) == -1) {
		log_emit(LOG_ERR, MSGID_CONFIG_INVALID, NULL,
		    "reload failed, keeping the running configuration: %s", cause);
		free(cause);
	} else {
		bool conninfo_changed =
		    strcmp(fresh.db_conninfo, d->conf.db_conninfo) != 0;

		conf_clear(&d->conf);
		d->conf = fresh;
		apply_log_settings(&d->conf, d->verbose);
		if (conninfo_changed)
			pgloop_set_conninfo(d->db, d->conf.db_conninfo);
		jobs_reconfigure(d->jobs);
		sched_reconfigure(d->sched);
		log_emit(LOG_INFO, MSGID_RELOADED, NULL, "configuration reloaded%s",
		    conninfo_changed ? " (new database settings apply at the "
		    "next reconnect)" : "");
	}
	if (load_keyring(d) == -1 && d->keyring != NULL)
		log_notice("keeping the keyring loaded before");
	push_secret_load(d);
	push_secret_publish(d);
	systemd_notify("READY=1");
	rallyd_update_status(d);
}

static void
watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
	/* Sent from the loop itself: a blocked loop stops the pings. */
	systemd_notify("WATCHDOG=1");
}

static void
setup_watchdog(struct rallyd *d)
{
	uint64_t usec = systemd_watchdog_usec() / 2;
	struct timeval tv;

	if (usec == 0)
		return;
	tv.tv_sec = (long)(usec / 1000000);
	tv.tv_usec = (long)(usec % 1000000);
	d->ev_watchdog = event_new(d->base, -1, EV_PERSIST, watchdog_cb, d);
	event_add(d->ev_watchdog, &tv);
}

static void
setup_signals(struct rallyd *d)
{
	signal(SIGPIPE, SIG_IGN);
	d->ev_sigterm = evsignal_new(d->base, SIGTERM, sigterm_cb, d);
	d->ev_sigint = evsignal_new(d->base, SIGINT, sigterm_cb, d);
	d->ev_sighup = evsignal_new(d->base, SIGHUP, sighup_cb, d);
	evsignal_add(d->ev_sigterm, NULL);
	evsignal_add(d->ev_sigint, NULL);
	evsignal_add(d->ev_sighup, NULL);
}

static char *
instance_name(const struct conf *c)
{
	char host[256];

	if (c->instance[0] != '\0')
		return xstrdup(c->instance);
	if (gethostname(host, sizeof host) == -1)
		snprintf(host, sizeof host, "localhost");
	host[sizeof host - 1] = '\0';
	/* The pid makes a restarted daemon a new owner: old leases expire. */
	return xasprintf("%s:%ld", host, (long)getpid());
}

static void
http_opts_from_conf(const struct conf *c, struct http_opts *o)
{
	memset(o, 0, sizeof *o);
	o->ca_file = c->http_ca_file;
	o->connect_timeout_ms = (long)(c->http_connect_timeout_sec * 1000);
	o->timeout_ms = (long)(c->http_timeout_sec * 1000);
	o->max_response = (size_t)c->http_max_response;
	o->max_retries = (int)c->http_max_retries;
	o->max_connections = (long)c->http_max_connections;
}

static int
run(struct rallyd *d)
{
	struct http_opts hopts;
	const struct pgloop_cbs cbs = {
		.connected_cb = db_connected_cb,
		.disconnected_cb = db_disconnected_cb,
		.notify_cb = db_notify_cb,
		.arg = d,
	};

	if ((d->base = event_base_new()) == NULL)
		fatalx("cannot create the event loop");
	d->instance = instance_name(&d->conf);
	setup_signals(d);
	d->db = pgloop_new(d->base, d->conf.db_conninfo, &cbs);
	pgloop_listen(d->db, JOBS_CHANNEL);
	http_opts_from_conf(&d->conf, &hopts);
	d->http = http_new(d->base, &hopts);
	d->google = google_new(d);
	d->jobs = jobs_new(d);
	d->sched = sched_new(d);
	setup_watchdog(d);
	log_emit(LOG_INFO, MSGID_STARTED, NULL, "rallyd %s starting (instance %s)",
	    PACKAGE_VERSION, d->instance);
	rallyd_update_status(d);
	pgloop_start(d->db);

	event_base_dispatch(d->base);

	log_emit(LOG_INFO, MSGID_STOPPED, NULL, "rallyd stopped");
	sched_free(d->sched);
	jobs_free(d->jobs);
	/* No callback runs from here on: the loop has stopped. */
	google_free(d->google);
	http_free(d->http);
	pgloop_free(d->db);
	if (d->ev_watchdog != NULL)
		event_free(d->ev_watchdog);
	event_free(d->ev_sigterm);
	event_free(d->ev_sigint);
	event_free(d->ev_sighup);
	event_base_free(d->base);
	free(d->instance);
	keyring_free(d->keyring);
	conf_clear(&d->conf);
	return d->exit_code;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "check-config", no_argument, NULL, 'C' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct rallyd d = { 0 };
	const char *conf_arg = NULL;
	bool check_only = false, verbose = false;
	char *cause = NULL;
	int ch;

	process_no_core();
	log_init("rallyd", LOG_TARGET_AUTO, LOG_INFO);
	while ((ch = getopt_long(argc, argv, "c:vh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			conf_arg = optarg;
			break;
		case 'v':
			verbose = true;
			break;
		case 'C':
			check_only = true;
			break;
		case 'V':
			printf("rallyd %s\n", PACKAGE_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return EX_USAGE;
	}
	d.conf_path = conf_path(conf_arg);
	if (conf_load(d.conf_path, &d.conf, &cause) == -1) {
		log_emit(LOG_ERR, MSGID_CONFIG_INVALID, NULL,
		    "invalid configuration: %s", cause);
		free(cause);
		return EX_CONFIG;
	}
	if (check_only) {
		printf("%s: configuration OK\n", d.conf_path);
		conf_clear(&d.conf);
		return 0;
	}
	d.verbose = verbose;
	apply_log_settings(&d.conf, verbose);
	if (load_keyring(&d) == -1) {
		conf_clear(&d.conf);
		return EX_CONFIG;
	}
	push_secret_load(&d);
	return run(&d);
}
