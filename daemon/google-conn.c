/* SPDX-License-Identifier: ISC */
/*
 * google-conn: the connections rallyd calls Google for: a hash table of
 * struct gconn, each with its access token cached in memory (wiped when
 * dropped) and its per-user quota bucket, and the pump that starts its
 * queued calls while it has a free slot and quota.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "conf.h"
#include "google-int.h"
#include "rallyd.h"
#include "util.h"

uint32_t
gconn_hash(const char *tenant_id, const char *id)
{
	uint32_t h = 2166136261u;	/* FNV-1a */

	for (const char *s = tenant_id; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	h = (h ^ '/') * 16777619u;
	for (const char *s = id; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h % GOOGLE_BUCKETS;
}

void
gconn_drop_token(struct gconn *c)
{
	if (c->token != NULL)
		secure_free(c->token, c->token_len);
	c->token = NULL;
	c->token_len = 0;
	c->usable_until = 0;
}

void
gconn_drop_new_token(struct gconn *c)
{
	if (c->new_token != NULL)
		secure_free(c->new_token, c->new_token_len);
	c->new_token = NULL;
	c->new_token_len = 0;
}

/* Takes token (a secure_free()able string) as the connection's token. */
void
gconn_set_token(struct gconn *c, char *token, size_t len,
    int64_t ttl_sec)
{
	int64_t margin = GOOGLE_REFRESH_MARGIN_SEC;

	gconn_drop_token(c);
	if (margin > ttl_sec / 2)
		margin = ttl_sec / 2;
	c->token = token;
	c->token_len = len;
	c->usable_until = now_usec() + (uint64_t)(ttl_sec - margin) * 1000000;
	c->gen++;
	/* A new token is not the one a 401 condemned. */
	c->force_refresh = false;
}

bool
gconn_token_usable(const struct gconn *c)
{
	return c->token != NULL && now_usec() < c->usable_until;
}

struct gconn *
gconn_get(struct google *g, const char *tenant_id, const char *id)
{
	struct gconn_bucket *b = &g->buckets[gconn_hash(tenant_id, id)];
	struct gconn *c;

	LIST_FOREACH(c, b, entry)
		if (strcmp(c->id, id) == 0 && strcmp(c->tenant_id, tenant_id) == 0)
			return c;
	c = xcalloc(1, sizeof *c);
	c->g = g;
	c->tenant_id = xstrdup(tenant_id);
	c->id = xstrdup(id);
	c->log.tenant = c->tenant_id;
	c->log.connection = c->id;
	TAILQ_INIT(&c->queue);
	TAILQ_INIT(&c->bulk);
	TAILQ_INIT(&c->waiting);
	TAILQ_INIT(&c->sending);
	LIST_INSERT_HEAD(b, c, entry);
	g->nconns++;
	return c;
}

bool
gconn_idle(const struct gconn *c)
{
	return c->fetch == FETCH_IDLE && c->slots_used == 0 && !c->pump_pending &&
	    c->project_wait == 0 &&
	    (c->ev_quota == NULL || !evtimer_pending(c->ev_quota, NULL)) &&
	    TAILQ_EMPTY(&c->queue) && TAILQ_EMPTY(&c->bulk) &&
	    TAILQ_EMPTY(&c->waiting) &&
	    TAILQ_EMPTY(&c->sending);
}

/* Requests and queries still in flight are dropped by http_free and pgloop_free. */
void
gconn_free(struct gconn *c)
{
	LIST_REMOVE(c, entry);
	c->g->nconns--;
	gproject_forget(c);
	if (c->ev_quota != NULL)
		event_free(c->ev_quota);
	gconn_drop_token(c);
	gconn_drop_new_token(c);
	free(c->tenant_id);
	free(c->id);
	free(c);
}


/* ---- quota and slots ---- */

static void
quota_cb(evutil_socket_t fd, short what, void *arg)
{
	gconn_pump(arg);
}

/*
 * Takes cost from a bucket that refills at rate a second up to burst: 0,
 * or the seconds until it may.  A call dearer than the burst (a Gmail send
 * is 100 units) goes once the bucket is full and leaves it in debt, so the
 * average stays the rate.
 */
static double
bucket_take(struct gbucket *b, double rate, double burst, double cost)
{
	uint64_t now = now_usec();
	double need = cost < burst ? cost : burst;

	if (b->at > now)	/* held (gconn_hold_units): it refills from then */
		return (double)(b->at - now) / 1e6 + (need - b->level) / rate;
	if (b->at == 0)
		b->level = burst;
	else
		b->level += (double)(now - b->at) / 1e6 * rate;
	if (b->level > burst)
		b->level = burst;
	b->at = now;
	if (b->level >= need) {
		b->level -= cost;
		return 0;
	}
	return (need - b->level) / rate;
}

/*
 * Google refused a Gmail call for the user's rate: nothing of the user's
 * quota is left until retry_ms from now, and the bucket refills from empty
 * then, so every call of the connection waits, not only the refused one.
 */
void
gconn_hold_units(struct gconn *c, long retry_ms)
{
	uint64_t until = now_usec() + (uint64_t)retry_ms * 1000;

	if (c->units.level > 0)
		c->units.level = 0;
	if (until > c->units.at)
		c->units.at = until;
}

/* Pumps the connection again in wait seconds. */
static void
quota_arm(struct gconn *c, double wait)
{
	struct timeval tv;

	if (c->ev_quota == NULL)
		c->ev_quota = evtimer_new(c->g->d->base, quota_cb, c);
	tv.tv_sec = (long)wait;
	tv.tv_usec = (long)((wait - (double)tv.tv_sec) * 1e6) + 1;
	evtimer_add(c->ev_quota, &tv);
}

/*
 * The quota, spent before a call starts, so that Google is not asked
 * faster than it allows: for Gmail, the project's units (google-project.c)
 * and the user's (mail.quota_rate a second, mail.quota_burst at once); for
 * the rest, calls (google.user_rate a second, google.user_burst at once).
 * Returns whether the call may start now; if not, arms a timer to pump
 * again when it may, or waits for the project's grant.
 */
static bool
conn_quota_take(struct gconn *c, const struct gcall *call)
{
	const struct conf *conf = &c->g->d->conf;
	double wait;

	if (call->units > 0 && !gproject_take(c, call))
		return false;
	if (call->units > 0)
		wait = bucket_take(&c->units, (double)conf->mail_quota_rate,
		    (double)conf->mail_quota_burst, (double)call->units);
	else
		wait = bucket_take(&c->calls, (double)conf->google_user_rate,
		    (double)conf->google_user_burst, 1);
	if (wait == 0) {
		gproject_spend(c->g, call->units);
		return true;
	}
	quota_arm(c, wait);
	return false;
}

/* The first call of list that Google's hold on Gmail units lets start. */
static struct gcall *
first_unheld(struct gcall_list *list, bool held)
{
	struct gcall *call;

	TAILQ_FOREACH(call, list, entry)
		if (!held || call->units == 0)
			return call;
	return NULL;
}

/*
 * Ordinary calls first; a bulk call only when no ordinary one can start,
 * and never in the connection's last slot, which stays free for an
 * ordinary one.  While Google holds the user's Gmail units (a 429), its
 * Gmail calls are passed over, so a Calendar call does not wait behind
 * them (and they take no project units they could not spend).
 */
struct gcall *
gconn_next(struct gconn *c)
{
	bool held = c->units.at > now_usec();
	struct gcall *call;

	if (c->slots_used >= GOOGLE_MAX_PER_CONNECTION)
		return NULL;
	if ((call = first_unheld(&c->queue, held)) != NULL)
		return call;
	if (c->bulk_used + 1 >= GOOGLE_MAX_PER_CONNECTION)
		return NULL;
	return first_unheld(&c->bulk, held);
}

/* Starts queued calls while the connection has free slots and quota. */
void
gconn_pump(struct gconn *c)
{
	struct gcall *call;
	uint64_t now;

	while ((call = gconn_next(c)) != NULL && conn_quota_take(c, call)) {
		TAILQ_REMOVE(call->bulk ? &c->bulk : &c->queue, call, entry);
		call->has_slot = true;
		c->slots_used++;
		if (call->bulk)
			c->bulk_used++;
		gcall_need_token(call);
	}
	/* Held Gmail calls: pump again when the hold ends, unless sooner. */
	now = now_usec();
	if (c->units.at > now && (!TAILQ_EMPTY(&c->queue) ||
	    !TAILQ_EMPTY(&c->bulk)) &&
	    (c->ev_quota == NULL || !evtimer_pending(c->ev_quota, NULL)))
		quota_arm(c, (double)(c->units.at - now) / 1e6);
}

