# SPDX-License-Identifier: ISC
"""Organizing mail from the CRM: the label changes a user asks for
(rally.mail_label_ops, as the web tier writes them) reach Gmail, the
CRM's copy follows at once, and changes made on both sides converge."""

import time

import pytest

from rallytest.daemon import wait_until
from rallytest.mail import Mail


@pytest.fixture
def mail(pg, db, login_roles, fakegoogle, tmp_path):
    m = Mail(pg, db, login_roles, fakegoogle, tmp_path, "ada")
    yield m
    m.close()


def msg(subject, extra=""):
    return (f"From: Ann <ann@mail.test>\r\nTo: ada@gmail.test\r\nSubject: {subject}\r\n"
            f"Message-ID: <{time.monotonic_ns()}@mail.test>\r\n{extra}\r\nBody\r\n")


def request(mail, op, gmail_id=None, thread=None):
    """An op as the CRM's inbox page records it."""
    m = t = None
    if gmail_id:
        m = mail.conn.execute("SELECT id FROM rally.mail_messages WHERE gmail_id = %s",
                              (gmail_id,)).fetchone()[0]
    if thread:
        t = mail.conn.execute("SELECT id FROM rally.mail_threads WHERE gmail_thread_id = %s",
                              (thread,)).fetchone()[0]
    return mail.conn.execute(
        "INSERT INTO rally.mail_label_ops (tenant_id, user_id, connection_id, message_id,"
        " thread_id, op) VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
        (mail.tenant, mail.user, mail.connection, m, t, op)).fetchone()[0]


def op_state(mail, op_id):
    return mail.conn.execute("SELECT state, last_error FROM rally.mail_label_ops WHERE id = %s",
                             (op_id,)).fetchone()


@pytest.fixture
def synced(mail):
    mail.fg.admin("POST", "/__admin/accounts", {"email": mail.google_email})
    first = mail.g_deliver(msg("Quarterly numbers"))
    reply = mail.g_deliver(msg("Re: Quarterly numbers", "In-Reply-To: <x@mail.test>\r\n"),
                           thread_id=first["threadId"])
    other = mail.g_deliver(msg("Lunch?"))
    mail.connect()
    mail.start()
    mail.settle()
    return first, reply, other


def test_read_star_and_archive_from_the_crm_reach_gmail(mail, synced):
    first, _, other = synced
    ops = [request(mail, "read", first["id"]), request(mail, "star", first["id"]),
           request(mail, "archive", other["id"])]
    mail.settle()
    assert [op_state(mail, o) for o in ops] == [("done", None)] * 3
    g = mail.g_messages()
    assert g[first["id"]]["labelIds"] == ["INBOX", "STARRED"]
    assert g[other["id"]]["labelIds"] == ["UNREAD"]
    mine = mail.messages()
    assert sorted(mine[first["id"]]["label_ids"]) == ["INBOX", "STARRED"]
    assert sorted(mine[other["id"]]["label_ids"]) == ["UNREAD"]


def test_a_thread_op_reaches_every_message_of_the_thread(mail, synced):
    first, reply, other = synced
    assert first["threadId"] == reply["threadId"]
    op = request(mail, "read", thread=first["threadId"])
    mail.settle()
    assert op_state(mail, op) == ("done", None)
    g = mail.g_messages()
    assert "UNREAD" not in g[first["id"]]["labelIds"] + g[reply["id"]]["labelIds"]
    assert "UNREAD" in g[other["id"]]["labelIds"]


def test_trash_and_untrash_round_trip(mail, synced):
    first, _, _ = synced
    request(mail, "trash", first["id"])
    mail.settle()
    assert "TRASH" in mail.g_messages()[first["id"]]["labelIds"]
    assert "TRASH" in mail.messages()[first["id"]]["label_ids"]
    request(mail, "untrash", first["id"])
    mail.settle()
    assert "TRASH" not in mail.g_messages()[first["id"]]["labelIds"]
    mail.sync()
    assert "TRASH" not in mail.messages()[first["id"]]["label_ids"]


def test_a_crm_change_and_a_gmail_change_to_one_message_converge(mail, synced):
    first, _, _ = synced
    mail.g_labels(first["id"], remove=["UNREAD"])       # read in Gmail
    request(mail, "star", first["id"])                  # starred in the CRM meanwhile
    mail.settle()
    mail.sync()
    want = ["INBOX", "STARRED"]
    assert mail.g_messages()[first["id"]]["labelIds"] == want
    assert sorted(mail.messages()[first["id"]]["label_ids"]) == want


def test_an_op_gmail_refuses_fails_with_the_reason_and_the_rest_go_on(mail, synced, fakegoogle):
    first, _, other = synced
    fakegoogle.admin("POST", "/__admin/faults", {
        "kind": "garbage", "status": 400, "count": 1,
        "pathPrefix": f"/gmail/v1/users/me/messages/{first['id']}/modify"})
    try:
        bad = request(mail, "star", first["id"])
        good = request(mail, "star", other["id"])
        mail.settle()
    finally:
        fakegoogle.admin("DELETE", "/__admin/faults")
    state, error = op_state(mail, bad)
    assert state == "failed" and error.startswith("rejected")
    assert op_state(mail, good) == ("done", None)
    assert "STARRED" in mail.g_messages()[other["id"]]["labelIds"]


def test_a_rate_limited_op_waits_while_rallyd_goes_on(mail, synced, fakegoogle):
    """The label op's job ends from inside its call's end (a 429 lib/http
    does not wait out): the daemon lives, and the op is done later."""
    _, _, other = synced
    rallyd = mail.daemons[0]
    fakegoogle.admin("POST", "/__admin/faults", {"kind": "429", "count": 1, "retryAfter": 90,
                     "pathPrefix": f"/gmail/v1/users/me/messages/{other['id']}/modify"})

    def deferred():
        return mail.conn.execute("SELECT last_error FROM rally.jobs WHERE kind = 'maillabel'"
                                 " AND state = 'pending' AND last_error IS NOT NULL").fetchone()
    try:
        op = request(mail, "star", other["id"])
        wait_until(lambda: rallyd.proc.poll() is not None or deferred(), timeout=30,
                   message="the op deferred")
        assert rallyd.proc.poll() is None, rallyd.output()[-2000:]
    finally:
        fakegoogle.admin("DELETE", "/__admin/faults")
    mail.conn.execute("UPDATE rally.jobs SET run_at = now() WHERE kind = 'maillabel'"
                      " AND state = 'pending'")
    mail.settle()
    assert op_state(mail, op) == ("done", None)
    assert "STARRED" in mail.g_messages()[other["id"]]["labelIds"]
