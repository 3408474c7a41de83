# SPDX-License-Identifier: ISC
"""rallyd as a systemd service: configuration errors, sd_notify protocol,
reload, watchdog, journald fields, and no secrets in the journal."""

import json
import os
import signal
import subprocess
import time

import pytest

from rallytest import journal, program
from rallytest.daemon import Rallyd, wait_until, write_config

SYSTEM = "00000000-0000-0000-0000-000000000000"
EX_CONFIG = 78


def run_rallyd(*args, timeout=10):
    return subprocess.run([program("rallyd"), *args], capture_output=True, text=True,
                          timeout=timeout, env=dict(os.environ, JOURNAL_STREAM=""))


@pytest.mark.parametrize("text, message", [
    ("[daemon]\nconcurency = 4\n", "rally.conf:2: unknown key \"concurency\" in [daemon]"),
    ("[daemon]\nlease = forever\n", "rally.conf:2: daemon.lease must be a duration"),
    ("[database\n", "rally.conf:1: malformed section header"),
    ("\x00\x01garbage", "rally.conf:1:"),
])
def test_bad_config_is_a_clear_error_and_exit_78(tmp_path, text, message):
    conf = tmp_path / "rally.conf"
    conf.write_bytes(text.encode())
    r = run_rallyd("-c", str(conf))
    assert r.returncode == EX_CONFIG, r.stderr
    assert message in r.stderr
    assert "Traceback" not in r.stderr and "Segmentation" not in r.stderr


def test_missing_config_file_is_exit_78(tmp_path):
    r = run_rallyd("-c", str(tmp_path / "nope.conf"))
    assert r.returncode == EX_CONFIG
    assert "nope.conf: No such file or directory" in r.stderr


def test_check_config_accepts_a_good_file(tmp_path):
    conf = tmp_path / "rally.conf"
    write_config(conf, {"database": {"conninfo": "dbname=x"}})
    r = run_rallyd("--check-config", "-c", str(conf))
    assert r.returncode == 0 and "configuration OK" in r.stdout


def test_config_path_from_environment(tmp_path):
    conf = tmp_path / "env.conf"
    conf.write_text("[bogus]\n")
    r = subprocess.run([program("rallyd"), "--check-config"], capture_output=True, text=True,
                       env=dict(os.environ, RALLY_CONFIG=str(conf)))
    assert r.returncode == EX_CONFIG and "env.conf:1: unknown section [bogus]" in r.stderr


def test_ready_and_status_reach_the_service_manager(daemon_conninfo):
    d = Rallyd(daemon_conninfo, name="notify")
    try:
        d.start()
        d.notify.wait_for("READY", "1")
        # The summary follows READY once the first claim has counted the backlog.
        status = wait_until(lambda: [s for s in d.notify.values("STATUS")
                                     if s.startswith("connected;")], message="STATUS connected")
        assert "job(s) running" in status[-1] and "backlog" in status[-1], status
        assert d.stop() == 0
        assert "1" in d.notify.values("STOPPING")
    finally:
        d.close()


def test_sighup_reloads_with_reloading_then_ready(daemon_conninfo):
    d = Rallyd(daemon_conninfo, name="reload")
    try:
        d.start()
        n = len(d.notify.messages)
        with open(d.conf, "a") as f:
            f.write("[passwords]\nargon2_iterations = 3\n")
        d.signal(signal.SIGHUP)
        i = d.notify.wait_for("RELOADING", "1", start=n)
        assert "MONOTONIC_USEC" in d.notify.messages[i]
        d.notify.wait_for("READY", "1", start=i + 1)
        assert "configuration reloaded" in d.output()
    finally:
        d.close()


def test_bad_config_on_reload_keeps_running(daemon_conninfo, dbconn):
    d = Rallyd(daemon_conninfo, name="badreload")
    try:
        d.start()
        with open(d.conf, "a") as f:
            f.write("[daemon]\nnonsense = 1\n")
        n = len(d.notify.messages)
        d.signal(signal.SIGHUP)
        d.notify.wait_for("READY", "1", start=n)
        assert "reload failed, keeping the running configuration" in d.output()
        jid = dbconn.execute("INSERT INTO rally.jobs (tenant_id, kind) VALUES (%s, 'ping')"
                             " RETURNING id", (SYSTEM,)).fetchone()[0]
        wait_until(lambda: dbconn.execute("SELECT state FROM rally.jobs WHERE id = %s",
                                          (jid,)).fetchone()[0] == "done", message="job done")
    finally:
        d.close()


def _push_secret_hash(dbconn):
    row = dbconn.execute("SELECT sha256 FROM rally.push_secrets WHERE name = 'gmail'").fetchone()
    return bytes(row[0]) if row else None


