# SPDX-License-Identifier: ISC
"""The calendar's SQL, called straight from Python against a scratch
database: no rallyd, no emulator.  The three-way merge field by field,
the event → activity mapping, and the set-based page apply, including
what it costs (index use, not time) on a table of 100,000 activities."""

import copy
import datetime
import json
import uuid

import psycopg
import pytest
from psycopg.types.json import Jsonb

from rallytest.schema import calendar_user, insert, login_role, set_context

BASE_UPDATED = "2026-11-01T09:00:00Z"


class Conn:
    """A tenant, a user and a calendar connection, written directly."""

    def __init__(self, conn):
        self.conn = conn
        self.tenant, self.user, self.id = calendar_user(conn)
        insert(conn, "sync_state", tenant_id=self.tenant, connection_id=self.id,
               resource="calendar")
        self._etag = 0

    def etag(self):
        self._etag += 1
        return f'"etag-{self._etag}"'

    def apply(self, items, full_started=None, sync_token=None, cur=None):
        page = {"items": items}
        if sync_token:
            page["nextSyncToken"] = sync_token
        return (cur or self.conn).execute(
            "SELECT rally.cal_apply_page(%s, %s, %s, %s)",
            (self.tenant, self.id, Jsonb(page), full_started)).fetchone()[0]

    def activity(self, event_id):
        cur = self.conn.execute("SELECT * FROM rally.activities WHERE tenant_id = %s"
                                " AND connection_id = %s AND google_event_id = %s",
                                (self.tenant, self.id, event_id))
        row = cur.fetchone()
        return dict(zip([c.name for c in cur.description], row)) if row else None

    def jobs(self, kind):
        return self.conn.execute("SELECT count(*) FROM rally.jobs WHERE kind = %s",
                                 (kind,)).fetchone()[0]


@pytest.fixture
def cal(pg, db):
    with pg.connect(db) as conn:
        yield Conn(conn)


def timed(eid, etag, **kw):
    e = {"id": eid, "etag": etag, "status": "confirmed", "summary": "Base",
         "updated": BASE_UPDATED,
         "start": {"dateTime": "2026-12-01T10:00:00Z", "timeZone": "UTC"},
         "end": {"dateTime": "2026-12-01T11:00:00Z", "timeZone": "UTC"}}
    e.update(kw)
    return e


def all_day(eid, etag, **kw):
    e = {"id": eid, "etag": etag, "status": "confirmed", "summary": "Base",
         "updated": BASE_UPDATED,
         "start": {"date": "2026-12-01"}, "end": {"date": "2026-12-02"}}
    e.update(kw)
    return e


# --- the merge, field by field ---------------------------------------------------
#
# Each field: the base event, the SQL that moves it in the CRM, the change
# that moves it at Google, and the canonical key it is compared under.

FIELDS = {
    "title": (timed, "title = 'Local'", {"summary": "Remote"}),
    "description": (timed, "description = 'Local notes'", {"description": "Remote notes"}),
    "location": (timed, "location = 'Room L'", {"location": "Room R"}),
    "start_at": (timed, "start_at = '2026-12-01T10:30:00Z'",
                 {"start": {"dateTime": "2026-12-01T10:15:00Z", "timeZone": "UTC"}}),
    "end_at": (timed, "end_at = '2026-12-01T12:00:00Z'",
               {"end": {"dateTime": "2026-12-01T11:30:00Z", "timeZone": "UTC"}}),
    "start_date": (all_day, "start_date = '2026-11-30'", {"start": {"date": "2026-11-29"}}),
    "end_date": (all_day, "end_date = '2026-12-03'", {"end": {"date": "2026-12-04"}}),
    "time_zone": (timed, "time_zone = 'Europe/Paris'",
                  {"start": {"dateTime": "2026-12-01T10:00:00Z",
                             "timeZone": "America/New_York"}}),
    "recurrence": (timed, "recurrence = ARRAY['RRULE:FREQ=DAILY']",
                   {"recurrence": ["RRULE:FREQ=WEEKLY"]}),
    "attendees": (timed, "attendees = '[{\"email\": \"lou@x.test\"}]'",
                  {"attendees": [{"email": "rae@x.test"}]}),
    "event_status": (timed, "event_status = 'tentative'", {"status": "cancelled"}),
}


