# SPDX-License-Identifier: ISC
"""The activities pages of rally.cgi (cgi/page-activities.c), over HTTP
through lighttpd against the real schema as a rally_web login: the list
and its pages, create/edit/delete with their validation, sharing between
teammates and never across tenants, and, with rallyd and the Google
emulator, what reaches the user's Google Calendar and comes back."""

import html as htmlmod
import json
import re
import uuid

import pytest

from rallytest.calendar import Cal, PASSWORD as CAL_PASSWORD
from rallytest.daemon import wait_until

OWNER = "ann@acme.example"
MATE = "bob@acme.example"
OTHER = "eve@other.example"

ID_IN_LOCATION = re.compile(r"^/activities/([0-9a-f-]{36})\?done=created$")


def team(web_site, dbconn):
    """Ann (owner) and Bob (member) of Acme, Eve of Other, each signed in
    in a browser of their own: {"ann": client, "bob": ..., "eve": ...}."""
    ann = web_site.client()
    ann.signup()
    tenant = dbconn.execute("SELECT tenant_id FROM rally.users WHERE email = %s",
                            (OWNER,)).fetchone()[0]
    dbconn.execute("INSERT INTO rally.users (tenant_id, email, name, password_hash, role)"
                   " SELECT tenant_id, %s, 'Bob Mate', password_hash, 'member'"
                   " FROM rally.users WHERE email = %s", (MATE, OWNER))
    bob = web_site.client()
    bob.signin(MATE)
    eve = web_site.client()
    eve.signup(company="Other Co", name="Eve Other", email=OTHER)
    return {"ann": ann, "bob": bob, "eve": eve, "tenant": tenant}


def form(**over):
    f = {"title": "Call with Bob", "kind": "call", "timing": "time",
         "start": "2030-03-04T10:00", "end": "2030-03-04T10:30",
         "first_day": "", "last_day": "", "location": "Room 4",
         "guests": "", "description": "", "visibility": "private"}
    f.update(over)
    return f


def create(client, **over):
    client.get("/activities/new")
    r = client.post("/activities", form(**over))
    assert r.status == 303, r.text
    m = ID_IN_LOCATION.match(r.header("location"))
    assert m, r.header("location")
    return m.group(1)


def row(dbconn, aid):
    cur = dbconn.execute("SELECT * FROM rally.activities WHERE id = %s", (aid,))
    r = cur.fetchone()
    return dict(zip([c.name for c in cur.description], r)) if r else None


def text(page):
    """The page's visible text, tags dropped, entities decoded."""
    return htmlmod.unescape(re.sub(r"<[^>]+>", " ", page.text))


# --- create, view, edit, delete ----------------------------------------------

def test_create_shows_the_activity_private_and_only_in_rally(web_site, dbconn):
    t = team(web_site, dbconn)
    ann = t["ann"]
    page = ann.get("/activities/new")
    assert page.status == 200
    for field in ("title", "kind", "start", "end", "first_day", "last_day", "location",
                  "guests", "description"):
        assert f'<label for="{field}">' in page.text, field
    assert 'value="private" checked' in page.text        # private by default
    aid = create(ann, guests="Carol@Example.com, dave@example.com carol@example.com",
                 description="Agenda:\n1. <b>prices</b>")
    a = row(dbconn, aid)
    assert (a["title"], a["kind"], a["visibility"], a["location"]) == \
        ("Call with Bob", "call", "private", "Room 4")
    assert a["time_zone"] == "UTC" and a["start_date"] is None
    assert str(a["start_at"]) == "2030-03-04 10:00:00+00:00"
    assert [g["email"] for g in a["attendees"]] == ["carol@example.com", "dave@example.com"]
    v = ann.get(f"/activities/{aid}?done=created")
    assert v.status == 200
    body = text(v)
    assert "The activity is saved." in body
    assert "Mon 04 Mar 2030, 10:00–10:30" in body
    assert "Only in Rally" in body and "Only its owner" in body
    assert "&lt;b&gt;prices&lt;/b&gt;" in v.text and "<b>prices" not in v.text
    lst = ann.get("/activities")
    assert lst.status == 200 and f'href="/activities/{aid}"' in lst.text
    assert "Only in Rally" in text(lst)
    assert "Google Calendar is not connected, so new activities stay in Rally." in text(lst)
    assert 'href="/integrations">Connect Google' in page.text


