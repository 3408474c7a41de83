# SPDX-License-Identifier: ISC
"""rallyctl google connect against the Google emulator and a real PostgreSQL:
the consent URL, the code exchange, the stored connection with sealed
tokens, sync state and first jobs, and every way it can go wrong."""

import json
import os
import re
import subprocess

import pytest

from rallytest import program
from rallytest.google import (SCOPE_CALENDAR, SCOPE_EMAIL, SCOPE_GMAIL_MODIFY,
                              SCOPE_GMAIL_SEND)
from rallytest.seal import seal_open

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
EX_USAGE, EX_DATAERR, EX_UNAVAILABLE, EX_CONFIG = 64, 65, 69, 78
USER = "owner@example.com"
ANN = "ann@gmail.com"


def rallyctl(conf, *args, input=None):
    e = dict(os.environ)
    e.pop("CREDENTIALS_DIRECTORY", None)
    r = subprocess.run([program("rallyctl"), "-c", conf, *args], input=input,
                       capture_output=True, text=True, env=e, timeout=120)
    assert "Sanitizer" not in r.stderr and "runtime error:" not in r.stderr, r.stderr
    return r


def ok(conf, *args, **kw):
    r = rallyctl(conf, *args, **kw)
    assert r.returncode == 0, f"rallyctl {' '.join(args)} exited {r.returncode}:\n{r.stderr}"
    return r.stdout.strip()


class Site:
    """A migrated database with a keyring, one tenant and its owner, and a
    rally.conf for rallyctl pointing at the emulator."""

    def __init__(self, pg, db, tmp_path, fg, extra=None):
        self.keyring = tmp_path / "keyring"
        self.conf = fg.rallyctl_config(tmp_path / "rally.conf", pg.conninfo(db), self.keyring,
                                       extra={"passwords": {"argon2_memory_kib": "19456",
                                                            "argon2_iterations": "2",
                                                            "argon2_parallelism": "1"},
                                              **(extra or {})})
        ok(self.conf, "keys", "generate")
        self.tenant = ok(self.conf, "tenant", "create", "Acme")
        self.user = self.add_user(self.tenant, USER)

    def add_user(self, tenant, email):
        return ok(self.conf, "user", "create", "--tenant", tenant, "--email", email,
                  input="pw-for-tests-only-1\n")


@pytest.fixture
def fg(fakegoogle):
    fakegoogle.reset()
    return fakegoogle


@pytest.fixture
def site(pg, db, tmp_path, fg):
    return Site(pg, db, tmp_path, fg)


def connection(conn, cid):
    return conn.execute(
        "SELECT tenant_id::text, user_id::text, google_email, google_subject, scopes,"
        " calendar_enabled, mail_enabled, status, refresh_token, access_token,"
        " extract(epoch from access_token_expires_at - now())::int, last_error"
        " FROM rally.google_connections WHERE id = %s", (cid,)).fetchone()


def tokens(site, cid, row):
    return (seal_open(site.keyring, site.tenant, cid, "refresh_token", row[8]),
            seal_open(site.keyring, site.tenant, cid, "access_token", row[9]))


def nothing_stored(conn):
    return (conn.execute("SELECT count(*) FROM rally.google_connections").fetchone()[0] == 0
            and conn.execute("SELECT count(*) FROM rally.sync_state").fetchone()[0] == 0
            and conn.execute("SELECT count(*) FROM rally.jobs WHERE kind IN"
                             " ('calsync', 'mailsync')").fetchone()[0] == 0)


def token_posts(fg):
    return [r for r in fg.requests_log() if r["method"] == "POST" and r["path"] == "/token"]


def start(fg, site, google_email=ANN, **kw):
    fg.add_account(google_email)
    return fg.start_connect(site.conf, USER, **kw)


# --- the happy paths --------------------------------------------------------------


