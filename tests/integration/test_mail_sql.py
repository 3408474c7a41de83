# SPDX-License-Identifier: ISC
"""Gmail sync's SQL (sql/functions/mail-inbound.sql), called straight from
Python against a scratch database: no rallyd, no emulator.  The batch
apply as a set, the history-id guard that makes the last state win in
any order, the full sync's fence and sweep, and the thread summaries."""

import pytest
from psycopg.types.json import Jsonb

from rallytest.schema import calendar_user, insert


def row(gid, thread="t1", hid=100, **kw):
    """A row as lib/mail/decode makes it."""
    r = {"gmail_id": gid, "thread_id": thread, "history_id": str(hid),
         "internal_date_ms": 1764000000000 + int(hid), "size_estimate": 1200,
         "label_ids": ["INBOX", "UNREAD"], "snippet": f"snippet {gid}",
         "message_id": f"<{gid}@mail.test>", "in_reply_to": None, "references": None,
         "subject": f"Subject {gid}", "from": "Ann <ann@mail.test>", "reply_to": None,
         "date": "2026-11-24T16:00:00Z", "to": ["ada@gmail.test"], "cc": [], "bcc": [],
         "body_text": "Hello", "body_html": None, "attachments": [], "repaired": 0}
    r.update(kw)
    return r


class Mailbox:
    """A tenant, its owner and a Google connection with mail on."""

    def __init__(self, conn):
        self.conn = conn
        self.tenant, self.user, self.id = calendar_user(conn)
        conn.execute("UPDATE rally.google_connections SET mail_enabled = true"
                     " WHERE id = %s", (self.id,))
        insert(conn, "sync_state", tenant_id=self.tenant, connection_id=self.id,
               resource="mail")

    def start_full(self, history_id=500):
        return self.conn.execute("SELECT rally.mail_start_full(%s, %s, %s)",
                                 (self.tenant, self.id, history_id)).fetchone()[0]

    def apply(self, **batch):
        if "full_started" in batch and batch["full_started"] is not None:
            batch["full_started"] = batch["full_started"].isoformat()
        return self.conn.execute("SELECT rally.mail_apply_batch(%s, %s, %s)",
                                 (self.tenant, self.id, Jsonb(batch))).fetchone()[0]

    def messages(self):
        return {r[0]: r[1:] for r in self.conn.execute(
            "SELECT gmail_id, label_ids, subject, gmail_history_id::bigint"
            " FROM rally.mail_messages WHERE connection_id = %s", (self.id,))}

    def threads(self):
        return {r[0]: r[1:] for r in self.conn.execute(
            "SELECT gmail_thread_id, message_count, subject, snippet"
            " FROM rally.mail_threads WHERE connection_id = %s", (self.id,))}

    def state(self):
        cur = self.conn.execute("SELECT * FROM rally.sync_state WHERE connection_id = %s"
                                " AND resource = 'mail'", (self.id,))
        return dict(zip([c.name for c in cur.description], cur.fetchone()))


@pytest.fixture
def mb(pg, db):
    with pg.connect(db) as conn:
        yield Mailbox(conn)


def test_a_full_sync_stores_messages_in_threads_and_resumes_from_its_page(mb):
    started = mb.start_full(history_id=500)
    r = mb.apply(messages=[row("m1", "t1", 10), row("m2", "t1", 11), row("m3", "t2", 12)],
                 full_started=started, page_token="page-2")
    assert r["written"] == 3
    assert mb.threads() == {"t1": (2, "Subject m1", "snippet m2"),
                            "t2": (1, "Subject m3", "snippet m3")}
    s = mb.state()
    assert s["full_sync_page_token"] == "page-2" and s["full_sync_required"]
    assert s["gmail_history_id"] is None, "history takes over only at the end"

    r = mb.apply(messages=[row("m4", "t2", 13)], full_started=started, done=True)
    s = mb.state()
    assert (s["full_sync_required"], s["full_sync_page_token"], int(s["gmail_history_id"]),
            s["item_count"]) == (False, None, 500, 4)


def test_the_end_of_a_full_sync_removes_what_gmail_no_longer_has(mb):
    first = mb.start_full()
    mb.apply(messages=[row("keep", "t1"), row("gone", "t2")], full_started=first, done=True)
    second = mb.start_full(history_id=900)
    r = mb.apply(messages=[row("keep", "t1", 101)], full_started=second, done=True)
    assert r["swept"] == 1
    assert set(mb.messages()) == {"keep"}
    assert set(mb.threads()) == {"t1"}, "a thread left without messages goes too"