def test_all_day_activity_is_shown_by_date_in_the_users_time_zone(web_site, dbconn):
    t = team(web_site, dbconn)
    ann = t["ann"]
    dbconn.execute("UPDATE rally.users SET time_zone = 'America/Los_Angeles' WHERE email = %s",
                   (OWNER,))
    aid = create(ann, title="Offsite", kind="meeting", timing="allday", start="", end="",
                 first_day="2030-05-06", last_day="2030-05-07")
    a = row(dbconn, aid)
    assert (str(a["start_date"]), str(a["end_date"])) == ("2030-05-06", "2030-05-08")
    assert a["start_at"] is None and a["time_zone"] is None
    timed = create(ann, title="Late call", start="2030-05-05T23:30", end="2030-05-06T00:15")
    assert str(row(dbconn, timed)["start_at"]) == "2030-05-06 06:30:00+00:00"
    body = text(ann.get(f"/activities/{aid}"))
    assert "Mon 06 May 2030 – Tue 07 May 2030, all day" in body
    body = text(ann.get("/activities"))
    assert "Times in America/Los_Angeles" in body
    assert "Sun 05 May 2030, 23:30 – Mon 06 May 2030, 00:15" in body
    # The late call on the 5th (local) comes before the offsite on the 6th.
    assert body.index("Late call") < body.index("Offsite")
    edit = ann.get(f"/activities/{aid}/edit")
    assert 'value="allday" checked' in edit.text
    assert 'value="2030-05-06"' in edit.text and 'value="2030-05-07"' in edit.text


@pytest.mark.parametrize("over,words", [
    ({"title": ""}, "Give the activity a title."),
    ({"title": "x" * 1025}, "The title is too long"),
    ({"kind": "party"}, "Choose a kind from the list"),
    ({"end": "2030-03-04T09:00"}, "The end must be after the start."),
    ({"end": "2030-03-04T10:00"}, "The end must be after the start."),
    ({"start": "2030-02-30T10:00"}, "Enter when it starts"),
    ({"start": "tomorrow"}, "Enter when it starts"),
    ({"start": "2030-03-04T25:00"}, "Enter when it starts"),
    ({"end": "2030-03-04 11:00"}, "Enter when it ends"),
    ({"timing": "sometimes"}, "Choose whether the activity is at a time or all day."),
    ({"timing": "allday", "first_day": ""}, "Enter the first day"),
    ({"timing": "allday", "first_day": "2030-05-06", "last_day": "2030-05-05"},
     "The last day cannot be before the first day."),
    ({"location": "y" * 1025}, "The location is too long"),
    ({"guests": "carol@example.com, not-an-address"}, "A guest's email address is not valid"),
    ({"guests": " ".join(f"g{i}@example.com" for i in range(101))}, "at most 100 guests"),
    ({"visibility": "public"}, "Choose who can see the activity."),
])
def test_bad_input_is_refused_with_words_and_the_form_kept(web_site, dbconn, over, words):
    ann = web_site.client()
    ann.signup()
    ann.get("/activities/new")
    r = ann.post("/activities", form(**{"title": "Keep me"} | over))
    assert r.status == 400, r
    assert words in text(r)
    assert 'role="alert"' in r.text
    if "title" not in over:
        assert 'value="Keep me"' in r.text
    assert dbconn.execute("SELECT count(*) FROM rally.activities").fetchone()[0] == 0


def test_an_end_before_the_start_across_a_change_of_clocks_is_refused(web_site, dbconn):
    ann = web_site.client()
    ann.signup()
    dbconn.execute("UPDATE rally.users SET time_zone = 'Europe/Paris'")
    ann.get("/activities/new")
    # 02:30 does not exist on 31 March 2030 in Paris: it is 03:30, after 03:15.
    r = ann.post("/activities", form(start="2030-03-31T02:30", end="2030-03-31T03:15"))
    assert r.status == 400 and "The end must be after the start." in text(r)
    assert dbconn.execute("SELECT count(*) FROM rally.activities").fetchone()[0] == 0
    aid = create(ann, start="2030-03-31T01:30", end="2030-03-31T03:15")
    assert str(row(dbconn, aid)["start_at"]) == "2030-03-31 00:30:00+00:00"


def test_title_limit_counts_characters_not_bytes(web_site, dbconn):
    ann = web_site.client()
    ann.signup()
    aid = create(ann, title="é" * 1024)
    assert row(dbconn, aid)["title"] == "é" * 1024


