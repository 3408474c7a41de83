# SPDX-License-Identifier: ISC
"""Notices by email (docs/compliance.md): queued in rally.notices, sent by
rallyd through a real SMTP server on loopback, retried while the relay
refuses connections, and sent exactly once."""

import json

import pytest

from rallytest.calendar import Cal
from rallytest.daemon import wait_until
from rallytest.smtp import SmtpSink, free_port


@pytest.fixture
def cal(pg, db, login_roles, fakegoogle, tmp_path):
    c = Cal(pg, db, login_roles, fakegoogle, tmp_path, "nora")
    c.fg.admin("POST", "/__admin/accounts", {"email": c.google_email})
    yield c
    c.close()


def queue_notice(cal, subject, body):
    return str(cal.conn.execute("SELECT rally.notice_queue(%s, %s, 'technical', %s, %s)",
                                (cal.tenant, cal.user, subject, body)).fetchone()[0])


def test_access_revoked_at_google_disconnects_both_and_emails_the_user(cal):
    sink = SmtpSink().start()
    try:
        cal.sections["smtp"] = sink.config()
        cal.connect(mail=True)
        cal.start()
        cal.settle()
        cal.fg.admin("POST", f"/__admin/accounts/{cal.google_email}/revoke", {})
        cal.conn.execute("SELECT rally.job_enqueue(%s, 'calsync', %s, %s)",
                         (cal.tenant, cal.connection,
                          json.dumps({"connection_id": cal.connection, "reason": "user"})))
        wait_until(lambda: len(sink.received()) == 1, timeout=30, message="notice delivered")
        mail_from, rcpt, msg = sink.received()[0]
        assert mail_from == "rally@rally.test" and rcpt == [cal.user_email]
        assert msg["To"] == cal.user_email
        assert msg["Subject"] == "Rally no longer has access to your Google account"
        body = msg.get_content()
        assert cal.google_email in body and "revoked" in body
        # The relay accepts before rallyd records it.
        wait_until(lambda: cal.conn.execute("SELECT status FROM rally.notices WHERE user_id = %s",
                                            (cal.user,)).fetchone()[0] == "sent",
                   message="notice marked sent")
        row = cal.conn.execute("SELECT status, message_id, sent_at IS NOT NULL FROM rally.notices"
                               " WHERE user_id = %s", (cal.user,)).fetchone()
        assert row[0] == "sent" and row[1] == msg["Message-ID"] and row[2]
        # The same path as disconnecting both: both purges, no token left.
        wait_until(lambda: cal.jobs_idle(("calpurge", "mailpurge", "token-revoke")),
                   message="purges done")
        kinds = sorted(r[0] for r in cal.conn.execute(
            "SELECT kind FROM rally.deletion_ledger WHERE tenant_id = %s AND completed_at"
            " IS NOT NULL", (cal.tenant,)))
        assert kinds == ["calendar_disconnect", "mail_disconnect"]
        assert cal.conn.execute(
            "SELECT count(*) FROM rally.token_revocations").fetchone()[0] == 0
    finally:
        sink.stop()


def test_notices_wait_while_the_relay_refuses_and_are_each_sent_once_it_is_back(cal):
    port = free_port()
    sink = SmtpSink(port)
    cal.sections["smtp"] = sink.config()
    cal.start()
    ids = [queue_notice(cal, f"Notice {i} \u2013 caf\u00e9", f"Body {i}\nsecond line\n.\n")
           for i in range(3)]
    # Nothing listens on the port: every attempt is refused, and retried.
    wait_until(lambda: cal.conn.execute(
        "SELECT count(*) FROM rally.job_runs r JOIN rally.jobs j ON j.id = r.job_id"
        " WHERE j.kind = 'notice' AND r.outcome = 'retry'").fetchone()[0] >= 9,
        timeout=60, interval=0.2, message="three refused attempts each")
    states = {r[0] for r in cal.conn.execute("SELECT status FROM rally.notices")}
    assert states == {"queued"}
    sink.start()
    try:
        wait_until(lambda: len(sink.received()) == 3, timeout=30, message="three delivered")
        wait_until(lambda: cal.jobs_idle(("notice",)), message="notice jobs done")
        got = sink.received()
        assert len(got) == 3
        subjects = sorted(m["Subject"] for _, _, m in got)
        assert subjects == [f"Notice {i} \u2013 caf\u00e9" for i in range(3)]
        bodies = sorted(m.get_content().replace("\r\n", "\n") for _, _, m in got)
        assert bodies == [f"Body {i}\nsecond line\n.\n" for i in range(3)]
        rows = cal.conn.execute("SELECT id::text, status, message_id FROM rally.notices"
                                " ORDER BY id").fetchall()
        assert {r[0] for r in rows} == set(ids)
        assert all(r[1] == "sent" for r in rows)
        assert sorted(r[2] for r in rows) == sorted(m["Message-ID"] for _, _, m in got)
    finally:
        sink.stop()


