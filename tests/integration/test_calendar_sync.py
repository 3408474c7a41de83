# SPDX-License-Identifier: ISC
"""Google Calendar two-way sync, end to end: rallyd against the Google
emulator and a real PostgreSQL.  Each test connects a fresh Google account
with `rallyctl google connect` and watches what reaches the other side."""

import json
import signal
import time

import pytest

from rallytest.calendar import Cal
from rallytest.daemon import wait_until, write_config


@pytest.fixture
def cal(pg, db, login_roles, fakegoogle, tmp_path):
    c = Cal(pg, db, login_roles, fakegoogle, tmp_path, "ada")
    yield c
    c.close()


def assert_same_as_google(cal):
    """The CRM holds exactly Google's live events, field for field, and the
    cancelled occurrences of live series as cancelled activities (Google lists
    those in a full sync too)."""
    live = cal.g_live()
    off = {e["id"] for e in cal.g_events()
           if e.get("status") == "cancelled" and e.get("recurringEventId") in live}
    mine = cal.by_event()
    assert set(mine) == set(live) | off, (set(mine) ^ (set(live) | off))
    assert all(mine[eid]["event_status"] == "cancelled" for eid in off)
    for eid, e in live.items():
        a = mine[eid]
        assert a["title"] == e.get("summary", ""), eid
        if "dateTime" in e["start"]:
            got = cal.conn.execute("SELECT %s::timestamptz = %s::timestamptz",
                                   (a["start_at"], e["start"]["dateTime"])).fetchone()[0]
            assert got, (a["start_at"], e["start"])
        else:
            assert str(a["start_date"]) == e["start"]["date"]


def test_full_sync_brings_every_event_over_short_and_empty_pages(cal, fakegoogle):
    fakegoogle.admin("POST", "/__admin/settings", {"pageShortEvery": 2, "pageEmptyEvery": 3})
    try:
        cal.fg.admin("POST", "/__admin/accounts", {"email": cal.google_email})
        cal.fg.admin("POST", f"/__admin/accounts/{cal.google_email}/seed",
                     {"events": 120, "seed": 7, "baseTime": int(time.time())})
        cal.sections["calendar"]["page_size"] = "20"
        # Slow pages: the full sync spans several seconds, and every page
        # must still repeat the first page's query (timeMin included).
        fakegoogle.admin("POST", "/__admin/faults", {"kind": "latency", "latencyMs": 700,
                                                     "count": 4, "pathPrefix": "/calendar/"})
        cal.connect()
        cal.start()
        cal.settle()
        assert_same_as_google(cal)
        result = cal.conn.execute("SELECT result FROM rally.jobs WHERE kind = 'calsync'"
                                  " AND state = 'done' ORDER BY id LIMIT 1").fetchone()[0]
        assert result["mode"] == "full" and result["pages"] >= 8, result
        state = cal.conn.execute("SELECT calendar_sync_token IS NOT NULL, full_sync_required,"
                                 " last_full_sync_at IS NOT NULL FROM rally.sync_state"
                                 " WHERE connection_id = %s AND resource = 'calendar'",
                                 (cal.connection,)).fetchone()
        assert state == (True, False, True)
    finally:
        fakegoogle.admin("DELETE", "/__admin/faults")
        fakegoogle.admin("POST", "/__admin/settings", {"pageShortEvery": 0, "pageEmptyEvery": 0})


