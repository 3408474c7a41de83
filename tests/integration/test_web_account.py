# SPDX-License-Identifier: ISC
"""The account page and the privacy rights of rally.cgi (docs/web.md,
"Account and privacy"), over HTTP through lighttpd against the real schema
as a rally_web login, with rallyd building the exports: rectification with
validation and audit, objection, time zones, sessions, download my data,
account deletion with the password and keeping the account during the
grace period, the privacy page, and every id of another user or tenant
answered 404."""

import datetime
import json
import re
import uuid

import jsonschema
import pytest

from rallytest import SRCDIR
from rallytest.daemon import Rallyd, wait_until
from rallytest.schema import insert
from rallytest.site import PASSWORD

OWNER = "ann@acme.example"
MEMBER = "max@acme.example"
OTHER = "bob@other.example"
SCHEMA = json.loads((SRCDIR / "docs" / "export.schema.json").read_text())


class World:
    """Workspace Acme: its owner ann (signed up through the site) and a
    member max; workspace Other: its owner bob, its only member."""

    def __init__(self, site, conn):
        self.site, self.conn = site, conn
        self.ann = site.client()
        self.ann.signup()
        self.tenant, self.ann_id, phc = conn.execute(
            "SELECT tenant_id::text, id::text, password_hash FROM rally.users").fetchone()
        self.max_id = str(insert(conn, "users", "id", tenant_id=self.tenant, email=MEMBER,
                                 name="Max Member", password_hash=phc, role="member"))
        self.max = site.client()
        self.max.signin(MEMBER)
        self.bob = site.client()
        self.bob.signup(company="Other", name="Bob", email=OTHER)
        self.other, self.bob_id = conn.execute(
            "SELECT tenant_id::text, id::text FROM rally.users WHERE email = %s",
            (OTHER,)).fetchone()

    def user(self, user_id, *cols):
        return self.conn.execute(f"SELECT {', '.join(cols)} FROM rally.users WHERE id = %s",
                                 (user_id,)).fetchone()

    def audit(self, action):
        return [d for d, in self.conn.execute(
            "SELECT detail FROM rally.audit_log WHERE action = %s ORDER BY seq", (action,))]


@pytest.fixture
def world(web_site, dbconn):
    return World(web_site, dbconn)


def profile(client, **fields):
    page = client.get("/account")
    assert page.status == 200, page
    form = {"name": field_value(page.text, "name"), "email": field_value(page.text, "email"),
            "time_zone": "UTC"}
    form.update(fields)
    return client.post("/account/profile", form)


def field_value(text, name):
    m = re.search(rf'name="{name}"[^>]*value="([^"]*)"', text)
    assert m, name
    return m.group(1)


# --- rectification ----------------------------------------------------------


def test_the_account_page_shows_the_profile_and_for_owners_company_and_billing(world):
    page = world.ann.get("/account")
    assert page.status == 200
    assert field_value(page.text, "email") == OWNER
    for form in ("/account/profile", "/account/company", "/account/billing",
                 "/account/analytics", "/account/export"):
        assert f'action="{form}"' in page.text, form
    assert '<option selected>UTC</option>' in page.text
    assert "<h1>Account</h1>" in page.text and '<th scope="col">Signed in</th>' in page.text
    member = world.max.get("/account")
    assert member.status == 200
    assert 'action="/account/company"' not in member.text
    assert 'action="/account/billing"' not in member.text
    assert "Only the workspace owner can change" in member.text


def test_profile_rectification_is_saved_and_audited_by_field_name(world):
    r = profile(world.ann, name="Ann B. Owner", time_zone="Europe/Berlin")
    assert r.status == 303 and r.header("location") == "/account?done=profile"
    assert world.user(world.ann_id, "name", "time_zone") == ("Ann B. Owner", "Europe/Berlin")
    assert world.audit("account.rectified") == [{"fields": ["name", "time_zone"]}]
    page = world.ann.get("/account?done=profile")
    assert 'role="status">Your profile is saved.' in page.text
    assert "<option selected>Europe/Berlin</option>" in page.text
    # The same values again change nothing and audit nothing.
    r = profile(world.ann, name="Ann B. Owner", time_zone="Europe/Berlin")
    assert r.header("location") == "/account?done=unchanged"
    assert len(world.audit("account.rectified")) == 1


