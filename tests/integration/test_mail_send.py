# SPDX-License-Identifier: ISC
"""Sending from the CRM: an outbox row (as the web tier writes it) becomes
one message in Gmail's Sent, composed correctly (parsed back with Python's
email package, field by field), threaded when it is a reply, exactly once
across a crash, and refused with a reason when it is not a safe message."""

import base64
import email
import email.policy
import time
import uuid

import pytest

from rallytest.daemon import wait_until
from rallytest.mail import Mail
from rallytest.google import SCOPE_GMAIL_MODIFY


@pytest.fixture
def mail(pg, db, login_roles, fakegoogle, tmp_path):
    m = Mail(pg, db, login_roles, fakegoogle, tmp_path, "ada")
    m.fg.admin("POST", "/__admin/accounts", {"email": m.google_email})
    yield m
    m.close()


def queue(mail, **kw):
    row = {"message_id": f"<{uuid.uuid4()}@rally.test>",
           "from_addr": f"Ada Lovelace <{mail.google_email}>", "to_addrs": ["ann@mail.test"],
           "subject": "Hello", "body_text": "Hi Ann,\nsee you.\n"}
    row.update(kw)
    cols = ", ".join(row)
    marks = ", ".join(["%s"] * len(row))
    oid = mail.conn.execute(
        f"INSERT INTO rally.mail_outbox (tenant_id, user_id, connection_id, {cols})"
        f" VALUES (%s, %s, %s, {marks}) RETURNING id",
        (mail.tenant, mail.user, mail.connection, *row.values())).fetchone()[0]
    return oid, row["message_id"]


def outbox(mail, oid):
    cur = mail.conn.execute("SELECT * FROM rally.mail_outbox WHERE id = %s", (oid,))
    return dict(zip([c.name for c in cur.description], cur.fetchone()))


def gmail_get(mail, path):
    token = mail.fg.access_token(mail.google_email, (SCOPE_GMAIL_MODIFY,))
    status, body = mail.fg.request("GET", "/gmail/v1/users/me/" + path, token=token)
    assert status == 200, (status, body)
    return body


def sent_with(mail, message_id):
    q = f"rfc822msgid:{message_id}"
    return gmail_get(mail, "messages?includeSpamTrash=true&q=" +
                     __import__("urllib.parse").parse.quote(q)).get("messages", [])


def raw_of(mail, gmail_id):
    m = gmail_get(mail, f"messages/{gmail_id}?format=raw")
    return email.message_from_bytes(base64.urlsafe_b64decode(m["raw"] + "==="),
                                    policy=email.policy.default), m


def test_a_new_message_arrives_in_sent_composed_field_by_field(mail):
    mail.connect()
    mail.start()
    mail.settle()
    oid, mid = queue(mail, subject="Grüße aus Köln — Q3 ✓",
                     to_addrs=["Zoë Ångström <zoe@mail.test>", "Doe, Jane <jane@mail.test>"],
                     cc_addrs=["bob@mail.test"], bcc_addrs=["audit@mail.test"],
                     body_text="Hallo Zoë,\n" + "lange Zeile " * 120 + "\nbis bald\n",
                     body_html="<p>Hallo <b>Zoë</b></p>")
    mail.settle()
    row = outbox(mail, oid)
    assert row["state"] == "sent" and row["gmail_message_id"] and row["sent_at"]
    [found] = sent_with(mail, mid)
    assert found["id"] == row["gmail_message_id"]
    msg, meta = raw_of(mail, found["id"])
    assert "SENT" in meta["labelIds"]
    assert msg["Message-ID"] == mid
    assert msg["Subject"] == "Grüße aus Köln — Q3 ✓"
    assert [(a.display_name, a.addr_spec) for a in msg["To"].addresses] == [
        ("Zoë Ångström", "zoe@mail.test"), ("Doe, Jane", "jane@mail.test")]
    assert [a.addr_spec for a in msg["Cc"].addresses] == ["bob@mail.test"]
    assert msg["From"].addresses[0].addr_spec == mail.google_email
    assert msg.get_content_type() == "multipart/alternative"
    text = msg.get_body(("plain",)).get_content()
    assert text.replace("\r\n", "\n") == "Hallo Zoë,\n" + "lange Zeile " * 120 + "\nbis bald\n"
    assert msg.get_body(("html",)).get_content().strip() == "<p>Hallo <b>Zoë</b></p>"
    raw = base64.urlsafe_b64decode(gmail_get(mail, f"messages/{found['id']}?format=raw")["raw"]
                                   + "===")
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    assert b"\n" not in raw.replace(b"\r\n", b"")


