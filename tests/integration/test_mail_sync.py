# SPDX-License-Identifier: ISC
"""Gmail → CRM sync, end to end: rallyd against the Google emulator and a
real PostgreSQL.  Each test connects a fresh Google account (mail only)
with `rallyctl google connect` and compares the CRM's inbox with Gmail."""

import time

import pytest

from rallytest.daemon import wait_until
from rallytest.mail import Mail


@pytest.fixture
def mail(pg, db, login_roles, fakegoogle, tmp_path):
    m = Mail(pg, db, login_roles, fakegoogle, tmp_path, "ada")
    yield m
    m.close()


def msg(subject="Hello", body="Hi Ada,\r\nsee you.\r\n", frm="Ann <ann@mail.test>",
        headers="", ctype="text/plain; charset=utf-8", cte="8bit", msgid=None):
    return (f"From: {frm}\r\nTo: Ada <ada@gmail.test>\r\nSubject: {subject}\r\n"
            f"Date: Tue, 24 Nov 2026 10:00:00 +0000\r\n"
            f"Message-ID: {msgid or '<' + str(time.monotonic_ns()) + '@mail.test>'}\r\n"
            f"MIME-Version: 1.0\r\nContent-Type: {ctype}\r\n"
            f"Content-Transfer-Encoding: {cte}\r\n{headers}\r\n{body}")


def assert_same_as_gmail(mail):
    """The CRM holds exactly Gmail's messages (spam and trash aside, which
    the full sync does not list), with their threads and labels."""
    gmail = {k: v for k, v in mail.g_messages().items()
             if not {"SPAM", "TRASH"} & set(v["labelIds"])}
    mine = mail.messages()
    mine_listed = {k: v for k, v in mine.items() if not {"SPAM", "TRASH"} & set(v["label_ids"])}
    assert set(mine_listed) == set(gmail), set(mine_listed) ^ set(gmail)
    for gid, g in gmail.items():
        assert sorted(mine[gid]["label_ids"]) == g["labelIds"], gid
        assert mine[gid]["gmail_thread_id"] == g["threadId"], gid
    return gmail


def test_full_sync_brings_every_message_over_page_by_page(mail, fakegoogle):
    fakegoogle.admin("POST", "/__admin/settings", {"pageShortEvery": 2, "pageEmptyEvery": 3})
    try:
        mail.fg.admin("POST", "/__admin/accounts", {"email": mail.google_email})
        mail.fg.admin("POST", f"/__admin/accounts/{mail.google_email}/seed",
                      {"messages": 230, "seed": 3, "baseTime": int(time.time()) - 3600})
        mail.sections["mail"]["page_size"] = "40"
        mail.connect()
        mail.start()
        mail.settle()
    finally:
        fakegoogle.admin("POST", "/__admin/settings", {"pageShortEvery": 0, "pageEmptyEvery": 0})
    listed = assert_same_as_gmail(mail)
    r = mail.last_result("full")
    assert r["pages"] >= 6 and r["fetched"] == len(listed) > 200, r
    s = mail.mail_state()
    assert (s["full_sync_required"], s["gmail_history_id"] is not None, s["item_count"],
            s["full_sync_page_token"]) == (False, True, len(listed), None)
    threads = mail.conn.execute("SELECT sum(message_count) FROM rally.mail_threads"
                                " WHERE connection_id = %s", (mail.connection,)).fetchone()[0]
    assert threads == len(listed)


def test_headers_bodies_and_attachments_are_stored_decoded(mail):
    mail.fg.admin("POST", "/__admin/accounts", {"email": mail.google_email})
    latin = msg(subject="=?ISO-8859-1?Q?Gr=FC=DFe_aus_K=F6ln?=", ctype="text/plain; charset=iso-8859-1",
                body="").encode() + "Schöne Grüße\r\n".encode("iso-8859-1")
    mixed = msg(subject="Report", ctype='multipart/mixed; boundary="b1"', cte="7bit", body=(
        "--b1\r\nContent-Type: multipart/alternative; boundary=\"b2\"\r\n\r\n"
        "--b2\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nPlain part\r\n"
        "--b2\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>HTML part</p>\r\n--b2--\r\n"
        "--b1\r\nContent-Type: application/pdf; name=\"q3.pdf\"\r\n"
        "Content-Disposition: attachment; filename=\"q3.pdf\"\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b1--\r\n"))
    ids = {"latin": mail.g_deliver(latin)["id"], "mixed": mail.g_deliver(mixed)["id"],
           "html": mail.g_deliver(msg(subject="Only HTML", ctype="text/html; charset=utf-8",
                                      body="<b>bold</b>"))["id"],
           "reply": mail.g_deliver(msg(subject="Re: Hello", headers=(
               "In-Reply-To: <orig@mail.test>\r\nReferences: <root@mail.test> <orig@mail.test>\r\n"
               "Cc: \"Doe, Jane\" <jane@mail.test>, bob@mail.test\r\n")))["id"]}
    mail.connect()
    mail.start()
    mail.settle()
    m = mail.messages()
    assert m[ids["latin"]]["subject"] == "Grüße aus Köln"
    assert m[ids["latin"]]["body_text"].strip() == "Schöne Grüße"
    assert m[ids["mixed"]]["body_text"].strip() == "Plain part"
    assert m[ids["mixed"]]["body_html"].strip() == "<p>HTML part</p>"
    att = m[ids["mixed"]]["attachments"]
    assert [(a["filename"], a["mime_type"]) for a in att] == [("q3.pdf", "application/pdf")]
    assert att[0]["attachment_id"] and att[0]["size"] > 0
    assert m[ids["html"]]["body_html"].strip() == "<b>bold</b>" and m[ids["html"]]["body_text"] is None
    r = m[ids["reply"]]
    assert r["in_reply_to"] == "<orig@mail.test>"
    assert r["references_header"] == "<root@mail.test> <orig@mail.test>"
    # One mailbox per element: the name needs no quotes to stay one (docs/mail.md).
    assert r["cc_addrs"] == ["Doe, Jane <jane@mail.test>", "bob@mail.test"]
    assert r["from_addr"] == "Ann <ann@mail.test>" and r["to_addrs"] == ["Ada <ada@gmail.test>"]


