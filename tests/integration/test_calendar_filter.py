# SPDX-License-Identifier: ISC
"""rallyd forwards to PostgreSQL only the members of each event that the SQL
reads (daemon/job-calsync.c calsync_event_members, docs/calendar-sync.md
"Cost").  These tests fail when that list misses a member the SQL reads, and
prove that a malformed page still fails the way it did before the filter."""

import json
import re

import pytest

from rallytest import SRCDIR
from rallytest.calendar import Cal, event_members, events_list_pages

# Names the calendar SQL reads that are not members of an event: the page's
# own, those inside a kept member (start, attendees, extendedProperties),
# and those of Rally's canonical fields and counts.  A name read on an
# event that is in neither list fails the first test: add it to
# calsync_event_members, or here if it is not an event's.
NOT_EVENT_MEMBERS = {
    "items", "nextPageToken", "nextSyncToken",
    "date", "dateTime", "timeZone",
    "email", "displayName", "responseStatus", "organizer", "optional",
    "private", "rallyActivityId",
    "title", "start_at", "end_at", "start_date", "end_date", "time_zone",
    "event_status", "invalid_event", "skipped", "one_by_one",
}

# What an activity's row holds that is not the event's: ids, times of the
# apply, and the series link (compared through the series' event id).
NOT_FROM_EVENT = {"id", "tenant_id", "owner_id", "connection_id", "created_at", "updated_at",
                  "google_seen_at", "recurring_activity_id"}


@pytest.fixture
def cal(pg, db, login_roles, fakegoogle, tmp_path):
    c = Cal(pg, db, login_roles, fakegoogle, tmp_path, "ada")
    yield c
    c.close()


def sql_names():
    """Every member name the calendar functions read with ->, ->> or ?."""
    names = set()
    for path in sorted((SRCDIR / "sql" / "functions").glob("calendar-*.sql")):
        text = re.sub(r"--[^\n]*", "", path.read_text())
        names |= set(re.findall(r"(?:->>?|\?)\s*'([A-Za-z_]+)'", text))
    return names


def test_calendar_filter_keeps_what_the_sql_reads():
    kept = set(event_members())
    assert len(kept) == len(event_members()), "a member listed twice"
    missing = sql_names() - kept - NOT_EVENT_MEMBERS
    assert not missing, f"read by the SQL, not forwarded by rallyd: {sorted(missing)}"
    assert not kept & NOT_EVENT_MEMBERS
    assert kept <= sql_names(), "forwarded but read by no SQL: %s" % sorted(kept - sql_names())


def seed_rich_calendar(cal):
    """All-day, timed and zoned events, one with attendees of every kind, one
    carrying extendedProperties as Rally writes them, and a series."""
    cal.fg.admin("POST", "/__admin/accounts", {"email": cal.google_email})
    cal.g_create({"summary": "Offsite", "description": "Two days {out} of \"office\"",
                  "location": "Lake house", "start": {"date": "2026-12-14"},
                  "end": {"date": "2026-12-16"}})
    cal.g_create({"summary": "NY call", "location": "Zoom",
                  "start": {"dateTime": "2026-12-15T09:00:00-05:00", "timeZone": "America/New_York"},
                  "end": {"dateTime": "2026-12-15T09:30:00-05:00", "timeZone": "America/New_York"},
                  "attendees": [
                      {"email": "Bob@Example.com", "responseStatus": "accepted",
                       "displayName": "Bob", "organizer": True},
                      {"email": "eve@example.com", "optional": True},
                      {"email": "mallory@example.com", "responseStatus": "declined",
                       "comment": "busy", "self": True}]})
    cal.g_create({"summary": "Quote", "description": "ends in a backslash \\",
                  "start": {"dateTime": "2026-12-16T10:00:00Z"},
                  "end": {"dateTime": "2026-12-16T11:00:00Z"},
                  "extendedProperties": {"private": {
                      "rallyActivityId": "0b6f1d64-8f3e-4a51-9a7e-2f5c2d7e9a10"},
                      "shared": {"x": "y"}}})
    return cal.g_create({"summary": "Standup", "recurrence": ["RRULE:FREQ=DAILY;COUNT=5"],
                         "start": {"dateTime": "2026-12-07T09:00:00Z", "timeZone": "UTC"},
                         "end": {"dateTime": "2026-12-07T09:15:00Z", "timeZone": "UTC"}})


def apply_whole(cal, other, pages, full):
    """Applies pages, as Google sent them (parsed, or their text), for
    other's connection."""
    with cal.pg.connect(cal.db, user="rally_test_daemon") as c:
        c.execute("SELECT set_config('rally.t', now()::text, false)")
        for p in pages:
            c.execute("SELECT rally.cal_apply_page(%s, %s, %s::jsonb, %s::timestamptz)",
                      (other.tenant, other.connection,
                       p if isinstance(p, str) else json.dumps(p),
                       c.execute("SELECT current_setting('rally.t')").fetchone()[0]
                       if full else None))