def test_a_batch_of_an_older_full_sync_changes_nothing(mb):
    old = mb.start_full()
    new = mb.start_full(history_id=700)
    assert old != new
    assert mb.apply(messages=[row("m1")], full_started=old, done=True) == {"stale": True}
    assert mb.messages() == {}
    mb.apply(messages=[row("m1")], full_started=new, done=True)
    assert int(mb.state()["gmail_history_id"]) == 700


def test_a_message_moves_only_to_a_newer_state(mb):
    mb.apply(messages=[row("m1", hid=200, subject="New", label_ids=["INBOX"])])
    mb.apply(messages=[row("m1", hid=150, subject="Old", label_ids=["INBOX", "UNREAD"])])
    assert mb.messages()["m1"] == (["INBOX"], "New", 200)
    # Labels as of an older history record than the stored message: ignored.
    r = mb.apply(labels=[{"id": "m1", "label_ids": ["TRASH"], "history_id": "190"}])
    assert r["labels"] == 0 and mb.messages()["m1"][0] == ["INBOX"]
    r = mb.apply(labels=[{"id": "m1", "label_ids": ["STARRED"], "history_id": "210"}])
    assert r["labels"] == 1 and mb.messages()["m1"] == (["STARRED"], "New", 210)


def test_the_same_message_twice_in_one_batch_ends_in_its_newest_state(mb):
    r = mb.apply(messages=[row("m1", hid=300, subject="Third"), row("m1", hid=100, subject="First")],
                 labels=[{"id": "m2", "label_ids": ["A"], "history_id": "5"},
                         {"id": "m2", "label_ids": ["B"], "history_id": "6"}])
    assert r["written"] == 1 and mb.messages()["m1"][1] == "Third"


def test_labels_reach_only_messages_the_database_has(mb):
    mb.apply(messages=[row("m1")])
    unknown = mb.conn.execute("SELECT rally.mail_unknown_ids(%s, %s, %s)",
                              (mb.tenant, mb.id, ["m1", "m9"])).fetchone()[0]
    assert unknown == ["m9"]


def test_deletions_remove_messages_and_refresh_their_thread(mb):
    mb.apply(messages=[row("m1", "t1", 10), row("m2", "t1", 11)])
    r = mb.apply(deleted=["m2", "never-stored"])
    assert r["deleted"] == 1
    assert mb.threads() == {"t1": (1, "Subject m1", "snippet m1")}


def test_an_incremental_sync_never_moves_the_history_id_back(mb):
    started = mb.start_full(history_id=500)
    mb.apply(full_started=started, done=True)
    mb.apply(history_id="800", done=True)
    assert int(mb.state()["gmail_history_id"]) == 800
    mb.apply(history_id="600", done=True)
    assert int(mb.state()["gmail_history_id"]) == 800


def test_skipped_messages_are_counted_by_reason(mb):
    mb.apply(skipped={"undecodable": 2})
    mb.apply(skipped={"undecodable": 1, "malformed_json": 1})
    assert mb.state()["skipped"] == {"undecodable": 3, "malformed_json": 1}


def test_a_connection_with_mail_off_takes_nothing(mb):
    mb.conn.execute("UPDATE rally.google_connections SET mail_enabled = false"
                    " WHERE id = %s", (mb.id,))
    assert mb.apply(messages=[row("m1")]) == {"gone": True}
    assert mb.messages() == {}


def test_non_ascii_and_long_texts_are_stored_as_given(mb):
    mb.apply(messages=[row("m1", subject="Grüße – 日本語", body_text="x" * 300000,
                           attachments=[{"filename": "a.pdf", "mime_type": "application/pdf",
                                         "size": 10, "attachment_id": "ANGj"}],
                           to=["Zoë <zoe@mail.test>", "bo@mail.test"])])
    got = mb.conn.execute("SELECT subject, length(body_text), to_addrs, attachments"
                          " FROM rally.mail_messages").fetchone()
    assert got == ("Grüße – 日本語", 300000, ["Zoë <zoe@mail.test>", "bo@mail.test"],
                   [{"filename": "a.pdf", "mime_type": "application/pdf", "size": 10,
                     "attachment_id": "ANGj"}])


