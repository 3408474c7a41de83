/* SPDX-License-Identifier: ISC */
/*
 * google-int.h: what the files of daemon/google* share and nobody else
 * sees.  google.c takes calls from the jobs and runs the loop side,
 * google-call.c a call's life with lib/http, google-conn.c the table of
 * connections with their cached token and quota, google-fetch.c getting a
 * token (load, refresh, store, revoke), google-error.c what Google's
 * answers mean.  Sealed tokens are lib/token-seal's.
 *
 * Each connection rallyd has called Google for recently has a struct gconn
 * in a hash table: its access token in memory, the calls queued for it,
 * and at most one token fetch (load the row, maybe refresh, store) that
 * every call needing a token waits for.  A call goes through these states:
 *
 *	incoming	google_call() returned; started from the loop
 *	queued		waiting for one of the connection's slots
 *	waiting		holds a slot, waits for the token fetch
 *	sending		holds a slot, its request is with lib/http
 *	deferred	finished early (an error found synchronously);
 *			its callback runs from the loop
 *
 * Callbacks are only ever called from a database, http or timer callback,
 * never from inside google_call() or google_cancel().
 */
#ifndef RALLYD_GOOGLE_INT_H
#define RALLYD_GOOGLE_INT_H

#include <sys/queue.h>

#include <stdbool.h>
#include <stdint.h>

#include "google.h"
#include "http.h"
#include "log.h"

/* A token that expires sooner than this is refreshed before use. */
#define GOOGLE_REFRESH_MARGIN_SEC 60
/* Google says 3599 s; anything outside this is not believed. */
#define GOOGLE_TOKEN_MIN_TTL_SEC 10
#define GOOGLE_TOKEN_MAX_TTL_SEC 86400
#define GOOGLE_BUCKETS 4096
#define GOOGLE_REASON_MAX 64

enum call_state {
	CALL_INCOMING,
	CALL_QUEUED,
	CALL_WAITING,
	CALL_SENDING,
	CALL_DEFERRED,
	CALL_ENDING,		/* unlinked, its callback to run next */
};

enum fetch_state {
	FETCH_IDLE,
	FETCH_LOADING,		/* GOOGLE_SQL_LOAD in flight */
	FETCH_REFRESHING,	/* the token request is with lib/http */
	FETCH_STORING,		/* GOOGLE_SQL_STORE in flight */
	FETCH_REVOKING,		/* GOOGLE_SQL_REVOKE in flight */
};

struct conf;
struct gconn;

/* A token bucket: level refills at a rate up to a burst. */
struct gbucket {
	double level;
	uint64_t at;		/* monotonic usec of its last refill; 0: full */
};

struct gcall {
	struct google *g;
	struct gconn *conn;	/* NULL while incoming or when refused */
	enum call_state state;
	char *tenant_id, *connection_id;
	char *method, *url, *if_match;
	char *body;
	size_t body_len;
	char *content_type;	/* of body; NULL: JSON */
	google_cb cb;
	void *arg;
	unsigned units;		/* Gmail quota units it costs; 0: not Gmail */
	bool bulk;		/* google_call_bulk: after every ordinary call */
	bool has_slot;
	bool reauthed;		/* refreshed once after a 401 already */
	bool once;		/* not idempotent: lib/http does not retry it */
	unsigned refused;	/* 429s that sent it back to the queue */
	bool cancelled;
	uint64_t token_gen;	/* generation of the token it was sent with */
	struct http_request *req;
	enum gerr err;		/* CALL_DEFERRED: how it ends */
	char *err_msg;
	TAILQ_ENTRY(gcall) entry;	/* the list its state names */
	TAILQ_ENTRY(gcall) all;		/* g->calls */
};

TAILQ_HEAD(gcall_list, gcall);