def test_edit_saves_and_keeps_what_google_said_of_guests(web_site, dbconn):
    t = team(web_site, dbconn)
    ann = t["ann"]
    aid = create(ann, guests="carol@example.com")
    dbconn.execute("UPDATE rally.activities SET attendees = %s WHERE id = %s",
                   (json.dumps([{"email": "carol@example.com", "displayName": "Carol",
                                 "responseStatus": "accepted"}]), aid))
    page = ann.get(f"/activities/{aid}/edit")
    assert page.status == 200
    assert 'value="Call with Bob"' in page.text and 'value="2030-03-04T10:00"' in page.text
    r = ann.post(f"/activities/{aid}", form(title="Call with Bob, moved", kind="meeting",
                                             start="2030-03-05T14:00", end="2030-03-05T15:00",
                                             guests="carol@example.com\nDan@example.com",
                                             location=""))
    assert r.status == 303 and r.header("location") == f"/activities/{aid}?done=saved"
    a = row(dbconn, aid)
    assert (a["title"], a["kind"], a["location"]) == ("Call with Bob, moved", "meeting", None)
    assert a["attendees"] == [{"email": "carol@example.com", "displayName": "Carol",
                               "responseStatus": "accepted"}, {"email": "dan@example.com"}]
    assert "Your changes are saved." in text(ann.get(f"/activities/{aid}?done=saved"))
    bad = ann.post(f"/activities/{aid}", form(title=""))
    assert bad.status == 400 and "Give the activity a title." in text(bad)
    assert row(dbconn, aid)["title"] == "Call with Bob, moved"


def test_delete_asks_first_then_removes_it(web_site, dbconn):
    ann = web_site.client()
    ann.signup()
    aid = create(ann)
    confirm = ann.get(f"/activities/{aid}/delete")
    assert confirm.status == 200
    assert "Delete this activity</button>" in confirm.text
    assert row(dbconn, aid) is not None                 # a GET changes nothing
    r = ann.post(f"/activities/{aid}/delete")
    assert r.status == 303 and r.header("location") == "/activities?done=deleted"
    assert row(dbconn, aid) is None
    assert "The activity is deleted." in text(ann.get("/activities?done=deleted"))
    assert ann.get(f"/activities/{aid}").status == 404


def test_share_and_make_private_toggle_visibility(web_site, dbconn):
    t = team(web_site, dbconn)
    ann, bob = t["ann"], t["bob"]
    aid = create(ann)
    assert bob.get(f"/activities/{aid}").status == 404
    ann.get(f"/activities/{aid}")
    r = ann.post(f"/activities/{aid}/share")
    assert r.status == 303 and r.header("location") == f"/activities/{aid}?done=shared"
    assert row(dbconn, aid)["visibility"] == "shared"
    page = bob.get(f"/activities/{aid}")
    assert page.status == 200 and "Ann Owner shared this activity" in text(page)
    assert "/edit" not in page.text and "/delete" not in page.text
    ann.get(f"/activities/{aid}")
    r = ann.post(f"/activities/{aid}/private")
    assert r.status == 303 and row(dbconn, aid)["visibility"] == "private"
    assert bob.get(f"/activities/{aid}").status == 404


def test_get_requests_need_a_session_and_posts_need_the_csrf_field(web_site, dbconn):
    ann = web_site.client()
    ann.signup()
    aid = create(ann)
    anon = web_site.client()
    for path in ("/activities", "/activities/new", f"/activities/{aid}",
                 f"/activities/{aid}/edit", f"/activities/{aid}/delete"):
        r = anon.get(path)
        assert r.status == 303 and r.header("location") == "/signin", path
    for path in (f"/activities/{aid}/delete", f"/activities/{aid}/share"):
        assert ann.post(path, csrf=False).status == 403
        assert ann.post(path, csrf="A" * 43).status == 403
    assert row(dbconn, aid) is not None and row(dbconn, aid)["visibility"] == "private"


def test_malformed_ids_and_unknown_paths_are_404(web_site, dbconn):
    ann = web_site.client()
    ann.signup()
    ann.get("/activities")
    for bad in ("nope", "123", str(uuid.uuid4()), "%27%3B--", "00000000-0000-0000-0000-0000000000000"):
        assert ann.get(f"/activities/{bad}").status == 404, bad
        assert ann.get(f"/activities/{bad}/edit").status == 404, bad
        assert ann.post(f"/activities/{bad}/delete").status == 404, bad
    assert ann.get("/activities/new/edit").status == 404
    assert ann.get("/activities/a/b/c").status == 404
    assert ann.post("/activities/new", form()).status == 404


