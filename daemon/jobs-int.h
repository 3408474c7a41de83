/* SPDX-License-Identifier: ISC */
/*
 * The lease engine's own state, shared by jobs.c (claims, heartbeats, the
 * end of a job) and jobs-stop.c (a graceful stop).  Handlers see only
 * jobs.h.
 */
#ifndef RALLYD_JOBS_INT_H
#define RALLYD_JOBS_INT_H

#include <stdbool.h>

#include <event2/event.h>
#include <libpq-fe.h>

#include "jobs.h"

struct jobs {
	struct rallyd *d;
	struct job *running;		/* list of claimed jobs */
	unsigned nrunning;
	bool claiming;			/* a claim query is in flight */
	bool claim_again;		/* work arrived while claiming */
	bool stopping;
	bool releasing;			/* the final release is under way */
	char *exit_ids;			/* the final release waits for a claim */
	long backlog;
	struct event *ev_wake;		/* next due job or expiring lease */
	struct event *ev_heartbeat;
	struct event *ev_shutdown;
	char host[256];
};

void jobs_job_free(struct job *);
void jobs_unlink(struct jobs *, struct job *);
/* The ids of the jobs held, as a PostgreSQL array ("{1,2}"); caller frees. */
char *jobs_held_ids(const struct jobs *, bool unfinished_only);
/* Adds id to such an array literal ("{}", "{1}"), which it frees. */
char *jobs_ids_append(char *ids, const char *id);

/* jobs-stop.c */
/* Hands back ids (taken; NULL for none), unregisters, exits. */
void jobs_release_and_exit(struct jobs *, char *ids);
/* A claim answered after the stop began: its rows go straight back. */
void jobs_hand_back_claimed(struct jobs *, const PGresult *);
void jobs_shutdown_cb(evutil_socket_t, short, void *);

#endif