def test_connect_stores_an_active_connection_with_sealed_tokens_state_and_a_calsync_job(
        pg, db, dbconn, site, fg):
    cid = fg.connect_user(pg, db, site.tenant, USER, ANN, rallyctl_config=site.conf)
    assert UUID.match(cid)

    row = connection(dbconn, cid)
    tenant, user, email, sub, scopes, cal, mail, status, rt, at, expires, err = row
    assert (tenant, user, email, status, cal, mail, err) == (
        site.tenant, site.user, ANN, "active", True, False, None)
    accounts = {a["email"]: a["sub"] for a in fg.admin("GET", "accounts")["accounts"]}
    assert sub == accounts[ANN]
    assert set(scopes) == {"openid", SCOPE_EMAIL, SCOPE_CALENDAR}
    assert 3500 <= expires <= 3599

    refresh, access = tokens(site, cid, row)
    assert refresh.startswith("1//") and access.startswith("ya29.")
    for secret in (refresh, access):
        assert secret.encode() not in bytes(rt) + bytes(at), "tokens are not stored in the clear"
    # They are the ones Google issued: both still work at the emulator.
    status, body = fg.request("POST", "/token", form={
        "grant_type": "refresh_token", "refresh_token": refresh,
        "client_id": fg.client_id, "client_secret": fg.client_secret})
    assert status == 200 and "access_token" in body
    status, body = fg.request("GET", "/v1/userinfo", token=access)
    assert status == 200 and body["email"] == ANN

    assert dbconn.execute("SELECT resource, full_sync_required FROM rally.sync_state"
                          " WHERE connection_id = %s", (cid,)).fetchall() == [("calendar", True)]
    jobs = dbconn.execute("SELECT tenant_id::text, kind, dedupe_key, payload, state"
                          " FROM rally.jobs WHERE kind IN ('calsync', 'mailsync')").fetchall()
    assert jobs == [(site.tenant, "calsync", cid, {"connection_id": cid}, "pending")]


def test_the_authorization_url_asks_for_offline_access_with_pkce_and_a_fresh_state(site, fg):
    first = start(fg, site, mail=True)
    second = start(fg, site)
    try:
        p = first.params
        assert p["client_id"] == fg.client_id and p["redirect_uri"] == fg.redirect_uri
        assert (p["response_type"], p["access_type"], p["prompt"], p["include_granted_scopes"],
                p["code_challenge_method"]) == ("code", "offline", "consent", "true", "S256")
        assert re.match(r"^[A-Za-z0-9_-]{43}$", p["code_challenge"])
        assert first.scopes == ["openid", "email", SCOPE_CALENDAR, SCOPE_GMAIL_MODIFY,
                                SCOPE_GMAIL_SEND]
        assert second.scopes == ["openid", "email", SCOPE_CALENDAR]
        assert len(first.state) >= 43 and first.state != second.state
        assert p["code_challenge"] != second.params["code_challenge"]
    finally:
        first.finish("")
        second.finish("")


def test_connect_with_mail_enables_both_and_queues_both_jobs_json(dbconn, site, fg):
    run = start(fg, site, mail=True, extra_args=["--json"])
    code = fg.authorize(run.url, ANN)
    r = run.finish(fg.redirect_url(code, run.state))
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert set(out) == {"connection_id", "google_email", "calendar", "mail"}
    assert (out["google_email"], out["calendar"], out["mail"]) == (ANN, True, True)
    cid = out["connection_id"]
    row = connection(dbconn, cid)
    assert row[5:7] == (True, True)
    assert {SCOPE_GMAIL_MODIFY, SCOPE_GMAIL_SEND, SCOPE_CALENDAR} <= set(row[4])
    assert sorted(dbconn.execute("SELECT resource FROM rally.sync_state").fetchall()) == [
        ("calendar",), ("mail",)]
    assert sorted(dbconn.execute("SELECT kind, payload FROM rally.jobs WHERE dedupe_key = %s",
                                 (cid,)).fetchall()) == [("calsync", {"connection_id": cid}),
                                                         ("mailsync", {"connection_id": cid})]


