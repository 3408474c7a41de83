# SPDX-License-Identifier: ISC
"""The job queue: one pending job per dedupe key, and one NOTIFY on
rally_jobs per statement that makes work due."""

import time
import uuid

import psycopg
import pytest

from rallytest.schema import NIL_TENANT, insert, set_context

ON_CONFLICT = ("ON CONFLICT (tenant_id, kind, dedupe_key) "
               "WHERE state = 'pending' AND dedupe_key IS NOT NULL DO NOTHING")


class Listener:
    """LISTEN rally_jobs on its own connection and count what arrives."""

    def __init__(self, pg, db):
        self.conn = pg.connect(db)
        self.got = []
        self.conn.add_notify_handler(self._on_notify)
        self.conn.execute("LISTEN rally_jobs")

    def _on_notify(self, n):
        if n.channel == "rally_jobs":
            self.got.append(n.payload)

    def count(self, expect_some=True):
        """Notifications so far, after letting in-flight ones arrive."""
        deadline = time.monotonic() + (3 if expect_some else 0)
        while True:
            self.conn.execute("SELECT 1")   # reading a result dispatches notifies
            if self.got or time.monotonic() >= deadline:
                break
            time.sleep(0.05)
        time.sleep(0.3)
        self.conn.execute("SELECT 1")
        return len(self.got)

    def reset(self):
        self.count(expect_some=False)
        self.got.clear()

    def close(self):
        self.conn.close()


@pytest.fixture
def listener(pg, db):
    lst = Listener(pg, db)
    yield lst
    lst.close()


@pytest.fixture
def conn(pg, db):
    with pg.connect(db, user="postgres") as c:
        yield c


def _job(conn, tenant, kind="calsync", key="conn-1"):
    return insert(conn, "jobs", "id", tenant_id=tenant, kind=kind, dedupe_key=key)


def test_second_pending_job_with_the_same_key_conflicts(conn):
    t = uuid.uuid4()
    _job(conn, t)
    with pytest.raises(psycopg.errors.UniqueViolation):
        _job(conn, t)
    assert conn.execute(f"INSERT INTO rally.jobs (tenant_id, kind, dedupe_key) "
                        f"VALUES (%s, 'calsync', 'conn-1') {ON_CONFLICT}", (t,)).rowcount == 0


def test_new_pending_job_is_allowed_once_the_first_is_running(conn):
    t = uuid.uuid4()
    first = _job(conn, t)
    conn.execute("UPDATE rally.jobs SET state = 'running', lease_owner = 'i1', "
                 "lease_expires = now() + interval '1 minute' WHERE id = %s", (first,))
    second = _job(conn, t)
    assert second != first
    # ... but while that one is pending, a third still conflicts.
    with pytest.raises(psycopg.errors.UniqueViolation):
        _job(conn, t)


def test_dedupe_is_per_tenant_and_kind_and_ignores_jobs_without_key(conn):
    a, b = uuid.uuid4(), uuid.uuid4()
    _job(conn, a)
    _job(conn, b)
    _job(conn, a, kind="mailsync")
    _job(conn, a, key=None)
    _job(conn, a, key=None)
    assert conn.execute("SELECT count(*) FROM rally.jobs").fetchone()[0] == 5


def test_a_thousand_jobs_in_one_statement_send_one_notification(conn, listener):
    listener.reset()
    n = conn.execute(
        "INSERT INTO rally.jobs (tenant_id, kind, dedupe_key) "
        "SELECT %s, 'calsync', 'c-' || g FROM generate_series(1, 1000) g",
        (uuid.uuid4(),)).rowcount
    assert n == 1000
    assert listener.count() == 1


def test_notification_is_sent_at_commit_not_before(pg, db, listener):
    listener.reset()
    with pg.connect(db) as c:
        c.execute("BEGIN")
        _job(c, uuid.uuid4())
        assert listener.count(expect_some=False) == 0
        c.execute("COMMIT")
    assert listener.count() == 1


def test_each_inserting_statement_notifies_once(conn, listener):
    listener.reset()
    t = uuid.uuid4()
    _job(conn, t, key="a")
    assert listener.count() == 1
    _job(conn, t, key="b")
    assert listener.count() == 2


def test_insert_that_only_hit_the_dedupe_index_does_not_notify(conn, listener):
    t = uuid.uuid4()
    _job(conn, t)
    listener.reset()
    conn.execute(f"INSERT INTO rally.jobs (tenant_id, kind, dedupe_key) "
                 f"VALUES (%s, 'calsync', 'conn-1') {ON_CONFLICT}", (t,))
    assert listener.count(expect_some=False) == 0


def test_job_becoming_pending_again_notifies_and_finishing_does_not(conn, listener):
    t = uuid.uuid4()
    ids = [_job(conn, t, key=f"k{i}") for i in range(3)]
    conn.execute("UPDATE rally.jobs SET state = 'running' WHERE tenant_id = %s", (t,))
    listener.reset()
    conn.execute("UPDATE rally.jobs SET state = 'done', finished_at = now() WHERE id = %s",
                 (ids[0],))
    conn.execute("UPDATE rally.jobs SET lease_expires = now() WHERE id = %s", (ids[1],))
    assert listener.count(expect_some=False) == 0
    # A retry puts two jobs back to pending in one statement: one notification.
    conn.execute("UPDATE rally.jobs SET state = 'pending', attempts = attempts + 1, "
                 "run_at = now() + interval '5 seconds' WHERE id = ANY(%s)", (ids[1:],))
    assert listener.count() == 1