def _moved_event(make, remote_patch, etag, base):
    e = copy.deepcopy(base)
    e.update(copy.deepcopy(remote_patch))
    e["etag"] = etag
    return e


def _setup(cal, field, local, remote, local_later=True):
    make, local_sql, remote_patch = FIELDS[field]
    base = make("ev1", cal.etag())
    cal.apply([base])
    a = cal.activity("ev1")
    # A synced row's own fields are its base; the CRM edit keeps them.
    assert a["sync_state"] == "synced" and a["synced_snapshot"] is None
    synced = _fields(cal, a["id"])
    if local:
        cal.conn.execute(f"UPDATE rally.activities SET {local_sql} WHERE id = %s", (a["id"],))
        moved = cal.activity("ev1")
        assert moved["sync_state"] == "pending" and moved["synced_snapshot"] == synced
    when = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(
        hours=-1 if local_later else 1)
    e = _moved_event(make, remote_patch if remote else {}, cal.etag(), base)
    e["updated"] = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    return a["id"], e


def _merge(cal, aid, e):
    return cal.conn.execute("SELECT rally.cal_merge(a, %s) FROM rally.activities a"
                            " WHERE id = %s", (Jsonb(e), aid)).fetchone()[0]


def _fields(cal, aid):
    return cal.conn.execute("SELECT rally.cal_fields(a) FROM rally.activities a WHERE id = %s",
                            (aid,)).fetchone()[0]


def _conflicts(cal, aid):
    return cal.conn.execute("SELECT field, winner FROM rally.merge_conflicts"
                            " WHERE activity_id = %s", (aid,)).fetchall()


@pytest.mark.parametrize("field", FIELDS)
def test_merge_neither_side_moved_is_synced_with_no_conflict(cal, field):
    aid, e = _setup(cal, field, local=False, remote=False)
    before = _fields(cal, aid)
    assert _merge(cal, aid, e) == 0
    assert _fields(cal, aid) == before
    assert cal.activity("ev1")["sync_state"] == "synced"
    assert _conflicts(cal, aid) == []


@pytest.mark.parametrize("field", FIELDS)
def test_merge_only_local_moved_keeps_the_crm_value_and_pushes_it(cal, field):
    aid, e = _setup(cal, field, local=True, remote=False)
    local = _fields(cal, aid)
    assert _merge(cal, aid, e) == 0
    assert _fields(cal, aid)[field] == local[field]
    assert cal.activity("ev1")["sync_state"] == "pending"
    assert cal.jobs("calpush") >= 1
    assert _conflicts(cal, aid) == []


@pytest.mark.parametrize("field", FIELDS)
def test_merge_only_remote_moved_takes_googles_value(cal, field):
    aid, e = _setup(cal, field, local=False, remote=True)
    remote = cal.conn.execute("SELECT rally.cal_fields_from_event(%s)", (Jsonb(e),)).fetchone()[0]
    assert _merge(cal, aid, e) == 0
    assert _fields(cal, aid)[field] == remote[field]
    assert cal.activity("ev1")["sync_state"] == "synced"
    assert _conflicts(cal, aid) == []


@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize("local_later", [True, False], ids=["local-later", "remote-later"])
def test_merge_both_moved_the_later_wins_and_the_loss_is_recorded(cal, field, local_later):
    aid, e = _setup(cal, field, local=True, remote=True, local_later=local_later)
    local = _fields(cal, aid)
    remote = cal.conn.execute("SELECT rally.cal_fields_from_event(%s)", (Jsonb(e),)).fetchone()[0]
    assert local[field] != remote[field]
    assert _merge(cal, aid, e) == 1
    winner = "local" if local_later else "remote"
    assert _fields(cal, aid)[field] == (local if local_later else remote)[field]
    assert _conflicts(cal, aid) == [(field, winner)]
    assert cal.activity("ev1")["sync_state"] == ("pending" if local_later else "synced")


