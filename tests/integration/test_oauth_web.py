# SPDX-License-Identifier: ISC
"""Connecting Google from the web front end: rally.cgi's half as rally_web
calls it (rally.web_oauth_begin, web_oauth_callback, web_oauth_status),
the code handed to a real rallyd through the database, exchanged at the
Google emulator by the oauth-exchange job, and every way the hand-over can
go wrong or be abused (docs/cgi.md, "Connecting Google")."""

import base64
import hashlib
import json
import secrets
import subprocess
import urllib.parse

import psycopg
import pytest

from rallytest import program
from rallytest.daemon import Rallyd, wait_until, write_config
from rallytest.google import SCOPE_CALENDAR, SCOPE_GMAIL_MODIFY, SCOPE_GMAIL_SEND
from rallytest.schema import set_context
from rallytest.seal import seal_open

PASSWORD = "correct horse battery staple 9"
ALL_SCOPES = ["openid", "email", SCOPE_CALENDAR, SCOPE_GMAIL_MODIFY, SCOPE_GMAIL_SEND]
DECLINED = "You declined access at Google."
UNREACHABLE = "Google could not be reached. Please try again."
TOO_LONG = "The sign-in took too long. Please try again."


def sha256(text):
    return hashlib.sha256(text.encode()).digest()


def challenge(verifier):
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(
        b"=").decode()


class Web:
    """A rally.cgi session of one signed-in user: rally_web, the tenant and
    the user set for the session as the CGI does."""

    def __init__(self, pg, db, login_roles, tenant, user):
        self.conn = psycopg.connect(pg.conninfo(db, login_roles["web"]), autocommit=True)
        set_context(self.conn, tenant, user)

    def begin(self, state, verifier, redirect_uri, calendar=True, mail=True):
        return self.conn.execute("SELECT rally.web_oauth_begin(%s, %s, %s, %s, %s)",
                                 (sha256(state), verifier, redirect_uri, calendar, mail)
                                 ).fetchone()[0]

    def callback(self, state, code=None, error=None):
        return self.conn.execute("SELECT rally.web_oauth_callback(%s, %s, %s)",
                                 (sha256(state), code, error)).fetchone()[0]

    def status(self, pending):
        return self.conn.execute("SELECT state, detail, connection_id, google_email"
                                 " FROM rally.web_oauth_status(%s)", (pending,)).fetchall()

    def close(self):
        self.conn.close()


class Attempt:
    """One "Connect Google" click: the state and PKCE verifier the CGI makes,
    the attempt it starts and the consent URL it redirects to."""

    def __init__(self, site, web, google_email, calendar=True, mail=True, redirect_uri=None):
        self.site, self.web, self.google_email = site, web, google_email
        self.state = secrets.token_urlsafe(32)
        self.verifier = secrets.token_urlsafe(48)
        fg = site.fg
        self.id = web.begin(self.state, self.verifier, redirect_uri or fg.redirect_uri,
                            calendar, mail)
        scopes = ["openid", "email"] + ([SCOPE_CALENDAR] if calendar else []) + (
            [SCOPE_GMAIL_MODIFY, SCOPE_GMAIL_SEND] if mail else [])
        self.url = fg.base_url + "/o/oauth2/v2/auth?" + urllib.parse.urlencode({
            "client_id": fg.client_id, "redirect_uri": fg.redirect_uri,
            "response_type": "code", "scope": " ".join(scopes), "access_type": "offline",
            "prompt": "consent", "include_granted_scopes": "true", "state": self.state,
            "code_challenge": challenge(self.verifier), "code_challenge_method": "S256"})

    def allow(self, scopes=None):
        """The user's Allow at Google: the code the browser brings back."""
        self.site.fg.add_account(self.google_email)
        self.code = self.site.fg.authorize(self.url, self.google_email, scopes=scopes)
        return self.code

    def complete(self, scopes=None):
        return self.web.callback(self.state, code=self.allow(scopes))

    def status(self):
        rows = self.web.status(self.id)
        assert len(rows) == 1, rows
        return rows[0]

    def wait(self, timeout=60):
        """The status once rallyd is done with the attempt."""
        wait_until(lambda: self.status()[0] in ("connected", "failed"), timeout=timeout,
                   interval=0.1, message="the attempt to end")
        return self.status()


