# SPDX-License-Identifier: ISC
"""The dashboard and the Google integrations pages of rally.cgi, over HTTP
through lighttpd, with a real rallyd and the Google emulator: connecting
through the emulator's consent page, the page that waits for rallyd,
declined consent, a state that is not the user's, turning integrations off
and on, "Sync now", what the dashboard lists, and another tenant's or a
teammate's ids on every route (docs/web.md, "Dashboard and Google
integrations")."""

import datetime
import hashlib
import html
import http.client
import re
import ssl
import subprocess
import urllib.parse
import uuid

import pytest

from rallytest import program
from rallytest.daemon import Rallyd, wait_until, write_config
from rallytest.google import SCOPE_CALENDAR, SCOPE_GMAIL_MODIFY, SCOPE_GMAIL_SEND
from rallytest.schema import insert
from rallytest.seal import seal_open
from rallytest.site import Site

MIN = datetime.timedelta(minutes=1)
DAY = datetime.timedelta(days=1)
HASH = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA"
SESSION_FIELD = re.compile(r'name="session" value="([^"]*)"')


class World:
    """lighttpd + rally.cgi configured with only the public [google] keys
    (no client secret, no keyring), and a rallyd with both, started on
    demand."""

    def __init__(self, pg, db, login_roles, fg, tmp_path):
        self.pg, self.db, self.fg = pg, db, fg
        self.conn = pg.connect(db)
        self.conn.autocommit = True
        g = fg.config_sections()["google"]
        self.cgi_google = {k: g[k] for k in ("client_id", "auth_url", "redirect_uri")}
        (tmp_path / "site").mkdir()
        self.site = Site(str(tmp_path / "site"), pg.conninfo(db, login_roles["web"]),
                         google=self.cgi_google)
        self.web_conninfo = pg.conninfo(db, login_roles["web"])
        self.keyring = tmp_path / "keyring"
        sections = fg.config_sections()
        sections["keys"] = {"keyring": str(self.keyring)}
        sections["calendar"] = {"poll_interval": "1h"}
        sections["mail"] = {"poll_interval": "1h"}
        self.sections = sections
        ctl_conf = str(tmp_path / "rallyctl.conf")
        write_config(ctl_conf, dict(sections, database={"conninfo": pg.conninfo(db)}))
        r = subprocess.run([program("rallyctl"), "-c", ctl_conf, "keys", "generate"],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        self.daemon_conninfo = pg.conninfo(db, login_roles["daemon"])
        self.daemon = None

    def start_daemon(self):
        if self.daemon is None:
            self.daemon = Rallyd(self.daemon_conninfo, name="webint",
                                 extra=self.sections).start()
        return self.daemon

    def client(self):
        return self.site.client()

    def user_of(self, email):
        return self.conn.execute("SELECT tenant_id::text, id::text FROM rally.users"
                                 " WHERE email = %s", (email,)).fetchone()

    def teammate(self, tenant, name):
        return str(insert(self.conn, "users", "id", tenant_id=tenant,
                          email=f"{name}@team.example", name=name.upper(), role="member",
                          password_hash=HASH))

    def connection(self, tenant, user, email, calendar=True, mail=True, status="active"):
        """A connection written directly, with (unopenable) token bytes."""
        revoked = status == "revoked"
        return str(insert(self.conn, "google_connections", "id", tenant_id=tenant,
                          user_id=user, google_email=email, google_subject="sub-" + email,
                          calendar_enabled=calendar, mail_enabled=mail, status=status,
                          refresh_token=None if revoked else b"\x01sealed-refresh",
                          access_token=None if revoked else b"\x01sealed-access"))

    def jobs(self, kind):
        return self.conn.execute("SELECT payload FROM rally.jobs WHERE kind = %s ORDER BY id",
                                 (kind,)).fetchall()

    def snapshot(self):
        """Everything a request about a connection could change."""
        return (self.conn.execute("SELECT id, calendar_enabled, mail_enabled, status,"
                                  " refresh_token, access_token FROM rally.google_connections"
                                  " ORDER BY id").fetchall(),
                self.conn.execute("SELECT count(*) FROM rally.jobs").fetchone(),
                self.conn.execute("SELECT count(*) FROM rally.deletion_ledger").fetchone(),
                self.conn.execute("SELECT count(*) FROM rally.audit_log").fetchone(),
                self.conn.execute("SELECT id, callback_at, outcome FROM rally.oauth_pending"
                                  " ORDER BY id").fetchall())

    def close(self):
        if self.daemon is not None:
            self.daemon.close()
        self.site.close()
        self.conn.close()


@pytest.fixture
def world(pg, db, login_roles, fakegoogle, tmp_path):
    fakegoogle.reset()
    w = World(pg, db, login_roles, fakegoogle, tmp_path)
    yield w
    w.close()


def emulator(fg, method, url, form=None):
    """One request to the emulator (its test CA trusted), redirects not
    followed: (status, location, body)."""
    u = urllib.parse.urlsplit(url)
    ctx = ssl.create_default_context(cafile=fg.ca_file)
    c = http.client.HTTPSConnection(u.hostname, u.port, context=ctx, timeout=30)
    try:
        body = urllib.parse.urlencode(form).encode() if form is not None else None
        headers = {"Content-Type": "application/x-www-form-urlencoded"} if form else {}
        c.request(method, u.path + ("?" + u.query if u.query else ""), body=body,
                  headers=headers)
        r = c.getresponse()
        return r.status, r.getheader("Location"), r.read().decode()
    finally:
        c.close()


def params(url):
    return {k: v[0] for k, v in urllib.parse.parse_qs(urllib.parse.urlsplit(url).query).items()}


class Consent:
    """One "Connect Google" click in a browser: the POST, Google's consent
    page, Allow or Deny there, and the way back to /oauth/callback."""

    def __init__(self, world, client, google_email, fields=None):
        self.w, self.client, self.google_email = world, client, google_email
        client.get("/integrations")
        r = client.post("/integrations/connect",
                        fields if fields is not None else {"calendar": "on", "mail": "on"})
        assert r.status == 303, r
        self.url = r.header("location")
        self.q = params(self.url)

    def decide(self, decision="allow"):
        """Google's page, then the button: the address Google sends the
        browser back to."""
        self.w.fg.add_account(self.google_email)
        status, _, page = emulator(self.w.fg, "GET", self.url)
        assert status == 200, page
        session = html.unescape(SESSION_FIELD.search(page).group(1))
        status, location, page = emulator(
            self.w.fg, "POST", self.w.fg.base_url + "/o/oauth2/v2/auth/consent",
            {"session": session, "account": self.google_email, "decision": decision})
        assert status in (302, 303) and location, (status, page)
        self.back = location
        return location

    def callback(self, client=None):
        """The browser follows Google's redirect to rally.cgi."""
        query = urllib.parse.urlsplit(self.back).query
        return (client or self.client).get("/oauth/callback?" + query)


def wait_page(client, path, timeout=60):
    """The connecting page once it stops refreshing itself."""
    def done():
        r = client.get(path)
        return r if 'http-equiv="refresh"' not in r.text else None
    return wait_until(done, timeout=timeout, interval=0.3, message="the attempt to end")


def signup(world, email, company="Acme Ltd", name="Ann Owner"):
    c = world.client()
    c.signup(company=company, name=name, email=email)
    c.get("/")
    return c, world.user_of(email)


# --- connecting ---------------------------------------------------------------------


def test_connect_google_through_the_consent_page_until_connected(world):
    ann, (tenant, user) = signup(world, "ann@acme.example")
    at = Consent(world, ann, "ann.google@gmail.test")
    fg = world.fg
    assert at.url.startswith(fg.base_url + "/o/oauth2/v2/auth?")
    q = at.q
    assert (q["client_id"], q["redirect_uri"], q["response_type"], q["access_type"],
            q["prompt"], q["code_challenge_method"]) == (
        fg.client_id, fg.redirect_uri, "code", "offline", "consent", "S256")
    assert q["scope"].split() == ["openid", "email", SCOPE_CALENDAR, SCOPE_GMAIL_MODIFY,
                                  SCOPE_GMAIL_SEND]
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", q["state"])
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", q["code_challenge"])
    assert fg.client_secret not in at.url and "login_hint" not in at.url
    # The database keeps the state's hash, never the state.
    [(state_hash, want_cal, want_mail)] = world.conn.execute(
        "SELECT state_hash, want_calendar, want_mail FROM rally.oauth_pending").fetchall()
    assert bytes(state_hash) == hashlib.sha256(q["state"].encode()).digest()
    assert (want_cal, want_mail) == (True, True)

    at.decide("allow")
    r = at.callback()
    assert r.status == 303
    waiting = r.header("location")
    assert re.fullmatch(r"/integrations/connecting/[0-9a-f-]{36}", waiting)
    # Before rallyd takes the code, the page waits and reloads itself.
    page = ann.get(waiting)
    assert page.status == 200 and "Connecting to Google" in page.text
    assert '<meta http-equiv="refresh" content="2">' in page.text
    assert 'role="status"' in page.text

    world.start_daemon()
    page = wait_page(ann, waiting)
    assert "Google is connected" in page.text
    assert "Google Calendar and Gmail are connected." in page.text
    assert "ann.google@gmail.test" in page.text and 'href="/"' in page.text

    [(cid, email, cal, mail, status, rt, at_)] = world.conn.execute(
        "SELECT id::text, google_email, calendar_enabled, mail_enabled, status,"
        " refresh_token, access_token FROM rally.google_connections").fetchall()
    assert (email, cal, mail, status) == ("ann.google@gmail.test", True, True, "active")
    refresh = seal_open(world.keyring, tenant, cid, "refresh_token", rt)
    access = seal_open(world.keyring, tenant, cid, "access_token", at_)
    assert refresh.encode() not in bytes(rt) and access.encode() not in bytes(at_)
    kinds = {k for (k,) in world.conn.execute(
        "SELECT kind FROM rally.jobs WHERE payload->>'connection_id' = %s", (cid,))}
    assert {"calsync", "mailsync"} <= kinds

    # The first syncs run, and the Google page says so.
    wait_until(lambda: world.conn.execute(
        "SELECT count(*) FROM rally.sync_state WHERE connection_id = %s"
        " AND last_success_at IS NOT NULL", (cid,)).fetchone()[0] == 2, timeout=60,
        interval=0.2, message="the first calendar and mail syncs")
    page = ann.get("/integrations")
    assert "ann.google@gmail.test" in page.text and "Connected" in page.text
    assert page.text.count("Last synced just now") == 2
    assert "Sync Google Calendar now" in page.text and "Turn off Gmail" in page.text
    assert "ann.google@gmail.test" in ann.get("/").text
    # Neither the state nor the code nor a token reached a log.
    code = params(at.back)["code"]
    logs = world.site.logs() + world.daemon.output()
    for secret in (q["state"], code, refresh, access):
        assert secret not in logs


def test_declined_consent_ends_on_a_failed_page_in_words(world):
    ann, _ = signup(world, "ann@acme.example")
    at = Consent(world, ann, "ann.google@gmail.test", {"calendar": "on"})
    at.decide("deny")
    assert params(at.back)["error"] == "access_denied"
    r = at.callback()
    assert r.status == 303
    page = ann.get(r.header("location"))
    assert page.status == 200 and "Google was not connected" in page.text
    assert "You declined access at Google." in page.text
    assert 'http-equiv="refresh"' not in page.text
    # "Try again" asks for what was asked before.
    assert re.search(r'action="/integrations/connect".*name="calendar" value="on"'
                     r'.*Try again', page.text, re.S)
    assert 'name="mail"' not in page.text.split('action="/integrations/connect"')[1]
    assert world.conn.execute("SELECT count(*) FROM rally.google_connections").fetchone()[0] == 0
    assert world.jobs("oauth-exchange") == []


def test_a_callback_with_another_users_state_is_refused_and_stores_nothing(world):
    ann, _ = signup(world, "ann@acme.example")
    carol, _ = signup(world, "carol@beta.example", company="Beta")
    at = Consent(world, ann, "ann.google@gmail.test")
    at.decide("allow")
    before = world.snapshot()
    r = at.callback(client=carol)
    assert r.status == 400
    assert "expired" in r.text and "Nothing was connected" in r.text
    assert world.snapshot() == before
    assert world.conn.execute("SELECT callback_at, code FROM rally.oauth_pending"
                              ).fetchall() == [(None, None)]
    assert world.jobs("oauth-exchange") == []
    # Made up, malformed or missing states are refused the same way.
    for query in ("state=" + "A" * 43 + "&code=4/x", "state=short&code=4/x", "code=4/x",
                  "state=%3Cscript%3E&code=4/x", "state=" + "A" * 43):
        r = carol.get("/oauth/callback?" + query)
        assert r.status == 400 and "<script>" not in r.text, query
    assert world.snapshot() == before
    # Signed out, the callback is sent to sign in and stores nothing.
    r = world.client().get("/oauth/callback?" + urllib.parse.urlsplit(at.back).query)
    assert r.status == 303 and r.header("location") == "/signin"
    assert world.snapshot() == before
    # Ann's own browser still completes it, once.
    assert at.callback().status == 303
    assert len(world.jobs("oauth-exchange")) == 1
    assert at.callback().status == 400


def test_connect_asks_for_a_choice_and_needs_the_google_settings(world, pg, db, login_roles):
    ann, _ = signup(world, "ann@acme.example")
    ann.get("/integrations")
    r = ann.post("/integrations/connect", {})
    assert r.status == 400 and "Choose Google Calendar, Gmail or both" in r.text
    r = ann.post("/integrations/connect", {"calendar": "on"}, csrf="forged")
    assert r.status == 403
    world.site.configure(pg.conninfo(db, login_roles["web"]),
                         google={"client_id": "", "redirect_uri": ""})
    r = ann.post("/integrations/connect", {"calendar": "on"})
    assert r.status == 503 and "not set up" in r.text
    assert world.conn.execute("SELECT count(*) FROM rally.oauth_pending").fetchone()[0] == 0


def test_turning_email_on_for_a_calendar_connection_asks_google_again(world):
    ann, _ = signup(world, "ann@acme.example")
    world.start_daemon()
    at = Consent(world, ann, "ann.google@gmail.test", {"calendar": "on"})
    assert SCOPE_GMAIL_MODIFY not in at.q["scope"]
    at.decide()
    page = wait_page(ann, at.callback().header("location"))
    assert "Google Calendar is connected." in page.text
    [(cid,)] = world.conn.execute("SELECT id::text FROM rally.google_connections").fetchall()
    page = ann.get("/integrations")
    assert "Turn on Gmail" in page.text and "Turn off Google Calendar" in page.text
    on = Consent(world, ann, "ann.google@gmail.test",
                 {"connection": cid, "mail": "on", "calendar": "on"})
    assert on.q["login_hint"] == "ann.google@gmail.test"
    assert {SCOPE_CALENDAR, SCOPE_GMAIL_MODIFY, SCOPE_GMAIL_SEND} <= set(on.q["scope"].split())
    on.decide()
    page = wait_page(ann, on.callback().header("location"))
    assert "Google is connected" in page.text
    assert world.conn.execute("SELECT id::text, calendar_enabled, mail_enabled FROM"
                              " rally.google_connections").fetchall() == [(cid, True, True)]


# --- turning off, syncing -------------------------------------------------------------


def test_disconnect_email_then_calendar_leaves_no_token_and_queues_the_purges(world):
    ann, (tenant, user) = signup(world, "ann@acme.example")
    world.start_daemon()
    at = Consent(world, ann, "ann.google@gmail.test")
    at.decide()
    assert "Google is connected" in wait_page(ann, at.callback().header("location")).text
    [(cid,)] = world.conn.execute("SELECT id::text FROM rally.google_connections").fetchall()

    page = ann.get(f"/integrations/disconnect?connection={cid}&what=mail")
    assert page.status == 200 and "Turn off Gmail?" in page.text
    assert "Rally holds no mail synced from Gmail" in page.text   # none in the emulator
    assert "Nothing is deleted from your Gmail itself." in page.text
    assert "access tokens are deleted" not in page.text     # the calendar stays on
    # The confirmation changed nothing.
    assert world.conn.execute("SELECT mail_enabled FROM rally.google_connections"
                              ).fetchone()[0] is True
    r = ann.post("/integrations/disconnect", {"connection": cid, "what": "mail"})
    assert r.status == 303 and r.header("location") == "/integrations?done=mail_off"
    row = world.conn.execute("SELECT calendar_enabled, mail_enabled, refresh_token IS NOT NULL"
                             " FROM rally.google_connections").fetchone()
    assert row == (True, False, True)
    assert world.jobs("mailpurge") and not world.jobs("calpurge")
    page = ann.get("/integrations?done=mail_off")
    assert "Gmail is off." in page.text and 'role="status"' in page.text
    assert "Turn on Gmail" in page.text

    page = ann.get(f"/integrations/disconnect?connection={cid}&what=calendar")
    assert "Turn off Google Calendar?" in page.text
    assert "Activities created in Rally are never deleted by this." in page.text
    assert "access tokens are deleted at once" in page.text
    r = ann.post("/integrations/disconnect", {"connection": cid, "what": "calendar"})
    assert r.status == 303 and r.header("location") == "/integrations?done=disconnected"
    # As soon as the POST has returned, no row a sync could use holds a token.
    assert world.conn.execute("SELECT calendar_enabled, mail_enabled, refresh_token,"
                              " access_token FROM rally.google_connections").fetchone() == (
        False, False, None, None)
    assert world.jobs("calpurge") and world.jobs("mailpurge") and world.jobs("token-revoke")
    kinds = [k for (k,) in world.conn.execute(
        "SELECT kind FROM rally.deletion_ledger ORDER BY requested_at")]
    assert sorted(kinds) == ["calendar_disconnect", "mail_disconnect"]
    assert world.conn.execute("SELECT count(*) FROM rally.audit_log WHERE action ="
                              " 'connection.disconnected'").fetchone()[0] == 2
    page = ann.get("/integrations?done=disconnected")
    assert "access to it is revoked" in page.text and "Disconnected" in page.text
    # Turning off what is already off is said so, and changes nothing.
    r = ann.get(f"/integrations/disconnect?connection={cid}&what=all")
    assert r.status == 409


def test_sync_now_queues_a_calendar_or_mail_sync_of_the_users_own_connection(world):
    ann, (tenant, user) = signup(world, "ann@acme.example")
    cid = world.connection(tenant, user, "ann.google@gmail.test", mail=False)
    ann.get("/integrations")
    r = ann.post("/integrations/sync", {"connection": cid, "resource": "calendar"})
    assert r.status == 303 and r.header("location") == "/integrations?done=sync"
    assert world.jobs("calsync") == [({"connection_id": cid, "reason": "user"},)]
    r = ann.post("/integrations/sync", {"connection": cid, "resource": "mail"})
    assert r.status == 409 and "off" in r.text
    world.conn.execute("UPDATE rally.google_connections SET mail_enabled = true")
    r = ann.post("/integrations/sync", {"connection": cid.upper(), "resource": "mail"})
    assert r.status == 303
    assert world.jobs("mailsync") == [({"connection_id": cid, "reason": "user"},)]
    r = ann.post("/integrations/sync", {"connection": cid, "resource": "contacts"})
    assert r.status == 404
    assert "A sync was requested" in ann.get("/integrations?done=sync").text
    # ?done= words are fixed messages; anything else shows nothing.
    page = ann.get("/integrations?done=%3Cscript%3Ealert(1)%3C/script%3E")
    assert "<script>" not in page.text and "alert(1)" not in page.text


def test_another_tenants_or_a_teammates_connection_is_404_on_every_route(world):
    ann, (a, ann_id) = signup(world, "ann@acme.example")
    _, (b, carol_id) = signup(world, "carol@beta.example", company="Beta")
    bob_id = world.teammate(a, "bob")
    theirs = {"carol": world.connection(b, carol_id, "carol.google@gmail.test"),
              "bob": world.connection(a, bob_id, "bob.google@gmail.test")}
    pending = str(insert(world.conn, "oauth_pending", "id", tenant_id=b, user_id=carol_id,
                         state_hash=b"\x00" * 32, pkce_verifier="v" * 43,
                         redirect_uri=world.fg.redirect_uri, want_calendar=True))
    mine = world.connection(a, ann_id, "ann.google@gmail.test")
    ann.get("/integrations")
    before = world.snapshot()
    ids = list(theirs.values()) + [str(uuid.uuid4()), "not-a-uuid", "", "' OR 1=1 --",
                                   theirs["carol"] + "x"]
    for cid in ids:
        for what in ("calendar", "mail", "all"):
            r = ann.get("/integrations/disconnect?" + urllib.parse.urlencode(
                {"connection": cid, "what": what}))
            assert r.status == 404, (cid, what, r)
            r = ann.post("/integrations/disconnect", {"connection": cid, "what": what})
            assert r.status == 404, (cid, what, r)
        for res in ("calendar", "mail"):
            r = ann.post("/integrations/sync", {"connection": cid, "resource": res})
            assert r.status == 404, (cid, res, r)
        if cid:
            r = ann.post("/integrations/connect", {"connection": cid, "mail": "on"})
            assert r.status == 404, (cid, r)
    for p in (pending, str(uuid.uuid4()), "nope", pending.upper() + "0"):
        assert ann.get("/integrations/connecting/" + p).status == 404, p
    assert world.snapshot() == before
    page = ann.get("/integrations")
    assert "ann.google@gmail.test" in page.text
    assert "carol.google" not in page.text and "bob.google" not in page.text
    assert theirs["carol"] not in page.text and theirs["bob"] not in page.text
    # Ann's own connection with a bad "what" is no page either.
    assert ann.get(f"/integrations/disconnect?connection={mine}&what=both").status == 404
    r = ann.post("/integrations/disconnect", {"connection": mine, "what": "both"})
    assert r.status == 404
    assert world.snapshot() == before


# --- the dashboard ----------------------------------------------------------------------


def activity(w, tenant, owner, title, start=None, day=None, **kw):
    cols = dict(tenant_id=tenant, owner_id=owner, title=title, **kw)
    if start is not None:
        cols.update(start_at=start, end_at=start + 30 * MIN)
    if day is not None:
        cols.update(start_date=day, end_date=day + DAY)
    return str(insert(w.conn, "activities", "id", **cols))


def thread(w, tenant, user, conn, subject, at, labels=("INBOX",), **kw):
    t = str(insert(w.conn, "mail_threads", "id", tenant_id=tenant, user_id=user,
                   connection_id=conn, gmail_thread_id="t-" + uuid.uuid4().hex,
                   subject=subject, snippet="about " + subject, message_count=1,
                   last_message_at=at, **kw))
    insert(w.conn, "mail_messages", tenant_id=tenant, thread_id=t, user_id=user,
           connection_id=conn, gmail_id="m-" + uuid.uuid4().hex, subject=subject,
           from_addr="Zed <zed@client.example>", label_ids=list(labels), internal_date=at)
    return t


def test_dashboard_lists_upcoming_activities_recent_mail_and_google_status(world):
    now = datetime.datetime.now(datetime.timezone.utc)
    ann, (a, ann_id) = signup(world, "ann@acme.example")
    _, (b, carol_id) = signup(world, "carol@beta.example", company="Beta")
    bob_id = world.teammate(a, "bob")
    shown = {
        "call": activity(world, a, ann_id, "Call with <b>Zed</b>", now + 2 * DAY, kind="call"),
        "offsite": activity(world, a, ann_id, "Offsite", day=(now + 3 * DAY).date()),
        "standup": activity(world, a, bob_id, "Team standup", now + DAY, visibility="shared"),
        "now": activity(world, a, ann_id, "Going on now", now - 10 * MIN),
    }
    hidden = {
        "far": activity(world, a, ann_id, "Too far away", now + 9 * DAY),
        "past": activity(world, a, ann_id, "Long over", now - 2 * DAY),
        "deleted": activity(world, a, ann_id, "Deleted one", now + DAY,
                            deleted_at=now),
        "bobs": activity(world, a, bob_id, "Bob private plan", now + DAY),
        "carols": activity(world, b, carol_id, "Carol shared", now + DAY, visibility="shared"),
    }
    ann_conn = world.connection(a, ann_id, "ann.google@gmail.test")
    bob_conn = world.connection(a, bob_id, "bob.google@gmail.test")
    carol_conn = world.connection(b, carol_id, "carol.google@gmail.test")
    threads = {
        "unread": thread(world, a, ann_id, ann_conn, "Quarterly numbers", now - 5 * MIN,
                         labels=("INBOX", "UNREAD")),
        "read": thread(world, a, ann_id, ann_conn, "Lunch?", now - DAY),
        "shared": thread(world, a, bob_id, bob_conn, "Shared deal", now - 2 * DAY,
                         visibility="shared"),
    }
    hidden_threads = {
        "trash": thread(world, a, ann_id, ann_conn, "Thrown away", now, labels=("TRASH",)),
        "bobs": thread(world, a, bob_id, bob_conn, "Bob private thread", now),
        "carols": thread(world, b, carol_id, carol_conn, "Carol thread", now,
                         visibility="shared"),
    }
    world.conn.execute("INSERT INTO rally.sync_state (tenant_id, connection_id, resource,"
                       " last_success_at, lag_seconds) VALUES (%s, %s, 'calendar',"
                       " now() - interval '5 minutes 10 seconds', 0)", (a, ann_conn))
    world.conn.execute("INSERT INTO rally.sync_state (tenant_id, connection_id, resource,"
                       " last_success_at, lag_seconds, last_error_kind, last_error)"
                       " VALUES (%s, %s, 'mail', now() - interval '2 hours 10 seconds', 7200,"
                       " 'rate_limited', 'rateLimitExceeded: raw Google text')", (a, ann_conn))

    page = ann.get("/")
    assert page.status == 200
    text = page.text
    for key, aid in shown.items():
        assert f'href="/activities/{aid}"' in text, key
    for key, aid in hidden.items():
        assert aid not in text, key
    assert "Call with &lt;b&gt;Zed&lt;/b&gt;" in text and "<b>Zed" not in text
    assert "Too far away" not in text and "Bob private plan" not in text
    assert "all day" in text and "BOB" in text
    # Soonest first.
    order = [text.index(shown[k]) for k in ("now", "standup", "call", "offsite")]
    assert order == sorted(order)

    for key, tid in threads.items():
        assert f'href="/inbox/{tid}"' in text, key
    for key, tid in hidden_threads.items():
        assert tid not in text, key
    assert re.search(r'<tr class="unread"><td><a href="/inbox/%s">' % threads["unread"], text)
    assert not re.search(r'<tr class="unread"><td><a href="/inbox/%s">' % threads["read"], text)
    assert "shared by BOB" in text
    assert text.index(threads["unread"]) < text.index(threads["read"]) < text.index(
        threads["shared"])

    assert "ann.google@gmail.test" in text and "bob.google" not in text
    assert "Last synced 5 minutes ago" in text
    assert "Last synced 2 hours ago" in text and "Behind by 2 hours." in text
    assert "Google is rate-limiting us; we will catch up." in text
    assert "raw Google text" not in text and ann_conn not in text

    # Google revoked the grant: the dashboard says what to do.
    world.conn.execute("UPDATE rally.google_connections SET status = 'revoked',"
                       " last_error_kind = 'revoked' WHERE id = %s", (ann_conn,))
    assert "Google asked you to sign in again" in ann.get("/").text


def test_dashboard_without_google_asks_to_connect_and_keeps_the_welcome(world):
    ann, _ = signup(world, "ann@acme.example")
    page = ann.get("/?done=welcome")
    assert "Your workspace is ready." in page.text
    assert "Rally is not connected to Google yet." in page.text
    assert 'href="/integrations"' in page.text
    assert "Nothing scheduled in the next 7 days." in page.text and "No mail yet." in page.text
    assert world.client().get("/").header("location") == "/signin"


def test_the_google_page_escapes_what_it_shows_and_says_when_access_was_revoked(world):
    ann, (a, ann_id) = signup(world, "ann@acme.example")
    hostile = '"><script>alert(1)</script>@gmail.test'
    cid = world.connection(a, ann_id, hostile)
    gone = world.connection(a, ann_id, "old@gmail.test", calendar=False, mail=False,
                            status="revoked")
    world.conn.execute("UPDATE rally.google_connections SET last_error_kind = 'revoked',"
                       " last_error = 'invalid_grant: Token has been expired or revoked.'"
                       " WHERE id = %s", (gone,))
    page = ann.get("/integrations")
    assert page.status == 200
    assert "<script>" not in page.text
    assert "&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;@gmail.test" in page.text
    assert "Access revoked" in page.text and "Google asked you to sign in again" in page.text
    assert "invalid_grant" not in page.text and "Token has been" not in page.text
    # The revoked account offers to turn its integrations on again, not to sync.
    section = page.text.split("old@gmail.test", 1)[1].split("<section", 1)[0]
    assert "Turn on Google Calendar" in section and "Sync Google Calendar now" not in section
    confirm = ann.get(f"/integrations/disconnect?connection={cid}&what=all")
    assert "<script>" not in confirm.text and "Disconnect this Google account?" in confirm.text
    assert "access tokens are deleted at once" in confirm.text
    assert "Rally holds no events synced" in confirm.text
    # Counted when there are some.
    insert(world.conn, "activities", tenant_id=a, owner_id=ann_id, title="mine",
           connection_id=cid)
    thread(world, a, ann_id, cid, "Hello", datetime.datetime.now(datetime.timezone.utc))
    confirm = ann.get(f"/integrations/disconnect?connection={cid}&what=all")
    assert "The 1 activity you created in Rally stays in Rally" in confirm.text
    assert "The 1 conversation Rally synced from Gmail is deleted" in confirm.text
