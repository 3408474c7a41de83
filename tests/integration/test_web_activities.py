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