def test_the_base_is_what_google_last_sent_however_many_crm_edits_follow(cal):
    """A synced row keeps no snapshot; the first CRM edit keeps its base,
    later edits keep that one, and a page's merge compares with it."""
    cal.apply([timed("b1", cal.etag(), summary="Base")])
    aid = cal.activity("b1")["id"]
    for title in ("First edit", "Second edit"):
        cal.conn.execute("UPDATE rally.activities SET title = %s WHERE id = %s", (title, aid))
        assert cal.activity("b1")["synced_snapshot"]["title"] == "Base"
    later = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1)
    cal.apply([timed("b1", cal.etag(), summary="Remote",
                     updated=later.strftime("%Y-%m-%dT%H:%M:%SZ"))])
    row = cal.conn.execute("SELECT field, base_value, local_value, remote_value, winner"
                           " FROM rally.merge_conflicts WHERE activity_id = %s",
                           (aid,)).fetchall()
    assert row == [("title", "Base", "Second edit", "Remote", "local")]
    a = cal.activity("b1")
    assert (a["title"], a["sync_state"]) == ("Second edit", "pending")
    assert a["synced_snapshot"]["title"] == "Remote"


def test_the_web_role_may_not_set_where_an_activity_stands_with_google(pg, db, cal):
    cal.apply([timed("w1", cal.etag())])
    aid = cal.activity("w1")["id"]
    with pg.connect() as c:
        login_role(c, "rally_test_web", ["rally_web"])
    with pg.connect(db, user="rally_test_web") as web:
        set_context(web, cal.tenant, cal.user)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            web.execute("UPDATE rally.activities SET sync_state = 'pending' WHERE id = %s",
                        (aid,))


@pytest.mark.parametrize("state", ["pending", "local", "error"])
def test_a_synced_row_whose_state_is_set_keeps_its_base(cal, state):
    """A session other than the daemon's (an operator's) that takes a row
    out of 'synced' without touching a field: it still merges against
    what Google sent."""
    cal.apply([timed("h1", cal.etag(), description="Base notes")])
    aid = cal.activity("h1")["id"]
    cal.conn.execute("UPDATE rally.activities SET sync_state = %s WHERE id = %s", (state, aid))
    if state != "pending":
        cal.conn.execute("UPDATE rally.activities SET title = 'CRM title' WHERE id = %s",
                         (aid,))
    assert cal.activity("h1")["synced_snapshot"]["description"] == "Base notes"
    later = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)
    cal.apply([timed("h1", cal.etag(), description="Google notes",
                     updated=later.strftime("%Y-%m-%dT%H:%M:%SZ"))])
    assert cal.activity("h1")["description"] == "Google notes"
    assert _conflicts(cal, aid) == []


# --- the event → activity mapping -------------------------------------------------

def test_a_timed_event_keeps_its_instant_and_zone(cal):
    cal.apply([timed("t1", cal.etag(), summary="Call",
                     start={"dateTime": "2026-12-01T10:00:00+01:00", "timeZone": "Europe/Paris"},
                     end={"dateTime": "2026-12-01T10:30:00+01:00", "timeZone": "Europe/Paris"})])
    a = cal.activity("t1")
    assert a["start_at"] == datetime.datetime(2026, 12, 1, 9, 0, tzinfo=datetime.timezone.utc)
    assert a["time_zone"] == "Europe/Paris" and a["start_date"] is None
    assert (a["origin"], a["sync_state"], a["owner_id"]) == ("google", "synced", cal.user)