def rows(cal, tenant):
    """The tenant's activities by event id, without what is not the event's."""
    cur = cal.conn.execute(
        "SELECT a.*, m.google_event_id AS series_event_id FROM rally.activities a"
        " LEFT JOIN rally.activities m ON m.tenant_id = a.tenant_id"
        "  AND m.id = a.recurring_activity_id"
        " WHERE a.tenant_id = %s", (tenant,))
    cols = [c.name for c in cur.description]
    out = {}
    for r in cur.fetchall():
        row = {k: v for k, v in zip(cols, r) if k not in NOT_FROM_EVENT}
        out[row["google_event_id"]] = row
    return out


def assert_same_rows(cal, raw):
    filtered, whole = rows(cal, cal.tenant), rows(cal, raw.tenant)
    assert set(filtered) == set(whole)
    for eid, row in whole.items():
        for col, want in row.items():
            assert filtered[eid][col] == want, (eid, col)
    return whole


def test_filtered_sync_stores_what_the_unfiltered_pages_store(cal):
    series = seed_rich_calendar(cal)["id"]
    cal.connect()
    cal.start()
    cal.settle()
    # The same pages, whole, applied directly for a second tenant.
    raw = cal.sibling("raw")
    raw.connect()
    raw.settle()
    pages = events_list_pages(cal.fg, cal.google_email)
    dropped = {k for p in pages for e in p["items"] for k in e} - set(event_members())
    assert {"kind", "creator", "organizer", "htmlLink", "reminders"} <= dropped
    apply_whole(cal, raw, pages, full=True)
    assert len(assert_same_rows(cal, raw)) == 4

    # Then the changes: an edited and a cancelled occurrence, an edit.
    cal.g_edit(f"{series}_20261208T090000Z", {"summary": "Standup (long)",
                                              "description": "retro too"})
    cal.g_delete(f"{series}_20261209T090000Z")
    cal.sync()
    changes = events_list_pages(cal.fg, cal.google_email, sync_token=pages[-1]["nextSyncToken"])
    apply_whole(cal, raw, changes, full=False)
    whole = assert_same_rows(cal, raw)
    assert len(whole) == 6
    assert {r["event_status"] for r in whole.values()} == {"confirmed", "cancelled"}
    assert sum(r["series_event_id"] == series for r in whole.values()) == 2


def sync_errors(cal):
    return [r[0] for r in cal.conn.execute(
        "SELECT r.error FROM rally.job_runs r JOIN rally.jobs j ON j.id = r.job_id"
        " WHERE j.kind = 'calsync' AND r.outcome = 'retry' ORDER BY r.started_at").fetchall()]


def fault_once(cal, fault):
    cal.fg.admin("POST", "/__admin/faults", dict(
        fault, count=1, pathPrefix="/calendar/v3/calendars/primary/events"))


def test_a_page_spoiled_only_in_a_member_rally_drops_still_applies(cal):
    cal.fg.admin("POST", "/__admin/accounts", {"email": cal.google_email})
    ev = cal.g_create({"summary": "One", "start": {"date": "2026-12-05"},
                       "end": {"date": "2026-12-06"}})
    # Balanced brackets, but not JSON: PostgreSQL refused such a page whole.
    sync_rewritten(cal, '"eventType":"default"', '"eventType":{"x" 1 ]')
    assert sync_errors(cal) == []
    assert cal.by_event()[ev["id"]]["title"] == "One"


def test_a_page_cut_short_still_fails_as_malformed(cal):
    cal.fg.admin("POST", "/__admin/accounts", {"email": cal.google_email})
    ev = cal.g_create({"summary": "One", "start": {"date": "2026-12-05"},
                       "end": {"date": "2026-12-06"}})
    fault_once(cal, {"kind": "cut"})
    try:
        cal.connect()
        cal.start()
        cal.settle()
    finally:
        cal.fg.admin("DELETE", "/__admin/faults")
    errors = sync_errors(cal)
    # PostgreSQL's own words: the page went to it as Google sent it.
    assert errors and errors[0].startswith("malformed:") and "json" in errors[0], errors
    assert cal.by_event()[ev["id"]]["title"] == "One"      # the retry brought it


# rallyd reads each event's members out of the page and hands them to
# rally.cal_apply_columns as columns (lib/json-columns.c); a page it cannot
# read so goes whole to rally.cal_apply_page.  Either way the rows must be
# those PostgreSQL's own reading of the page gives.

def full_sync_result(cal):
    return cal.conn.execute("SELECT result FROM rally.jobs WHERE kind = 'calsync'"
                            " AND state = 'done' AND result->>'mode' = 'full'"
                            " ORDER BY finished_at DESC LIMIT 1").fetchone()[0]


def sync_rewritten(cal, find, replace):
    """A first sync through rallyd of a calendar whose first page comes with
    find replaced by replace; and the pages as rallyd got them, for the test
    (the first as text, rewritten as the emulator rewrites its own
    serialization)."""
    fault_once(cal, {"kind": "rewrite", "find": find, "replace": replace})
    try:
        cal.connect()
        cal.start()
        cal.settle()
        fired = [f["fired"] for f in cal.fg.admin("GET", "/__admin/faults")["faults"]]
    finally:
        cal.fg.admin("DELETE", "/__admin/faults")
    assert fired == [1]
    pages = events_list_pages(cal.fg, cal.google_email)
    first = json.dumps(pages[0], ensure_ascii=False, separators=(",", ":"))
    assert find in first
    return [first.replace(find, replace)] + pages[1:]