def test_a_reply_joins_the_thread_with_its_references(mail):
    first = mail.g_deliver(
        "From: Ann <ann@mail.test>\r\nTo: ada@gmail.test\r\nSubject: Proposal\r\n"
        "Message-ID: <proposal-1@mail.test>\r\n\r\nHere it is.\r\n")
    mail.connect()
    mail.start()
    mail.settle()
    thread = mail.conn.execute("SELECT id FROM rally.mail_threads").fetchone()[0]
    oid, mid = queue(mail, thread_id=thread, subject="Re: Proposal",
                     in_reply_to="<proposal-1@mail.test>",
                     references_header="<proposal-1@mail.test>")
    mail.settle()
    [found] = sent_with(mail, mid)
    msg, meta = raw_of(mail, found["id"])
    assert meta["threadId"] == first["threadId"]
    assert (msg["In-Reply-To"], msg["References"]) == ("<proposal-1@mail.test>",) * 2
    mail.sync()
    t = mail.conn.execute("SELECT message_count FROM rally.mail_threads WHERE id = %s",
                          (thread,)).fetchone()[0]
    assert t == 2, "the reply came back into its thread"


@pytest.mark.parametrize("field, value, reason", [
    ("subject", "Hi\r\nBcc: everyone@mail.test", "header injection"),
    ("to_addrs", ["ann@mail.test\r\nBcc: x@mail.test"], "header injection in to[0]"),
    ("to_addrs", ["not an address"], "bad address in to[0]"),
    ("from_addr", "Mallory <mallory@mail.test>", "not the connected Google account"),
])
def test_an_unsafe_message_fails_with_the_reason_and_nothing_is_sent(mail, field, value, reason):
    mail.connect()
    mail.start()
    mail.settle()
    oid, mid = queue(mail, **{field: value})
    mail.settle()
    row = outbox(mail, oid)
    assert row["state"] == "failed" and reason in row["last_error"], row
    assert sent_with(mail, mid) == []


def test_a_send_killed_before_its_commit_is_sent_exactly_once(mail, fakegoogle):
    mail.connect()
    mail.start()
    mail.settle()
    mail.daemons.pop().close()      # no daemon while the row is queued
    # A slow send: time to hold the row between 'sending' and 'sent'.
    fakegoogle.admin("POST", "/__admin/faults", {"kind": "latency", "latencyMs": 1500,
                                                 "pathPrefix": "/gmail/v1/users/me/messages/send"})
    locker = mail.pg.connect(mail.db, autocommit=False)
    oid, mid = queue(mail, subject="Exactly once")
    try:
        d = mail.start("victim")
        wait_until(lambda: outbox(mail, oid)["state"] == "sending", timeout=30, interval=0.01,
                   message="the send under way")
        locker.execute("SELECT 1 FROM rally.mail_outbox WHERE id = %s FOR UPDATE", (oid,))
        wait_until(lambda: sent_with(mail, mid), timeout=30, message="the send reached Gmail")
        wait_until(lambda: mail.conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND wait_event_type = 'Lock' AND query LIKE '%%mail_outbox_end%%'").fetchone()[0] == 1,
            message="the 'sent' commit waiting for the row")
        d.kill()                    # SIGKILL: the answer is never recorded
        mail.conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                          " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                          " AND query LIKE '%%mail_outbox_end%%'")
    finally:
        locker.rollback()
        locker.close()
        fakegoogle.admin("DELETE", "/__admin/faults")
    assert outbox(mail, oid)["state"] == "sending"
    mail.conn.execute("UPDATE rally.jobs SET lease_expires = now(), run_at = now()"
                      " WHERE kind = 'mailsend' AND state = 'running'")
    mail.start("heir")
    mail.settle()
    assert len(sent_with(mail, mid)) == 1, "looked up in Sent, not sent again"
    row = outbox(mail, oid)
    assert row["state"] == "sent"
    result = mail.conn.execute("SELECT result FROM rally.jobs WHERE kind = 'mailsend'"
                               " AND state = 'done' ORDER BY finished_at DESC LIMIT 1").fetchone()[0]
    assert result["found_in_sent"] == 1 and result["sent"] == 0