def test_an_all_day_event_keeps_its_dates_and_no_instant(cal):
    cal.apply([all_day("d1", cal.etag(), end={"date": "2026-12-04"})])
    a = cal.activity("d1")
    assert (str(a["start_date"]), str(a["end_date"])) == ("2026-12-01", "2026-12-04")
    assert a["start_at"] is None and a["time_zone"] is None


def test_a_zone_change_alone_is_a_change(cal):
    cal.apply([timed("z1", cal.etag())])
    cal.apply([timed("z1", cal.etag(), start={"dateTime": "2026-12-01T10:00:00Z",
                                                "timeZone": "Asia/Tokyo"})])
    assert cal.activity("z1")["time_zone"] == "Asia/Tokyo"


def test_a_cancelled_instance_is_kept_linked_and_a_cancelled_event_deleted(cal):
    master = timed("m1", cal.etag(), recurrence=["RRULE:FREQ=DAILY;COUNT=5"])
    instance = timed("m1_20261202T100000Z", cal.etag(), status="cancelled",
                     recurringEventId="m1",
                     originalStartTime={"dateTime": "2026-12-02T10:00:00Z"})
    # The instance arrives a page before its series.
    cal.apply([instance])
    cal.apply([master, timed("single", cal.etag())])
    inst = cal.activity("m1_20261202T100000Z")
    assert inst["event_status"] == "cancelled"
    assert inst["recurring_activity_id"] == cal.activity("m1")["id"]
    r = cal.apply([timed("single", cal.etag(), status="cancelled"),
                   timed("never-seen", cal.etag(), status="cancelled")])
    assert cal.activity("single") is None
    assert (r["deleted"], r["ignored"]) == (1, 1)


# --- the page apply ---------------------------------------------------------------

def test_a_page_inserts_updates_skips_echoes_and_counts_each(cal):
    e1, e2 = timed("p1", cal.etag()), timed("p2", cal.etag())
    assert cal.apply([e1, e2])["applied"] == 2
    again = cal.apply([e1, timed("p2", cal.etag(), summary="Moved")])
    assert (again["unchanged"], again["applied"]) == (1, 1)
    assert cal.activity("p2")["title"] == "Moved"
    assert cal.jobs("calpush") == 0        # Google's writes queue nothing


def test_the_same_event_twice_in_a_page_is_applied_once_last_state_wins(cal):
    r = cal.apply([timed("dup", cal.etag(), summary="First"),
                   timed("dup", cal.etag(), summary="Last")])
    assert r["applied"] == 1
    assert cal.activity("dup")["title"] == "Last"


def test_an_unusable_event_is_skipped_and_counted_the_rest_applied(cal):
    bad = timed("bad", cal.etag(), start={"dateTime": "not a time"})
    r = cal.apply([timed("ok1", cal.etag()), bad, timed("ok2", cal.etag())])
    assert (r["applied"], r["skipped"], r["one_by_one"]) == (2, 1, 3)
    assert cal.activity("bad") is None and cal.activity("ok2") is not None
    skipped = cal.conn.execute("SELECT skipped FROM rally.sync_state WHERE connection_id = %s",
                               (cal.id,)).fetchone()[0]
    assert skipped == {"invalid_event": 1}


def test_an_insert_whose_answer_was_lost_is_adopted_not_duplicated(cal):
    aid = insert(cal.conn, "activities", "id", tenant_id=cal.tenant, owner_id=cal.user,
                 title="Mine", start_at="2026-12-01T10:00:00Z", end_at="2026-12-01T11:00:00Z")
    assert cal.conn.execute("SELECT connection_id FROM rally.activities WHERE id = %s",
                            (aid,)).fetchone()[0] == cal.id
    eid = cal.conn.execute("SELECT rally.cal_event_id(%s)", (aid,)).fetchone()[0]
    cal.conn.execute("UPDATE rally.activities SET sync_state = 'synced' WHERE id = %s", (aid,))
    cal.apply([timed(eid, cal.etag(), summary="Mine",
                     extendedProperties={"private": {"rallyActivityId": str(aid)}})])
    assert cal.conn.execute("SELECT count(*) FROM rally.activities").fetchone()[0] == 1
    assert cal.activity(eid)["id"] == aid