def test_rallyd_stores_the_push_secrets_hash_and_updates_it_on_sighup(
        daemon_conninfo, dbconn, tmp_path):
    import hashlib
    token = tmp_path / "push-token"
    token.write_text("first-secret-0123456789abcdef\n")
    token.chmod(0o640)
    d = Rallyd(daemon_conninfo, name="pushsecret",
               extra={"google": {"push_token_file": str(token)}})
    try:
        d.start()
        first = hashlib.sha256(b"first-secret-0123456789abcdef").digest()
        wait_until(lambda: _push_secret_hash(dbconn) == first, message="hash stored")
        token.write_text("second-secret-0123456789abcdef\n")
        n = len(d.notify.messages)
        d.signal(signal.SIGHUP)
        d.notify.wait_for("READY", "1", start=n)
        second = hashlib.sha256(b"second-secret-0123456789abcdef").digest()
        wait_until(lambda: _push_secret_hash(dbconn) == second, message="hash updated")
        # A file others may read is refused, and the hash loaded before kept.
        token.write_text("third-secret-0123456789abcdef\n")
        token.chmod(0o644)
        n = len(d.notify.messages)
        d.signal(signal.SIGHUP)
        d.notify.wait_for("READY", "1", start=n)
        wait_until(lambda: "keeping the secret loaded before" in d.output(),
                   message="refusal logged")
        assert _push_secret_hash(dbconn) == second
        assert "secret-0123456789abcdef" not in d.output()
    finally:
        d.close()


def test_watchdog_pings_at_half_the_interval(daemon_conninfo):
    d = Rallyd(daemon_conninfo, name="watchdog", env={"WATCHDOG_USEC": "400000"})
    try:
        d.start()
        # One ping every 200 ms: about 7 in 1.5 s; a loaded machine may
        # take longer to send three.
        wait_until(lambda: len(d.notify.values("WATCHDOG")) >= 3, timeout=15,
                   message="three watchdog pings")
        assert set(d.notify.values("WATCHDOG")) == {"1"}
    finally:
        d.close()


def test_daemon_keeps_retrying_an_unreachable_database(tmp_path):
    d = Rallyd(f"host={tmp_path} port=1 dbname=nothing", name="nodb")
    try:
        d.start(wait_ready=False)
        wait_until(lambda: any("waiting for the database" in s
                               for s in d.notify.values("STATUS"))
                   and "database unavailable, retrying" in d.output(),
                   timeout=20, message="the wait for the database told")
        time.sleep(1.5)
        assert d.proc.poll() is None
        assert not d.notify.values("READY")
        assert d.stop() == 0
    finally:
        d.close()


@pytest.fixture(scope="module")
def journald():
    proc = journal.ensure_journald()
    yield
    if proc is not None:
        proc.terminate()
        proc.wait()


def test_journal_entries_carry_message_ids_and_job_fields(journald, daemon_conninfo, dbconn):
    before = journal.cursor()
    d = Rallyd(daemon_conninfo, name="journaled", log_target="journal")
    try:
        d.start()
        jid = dbconn.execute(
            "INSERT INTO rally.jobs (tenant_id, kind, payload, max_attempts)"
            " VALUES (%s, 'ping', '{\"fail\": \"no luck\"}', 1) RETURNING id",
            (SYSTEM,)).fetchone()[0]
        failed = journal.wait_entries("SYSLOG_IDENTIFIER=rallyd",
                                      "MESSAGE_ID=42afe158cb41424180c9e4bd92b2293f",
                                      since_cursor=before)
        assert failed, "no JOB_FAILED entry"
        e = failed[-1]
        assert e["RALLY_JOB"] == str(jid)
        assert e["RALLY_TENANT"] == SYSTEM
        assert e["PRIORITY"] == "3"
        assert "no luck" in e["MESSAGE"]
        ready = journal.entries("SYSLOG_IDENTIFIER=rallyd",
                                "MESSAGE_ID=be8bbe93ee4943a38ef802d538942649", since_cursor=before)
        assert ready and ready[-1]["PRIORITY"] == "6"
    finally:
        d.close()


def test_no_secret_reaches_the_journal(journald, daemon_conninfo, dbconn):
    before = journal.cursor()
    d = Rallyd(daemon_conninfo + " password=pg-s3cret-pw", name="secretive", log_target="journal")
    try:
        d.start()
        secrets = ["ya29.a0SECRETACCESS", "1//0gSECRETREFRESH", "hunter2-password"]
        payload = {"fail": f"token refresh failed: access_token={secrets[0]}"
                           f" refresh_token={secrets[1]} password={secrets[2]}"
                           f" Authorization: Bearer {secrets[0]}"}
        dbconn.execute("INSERT INTO rally.jobs (tenant_id, kind, payload, max_attempts)"
                       " VALUES (%s, 'ping', %s, 1)", (SYSTEM, json.dumps(payload)))
        found = journal.wait_entries("SYSLOG_IDENTIFIER=rallyd",
                                     "MESSAGE_ID=42afe158cb41424180c9e4bd92b2293f",
                                     since_cursor=before)
        assert found and "[REDACTED]" in found[-1]["MESSAGE"]
        everything = json.dumps(journal.entries("SYSLOG_IDENTIFIER=rallyd", since_cursor=before))
        for s in secrets + ["pg-s3cret-pw"]:
            assert s not in everything
    finally:
        d.close()