def test_incremental_sync_applies_creates_edits_and_deletes(cal):
    cal.fg.admin("POST", "/__admin/accounts", {"email": cal.google_email})
    keep = cal.g_create({"summary": "Kept", "start": {"dateTime": "2026-12-02T09:00:00Z"},
                         "end": {"dateTime": "2026-12-02T10:00:00Z"}})
    gone = cal.g_create({"summary": "Doomed", "start": {"dateTime": "2026-12-03T09:00:00Z"},
                         "end": {"dateTime": "2026-12-03T10:00:00Z"}})
    cal.connect()
    cal.start()
    cal.settle()
    assert set(cal.by_event()) == {keep["id"], gone["id"]}
    new = cal.g_create({"summary": "Fresh", "location": "Room 4",
                        "start": {"dateTime": "2026-12-04T09:00:00+01:00", "timeZone": "Europe/Paris"},
                        "end": {"dateTime": "2026-12-04T10:00:00+01:00", "timeZone": "Europe/Paris"}})
    cal.g_edit(keep["id"], {"summary": "Kept, renamed"})
    cal.g_delete(gone["id"])
    cal.sync()
    acts = cal.by_event()
    assert set(acts) == {keep["id"], new["id"]}
    assert acts[keep["id"]]["title"] == "Kept, renamed"
    assert acts[new["id"]]["location"] == "Room 4"
    assert acts[new["id"]]["time_zone"] == "Europe/Paris"
    assert acts[new["id"]]["origin"] == "google"
    assert_same_as_google(cal)


def test_expired_sync_token_triggers_full_resync_that_removes_what_google_lost(cal):
    cal.fg.admin("POST", "/__admin/accounts", {"email": cal.google_email})
    cal.g_create({"summary": "Real", "start": {"date": "2026-12-10"}, "end": {"date": "2026-12-11"}})
    cal.connect()
    cal.start()
    cal.settle()
    # A row Google never had (as after a missed deletion): only a full sync can see it.
    cal.conn.execute("SELECT set_config('rally.origin', 'google', false)")
    cal.conn.execute(
        "INSERT INTO rally.activities (tenant_id, owner_id, origin, connection_id, google_event_id,"
        " sync_state, title, start_date, end_date) VALUES (%s, %s, 'google', %s, 'ghost00001',"
        " 'synced', 'Ghost', '2026-12-12', '2026-12-13')", (cal.tenant, cal.user, cal.connection))
    cal.conn.execute("SELECT set_config('rally.origin', '', false)")
    cal.fg.admin("POST", f"/__admin/accounts/{cal.google_email}/expire-sync-tokens")
    cal.sync()
    assert "ghost00001" not in cal.by_event()
    assert_same_as_google(cal)
    result = cal.conn.execute("SELECT result FROM rally.jobs WHERE kind = 'calsync' AND state = 'done'"
                              " ORDER BY finished_at DESC LIMIT 1").fetchone()[0]
    assert result["mode"] == "full" and result["swept"] == 1


def test_recurring_series_with_an_edited_and_a_cancelled_instance(cal):
    cal.fg.admin("POST", "/__admin/accounts", {"email": cal.google_email})
    series = cal.g_create({"summary": "Standup", "recurrence": ["RRULE:FREQ=DAILY;COUNT=5"],
                           "start": {"dateTime": "2026-12-07T09:00:00Z", "timeZone": "UTC"},
                           "end": {"dateTime": "2026-12-07T09:15:00Z", "timeZone": "UTC"}})
    cal.connect()
    cal.start()
    cal.settle()
    master = cal.by_event()[series["id"]]
    assert master["recurrence"] == ["RRULE:FREQ=DAILY;COUNT=5"]
    sid = series["id"]
    cal.g_edit(f"{sid}_20261208T090000Z", {"summary": "Standup (long)"})
    cal.g_delete(f"{sid}_20261209T090000Z")
    cal.sync()
    rows = [a for a in cal.activities() if a["recurring_event_id"] == sid]
    by_status = {a["event_status"]: a for a in rows}
    assert set(by_status) == {"confirmed", "cancelled"}, rows
    assert by_status["confirmed"]["title"] == "Standup (long)"
    for a in rows:
        assert a["recurring_activity_id"] == master["id"]
    # Cancelling the whole series removes the series and its exceptions.
    cal.g_delete(sid)
    cal.sync()
    assert not [a for a in cal.activities() if sid in (a["google_event_id"], a["recurring_event_id"])]


