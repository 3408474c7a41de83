/* SPDX-License-Identifier: ISC */
/*
 * rallyd's context: the one struct that main() owns and passes to every
 * part of the daemon, so no module keeps global state.
 */
#ifndef RALLYD_H
#define RALLYD_H

#include <stdbool.h>

#include <event2/event.h>

#include "conf.h"

struct http;
struct jobs;
struct keyring;
struct pgloop;
struct sched;
struct google;

struct rallyd {
	struct event_base *base;
	const char *conf_path;
	struct conf conf;
	char *instance;			/* lease owner name */
	struct pgloop *db;
	struct http *http;		/* every call to Google */
	struct keyring *keyring;	/* NULL until configured: Google work waits */
	struct google *google;		/* token cache, quota buckets (google.c) */
	struct jobs *jobs;
	struct sched *sched;
	/* SHA-256 of google.push_token_file, once read (push-secret.c). */
	unsigned char push_sha256[32];
	bool push_sha256_set;
	bool verbose;			/* -v: debug logging whatever the config says */
	bool ready_sent;
	bool stopping;
	struct event *ev_watchdog;
	struct event *ev_sigterm, *ev_sigint, *ev_sighup;
	int exit_code;
};

/* Sends STATUS= with the one-line summary systemctl status shows. */
void rallyd_update_status(struct rallyd *);
/* Ends the event loop; main() then cleans up and exits. */
void rallyd_exit(struct rallyd *, int code);

#endif