def test_incremental_sync_applies_new_mail_label_changes_and_deletions(mail):
    mail.fg.admin("POST", "/__admin/accounts", {"email": mail.google_email})
    a = mail.g_deliver(msg(subject="First"))["id"]
    b = mail.g_deliver(msg(subject="Second"))["id"]
    mail.connect()
    mail.start()
    mail.settle()
    assert set(mail.messages()) == {a, b}
    c = mail.g_deliver(msg(subject="Third"))["id"]
    mail.g_labels(a, add=["STARRED"], remove=["UNREAD"])
    mail.g_labels(a, remove=["INBOX"])
    mail.g_delete_message(b)
    mail.sync()
    m = mail.messages()
    assert set(m) == {a, c}
    assert sorted(m[a]["label_ids"]) == ["STARRED"]
    assert mail.last_result()["mode"] == "incremental"
    assert_same_as_gmail(mail)


def test_a_message_added_and_deleted_between_syncs_is_never_fetched(mail, fakegoogle):
    mail.fg.admin("POST", "/__admin/accounts", {"email": mail.google_email})
    mail.connect()
    mail.start()
    mail.settle()
    short = mail.g_deliver(msg(subject="Short-lived"))["id"]
    mail.g_delete_message(short)
    since = fakegoogle.requests_log()[-1]["seq"]
    mail.sync()
    gets = [r for r in fakegoogle.requests_log(since) if short in r["path"]]
    assert gets == [] and mail.messages() == {}


def test_a_message_gone_when_fetched_is_skipped_and_counted(mail, fakegoogle):
    mail.fg.admin("POST", "/__admin/accounts", {"email": mail.google_email})
    mail.connect()
    mail.start()
    mail.settle()
    gone = mail.g_deliver(msg(subject="Vanishing"))["id"]
    kept = mail.g_deliver(msg(subject="Staying"))["id"]
    # As if deleted between the history read and the fetch: Gmail's 404.
    fakegoogle.admin("POST", "/__admin/faults", {
        "kind": "garbage", "status": 404, "count": 1,
        "pathPrefix": f"/gmail/v1/users/me/messages/{gone}"})
    try:
        mail.sync()
    finally:
        fakegoogle.admin("DELETE", "/__admin/faults")
    assert set(mail.messages()) == {kept}
    r = mail.last_result("incremental")
    assert (r["vanished"], r["fetched"]) == (1, 1), r


def test_a_label_change_for_a_message_never_stored_fetches_it(mail):
    mail.fg.admin("POST", "/__admin/accounts", {"email": mail.google_email})
    old = mail.g_deliver(msg(subject="Old news"), internal_date=int(time.time() - 400 * 86400) * 1000)
    mail.sections["mail"]["window"] = "30d"
    mail.connect()
    mail.start()
    mail.settle()
    assert mail.messages() == {}, "outside mail.window: not listed"
    mail.g_labels(old["id"], add=["STARRED"])
    mail.sync()
    assert sorted(mail.messages()[old["id"]]["label_ids"]) == ["INBOX", "STARRED", "UNREAD"]