def test_all_day_and_zoned_events_keep_their_dates_and_zones(cal):
    cal.fg.admin("POST", "/__admin/accounts", {"email": cal.google_email})
    day = cal.g_create({"summary": "Offsite", "start": {"date": "2026-12-14"},
                        "end": {"date": "2026-12-16"}})
    ny = cal.g_create({"summary": "NY call",
                       "start": {"dateTime": "2026-12-15T09:00:00-05:00", "timeZone": "America/New_York"},
                       "end": {"dateTime": "2026-12-15T09:30:00-05:00", "timeZone": "America/New_York"},
                       "attendees": [{"email": "Bob@Example.com", "responseStatus": "accepted"},
                                     {"email": "eve@example.com"}]})
    cal.connect()
    cal.start()
    cal.settle()
    acts = cal.by_event()
    a = acts[day["id"]]
    assert (str(a["start_date"]), str(a["end_date"]), a["start_at"]) == ("2026-12-14", "2026-12-16", None)
    b = acts[ny["id"]]
    assert b["time_zone"] == "America/New_York"
    assert cal.conn.execute("SELECT %s = '2026-12-15T14:00:00Z'::timestamptz",
                            (b["start_at"],)).fetchone()[0]
    assert {(x["email"], x["responseStatus"]) for x in b["attendees"]} == {
        ("bob@example.com", "accepted"), ("eve@example.com", "needsAction")}


def test_outbound_create_edit_delete_reach_google(cal):
    cal.fg.admin("POST", "/__admin/accounts", {"email": cal.google_email})
    cal.connect()
    cal.start()
    cal.settle()
    aid = cal.add_activity(title="Demo for Initech", location="Zoom",
                           attendees=json.dumps([{"email": "peter@initech.test"}]))
    cal.settle()
    eid = cal.event_id_of(aid)
    e = cal.g_live()[eid]
    assert e["summary"] == "Demo for Initech" and e["location"] == "Zoom"
    assert e["extendedProperties"]["private"]["rallyActivityId"] == str(aid)
    assert [x["email"] for x in e["attendees"]] == ["peter@initech.test"]
    row = cal.conn.execute("SELECT sync_state, google_event_id, etag FROM rally.activities WHERE id = %s",
                           (aid,)).fetchone()
    assert row[0] == "synced" and row[1] == eid and row[2] == e["etag"]

    cal.conn.execute("UPDATE rally.activities SET title = 'Demo (moved)', start_at = start_at + interval '1 day',"
                     " end_at = end_at + interval '1 day' WHERE id = %s", (aid,))
    cal.settle()
    e = cal.g_live()[eid]
    assert e["summary"] == "Demo (moved)"
    assert e["start"]["dateTime"].startswith("2026-12-02T10:00:00")

    cal.conn.execute("DELETE FROM rally.activities WHERE id = %s", (aid,))
    cal.settle()
    assert eid not in cal.g_live()


def test_soft_deleted_activity_is_deleted_at_google_then_forgotten(cal):
    cal.fg.admin("POST", "/__admin/accounts", {"email": cal.google_email})
    cal.connect()
    cal.start()
    aid = cal.add_activity(title="Soon gone")
    cal.settle()
    eid = cal.event_id_of(aid)
    assert eid in cal.g_live()
    cal.conn.execute("UPDATE rally.activities SET deleted_at = now() WHERE id = %s", (aid,))
    cal.settle()
    assert eid not in cal.g_live()
    assert cal.conn.execute("SELECT count(*) FROM rally.activities WHERE id = %s", (aid,)).fetchone()[0] == 0


def test_nothing_rally_wrote_comes_back_as_a_change(cal):
    cal.fg.admin("POST", "/__admin/accounts", {"email": cal.google_email})
    cal.connect()
    cal.start()
    cal.settle()
    aid = cal.add_activity(title="Echo test")
    cal.settle()
    before = cal.conn.execute("SELECT updated_at, etag, sync_state FROM rally.activities WHERE id = %s",
                              (aid,)).fetchone()
    for _ in range(2):
        cal.sync()
    after = cal.conn.execute("SELECT updated_at, etag, sync_state FROM rally.activities WHERE id = %s",
                             (aid,)).fetchone()
    assert after == before and after[2] == "synced"
    pushes = cal.conn.execute("SELECT count(*) FROM rally.jobs WHERE kind = 'calpush'").fetchone()[0]
    assert pushes == 1
    assert cal.conn.execute("SELECT count(*) FROM rally.merge_conflicts").fetchone()[0] == 0
    last = cal.conn.execute("SELECT result FROM rally.jobs WHERE kind = 'calsync' AND state = 'done'"
                            " ORDER BY finished_at DESC LIMIT 1").fetchone()[0]
    assert last["applied"] == 0 and last["conflict"] == 0