def test_a_changed_email_is_the_one_to_sign_in_with(world):
    r = profile(world.ann, email="ann@new.example")
    assert r.header("location") == "/account?done=email"
    assert "sign in with your new email address" in world.ann.get("/account?done=email").text
    assert world.audit("account.rectified") == [{"fields": ["email"]}]
    c = world.site.client()
    c.get("/signin")
    assert c.post("/signin", {"email": OWNER, "password": PASSWORD}).status == 403
    c.signin("ann@new.example")


@pytest.mark.parametrize("fields, words", [
    ({"name": ""}, "Enter your name"),
    ({"name": "x" * 201}, "at most 200 characters"),
    ({"email": "not-an-address"}, "Enter your email address"),
    ({"email": MEMBER.upper()}, "Another account of this workspace has that email"),
    ({"time_zone": "Mars/Olympus"}, "Choose a time zone from the list"),
    ({"time_zone": "'; DROP TABLE rally.users; --"}, "Choose a time zone from the list"),
])
def test_bad_profile_input_is_a_400_with_words_and_changes_nothing(world, fields, words):
    r = profile(world.ann, **fields)
    assert r.status == 400 and words in r.text, r
    assert 'role="alert"' in r.text
    assert world.user(world.ann_id, "name", "email", "time_zone") == (
        "Ann Owner", OWNER, "UTC")
    assert world.audit("account.rectified") == []


def test_a_name_of_200_characters_of_any_script_fits(world):
    r = profile(world.ann, name="é" * 200)
    assert r.status == 303
    assert world.user(world.ann_id, "name") == ("é" * 200,)


def test_what_a_user_types_is_shown_escaped(world):
    evil = '<script>alert(1)</script>"\' onfocus=x &amp;'
    assert profile(world.ann, name=evil).status == 303
    page = world.ann.get("/account").text
    assert "<script>" not in page and 'onfocus=x' not in page.replace("&#39; onfocus=x", "")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39; onfocus=x &amp;amp;" in page
    world.ann.get("/account")
    r = world.ann.post("/account/billing", {"billing_email": "pay@acme.example",
                                            "city": evil * 10})
    assert r.status == 400 and "<script>" not in r.text


def test_the_owner_rectifies_company_and_billing_and_input_is_normalised(world):
    world.ann.get("/account")
    r = world.ann.post("/account/company", {"company_name": "Acme GmbH",
                                            "company_size": "51-200"})
    assert r.status == 303 and r.header("location") == "/account?done=company"
    assert world.conn.execute("SELECT name, company_size FROM rally.tenants WHERE tenant_id"
                              " = %s", (world.tenant,)).fetchone() == ("Acme GmbH", "51-200")
    r = world.ann.post("/account/billing", {
        "billing_email": "pay@acme.example", "billing_name": "Acme GmbH",
        "address_line1": "Hauptstr. 1", "address_line2": "", "postal_code": "10115",
        "city": "Berlin", "region": "", "country": "de", "vat_id": "de 123 456 789"})
    assert r.status == 303 and r.header("location") == "/account?done=billing"
    row = world.conn.execute("SELECT billing_email, city, country, vat_id FROM"
                             " rally.billing_profiles WHERE tenant_id = %s",
                             (world.tenant,)).fetchone()
    assert row == ("pay@acme.example", "Berlin", "DE", "DE123456789")
    page = world.ann.get("/account?done=billing")
    assert "The billing details are saved." in page.text
    assert field_value(page.text, "vat_id") == "DE123456789"
    # Clearing the optional codes stores none.
    r = world.ann.post("/account/billing", {"billing_email": "pay@acme.example",
                                            "country": "", "vat_id": ""})
    assert r.status == 303
    assert world.conn.execute("SELECT country, vat_id, city FROM rally.billing_profiles"
                              ).fetchone() == (None, None, "")
    fields = world.audit("account.rectified")
    assert fields[0] == {"fields": ["company_name", "company_size"]}
    assert "billing_email" in fields[1]["fields"] and "vat_id" in fields[1]["fields"]
    assert "DE123456789" not in json.dumps(fields)


