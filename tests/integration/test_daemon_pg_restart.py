# SPDX-License-Identifier: ISC
"""rallyd survives a PostgreSQL restart: it stays up, reconnects,
re-LISTENs, and runs the jobs queued while it was away."""

import time

from rallytest.daemon import Rallyd, wait_until

SYSTEM = "00000000-0000-0000-0000-000000000000"


def test_database_restart_under_a_running_daemon(pg, db, daemon_conninfo):
    d = Rallyd(daemon_conninfo, name="survivor")
    try:
        d.start()
        pg.stop("fast")
        time.sleep(1.0)                     # the daemon notices and backs off
        assert d.proc.poll() is None
        pg.pg_ctl("start", "-w", "-l", pg.dir + "/server.log")
        # Queued before the daemon is back: only its catch-up can find them.
        with pg.connect(db) as c:
            c.execute("INSERT INTO rally.jobs (tenant_id, kind)"
                      " SELECT %s, 'ping' FROM generate_series(1, 20)", (SYSTEM,))
        with pg.connect(db) as c:
            wait_until(lambda: c.execute("SELECT count(*) FROM rally.jobs WHERE kind = 'ping'"
                                         " AND state = 'done'").fetchone()[0] == 20,
                       timeout=30, message="jobs queued during the outage done")
            assert "reconnected to the database" in d.output()
            # LISTEN is back: a new job is picked up promptly, not by the 30 s safety poll.
            t0 = time.monotonic()
            jid = c.execute("INSERT INTO rally.jobs (tenant_id, kind) VALUES (%s, 'ping')"
                            " RETURNING id", (SYSTEM,)).fetchone()[0]
            wait_until(lambda: c.execute("SELECT state FROM rally.jobs WHERE id = %s",
                                         (jid,)).fetchone()[0] == "done", timeout=10,
                       message="job after reconnect")
            assert time.monotonic() - t0 < 10
        assert d.proc.poll() is None
        assert d.stop() == 0
    finally:
        d.close()


def _job(c, jid):
    return c.execute("SELECT state, lease_owner FROM rally.jobs WHERE id = %s", (jid,)).fetchone()


def test_database_down_while_a_job_finishes_neither_jams_it_nor_its_twin(pg, db, daemon_conninfo):
    """The job's end could not be recorded while PostgreSQL was down; it is
    recorded after the reconnect, and its twin (same dedupe key) runs then,
    instead of both waiting on a lease the heartbeat renewed for ever."""
    d = Rallyd(daemon_conninfo, name="finisher")       # 4 s leases
    try:
        d.start()
        with pg.connect(db) as c:
            jid = c.execute("SELECT rally.job_enqueue(%s, 'ping', 'twin', "
                            "'{\"sleep_ms\": 2500}')", (SYSTEM,)).fetchone()[0]
            wait_until(lambda: _job(c, jid)[0] == "running", message="job running")
        pg.stop("fast")                    # the job ends while the database is away
        time.sleep(6.0)
        pg.pg_ctl("start", "-w", "-l", pg.dir + "/server.log")
        with pg.connect(db) as c:
            twin = c.execute("SELECT rally.job_enqueue(%s, 'ping', 'twin', "
                             "'{\"sleep_ms\": 10}')", (SYSTEM,)).fetchone()[0]
            assert twin != jid
            wait_until(lambda: _job(c, jid)[0] == "done" and _job(c, twin)[0] == "done",
                       timeout=60, message="the job recorded done and its twin run")
            runs = c.execute("SELECT attempt, outcome FROM rally.job_runs WHERE job_id = %s",
                             (jid,)).fetchall()
            assert runs == [(1, "done")]
        assert "will retry once reconnected" in d.output()
    finally:
        d.close()