def queue_with_files(mail, files, **kw):
    """An outbox row and its files, in one transaction as the web tier
    writes them (the send job may start the moment the row commits)."""
    with mail.conn.transaction():
        oid, mid = queue(mail, **kw)
        for pos, (name, ctype, data) in enumerate(files):
            mail.conn.execute(
                "INSERT INTO rally.mail_outbox_attachments (tenant_id, outbox_id, user_id,"
                " position, filename, content_type, data) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                (mail.tenant, oid, mail.user, pos, name, ctype, data))
    return oid, mid


def attachments_of(mail, oid):
    return mail.conn.execute(
        "SELECT filename, content_type, size, data IS NULL FROM rally.mail_outbox_attachments"
        " WHERE outbox_id = %s ORDER BY position", (oid,)).fetchall()


def test_attachments_arrive_part_by_part_and_leave_the_database(mail, fakegoogle):
    mail.connect()
    mail.start()
    mail.settle()
    pdf = bytes(range(256)) * 40 + b"\x00\r\n\r\n--=_rally_not_a_boundary\r\n"
    csv = "name,city\nZoë,Köln\n".encode()
    files = [("Angebot März 2026 — Übersicht.pdf", "application/pdf", pdf),
             ("list.csv", "text/csv", csv)]
    oid, mid = queue_with_files(mail, files, body_html="<p>Anbei</p>",
                                body_text="Anbei.\n")
    mail.settle()
    row = outbox(mail, oid)
    assert row["state"] == "sent", row
    [found] = sent_with(mail, mid)
    msg, _ = raw_of(mail, found["id"])
    assert msg.get_content_type() == "multipart/mixed"
    body, *parts = list(msg.iter_parts())
    assert body.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in body.iter_parts()] == ["text/plain", "text/html"]
    assert [(p.get_filename(), p.get_content_type(), p.get_payload(decode=True))
            for p in parts] == files
    assert all(p["Content-Transfer-Encoding"] == "base64" for p in parts)
    raw = base64.urlsafe_b64decode(gmail_get(mail, f"messages/{found['id']}?format=raw")["raw"]
                                   + "===")
    lines = raw.split(b"\r\n")
    assert all(len(line) <= 76 for line in lines if line[:1].isalnum() and b":" not in line)
    # The copy lives in Gmail: the bytes left the database, what was sent stays.
    assert attachments_of(mail, oid) == [(n, t, len(d), True) for n, t, d in files]
    # Small enough for messages.send's own body.
    sends = [e["path"] for e in fakegoogle.requests_log()
             if e.get("route") == "gmail.users.messages.send"]
    assert sends[-1].startswith("/gmail/v1/")


def test_a_message_too_large_for_messages_send_goes_through_the_upload(mail, fakegoogle):
    mail.connect()
    mail.start()
    mail.settle()
    big = bytes((i * 7919) % 251 for i in range(6 * 1000 * 1000))
    files = [("données.bin", "application/octet-stream", big)]
    oid, mid = queue_with_files(mail, files)
    mail.settle(timeout=120)
    assert outbox(mail, oid)["state"] == "sent", outbox(mail, oid)
    [found] = sent_with(mail, mid)
    msg, _ = raw_of(mail, found["id"])
    [_, part] = list(msg.iter_parts())
    assert part.get_filename() == "données.bin" and part.get_payload(decode=True) == big
    sends = [e for e in fakegoogle.requests_log()
             if e.get("route") == "gmail.users.messages.send"]
    assert sends[-1]["path"] == "/upload/gmail/v1/users/me/messages/send"
    assert sends[-1]["query"]["uploadType"] == ["multipart"]
    assert attachments_of(mail, oid) == [("données.bin", "application/octet-stream",
                                          len(big), True)]


