# SPDX-License-Identifier: ISC
"""The web tier is hostile: nothing it can write steers rallyd against
anyone else's data or Google account.

rally_web cannot insert jobs at all (test_schema_jobs), so these tests
play a compromised producer instead: jobs of every kind are queued
directly, in one user's tenant, naming a colleague's connection, another
tenant's ids, upper-case or malformed uuids and wrong types.  rallyd must
re-check each against the database and do nothing to anyone else."""

import json
import uuid

import psycopg
import pytest

from rallytest.calendar import PASSWORD, Cal
from rallytest.daemon import wait_until
from rallytest.schema import set_context

WRITES = ("POST", "PATCH", "PUT", "DELETE")


class World:
    """Tenant A: alice and bob, each with a connected calendar holding one
    event; tenant B: carol, the same.  One rallyd serves all three."""

    def __init__(self, pg, db, login_roles, fakegoogle, tmp_path):
        # Push to a closed port: channels exist at Google, deliveries fail.
        self.alice = Cal(pg, db, login_roles, fakegoogle, tmp_path, "alice",
                         push_url="http://127.0.0.1:9")
        self.fg, self.pg, self.db = fakegoogle, pg, db
        self.conn = self.alice.conn
        self.a = self.alice.tenant
        self.b = json.loads(self.alice.ctl("--json", "tenant", "create", "Beta").stdout)[
            "tenant_id"]
        self.users, self.google, self.conns = {}, {}, {}
        self.users["alice"] = self.alice.user
        self.google["alice"] = self.alice.google_email
        self._account("alice")
        self.conns["alice"] = self.alice.connect()
        for name, tenant in (("bob", self.a), ("carol", self.b)):
            email = f"{name}@{'acme' if tenant == self.a else 'beta'}.test"
            out = self.alice.ctl("--json", "user", "create", "--tenant", tenant, "--email",
                                 email, "--name", name, input=PASSWORD + "\n")
            self.users[name] = json.loads(out.stdout)["user_id"]
            self.google[name] = f"{name}-{uuid.uuid4().hex[:8]}@gmail.test"
            self._account(name)
            self.conns[name] = fakegoogle.connect_user(
                pg, db, tenant, email, self.google[name], calendar=True,
                rallyctl_config=self.alice.ctl_conf)
        self.alice.start()
        self.settle()
        wait_until(lambda: self.conn.execute(
            "SELECT count(*) FROM rally.sync_state WHERE resource = 'calendar'"
            " AND channel_id IS NOT NULL").fetchone()[0] == 3, message="three channels")
        self.settle()

    def _account(self, name):
        email = self.google[name]
        self.fg.admin("POST", "/__admin/accounts", {"email": email})
        self.fg.admin("POST", f"/__admin/accounts/{email}/events",
                      {"summary": f"{name}'s meeting", "start": {"date": "2026-12-21"},
                       "end": {"date": "2026-12-22"}})

    def settle(self):
        wait_until(lambda: self.conn.execute(
            "SELECT count(*) FROM rally.jobs WHERE state IN ('pending', 'running')"
            " AND run_at <= now() AND kind <> 'prune'").fetchone()[0] == 0,
            timeout=60, interval=0.1, message="all jobs idle")

    def live_events(self, name):
        r = self.fg.admin("GET", f"/__admin/accounts/{self.google[name]}/events")
        items = r["items"] if isinstance(r, dict) else r
        return sorted(e["id"] for e in items if e.get("status") != "cancelled")

    def snapshot(self):
        """Everything a hostile job could damage, per user."""
        snap = {}
        for name in self.users:
            c = self.conns[name]
            snap[name] = {
                "google": self.live_events(name),
                "activities": self.conn.execute(
                    "SELECT id, title, google_event_id, sync_state FROM rally.activities"
                    " WHERE connection_id = %s ORDER BY id", (c,)).fetchall(),
                "connection": self.conn.execute(
                    "SELECT status, calendar_enabled, refresh_token IS NOT NULL"
                    " FROM rally.google_connections WHERE id = %s", (c,)).fetchone(),
                "channel": self.conn.execute(
                    "SELECT channel_id, channel_resource_id FROM rally.sync_state"
                    " WHERE connection_id = %s AND resource = 'calendar'", (c,)).fetchone(),
            }
        snap["revocations"] = self.conn.execute(
            "SELECT count(*) FROM rally.token_revocations").fetchone()[0]
        return snap

    def queue(self, tenant, kind, payload):
        return self.conn.execute(
            "INSERT INTO rally.jobs (tenant_id, kind, payload, max_attempts)"
            " VALUES (%s, %s, %s, 1) RETURNING id", (tenant, kind, json.dumps(payload))
        ).fetchone()[0]