def test_bad_list_parameters_are_a_400(web_site, dbconn):
    ann = web_site.client()
    ann.signup()
    for q in ("view=future", "show=everyone", "after=2030-01-01&id=x",
              "after=2030-13-01T00:00:00.000000Z&id=" + str(uuid.uuid4()),
              "after=2030-01-01T00:00:00.000000Z", "id=" + str(uuid.uuid4())):
        r = ann.get(f"/activities?{q}")
        assert r.status == 400 and "This list link is not valid." in text(r), q


# --- who sees and changes what ----------------------------------------------

def every_route(aid):
    """Each activity route with aid: (method, path)."""
    return [("GET", f"/activities/{aid}"), ("GET", f"/activities/{aid}/edit"),
            ("GET", f"/activities/{aid}/delete"), ("POST", f"/activities/{aid}"),
            ("POST", f"/activities/{aid}/delete"), ("POST", f"/activities/{aid}/share"),
            ("POST", f"/activities/{aid}/private"), ("POST", f"/activities/{aid}/reviewed")]


def snapshot(dbconn):
    return dbconn.execute("SELECT id, title, visibility, updated_at, deleted_at"
                          " FROM rally.activities ORDER BY id").fetchall()


def attempt(client, method, path):
    if method == "GET":
        return client.get(path)
    client.get("/activities")                       # a fresh CSRF token
    return client.post(path, form(title="Hijacked", visibility="shared"))


def test_another_tenants_activities_are_404_on_every_route(web_site, dbconn):
    t = team(web_site, dbconn)
    ann, eve = t["ann"], t["eve"]
    mine = create(eve, title="Eve's secret")
    shared = create(eve, title="Eve's team call", visibility="shared")
    dbconn.execute("INSERT INTO rally.merge_conflicts (tenant_id, activity_id, owner_id, field,"
                   " winner) SELECT tenant_id, id, owner_id, 'title', 'remote'"
                   " FROM rally.activities WHERE id = %s", (shared,))
    before = snapshot(dbconn)
    for aid in (mine, shared):
        for method, path in every_route(aid):
            r = attempt(ann, method, path)
            assert r.status == 404, (method, path, r.status)
            assert "There is no such activity" in text(r)
    assert snapshot(dbconn) == before
    assert dbconn.execute("SELECT count(*) FROM rally.merge_conflicts WHERE seen_at IS NULL"
                          ).fetchone()[0] == 1
    for show in ("all", "mine", "shared"):
        page = ann.get(f"/activities?show={show}").text
        assert "Eve" not in page and mine not in page and shared not in page


def test_a_teammate_sees_shared_never_private_and_changes_neither(web_site, dbconn):
    t = team(web_site, dbconn)
    ann, bob = t["ann"], t["bob"]
    private = create(ann, title="Ann's private call")
    shared = create(ann, title="Ann's team meeting", visibility="shared")
    bobs = create(bob, title="Bob's own", visibility="private")
    before = snapshot(dbconn)
    for method, path in every_route(private):
        assert attempt(bob, method, path).status == 404, (method, path)
    for method, path in every_route(shared):
        r = attempt(bob, method, path)
        if (method, path) == ("GET", f"/activities/{shared}"):
            assert r.status == 200
        else:
            assert r.status == 403, (method, path, r.status)
            assert "Only Ann Owner, who owns this activity, can change it." in text(r)
    assert snapshot(dbconn) == before
    page = text(bob.get("/activities"))
    assert "Ann's team meeting" in page and "Ann's private call" not in page
    assert "Bob's own" in page
    assert "Ann's team meeting" in text(bob.get("/activities?show=shared"))
    mine_only = text(bob.get("/activities?show=mine"))
    assert "Bob's own" in mine_only and "Ann's team meeting" not in mine_only
    # Ann's list shows her shared activity once, and Bob's private one never.
    page = ann.get("/activities").text
    assert page.count(f'href="/activities/{shared}"') == 1 and bobs not in page


# --- the list ------------------------------------------------------------------