def test_mail_alone_connects_mail_and_not_the_calendar(dbconn, site, fg):
    run = start(fg, site, calendar=False, mail=True)
    assert SCOPE_CALENDAR not in run.scopes
    r = run.finish(fg.redirect_url(fg.authorize(run.url, ANN), run.state))
    assert r.returncode == 0, r.stderr
    cid = r.stdout.strip()
    assert connection(dbconn, cid)[5:7] == (False, True)
    assert dbconn.execute("SELECT kind FROM rally.jobs WHERE dedupe_key = %s",
                          (cid,)).fetchall() == [("mailsync",)]


def test_the_bare_code_may_be_pasted_instead_of_the_url(dbconn, site, fg):
    run = start(fg, site)
    r = run.finish(fg.authorize(run.url, ANN))
    assert r.returncode == 0, r.stderr
    assert connection(dbconn, r.stdout.strip())[7] == "active"


def test_reconnecting_the_same_account_updates_the_same_row(pg, db, dbconn, site, fg):
    cid = fg.connect_user(pg, db, site.tenant, USER, ANN, rallyctl_config=site.conf)
    before = tokens(site, cid, connection(dbconn, cid))
    # The calendar was switched off (its tokens went to revocation) and a
    # sync token was left behind.
    dbconn.execute("UPDATE rally.sync_state SET calendar_sync_token = 'old',"
                   " full_sync_required = false WHERE connection_id = %s", (cid,))
    dbconn.execute("UPDATE rally.google_connections SET calendar_enabled = false,"
                   " status = 'error', last_error = 'boom' WHERE id = %s", (cid,))
    # Revoking those tokens at Google would end a new grant too: wait for rallyd.
    r = rallyctl(site.conf, "google", "connect", "--user", USER, input="x\n")
    assert r.returncode == 1 and "queued for revocation" in r.stderr and r.stdout == ""
    dbconn.execute("DELETE FROM rally.token_revocations")
    dbconn.execute("DELETE FROM rally.jobs")

    again = fg.connect_user(pg, db, site.tenant, USER, ANN, rallyctl_config=site.conf)
    assert again == cid
    assert dbconn.execute("SELECT count(*) FROM rally.google_connections").fetchone()[0] == 1
    row = connection(dbconn, cid)
    assert (row[5], row[7], row[11]) == (True, "active", None)
    after = tokens(site, cid, row)
    assert after[0] != before[0] and after[1] != before[1], "new tokens are stored"
    assert dbconn.execute("SELECT calendar_sync_token, full_sync_required FROM rally.sync_state"
                          " WHERE connection_id = %s", (cid,)).fetchone() == (None, True)
    assert dbconn.execute("SELECT kind FROM rally.jobs").fetchall() == [("calsync",)]


def test_reconnecting_for_mail_keeps_the_calendar_on(pg, db, dbconn, site, fg):
    cid = fg.connect_user(pg, db, site.tenant, USER, ANN, rallyctl_config=site.conf)
    dbconn.execute("UPDATE rally.sync_state SET calendar_sync_token = 'tok',"
                   " full_sync_required = false WHERE connection_id = %s", (cid,))
    again = fg.connect_user(pg, db, site.tenant, USER, ANN, calendar=False, mail=True,
                            rallyctl_config=site.conf)
    assert again == cid
    assert connection(dbconn, cid)[5:7] == (True, True)
    assert dbconn.execute("SELECT calendar_sync_token FROM rally.sync_state WHERE resource ="
                          " 'calendar'").fetchone() == ("tok",), "calendar sync continues"


def test_the_refresh_token_never_appears_on_stdout_or_stderr(dbconn, site, fg):
    run = start(fg, site, mail=True)
    r = run.finish(fg.redirect_url(fg.authorize(run.url, ANN), run.state))
    assert r.returncode == 0, r.stderr
    refresh, access = tokens(site, r.stdout.strip(), connection(dbconn, r.stdout.strip()))
    printed = run.url + r.stdout + r.stderr
    assert refresh not in printed and access not in printed
    assert "1//" not in printed and "ya29." not in printed


# --- what can go wrong --------------------------------------------------------------


