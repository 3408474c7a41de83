/* SPDX-License-Identifier: ISC */
/*
 * sched: periodic work.  Each entry queues a job when its period starts;
 * the job's dedupe key names the period, so however many instances run the
 * same schedule, each period's job is queued once.  It ticks once a
 * minute, or at half of calendar.poll_interval when that is shorter.
 */
#ifndef RALLYD_SCHED_H
#define RALLYD_SCHED_H

struct rallyd;
struct sched;

struct sched *sched_new(struct rallyd *);
void sched_free(struct sched *);
/* Applies a reloaded calendar.poll_interval to the tick. */
void sched_reconfigure(struct sched *);
/* Queues whatever period has started (after connect and on each tick). */
void sched_tick(struct sched *);

#endif