def seed(dbconn, tenant, owner, n, start, step="1 hour", visibility="private", allday=False,
         title="Seeded"):
    """n activities from start (an SQL expression), one every step, in one
    statement: their ids."""
    start = dbconn.execute(f"SELECT {start}").fetchone()[0]
    if allday:
        sql = ("INSERT INTO rally.activities (tenant_id, owner_id, title, visibility,"
               " start_date, end_date)"
               " SELECT %s, %s, %s || ' ' || i, %s, (%s::date + i * %s::interval)::date,"
               " (%s::date + i * %s::interval)::date + 1 FROM generate_series(0, %s - 1) i"
               " RETURNING id")
        args = (tenant, owner, title, visibility, start, step, start, step, n)
    else:
        sql = ("INSERT INTO rally.activities (tenant_id, owner_id, title, visibility,"
               " start_at, end_at)"
               " SELECT %s, %s, %s || ' ' || i, %s, %s::timestamptz + i * %s::interval,"
               " %s::timestamptz + i * %s::interval + interval '30 minutes'"
               " FROM generate_series(0, %s - 1) i RETURNING id")
        args = (tenant, owner, title, visibility, start, step, start, step, n)
    return [str(r[0]) for r in dbconn.execute(sql, args).fetchall()]


def user_id(dbconn, email):
    return dbconn.execute("SELECT tenant_id, id FROM rally.users WHERE email = %s",
                          (email,)).fetchone()


NEXT = re.compile(r'<a href="(/activities\?[^"]*after=[^"]*)" rel="next">')
ROW = re.compile(r'<tr><td><a href="/activities/([0-9a-f-]{36})">')


def walk(client, path):
    """Every row of the list from path on, following the next links."""
    ids, pages = [], 0
    while path:
        page = client.get(path)
        assert page.status == 200, page
        found = ROW.findall(page.text)
        assert len(found) <= 50
        ids += found
        m = NEXT.search(page.text)
        path = htmlmod.unescape(m.group(1)) if m else None
        pages += 1
        assert pages < 20
    return ids, pages


def test_list_pages_through_upcoming_and_past_in_order(web_site, dbconn):
    t = team(web_site, dbconn)
    ann, bob = t["ann"], t["bob"]
    tenant, ann_id = user_id(dbconn, OWNER)
    _, bob_id = user_id(dbconn, MATE)
    # Around now: timed and all-day, Ann's own, Bob's shared and private.
    seed(dbconn, tenant, ann_id, 70, "now() - interval '35 hours'")
    seed(dbconn, tenant, ann_id, 12, "now()", step="1 day", allday=True)
    seed(dbconn, tenant, ann_id, 12, "now() - interval '12 days'", step="1 day", allday=True)
    seed(dbconn, tenant, ann_id, 40, "now() - interval '30 days'", step="1 hour")
    seed(dbconn, tenant, bob_id, 30, "now() - interval '14 hours'", step="1 hour",
         visibility="shared")
    hidden = seed(dbconn, tenant, bob_id, 10, "now()", visibility="private")
    # Several at the very same time: the id breaks the tie across pages.
    seed(dbconn, tenant, ann_id, 60, "date_trunc('day', now()) + interval '3 days'", step="0")
    # Soft-deleted and cancelled ones are not listed.
    gone = seed(dbconn, tenant, ann_id, 3, "now() + interval '1 hour'")
    dbconn.execute("UPDATE rally.activities SET deleted_at = now() WHERE id = ANY(%s)",
                   (gone[:2],))
    dbconn.execute("UPDATE rally.activities SET event_status = 'cancelled' WHERE id = %s",
                   (gone[2],))
    dbconn.execute("SET TimeZone = 'UTC'")
    expect = dbconn.execute(
        "SELECT id::text, k >= date_trunc('day', now()), visibility = 'shared' FROM ("
        "  SELECT *, coalesce(start_at, start_date::timestamptz) AS k FROM rally.activities"
        "  WHERE deleted_at IS NULL AND event_status <> 'cancelled'"
        "   AND (owner_id = %s OR visibility = 'shared')) x ORDER BY k, id", (ann_id,)).fetchall()
    upcoming = [i for i, up, _ in expect if up]
    past = [i for i, up, _ in expect if not up][::-1]
    ids, pages = walk(ann, "/activities")
    assert ids == upcoming and pages >= 3
    ids, pages = walk(ann, "/activities?view=past")
    assert ids == past and pages >= 2
    assert not set(hidden) & set(upcoming)
    ids, _ = walk(ann, "/activities?show=shared")
    assert ids == [i for i, up, sh in expect if up and sh] and ids
    ids, _ = walk(ann, "/activities?show=mine&view=past")
    assert ids == [i for i, up, sh in expect if not up and not sh][::-1] and ids
    # Bob sees his own, private ones too, and none of Ann's: they are private.
    bob_ids, _ = walk(bob, "/activities")
    assert set(hidden) <= set(bob_ids) and not set(bob_ids) & set(upcoming) - set(
        i for i, in dbconn.execute("SELECT id::text FROM rally.activities WHERE owner_id = %s",
                                   (bob_id,)).fetchall())