struct gconn {
	struct google *g;
	char *tenant_id, *id;
	struct log_ctx log;
	char *token;		/* NUL-terminated; wiped when dropped */
	size_t token_len;
	uint64_t usable_until;	/* monotonic usec: refresh from then on */
	uint64_t gen;		/* bumped with every new token */
	enum fetch_state fetch;
	bool force_refresh;	/* a call saw 401 with the current token */
	struct http_request *refresh_req;
	uint64_t refresh_sent;
	char *new_token;	/* refreshed, being stored */
	size_t new_token_len;
	int64_t new_ttl;
	unsigned slots_used;
	unsigned bulk_used;	/* of the slots, by bulk calls */
	struct gbucket calls;	/* google.user_rate: calls it may start now */
	struct gbucket units;	/* mail.quota_rate: Gmail units it may spend */
	struct event *ev_quota;	/* pumps again once a bucket has refilled */
	bool pump_pending;	/* on g->pumps */
	TAILQ_ENTRY(gconn) pump_entry;
	int project_wait;	/* on a list of g->project: 0 no, 1 first, 2 bulk */
	TAILQ_ENTRY(gconn) project_entry;
	struct gcall_list queue;	/* ordinary calls, started first */
	struct gcall_list bulk;		/* bulk calls, when queue is empty */
	struct gcall_list waiting;
	struct gcall_list sending;
	LIST_ENTRY(gconn) entry;
};

LIST_HEAD(gconn_bucket, gconn);
TAILQ_HEAD(gconn_list, gconn);

/*
 * The per-project Gmail bucket (google-project.c): units granted to this
 * instance by rally.quota_grant and not spent yet, and the connections
 * whose next call waits for more, ordinary ones first.
 */
struct gproject {
	double pool;
	uint64_t pool_at;	/* monotonic usec of the last grant */
	bool asking;		/* a grant query is in flight */
	bool warned;		/* the database failed: logged once */
	struct event *ev_retry;
	struct gconn_list first, bulk;
};

struct google {
	struct rallyd *d;
	struct gconn_bucket buckets[GOOGLE_BUCKETS];
	size_t nconns;
	struct gcall_list calls;	/* every live call, for google_cancel() */
	struct gcall_list incoming;
	struct gcall_list deferred;
	TAILQ_HEAD(, gconn) pumps;	/* slots freed by google_cancel() */
	struct gproject project;
	struct event *ev_kick;		/* starts incoming, ends deferred */
	struct event *ev_sweep;
};

/* google.c */
void google_kick(struct google *);

/* google-call.c */
void gcall_free(struct gcall *);
void gcall_unlink(struct gcall *);
void gcall_end_err(struct gcall *, enum gerr, const char *message);
void gcall_need_token(struct gcall *);
void gconn_fail_all(struct gconn *, enum gerr, const char *message);
void gconn_dispatch(struct gconn *);

/* google-conn.c */
uint32_t gconn_hash(const char *tenant_id, const char *id);
struct gconn *gconn_get(struct google *, const char *tenant_id,
    const char *id);
bool gconn_idle(const struct gconn *);
void gconn_free(struct gconn *);
void gconn_drop_token(struct gconn *);
void gconn_drop_new_token(struct gconn *);
void gconn_set_token(struct gconn *, char *token, size_t len,
    int64_t ttl_sec);
bool gconn_token_usable(const struct gconn *);
void gconn_pump(struct gconn *);
/* A 429 for a Gmail call: the connection's units wait retry_ms. */
void gconn_hold_units(struct gconn *, long retry_ms);
/* What a call costs in Gmail's per-user quota units (google-units.c). */
unsigned google_gmail_units(const struct conf *, const char *method,
    const char *url);

/* The call gconn_pump() would start next, or NULL. */
struct gcall *gconn_next(struct gconn *);

/* google-project.c: the per-project Gmail quota. */
void gproject_init(struct google *);
void gproject_free(struct google *);
/* Whether the call's units are in hand; if not, c waits for a grant. */
bool gproject_take(struct gconn *, const struct gcall *);
/* Spends the units gproject_take() found (the call starts). */
void gproject_spend(struct google *, unsigned units);
/* c is being freed: off the waiting lists. */
void gproject_forget(struct gconn *);

/* google-fetch.c */
void gconn_fetch(struct gconn *);

/* google-error.c: Google's error bodies. */
struct gerror {
	char reason[GOOGLE_REASON_MAX + 1];
	char *message;		/* sanitized, or NULL */
};

void gerror_parse(const struct http_response *, struct gerror *);
bool gerror_should_retry_cb(const struct http_response *, void *arg);
/* The same, but a 429 is not retried: the caller paces it (Gmail). */
bool gerror_should_retry_paced_cb(const struct http_response *, void *arg);
enum gerr gerror_classify(long status, const struct gerror *);
enum gerr gerror_classify_transport(enum http_err);

#endif