def test_a_wrong_state_in_the_pasted_url_is_refused_and_nothing_is_stored(dbconn, site, fg):
    run = start(fg, site)
    code = fg.authorize(run.url, ANN)
    r = run.finish(fg.redirect_url(code, "another-runs-state-" + "x" * 30))
    assert r.returncode == EX_DATAERR
    assert "state" in r.stderr and "not this run's" in r.stderr
    assert nothing_stored(dbconn)
    assert token_posts(fg) == [], "the code was not spent"


def test_access_denied_in_the_pasted_url_is_reported(dbconn, site, fg):
    run = start(fg, site)
    r = run.finish(f"{fg.redirect_uri}?error=access_denied&state={run.state}")
    assert r.returncode == EX_DATAERR and "access_denied" in r.stderr
    assert "not allowed" in r.stderr
    assert nothing_stored(dbconn)


def test_an_expired_code_is_invalid_grant_and_nothing_is_stored(dbconn, site, fg):
    run = start(fg, site)
    code = fg.authorize(run.url, ANN)
    fg.admin("POST", "clock", {"advanceSeconds": 601})
    r = run.finish(fg.redirect_url(code, run.state))
    assert r.returncode == EX_DATAERR
    assert "invalid_grant" in r.stderr and "run the command again" in r.stderr
    assert nothing_stored(dbconn)


def test_a_used_code_is_invalid_grant_and_changes_nothing(dbconn, site, fg):
    run = start(fg, site)
    code = fg.authorize(run.url, ANN)
    first = run.finish(fg.redirect_url(code, run.state))
    assert first.returncode == 0, first.stderr
    cid = first.stdout.strip()
    before = connection(dbconn, cid)

    replay = start(fg, site)
    r = replay.finish(code)
    assert r.returncode == EX_DATAERR and "invalid_grant" in r.stderr
    assert connection(dbconn, cid) == before
    assert dbconn.execute("SELECT count(*) FROM rally.google_connections").fetchone()[0] == 1


def test_no_refresh_token_is_an_error_that_says_to_revoke_and_retry(pg, db, dbconn, site, fg):
    cid = fg.connect_user(pg, db, site.tenant, USER, ANN, rallyctl_config=site.conf)
    before = connection(dbconn, cid)
    run = start(fg, site)
    # Google skips the consent screen for a grant it already has when
    # prompt=consent is missing, and then sends no refresh token.
    code = fg.authorize(run.url, ANN, prompt="")
    r = run.finish(fg.redirect_url(code, run.state))
    assert r.returncode == EX_DATAERR
    assert "no refresh token" in r.stderr and "myaccount.google.com/permissions" in r.stderr
    assert connection(dbconn, cid) == before


def test_the_code_exchange_is_not_retried(dbconn, site, fg):
    run = start(fg, site)
    code = fg.authorize(run.url, ANN)
    fg.admin("POST", "faults", {"kind": "503", "pathPrefix": "/token", "count": 1})
    r = run.finish(fg.redirect_url(code, run.state))
    assert r.returncode == EX_UNAVAILABLE, r.stderr
    assert "503" in r.stderr
    assert len(token_posts(fg)) == 1, "one attempt only: a code is single use"
    assert nothing_stored(dbconn)


def test_an_unreachable_token_endpoint_exits_69_with_a_clear_error(pg, db, dbconn, tmp_path, fg):
    site = Site(pg, db, tmp_path, fg, extra={"google": {"token_url": "https://127.0.0.1:1/token"},
                                             "http": {"connect_timeout": "3s"}})
    run = start(fg, site)
    r = run.finish(fg.redirect_url(fg.authorize(run.url, ANN), run.state))
    assert r.returncode == EX_UNAVAILABLE
    assert "cannot reach Google" in r.stderr
    assert nothing_stored(dbconn)


def test_a_wrong_client_secret_is_a_configuration_error(pg, db, dbconn, tmp_path, fg):
    secret = tmp_path / "wrong-secret"
    secret.write_text("GOCSPX-not-the-right-one\n")
    secret.chmod(0o600)
    site = Site(pg, db, tmp_path, fg, extra={"google": {"client_secret_file": str(secret)}})
    run = start(fg, site)
    r = run.finish(fg.redirect_url(fg.authorize(run.url, ANN), run.state))
    assert r.returncode == EX_CONFIG
    assert "invalid_client" in r.stderr and "google.client_id" in r.stderr
    assert "GOCSPX" not in r.stderr
    assert nothing_stored(dbconn)