def test_list_query_uses_indexes_for_a_tenant_with_many_rows(pg, db, login_roles, dbconn,
                                                             web_site):
    t = team(web_site, dbconn)
    tenant, ann_id = user_id(dbconn, OWNER)
    _, bob_id = user_id(dbconn, MATE)
    for owner, vis in ((ann_id, "private"), (ann_id, "shared"), (bob_id, "shared"),
                       (bob_id, "private")):
        seed(dbconn, tenant, owner, 5000, "now() - interval '1 year'", step="3 hours",
             visibility=vis)
        seed(dbconn, tenant, owner, 1000, "now() - interval '2 years'", step="1 day",
             visibility=vis, allday=True)
    dbconn.execute("ANALYZE rally.activities")
    with pg.connect(db, login_roles["web"]) as web:
        web.execute("BEGIN")
        web.execute("SELECT set_config('rally.tenant_id', %s, true),"
                    " set_config('rally.user_id', %s, true),"
                    " set_config('TimeZone', 'Europe/Paris', true)", (str(tenant), str(ann_id)))
        nil = "00000000-0000-0000-0000-000000000000"
        for fn in ("activities_after", "activities_before"):
            for own, shared in ((True, True), (True, False), (False, True)):
                for cursor in (None, "2026-01-01T00:00:00.000000Z"):
                    # The branches a filter leaves out are planned as a
                    # one-time "false" and never run.
                    plan = "\n".join(r[0] for r in web.execute(
                        f"EXPLAIN (ANALYZE, BUFFERS) SELECT * FROM"
                        f" rally.{fn}(%s::timestamptz, %s::uuid, %s, %s)",
                        (cursor, nil, own, shared)).fetchall()).split("Planning:")[0]
                    assert "Function Scan" not in plan, plan      # inlined
                    scans = re.findall(r"(\w+ Scan)[^\n]* on activities[^\n]*", plan)
                    ran = [line for line in re.findall(r"[^\n]*Scan[^\n]* on activities[^\n]*",
                                                       plan) if "never executed" not in line]
                    assert scans and ran, plan
                    assert not [x for x in ran if "Seq Scan" in x], plan
                    # Each range scan stops after its 51 rows.
                    assert max(int(x) for x in re.findall(r"shared hit=(\d+)", plan)) < 500, plan
        web.execute("ROLLBACK")


# --- sync status in words ------------------------------------------------------

def connect_calendar(dbconn, email, enabled=True):
    """A calendar connection row for the user (no tokens, no daemon): what
    the triggers look at when an activity is created."""
    return dbconn.execute(
        "INSERT INTO rally.google_connections (tenant_id, user_id, google_email, google_subject,"
        " calendar_enabled, scopes) SELECT tenant_id, id, 'g-' || email, 'sub-' || id,"
        " %s, '{}' FROM rally.users WHERE email = %s RETURNING id", (enabled, email)).fetchone()[0]


def status_of(client, aid):
    page = client.get(f"/activities/{aid}")
    assert page.status == 200
    m = re.search(r"<dt>Google Calendar</dt><dd><span class=\"badge[^\"]*\">([^<]*)</span>",
                  page.text)
    assert m, page.text
    return htmlmod.unescape(m.group(1))