def test_the_last_page_of_a_full_sync_sweeps_what_google_no_longer_has(cal):
    cal.apply([timed("keep", cal.etag()), timed("lost", cal.etag())])
    # The full sync starts (rallyd records the time), then its pages come.
    started = cal.conn.execute("SELECT clock_timestamp()").fetchone()[0]
    r = cal.apply([timed("keep", cal.etag(), summary="Still here")], full_started=started,
                  sync_token="tok-1")
    # "keep" was seen after the full sync started, "lost" not.
    assert cal.activity("lost") is None and cal.activity("keep") is not None
    assert r["swept"] == 1 and r["done"] is True


def test_an_edit_committed_during_the_apply_becomes_a_merge_not_a_loss(pg, db, cal):
    """The rows a page touches are locked before they are classified: a CRM
    edit that wins the race is merged, never overwritten."""
    cal.apply([timed("race", cal.etag())])
    aid = cal.activity("race")["id"]
    with pg.connect(db, autocommit=False) as crm:
        crm.execute("UPDATE rally.activities SET title = 'CRM edit' WHERE id = %s", (aid,))
        import threading
        result = {}

        def sync():
            with pg.connect(db) as c:
                result["r"] = cal.apply([timed("race", cal.etag(), location="Google room")],
                                        cur=c)
        t = threading.Thread(target=sync)
        t.start()
        t.join(0.5)
        assert t.is_alive()            # waits for the CRM's transaction
        crm.commit()
        t.join(10)
    a = cal.activity("race")
    assert (a["title"], a["location"]) == ("CRM edit", "Google room")
    assert result["r"]["merged"] == 1 and a["sync_state"] == "pending"


# --- what an apply costs: index use, whatever the table holds ---------------------

def _load(cal, n):
    cal.conn.execute("SELECT set_config('rally.origin', 'google', false)")
    cal.conn.execute(
        "INSERT INTO rally.activities (tenant_id, owner_id, origin, connection_id,"
        " google_event_id, sync_state, title, start_at, end_at, etag, synced_snapshot,"
        " recurring_event_id)"
        " SELECT %s, %s, 'google', %s, 'bulk' || g, 'synced', 'Bulk ' || g,"
        "  now() + g * interval '1 hour', now() + g * interval '1 hour' + interval '30 min',"
        "  'b' || g, '{}', CASE WHEN g %% 10 = 0 THEN 'series' || (g / 10) END"
        " FROM generate_series(1, %s) g", (cal.tenant, cal.user, cal.id, n))
    cal.conn.execute("SELECT set_config('rally.origin', '', false)")
    cal.conn.execute("ANALYZE rally.activities")


def _seq_scans_during(cal, items):
    """Applies a page in one transaction; the sequential scans of
    rally.activities it made (pg_stat_xact_user_tables counts this
    transaction's own)."""
    with cal.conn.transaction():
        cal.apply(items)
        return cal.conn.execute(
            "SELECT seq_scan FROM pg_stat_xact_user_tables"
            " WHERE schemaname = 'rally' AND relname = 'activities'").fetchone()[0]


@pytest.mark.parametrize("size", [10_000, 100_000])
def test_an_incremental_page_never_scans_the_table(cal, size):
    _load(cal, size)
    assert _seq_scans_during(cal, []) == 0
    small = [timed("bulk7", cal.etag(), summary="Edited"),
             timed("bulk8", "b8"),                                    # unchanged
             timed("bulk9", cal.etag(), status="cancelled"),          # deleted
             timed("series3", cal.etag(), recurrence=["RRULE:FREQ=DAILY"]),  # a series
             timed("fresh", cal.etag())]                              # new
    assert _seq_scans_during(cal, small) == 0
    assert cal.activity("bulk7")["title"] == "Edited"
    assert cal.activity("bulk9") is None
    assert cal.activity("bulk30")["recurring_activity_id"] == cal.activity("series3")["id"]