def test_a_client_secret_readable_by_others_is_refused_before_anything(pg, db, tmp_path, fg):
    secret = tmp_path / "open-secret"
    secret.write_text(fg.client_secret + "\n")
    secret.chmod(0o644)
    site = Site(pg, db, tmp_path, fg, extra={"google": {"client_secret_file": str(secret)}})
    r = rallyctl(site.conf, "google", "connect", "--user", USER, input="x\n")
    assert r.returncode == EX_CONFIG
    assert "readable by others" in r.stderr and r.stdout == ""


def test_the_systemd_credential_overrides_the_secret_file(dbconn, pg, db, tmp_path, fg):
    site = Site(pg, db, tmp_path, fg,
                extra={"google": {"client_secret_file": str(tmp_path / "missing")}})
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "google-client-secret").write_text(fg.client_secret + "\n")
    (creds / "google-client-secret").chmod(0o400)
    fg.add_account(ANN)
    run = fg.start_connect(site.conf, USER, env={"CREDENTIALS_DIRECTORY": str(creds)})
    r = run.finish(fg.redirect_url(fg.authorize(run.url, ANN), run.state))
    assert r.returncode == 0, r.stderr
    assert connection(dbconn, r.stdout.strip())[7] == "active"


def test_an_address_in_two_tenants_needs_tenant(dbconn, site, fg):
    other = ok(site.conf, "tenant", "create", "Globex")
    site.add_user(other, USER)
    r = rallyctl(site.conf, "google", "connect", "--user", USER, input="x\n")
    assert r.returncode == EX_DATAERR and "--tenant" in r.stderr
    assert site.tenant in r.stderr and other in r.stderr and r.stdout == ""

    fg.add_account(ANN)
    run = fg.start_connect(site.conf, USER, tenant_id=other)
    r = run.finish(fg.redirect_url(fg.authorize(run.url, ANN), run.state))
    assert r.returncode == 0, r.stderr
    assert connection(dbconn, r.stdout.strip())[0] == other


@pytest.mark.parametrize("args, status, message", [
    (["--user", "nobody@example.com"], EX_DATAERR, "no user nobody@example.com"),
    (["--user", USER, "--tenant", "not-a-uuid"], EX_USAGE, "not a tenant id"),
    (["--tenant", "11111111-2222-4333-8444-555555555555"], EX_USAGE, "usage:"),
    (["--user", USER, "--tenant", "11111111-2222-4333-8444-555555555555"], EX_DATAERR,
     "no user owner@example.com in tenant"),
])
def test_bad_arguments_and_unknown_users_are_refused(site, args, status, message):
    r = rallyctl(site.conf, "google", "connect", *args, input="x\n")
    assert r.returncode == status and message in r.stderr


@pytest.mark.parametrize("line, message", [
    ("", "no code on stdin"),
    ("https://rally.test/cb?state=abc&state=def&code=x", "malformed"),
    ("https://rally.test/cb?scope=openid", "no usable code"),
    ("code%20with%20space", "no usable code"),
])
def test_unusable_pastes_are_refused(dbconn, site, fg, line, message):
    run = start(fg, site)
    r = run.finish(line)
    assert r.returncode in (EX_USAGE, EX_DATAERR) and message in r.stderr
    assert nothing_stored(dbconn)


def test_a_token_url_that_is_not_https_is_a_configuration_error(pg, db, dbconn, tmp_path, fg):
    site = Site(pg, db, tmp_path, fg, extra={"google": {"token_url": "http://127.0.0.1:1/token"}})
    run = start(fg, site)
    r = run.finish(fg.redirect_url(fg.authorize(run.url, ANN), run.state))
    assert r.returncode == EX_CONFIG and "google.token_url" in r.stderr
    assert nothing_stored(dbconn)
