/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <event2/event.h>

#include "log.h"
#include "pgloop.h"
#include "rallyd.h"
#include "sched.h"
#include "util.h"

/* The longest tick; a shorter calendar.poll_interval shortens it. */
#define SCHED_TICK_MAX_SEC 60
#define SYSTEM_TENANT "00000000-0000-0000-0000-000000000000"

struct sched_entry {
	const char *kind;
	long period_sec;
};

/* Periodic system jobs.  Later features add their entries here. */
static const struct sched_entry entries[] = {
	{ "prune", 3600 },
	{ "deletion-watch", 600 },
	{ "usage-rollup", 86400 },
	{ "sync-watch", 600 },
};

/*
 * Queues the job of the current period unless that period's job exists in
 * any state: $1 kind, $2 dedupe key.
 */
#define SCHED_SQL_ENQUEUE \
	"SELECT rally.job_enqueue('" SYSTEM_TENANT "', $1, $2)" \
	" WHERE NOT EXISTS (SELECT 1 FROM rally.jobs" \
	"  WHERE tenant_id = '" SYSTEM_TENANT "' AND kind = $1 AND dedupe_key = $2)"

/*
 * Calendar upkeep on every tick: a sync for connections not synced within
 * calendar.poll_interval, and push channels opened or renewed.  The jobs'
 * dedupe keys make this safe to run from every instance.
 */
#define SCHED_SQL_CALENDAR "SELECT rally.cal_queue_periodic($1::int, $2::boolean)"
/* Gmail: a sync for connections not synced within mail.poll_interval,
 * watches renewed, mailboxes compared with Gmail's listing. */
#define SCHED_SQL_MAIL "SELECT rally.mail_queue_periodic($1::int, $2::boolean, $3::int)"

struct sched {
	struct rallyd *d;
	struct event *ev_tick;
	long tick_sec;		/* 0 until armed */
};

static void
enqueue_cb(const PGresult *res, const char *error, void *arg)
{
	const struct sched_entry *s = arg;

	if (error != NULL)
		log_warnx("could not queue periodic job %s: %s", s->kind, error);
}

static void sched_calendar(struct sched *);
static void sched_mail(struct sched *);
static void sched_backup(struct sched *);

void
sched_tick(struct sched *sc)
{
	time_t now = time(NULL);

	if (!pgloop_connected(sc->d->db) || sc->d->stopping)
		return;
	for (size_t i = 0; i < nitems(entries); i++) {
		const struct sched_entry *s = &entries[i];
		char key[64];
		const char *params[] = { s->kind, key };

		snprintf(key, sizeof key, "period:%lld",
		    (long long)(now / s->period_sec * s->period_sec));
		pgloop_query(sc->d->db, SCHED_SQL_ENQUEUE, 2, params, enqueue_cb,
		    (void *)s);
	}
	sched_calendar(sc);
	sched_mail(sc);
	sched_backup(sc);
}

static void
calendar_cb(const PGresult *res, const char *error, void *arg)
{
	if (error != NULL)
		log_warnx("could not queue periodic calendar work: %s", error);
}

static void
sched_calendar(struct sched *sc)
{
	char poll[24];
	const char *params[] = { poll,
		sc->d->conf.calendar_push_url[0] != '\0' ? "true" : "false" };

	snprintf(poll, sizeof poll, "%lld", (long long)sc->d->conf.calendar_poll_sec);
	pgloop_query(sc->d->db, SCHED_SQL_CALENDAR, 2, params, calendar_cb, NULL);
}

/*
 * The next daily backup at backup.time, and the restore check when none
 * was made within backup.restore_check (sql/functions/backup.sql).
 */
#define SCHED_SQL_BACKUP \
	"SELECT rally.backup_queue_daily($1::int)," \
	" rally.backup_queue_restore_check($2::int)"

static void
backup_cb(const PGresult *res, const char *error, void *arg)
{
	if (error != NULL)
		log_warnx("could not queue the daily backup: %s", error);
}

static void
sched_backup(struct sched *sc)
{
	char minute[16], check[24];
	const char *params[] = { minute, check };

	snprintf(minute, sizeof minute, "%d",
	    conf_backup_minute(sc->d->conf.backup_time));
	snprintf(check, sizeof check, "%lld",
	    (long long)sc->d->conf.backup_restore_check_sec);
	pgloop_query(sc->d->db, SCHED_SQL_BACKUP, 2, params, backup_cb, NULL);
}

static void
mail_cb(const PGresult *res, const char *error, void *arg)
{
	if (error != NULL)
		log_warnx("could not queue periodic mail work: %s", error);
}

static void
sched_mail(struct sched *sc)
{
	char poll[24], reconcile[24];
	const char *params[] = { poll,
		sc->d->conf.mail_pubsub_topic[0] != '\0' ? "true" : "false",
		reconcile };

	snprintf(poll, sizeof poll, "%lld", (long long)sc->d->conf.mail_poll_sec);
	snprintf(reconcile, sizeof reconcile, "%lld",
	    (long long)sc->d->conf.mail_reconcile_sec);
	pgloop_query(sc->d->db, SCHED_SQL_MAIL, 3, params, mail_cb, NULL);
}

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	sched_tick(arg);
}

/*
 * Half the poll interval, so a connection is polled at most half an
 * interval late (a 10 s interval polls every 10 to 15 s), and never less
 * often than once a minute for the hourly entries.
 */
static long
sched_tick_sec(const struct conf *c)
{
	int64_t poll = c->calendar_poll_sec < c->mail_poll_sec ?
	    c->calendar_poll_sec : c->mail_poll_sec;
	long t = (long)(poll / 2);

	if (t > SCHED_TICK_MAX_SEC)
		t = SCHED_TICK_MAX_SEC;
	return t < 1 ? 1 : t;
}

void
sched_reconfigure(struct sched *sc)
{
	struct timeval tv = { sched_tick_sec(&sc->d->conf), 0 };

	if (tv.tv_sec == sc->tick_sec)
		return;
	sc->tick_sec = tv.tv_sec;
	if (event_add(sc->ev_tick, &tv) == -1)
		fatalx("sched: cannot arm the tick");
	log_debug("scheduler ticks every %lld s", (long long)tv.tv_sec);
}

struct sched *
sched_new(struct rallyd *d)
{
	struct sched *sc = xcalloc(1, sizeof *sc);

	sc->d = d;
	sc->ev_tick = event_new(d->base, -1, EV_PERSIST, tick_cb, sc);
	sched_reconfigure(sc);
	return sc;
}

void
sched_free(struct sched *sc)
{
	if (sc == NULL)
		return;
	event_free(sc->ev_tick);
	free(sc);
}