@pytest.fixture
def world(pg, db, login_roles, fakegoogle, tmp_path):
    w = World(pg, db, login_roles, fakegoogle, tmp_path)
    yield w
    w.alice.close()


def test_hostile_payloads_of_every_kind_touch_no_one_elses_calendar(world, fakegoogle):
    w = world
    bob, carol, alice = w.conns["bob"], w.conns["carol"], w.conns["alice"]
    bob_event = w.live_events("bob")[0]
    carol_event = w.live_events("carol")[0]
    before = w.snapshot()
    for name in w.users:
        assert len(before[name]["activities"]) == 1 and before[name]["channel"][0], before
    since = max([r["seq"] for r in fakegoogle.requests_log()] or [0])
    calendar_events = w.alice.sections["google"]["calendar_url"] + "/calendars/primary/events"
    hostile = [
        # The reproduced attack: a delete at a colleague's Google Calendar.
        (w.a, "calpush", {"deleted": True, "connection_id": bob, "google_event_id": bob_event,
                          "activity_id": str(uuid.uuid4())}),
        (w.a, "calpush", {"deleted": True, "connection_id": bob.upper(),
                          "google_event_id": bob_event, "activity_id": str(uuid.uuid4()).upper()}),
        (w.a, "calpush", {"deleted": True, "connection_id": carol,
                          "google_event_id": carol_event, "activity_id": str(uuid.uuid4())}),
        # A purge of a calendar that is still on, here and across tenants.
        (w.a, "calpurge", {"connection_id": bob}),
        (w.a, "calpurge", {"connection_id": bob.upper()}),
        (w.a, "calpurge", {"connection_id": carol}),
        (w.b, "calpurge", {"connection_id": alice}),
        (w.b, "calpurge", {"connection_id": carol}),
        # Another tenant's connection under this tenant's name.
        (w.a, "calwatch", {"connection_id": carol}),
        (w.a, "calsync", {"connection_id": carol}),
        (w.a, "token-revoke", {"connection_id": carol}),
        (w.a, "token-revoke", {"connection_id": bob.upper()}),
        (w.a, "google-probe", {"connection_id": carol, "url": calendar_events}),
        # An OAuth exchange of an attempt that is not there (test_oauth_web
        # has other tenants' attempts).
        (w.a, "oauth-exchange", {"pending_id": carol}),
        (w.b, "oauth-exchange", {"pending_id": str(uuid.uuid4())}),
        # Malformed ids and wrong types.
        (w.a, "calsync", {"connection_id": 12}),
        (w.a, "calsync", {"connection_id": f"{bob}' OR true --"}),
        (w.a, "calpurge", {"connection_id": [bob]}),
        (w.a, "calpush", {"activity_id": {"id": bob}}),
        (w.a, "calpurge", {}),
        (w.a, "calwatch", {"connection_id": None}),
    ]
    ids = [w.queue(*h) for h in hostile]
    w.settle()
    assert w.snapshot() == before
    writes = [r for r in fakegoogle.requests_log(since)
              if r["method"] in WRITES and "/calendar/" in r["path"]]
    assert writes == []
    ends = dict(w.conn.execute("SELECT id, state FROM rally.jobs WHERE id = ANY(%s)",
                               (ids,)).fetchall())
    assert set(ends) == set(ids)
    assert "running" not in ends.values() and "pending" not in ends.values()
    errors = [r[0] for r in w.conn.execute(
        "SELECT last_error FROM rally.jobs WHERE id = ANY(%s) AND state = 'failed'",
        (ids[-6:],)).fetchall()]
    assert len(errors) == 6 and all("not a uuid" in e for e in errors), errors