def test_expired_history_triggers_a_full_resync_that_removes_what_gmail_lost(mail):
    mail.fg.admin("POST", "/__admin/accounts", {"email": mail.google_email})
    keep = mail.g_deliver(msg(subject="Keep"))["id"]
    mail.connect()
    mail.start()
    mail.settle()
    # A row Gmail never had (as after a missed deletion): only a full sync sees it.
    thread = mail.conn.execute("SELECT thread_id FROM rally.mail_messages").fetchone()[0]
    mail.conn.execute(
        "INSERT INTO rally.mail_messages (tenant_id, thread_id, user_id, connection_id, gmail_id,"
        " gmail_history_id, synced_at) VALUES (%s, %s, %s, %s, 'ghost', 1, now() - interval '1 day')",
        (mail.tenant, thread, mail.user, mail.connection))
    mail.fg.admin("POST", f"/__admin/accounts/{mail.google_email}/expire-history")
    mail.g_deliver(msg(subject="After expiry"))
    mail.sync()
    assert mail.last_result()["mode"] == "full"
    assert "ghost" not in mail.messages() and keep in mail.messages()
    assert_same_as_gmail(mail)


def test_a_full_sync_killed_midway_resumes_from_its_last_committed_page(mail, fakegoogle):
    mail.fg.admin("POST", "/__admin/accounts", {"email": mail.google_email})
    mail.fg.admin("POST", f"/__admin/accounts/{mail.google_email}/seed",
                  {"messages": 300, "seed": 5, "baseTime": int(time.time()) - 3600})
    mail.sections["mail"]["page_size"] = "25"
    fakegoogle.admin("POST", "/__admin/faults", {"kind": "latency", "latencyMs": 30,
                                                 "probability": 1.0,
                                                 "pathPrefix": "/gmail/v1/users/me/messages/"})
    try:
        mail.connect()
        d = mail.start()
        wait_until(lambda: mail.mail_state()["full_sync_page_token"] is not None, timeout=60,
                   interval=0.05, message="a list page committed")
        d.kill()  # SIGKILL
        stored = len(mail.messages())
        assert 0 < stored < 300
        mail.conn.execute("UPDATE rally.jobs SET lease_expires = now(), run_at = now()"
                          " WHERE kind = 'mailsync' AND state = 'running'")
    finally:
        fakegoogle.admin("DELETE", "/__admin/faults")
    mail.start()
    mail.settle()
    assert_same_as_gmail(mail)
    r = mail.last_result("full")
    assert r["fetched"] < 300, "resumed, not started over"


def test_faults_from_gmail_are_retried_until_the_inbox_matches(mail, fakegoogle):
    mail.fg.admin("POST", "/__admin/accounts", {"email": mail.google_email})
    mail.fg.admin("POST", f"/__admin/accounts/{mail.google_email}/seed",
                  {"messages": 120, "seed": 9, "baseTime": int(time.time()) - 3600})
    mail.sections["mail"]["page_size"] = "30"
    for kind in ("500", "503", "429", "reset", "truncate", "garbage"):
        fakegoogle.admin("POST", "/__admin/faults", {"kind": kind, "probability": 0.02,
                                                     "pathPrefix": "/gmail/", "retryAfter": 0})
    try:
        mail.connect()
        mail.start()
        mail.settle(timeout=120)
        mail.g_labels(next(iter(mail.messages())), add=["STARRED"])
        mail.g_deliver(msg(subject="During faults"))
        mail.sync(timeout=120)
    finally:
        fakegoogle.admin("DELETE", "/__admin/faults")
    mail.sync()
    assert_same_as_gmail(mail)


def test_the_reconcile_job_repairs_a_deleted_row_and_removes_a_ghost(mail):
    mail.fg.admin("POST", "/__admin/accounts", {"email": mail.google_email})
    ids = [mail.g_deliver(msg(subject=f"Kept {i}"))["id"] for i in range(3)]
    mail.connect()
    mail.start()
    mail.settle()
    # Damage the copy behind history's back: a row lost, a row Gmail never had.
    mail.conn.execute("DELETE FROM rally.mail_messages WHERE gmail_id = %s", (ids[1],))
    thread = mail.conn.execute("SELECT thread_id FROM rally.mail_messages LIMIT 1").fetchone()[0]
    mail.conn.execute(
        "INSERT INTO rally.mail_messages (tenant_id, thread_id, user_id, connection_id, gmail_id,"
        " gmail_history_id, internal_date, synced_at) VALUES (%s, %s, %s, %s, 'ghost', 1,"
        " now() - interval '2 days', now() - interval '1 day')",
        (mail.tenant, thread, mail.user, mail.connection))
    mail.conn.execute("SELECT rally.job_enqueue(%s, 'mailreconcile', %s, %s)",
                      (mail.tenant, str(mail.connection),
                       f'{{"connection_id": "{mail.connection}"}}'))
    mail.settle()
    assert set(mail.messages()) == set(ids)
    r = mail.conn.execute("SELECT result FROM rally.jobs WHERE kind = 'mailreconcile'"
                          " AND state = 'done'").fetchone()[0]
    assert (r["listed"], r["missing"], r["removed"], r["fetched"]) == (3, 1, 1, 1), r
    assert mail.mail_state()["last_reconcile_at"] is not None
    assert_same_as_gmail(mail)