def test_the_poll_queues_one_sync_per_mailbox_due(mb):
    n = mb.conn.execute("SELECT rally.mail_queue_periodic(300, false, 0)").fetchone()[0]
    assert n == 1
    n = mb.conn.execute("SELECT rally.mail_queue_periodic(300, false, 0)").fetchone()[0]
    assert n == 0, "a pending sync is not queued twice"
    assert mb.conn.execute("SELECT kind, payload->>'connection_id' FROM rally.jobs").fetchall() \
        == [("mailsync", str(mb.id))]


def test_the_tick_renews_a_gmail_watch_daily_when_push_is_configured(mb):
    mb.conn.execute("UPDATE rally.sync_state SET last_sync_at = now()")
    assert mb.conn.execute("SELECT rally.mail_queue_periodic(300, true, 0)").fetchone()[0] == 1
    mb.conn.execute("DELETE FROM rally.jobs")
    mb.conn.execute("UPDATE rally.sync_state SET channel_expires_at = now() + interval '6 days 23 hours'")
    assert mb.conn.execute("SELECT rally.mail_queue_periodic(300, true, 0)").fetchone()[0] == 0
    mb.conn.execute("UPDATE rally.sync_state SET channel_expires_at = now() + interval '5 days'")
    assert mb.conn.execute("SELECT rally.mail_queue_periodic(300, true, 0)").fetchone()[0] == 1
    assert mb.conn.execute("SELECT kind FROM rally.jobs").fetchall() == [("mailwatch",)]


# --- organize: the CRM's label changes ------------------------------------------

def _op(mb, op, message=None, thread=None, user=None):
    return insert(mb.conn, "mail_label_ops", "id", tenant_id=mb.tenant,
                  user_id=user or mb.user, connection_id=mb.id, message_id=message,
                  thread_id=thread, op=op)


def _ids(mb):
    return dict(mb.conn.execute("SELECT gmail_id, id FROM rally.mail_messages"
                                " WHERE connection_id = %s", (mb.id,)).fetchall())


def test_a_label_op_queues_one_job_per_connection_and_statement(mb):
    mb.apply(messages=[row("m1"), row("m2")])
    ids = _ids(mb)
    mb.conn.execute("INSERT INTO rally.mail_label_ops (tenant_id, user_id, connection_id,"
                    " message_id, op) SELECT %s, %s, %s, unnest(%s::uuid[]), 'read'",
                    (mb.tenant, mb.user, mb.id, list(ids.values())))
    _op(mb, "star", message=ids["m1"])
    jobs = mb.conn.execute("SELECT kind, dedupe_key, state FROM rally.jobs").fetchall()
    assert jobs == [("maillabel", str(mb.id), "pending")]


def test_due_ops_reach_the_messages_of_their_thread(mb):
    mb.apply(messages=[row("m1", "t1"), row("m2", "t1"), row("m3", "t2")])
    thread = mb.conn.execute("SELECT id FROM rally.mail_threads WHERE gmail_thread_id = 't1'"
                             ).fetchone()[0]
    a = _op(mb, "archive", thread=thread)
    b = _op(mb, "trash", message=_ids(mb)["m3"])
    due = mb.conn.execute("SELECT * FROM rally.mail_label_ops_due(%s, %s, 10)",
                          (mb.tenant, mb.id)).fetchall()
    assert due == [(a, "archive", ["m1", "m2"]), (b, "trash", ["m3"])]


def test_an_op_recorded_for_someone_else_reaches_nothing(mb):
    mb.apply(messages=[row("m1")])
    colleague = insert(mb.conn, "users", "id", tenant_id=mb.tenant, email="bo@acme.test",
                       name="Bo", role="member",
                       password_hash="$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA")
    # The foreign keys already refuse an op on a connection of another
    # user; a row written around them still reaches nothing.
    mb.conn.execute("ALTER TABLE rally.mail_label_ops DISABLE TRIGGER ALL")
    try:
        _op(mb, "trash", message=_ids(mb)["m1"], user=colleague)
    finally:
        mb.conn.execute("ALTER TABLE rally.mail_label_ops ENABLE TRIGGER ALL")
    assert mb.conn.execute("SELECT count(*) FROM rally.mail_label_ops_due(%s, %s, 10)",
                           (mb.tenant, mb.id)).fetchone()[0] == 0


