# SPDX-License-Identifier: ISC
"""Disconnecting Calendar or Gmail (docs/compliance.md): one transaction
that leaves no token on the connection once no integration is left, writes
the ledger and audit entries, and queues the work that stops the push
channels at Google before the grant is revoked, deletes the last copy of
the tokens and purges what was synced.  The mail rows are fixtures of
migration 0006's tables (Gmail sync writes the same rows)."""

import hashlib
import hmac
import json
import subprocess
import uuid

import psycopg
import pytest

from rallytest import program
from rallytest.calendar import PASSWORD, Cal
from rallytest.daemon import wait_until
from rallytest.mailrows import mark_mail_synced, seed_mail
from rallytest.schema import set_context

MAIL_TABLES = ("mail_label_ops", "mail_outbox", "mail_messages", "mail_threads")


@pytest.fixture
def cal(pg, db, login_roles, fakegoogle, tmp_path):
    # Push to a closed port: the channel exists at Google, deliveries fail.
    c = Cal(pg, db, login_roles, fakegoogle, tmp_path, "dora", push_url="http://127.0.0.1:9")
    c.fg.admin("POST", "/__admin/accounts", {"email": c.google_email})
    c.g_create({"summary": "From Google", "start": {"date": "2026-12-21"},
                "end": {"date": "2026-12-22"}})
    yield c
    c.close()


def mail_counts(conn, connection):
    return {t: conn.execute(f"SELECT count(*) FROM rally.{t} WHERE connection_id = %s",
                            (connection,)).fetchone()[0] for t in MAIL_TABLES}


def disconnect(cal, *flags):
    out = cal.ctl("--json", "user", "disconnect", "--user", cal.user_email, *flags)
    return json.loads(out.stdout)


def tokens_anywhere(cal):
    return cal.conn.execute(
        "SELECT (SELECT count(*) FROM rally.google_connections WHERE id = %s"
        "  AND (refresh_token IS NOT NULL OR access_token IS NOT NULL)),"
        " (SELECT count(*) FROM rally.token_revocations WHERE connection_id = %s)",
        (cal.connection, cal.connection)).fetchone()


def ledger(cal):
    return cal.conn.execute(
        "SELECT kind, completed_at IS NOT NULL,"
        " rally.ledger_matches(subject_hash, hash_key_id, 'connection', %s)"
        " FROM rally.deletion_ledger WHERE tenant_id = %s ORDER BY requested_at, kind",
        (cal.connection, cal.tenant)).fetchall()


def test_ledger_hash_is_hmac_sha256_of_kind_and_id_under_the_stored_key(dbconn):
    subject = str(uuid.uuid4())
    h, key_id = dbconn.execute("SELECT * FROM rally.ledger_hash('user', %s)",
                               (subject,)).fetchone()
    key = dbconn.execute("SELECT key FROM rally.ledger_keys WHERE key_id = %s",
                         (key_id,)).fetchone()[0]
    assert bytes(h) == hmac.new(bytes(key), f"user:{subject}".encode(), hashlib.sha256).digest()
    # A key longer than a block is hashed first, as RFC 2104 says.
    long_key = b"k" * 100
    got = dbconn.execute("SELECT rally.hmac_sha256(%s, 'msg')", (long_key,)).fetchone()[0]
    assert bytes(got) == hmac.new(long_key, b"msg", hashlib.sha256).digest()
    assert dbconn.execute("SELECT rally.ledger_matches(%s, %s, 'user', %s)",
                          (h, key_id, str(uuid.uuid4()))).fetchone()[0] is False