def test_the_owners_own_delete_still_reaches_google_through_the_tombstone(world):
    w = world
    aid = w.alice.add_activity(title="Doomed")
    w.settle()
    eid = w.alice.event_id_of(aid)
    assert eid in w.live_events("alice")
    w.conn.execute("DELETE FROM rally.activities WHERE id = %s", (aid,))
    w.settle()
    payloads = w.conn.execute("SELECT DISTINCT payload FROM rally.jobs WHERE kind = 'calpush'"
                              " AND dedupe_key = %s", (str(aid),)).fetchall()
    assert payloads == [({"activity_id": str(aid)},)]    # nothing but the activity
    assert eid not in w.live_events("alice")
    assert w.conn.execute("SELECT count(*) FROM rally.activity_tombstones").fetchone()[0] == 0


def _web(w, login_roles, tenant, user):
    conn = psycopg.connect(w.pg.conninfo(w.db, login_roles["web"]), autocommit=True)
    set_context(conn, tenant, user)
    return conn


def test_web_may_ask_a_sync_only_of_its_own_connections(world, login_roles):
    w = world
    alice = w.users["alice"]
    w.settle()
    before = w.conn.execute("SELECT max(id) FROM rally.jobs").fetchone()[0]
    with _web(w, login_roles, w.a, alice) as web:
        for conn in (w.conns["bob"], w.conns["carol"], str(uuid.uuid4())):
            assert web.execute("SELECT rally.web_request_sync(%s, 'calendar')",
                               (conn,)).fetchone()[0] is False
        # Mail is off on alice's connection: the same answer as for nothing.
        assert web.execute("SELECT rally.web_request_sync(%s, 'mail')",
                           (w.conns["alice"],)).fetchone()[0] is False
        with pytest.raises(psycopg.errors.InvalidParameterValue):
            web.execute("SELECT rally.web_request_sync(%s, 'contacts')", (w.conns["alice"],))
        with pytest.raises(psycopg.errors.InvalidTextRepresentation):
            web.execute("SELECT rally.web_request_sync('not-a-uuid', 'calendar')")
    # Another tenant's context with alice's user id is not alice.
    with _web(w, login_roles, w.b, alice) as web:
        assert web.execute("SELECT rally.web_request_sync(%s, 'calendar')",
                           (w.conns["alice"],)).fetchone()[0] is False
    assert w.conn.execute("SELECT count(*) FROM rally.jobs WHERE id > %s",
                          (before,)).fetchone()[0] == 0
    with _web(w, login_roles, w.a, alice) as web:
        assert web.execute("SELECT rally.web_request_sync(%s, 'calendar')",
                           (w.conns["alice"].upper(),)).fetchone()[0] is True
    queued = w.conn.execute("SELECT tenant_id, kind, payload FROM rally.jobs WHERE id > %s",
                            (before,)).fetchall()
    assert queued == [(uuid.UUID(w.a), "calsync",
                       {"connection_id": w.conns["alice"], "reason": "user"})]


def test_web_cannot_skip_the_sync_triggers_by_claiming_to_be_google(world, login_roles):
    w = world
    alice = w.users["alice"]
    with _web(w, login_roles, w.a, alice) as web:
        web.execute("SELECT set_config('rally.origin', 'google', false)")
        aid = web.execute(
            "INSERT INTO rally.activities (tenant_id, owner_id, title, start_at, end_at)"
            " VALUES (%s, %s, 'Sneaky', now(), now() + interval '1 hour') RETURNING id",
            (w.a, alice)).fetchone()[0]
    w.settle()
    row = w.conn.execute("SELECT sync_state, google_event_id FROM rally.activities"
                         " WHERE id = %s", (aid,)).fetchone()
    assert row == ("synced", w.alice.event_id_of(aid))
    assert w.alice.event_id_of(aid) in w.live_events("alice")