@pytest.mark.parametrize("fields, words", [
    ({"billing_email": "nope"}, "Enter the billing email address"),
    ({"country": "Germany"}, "two-letter code"),
    ({"country": "D1"}, "two-letter code"),
    ({"vat_id": "DE-12345678901234567890"}, "VAT id"),
    ({"vat_id": "<script>"}, "VAT id"),
    ({"postal_code": "1" * 33}, "postal code can be at most 32 characters"),
    ({"city": "c" * 101}, "city can be at most 100 characters"),
])
def test_bad_billing_input_is_a_400_with_words(world, fields, words):
    world.ann.get("/account")
    form = {"billing_email": "pay@acme.example", "country": "DE", "vat_id": ""}
    form.update(fields)
    r = world.ann.post("/account/billing", form)
    assert r.status == 400 and words in r.text, r
    assert "<script>" not in r.text
    assert world.conn.execute("SELECT count(*) FROM rally.billing_profiles").fetchone()[0] == 0


def test_bad_company_input_is_a_400_with_words(world):
    world.ann.get("/account")
    r = world.ann.post("/account/company", {"company_name": "", "company_size": ""})
    assert r.status == 400 and "Enter your company" in r.text
    r = world.ann.post("/account/company", {"company_name": "Acme", "company_size": "7"})
    assert r.status == 400 and "company size" in r.text


def test_a_member_may_not_change_company_or_billing(world):
    world.max.get("/account")
    r = world.max.post("/account/company", {"company_name": "Taken over"})
    assert r.status == 403 and "Only the workspace owner" in r.text
    r = world.max.post("/account/billing", {"billing_email": "thief@evil.example"})
    assert r.status == 403
    assert world.conn.execute("SELECT name FROM rally.tenants WHERE tenant_id = %s",
                              (world.tenant,)).fetchone() == ("Acme Ltd",)
    assert world.conn.execute("SELECT count(*) FROM rally.billing_profiles").fetchone()[0] == 0
    assert world.audit("account.rectified") == []


def test_ids_in_a_form_are_ignored_it_is_always_the_callers_own_account(world):
    world.ann.get("/account")
    r = world.ann.post("/account/profile", {"name": "Ann", "email": OWNER, "time_zone": "UTC",
                                            "tenant_id": world.other, "user_id": world.bob_id,
                                            "id": world.bob_id})
    assert r.status == 303
    assert world.user(world.bob_id, "name") == ("Bob",)
    assert world.user(world.ann_id, "name") == ("Ann",)


# --- objection, time zones, sessions ----------------------------------------


def test_analytics_objection_deletes_usage_and_is_audited(world):
    insert(world.conn, "usage_events", tenant_id=world.tenant, user_id=world.ann_id,
           kind="page.view")
    page = world.ann.get("/account")
    assert "Stop usage analytics" in page.text
    r = world.ann.post("/account/analytics", {"opt_out": "yes"})
    assert r.status == 303 and r.header("location") == "/account?done=optout"
    assert world.user(world.ann_id, "analytics_opt_out") == (True,)
    assert world.conn.execute("SELECT count(*) FROM rally.usage_events").fetchone()[0] == 0
    assert world.audit("account.analytics_objection") == [
        {"fields": ["analytics_opt_out"], "analytics_opt_out": True}]
    page = world.ann.get("/account?done=optout")
    assert "Rally no longer records" in page.text and "Allow usage analytics again" in page.text
    assert world.ann.post("/account/analytics", {"opt_out": "no"}).status == 303
    assert world.user(world.ann_id, "analytics_opt_out") == (False,)
    assert world.ann.post("/account/analytics", {"opt_out": "maybe"}).status == 400