def test_a_notice_job_naming_another_tenants_notice_sends_nothing(cal):
    sink = SmtpSink().start()
    try:
        cal.sections["smtp"] = sink.config()
        nid = queue_notice(cal, "Yours", "body")
        cal.conn.execute("UPDATE rally.jobs SET state = 'done' WHERE kind = 'notice'")
        other = json.loads(cal.ctl("--json", "tenant", "create", "Other").stdout)["tenant_id"]
        cal.conn.execute("SELECT rally.job_enqueue(%s, 'notice', 'x', %s)",
                         (other, json.dumps({"notice_id": nid})))
        cal.start()
        wait_until(lambda: cal.jobs_idle(("notice",)), message="job ended")
        assert sink.received() == []
        assert cal.conn.execute("SELECT status FROM rally.notices").fetchone()[0] == "queued"
    finally:
        sink.stop()


def test_a_sync_failing_for_longer_than_configured_tells_the_user_once(cal):
    cal.connect(mail=True)
    cal.conn.execute("INSERT INTO rally.sync_state (tenant_id, connection_id, resource,"
                     " consecutive_errors, last_error, last_error_at, last_success_at)"
                     " VALUES (%s, %s, 'mail', 5, 'HTTP 500', now(), now() - interval '2 days')"
                     " ON CONFLICT (tenant_id, connection_id, resource) DO UPDATE SET"
                     " consecutive_errors = 5, last_error_at = now(),"
                     " last_success_at = now() - interval '2 days'",
                     (cal.tenant, cal.connection))
    assert cal.conn.execute("SELECT rally.sync_failing_notices('1 day')").fetchone()[0] == 1
    assert cal.conn.execute("SELECT rally.sync_failing_notices('1 day')").fetchone()[0] == 0
    assert cal.conn.execute("SELECT rally.sync_failing_notices('3 days')").fetchone()[0] == 0
    subject, body = cal.conn.execute("SELECT subject, body_text FROM rally.notices"
                                     " WHERE kind = 'technical'").fetchone()
    assert subject == "Rally cannot sync your Google mail" and cal.google_email in body
    # A success after that notice, then failures again for long enough: a new one.
    cal.conn.execute("UPDATE rally.sync_state SET failing_notice_at = now() - interval '3 days',"
                     " last_success_at = now() - interval '2 days'"
                     " WHERE connection_id = %s AND resource = 'mail'", (cal.connection,))
    assert cal.conn.execute("SELECT rally.sync_failing_notices('1 day')").fetchone()[0] == 1


def test_rallyd_runs_the_sync_watch_with_the_configured_delay(cal):
    sink = SmtpSink().start()
    try:
        cal.sections["smtp"] = sink.config()
        cal.sections["notices"] = {"sync_failing_after": "1h"}
        cal.connect()
        cal.conn.execute("UPDATE rally.sync_state SET consecutive_errors = 2,"
                         " last_error_at = now(), last_success_at = now() - interval '2 hours'"
                         " WHERE connection_id = %s AND resource = 'calendar'",
                         (cal.connection,))
        # Google keeps failing: the syncs rallyd runs do not succeed either.
        cal.fg.admin("POST", "/__admin/faults", {"kind": "500", "count": 1000,
                                                  "pathPrefix": "/calendar/"})
        cal.conn.execute("SELECT rally.job_enqueue('00000000-0000-0000-0000-000000000000',"
                         " 'sync-watch', 'now')")
        cal.start()
        wait_until(lambda: any(m["Subject"] == "Rally cannot sync your Google Calendar"
                               for _, _, m in sink.received()), timeout=30,
                   message="notice sent")
    finally:
        sink.stop()


def test_an_export_built_tells_its_user_by_email(cal):
    sink = SmtpSink().start()
    try:
        cal.sections["smtp"] = sink.config()
        export = str(cal.conn.execute("SELECT rally.export_request(%s, %s, 'user')",
                                      (cal.tenant, cal.user)).fetchone()[0])
        cal.start()
        wait_until(lambda: len(sink.received()) == 1, timeout=30, message="notice delivered")
        _, rcpt, msg = sink.received()[0]
        assert rcpt == [cal.user_email] and msg["To"] == cal.user_email
        assert msg["Subject"] == "Your Rally data export is ready"
        body = msg.get_content()
        assert "is ready" in body and "deleted after 7 days" in body
        assert export not in body       # the link is the privacy page, not the row
        assert cal.conn.execute("SELECT status FROM rally.exports WHERE id = %s",
                                (export,)).fetchone()[0] == "ready"
    finally:
        sink.stop()