class Site:
    """Tenant A with ann and bob, tenant B with carol, a keyring, and a rallyd
    talking to the emulator (started by start())."""

    def __init__(self, pg, db, login_roles, fg, tmp_path):
        self.pg, self.db, self.login_roles, self.fg = pg, db, login_roles, fg
        self.conn = pg.connect(db)
        self.keyring = tmp_path / "keyring"
        sections = fg.config_sections()
        sections["keys"] = {"keyring": str(self.keyring)}
        sections["calendar"] = {"poll_interval": "1h"}
        sections["mail"] = {"poll_interval": "1h"}
        self.sections = sections
        self.ctl_conf = str(tmp_path / "rallyctl.conf")
        write_config(self.ctl_conf, dict(sections, database={"conninfo": pg.conninfo(db)}))
        self.ctl("keys", "generate")
        self.a = self.tenant("Acme")
        self.b = self.tenant("Beta")
        self.users = {"ann": self.user(self.a, "ann@acme.test"),
                      "bob": self.user(self.a, "bob@acme.test"),
                      "carol": self.user(self.b, "carol@beta.test")}
        self.tenants = {"ann": self.a, "bob": self.a, "carol": self.b}
        self.webs = {}
        self.daemon = None

    def ctl(self, *args, input=None):
        r = subprocess.run([program("rallyctl"), "-c", self.ctl_conf, *args], input=input,
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, f"rallyctl {args}: {r.stderr}"
        return r

    def tenant(self, name):
        return json.loads(self.ctl("--json", "tenant", "create", name).stdout)["tenant_id"]

    def user(self, tenant, email):
        out = self.ctl("--json", "user", "create", "--tenant", tenant, "--email", email,
                       input=PASSWORD + "\n")
        return json.loads(out.stdout)["user_id"]

    def web(self, name):
        if name not in self.webs:
            self.webs[name] = Web(self.pg, self.db, self.login_roles, self.tenants[name],
                                  self.users[name])
        return self.webs[name]

    def attempt(self, name="ann", google_email=None, **kw):
        return Attempt(self, self.web(name), google_email or f"{name}-{secrets.token_hex(4)}"
                       "@gmail.test", **kw)

    def start(self):
        extra = {k: v for k, v in self.sections.items() if k != "database"}
        self.daemon = Rallyd(self.pg.conninfo(self.db, self.login_roles["daemon"]),
                             name="oauth", extra=extra).start()
        return self.daemon

    def row(self, pending):
        cur = self.conn.execute("SELECT * FROM rally.oauth_pending WHERE id = %s", (pending,))
        r = cur.fetchone()
        return None if r is None else dict(zip([c.name for c in cur.description], r))

    def jobs(self, kind):
        return self.conn.execute("SELECT tenant_id::text, payload, state, attempts, result"
                                 " FROM rally.jobs WHERE kind = %s ORDER BY id",
                                 (kind,)).fetchall()

    def token_posts(self):
        return [r for r in self.fg.requests_log()
                if r["method"] == "POST" and r["path"] == "/token"]

    def close(self):
        for w in self.webs.values():
            w.close()
        if self.daemon is not None:
            self.daemon.stop()
            self.daemon.close()
            out = self.daemon.output()
            # Under --enable-asan/--enable-ubsan.
            assert "Sanitizer" not in out and "runtime error:" not in out, out[-4000:]
        self.conn.close()


@pytest.fixture
def site(pg, db, login_roles, fakegoogle, tmp_path):
    fakegoogle.reset()
    s = Site(pg, db, login_roles, fakegoogle, tmp_path)
    yield s
    s.close()


# --- the happy path ---------------------------------------------------------------


def test_connect_from_the_web_stores_the_connection_and_queues_both_syncs(site):
    site.start()
    at = site.attempt("ann", mail=True)
    assert at.status() == ("waiting", None, None, None)
    assert at.complete() == at.id
    state, detail, cid, email = at.wait()
    assert (state, detail, email) == ("connected", "Google Calendar and Gmail are connected.",
                                      at.google_email)

    conn = site.conn.execute(
        "SELECT tenant_id::text, user_id::text, google_email, calendar_enabled, mail_enabled,"
        " status, refresh_token, access_token FROM rally.google_connections WHERE id = %s",
        (cid,)).fetchone()
    assert conn[:6] == (site.a, site.users["ann"], at.google_email, True, True, "active")
    refresh = seal_open(site.keyring, site.a, str(cid), "refresh_token", conn[6])
    access = seal_open(site.keyring, site.a, str(cid), "access_token", conn[7])
    assert refresh.startswith("1//") and access.startswith("ya29.")
    assert refresh.encode() not in bytes(conn[6]), "tokens are not stored in the clear"

    kinds = {r[0] for r in site.conn.execute(
        "SELECT kind FROM rally.jobs WHERE payload->>'connection_id' = %s", (str(cid),))}
    assert {"calsync", "mailsync"} <= kinds
    assert {r[0] for r in site.conn.execute(
        "SELECT resource FROM rally.sync_state WHERE connection_id = %s", (cid,))} == {
        "calendar", "mail"}

    row = site.row(at.id)
    assert row["code"] is None and row["outcome"] == "connected" and row["finished_at"]
    wait_until(lambda: site.jobs("oauth-exchange")[0][2] == "done", message="the job")
    [job] = site.jobs("oauth-exchange")
    assert job[:3] == (site.a, {"pending_id": str(at.id)}, "done")
    assert job[4] == {"outcome": "connected", "connection_id": str(cid)}
    # Neither the code nor a token reaches the log.
    log = site.daemon.output()
    for secret in (at.code, refresh, access, at.verifier):
        assert secret not in log


def test_a_calendar_only_connect_queues_only_the_calendar_sync(site):
    site.start()
    at = site.attempt("ann", mail=False)
    at.complete()
    state, detail, cid, _ = at.wait()
    assert (state, detail) == ("connected", "Google Calendar is connected.")
    assert site.conn.execute("SELECT calendar_enabled, mail_enabled FROM"
                             " rally.google_connections WHERE id = %s", (cid,)).fetchone() == (
        True, False)
    assert site.conn.execute("SELECT count(*) FROM rally.jobs WHERE kind = 'mailsync'"
                             ).fetchone()[0] == 0


def test_connecting_the_same_account_again_adds_mail_to_the_same_connection(site):
    site.start()
    first = site.attempt("ann", google_email="ann@gmail.test", mail=False)
    first.complete()
    _, _, cid, _ = first.wait()
    again = site.attempt("ann", google_email="ann@gmail.test", calendar=False, mail=True)
    again.complete()
    state, detail, cid2, _ = again.wait()
    assert (state, detail, cid2) == ("connected", "Google Calendar and Gmail are connected.", cid)
    assert site.conn.execute("SELECT count(*), bool_and(calendar_enabled),"
                             " bool_and(mail_enabled) FROM rally.google_connections"
                             ).fetchone() == (1, True, True)


# --- what the user did at Google --------------------------------------------------


def test_declined_consent_fails_at_once_with_words_and_queues_nothing(site):
    at = site.attempt("ann")
    assert at.web.callback(at.state, error="access_denied") == at.id
    assert at.status() == ("failed", DECLINED, None, None)
    assert site.jobs("oauth-exchange") == []
    assert site.row(at.id)["error"] == "access_denied"


def test_another_error_from_google_fails_with_a_generic_message_and_a_clean_error_word(site):
    at = site.attempt("ann")
    assert at.web.callback(at.state, error="server_error\n<script>") == at.id
    state, detail, _, _ = at.status()
    assert state == "failed" and detail.startswith("Google did not complete the sign-in")
    assert site.row(at.id)["error"] == "server_error??script?"


def test_a_callback_without_a_usable_code_fails_without_a_job(site):
    at = site.attempt("ann")
    assert at.web.callback(at.state, code="has a space") == at.id
    assert at.status()[0] == "failed"
    assert site.jobs("oauth-exchange") == []


def test_scopes_not_granted_fail_with_words_and_store_nothing(site):
    site.start()
    at = site.attempt("ann")
    at.complete(scopes=["openid", "email"])
    state, detail, cid, _ = at.wait()
    assert state == "failed" and cid is None
    assert detail.startswith("Google did not grant the Calendar or Gmail access")
    assert site.conn.execute("SELECT count(*) FROM rally.google_connections").fetchone()[0] == 0
    assert site.row(at.id)["code"] is None


def test_mail_not_fully_granted_connects_the_calendar_and_says_why_mail_is_off(site):
    site.start()
    at = site.attempt("ann")
    at.complete(scopes=["openid", "email", SCOPE_CALENDAR, SCOPE_GMAIL_MODIFY])
    state, detail, cid, _ = at.wait()
    assert state == "connected"
    assert detail == ("Google Calendar is connected. Gmail is not: Google did not grant "
                      "Rally both read and send access to it.")
    assert site.conn.execute("SELECT calendar_enabled, mail_enabled FROM"
                             " rally.google_connections WHERE id = %s", (cid,)).fetchone() == (
        True, False)


# --- the state: once, for its own user, in time -----------------------------------


def test_a_replayed_callback_is_refused_and_queues_no_second_exchange(site):
    site.start()
    at = site.attempt("ann")
    at.complete()
    assert at.web.callback(at.state, code=at.code) is None
    assert at.wait()[0] == "connected"
    assert at.web.callback(at.state, code=at.code) is None
    assert at.web.callback(at.state, error="access_denied") is None
    assert len(site.jobs("oauth-exchange")) == 1
    assert len(site.token_posts()) == 1
    assert at.status()[0] == "connected"


@pytest.mark.parametrize("other", ["bob", "carol"])
def test_another_users_or_tenants_session_cannot_use_a_state(site, other):
    at = site.attempt("ann")
    code = at.allow()
    before = site.row(at.id)
    web = site.web(other)
    assert web.callback(at.state, code=code) is None
    assert web.callback(at.state, error="access_denied") is None
    assert site.row(at.id) == before
    assert site.jobs("oauth-exchange") == []
    # Nor do they learn how it is going.
    assert web.status(at.id) == []
    # The owner still can.
    assert at.web.callback(at.state, code=code) == at.id


def test_a_state_the_database_never_saw_gets_the_same_answer(site):
    assert site.web("ann").callback(secrets.token_urlsafe(32), code="4/abc") is None


def test_an_expired_attempt_refuses_its_callback_and_shows_failed(site):
    at = site.attempt("ann")
    site.conn.execute("UPDATE rally.oauth_pending SET created_at = now() - interval '20 minutes',"
                      " expires_at = now() - interval '5 minutes' WHERE id = %s", (at.id,))
    assert at.web.callback(at.state, code=at.allow()) is None
    assert at.status() == ("failed", TOO_LONG, None, None)
    assert site.jobs("oauth-exchange") == []


def test_an_attempt_that_expired_before_rallyd_took_it_fails_without_asking_google(site):
    at = site.attempt("ann")
    assert at.complete() == at.id
    site.conn.execute("UPDATE rally.oauth_pending SET created_at = now() - interval '20 minutes',"
                      " expires_at = now() - interval '5 minutes' WHERE id = %s", (at.id,))
    site.start()
    wait_until(lambda: site.jobs("oauth-exchange")[0][2] == "done", message="the job")
    assert at.status()[:2] == ("failed", TOO_LONG)
    assert site.row(at.id)["code"] is None
    assert site.token_posts() == []


# --- Google's answers ---------------------------------------------------------------


def test_google_answering_invalid_grant_fails_the_attempt_in_words(site):
    at = site.attempt("ann")
    at.allow()
    # The code outlives its ten minutes at Google before rallyd gets to it.
    site.fg.admin("POST", "clock", {"advanceSeconds": 700})
    at.web.callback(at.state, code=at.code)
    site.start()
    state, detail, cid, _ = at.wait()
    assert state == "failed" and cid is None
    assert detail.startswith("The sign-in took too long, or its code was already used")
    assert site.row(at.id)["code"] is None
    assert [r["status"] for r in site.token_posts()] == [400]
    wait_until(lambda: site.jobs("oauth-exchange")[0][2] == "done", message="the job")
    [job] = site.jobs("oauth-exchange")
    assert job[2] == "done" and job[4] == {"outcome": "failed", "reason": "invalid_grant"}


def test_google_unavailable_then_back_is_retried_until_connected(site):
    site.fg.admin("POST", "faults", {"kind": "503", "count": 2, "pathPrefix": "/token"})
    site.start()
    at = site.attempt("ann")
    at.complete()
    state, _, cid, _ = at.wait()
    assert state == "connected" and cid
    assert [r["status"] for r in site.token_posts()] == [503, 503, 200]
    wait_until(lambda: site.jobs("oauth-exchange")[0][2] == "done", message="the job")
    [job] = site.jobs("oauth-exchange")
    assert job[2] == "done" and job[3] == 3


def test_google_unreachable_through_every_attempt_fails_with_try_again(site):
    site.fg.admin("POST", "faults", {"kind": "503", "count": 100, "pathPrefix": "/token"})
    site.start()
    at = site.attempt("ann")
    at.complete()
    assert at.wait(timeout=90)[:3] == ("failed", UNREACHABLE, None)
    wait_until(lambda: site.jobs("oauth-exchange")[0][2] == "failed", message="the job")
    [job] = site.jobs("oauth-exchange")
    assert job[2] == "failed" and job[3] == 6
    assert site.conn.execute("SELECT last_error FROM rally.jobs WHERE kind = 'oauth-exchange'"
                             ).fetchone()[0] == "token endpoint: HTTP 503, try again later"
    assert site.row(at.id)["code"] is None


def test_an_attempt_for_another_redirect_uri_fails_without_spending_the_code(site):
    site.start()
    at = site.attempt("ann", redirect_uri="https://elsewhere.example/oauth/callback")
    at.complete()
    state, detail, _, _ = at.wait()
    assert (state, detail) == ("failed", "Rally is not set up to connect Google accounts yet. "
                               "Please tell your administrator.")
    assert site.token_posts() == []
    assert "google.redirect_uri" in site.daemon.output()


def test_rallyd_stopping_mid_exchange_leaves_the_attempt_to_the_next_run(site):
    # Google takes longer than rallyd's shutdown timeout (3 s): the job is cancelled.
    site.fg.admin("POST", "faults", {"kind": "latency", "latencyMs": 8000,
                                     "pathPrefix": "/token"})
    d = site.start()
    at = site.attempt("ann")
    at.complete()
    wait_until(lambda: site.fg.admin("GET", "faults")["faults"][0]["fired"] == 1,
               message="the exchange to reach Google")
    assert d.stop() == 0
    assert site.jobs("oauth-exchange")[0][2] == "pending"
    assert at.status()[0] == "connecting"
    # The next run ends it: connected, or, had Google redeemed the code for
    # the answer nobody read, told so in words.
    site.start()
    state, detail, _, _ = at.wait()
    assert (state == "connected" or detail.startswith("The sign-in took too long")), detail
    assert site.row(at.id)["code"] is None


def test_the_exchange_waits_while_earlier_tokens_of_the_user_await_revocation(site):
    at = site.attempt("ann")
    at.complete()
    cid = site.conn.execute(
        "INSERT INTO rally.google_connections (tenant_id, user_id, google_email, google_subject,"
        " calendar_enabled) VALUES (%s, %s, 'old@gmail.test', 'old-sub', true) RETURNING id",
        (site.a, site.users["ann"])).fetchone()[0]
    site.conn.execute("INSERT INTO rally.token_revocations (tenant_id, connection_id,"
                      " refresh_token) VALUES (%s, %s, '\\x00')", (site.a, cid))
    load = "SELECT revocation_pending FROM rally.oauth_exchange_load(%s, %s)"
    assert site.conn.execute(load, (site.a, at.id)).fetchone() == (True,)
    site.conn.execute("DELETE FROM rally.token_revocations")
    assert site.conn.execute(load, (site.a, at.id)).fetchone() == (False,)
    assert site.conn.execute(load, (site.b, at.id)).fetchone() is None


# --- a hostile producer of jobs -------------------------------------------------------


def test_hostile_payloads_touch_no_attempt_and_never_reach_google(site):
    at = site.attempt("ann")
    at.complete()
    # Ann's own job is set aside: only the forged ones run.
    site.conn.execute("DELETE FROM rally.jobs WHERE kind = 'oauth-exchange'")
    before = site.row(at.id)
    forged = [(site.b, {"pending_id": str(at.id)}),              # another tenant's attempt
              (site.b, {"pending_id": str(at.id).upper()}),
              (site.a, {"pending_id": "not-a-uuid"}),
              (site.a, {"pending_id": 42}),
              (site.a, {}),
              (site.a, {"pending_id": "00000000-0000-0000-0000-000000000000"})]
    for tenant, payload in forged:
        site.conn.execute("INSERT INTO rally.jobs (tenant_id, kind, payload, max_attempts)"
                          " VALUES (%s, 'oauth-exchange', %s, 1)", (tenant, json.dumps(payload)))
    site.start()
    wait_until(lambda: all(j[2] in ("done", "failed") for j in site.jobs("oauth-exchange")),
               message="the forged jobs to end")
    assert site.row(at.id) == before
    assert site.token_posts() == []
    assert site.conn.execute("SELECT count(*) FROM rally.google_connections").fetchone()[0] == 0
    assert {j[4]["outcome"] for j in site.jobs("oauth-exchange") if j[2] == "done"} == {"none"}


def test_an_inactive_user_gets_no_exchange(site):
    at = site.attempt("ann")
    at.complete()
    site.conn.execute("UPDATE rally.users SET status = 'deletion_pending',"
                      " deletion_requested_at = now() WHERE id = %s",
                      (site.users["ann"],))
    site.start()
    wait_until(lambda: site.jobs("oauth-exchange")[0][2] == "done", message="the job")
    assert site.token_posts() == []
    assert site.row(at.id)["code"] is not None


# --- what rally_web may do ------------------------------------------------------------


def test_web_reads_how_it_went_but_never_the_code_or_the_verifier(site):
    at = site.attempt("ann")
    at.complete()
    conn = at.web.conn
    for column in ("code", "pkce_verifier", "*"):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(f"SELECT {column} FROM rally.oauth_pending")
    assert conn.execute("SELECT outcome, outcome_detail, connection_id, finished_at,"
                        " callback_at IS NOT NULL FROM rally.oauth_pending").fetchall() == [
        (None, None, None, None, True)]
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("UPDATE rally.oauth_pending SET code = 'x'")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("INSERT INTO rally.oauth_pending (tenant_id, user_id, state_hash,"
                     " pkce_verifier, redirect_uri, want_calendar) VALUES (%s, %s, %s, %s,"
                     " 'https://x/cb', true)", (site.a, site.users["ann"], sha256("s"),
                                                "v" * 43))
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("SELECT rally.oauth_exchange_load(%s, %s)", (site.a, at.id))


def test_begin_needs_an_active_account_and_something_to_connect(site):
    web = site.web("ann")
    with pytest.raises(psycopg.errors.InvalidParameterValue):
        web.begin("s", "v" * 43, site.fg.redirect_uri, calendar=False, mail=False)
    site.conn.execute("UPDATE rally.users SET status = 'deletion_pending',"
                      " deletion_requested_at = now() WHERE id = %s",
                      (site.users["ann"],))
    assert web.begin("s", "v" * 43, site.fg.redirect_uri) is None
    nobody = Web(site.pg, site.db, site.login_roles, None, None)
    try:
        assert nobody.begin("s2", "v" * 43, site.fg.redirect_uri) is None
    finally:
        nobody.close()
    assert site.conn.execute("SELECT count(*) FROM rally.oauth_pending").fetchone()[0] == 0


def test_begin_keeps_five_outstanding_attempts_and_drops_expired_ones(site):
    old = site.attempt("ann")
    site.conn.execute("UPDATE rally.oauth_pending SET created_at = now() - interval '20 minutes',"
                      " expires_at = now() - interval '5 minutes' WHERE id = %s", (old.id,))
    attempts = [site.attempt("ann") for _ in range(7)]
    site.attempt("bob")
    ids = {r[0] for r in site.conn.execute(
        "SELECT id FROM rally.oauth_pending WHERE user_id = %s", (site.users["ann"],))}
    assert ids == {a.id for a in attempts[2:]}
    assert site.conn.execute("SELECT count(*) FROM rally.oauth_pending WHERE user_id = %s",
                             (site.users["bob"],)).fetchone()[0] == 1


def test_prune_removes_attempts_a_day_after_they_ended(site):
    done = site.attempt("ann")
    done.web.callback(done.state, error="access_denied")
    fresh = site.attempt("bob")
    site.conn.execute("UPDATE rally.oauth_pending SET created_at = now() - interval '2 days',"
                      " expires_at = now() - interval '47 hours',"
                      " callback_at = now() - interval '2 days',"
                      " finished_at = now() - interval '2 days' WHERE id = %s", (done.id,))
    n = site.conn.execute("SELECT oauth_pending FROM rally.prune_batch(604800, 86400)"
                          ).fetchone()[0]
    assert n == 1 and site.row(done.id) is None and site.row(fresh.id) is not None