def test_attachments_past_gmails_limit_are_refused(mail):
    mail.connect()
    with pytest.raises(Exception) as e:
        queue_with_files(mail, [(f"f{i}.bin", "application/octet-stream", b"x" * 9_000_000)
                                for i in range(3)])
    assert "25000000 bytes" in str(e.value)
    assert mail.conn.execute("SELECT count(*) FROM rally.mail_outbox").fetchone()[0] == 0


def test_a_row_whose_files_are_not_whole_fails_and_nothing_is_sent(mail):
    mail.connect()
    with mail.conn.transaction():
        oid, mid = queue_with_files(mail, [("a.txt", "text/plain", b"a"),
                                           ("b.txt", "text/plain", b"b")])
        # As if the bytes had gone with an earlier send: rallyd checks
        # what it reads, whoever wrote it.
        mail.conn.execute("UPDATE rally.mail_outbox_attachments SET data = NULL"
                          " WHERE outbox_id = %s AND filename = 'b.txt'", (oid,))
    mail.start()
    mail.settle()
    row = outbox(mail, oid)
    assert row["state"] == "failed" and "content is gone" in row["last_error"], row
    assert sent_with(mail, mid) == []


def mailsend_job(mail):
    return mail.conn.execute(
        "SELECT state, last_error, run_at - now() FROM rally.jobs WHERE kind = 'mailsend'"
        " ORDER BY id DESC LIMIT 1").fetchone()


def send_once_after(mail, fakegoogle, fault):
    mail.connect()
    mail.start()
    mail.settle()
    fakegoogle.admin("POST", "/__admin/faults", dict(
        fault, count=1, pathPrefix="/gmail/v1/users/me/messages/send"))
    try:
        oid, mid = queue(mail, subject=f"Once after {fault['kind']}")
        # The job's retry waits its backoff (daemon.retry_base).
        wait_until(lambda: outbox(mail, oid)["state"] == "sent", timeout=60,
                   message="the message sent")
    finally:
        fakegoogle.admin("DELETE", "/__admin/faults")
    assert len(sent_with(mail, mid)) == 1


def test_a_send_whose_answer_is_cut_short_is_sent_exactly_once(mail, fakegoogle):
    """Gmail took the message and its answer came back cut short: the send
    is not retried on the spot (lib/http would), and the job's next attempt
    finds it in Sent."""
    send_once_after(mail, fakegoogle, {"kind": "truncate"})


def test_a_send_whose_answer_comes_too_late_is_sent_exactly_once(
        pg, db, login_roles, fakegoogle, tmp_path):
    """The same when the answer comes after http.timeout."""
    m = Mail(pg, db, login_roles, fakegoogle, tmp_path, "ada")
    m.fg.admin("POST", "/__admin/accounts", {"email": m.google_email})
    m.sections.setdefault("http", {})["timeout"] = "2s"
    try:
        send_once_after(m, fakegoogle, {"kind": "latency", "latencyMs": 3000})
    finally:
        m.close()


def test_a_rate_limited_send_waits_while_rallyd_goes_on(mail, fakegoogle):
    """A 429 whose Retry-After is past what lib/http waits for reaches the
    job, which cancels the rest of its calls from inside the call's end:
    the daemon must live through it (it crashed on a double free) and send
    the message once, when its turn comes."""
    mail.connect()
    mail.start()
    mail.settle()
    rallyd = mail.daemons[0]
    fakegoogle.admin("POST", "/__admin/faults", {"kind": "429", "count": 1, "retryAfter": 90,
                     "pathPrefix": "/gmail/v1/users/me/messages/send"})
    try:
        oid, mid = queue(mail, subject="Rate limited")
        wait_until(lambda: rallyd.proc.poll() is not None or mailsend_job(mail)[1],
                   timeout=30, message="the send deferred")
        assert rallyd.proc.poll() is None, rallyd.output()[-2000:]
        state, error, wait = mailsend_job(mail)
        assert state == "pending" and error.startswith("rate") and wait.total_seconds() > 60
    finally:
        fakegoogle.admin("DELETE", "/__admin/faults")
    assert sent_with(mail, mid) == []
    mail.conn.execute("UPDATE rally.jobs SET run_at = now() WHERE kind = 'mailsend'"
                      " AND state = 'pending'")
    mail.settle()
    assert outbox(mail, oid)["state"] == "sent" and len(sent_with(mail, mid)) == 1