def test_bringing_a_pending_job_forward_notifies_and_postponing_does_not(conn, listener):
    j = insert(conn, "jobs", "id", tenant_id=uuid.uuid4(), kind="notice",
               run_at="2100-01-01T00:00:00Z")
    listener.reset()
    conn.execute("UPDATE rally.jobs SET run_at = run_at + interval '1 day' WHERE id = %s", (j,))
    assert listener.count(expect_some=False) == 0
    conn.execute("UPDATE rally.jobs SET run_at = now() WHERE id = %s", (j,))
    assert listener.count() == 1


def test_web_cannot_queue_jobs_at_all(pg, db, login_roles, listener):
    t = uuid.uuid4()
    listener.reset()
    with pg.connect(db, user=login_roles["web"]) as web:
        set_context(web, t)
        for row in (dict(tenant_id=t, kind="calsync", dedupe_key="u1", payload={"u": 1}),
                    dict(tenant_id=t, kind="calpush",
                         payload={"deleted": True, "connection_id": str(uuid.uuid4())}),
                    dict(tenant_id=uuid.uuid4(), kind="calpurge"),
                    dict(tenant_id=NIL_TENANT, kind="prune")):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                insert(web, "jobs", **row)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            web.execute("SELECT rally.job_enqueue(%s, 'calsync')", (t,))
    assert listener.count() == 0
    with pg.connect(db) as su:
        assert su.execute("SELECT count(*) FROM rally.jobs").fetchone()[0] == 0


def test_job_enqueue_folds_twins_and_brings_them_forward(conn, listener):
    t = uuid.uuid4()
    listener.reset()
    a = conn.execute("SELECT rally.job_enqueue(%s, 'calsync', 'c1', '{}',"
                     " now() + interval '1 hour')", (t,)).fetchone()[0]
    b = conn.execute("SELECT rally.job_enqueue(%s, 'calsync', 'c1')", (t,)).fetchone()[0]
    assert a == b
    due = conn.execute("SELECT run_at <= now() FROM rally.jobs WHERE id = %s", (a,)).fetchone()[0]
    assert due
    c = conn.execute("SELECT rally.job_enqueue(%s, 'calsync', 'c2')", (t,)).fetchone()[0]
    assert c != a
    assert listener.count() >= 2


@pytest.mark.parametrize("kind, payload, error", [
    ("no-such-kind", {}, "no handler knows job kind"),
    (None, {}, "no handler knows job kind"),
    ("calsync", [], "must be an object"),
    ("calsync", "x", "must be an object"),
])
def test_job_enqueue_refuses_unknown_kinds_and_bad_payloads(conn, kind, payload, error):
    from psycopg.types.json import Jsonb
    with pytest.raises(psycopg.errors.InvalidParameterValue, match=error):
        conn.execute("SELECT rally.job_enqueue(%s, %s, NULL, %s)",
                     (uuid.uuid4(), kind, Jsonb(payload)))
    assert conn.execute("SELECT count(*) FROM rally.jobs").fetchone()[0] == 0


def test_the_kinds_sql_accepts_are_the_kinds_rallyd_handles(conn):
    from rallytest import SRCDIR
    import re
    src = (SRCDIR / "daemon").glob("job-*.c")
    handled = {m.group(1) for f in src
               for m in re.finditer(r'\.name = "([^"]+)"', f.read_text())}
    sql = set(conn.execute("SELECT unnest(rally.job_kinds())").fetchall())
    assert {k for (k,) in sql} == handled


def test_job_runs_go_with_their_job(conn):
    t = uuid.uuid4()
    j = _job(conn, t)
    for attempt in (1, 2):
        insert(conn, "job_runs", tenant_id=t, job_id=j, attempt=attempt, instance="i1",
               outcome="retry")
    with pytest.raises(psycopg.errors.CheckViolation):
        insert(conn, "job_runs", tenant_id=t, job_id=j, attempt=3, instance="i1",
               outcome="maybe")
    conn.execute("DELETE FROM rally.jobs WHERE id = %s", (j,))
    assert conn.execute("SELECT count(*) FROM rally.job_runs").fetchone()[0] == 0


def test_instances_default_to_the_system_tenant(conn):
    insert(conn, "instances", name="host-a:1234", host="host-a", pid=1234)
    assert conn.execute("SELECT tenant_id::text FROM rally.instances").fetchone()[0] == NIL_TENANT


def test_web_cannot_act_in_the_system_tenant(pg, db, login_roles):
    # The nil uuid is the daemon's: as a tenant setting it means none.
    with pg.connect(db, user=login_roles["web"]) as web:
        set_context(web, NIL_TENANT)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            insert(web, "jobs", tenant_id=NIL_TENANT, kind="backup")