def test_a_done_op_changes_the_crms_copy_at_once(mb):
    mb.apply(messages=[row("m1", label_ids=["INBOX", "UNREAD"])])
    op = _op(mb, "read", message=_ids(mb)["m1"])
    mb.conn.execute("SELECT rally.mail_label_op_end(%s, %s, %s, 'done', null)",
                    (mb.tenant, mb.id, op))
    assert mb.messages()["m1"][0] == ["INBOX"]
    op = _op(mb, "star", message=_ids(mb)["m1"])
    mb.conn.execute("SELECT rally.mail_label_op_end(%s, %s, %s, 'pending', 'unavailable')",
                    (mb.tenant, mb.id, op))
    assert mb.messages()["m1"][0] == ["INBOX"], "not applied until Gmail took it"
    state = mb.conn.execute("SELECT state, attempts, last_error FROM rally.mail_label_ops"
                            " WHERE id = %s", (op,)).fetchone()
    assert state == ("pending", 1, "unavailable")


# --- send: the outbox ------------------------------------------------------------

def _outbox(mb, **kw):
    cols = dict(tenant_id=mb.tenant, user_id=mb.user, connection_id=mb.id,
                message_id=f"<{len(kw)}-{id(kw)}@rally.test>", from_addr="Ada <ada@gmail.test>",
                to_addrs=["ann@mail.test"], subject="Hi", body_text="Hello")
    cols.update(kw)
    return insert(mb.conn, "mail_outbox", "id", **cols)


def _next(mb):
    return mb.conn.execute("SELECT rally.mail_outbox_next(%s, %s)",
                           (mb.tenant, mb.id)).fetchone()[0]


def test_a_queued_message_queues_the_connections_send(mb):
    _outbox(mb)
    assert mb.conn.execute("SELECT kind, dedupe_key FROM rally.jobs").fetchall() == \
        [("mailsend", str(mb.id))]


def test_a_send_whose_answer_was_lost_comes_first(mb):
    first = _outbox(mb, message_id="<first@rally.test>")
    second = _outbox(mb, message_id="<second@rally.test>")
    assert _next(mb)["id"] == str(first)
    assert mb.conn.execute("SELECT rally.mail_outbox_sending(%s, %s, %s)",
                           (mb.tenant, mb.id, second)).fetchone()[0]
    n = _next(mb)
    assert (n["id"], n["state"]) == (str(second), "sending")
    mb.conn.execute("SELECT rally.mail_outbox_end(%s, %s, %s, 'sent', 'g1', null)",
                    (mb.tenant, mb.id, second))
    assert _next(mb)["id"] == str(first)


def test_a_reply_goes_to_the_gmail_thread_of_its_thread_row_not_what_the_web_wrote(mb):
    mb.apply(messages=[row("m1", "real-thread")])
    thread = mb.conn.execute("SELECT id FROM rally.mail_threads").fetchone()[0]
    _outbox(mb, thread_id=thread, gmail_thread_id="someone-elses-thread")
    n = _next(mb)
    assert (n["gmail_thread_id"], n["account"]) == ("real-thread", "ada@gmail.test")


def test_the_tick_queues_a_reconcile_once_a_mailbox_is_due(mb):
    mb.conn.execute("UPDATE rally.sync_state SET last_sync_at = now()")
    assert mb.conn.execute("SELECT rally.mail_queue_periodic(300, false, 86400)"
                           ).fetchone()[0] == 0, "no reconcile before the first full sync"
    started = mb.start_full()
    mb.apply(full_started=started, done=True)
    mb.conn.execute("UPDATE rally.sync_state SET last_full_sync_at = now() - interval '2 days'")
    assert mb.conn.execute("SELECT rally.mail_queue_periodic(300, false, 86400)").fetchone()[0] == 1
    assert mb.conn.execute("SELECT rally.mail_queue_periodic(300, false, 86400)").fetchone()[0] == 0
    mb.conn.execute("DELETE FROM rally.jobs")
    mb.conn.execute("UPDATE rally.sync_state SET last_reconcile_at = now()")
    assert mb.conn.execute("SELECT rally.mail_queue_periodic(300, false, 86400)").fetchone()[0] == 0