def test_the_time_zone_changes_how_times_are_shown(world):
    fmt = "FMDD Mon YYYY, HH24:MI"

    def shown(zone):
        return world.conn.execute(
            "SELECT to_char(created_at AT TIME ZONE %s, %s) FROM rally.sessions"
            " WHERE user_id = %s ORDER BY created_at LIMIT 1", (zone, fmt, world.ann_id)
        ).fetchone()[0]

    page = world.ann.get("/account")
    assert f"{shown('UTC')} UTC" in page.text
    assert profile(world.ann, time_zone="Asia/Tokyo").status == 303
    page = world.ann.get("/account")
    assert f"{shown('Asia/Tokyo')} JST" in page.text
    assert f"{shown('UTC')} UTC" not in page.text


def test_sign_out_everywhere_else_ends_the_other_sessions_only(world):
    laptop = world.site.client()
    laptop.signin(OWNER)
    page = world.ann.get("/account")
    assert page.text.count("<td>Another</td>") == 1 and "This browser" in page.text
    r = world.ann.post("/account/sessions/end-others")
    assert r.status == 303 and r.header("location") == "/account?done=sessions"
    assert "You are signed out everywhere else." in world.ann.get("/account?done=sessions").text
    assert laptop.get("/account").status == 303
    assert world.max.get("/account").status == 200        # a colleague's stay
    n = world.conn.execute("SELECT count(*) FROM rally.sessions WHERE user_id = %s",
                           (world.ann_id,)).fetchone()[0]
    assert n == 1


def test_signed_out_the_account_routes_send_to_signin_or_refuse(web_site):
    c = web_site.client()
    assert c.get("/account").status == 303
    assert c.get("/account").header("location") == "/signin"
    assert c.get("/account/exports").status == 303
    assert c.get(f"/account/exports/{uuid.uuid4()}").status == 303
    c.get("/signin")
    for path in ("/account/profile", "/account/billing", "/account/export",
                 "/account/delete", "/account/sessions/end-others"):
        assert c.post(path, {"name": "x"}).status == 403, path


def test_account_forms_need_the_csrf_token(world):
    world.ann.get("/account")
    assert world.ann.post("/account/profile", {"name": "Eve"}, csrf=False).status == 403
    assert world.ann.post("/account/delete", {"password": PASSWORD}, csrf="A" * 43).status == 403
    assert world.user(world.ann_id, "name", "status") == ("Ann Owner", "active")


# --- download my data -------------------------------------------------------


@pytest.fixture
def rallyd(daemon_conninfo):
    d = Rallyd(daemon_conninfo, name="exports").start()
    yield d
    d.close()


def ready_export(world, client, user_id):
    client.get("/account")
    r = client.post("/account/export")
    assert r.status == 303 and r.header("location") == "/account/exports?done=requested"
    export = world.conn.execute("SELECT id::text FROM rally.exports WHERE user_id = %s"
                                " ORDER BY requested_at DESC LIMIT 1", (user_id,)).fetchone()[0]
    wait_until(lambda: world.conn.execute("SELECT status FROM rally.exports WHERE id = %s",
                                          (export,)).fetchone()[0] == "ready",
               message="the export to be built")
    return export


def test_download_my_data_is_built_by_rallyd_and_downloads_as_json(world, rallyd):
    page = world.ann.get("/account/exports")
    assert "You have no exports." in page.text
    world.ann.get("/account")
    r = world.ann.post("/account/export")
    assert "Rally is preparing a copy" in world.ann.get(r.header("location")).text
    export = world.conn.execute("SELECT id::text FROM rally.exports").fetchone()[0]
    wait_until(lambda: world.conn.execute("SELECT status FROM rally.exports").fetchone()[0]
               == "ready", message="the export to be built")
    page = world.ann.get("/account/exports")
    assert f'href="/account/exports/{export}"' in page.text and "Ready" in page.text
    r = world.ann.get(f"/account/exports/{export}")
    assert r.status == 200
    assert r.header("content-type") == "application/json"
    assert re.fullmatch(r'attachment; filename="rally-export-\d{4}-\d\d-\d\d\.json"',
                        r.header("content-disposition"))
    assert r.header("cache-control") == "no-store"
    assert r.header("x-content-type-options") == "nosniff"
    doc = json.loads(r.body)
    jsonschema.Draft202012Validator(SCHEMA).validate(doc)
    assert doc["profile"]["email"] == OWNER and doc["profile"]["id"] == world.ann_id
    assert doc["profile"]["time_zone"] == "UTC"
    assert doc["company"]["name"] == "Acme Ltd"
    assert {"account.export_requested"} <= {a["action"] for a in doc["audit"]}
    text = r.body.decode()
    for foreign in (MEMBER, OTHER, world.max_id, world.bob_id):
        assert foreign not in text
    # The stored bytes, exactly.
    stored = bytes(world.conn.execute("SELECT content FROM rally.exports").fetchone()[0])
    assert r.body == stored