def test_columns_store_what_postgresql_reads_in_the_page(cal):
    seed_rich_calendar(cal)
    ev = cal.g_create({"summary": "MARK", "start": {"date": "2026-12-20"},
                       "end": {"date": "2026-12-21"}})
    # Every escape JSON has, a surrogate pair, a key twice (the last
    # counts), a member null.
    tricky = ('"summary":"caf\\u00e9 \\ud83d\\ude00 \\"q\\" \\\\ \\/ \\b\\f\\n\\r\\t",'
              '"summary":"the last \\u20ac counts","location":null,'
              '"description":"\\u0007bell"')
    pages = sync_rewritten(cal, '"summary":"MARK"', tricky)
    assert full_sync_result(cal)["whole_pages"] == 0
    raw = cal.sibling("raw")
    raw.connect()
    raw.settle()
    apply_whole(cal, raw, pages, full=True)
    assert len(assert_same_rows(cal, raw)) == 5
    row = cal.by_event()[ev["id"]]
    assert row["title"] == "the last \u20ac counts"
    assert row["description"] == "\u0007bell"


def test_a_page_columns_cannot_hold_goes_whole(cal):
    seed_rich_calendar(cal)
    ev = cal.g_create({"summary": "MARK", "start": {"date": "2026-12-20"},
                       "end": {"date": "2026-12-21"}})
    # ->> gives a number's text as jsonb prints it, which rallyd does not
    # compute: the page goes to PostgreSQL whole.
    pages = sync_rewritten(cal, '"summary":"MARK"', '"summary":12.50')
    assert full_sync_result(cal)["whole_pages"] == 1
    raw = cal.sibling("raw")
    raw.connect()
    raw.settle()
    apply_whole(cal, raw, pages, full=True)
    assert len(assert_same_rows(cal, raw)) == 5
    assert cal.by_event()[ev["id"]]["title"] == "12.50"


def test_a_page_of_more_events_than_asked_for_is_refused(cal):
    # Google sends at most maxResults; a page of many tiny items would make
    # rallyd's columns many times the page's size.
    cal.sections["calendar"]["page_size"] = "3"
    cal.fg.admin("POST", "/__admin/accounts", {"email": cal.google_email})
    ev = cal.g_create({"summary": "One", "start": {"date": "2026-12-05"},
                       "end": {"date": "2026-12-06"}})
    sync_rewritten(cal, '"items":[', '"items":[{},{},{},')
    assert sync_errors(cal) == [
        "malformed: a page of more events than calendar.page_size asked for"]
    assert set(cal.by_event()) == {ev["id"]}      # the retry's page applied


def test_an_unusable_event_among_columns_is_skipped_and_counted(cal):
    cal.fg.admin("POST", "/__admin/accounts", {"email": cal.google_email})
    good = cal.g_create({"summary": "Fine", "start": {"dateTime": "2026-12-01T10:00:00Z"},
                         "end": {"dateTime": "2026-12-01T11:00:00Z"}})
    cal.g_create({"summary": "Broken", "start": {"dateTime": "2026-12-02T10:00:00Z"},
                  "end": {"dateTime": "2026-12-02T11:00:00Z"}})
    sync_rewritten(cal, '"dateTime":"2026-12-02T10:00:00Z"',
                   '"dateTime":"2026-13-45T99:00:00Z"')
    r = full_sync_result(cal)
    assert (r["whole_pages"], r["applied"], r["skipped"], r["one_by_one"]) == (0, 1, 1, 2)
    assert set(cal.by_event()) == {good["id"]}
    skipped = cal.conn.execute("SELECT skipped FROM rally.sync_state WHERE connection_id = %s"
                               " AND resource = 'calendar'", (cal.connection,)).fetchone()[0]
    assert skipped == {"invalid_event": 1}


def test_null_attendees_make_an_event_unusable_on_both_paths(cal):
    cal.fg.admin("POST", "/__admin/accounts", {"email": cal.google_email})
    good = cal.g_create({"summary": "Fine", "start": {"dateTime": "2026-12-01T10:00:00Z"},
                         "end": {"dateTime": "2026-12-01T11:00:00Z"}})
    cal.g_create({"summary": "NOATT", "start": {"dateTime": "2026-12-02T10:00:00Z"},
                  "end": {"dateTime": "2026-12-02T11:00:00Z"}})
    pages = sync_rewritten(cal, '"summary":"NOATT"', '"summary":"NOATT","attendees":null')
    r = full_sync_result(cal)
    assert (r["whole_pages"], r["applied"], r["skipped"]) == (0, 1, 1)
    assert set(cal.by_event()) == {good["id"]}
    raw = cal.sibling("raw")
    raw.connect()
    raw.settle()
    apply_whole(cal, raw, pages, full=True)
    assert_same_rows(cal, raw)
