/* SPDX-License-Identifier: ISC */
/*
 * google-project: the per-project Gmail quota (Google: 1,200,000 units a
 * minute for all the project's users together), shared by every rallyd
 * of the deployment, so its bucket is a row in PostgreSQL
 * (rally.quota_buckets, sql/functions/quota.sql).
 *
 * An instance asks for a handful of units at once (a tenth of a second of
 * mail.project_rate, or what the next call needs) with one statement, and
 * spends them from its pool call by call; units left over after a second
 * are dropped, never spent late in a bunch.  One grant query is in flight
 * at a time; the connections whose next call waits for units queue here,
 * those with an ordinary call before those with a bulk one.  A bulk call
 * neither takes units while an ordinary one waits here nor, at the
 * database, takes the last quarter of the bucket: that reserve is for the
 * sends and incremental syncs of every instance.
 *
 * Called by google-conn.c's pump; mail.project_rate = 0 turns it off.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <event2/event.h>
#include <libpq-fe.h>

#include "conf.h"
#include "google-int.h"
#include "log.h"
#include "pgloop.h"
#include "rallyd.h"
#include "util.h"

/* $1 bucket, $2 rate a second, $3 burst, $4 units wanted, $5 at least, $6 reserve */
#define GPROJECT_SQL_GRANT \
	"SELECT granted, wait_ms FROM rally.quota_grant($1, $2::float8," \
	" $3::float8, $4::float8, $5::float8, $6::float8)"
#define GPROJECT_BUCKET "gmail"
/* Units granted and not spent within this long are dropped. */
#define GPROJECT_POOL_USEC 1000000
/* After a failed grant query, asked again this much later. */
#define GPROJECT_RETRY_MSEC 1000
#define GPROJECT_WAIT_MAX_MSEC 60000

static void gproject_ask(struct google *);

static bool
project_on(const struct google *g)
{
	return g->d->conf.mail_project_rate > 0;
}

static void
retry_cb(evutil_socket_t fd, short what, void *arg)
{
	gproject_ask(arg);
}

static void
retry_in(struct google *g, long msec)
{
	struct timeval tv;

	if (msec < 1)
		msec = 1;
	if (msec > GPROJECT_WAIT_MAX_MSEC)
		msec = GPROJECT_WAIT_MAX_MSEC;
	tv.tv_sec = msec / 1000;
	tv.tv_usec = (msec % 1000) * 1000;
	evtimer_add(g->project.ev_retry, &tv);
}

/* Every waiting connection pumps again, ordinary ones first. */
static void
wake_all(struct google *g)
{
	struct gconn_list woken = TAILQ_HEAD_INITIALIZER(woken);
	struct gproject *p = &g->project;
	struct gconn *c;

	while ((c = TAILQ_FIRST(&p->first)) != NULL) {
		TAILQ_REMOVE(&p->first, c, project_entry);
		TAILQ_INSERT_TAIL(&woken, c, project_entry);
	}
	while ((c = TAILQ_FIRST(&p->bulk)) != NULL) {
		TAILQ_REMOVE(&p->bulk, c, project_entry);
		TAILQ_INSERT_TAIL(&woken, c, project_entry);
	}
	while ((c = TAILQ_FIRST(&woken)) != NULL) {
		TAILQ_REMOVE(&woken, c, project_entry);
		c->project_wait = 0;
		gconn_pump(c);	/* may wait here again */
	}
}

static void
grant_cb(const PGresult *res, const char *error, void *arg)
{
	struct google *g = arg;
	struct gproject *p = &g->project;
	double granted;
	long wait_ms;

	p->asking = false;
	if (error != NULL || PQntuples(res) != 1) {
		if (!p->warned)
			log_warnx("google: the project's Gmail quota could not "
			    "be granted, calls wait: %s", error != NULL ? error :
			    "no row");
		p->warned = true;
		retry_in(g, GPROJECT_RETRY_MSEC);
		return;
	}
	p->warned = false;
	granted = atof(PQgetvalue(res, 0, 0));
	wait_ms = atol(PQgetvalue(res, 0, 1));
	if (granted > 0) {
		p->pool += granted;
		p->pool_at = now_usec();
		wake_all(g);
	} else
		retry_in(g, wait_ms);
}