def test_an_export_of_someone_else_or_expired_or_malformed_is_a_404(world, rallyd):
    mine = ready_export(world, world.ann, world.ann_id)
    colleague = ready_export(world, world.max, world.max_id)
    foreign = ready_export(world, world.bob, world.bob_id)
    assert world.ann.get(f"/account/exports/{mine.upper()}").status == 200
    for who, export in ((world.ann, colleague), (world.ann, foreign), (world.bob, mine),
                        (world.max, mine), (world.ann, str(uuid.uuid4()))):
        r = who.get(f"/account/exports/{export}")
        assert r.status == 404 and "no export to download" in r.text, export
        assert mine.encode() not in r.body or who is world.ann
    for bad in ("not-a-uuid", mine[:-1], mine + "0", "%00", "..", "'%20OR%201=1"):
        assert world.ann.get(f"/account/exports/{bad}").status in (404, 400), bad
    assert world.ann.get(f"/account/exports/{mine}/x").status == 404
    # The others' lists do not show it.
    assert mine not in world.max.get("/account/exports").text
    assert mine not in world.bob.get("/account/exports").text
    world.conn.execute("UPDATE rally.exports SET expires_at = now() - interval '1 second'"
                       " WHERE id = %s", (mine,))
    assert world.ann.get(f"/account/exports/{mine}").status == 404
    assert "Expired" in world.ann.get("/account/exports").text


# --- deletion ---------------------------------------------------------------


def test_deleting_with_a_wrong_password_is_a_403_and_changes_nothing(world):
    page = world.max.get("/account/delete")
    assert page.status == 200 and "What happens" in page.text
    assert "within 30" in page.text and "keyed hash" in page.text
    failures = world.conn.execute("SELECT count(*) FROM rally.login_failures").fetchone()[0]
    r = world.max.post("/account/delete", {"password": "not my password"})
    assert r.status == 403 and "That is not your password" in r.text
    assert world.user(world.max_id, "status") == ("active",)
    assert world.max.get("/account").status == 200
    assert world.conn.execute("SELECT count(*) FROM rally.login_failures").fetchone()[0] > failures
    assert world.max.post("/account/delete", {"password": ""}).status == 400


def test_deleting_is_throttled_like_sign_in(world):
    world.max.get("/account/delete")
    for _ in range(5):
        assert world.max.post("/account/delete", {"password": "guess guess"}).status == 403
    r = world.max.post("/account/delete", {"password": PASSWORD})
    assert r.status == 429 and "Too many attempts" in r.text
    assert world.user(world.max_id, "status") == ("active",)