def test_concurrent_edits_merge_per_field_and_the_later_wins(cal):
    cal.fg.admin("POST", "/__admin/accounts", {"email": cal.google_email})
    cal.connect()
    d = cal.start()
    aid = cal.add_activity(title="Kickoff", location="Room 1", description="agenda v1")
    cal.settle()
    eid = cal.event_id_of(aid)
    d.stop()
    # While rallyd is away: the CRM changes title and description...
    cal.conn.execute("UPDATE rally.activities SET title = 'Kickoff (CRM)', description = 'agenda v2'"
                     " WHERE id = %s", (aid,))
    time.sleep(1.1)
    # ...and, later, Google changes title and location.
    cal.g_edit(eid, {"summary": "Kickoff (Google)", "location": "Room 9"})
    cal.start("cal2")
    cal.sync()
    cal.settle()
    e = cal.g_live()[eid]
    a = cal.conn.execute("SELECT title, location, description, sync_state FROM rally.activities"
                         " WHERE id = %s", (aid,)).fetchone()
    assert a == ("Kickoff (Google)", "Room 9", "agenda v2", "synced")
    assert (e["summary"], e["location"], e["description"]) == ("Kickoff (Google)", "Room 9", "agenda v2")
    conflicts = cal.conn.execute("SELECT field, winner, local_value, remote_value FROM rally.merge_conflicts"
                                 " WHERE activity_id = %s", (aid,)).fetchall()
    assert conflicts == [("title", "remote", "Kickoff (CRM)", "Kickoff (Google)")]


def test_insert_is_idempotent_when_rallyd_dies_between_google_and_commit(cal):
    cal.fg.admin("POST", "/__admin/accounts", {"email": cal.google_email})
    cal.connect()
    d = cal.start()
    cal.settle()
    d.stop()                                 # connected and synced, then away
    since = max([r["seq"] for r in cal.fg.requests_log()] or [0])
    aid = cal.add_activity(title="Exactly once")
    eid = cal.event_id_of(aid)
    # Hold the activity's row lock so the commit after Google's answer blocks.
    locker = cal.pg.connect(cal.db, autocommit=False)
    locker.execute("SELECT 1 FROM rally.activities WHERE id = %s FOR UPDATE", (aid,))
    try:
        d = cal.start("victim")
        wait_until(lambda: eid in cal.g_live(), timeout=30, message="insert reached Google")
        d.kill()                                 # SIGKILL before rally.cal_push_done commits
        # A statement already sent would still commit once the lock is free:
        # end the dead daemon's session too, as a crashed host's would end.
        wait_until(lambda: cal.conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND wait_event_type = 'Lock' AND query LIKE '%%cal_push_done%%'").fetchone()[0] == 1,
            message="the push's commit waiting for the lock")
        cal.conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                         " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                         " AND query LIKE '%%cal_push_done%%'")
    finally:
        locker.rollback()
        locker.close()
    assert cal.conn.execute("SELECT sync_state FROM rally.activities WHERE id = %s",
                            (aid,)).fetchone()[0] == "pending"
    cal.start("heir")
    cal.settle(timeout=60)
    events = [e for e in cal.g_events() if e["id"] == eid or
              e.get("extendedProperties", {}).get("private", {}).get("rallyActivityId") == str(aid)]
    assert len(events) == 1
    row = cal.conn.execute("SELECT sync_state, google_event_id FROM rally.activities WHERE id = %s",
                           (aid,)).fetchone()
    assert row == ("synced", eid)
    # One insert succeeded; the heir adopted that event (by a 409 on its
    # own insert, or by finding it in a sync first), never made a second.
    inserts = [r for r in cal.fg.requests_log(since) if r["method"] == "POST"
               and r["path"].endswith("/calendars/primary/events") and r["status"] == 200]
    assert len(inserts) == 1, inserts