def test_a_plan_made_on_an_empty_table_does_not_scan_it_once_full(cal):
    """The trap of 0010's first version: a plan cached while the table was
    empty (the first page of the first sync), reused once it is large.
    Same session, so the same plan cache, before and after."""
    assert cal.apply([timed(f"first{i}", cal.etag()) for i in range(50)])["applied"] == 50
    _load(cal, 100_000)
    page = [timed(f"first{i}", cal.etag(), summary="Again") for i in range(50)]
    page += [timed(f"new{i}", cal.etag()) for i in range(50)]
    assert _seq_scans_during(cal, page) == 0
    assert cal.activity("first3")["title"] == "Again"


# --- a deletion in the CRM meets an edit at Google ----------------------------------

def _at(minutes):
    t = datetime.datetime(2026, 11, 1, 9, tzinfo=datetime.timezone.utc)
    return (t + datetime.timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def test_a_google_edit_merged_into_a_soft_deleted_activity_leaves_its_deletion_to_send(cal):
    cal.apply([timed("del1", cal.etag())])
    aid = cal.activity("del1")["id"]
    cal.conn.execute("UPDATE rally.activities SET deleted_at = now() WHERE id = %s", (aid,))
    cal.conn.execute("DELETE FROM rally.jobs")
    cal.apply([timed("del1", cal.etag(), location="Google room", updated=_at(10))])
    a = cal.activity("del1")
    assert a["deleted_at"] is not None and a["sync_state"] == "pending"
    assert cal.jobs("calpush") == 1           # the push that deletes the event at Google


# --- copies of an event older than the row's ------------------------------------------
#
# A sync's page may have been fetched before a push met (412) or wrote a
# newer version of the same event; a push may fetch a version older than
# one a sync merged meanwhile.  The older copy is nothing new.

def _crm_edit_of_a_synced_event(cal, eid):
    cal.apply([timed(eid, cal.etag())])
    aid = cal.activity(eid)["id"]
    cal.conn.execute("UPDATE rally.activities SET title = 'CRM' WHERE id = %s", (aid,))
    return aid


def _merge_remote(cal, aid, e):
    return cal.conn.execute("SELECT rally.cal_merge_remote(%s, %s, %s)",
                            (cal.tenant, aid, Jsonb(e))).fetchone()[0]


def test_a_page_older_than_the_push_merge_is_not_merged_a_second_time(cal):
    aid = _crm_edit_of_a_synced_event(cal, "stale1")
    older = timed("stale1", cal.etag(), summary="Google 1", updated=_at(10))
    newer = timed("stale1", cal.etag(), summary="Google 2", updated=_at(20))
    # The push's 412: Google's current event merged; the CRM's edit is later and wins.
    assert _merge_remote(cal, aid, newer) == "pending"
    assert _conflicts(cal, aid) == [("title", "local")]
    # Then the sync's page, fetched between Google's two edits, is applied.
    r = cal.apply([older])
    assert _conflicts(cal, aid) == [("title", "local")]
    a = cal.activity("stale1")
    assert (a["title"], a["etag"], a["sync_state"]) == ("CRM", newer["etag"], "pending")
    assert (r["merged"], r["unchanged"]) == (0, 1)


def test_a_push_merge_older_than_the_sync_merge_records_nothing_twice(cal):
    aid = _crm_edit_of_a_synced_event(cal, "stale2")
    older = timed("stale2", cal.etag(), summary="Google 1", updated=_at(10))
    newer = timed("stale2", cal.etag(), summary="Google 2", updated=_at(20))
    cal.apply([newer])                            # the sync's merge
    assert _conflicts(cal, aid) == [("title", "local")]
    # The push fetched Google's event after its 412, before Google's second edit.
    assert _merge_remote(cal, aid, older) == "pending"
    assert _conflicts(cal, aid) == [("title", "local")]
    a = cal.activity("stale2")
    assert (a["title"], a["etag"]) == ("CRM", newer["etag"])


def test_a_page_older_than_rallys_own_write_does_not_undo_it(cal):
    aid = _crm_edit_of_a_synced_event(cal, "stale3")
    older = timed("stale3", cal.etag(), summary="Google 1", updated=_at(10))
    sent = _fields(cal, aid)
    ours = timed("stale3", cal.etag(), summary="CRM", updated=_at(20))
    assert cal.conn.execute("SELECT rally.cal_push_done(%s, %s, %s, %s)",
                            (cal.tenant, aid, Jsonb(ours), Jsonb(sent))).fetchone()[0] == "synced"
    cal.apply([older])
    a = cal.activity("stale3")
    assert (a["title"], a["etag"], a["sync_state"]) == ("CRM", ours["etag"], "synced")


def test_a_push_answer_older_than_what_a_sync_merged_leaves_the_merge_alone(cal):
    aid = _crm_edit_of_a_synced_event(cal, "stale4")
    sent = _fields(cal, aid)
    ours = timed("stale4", cal.etag(), summary="CRM", updated=_at(10))
    # Google's user moved the room after our write; a sync merged that first.
    later = timed("stale4", cal.etag(), summary="CRM", location="Hall", updated=_at(20))
    cal.apply([later])
    cal.conn.execute("SELECT rally.cal_push_done(%s, %s, %s, %s)",
                     (cal.tenant, aid, Jsonb(ours), Jsonb(sent)))
    a = cal.activity("stale4")
    assert (a["title"], a["location"], a["etag"], a["sync_state"]) == (
        "CRM", "Hall", later["etag"], "synced")


# --- a push meets an event deleted at Google -------------------------------------

def _cancelled(e, etag):
    return dict(e, status="cancelled", etag=etag, updated=_at(30))


def test_a_push_whose_adopted_event_was_deleted_at_google_removes_the_activity(cal):
    aid = insert(cal.conn, "activities", "id", tenant_id=cal.tenant, owner_id=cal.user,
                 title="Mine", start_at="2026-12-01T10:00:00Z", end_at="2026-12-01T11:00:00Z")
    eid = cal.conn.execute("SELECT rally.cal_event_id(%s)", (aid,)).fetchone()[0]
    sent = _fields(cal, aid)
    # The retried insert's 409, then the GET: the event Rally inserted, deleted since.
    gone = _cancelled(timed(eid, cal.etag(), summary="Mine"), cal.etag())
    assert cal.conn.execute("SELECT rally.cal_push_done(%s, %s, %s, %s)",
                            (cal.tenant, aid, Jsonb(gone), Jsonb(sent))).fetchone()[0] \
        == "deleted at Google"
    assert cal.conn.execute("SELECT count(*) FROM rally.activities").fetchone()[0] == 0


def test_a_412_merge_with_an_event_deleted_at_google_removes_the_activity(cal):
    aid = _crm_edit_of_a_synced_event(cal, "gone1")
    gone = _cancelled(timed("gone1", cal.etag()), cal.etag())
    assert _merge_remote(cal, aid, gone) == "gone"
    assert cal.activity("gone1") is None


def test_a_deletion_at_google_before_the_first_push_is_recorded_deletes_the_activity(cal):
    """Rally's insert reached Google, whose answer is still on its way when
    a sync brings the event's deletion: the cancellation names only the
    event id, which Rally derived from the activity."""
    aid = insert(cal.conn, "activities", "id", tenant_id=cal.tenant, owner_id=cal.user,
                 title="Mine", start_at="2026-12-01T10:00:00Z", end_at="2026-12-01T11:00:00Z")
    eid = cal.conn.execute("SELECT rally.cal_event_id(%s)", (aid,)).fetchone()[0]
    r = cal.apply([{"id": eid, "etag": cal.etag(), "status": "cancelled"},
                   {"id": "tlme00v2ag20e5b2cdsifvnkp4", "etag": cal.etag(), "status": "cancelled"}])
    assert (r["deleted"], r["ignored"]) == (1, 1)
    assert cal.conn.execute("SELECT count(*) FROM rally.activities").fetchone()[0] == 0


# --- a page applied after a hard delete in the CRM ------------------------------------

def _hard_deleted_synced_event(cal, eid):
    """An event synced into an activity, then the activity deleted in the CRM
    (its tombstone written, the deletion not sent to Google yet)."""
    cal.apply([timed(eid, cal.etag(), summary="Synced")])
    aid = cal.activity(eid)["id"]
    cal.conn.execute("DELETE FROM rally.activities WHERE id = %s", (aid,))
    assert cal.conn.execute("SELECT count(*) FROM rally.activity_tombstones"
                            " WHERE activity_id = %s", (aid,)).fetchone()[0] == 1
    return aid


@pytest.mark.parametrize("edited_at_google", [False, True])
def test_a_page_after_a_crm_hard_delete_does_not_bring_the_activity_back(cal, edited_at_google):
    """A page fetched before the CRM's delete reached Google still holds the
    event: the tombstone says the CRM deleted it, and the deletion wins."""
    _hard_deleted_synced_event(cal, "tomb1")
    e = timed("tomb1", cal.etag(), summary="Edited at Google" if edited_at_google else "Synced")
    r = cal.apply([e, timed("other1", cal.etag())])
    assert cal.activity("tomb1") is None
    assert (r["applied"], r["ignored"]) == (1, 1)
    assert cal.activity("other1") is not None


def test_a_copy_of_rallys_event_after_a_crm_hard_delete_is_not_adopted_as_new(cal):
    """The event Rally inserted, named by the activity id it carries, after
    the activity was hard-deleted: not inserted again under a new id."""
    aid = insert(cal.conn, "activities", "id", tenant_id=cal.tenant, owner_id=cal.user,
                 title="Mine", start_at="2026-12-01T10:00:00Z", end_at="2026-12-01T11:00:00Z")
    eid = cal.conn.execute("SELECT rally.cal_event_id(%s)", (aid,)).fetchone()[0]
    cal.conn.execute("DELETE FROM rally.activities WHERE id = %s", (aid,))
    r = cal.apply([timed(eid, cal.etag(), summary="Mine",
                         extendedProperties={"private": {"rallyActivityId": str(aid)}})])
    assert r["ignored"] == 1
    assert cal.conn.execute("SELECT count(*) FROM rally.activities").fetchone()[0] == 0



def test_an_occurrence_cancelled_by_a_crm_hard_delete_is_kept_cancelled(cal):
    """Deleting an occurrence at Google leaves it cancelled there: that
    version is taken even while the tombstone is still there (the push's
    record of the deletion not committed yet); the live one before it not."""
    series = timed("ser1", cal.etag(), recurrence=["RRULE:FREQ=DAILY"])
    occ = timed("ser1_20261202T100000Z", cal.etag(), recurringEventId="ser1",
                originalStartTime={"dateTime": "2026-12-02T10:00:00Z"})
    cal.apply([series, occ])
    aid = cal.activity(occ["id"])["id"]
    cal.conn.execute("DELETE FROM rally.activities WHERE id = %s", (aid,))
    assert cal.apply([dict(occ, etag=cal.etag(), summary="Live")])["ignored"] == 1
    assert cal.activity(occ["id"]) is None
    cal.apply([{"id": occ["id"], "etag": cal.etag(), "status": "cancelled",
                "recurringEventId": "ser1", "updated": _at(40),
                "originalStartTime": {"dateTime": "2026-12-02T10:00:00Z"}}])
    a = cal.activity(occ["id"])
    assert a["event_status"] == "cancelled"
    assert a["recurring_activity_id"] == cal.activity("ser1")["id"]