def test_delete_then_sign_in_during_the_grace_period_and_keep_the_account(world):
    old_cookie = dict(world.max.cookies)
    world.max.get("/account/delete")
    r = world.max.post("/account/delete", {"password": PASSWORD})
    assert r.status == 200, r
    assert "Your account is scheduled for deletion" in r.text and "Keep my account" in r.text
    due = world.conn.execute("SELECT to_char(due_at AT TIME ZONE 'UTC', 'FMDD Mon YYYY')"
                             " FROM rally.deletion_ledger WHERE kind = 'account_deletion'"
                             ).fetchone()[0]
    assert due in r.text
    assert world.user(world.max_id, "status") == ("deletion_pending",)
    assert world.conn.execute("SELECT count(*) FROM rally.sessions WHERE user_id = %s",
                              (world.max_id,)).fetchone()[0] == 0
    assert world.audit("account.deletion_requested")
    # The old cookie opens nothing; the owner is untouched.
    stale = world.site.client()
    stale.cookies.update(old_cookie)
    assert stale.get("/account").status == 303
    assert world.ann.get("/account").status == 200
    # Signing in shows the deletion and offers to keep the account, signed out.
    c = world.site.client()
    c.get("/signin")
    r = c.post("/signin", {"email": MEMBER, "password": PASSWORD})
    assert r.status == 200
    day = world.conn.execute("SELECT to_char(deletion_purge_after AT TIME ZONE 'UTC',"
                             " 'FMDD FMMonth YYYY') FROM rally.users WHERE id = %s",
                             (world.max_id,)).fetchone()[0]
    assert f"Your account is scheduled for deletion on {day}" in r.text
    assert 'action="/signin/cancel-deletion"' in r.text
    assert "rally" not in c.cookies                 # not signed in
    assert c.get("/account").status == 303
    # A wrong password keeps nothing; the right one keeps the account.
    r = c.post("/signin/cancel-deletion", {"email": MEMBER, "password": "wrong wrong"})
    assert r.status == 403 and world.user(world.max_id, "status") == ("deletion_pending",)
    r = c.post("/signin/cancel-deletion", {"email": MEMBER, "password": PASSWORD})
    assert r.status == 303 and r.header("location") == "/account?done=kept"
    page = c.get("/account?done=kept")
    assert page.status == 200 and "your account is kept" in page.text
    assert world.user(world.max_id, "status") == ("active",)
    assert world.conn.execute("SELECT cancelled_at IS NOT NULL FROM rally.deletion_ledger"
                              " WHERE kind = 'account_deletion'").fetchone()[0]
    assert world.audit("account.deletion_cancelled")
    c.signin(MEMBER)


def test_a_wrong_password_at_sign_in_for_a_pending_account_is_an_ordinary_failure(world):
    world.max.get("/account/delete")
    assert world.max.post("/account/delete", {"password": PASSWORD}).status == 200
    c = world.site.client()
    c.get("/signin")
    r = c.post("/signin", {"email": MEMBER, "password": "wrong wrong"})
    assert r.status == 403 and "do not match" in r.text
    assert "cancel-deletion" not in r.text


def test_a_deletion_whose_purge_began_cannot_be_kept(world):
    world.max.get("/account/delete")
    world.max.post("/account/delete", {"password": PASSWORD})
    c = world.site.client()
    c.get("/signin")
    assert c.post("/signin", {"email": MEMBER, "password": PASSWORD}).status == 200
    ledger = world.conn.execute("SELECT id FROM rally.deletion_ledger").fetchone()[0]
    insert(world.conn, "deletion_purges", tenant_id=world.tenant, ledger_id=ledger,
           table_name="activities", rows=1)
    r = c.post("/signin/cancel-deletion", {"email": MEMBER, "password": PASSWORD})
    assert r.status == 409 and "can no longer be cancelled" in r.text
    assert world.user(world.max_id, "status") == ("deletion_pending",)


def test_the_last_owner_of_a_workspace_with_members_is_refused(world):
    page = world.ann.get("/account/delete")
    assert page.status == 200 and "Make one of them an owner" in page.text
    assert 'action="/account/delete"' not in page.text
    r = world.ann.post("/account/delete", {"password": PASSWORD})
    assert r.status == 409 and "not deleted" in r.text
    assert world.user(world.ann_id, "status") == ("active",)
    # With a second owner, the first may go.
    world.conn.execute("UPDATE rally.users SET role = 'owner' WHERE id = %s", (world.max_id,))
    assert world.ann.get("/account/delete").status == 200
    assert world.ann.post("/account/delete", {"password": PASSWORD}).status == 200
    assert world.user(world.ann_id, "status") == ("deletion_pending",)
    assert world.conn.execute("SELECT status FROM rally.tenants WHERE tenant_id = %s",
                              (world.tenant,)).fetchone() == ("active",)