def test_injected_faults_still_converge_to_googles_state(cal, fakegoogle):
    cal.fg.admin("POST", "/__admin/accounts", {"email": cal.google_email})
    cal.fg.admin("POST", f"/__admin/accounts/{cal.google_email}/seed", {"events": 60, "seed": 3, "baseTime": int(time.time())})
    for kind in ("429", "503", "reset", "500"):
        fakegoogle.admin("POST", "/__admin/faults", {"kind": kind, "probability": 0.025,
                                                     "pathPrefix": "/calendar/", "retryAfter": 1})
    try:
        cal.connect()
        cal.start()
        ids = [cal.add_activity(title=f"Outbound {i}", start_at=f"2026-12-{10 + i:02d}T08:00:00Z",
                                end_at=f"2026-12-{10 + i:02d}T09:00:00Z") for i in range(10)]
        cal.settle(timeout=120)
        cal.sync(timeout=120)
        fired = sum(f.get("fired", 0) for f in fakegoogle.admin("GET", "/__admin/faults")["faults"])
        assert fired > 0
    finally:
        fakegoogle.admin("DELETE", "/__admin/faults")
    assert_same_as_google(cal)
    assert all(cal.event_id_of(i) in cal.g_live() for i in ids)


def test_revoked_grant_revokes_the_connection_and_purges_its_events(cal):
    cal.fg.admin("POST", "/__admin/accounts", {"email": cal.google_email})
    cal.g_create({"summary": "Private", "start": {"date": "2026-12-20"}, "end": {"date": "2026-12-21"}})
    cal.connect()
    cal.start()
    cal.settle()
    crm = cal.add_activity(title="Made in the CRM")
    cal.settle()
    assert len(cal.activities()) == 2
    cal.fg.admin("POST", f"/__admin/accounts/{cal.google_email}/revoke")
    cal.fg.admin("POST", f"/__admin/accounts/{cal.google_email}/expire-access-tokens")
    cal.sync()
    row = cal.conn.execute("SELECT status, refresh_token, access_token FROM rally.google_connections"
                           " WHERE id = %s", (cal.connection,)).fetchone()
    assert row == ("revoked", None, None)
    wait_until(lambda: cal.jobs_idle(("calpurge", "token-revoke")), message="purge done")
    assert cal.conn.execute("SELECT count(*) FROM rally.token_revocations").fetchone()[0] == 0
    acts = cal.activities()
    # The CRM's own activity stays, detached; Google's event is gone.
    assert [(a["id"], a["connection_id"], a["sync_state"]) for a in acts] == [(crm, None, "local")]


def test_push_notification_brings_a_google_change_into_the_crm(pg, db, login_roles, fakegoogle,
                                                               tmp_path):
    from rallytest.web import Lighttpd
    web_conf = str(tmp_path / "web.conf")
    web = Lighttpd(web_conf)
    write_config(web_conf, {"database": {"web_conninfo": pg.conninfo(db, login_roles["web"])},
                            "log": {"level": "info", "target": "stderr"}})
    web.start()
    cal = Cal(pg, db, login_roles, fakegoogle, tmp_path, "pushy",
              push_url=f"http://127.0.0.1:{web.port}")
    try:
        cal.fg.admin("POST", "/__admin/accounts", {"email": cal.google_email})
        cal.connect()
        cal.start()
        cal.settle()
        wait_until(lambda: cal.conn.execute(
            "SELECT channel_id IS NOT NULL AND channel_expires_at > now() + interval '1 day'"
            " FROM rally.sync_state WHERE connection_id = %s AND resource = 'calendar'",
            (cal.connection,)).fetchone()[0], message="push channel open")
        # Polling is hourly here: only the push can bring this in quickly.
        e = cal.g_create({"summary": "Pushed in", "start": {"date": "2026-12-24"},
                          "end": {"date": "2026-12-25"}})
        wait_until(lambda: e["id"] in cal.by_event(), timeout=15, message="pushed event in the CRM")
        deliveries = [p for p in fakegoogle.admin("GET", "/__admin/push-log")["deliveries"]
                      if str(p.get("url", "")).startswith(f"http://127.0.0.1:{web.port}/")]
        assert any(p.get("status") == 200 for p in deliveries), deliveries
        token_hash = cal.conn.execute("SELECT channel_token_hash FROM rally.sync_state"
                                      " WHERE connection_id = %s AND resource = 'calendar'",
                                      (cal.connection,)).fetchone()[0]
        assert token_hash is not None and len(token_hash) == 32
    finally:
        cal.close()
        web.close()