def test_web_tier_cannot_read_the_ledger_key_nor_compute_hashes(pg, db, login_roles):
    with psycopg.connect(pg.conninfo(db, login_roles["web"]), autocommit=True) as web:
        for q in ("SELECT * FROM rally.ledger_keys", "SELECT rally.ledger_hash('user', gen_random_uuid())",
                  "SELECT rally.ledger_key()"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                web.execute(q)


def test_mail_disconnect_stops_the_gmail_watch_and_purges_mail_while_calendar_stays(cal, fakegoogle):
    cal.connect(mail=True)
    mark_mail_synced(cal)
    seed_mail(cal.conn, cal.tenant, cal.user, cal.connection)
    cal.start()
    cal.settle()
    since = max([r["seq"] for r in fakegoogle.requests_log()] or [0])
    r = disconnect(cal, "--email")
    assert (r["connections"], r["calendars_off"], r["mail_off"], r["tokens_released"]) == (1, 0, 1, 0)
    wait_until(lambda: cal.jobs_idle(("mailpurge",)), message="mail purge done")
    assert mail_counts(cal.conn, cal.connection) == {t: 0 for t in MAIL_TABLES}
    stops = [x for x in fakegoogle.requests_log(since)
             if x["path"].endswith("/gmail/v1/users/me/stop") and x["status"] in (200, 204)]
    assert len(stops) == 1, stops
    # The calendar stays: its tokens and its synced event too.
    assert tokens_anywhere(cal) == (1, 0)
    assert len(cal.activities()) == 1
    assert ledger(cal) == [("mail_disconnect", True, True)]
    audit = cal.conn.execute("SELECT actor, action, detail FROM rally.audit_log"
                             " WHERE tenant_id = %s AND action LIKE 'connection.%%'",
                             (cal.tenant,)).fetchall()
    assert audit == [("operator", "connection.disconnected",
                      {"calendar": False, "mail": True, "tokens_released": False})]


def test_last_integration_off_leaves_no_token_and_channels_stop_before_the_revoke(
        cal, fakegoogle):
    cal.connect(mail=True)
    mark_mail_synced(cal)
    seed_mail(cal.conn, cal.tenant, cal.user, cal.connection)
    d = cal.start()
    wait_until(lambda: cal.conn.execute(
        "SELECT channel_id IS NOT NULL FROM rally.sync_state WHERE connection_id = %s"
        " AND resource = 'calendar'", (cal.connection,)).fetchone()[0], message="channel")
    cal.settle()
    crm = cal.add_activity(title="From the CRM")
    cal.settle()
    refresh = cal.conn.execute("SELECT refresh_token FROM rally.google_connections"
                               " WHERE id = %s", (cal.connection,)).fetchone()[0]
    assert refresh is not None
    since = max([x["seq"] for x in fakegoogle.requests_log()] or [0])
    # Both at once, with rallyd stopped: what the call alone guarantees.
    d.stop()
    r = disconnect(cal, "--calendar", "--email")
    assert (r["calendars_off"], r["mail_off"], r["tokens_released"]) == (1, 1, 1)
    # At once: no token on the connection, one sealed copy queued.
    assert tokens_anywhere(cal) == (0, 1)
    cal.start(name="again")
    wait_until(lambda: tokens_anywhere(cal) == (0, 0), message="last copy deleted")
    wait_until(lambda: cal.jobs_idle(("calpurge", "mailpurge", "token-revoke")),
               message="purges done")
    log = fakegoogle.requests_log(since)

    def seq_of(suffix):
        found = [x["seq"] for x in log if x["path"].endswith(suffix)
                 and x["status"] in (200, 204)]
        assert len(found) == 1, (suffix, [(x["method"], x["path"], x["status"]) for x in log])
        return found[0]

    revoke = seq_of("/revoke")
    assert seq_of("/channels/stop") < revoke
    assert seq_of("/gmail/v1/users/me/stop") < revoke
    acts = cal.activities()
    assert [(a["id"], a["connection_id"]) for a in acts] == [(crm, None)]
    assert mail_counts(cal.conn, cal.connection) == {t: 0 for t in MAIL_TABLES}
    assert ledger(cal) == [("calendar_disconnect", True, True), ("mail_disconnect", True, True)]
    out = "".join(x.output() for x in cal.daemons)
    assert "the body of a private message" not in out


def test_a_mailpurge_of_a_connection_with_mail_on_purges_nothing(cal, pg, db):
    """Hostile payloads: the database, not the job, decides."""
    cal.connect(mail=True)
    mark_mail_synced(cal)
    seed_mail(cal.conn, cal.tenant, cal.user, cal.connection)
    before = mail_counts(cal.conn, cal.connection)
    other = cal.conn.execute("SELECT gen_random_uuid()").fetchone()[0]
    ids = [cal.conn.execute("INSERT INTO rally.jobs (tenant_id, kind, payload, max_attempts)"
                            " VALUES (%s, 'mailpurge', %s, 1) RETURNING id",
                            (tenant, json.dumps(p))).fetchone()[0]
           for tenant, p in ((cal.tenant, {"connection_id": cal.connection}),
                             (cal.tenant, {"connection_id": cal.connection.upper()}),
                             (str(other), {"connection_id": cal.connection}),
                             (cal.tenant, {"connection_id": [cal.connection]}))]
    cal.start()
    wait_until(lambda: cal.conn.execute(
        "SELECT count(*) FROM rally.jobs WHERE id = ANY(%s) AND state IN ('done', 'failed')",
        (ids,)).fetchone()[0] == len(ids), message="hostile jobs ended")
    assert mail_counts(cal.conn, cal.connection) == before
    states = [cal.conn.execute("SELECT state FROM rally.jobs WHERE id = %s", (i,)).fetchone()[0]
              for i in ids]
    assert states[0] == "failed" and states[1] == "failed" and states[3] == "failed"


def test_mail_purge_goes_in_batches_of_at_most_the_batch_size(cal, dbconn):
    cal.connect(mail=True)
    mark_mail_synced(cal)
    seed_mail(cal.conn, cal.tenant, cal.user, cal.connection, threads=3, per_thread=400)
    size = dbconn.execute("SELECT rally.mail_purge_batch_size()").fetchone()[0]
    cal.start()
    disconnect(cal, "--email")
    wait_until(lambda: cal.jobs_idle(("mailpurge",)), timeout=60, message="purge done")
    result = cal.conn.execute("SELECT result FROM rally.jobs WHERE kind = 'mailpurge'"
                              " AND state = 'done'").fetchone()[0]
    total = 3 * 400 + 3 + 3 + 3
    assert result["rows"] == total
    assert result["batches"] > total // size
    assert mail_counts(cal.conn, cal.connection) == {t: 0 for t in MAIL_TABLES}


def test_web_disconnect_acts_only_on_the_callers_own_connection(cal, pg, db, login_roles):
    cal.connect(mail=True)
    mark_mail_synced(cal)
    out = cal.ctl("--json", "user", "create", "--tenant", cal.tenant, "--email",
                  "eve@acme.test", "--name", "eve", input=PASSWORD + "\n")
    eve = json.loads(out.stdout)["user_id"]
    other_tenant = json.loads(cal.ctl("--json", "tenant", "create", "Other").stdout)["tenant_id"]
    with psycopg.connect(pg.conninfo(db, login_roles["web"]), autocommit=True) as web:
        for tenant, user in ((cal.tenant, eve), (other_tenant, cal.user), (None, None)):
            set_context(web, tenant, user)
            assert web.execute("SELECT rally.web_disconnect(%s, true, true)",
                               (cal.connection,)).fetchone()[0] is False
        assert tokens_anywhere(cal) == (1, 0)
        assert ledger(cal) == []
        set_context(web, cal.tenant, cal.user)
        assert web.execute("SELECT rally.web_disconnect(%s, true, false)",
                           (cal.connection,)).fetchone()[0] is True
    row = cal.conn.execute("SELECT calendar_enabled, mail_enabled FROM rally.google_connections"
                           " WHERE id = %s", (cal.connection,)).fetchone()
    assert row == (False, True)
    assert ledger(cal) == [("calendar_disconnect", False, True)]
    actor = cal.conn.execute("SELECT actor, rally.ledger_matches(actor_hash, hash_key_id,"
                             " 'user', %s) FROM rally.audit_log WHERE tenant_id = %s"
                             " AND action = 'connection.disconnected'",
                             (cal.user, cal.tenant)).fetchall()
    assert actor == [("user", True)]


def test_user_disconnect_needs_an_integration_and_names_a_missing_connection(cal):
    cal.connect()
    base = [program("rallyctl"), "-c", cal.ctl_conf, "user", "disconnect",
            "--user", cal.user_email]
    r = subprocess.run(base, capture_output=True, text=True)
    assert r.returncode == 64 and "usage" in r.stderr
    r = subprocess.run(base + ["--calendar", "--connection", str(uuid.uuid4())],
                       capture_output=True, text=True)
    assert r.returncode == 65 and "has no connection" in r.stderr
    r = subprocess.run(base + ["--calendar", "--tenant", "nope"], capture_output=True, text=True)
    assert r.returncode == 64 and "not a tenant id" in r.stderr
