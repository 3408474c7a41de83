/* SPDX-License-Identifier: ISC */
/*
 * worker: runs one blocking function on a thread of its own and tells the
 * event loop when it returned, through a pipe the loop watches; for the
 * CPU- and disk-heavy jobs (backup, backup-check) that must not block
 * rallyd's loop.  The function must not touch the loop, the log or
 * anything the loop owns; it hands its results back through its argument.
 */
#ifndef RALLYD_WORKER_H
#define RALLYD_WORKER_H

#include <event2/event.h>

struct worker;

/*
 * Starts fn(arg) on a new thread; done(done_arg) runs on the loop once it
 * returned (the thread is joined by then).  NULL if no thread could start.
 */
struct worker *worker_start(struct event_base *, void (*fn)(void *), void *arg,
    void (*done)(void *), void *done_arg);
/*
 * Waits for the thread (the caller made fn stop), never calls done; frees.
 * While it waits, nudge(nudge_arg) runs every nudge_ms (nudge may be NULL).
 */
void worker_join(struct worker *, void (*nudge)(void *), void *nudge_arg,
    int nudge_ms);

#endif