def test_garbage_page_fails_the_sync_typed_and_nothing_is_half_written(cal, fakegoogle):
    cal.fg.admin("POST", "/__admin/accounts", {"email": cal.google_email})
    cal.g_create({"summary": "One", "start": {"date": "2026-12-05"}, "end": {"date": "2026-12-06"}})
    fakegoogle.admin("POST", "/__admin/faults", {"kind": "garbage", "count": 1,
                                                 "pathPrefix": "/calendar/v3/calendars/primary/events"})
    try:
        cal.connect()
        cal.start()
        cal.settle()
    finally:
        fakegoogle.admin("DELETE", "/__admin/faults")
    errors = [r[0] for r in cal.conn.execute(
        "SELECT r.error FROM rally.job_runs r JOIN rally.jobs j ON j.id = r.job_id"
        " WHERE j.kind = 'calsync' AND r.outcome = 'retry'").fetchall()]
    assert errors and errors[0].startswith("malformed:"), errors
    assert_same_as_google(cal)       # the retry then brought everything


def test_an_unusable_event_is_skipped_and_counted_not_dropped_silently(cal):
    cal.fg.admin("POST", "/__admin/accounts", {"email": cal.google_email})
    cal.connect()
    cal.start()
    cal.settle()
    page = {"items": [
        {"id": "good00001", "etag": "\"1\"", "summary": "Fine",
         "start": {"dateTime": "2026-12-01T10:00:00Z"}, "end": {"dateTime": "2026-12-01T11:00:00Z"}},
        {"id": "bad000001", "etag": "\"2\"", "summary": "Broken date",
         "start": {"dateTime": "2026-13-45T99:00:00Z"}, "end": {"dateTime": "2026-12-01T11:00:00Z"}},
        {"id": "good00002", "etag": "\"3\"", "summary": "Also fine",
         "start": {"date": "2026-12-02"}, "end": {"date": "2026-12-03"}}],
        "nextSyncToken": "token-after-bad-page"}
    with cal.pg.connect(cal.db, user="rally_test_daemon") as c:
        r = c.execute("SELECT rally.cal_apply_page(%s, %s, %s::jsonb, NULL)",
                      (cal.tenant, cal.connection, json.dumps(page))).fetchone()[0]
    assert (r["applied"], r["skipped"], r["done"]) == (2, 1, True)
    assert {"good00001", "good00002"} <= set(cal.by_event())
    assert "bad000001" not in cal.by_event()
    state = cal.conn.execute("SELECT skipped, calendar_sync_token FROM rally.sync_state"
                             " WHERE connection_id = %s AND resource = 'calendar'",
                             (cal.connection,)).fetchone()
    assert state == ({"invalid_event": 1}, "token-after-bad-page")


