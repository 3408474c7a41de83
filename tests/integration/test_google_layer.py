# SPDX-License-Identifier: ISC
"""rallyd's layer for calling Google on behalf of a connection (daemon/google.c),
the keyring it needs, and the token-revoke job, against the Google emulator and
a real PostgreSQL.  Calls are made through the diagnostic job kind google-probe,
so what is proven here is what every Google job gets."""

import json
import os
import shutil
import signal
import subprocess
import time
import uuid

import pytest

from rallytest import BUILDDIR, journal, program
from rallytest.daemon import Rallyd, wait_until, write_config

PASSWORD = "correct horse battery staple 11"
MSGID_GOOGLE_REVOKED = "fff667d254494fffb53455d77601ae0c"
MSGID_KEYRING_INVALID = "15a9a4166f4c4c2296ca7963aba44209"
MSGID_KEY_MISSING = "0c5d0e4f7a8b4e6f9d3c2b1a49e8f7d6"
EX_CONFIG = 78
EVENTS = "/calendar/v3/calendars/primary/events"


def seal_tool(*args, input, check=True):
    return subprocess.run([str(BUILDDIR / "tests" / "unit" / "seal-tool"), *args],
                          input=input, capture_output=True, check=check, timeout=30)


def open_sealed(keyring, tenant, row, column, value):
    """The plaintext of a sealed value, or None when it does not open there."""
    r = seal_tool("open", str(keyring), str(tenant), str(row), column,
                  input=bytes(value).hex().encode(), check=False)
    return r.stdout.decode() if r.returncode == 0 else None


def seal(keyring, tenant, row, column, plaintext):
    out = seal_tool("seal", str(keyring), str(tenant), str(row), column,
                    input=plaintext.encode()).stdout
    return bytes.fromhex(out.decode())