/* The call the first waiting connection would start next. */
static const struct gcall *
first_waiting(struct google *g)
{
	struct gconn *c = TAILQ_FIRST(&g->project.first);

	if (c == NULL)
		c = TAILQ_FIRST(&g->project.bulk);
	return c != NULL ? gconn_next(c) : NULL;
}

static void
gproject_ask(struct google *g)
{
	const struct conf *conf = &g->d->conf;
	struct gproject *p = &g->project;
	const struct gcall *call;
	double rate = (double)conf->mail_project_rate;
	double burst = (double)conf->mail_project_burst;
	double need, want, reserve;
	char s[5][32];
	const char *params[6];

	if (p->asking || evtimer_pending(p->ev_retry, NULL))
		return;
	if ((call = first_waiting(g)) == NULL) {
		wake_all(g);	/* nothing to ask for: let them look again */
		return;
	}
	need = (double)call->units - p->pool;
	if (need < 1)
		need = 1;
	want = fmax(need, fmin(rate / 10, burst / 2));
	reserve = call->bulk ? floor(burst / 4) : 0;
	snprintf(s[0], sizeof s[0], "%.0f", rate);
	snprintf(s[1], sizeof s[1], "%.0f", burst);
	snprintf(s[2], sizeof s[2], "%.0f", ceil(want));
	snprintf(s[3], sizeof s[3], "%.0f", ceil(need));
	snprintf(s[4], sizeof s[4], "%.0f", reserve);
	params[0] = GPROJECT_BUCKET;
	params[1] = s[0];
	params[2] = s[1];
	params[3] = s[2];
	params[4] = s[3];
	params[5] = s[4];
	p->asking = true;
	pgloop_query(g->d->db, GPROJECT_SQL_GRANT, 6, params, grant_cb, g);
}

bool
gproject_take(struct gconn *c, const struct gcall *call)
{
	struct gproject *p = &c->g->project;
	int list = call->bulk ? 2 : 1;

	if (!project_on(c->g))
		return true;
	if (p->pool > 0 && now_usec() - p->pool_at > GPROJECT_POOL_USEC)
		p->pool = 0;
	if (p->pool >= (double)call->units &&
	    (!call->bulk || TAILQ_EMPTY(&p->first)))
		return true;
	if (c->project_wait == 2 && list == 1) {
		TAILQ_REMOVE(&p->bulk, c, project_entry);
		c->project_wait = 0;
	}
	if (c->project_wait == 0) {
		TAILQ_INSERT_TAIL(list == 1 ? &p->first : &p->bulk, c,
		    project_entry);
		c->project_wait = list;
	}
	gproject_ask(c->g);
	return false;
}

void
gproject_spend(struct google *g, unsigned units)
{
	if (project_on(g))
		g->project.pool -= units;
}

void
gproject_forget(struct gconn *c)
{
	struct gproject *p = &c->g->project;

	if (c->project_wait == 1)
		TAILQ_REMOVE(&p->first, c, project_entry);
	else if (c->project_wait == 2)
		TAILQ_REMOVE(&p->bulk, c, project_entry);
	c->project_wait = 0;
}

void
gproject_init(struct google *g)
{
	TAILQ_INIT(&g->project.first);
	TAILQ_INIT(&g->project.bulk);
	g->project.ev_retry = evtimer_new(g->d->base, retry_cb, g);
	if (g->project.ev_retry == NULL)
		fatalx("google: cannot create the project quota's timer");
}

void
gproject_free(struct google *g)
{
	event_free(g->project.ev_retry);
}