def test_a_watch_answer_that_is_not_strict_json_opens_no_channel(pg, db, login_roles,
                                                                 fakegoogle, tmp_path):
    cal = Cal(pg, db, login_roles, fakegoogle, tmp_path, "loose", push_url="http://127.0.0.1:9")
    try:
        # Single quotes: json-c's lenient parser reads them, JSON does not.
        cal.fg.admin("POST", "/__admin/faults", {
            "kind": "rewrite", "count": 1000, "pathPrefix": "/calendar/",
            "find": '{"kind":"api#channel"', "replace": "{'kind':'api#channel'"})
        cal.connect()
        cal.start()
        wait_until(lambda: cal.conn.execute(
            "SELECT count(*) FROM rally.jobs WHERE kind = 'calwatch'"
            " AND last_error LIKE 'malformed: watch answer%'").fetchone()[0] > 0,
            message="the watch answer refused")
        assert not cal.conn.execute(
            "SELECT channel_id IS NOT NULL FROM rally.sync_state WHERE connection_id = %s"
            " AND resource = 'calendar'", (cal.connection,)).fetchone()[0]
    finally:
        cal.fg.admin("DELETE", "/__admin/faults")
        cal.close()


def test_calendar_disconnect_stops_the_channel_and_purges_while_mail_stays(pg, db, login_roles,
                                                                           fakegoogle, tmp_path):
    # Push to a closed port: the channel exists at Google, deliveries fail.
    cal = Cal(pg, db, login_roles, fakegoogle, tmp_path, "leaver", push_url="http://127.0.0.1:9")
    try:
        cal.fg.admin("POST", "/__admin/accounts", {"email": cal.google_email})
        cal.g_create({"summary": "From Google", "start": {"date": "2026-12-21"},
                      "end": {"date": "2026-12-22"}})
        cal.connect(mail=True)
        cal.start()
        crm = cal.add_activity(title="From the CRM")
        wait_until(lambda: cal.conn.execute(
            "SELECT channel_id IS NOT NULL FROM rally.sync_state WHERE connection_id = %s"
            " AND resource = 'calendar'", (cal.connection,)).fetchone()[0], message="channel")
        cal.settle()
        assert len(cal.activities()) == 2
        since = max([r["seq"] for r in fakegoogle.requests_log()] or [0])
        # What the CGI does when the user switches the calendar off.
        cal.conn.execute("UPDATE rally.google_connections SET calendar_enabled = false"
                         " WHERE id = %s", (cal.connection,))
        wait_until(lambda: cal.jobs_idle(("calpurge",)), message="purge done")
        stops = [r for r in fakegoogle.requests_log(since)
                 if r["path"].endswith("/channels/stop") and r["status"] in (200, 204)]
        assert len(stops) == 1, stops
        acts = cal.activities()
        assert [(a["id"], a["connection_id"], a["google_event_id"]) for a in acts] == [(crm, None, None)]
        row = cal.conn.execute("SELECT status, mail_enabled, refresh_token IS NOT NULL,"
                               " (SELECT channel_id FROM rally.sync_state WHERE connection_id = c.id"
                               "  AND resource = 'calendar') FROM rally.google_connections c"
                               " WHERE id = %s", (cal.connection,)).fetchone()
        assert row == ("active", True, True, None)
    finally:
        cal.close()


def test_poll_interval_under_a_minute_polls_at_that_pace_after_reload(cal):
    """The scheduler used to tick once a minute, so a 10 s poll_interval
    polled every 60 s; it now ticks at half the interval, and a SIGHUP
    applies a new interval without a restart."""
    cal.fg.admin("POST", "/__admin/accounts", {"email": cal.google_email})
    cal.connect()
    d = cal.start()
    cal.settle()

    def polls():
        return cal.conn.execute(
            "SELECT count(*) FROM rally.jobs WHERE tenant_id = %s AND kind = 'calsync'"
            " AND payload->>'reason' = 'poll' AND state = 'done'", (cal.tenant,)).fetchone()[0]

    before = polls()
    with open(d.conf) as f:
        text = f.read()
    assert "poll_interval = 1h" in text
    with open(d.conf, "w") as f:
        f.write(text.replace("poll_interval = 1h", "poll_interval = 10s"))
    d.signal(signal.SIGHUP)
    wait_until(lambda: "configuration reloaded" in d.output(), message="reloaded")
    # Every 10 to 15 s: three polls in 50 s, where a minute's tick allowed one.
    wait_until(lambda: polls() >= before + 3, timeout=50, interval=0.5,
               message="three polls in 50 s")