def test_mail_left_by_a_job_out_of_attempts_is_taken_up_again(
        pg, db, login_roles, fakegoogle, tmp_path):
    """An outage outlasts the send job's attempts: the job fails, the row
    still waits.  The scheduler's tick takes it up again, not within 15
    minutes of the failure (no loop), and the message goes out once."""
    m = Mail(pg, db, login_roles, fakegoogle, tmp_path, "ada")
    m.fg.admin("POST", "/__admin/accounts", {"email": m.google_email})
    m.sections.setdefault("daemon", {})["max_attempts"] = "3"
    m.sections.setdefault("http", {})["max_retries"] = "0"
    try:
        m.connect()
        m.start()
        m.settle()
        fakegoogle.admin("POST", "/__admin/faults", {"kind": "503", "count": 1000,
                         "pathPrefix": "/gmail/v1/users/me/messages/send"})
        oid, mid = queue(m, subject="After the outage")
        wait_until(lambda: mailsend_job(m)[0] == "failed", timeout=60,
                   message="the send job out of attempts")
        assert outbox(m, oid)["state"] in ("queued", "sending")
        waiting = "SELECT rally.mail_queue_waiting('mailsend')"
        assert m.conn.execute(waiting).fetchone() == (0,)
        fakegoogle.admin("DELETE", "/__admin/faults")
        m.conn.execute("UPDATE rally.jobs SET finished_at = now() - interval '16 minutes'"
                       " WHERE kind = 'mailsend' AND state = 'failed'")
        # rallyd's own tick may queue it first: either way, one job.
        m.conn.execute(waiting)
        assert m.conn.execute(waiting).fetchone() == (0,), "one job, not one a tick"
        assert m.conn.execute("SELECT count(*) FROM rally.jobs WHERE kind = 'mailsend'"
                              " AND state IN ('pending', 'running')").fetchone() == (1,)
        wait_until(lambda: outbox(m, oid)["state"] == "sent", timeout=60,
                   message="the message sent")
        assert len(sent_with(m, mid)) == 1
    finally:
        m.close()


def test_a_refused_lookup_leaves_the_message_to_be_looked_for_again(mail, fakegoogle):
    """After an answer lost, the next attempt searches Sent first.  Gmail
    refusing that search says nothing of the message, which is in Sent:
    it is not marked failed (a user would send it again), but looked for
    again, and found."""
    mail.connect()
    mail.start()
    mail.settle()
    fakegoogle.admin("POST", "/__admin/faults", {"kind": "truncate", "count": 1,
                     "pathPrefix": "/gmail/v1/users/me/messages/send"})
    fakegoogle.admin("POST", "/__admin/faults", {"kind": "garbage", "status": 400, "count": 2,
                     "method": "GET", "pathPrefix": "/gmail/v1/users/me/messages"})
    try:
        oid, mid = queue(mail, subject="Looked for twice")
        wait_until(lambda: outbox(mail, oid)["state"] in ("sent", "failed"), timeout=60,
                   message="the row settled")
    finally:
        fakegoogle.admin("DELETE", "/__admin/faults")
    row = outbox(mail, oid)
    assert row["state"] == "sent", row
    assert len(sent_with(mail, mid)) == 1
    result = mail.conn.execute("SELECT result FROM rally.jobs WHERE kind = 'mailsend'"
                               " AND state = 'done' ORDER BY finished_at DESC LIMIT 1"
                               ).fetchone()[0]
    assert result["found_in_sent"] == 1 and result["sent"] == 0