def test_sync_status_is_told_in_plain_words(web_site, dbconn):
    t = team(web_site, dbconn)
    ann, bob = t["ann"], t["bob"]
    local = create(ann, title="Before Google")
    conn = connect_calendar(dbconn, OWNER)
    assert "New activities with a date go to the Google Calendar of g-ann@acme.example." in \
        text(ann.get("/activities/new"))
    aid = create(ann, title="After Google", visibility="shared")
    a = row(dbconn, aid)
    assert a["connection_id"] == conn and a["sync_state"] == "pending"
    assert status_of(ann, local) == "Only in Rally"
    assert status_of(ann, aid) == "Waiting to sync"
    assert status_of(bob, aid) == "Waiting to sync"
    dbconn.execute("UPDATE rally.activities SET sync_error = 'unavailable: HTTP 503'"
                   " WHERE id = %s", (aid,))
    assert status_of(ann, aid) == \
        "Waiting to sync: Google could not be reached; Rally will try again"
    dbconn.execute("UPDATE rally.activities SET sync_error = 'rejected: Invalid attendee'"
                   " WHERE id = %s", (aid,))
    assert status_of(ann, aid) == ("Not synced: Google Calendar refused this activity;"
                                   " change it and save to try again")
    assert "Invalid attendee" not in ann.get(f"/activities/{aid}").text
    dbconn.execute("UPDATE rally.activities SET sync_state = 'synced', sync_error = NULL"
                   " WHERE id = %s", (aid,))
    assert status_of(ann, aid) == "Synced to Google Calendar"
    lst = text(ann.get("/activities"))
    assert "Synced to Google Calendar" in lst and "Only in Rally" in lst
    # Changed in both places: the owner sees what was kept and what replaced.
    dbconn.execute("INSERT INTO rally.merge_conflicts (tenant_id, activity_id, owner_id, field,"
                   " base_value, local_value, remote_value, winner)"
                   " SELECT tenant_id, id, owner_id, 'title', '\"After Google\"',"
                   " '\"Ann <i>edit</i>\"', '\"Google edit\"', 'remote'"
                   " FROM rally.activities WHERE id = %s", (aid,))
    assert status_of(ann, aid) == "Conflict: changed in both places"
    page = ann.get(f"/activities/{aid}")
    assert "Google edit (from Google)" in text(page) and "Ann &lt;i&gt;edit" in page.text
    assert "Conflict: changed in both places" in text(ann.get("/activities"))
    # Conflicts are the owner's: the teammate sees the activity synced.
    assert status_of(bob, aid) == "Synced to Google Calendar"
    r = ann.post(f"/activities/{aid}/reviewed")
    assert r.status == 303 and r.header("location") == f"/activities/{aid}?done=reviewed"
    assert status_of(ann, aid) == "Synced to Google Calendar"
    dbconn.execute("UPDATE rally.google_connections SET calendar_enabled = false,"
                   " mail_enabled = true WHERE id = %s", (conn,))
    assert status_of(ann, aid) == "Not synced: Google Calendar is switched off"
    dbconn.execute("UPDATE rally.google_connections SET status = 'revoked' WHERE id = %s",
                   (conn,))
    assert status_of(ann, aid).startswith("Not synced: Google access was withdrawn")


# --- with rallyd and the Google emulator ------------------------------------------

@pytest.fixture
def cal(pg, db, login_roles, fakegoogle, tmp_path):
    # Beside the web site's files, which are in tmp_path itself.
    (tmp_path / "cal").mkdir()
    c = Cal(pg, db, login_roles, fakegoogle, tmp_path / "cal", "ada")
    yield c
    c.close()


def test_web_edits_reach_google_calendar_and_google_events_come_back(cal, web_site):
    cal.fg.admin("POST", "/__admin/accounts", {"email": cal.google_email})
    cal.connect()
    cal.start()
    cal.settle()
    ada = web_site.client()
    ada.signin(cal.user_email, CAL_PASSWORD)
    # Created in Rally: in the calendar once rallyd pushed it.
    aid = create(ada, title="Demo for Initech", kind="meeting", start="2030-06-03T09:00",
                 end="2030-06-03T10:00", location="Their office",
                 guests="peter@initech.example")
    cal.settle()
    event_id = cal.event_id_of(aid)
    live = cal.g_live()
    assert event_id in live, live
    e = live[event_id]
    assert e["summary"] == "Demo for Initech" and e["location"] == "Their office"
    assert e["start"]["dateTime"].startswith("2030-06-03T09:00:00")
    assert [g["email"] for g in e.get("attendees", [])] == ["peter@initech.example"]
    assert status_of(ada, aid) == "Synced to Google Calendar"
    # Edited in Rally: the event follows.
    ada.get(f"/activities/{aid}/edit")
    r = ada.post(f"/activities/{aid}", form(title="Demo for Initech, moved", kind="meeting",
                                             start="2030-06-04T15:00", end="2030-06-04T16:00",
                                             location="Video call",
                                             guests="peter@initech.example"))
    assert r.status == 303
    cal.settle()
    e = cal.g_live()[event_id]
    assert e["summary"] == "Demo for Initech, moved" and e["location"] == "Video call"
    assert e["start"]["dateTime"].startswith("2030-06-04T15:00:00")
    assert status_of(ada, aid) == "Synced to Google Calendar"
    # An all-day activity goes as a date.
    day = create(ada, title="Trade fair", kind="meeting", timing="allday", start="", end="",
                 first_day="2030-07-01", last_day="2030-07-02")
    cal.settle()
    e = cal.g_live()[cal.event_id_of(day)]
    assert e["start"] == {"date": "2030-07-01"} and e["end"] == {"date": "2030-07-03"}
    # Deleted in Rally: gone from the calendar.
    ada.get(f"/activities/{aid}/delete")
    assert ada.post(f"/activities/{aid}/delete").status == 303
    cal.settle()
    assert event_id not in cal.g_live()
    # Created in Google: in the list after a sync, and synced.
    g = cal.g_create({"summary": "Lunch with Bill", "start": {"dateTime": "2030-06-05T12:00:00Z"},
                      "end": {"dateTime": "2030-06-05T13:00:00Z"}})
    cal.sync()
    page = ada.get("/activities")
    assert "Lunch with Bill" in page.text
    gid = cal.by_event()[g["id"]]["id"]
    assert status_of(ada, gid) == "Synced to Google Calendar"
    assert "Wed 05 Jun 2030, 12:00–13:00" in text(ada.get(f"/activities/{gid}"))


