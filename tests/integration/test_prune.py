# SPDX-License-Identifier: ISC
"""The hourly prune (daemon/job-prune.c, rally.prune_batch in
sql/functions/prune.sql): what it removes, what it keeps, in batches;
called straight from SQL, and once through rallyd."""

import pytest

from rallytest.daemon import Rallyd, wait_until
from rallytest.schema import calendar_user

DAY = 86400
WEEK = 7 * DAY


class World:
    """A tenant, a user and a Google connection, written directly."""

    def __init__(self, conn):
        self.conn = conn
        self.tenant, self.user, self.connection = calendar_user(conn)

    def activity(self, title, deleted_ago=None, connected=False):
        """An activity, soft-deleted deleted_ago seconds ago if given."""
        return self.conn.execute(
            "INSERT INTO rally.activities (tenant_id, owner_id, title, connection_id, deleted_at)"
            " VALUES (%s, %s, %s, %s, now() - make_interval(secs => %s)) RETURNING id",
            (self.tenant, self.user, title, self.connection if connected else None,
             deleted_ago)).fetchone()[0]

    def tombstone(self, activity, ago):
        self.conn.execute(
            "INSERT INTO rally.activity_tombstones (tenant_id, activity_id, connection_id,"
            " owner_id, google_event_id, deleted_at)"
            " VALUES (%s, %s, %s, %s, 'ev' || %s, now() - make_interval(secs => %s))",
            (self.tenant, activity, self.connection, self.user, str(activity)[:8], ago))

    def calendar_off(self):
        self.conn.execute("UPDATE rally.google_connections SET calendar_enabled = false"
                          " WHERE id = %s", (self.connection,))

    def titles(self):
        return {r[0] for r in self.conn.execute(
            "SELECT title FROM rally.activities WHERE tenant_id = %s", (self.tenant,))}

    def tombstones(self):
        return self.conn.execute("SELECT count(*) FROM rally.activity_tombstones"
                                 " WHERE tenant_id = %s", (self.tenant,)).fetchone()[0]

    def prune(self, deleted_retention=DAY):
        return self.conn.execute("SELECT jobs, activities, tombstones"
                                 " FROM rally.prune_batch(%s, %s)",
                                 (WEEK, deleted_retention)).fetchone()


@pytest.fixture
def world(pg, db):
    with pg.connect(db) as conn:
        yield World(conn)


def test_a_soft_deleted_activity_in_no_calendar_goes_after_the_retention(world):
    world.activity("old, deleted", deleted_ago=2 * DAY)
    world.activity("just deleted", deleted_ago=3600)
    world.activity("live")
    world.activity("deleted, still to go to Google", deleted_ago=2 * DAY, connected=True)
    assert world.prune() == (0, 1, 0)
    assert world.titles() == {"just deleted", "live", "deleted, still to go to Google"}
    assert world.prune() == (0, 0, 0)


def test_soft_deleted_activities_go_a_thousand_per_statement(world):
    world.conn.execute(
        "INSERT INTO rally.activities (tenant_id, owner_id, title, deleted_at)"
        " SELECT %s, %s, 'bulk ' || g, now() - interval '2 days'"
        " FROM generate_series(1, 2500) g", (world.tenant, world.user))
    world.activity("live")
    assert [world.prune()[1] for _ in range(4)] == [1000, 1000, 500, 0]
    assert world.titles() == {"live"}


def test_a_tombstone_that_can_never_be_sent_goes_after_a_week(world):
    for title, ago in (("old", 8 * DAY), ("recent", DAY)):
        world.tombstone(world.activity(title), ago)
    assert world.prune() == (0, 0, 0)          # calendar on: the push may yet send them
    world.calendar_off()
    # The purge a switch-off queues removes these too, but it may already have run.
    assert world.prune() == (0, 0, 1)
    assert world.tombstones() == 1


def test_the_prune_finds_deleted_activities_by_index(world):
    world.conn.execute(
        "INSERT INTO rally.activities (tenant_id, owner_id, title, deleted_at)"
        " SELECT %s, %s, 'bulk ' || g, CASE WHEN g %% 100 = 0 THEN now() END"
        " FROM generate_series(1, 20000) g", (world.tenant, world.user))
    world.conn.execute("ANALYZE rally.activities")
    with world.conn.transaction():
        world.prune()
        scans = world.conn.execute(
            "SELECT seq_scan FROM pg_stat_xact_user_tables"
            " WHERE schemaname = 'rally' AND relname = 'activities'").fetchone()[0]
    assert scans == 0


def test_rallyd_prune_job_removes_an_old_soft_deleted_activity(world, pg, db, login_roles):
    world.activity("long gone", deleted_ago=3 * DAY)
    world.activity("live")
    d = Rallyd(pg.conninfo(db, login_roles["daemon"]), name="pruner",
               extra={"calendar": {"deleted_retention": "2d"}})
    try:
        d.start()
        wait_until(lambda: world.titles() == {"live"}, timeout=30, message="activity pruned")
        result = wait_until(lambda: world.conn.execute(
            "SELECT result FROM rally.jobs WHERE kind = 'prune' AND state = 'done'"
            ).fetchone(), timeout=30, message="prune job done")[0]
        assert result["activities"] == 1 and result["tombstones"] == 0
    finally:
        d.close()