# --- what an apply costs: index use, whatever the mailbox holds ---------------------

def _load(mb, n):
    """n messages in n/2 threads, written by SQL (no ANALYZE: the session's
    cached plans are not invalidated)."""
    mb.conn.execute(
        "INSERT INTO rally.mail_threads (tenant_id, user_id, connection_id, gmail_thread_id)"
        " SELECT %s, %s, %s, 'bt' || g FROM generate_series(1, %s) g",
        (mb.tenant, mb.user, mb.id, n // 2))
    mb.conn.execute(
        "INSERT INTO rally.mail_messages (tenant_id, thread_id, user_id, connection_id,"
        " gmail_id, subject, gmail_history_id)"
        " SELECT t.tenant_id, t.id, t.user_id, t.connection_id, 'bm' || g || '-' || k,"
        "  'Bulk', 50 FROM rally.mail_threads t, generate_series(1, 2) k,"
        "  lateral (select substr(t.gmail_thread_id, 3) g) x"
        " WHERE t.connection_id = %s AND t.gmail_thread_id LIKE 'bt%%'", (mb.id,))


def _reads_during(mb, **batch):
    """Applies a batch in one transaction; the sequential scans of the mail
    tables and the rows read from them (by scans or through indexes) it
    made: pg_stat_xact_user_tables counts this transaction's own."""
    with mb.conn.transaction():
        mb.apply(**batch)
        return {r[0]: r[1:] for r in mb.conn.execute(
            "SELECT relname, seq_scan, seq_tup_read + coalesce(idx_tup_fetch, 0)"
            " FROM pg_stat_xact_user_tables"
            " WHERE schemaname = 'rally' AND relname IN ('mail_messages', 'mail_threads')")}


def test_a_plan_made_on_an_empty_mailbox_does_not_scan_it_once_full(mb):
    """A plan cached while the tables were empty (the first batch of the
    first sync) and reused once they are large, such as a generic plan of
    the insert's foreign-key check on the thread, which without statistics
    looks the thread up by tenant alone (docs/mail-sync.md, "Cost"): the
    rows read follow the batch, not the mailbox.  Same session, so the same
    plan cache, before and after."""
    started = mb.start_full()
    for b in range(8):          # past plan_cache_mode = auto's five custom plans
        mb.apply(messages=[row(f"first{b}-{i}", f"ft{b}-{i // 2}", 100) for i in range(20)],
                 full_started=started)
    _load(mb, 20_000)
    batch = [row(f"first0-{i}", f"ft0-{i // 2}", 200, subject="Again") for i in range(10)]
    batch += [row(f"new{i}", f"bt{i + 1}", 200) for i in range(40)]
    reads = _reads_during(mb, messages=batch, full_started=started)
    assert reads["mail_messages"][0] == 0 and reads["mail_threads"][0] == 0
    assert reads["mail_messages"][1] < 1000 and reads["mail_threads"][1] < 1000, reads
    assert mb.messages()["first0-3"][1] == "Again"
    assert mb.threads()["bt1"][0] == 3


def _analyzes(mb):
    return mb.conn.execute(
        "SELECT sum(pg_stat_get_analyze_count(c.oid))::int FROM pg_class c"
        " WHERE c.oid IN ('rally.mail_threads'::regclass, 'rally.mail_messages'::regclass)"
    ).fetchone()[0]


def test_the_mail_tables_are_analyzed_while_small_and_then_left_to_autovacuum(mb):
    """mail_tables_ensure_stats: the first batch gives the tables statistics,
    a few more follow while they grow from a page or two, and none once
    their statistics say 16 pages or more, however many batches follow."""
    started = mb.start_full()
    mb.apply(messages=[row(f"a{i}", f"at{i}") for i in range(20)], full_started=started)
    assert _analyzes(mb) >= 1, "the first batch gives them statistics"
    _load(mb, 20_000)
    mb.apply(messages=[row(f"b{i}", f"bt{i + 1}") for i in range(20)], full_started=started)
    grown = _analyzes(mb)
    for b in range(5):
        mb.apply(messages=[row(f"c{b}-{i}", f"bt{i + 1}") for i in range(20)],
                 full_started=started)
    assert _analyzes(mb) == grown, "past 16 pages, autovacuum's ANALYZE is enough"