def test_what_users_typed_is_escaped_on_every_page(web_site, dbconn):
    ann = web_site.client()
    ann.signup()
    evil = '<script>alert(1)</script> & "quoted" \'single\''
    aid = create(ann, title=evil, location='<img src=x onerror=alert(2)>',
                 description="</pre><script>alert(3)</script>", guests="x@example.com")
    assert row(dbconn, aid)["title"] == evil
    for path in ("/activities", f"/activities/{aid}", f"/activities/{aid}/edit",
                 f"/activities/{aid}/delete"):
        page = ann.get(path)
        assert page.status == 200, path
        assert "<script>" not in page.text and "<img" not in page.text, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quoted&quot;" in page.text, path
    assert "<title>&lt;script&gt;" in ann.get(f"/activities/{aid}").text
    assert "<li>x@example.com</li>" in ann.get(f"/activities/{aid}").text


def test_an_empty_list_says_so_and_offers_to_create(web_site, dbconn):
    ann = web_site.client()
    ann.signup()
    page = ann.get("/activities")
    assert page.status == 200
    assert 'Nothing coming up. <a href="/activities/new">Create an activity</a>.' in page.text
    assert "No past activities." in ann.get("/activities?view=past").text
    assert 'aria-current="page">Upcoming' in page.text and 'aria-current="page">All' in page.text


def test_sharing_a_synced_activity_is_no_calendar_change(web_site, dbconn):
    """Visibility is Rally's alone: toggling it pushes nothing and leaves
    the time the merge weighs against Google's edits where it was."""
    ann = web_site.client()
    ann.signup()
    connect_calendar(dbconn, OWNER)
    aid = create(ann)
    dbconn.execute("UPDATE rally.activities SET sync_state = 'synced',"
                   " updated_at = now() - interval '1 day' WHERE id = %s", (aid,))
    before = row(dbconn, aid)["updated_at"]
    jobs = dbconn.execute("SELECT count(*) FROM rally.jobs WHERE kind = 'calpush'").fetchone()[0]
    ann.get(f"/activities/{aid}")
    assert ann.post(f"/activities/{aid}/share").status == 303
    a = row(dbconn, aid)
    assert (a["visibility"], a["sync_state"], a["updated_at"]) == ("shared", "synced", before)
    assert dbconn.execute("SELECT count(*) FROM rally.jobs WHERE kind = 'calpush'"
                          " AND state = 'pending'").fetchone()[0] <= jobs
    # An edit of a synced field is a change, and it is queued.
    ann.get(f"/activities/{aid}/edit")
    assert ann.post(f"/activities/{aid}", form(title="Renamed", visibility="shared")).status == 303
    a = row(dbconn, aid)
    assert a["sync_state"] == "pending" and a["updated_at"] > before
    assert dbconn.execute("SELECT count(*) FROM rally.jobs WHERE kind = 'calpush'"
                          " AND state = 'pending' AND dedupe_key = %s", (aid,)).fetchone()[0] == 1