class Account:
    """A tenant and a user whose Google account is connected (rallyctl google
    connect against the emulator), and the rallyd processes a test starts."""

    def __init__(self, pg, db, login_roles, fg, tmp_path, name="ada", calendar=True, mail=False):
        self.pg, self.db, self.fg, self.dir = pg, db, fg, tmp_path
        self.conn = pg.connect(db)
        self.keyring = tmp_path / "keyring"
        self.sections = fg.config_sections()
        self.sections.setdefault("keys", {})["keyring"] = str(self.keyring)
        self.sections["calendar"] = {"poll_interval": "1d"}
        self.ctl_conf = str(tmp_path / "rallyctl.conf")
        write_config(self.ctl_conf, dict(self.sections, database={"conninfo": pg.conninfo(db)}))
        self.ctl("keys", "generate")
        self.tenant = json.loads(self.ctl("--json", "tenant", "create", "Acme").stdout)["tenant_id"]
        self.daemon_conninfo = pg.conninfo(db, login_roles["daemon"])
        self.daemons = []
        self.users = {}
        self.connection = self.add_user(name, calendar=calendar, mail=mail)
        self.google_email = self.users[self.connection]

    def ctl(self, *args, input=None):
        r = subprocess.run([program("rallyctl"), "-c", self.ctl_conf, *args], input=input,
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, f"rallyctl {args}: {r.stderr}"
        return r

    def add_user(self, name, calendar=True, mail=False):
        """A user of the tenant with a connected Google account; its connection id."""
        email = f"{name}@acme.test"
        self.ctl("--json", "user", "create", "--tenant", self.tenant, "--email", email,
                 "--name", name, input=PASSWORD + "\n")
        google_email = f"{name}-{uuid.uuid4().hex[:8]}@gmail.test"
        connection = str(self.fg.connect_user(self.pg, self.db, self.tenant, email, google_email,
                                              calendar=calendar, mail=mail,
                                              rallyctl_config=self.ctl_conf))
        self.users[connection] = google_email
        # Only this layer is under test: no calendar sync (the first one
        # connect queued, or the periodic ones) calls Google beside it.
        self.conn.execute("DELETE FROM rally.sync_state WHERE tenant_id = %s", (self.tenant,))
        self.conn.execute("DELETE FROM rally.jobs WHERE tenant_id = %s", (self.tenant,))
        return connection

    def start(self, name="g", extra=None, log_target="stderr", keyring=None, wait_ready=True):
        sections = {k: dict(v) for k, v in self.sections.items() if k != "database"}
        if keyring is not None:
            sections["keys"]["keyring"] = str(keyring)
        for section, keys in (extra or {}).items():
            sections.setdefault(section, {}).update(keys)
        d = Rallyd(self.daemon_conninfo, name=f"{name}-{len(self.daemons)}", extra=sections,
                   log_target=log_target)
        self.daemons.append(d)
        return d.start(wait_ready=wait_ready)

    def close(self):
        """Stops the daemons; a sanitizer's report in any output fails the test."""
        outputs = []
        for d in self.daemons:
            if d.proc is not None and d.proc.poll() is None:
                d.stop()
            outputs.append(d.output())
            d.close()
        self.conn.close()
        for out in outputs:
            assert "Sanitizer" not in out and "runtime error:" not in out, out

    # --- jobs ---------------------------------------------------------------
    def url(self, path="/calendars/primary/events?maxResults=1"):
        return self.sections["google"]["calendar_url"].rstrip("/") + path

    def add_job(self, kind, payload, tenant=None):
        return self.conn.execute(
            "INSERT INTO rally.jobs (tenant_id, kind, payload) VALUES (%s, %s, %s) RETURNING id",
            (tenant or self.tenant, kind, json.dumps(payload))).fetchone()[0]

    def probe(self, url=None, connection=None, **extra):
        payload = {"connection_id": connection or self.connection, "url": url or self.url()}
        payload.update(extra)
        return self.add_job("google-probe", payload)

    def job(self, jid):
        cur = self.conn.execute(
            "SELECT state, attempts, last_error, result, started_at, finished_at"
            " FROM rally.jobs WHERE tenant_id = %s AND id = %s", (self.tenant, jid))
        cols = [c.name for c in cur.description]
        return dict(zip(cols, cur.fetchone()))

    def finished(self, jid, timeout=30):
        wait_until(lambda: self.job(jid)["state"] in ("done", "failed"), timeout=timeout,
                   message=f"job {jid} to finish ({self.job(jid)})")
        return self.job(jid)

    def result(self, jid, timeout=30):
        j = self.finished(jid, timeout)
        assert j["state"] == "done", j
        return j["result"]

    # --- the connection row and the emulator ---------------------------------
    def row(self, connection=None):
        cur = self.conn.execute(
            "SELECT status, calendar_enabled, mail_enabled, refresh_token, access_token,"
            " access_token_expires_at, last_error, last_error_kind"
            " FROM rally.google_connections WHERE tenant_id = %s AND id = %s",
            (self.tenant, connection or self.connection))
        cols = [c.name for c in cur.description]
        return dict(zip(cols, cur.fetchone()))

    def tokens(self, connection=None):
        """The plaintext refresh and access tokens stored for the connection."""
        connection = connection or self.connection
        r = self.row(connection)
        return (open_sealed(self.keyring, self.tenant, connection, "refresh_token", r["refresh_token"]),
                open_sealed(self.keyring, self.tenant, connection, "access_token", r["access_token"]))

    def mark(self):
        return self.fg.admin("GET", f"requests?since={10 ** 12}")["last"]

    def requests(self, since, path=None):
        got = self.fg.admin("GET", f"requests?since={since}")["requests"]
        return [e for e in got if path is None or e["path"] == path]

    def probe_requests(self, since):
        """The probes' own calls (the default URL), not other jobs' traffic."""
        return [e for e in self.requests(since, EVENTS)
                if e["query"].get("maxResults") == ["1"]]

    def token_requests(self, since):
        return self.requests(since, "/token")

    def admin(self, method, path, body=None):
        return self.fg.admin(method, path, body)


@pytest.fixture
def acct(pg, db, login_roles, fakegoogle, tmp_path):
    a = Account(pg, db, login_roles, fakegoogle, tmp_path)
    yield a
    a.close()
    fakegoogle.admin("DELETE", "faults")


@pytest.fixture(scope="module")
def journald():
    proc = journal.ensure_journald()
    yield
    if proc is not None:
        proc.terminate()
        proc.wait()


def no_sanitizer_report(d):
    out = d.output()
    assert "Sanitizer" not in out and "runtime error:" not in out, out


# --- calls ------------------------------------------------------------------------

def test_call_succeeds_with_the_access_token_connect_stored(acct):
    d = acct.start()
    since = acct.mark()
    r = acct.result(acct.probe())
    assert r == {"status": 200, "err": "ok", "reason": "", "message": ""}
    # The token rallyctl google connect stored was opened, not refreshed.
    assert acct.token_requests(since) == []
    calls = acct.probe_requests(since)
    assert [e["status"] for e in calls] == [200]
    assert d.stop() == 0
    no_sanitizer_report(d)


def test_expired_access_token_is_refreshed_once_and_stored_sealed(acct):
    d = acct.start()
    acct.result(acct.probe())                  # the token is now cached in memory
    before = acct.row()
    old_refresh, old_access = acct.tokens()
    acct.admin("POST", f"accounts/{acct.google_email}/expire-access-tokens")
    since = acct.mark()

    r = acct.result(acct.probe())
    assert r["status"] == 200 and r["err"] == "ok"
    calls = acct.probe_requests(since)
    assert [e["status"] for e in calls] == [401, 200]
    assert len(acct.token_requests(since)) == 1

    after = acct.row()
    assert bytes(after["access_token"]) != bytes(before["access_token"])
    assert after["access_token_expires_at"] != before["access_token_expires_at"]
    assert after["access_token_expires_at"].timestamp() > time.time() + 3000
    refresh, access = acct.tokens()
    assert refresh == old_refresh and access and access != old_access
    # Sealed for its own column of its own row: nowhere else does it open.
    assert open_sealed(acct.keyring, acct.tenant, acct.connection, "refresh_token",
                       after["access_token"]) is None
    assert access.encode() not in bytes(after["access_token"])
    assert d.stop() == 0
    for t in (old_access, access, refresh):
        assert t not in d.output()
    no_sanitizer_report(d)


def test_user_revoking_access_at_google_revokes_the_connection(acct, journald):
    before = journal.cursor()
    d = acct.start(log_target="journal")
    acct.result(acct.probe())
    refresh, access = acct.tokens()
    acct.admin("POST", f"accounts/{acct.google_email}/revoke", {})

    r = acct.result(acct.probe())
    assert r["err"] == "revoked", r

    row = acct.row()
    assert row["status"] == "revoked"
    assert not row["calendar_enabled"] and not row["mail_enabled"]
    assert row["refresh_token"] is None and row["access_token"] is None
    assert row["access_token_expires_at"] is None
    assert row["last_error_kind"] == "revoked" and row["last_error"]
    # The trigger queued the tokens; token-revoke revoked and deleted them.
    wait_until(lambda: acct.conn.execute(
        "SELECT count(*) FROM rally.jobs WHERE tenant_id = %s AND kind = 'token-revoke'"
        " AND state = 'done'", (acct.tenant,)).fetchone()[0] == 1, message="token-revoke done")
    assert acct.conn.execute("SELECT count(*) FROM rally.token_revocations").fetchone()[0] == 0
    purge = acct.conn.execute(
        "SELECT payload FROM rally.jobs WHERE tenant_id = %s AND kind = 'calpurge'",
        (acct.tenant,)).fetchall()
    assert purge == [({"connection_id": acct.connection},)]
    assert acct.conn.execute(
        "SELECT count(*) FROM rally.jobs WHERE tenant_id = %s AND kind = 'mailpurge'",
        (acct.tenant,)).fetchone()[0] == 0     # Gmail was not enabled
    # The same path as a disconnect of both: audit and ledger name the
    # connection by its keyed hash only.
    audit = acct.conn.execute(
        "SELECT actor, action, detail,"
        " rally.ledger_matches(subject_hash, hash_key_id, 'connection', %s)"
        " FROM rally.audit_log WHERE tenant_id = %s"
        " AND action = 'google.access_revoked'", (acct.connection, acct.tenant)).fetchall()
    assert audit == [("google", "google.access_revoked",
                      {"calendar": True, "mail": False, "tokens_released": True}, True)]
    ledger = acct.conn.execute(
        "SELECT kind, rally.ledger_matches(subject_hash, hash_key_id, 'connection', %s)"
        " FROM rally.deletion_ledger WHERE tenant_id = %s", (acct.connection, acct.tenant)
    ).fetchall()
    assert ledger == [("calendar_disconnect", True)]

    found = journal.wait_entries("SYSLOG_IDENTIFIER=rallyd", f"MESSAGE_ID={MSGID_GOOGLE_REVOKED}",
                                 since_cursor=before)
    assert len(found) == 1, found
    e = found[0]
    assert e["PRIORITY"] == "5"
    assert e["RALLY_TENANT"] == acct.tenant and e["RALLY_CONNECTION"] == acct.connection

    # A later call finds no connection to use; nothing is refreshed again.
    since = acct.mark()
    assert acct.result(acct.probe())["err"] == "not_connected"
    assert acct.token_requests(since) == []
    assert d.stop() == 0
    everything = json.dumps(journal.entries("SYSLOG_IDENTIFIER=rallyd", since_cursor=before))
    everything += d.output()
    for t in (refresh, access):
        assert t and t not in everything
    no_sanitizer_report(d)


def test_disconnect_revokes_the_tokens_at_google_and_deletes_the_last_copy(acct):
    d = acct.start()
    refresh, access = acct.tokens()
    assert acct.fg.request("GET", EVENTS + "?maxResults=1", token=access)[0] == 200
    since = acct.mark()
    acct.conn.execute("UPDATE rally.google_connections SET calendar_enabled = false"
                      " WHERE tenant_id = %s AND id = %s", (acct.tenant, acct.connection))
    wait_until(lambda: acct.conn.execute(
        "SELECT count(*) FROM rally.token_revocations").fetchone()[0] == 0,
        message="token_revocations emptied")
    revokes = acct.requests(since, "/revoke")
    assert [e["status"] for e in revokes] == [200]
    # The row goes before the job's end is recorded.
    wait_until(lambda: acct.conn.execute(
        "SELECT state FROM rally.jobs WHERE tenant_id = %s AND kind = 'token-revoke'",
        (acct.tenant,)).fetchone()[0] == "done", message="token-revoke done")
    j = acct.conn.execute("SELECT state, result FROM rally.jobs WHERE tenant_id = %s"
                          " AND kind = 'token-revoke'", (acct.tenant,)).fetchall()
    assert j == [("done", {"revoked": 1, "deleted_unrevoked": 0, "kept": 0})]
    # The grant is gone at Google: neither token works any more.
    assert acct.fg.request("GET", EVENTS + "?maxResults=1", token=access)[0] == 401
    status, body = acct.fg.request("POST", "/token", form={
        "grant_type": "refresh_token", "refresh_token": refresh,
        "client_id": acct.fg.client_id, "client_secret": acct.fg.client_secret})
    assert status == 400 and body["error"] == "invalid_grant"
    assert acct.result(acct.probe())["err"] == "not_connected"
    assert d.stop() == 0
    assert refresh not in d.output() and access not in d.output()


def test_refresh_google_cannot_answer_is_unavailable_and_the_job_retries(acct):
    acct.start(extra={"http": {"max_retries": "1"}})
    acct.admin("POST", f"accounts/{acct.google_email}/expire-access-tokens")
    acct.admin("POST", "faults", {"kind": "503", "count": 2, "pathPrefix": "/token"})
    jid = acct.probe()
    assert acct.result(jid)["err"] == "ok"
    runs = acct.conn.execute("SELECT outcome, error FROM rally.job_runs WHERE job_id = %s"
                             " ORDER BY attempt", (jid,)).fetchall()
    assert [r[0] for r in runs] == ["retry", "done"], runs
    assert "token refresh" in runs[0][1]
    # The connection is not touched by a failure of Google's.
    assert acct.row()["status"] == "active"


def test_injected_503s_are_retried_until_the_call_succeeds(acct):
    acct.start()
    acct.result(acct.probe())
    since = acct.mark()
    acct.admin("POST", "faults", {"kind": "503", "count": 2, "pathPrefix": "/calendar/"})
    r = acct.result(acct.probe())
    assert r["status"] == 200 and r["err"] == "ok"
    calls = acct.probe_requests(since)
    assert [e["status"] for e in calls] == [503, 503, 200]


def test_retry_after_of_a_429_is_honoured(acct):
    acct.start()
    acct.result(acct.probe())
    acct.admin("POST", "faults", {"kind": "429", "count": 1, "retryAfter": 2,
                                          "pathPrefix": "/calendar/"})
    j = acct.finished(acct.probe())
    assert j["result"]["status"] == 200
    # Without Retry-After the first retry comes within 0.5 s (http's backoff).
    assert (j["finished_at"] - j["started_at"]).total_seconds() >= 2.0


def test_a_retry_after_longer_than_http_waits_reschedules_the_job(acct):
    """Google asks for 90 s, more than lib/http sleeps (60 s): the wait is
    not cut short, and no process sleeps through it: the job is put back
    for then."""
    acct.start()
    acct.result(acct.probe())
    acct.admin("POST", "faults", {"kind": "429", "count": 1, "retryAfter": 90,
                                  "pathPrefix": "/calendar/"})
    since = acct.mark()
    jid = acct.probe()
    wait_until(lambda: acct.job(jid)["attempts"] == 1 and acct.job(jid)["state"] == "pending",
               timeout=10, message="the probe put back")
    wait = acct.conn.execute("SELECT extract(epoch FROM run_at - now()) FROM rally.jobs"
                             " WHERE id = %s", (jid,)).fetchone()[0]
    assert 80 <= float(wait) <= 91, wait
    assert [e["status"] for e in acct.probe_requests(since)] == [429]


def test_403_rate_limit_is_retried_after_its_retry_after(acct):
    acct.start()
    acct.result(acct.probe())
    # Calendar's quota answers 403 rateLimitExceeded with Retry-After: the
    # seconds left in the emulator's minute.  Put its clock 2.5 s before the
    # end of a fresh minute, allow one call a minute, and make two.
    offset = acct.admin("POST", "clock", {"advanceSeconds": 0})["offsetSeconds"]
    into_minute = (time.time() + offset) % 60
    acct.admin("POST", "clock", {"advanceSeconds": (57.5 - into_minute) % 60 + 60})
    acct.admin("POST", "settings", {"calendarRequestsPerMinute": 1})
    try:
        since = acct.mark()
        assert acct.result(acct.probe())["err"] == "ok"
        j = acct.finished(acct.probe())
    finally:
        acct.admin("POST", "settings", {"calendarRequestsPerMinute": 60000})
    assert j["result"]["err"] == "ok", j
    assert [e["status"] for e in acct.probe_requests(since)] == [200, 403, 200]
    assert (j["finished_at"] - j["started_at"]).total_seconds() >= 1.0


def test_garbage_error_bodies_become_typed_errors(acct):
    d = acct.start()
    acct.result(acct.probe())
    for status, kind in ((400, "rejected"), (404, "not_found"), (409, "conflict"),
                         (410, "gone"), (412, "precondition"), (403, "rejected")):
        acct.admin("POST", "faults", {"kind": "garbage", "count": 1, "status": status,
                                              "pathPrefix": "/calendar/"})
        r = acct.result(acct.probe())
        assert r["status"] == status and r["err"] == kind and r["reason"] == "", r
        assert r["message"].startswith(f"HTTP {status}") and "\n" not in r["message"]
    # An error Google explains keeps its reason and message (one line, bounded).
    r = acct.result(acct.probe(url=acct.url("/calendars/primary/events/no-such-event")))
    assert r["status"] == 404 and r["err"] == "not_found" and r["reason"] == "notFound"
    assert 0 < len(r["message"]) <= 300
    assert d.proc.poll() is None
    no_sanitizer_report(d)


def test_truncated_bodies_and_resets_are_retried(acct):
    acct.start()
    acct.result(acct.probe())
    since = acct.mark()
    acct.admin("POST", "faults", {"kind": "reset", "count": 1, "pathPrefix": "/calendar/"})
    acct.admin("POST", "faults", {"kind": "truncate", "count": 1, "pathPrefix": "/calendar/"})
    assert acct.result(acct.probe())["err"] == "ok"
    assert len(acct.probe_requests(since)) == 3


def test_burst_of_200_calls_costs_one_refresh_and_two_token_loads(acct):
    d = acct.start(extra={"daemon": {"concurrency": "64"}})
    acct.admin("POST", f"accounts/{acct.google_email}/expire-access-tokens")
    since = acct.mark()
    loads_before = d.output().count("loading the tokens of connection")
    start = time.monotonic()
    acct.conn.execute(
        "INSERT INTO rally.jobs (tenant_id, kind, payload)"
        " SELECT %s, 'google-probe', %s FROM generate_series(1, 200)",
        (acct.tenant, json.dumps({"connection_id": acct.connection, "url": acct.url()})))
    wait_until(lambda: acct.conn.execute(
        "SELECT count(*) FROM rally.jobs WHERE tenant_id = %s AND kind = 'google-probe'"
        " AND state IN ('done', 'failed')", (acct.tenant,)).fetchone()[0] == 200,
        timeout=120, message="200 probes done")
    elapsed = time.monotonic() - start
    results = [r[0] for r in acct.conn.execute(
        "SELECT result FROM rally.jobs WHERE tenant_id = %s AND kind = 'google-probe'",
        (acct.tenant,))]
    assert all(r and r["err"] == "ok" for r in results)
    # The stored token is loaded once, found expired by Google (401), and
    # one forced refresh (one more load) serves every other call.
    assert len(acct.token_requests(since)) == 1
    loads = d.output().count("loading the tokens of connection") - loads_before
    assert loads <= 2, loads
    calls = acct.probe_requests(since)
    assert sum(1 for e in calls if e["status"] == 200) == 200
    assert sum(1 for e in calls if e["status"] == 401) <= 4
    print(json.dumps({"probes": 200, "seconds": round(elapsed, 2), "token_refreshes": 1,
                      "token_loads": loads}))


def test_one_connection_gets_at_most_four_calls_at_once_and_others_go_on(acct):
    other = acct.add_user("bob")
    acct.start(extra={"daemon": {"concurrency": "32"}})
    acct.result(acct.probe())
    acct.result(acct.probe(connection=other))
    acct.admin("POST", "faults", {"kind": "latency", "latencyMs": 700,
                                          "probability": 1.0, "pathPrefix": "/calendar/"})
    busy = [acct.probe() for _ in range(12)]
    time.sleep(0.3)
    lone = acct.probe(connection=other)
    jobs = [acct.finished(j) for j in busy]
    mine = acct.finished(lone)
    assert all(j["result"]["err"] == "ok" for j in jobs + [mine])
    first = min(j["started_at"] for j in jobs)
    last = max(j["finished_at"] for j in jobs)
    # 12 calls four at a time: three rounds of 0.7 s, not one.
    assert (last - first).total_seconds() >= 3 * 0.7
    # The other user's call did not wait behind them.
    assert mine["finished_at"] < last
    assert (mine["finished_at"] - mine["started_at"]).total_seconds() < 2 * 0.7


# --- token-revoke ---------------------------------------------------------------

def queue_revocation(acct, connection, refresh="1//revoke-me", column_row=None):
    row = column_row or connection
    return acct.conn.execute(
        "INSERT INTO rally.token_revocations (tenant_id, connection_id, refresh_token)"
        " VALUES (%s, %s, %s) RETURNING id",
        (acct.tenant, connection, seal(acct.keyring, acct.tenant, row, "refresh_token",
                                       refresh))).fetchone()[0]


def test_token_revoke_keeps_the_row_while_google_is_unreachable_then_deletes_it(acct):
    d = acct.start(extra={"google": {"revoke_url": "https://127.0.0.1:9/revoke"},
                          "http": {"max_retries": "0", "connect_timeout": "2s"}})
    gone = str(uuid.uuid4())
    rid = queue_revocation(acct, gone)
    first = acct.add_job("token-revoke", {"connection_id": gone})
    r = acct.result(first)
    assert r == {"revoked": 0, "deleted_unrevoked": 0, "kept": 1}
    row = acct.conn.execute("SELECT attempts, last_error, last_attempt_at FROM"
                            " rally.token_revocations WHERE id = %s", (rid,)).fetchone()
    assert row[0] == 1 and row[1] and row[2] is not None
    nxt = acct.conn.execute(
        "SELECT id, run_at - now() FROM rally.jobs WHERE tenant_id = %s AND kind = 'token-revoke'"
        " AND state = 'pending'", (acct.tenant,)).fetchall()
    assert len(nxt) == 1 and 0 < nxt[0][1].total_seconds() <= 600

    # Run it again at once: still young, still kept, attempts counted.
    acct.conn.execute("UPDATE rally.jobs SET run_at = now() WHERE id = %s", (nxt[0][0],))
    assert acct.result(nxt[0][0])["kept"] == 1
    assert acct.conn.execute("SELECT attempts FROM rally.token_revocations WHERE id = %s",
                             (rid,)).fetchone()[0] == 2

    # Ten minutes after it was queued, the copy goes whatever Google answers.
    acct.conn.execute("UPDATE rally.token_revocations SET queued_at = now() - interval '11 minutes'"
                      " WHERE id = %s", (rid,))
    third = acct.conn.execute("SELECT id FROM rally.jobs WHERE tenant_id = %s AND kind ="
                              " 'token-revoke' AND state = 'pending'", (acct.tenant,)).fetchone()[0]
    acct.conn.execute("UPDATE rally.jobs SET run_at = now() WHERE id = %s", (third,))
    assert acct.result(third) == {"revoked": 0, "deleted_unrevoked": 1, "kept": 0}
    assert acct.conn.execute("SELECT count(*) FROM rally.token_revocations").fetchone()[0] == 0
    assert acct.conn.execute("SELECT count(*) FROM rally.jobs WHERE kind = 'token-revoke'"
                             " AND state = 'pending'").fetchone()[0] == 0
    assert d.stop() == 0
    out = d.output()
    assert "warning" in out and "deleted them unrevoked" in out
    assert "1//revoke-me" not in out


def test_token_revoke_never_waits_past_ten_minutes_from_queueing(acct):
    acct.start(extra={"google": {"revoke_url": "https://127.0.0.1:9/revoke"},
                      "http": {"max_retries": "0", "connect_timeout": "2s"}})
    gone = str(uuid.uuid4())
    rid = queue_revocation(acct, gone)
    acct.conn.execute("UPDATE rally.token_revocations SET queued_at = now() - interval '598 seconds',"
                      " attempts = 7 WHERE id = %s", (rid,))
    acct.result(acct.add_job("token-revoke", {"connection_id": gone}))
    wait_s = acct.conn.execute(
        "SELECT extract(epoch FROM j.run_at - r.queued_at) FROM rally.jobs j,"
        " rally.token_revocations r WHERE j.kind = 'token-revoke' AND j.state = 'pending'"
        " AND r.id = %s", (rid,)).fetchone()[0]
    # The backoff after 8 attempts would be two minutes; the deadline wins.
    assert 600 <= float(wait_s) <= 605


def test_token_revoke_deletes_a_row_that_does_not_open(acct):
    d = acct.start()
    gone = str(uuid.uuid4())
    queue_revocation(acct, gone, column_row=str(uuid.uuid4()))   # sealed for another row
    since = acct.mark()
    r = acct.result(acct.add_job("token-revoke", {"connection_id": gone}))
    assert r == {"revoked": 0, "deleted_unrevoked": 1, "kept": 0}
    assert acct.conn.execute("SELECT count(*) FROM rally.token_revocations").fetchone()[0] == 0
    assert acct.requests(since, "/revoke") == []
    assert d.stop() == 0
    assert "does not open" in d.output()


def test_token_revoke_deletes_the_row_when_google_rejects_the_token(acct):
    acct.start()
    gone = str(uuid.uuid4())
    queue_revocation(acct, gone, refresh="1//never-issued-by-google")
    since = acct.mark()
    r = acct.result(acct.add_job("token-revoke", {"connection_id": gone}))
    # 400 invalid_token: already revoked or never valid, so nothing is left to revoke.
    assert r["kept"] == 0 and r["revoked"] + r["deleted_unrevoked"] == 1
    assert [e["status"] for e in acct.requests(since, "/revoke")] == [400]
    assert acct.conn.execute("SELECT count(*) FROM rally.token_revocations").fetchone()[0] == 0


def test_token_revoke_opens_by_the_rows_own_ids_not_the_payloads_spelling(acct):
    """An upper-case connection id in the payload still finds the row, and
    the associated data comes from the row: the token is revoked, not
    thrown away unrevoked."""
    acct.start()
    refresh, _ = acct.tokens()
    gone = str(uuid.uuid4())
    queue_revocation(acct, gone, refresh=refresh)
    since = acct.mark()
    r = acct.result(acct.add_job("token-revoke", {"connection_id": gone.upper()}))
    assert r == {"revoked": 1, "deleted_unrevoked": 0, "kept": 0}
    assert [e["status"] for e in acct.requests(since, "/revoke")] == [200]


def test_token_revoke_keeps_a_row_sealed_with_a_key_this_keyring_lacks(acct, journald):
    """After `keys rotate` on another host: the entry is kept (a crit entry
    says why) until an instance with the key revokes it."""
    import base64
    newer = acct.dir / "keyring-rotated"
    newer.write_text(acct.keyring.read_text() +
                     f"2 {base64.b64encode(os.urandom(32)).decode()}\n")
    newer.chmod(0o600)
    before = journal.cursor()
    d = acct.start(log_target="journal")
    refresh, _ = acct.tokens()
    gone = str(uuid.uuid4())
    rid = acct.conn.execute(
        "INSERT INTO rally.token_revocations (tenant_id, connection_id, refresh_token)"
        " VALUES (%s, %s, %s) RETURNING id",
        (acct.tenant, gone, seal(newer, acct.tenant, gone, "refresh_token", refresh))
    ).fetchone()[0]
    since = acct.mark()
    r = acct.result(acct.add_job("token-revoke", {"connection_id": gone}))
    assert r == {"revoked": 0, "deleted_unrevoked": 0, "kept": 1}
    assert acct.conn.execute("SELECT attempts FROM rally.token_revocations WHERE id = %s",
                             (rid,)).fetchone()[0] == 1
    assert acct.requests(since, "/revoke") == []
    found = journal.wait_entries("SYSLOG_IDENTIFIER=rallyd", f"MESSAGE_ID={MSGID_KEY_MISSING}",
                                 since_cursor=before)
    assert found and found[0]["PRIORITY"] == "2"
    # The operator brings the new keyring and reloads: the retry revokes it.
    shutil.copy(newer, acct.keyring)
    d.signal(signal.SIGHUP)

    def revoked():
        acct.conn.execute("UPDATE rally.jobs SET run_at = now() WHERE kind = 'token-revoke'"
                          " AND state = 'pending'")
        return acct.conn.execute("SELECT count(*) FROM rally.token_revocations"
                                 ).fetchone()[0] == 0
    wait_until(revoked, timeout=30, message="revoked once the keyring has the key")
    assert [e["status"] for e in acct.requests(since, "/revoke")] == [200]


# --- the keyring ------------------------------------------------------------------

def test_missing_keyring_is_a_warning_and_a_reload_brings_the_keys(acct, tmp_path):
    path = tmp_path / "daemon-keyring"
    d = acct.start(keyring=path)
    out = d.output()
    assert f"no keyring at {path}" in out and "warning" in out
    r = acct.result(acct.probe())
    assert r["err"] == "config" and r["message"] == "no keyring"

    shutil.copy(acct.keyring, path)
    os.chmod(path, 0o600)
    d.signal(signal.SIGHUP)
    wait_until(lambda: "keyring " + str(path) + " loaded" in d.output(), message="keyring reload")
    assert acct.result(acct.probe())["err"] == "ok"
    assert d.stop() == 0


def test_rotated_keyring_applies_on_reload(acct):
    d = acct.start()
    acct.result(acct.probe())
    acct.ctl("keys", "rotate")                         # key 2 seals from now on
    d.signal(signal.SIGHUP)
    wait_until(lambda: "newest 2" in d.output(), message="keyring reload")
    acct.admin("POST", f"accounts/{acct.google_email}/expire-access-tokens")
    assert acct.result(acct.probe())["err"] == "ok"
    key_id = int(seal_tool("keyid", input=bytes(acct.row()["access_token"]).hex().encode()).stdout)
    assert key_id == 2
    assert d.stop() == 0


def test_invalid_keyring_on_reload_keeps_the_keys_loaded(acct):
    d = acct.start()
    os.chmod(acct.keyring, 0o644)
    try:
        d.signal(signal.SIGHUP)
        wait_until(lambda: "keeping the keyring loaded before" in d.output(),
                   message="reload refused")
    finally:
        os.chmod(acct.keyring, 0o600)
    assert d.proc.poll() is None
    assert acct.result(acct.probe())["err"] == "ok"


@pytest.mark.parametrize("problem", ["mode", "malformed"])
def test_invalid_keyring_stops_rallyd_with_status_78(acct, tmp_path, problem):
    path = tmp_path / "bad-keyring"
    shutil.copy(acct.keyring, path)
    if problem == "mode":
        os.chmod(path, 0o644)
    else:
        path.write_text("1 not-base64!\n")
        os.chmod(path, 0o600)
    d = acct.start(keyring=path, wait_ready=False)
    assert d.proc.wait(20) == EX_CONFIG
    assert "invalid keyring" in d.output() and str(path) in d.output()


# --- the probe itself -------------------------------------------------------------

def test_probe_refuses_other_urls_and_methods(acct):
    acct.start()
    gmail = acct.sections["google"]["gmail_url"].rstrip("/")
    ok = acct.result(acct.probe(url=gmail + "/users/me/profile"))
    assert ok["err"] in ("ok", "rejected")      # reached Gmail (scope decides)
    for payload in ({"url": "https://evil.test/calendar/v3/x"},
                    {"url": acct.url("/../../token")},
                    {"url": acct.url("/%2e%2e/x")},
                    {"url": acct.sections["google"]["token_url"]},
                    {"url": acct.url(), "method": "DELETE"},
                    {"url": acct.url(), "connection_id": "not-a-uuid"}):
        body = {"connection_id": acct.connection}
        body.update(payload)
        j = acct.finished(acct.add_job("google-probe", body))
        assert j["state"] == "failed", j
        if payload.get("connection_id") == "not-a-uuid":
            assert "a uuid" in j["last_error"], j


def test_probe_of_another_tenants_connection_finds_nothing(acct):
    acct.start()
    other_tenant = json.loads(acct.ctl("--json", "tenant", "create", "Other").stdout)["tenant_id"]
    jid = acct.add_job("google-probe", {"connection_id": acct.connection, "url": acct.url()},
                       tenant=other_tenant)
    wait_until(lambda: acct.conn.execute("SELECT state FROM rally.jobs WHERE id = %s",
                                         (jid,)).fetchone()[0] == "done", message="probe done")
    r = acct.conn.execute("SELECT result FROM rally.jobs WHERE id = %s", (jid,)).fetchone()[0]
    assert r["err"] == "not_connected"


def test_per_user_quota_bucket_paces_one_connection(acct):
    acct.start(extra={"daemon": {"concurrency": "32"},
                      "google": {"user_rate": "4", "user_burst": "2"}})
    acct.result(acct.probe())                   # token loaded; bucket spent a little
    since = acct.mark()
    start = time.monotonic()
    acct.conn.execute(
        "INSERT INTO rally.jobs (tenant_id, kind, payload)"
        " SELECT %s, 'google-probe', %s FROM generate_series(1, 12)",
        (acct.tenant, json.dumps({"connection_id": acct.connection, "url": acct.url()})))
    wait_until(lambda: acct.conn.execute(
        "SELECT count(*) FROM rally.jobs WHERE tenant_id = %s AND kind = 'google-probe'"
        " AND state = 'done'", (acct.tenant,)).fetchone()[0] == 13, timeout=60,
        message="12 probes done")
    elapsed = time.monotonic() - start
    # 12 calls at 4 a second with a burst of 2: at least (12 - 2) / 4 s.
    assert elapsed >= 2.3, elapsed
    assert len(acct.probe_requests(since)) == 12