def test_the_only_member_deletes_the_workspace_with_the_account(world):
    page = world.bob.get("/account/delete")
    assert page.status == 200 and "You are the only member of Other" in page.text
    r = world.bob.post("/account/delete", {"password": PASSWORD})
    assert r.status == 200
    assert world.conn.execute("SELECT status FROM rally.tenants WHERE tenant_id = %s",
                              (world.other,)).fetchone() == ("deletion_pending",)
    kinds = {k for k, in world.conn.execute("SELECT kind FROM rally.deletion_ledger"
                                            " WHERE tenant_id = %s", (world.other,))}
    assert kinds == {"account_deletion", "tenant_deletion"}
    # Kept during the grace period, the workspace comes back too.
    c = world.site.client()
    c.get("/signin")
    assert c.post("/signin", {"email": OTHER, "password": PASSWORD}).status == 200
    assert c.post("/signin/cancel-deletion", {"email": OTHER,
                                              "password": PASSWORD}).status == 303
    assert world.conn.execute("SELECT status FROM rally.tenants WHERE tenant_id = %s",
                              (world.other,)).fetchone() == ("active",)
    assert c.get("/account").status == 200


# --- the privacy page -------------------------------------------------------


def test_the_privacy_page_is_public_and_says_what_is_kept_how_long(web_site):
    c = web_site.client()
    r = c.get("/privacy")
    assert r.status == 200
    text = r.text
    for words in ("What Rally stores", "What Rally syncs from Google", "never used for advertising",
                  "30 days", "14 days", "1 day", "7 days", 'href="/account"',
                  'href="/account/delete"', "Backups"):
        assert words in text, words
    assert r.header("content-security-policy").startswith("default-src 'none'")
    headings = re.findall(r"<h(\d)", text)
    assert headings[0] == "1" and set(headings[1:]) == {"2"}
    assert '<a href="/privacy">Privacy</a>' in c.get("/signin").text


def test_the_privacy_page_follows_the_configuration(web_site, pg, db, login_roles):
    web_site.configure(pg.conninfo(db, login_roles["web"]),
                       compliance={"deletion_grace": "7d", "purge_lag": "2d"})
    text = web_site.client().get("/privacy").text
    assert "For 7 days you can change your mind" in text and "within 2 days" in text


# --- another tenant's ids ---------------------------------------------------


def test_every_account_route_with_another_tenants_ids_is_a_404(world, dbconn):
    """The account routes take one id, an export's; the forms take none and
    act on the caller's own rows whatever a request adds."""
    now = datetime.datetime.now(datetime.timezone.utc)
    foreign = str(insert(dbconn, "exports", "id", tenant_id=world.other, user_id=world.bob_id,
                         status="ready", content=b'{"secret": 1}',
                         sha256=b"\0" * 32, ready_at=now,
                         expires_at=now + datetime.timedelta(days=1)))
    for path in (f"/account/exports/{foreign}", f"/account/exports/{foreign.upper()}"):
        r = world.ann.get(path)
        assert r.status == 404 and b"secret" not in r.body, path
    assert world.bob.get(f"/account/exports/{foreign}").status == 200
    world.ann.get("/account")
    for path, form in (("/account/company", {"company_name": "Mine now",
                                             "tenant_id": world.other}),
                       ("/account/billing", {"billing_email": "x@x.example",
                                             "tenant_id": world.other}),
                       ("/account/sessions/end-others", {"user_id": world.bob_id})):
        assert world.ann.post(path, form).status == 303, path
    assert dbconn.execute("SELECT name FROM rally.tenants WHERE tenant_id = %s",
                          (world.other,)).fetchone() == ("Other",)
    assert dbconn.execute("SELECT count(*) FROM rally.billing_profiles WHERE tenant_id = %s",
                          (world.other,)).fetchone()[0] == 0
    assert world.bob.get("/account").status == 200


def test_a_failed_export_says_so_and_what_to_do(world):
    export = world.conn.execute("SELECT rally.export_request(%s, %s, 'user')",
                                (world.tenant, world.ann_id)).fetchone()[0]
    assert world.conn.execute("SELECT rally.export_fail(%s, %s)",
                              (world.tenant, export)).fetchone()[0] is True
    page = world.ann.get("/account/exports")
    assert page.status == 200
    assert "Failed" in page.text and "Being prepared" not in page.text
    assert ("Rally could not prepare this export. Ask for a new one; if that fails too,"
            " contact your administrator.") in page.text
