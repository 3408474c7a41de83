/* SPDX-License-Identifier: ISC */
/*
 * notice-send: one email sent by lib/smtp in a worker thread, so the
 * event loop never waits for the relay.  The thread works on its own
 * copies (the message, the relay settings: a reload may replace the
 * configuration meanwhile) and tells the loop through a pipe when it is
 * done.  Used by daemon/job-notice.c.
 */
#ifndef RALLYD_NOTICE_SEND_H
#define RALLYD_NOTICE_SEND_H

struct conf;
struct rallyd;
struct notice_send;

/* rc 0 sent, -1 not sent with cause (safe to log and store). */
typedef void (*notice_send_cb)(int rc, const char *cause, void *arg);

/* cb is called once, from the loop; NULL (and no call) if no thread starts. */
struct notice_send *notice_send_start(struct rallyd *, const struct conf *,
    const char *to, const char *message, notice_send_cb, void *arg);
/* At shutdown: the callback is never called; the thread cleans up. */
void notice_send_detach(struct notice_send *);

#endif
