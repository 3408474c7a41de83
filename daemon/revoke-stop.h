/* SPDX-License-Identifier: ISC */
/*
 * revoke-stop: stops the push channels of a connection whose tokens left
 * it (a Calendar watch channel, the Gmail watch) with the queued copy of
 * its tokens, before token-revoke revokes the grant: once the grant is
 * gone, Google refuses the stop and a calendar channel would stay open
 * until it expires.
 *
 * With no usable access token it first gets one with the refresh token.
 * Every step is best effort: whatever Google answers, or if it does not
 * answer, the callback runs once and the revocation goes on (a stop
 * refused is logged; the grant's revocation ends the channels' delivery
 * of anything Rally could read).  Used by daemon/job-token-revoke.c.
 */
#ifndef RALLYD_REVOKE_STOP_H
#define RALLYD_REVOKE_STOP_H

#include <stdbool.h>

struct log_ctx;
struct rallyd;
struct revoke_stop;

struct revoke_stop_req {
	const char *access_token;	/* usable now, or NULL */
	const char *refresh_token;	/* to get one when access_token is NULL */
	const char *calendar_channel_id;	/* NULL: no calendar channel */
	const char *calendar_resource_id;
	bool gmail_watch;
};

/* stopped: the stops Google accepted (0, 1 or 2). */
typedef void (*revoke_stop_cb)(int stopped, void *arg);

/*
 * Copies what it needs from req and log (tokens wiped when freed); cb is
 * called exactly once, from the event loop, unless revoke_stop_cancel()
 * comes first.  Returns NULL, and calls nothing, when there is nothing to
 * stop or nothing could be sent: the caller goes on at once.
 */
struct revoke_stop *revoke_stop_start(struct rallyd *,
    const struct revoke_stop_req *, const struct log_ctx *, revoke_stop_cb,
    void *arg);
/* Stops what is in flight; the callback is not called. */
void revoke_stop_cancel(struct revoke_stop *);

#endif
