# SPDX-License-Identifier: ISC
"""Races between the CRM and rallyd's calendar sync, end to end: rallyd
against the Google emulator and a real PostgreSQL.  Each race is made to
happen, not hoped for: the emulator holds rallyd's events.insert (a latency
fault on that route) while the CRM deletes, or the CRM holds a row lock
while rallyd applies a page of Google's changes."""

import json

import pytest

from rallytest.calendar import Cal
from rallytest.daemon import wait_until

INSERT_PATH = "/calendar/v3/calendars/primary/events"
HOLD_MS = 2000


@pytest.fixture
def cal(pg, db, login_roles, fakegoogle, tmp_path):
    c = Cal(pg, db, login_roles, fakegoogle, tmp_path, "grace")
    c.fg.admin("POST", "/__admin/accounts", {"email": c.google_email})
    c.connect()
    c.start()
    c.settle()
    yield c
    fakegoogle.admin("DELETE", "/__admin/faults")
    c.close()


def insert_answered(cal, since):
    return any(r["method"] == "POST" and r["path"] == INSERT_PATH
               for r in cal.fg.requests_log(since))


def while_first_insert_is_held(cal, crm_action, **activity):
    """Creates an activity and runs crm_action(id) while rallyd's insert of
    its event is held at the emulator; returns the activity id and event id."""
    since = max([r["seq"] for r in cal.fg.requests_log()] or [0])
    cal.fg.admin("POST", "/__admin/faults", {"kind": "latency", "latencyMs": HOLD_MS,
                                             "count": 1, "method": "POST",
                                             "pathPrefix": INSERT_PATH})
    aid = cal.add_activity(**activity)
    eid = cal.event_id_of(aid)
    wait_until(lambda: cal.fg.admin("GET", "/__admin/faults")["faults"][0]["fired"] == 1,
               timeout=30, interval=0.02, message="rallyd's insert held at Google")
    crm_action(aid)
    # The race is real only if the CRM's change committed before Google answered.
    assert not insert_answered(cal, since), "the CRM acted after the insert was answered"
    wait_until(lambda: insert_answered(cal, since), timeout=30, message="the held insert answered")
    return aid, eid


def test_soft_delete_during_the_first_push_deletes_the_event_at_google(cal):
    aid, eid = while_first_insert_is_held(
        cal, lambda aid: cal.conn.execute(
            "UPDATE rally.activities SET deleted_at = now() WHERE id = %s", (aid,)),
        title="Cancelled while sending")
    cal.settle()
    assert eid not in cal.g_live()
    assert cal.conn.execute("SELECT count(*) FROM rally.activities WHERE id = %s",
                            (aid,)).fetchone()[0] == 0
    cal.sync()
    assert eid not in cal.by_event()


def test_hard_delete_during_the_first_push_deletes_the_event_and_it_stays_gone(cal):
    aid, eid = while_first_insert_is_held(
        cal, lambda aid: cal.conn.execute("DELETE FROM rally.activities WHERE id = %s", (aid,)),
        title="Removed while sending")
    cal.settle()
    assert eid not in cal.g_live()
    # A sync must not bring the event back as a new activity.
    cal.sync()
    assert eid not in cal.by_event()
    assert not [a for a in cal.activities() if a["title"] == "Removed while sending"]
    assert cal.conn.execute("SELECT count(*) FROM rally.activity_tombstones"
                            " WHERE activity_id = %s", (aid,)).fetchone()[0] == 0


def test_crm_edit_committed_during_an_inbound_apply_is_merged_not_overwritten(cal, pg, db):
    aid = cal.add_activity(title="Review", location="Room 1")
    cal.settle()
    eid = cal.event_id_of(aid)
    cal.g_edit(eid, {"location": "Google room"})
    crm = pg.connect(db, autocommit=False)
    try:
        crm.execute("UPDATE rally.activities SET title = 'Review (CRM)' WHERE id = %s", (aid,))
        cal.conn.execute("SELECT rally.job_enqueue(%s, 'calsync', %s, %s)",
                         (cal.tenant, str(cal.connection),
                          json.dumps({"connection_id": str(cal.connection)})))
        # rallyd's apply of Google's change waits for the CRM's edit to commit.
        wait_until(lambda: cal.conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND wait_event_type = 'Lock' AND query LIKE '%%rally.cal_apply_%%'").fetchone()[0] == 1,
            timeout=30, message="the apply waiting for the CRM's row lock")
        crm.commit()
    finally:
        crm.rollback()
        crm.close()
    cal.settle()
    a = cal.conn.execute("SELECT title, location, sync_state FROM rally.activities WHERE id = %s",
                         (aid,)).fetchone()
    assert a == ("Review (CRM)", "Google room", "synced")
    e = cal.g_live()[eid]
    assert (e["summary"], e["location"]) == ("Review (CRM)", "Google room")


def test_event_deleted_at_google_while_the_insert_is_retried_is_deleted_in_the_crm(cal):
    """The first insert reaches Google but its answer is lost (truncated);
    the user deletes the event at Google and a sync brings the cancellation
    (which names only the event id) while the retry is held; the retry's
    409 then finds the event deleted."""
    since = max([r["seq"] for r in cal.fg.requests_log()] or [0])
    for kind, extra in (("truncate", {}), ("latency", {"latencyMs": 2 * HOLD_MS})):
        cal.fg.admin("POST", "/__admin/faults", dict(kind=kind, count=1, method="POST",
                                                     pathPrefix=INSERT_PATH, **extra))
    aid = cal.add_activity(title="Deleted at Google meanwhile")
    eid = cal.event_id_of(aid)
    # The retried insert is held at Google; the first one did insert the event.
    wait_until(lambda: all(f["fired"] == 1 for f in cal.fg.admin("GET", "/__admin/faults")["faults"]),
               timeout=30, interval=0.02, message="the retried insert held at Google")
    cal.g_delete(eid)
    sync = cal.conn.execute("SELECT rally.job_enqueue(%s, 'calsync', %s, %s)",
                            (cal.tenant, str(cal.connection),
                             json.dumps({"connection_id": str(cal.connection)}))).fetchone()[0]
    wait_until(lambda: cal.conn.execute("SELECT state FROM rally.jobs WHERE id = %s",
                                        (sync,)).fetchone()[0] == "done",
               timeout=30, message="the sync that brought the cancellation")
    assert not insert_answered_twice(cal, since), "the retry was answered before the sync"
    cal.settle()
    assert eid not in cal.g_live()
    assert cal.conn.execute("SELECT count(*) FROM rally.activities WHERE id = %s",
                            (aid,)).fetchone()[0] == 0


def insert_answered_twice(cal, since):
    return sum(1 for r in cal.fg.requests_log(since)
               if r["method"] == "POST" and r["path"] == INSERT_PATH) >= 2
