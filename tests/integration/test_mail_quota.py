# SPDX-License-Identifier: ISC
"""Gmail's quota as a resource, not an error: rallyd spends each call's
units from the connection's bucket before calling, so a first import runs
at the quota's pace with almost no call refused, and another user's sync
is not held up by it."""

import json
import time
import uuid

import pytest

from rallytest.mail import Mail
from rallytest.calendar import PASSWORD


@pytest.fixture
def real_quota(fakegoogle):
    # Google's per-user limits: 250 units a second, 15,000 a minute.
    fakegoogle.admin("POST", "/__admin/settings", {"gmailUnitsPerSecond": 250,
                                                   "gmailUnitsPerMinute": 15000})
    yield
    fakegoogle.admin("POST", "/__admin/settings", {"gmailUnitsPerSecond": 25000,
                                                   "gmailUnitsPerMinute": 1500000})


def test_a_first_import_keeps_within_the_quota_and_others_go_on(
        pg, db, login_roles, fakegoogle, tmp_path, real_quota):
    big = Mail(pg, db, login_roles, fakegoogle, tmp_path, "big")
    # rallyd's own defaults: spend no faster than Google allows.
    del big.sections["mail"]["quota_rate"], big.sections["mail"]["quota_burst"]
    # mail.fetch is batch, the default, but at Google's real per-user rate
    # a whole batch does not fit the connection's burst: one request a
    # message, which keeps closer to the quota's pace.
    try:
        fakegoogle.admin("POST", "/__admin/accounts", {"email": big.google_email})
        fakegoogle.admin("POST", f"/__admin/accounts/{big.google_email}/seed",
                         {"messages": 150, "seed": 2, "baseTime": int(time.time())})
        other = json.loads(big.ctl("--json", "tenant", "create", "Other").stdout)["tenant_id"]
        big.ctl("--json", "user", "create", "--tenant", other, "--email", "small@other.test",
                "--name", "small", input=PASSWORD + "\n")
        small_google = f"small-{time.monotonic_ns()}@gmail.test"
        fakegoogle.admin("POST", "/__admin/accounts", {"email": small_google})
        fakegoogle.admin("POST", f"/__admin/accounts/{small_google}/seed",
                         {"messages": 3, "seed": 4, "baseTime": int(time.time())})
        before = fakegoogle.admin("GET", "/__admin/counters")
        big.connect()
        small = fakegoogle.connect_user(pg, db, other, "small@other.test", small_google,
                                        calendar=False, mail=True, rallyctl_config=big.ctl_conf)
        big.start()

        def done(conn):
            return big.conn.execute("SELECT count(*) FROM rally.jobs WHERE kind = 'mailsync'"
                                    " AND dedupe_key = %s AND state = 'done'",
                                    (str(conn),)).fetchone()[0] > 0
        from rallytest.daemon import wait_until
        t0 = time.monotonic()
        wait_until(lambda: done(small), timeout=60, message="the small mailbox synced")
        # ... while the big one was still importing at the quota's pace.
        assert not done(big.connection), \
            f"the big import ended before the small one, {time.monotonic() - t0:.2f} s in"
        # Done, not just idle: a retried attempt waits with its run_at ahead.
        wait_until(lambda: done(big.connection), timeout=120, message="the big import done")
        big.settle(timeout=120)
        after = fakegoogle.admin("GET", "/__admin/counters")
        calls = after.get("requests", 0) - before.get("requests", 0)
        refused = after["quotaRejected"] - before["quotaRejected"]
        # rallyd's 225 a second and 25 at once fill Google's 250 exactly, so
        # a call the emulator serves late can tip a second over: a few
        # refusals, where calls sent as fast as they go drew 100 of 259.
        assert calls > 150 and refused <= max(3, calls // 50), (calls, refused)
        result, stored = big.conn.execute(
            "SELECT (SELECT result FROM rally.jobs WHERE kind = 'mailsync' AND state = 'done'"
            "  AND dedupe_key = %s AND result->>'mode' = 'full'"
            "  ORDER BY finished_at DESC LIMIT 1),"
            " (SELECT count(*) FROM rally.mail_messages WHERE connection_id = %s)",
            (str(big.connection), big.connection)).fetchone()
        assert result["fetched"] == stored, (result, stored)
    finally:
        big.close()


def test_a_refusal_holds_every_call_of_the_user_until_googles_retry_after(
        pg, db, login_roles, fakegoogle, tmp_path):
    """Google's limit below rallyd's pace (another client of the account
    spends it too, or its limit is lower): after a 429, no call of that user
    starts before Google's Retry-After, an ordinary one (a label change)
    included, and the refused calls go again through the bucket."""
    from rallytest.daemon import wait_until
    m = Mail(pg, db, login_roles, fakegoogle, tmp_path, "held")
    del m.sections["mail"]["quota_rate"], m.sections["mail"]["quota_burst"]
    try:
        fakegoogle.admin("POST", "/__admin/accounts", {"email": m.google_email})
        # One message stored first: the label change's.
        star = m.g_deliver("From: Ann <ann@mail.test>\r\nTo: held@gmail.test\r\n"
                           "Subject: Star me\r\n\r\nBody\r\n")["id"]
        m.connect()
        m.start()
        m.settle()
        fakegoogle.admin("POST", f"/__admin/accounts/{m.google_email}/seed",
                         {"messages": 70, "seed": 5, "baseTime": int(time.time())})
        # The emulator's minute at second 42: the import's refusal comes a
        # few seconds later, with a Retry-After of about 15 s.
        offset = fakegoogle.admin("POST", "/__admin/clock",
                                  {"advanceSeconds": 0})["offsetSeconds"]
        into_minute = (time.time() + offset) % 60
        fakegoogle.admin("POST", "/__admin/clock",
                         {"advanceSeconds": (42 - into_minute) % 60 + 60})
        # 300 units a minute: about 59 messages, then a wait for the minute.
        fakegoogle.admin("POST", "/__admin/settings", {"gmailUnitsPerMinute": 300})
        mark = fakegoogle.admin("GET", "/__admin/requests?since=0")["last"]
        # A full sync again: an import, bulk calls.
        m.conn.execute("UPDATE rally.sync_state SET full_sync_required = true"
                       " WHERE connection_id = %s AND resource = 'mail'", (m.connection,))
        m.conn.execute("SELECT rally.job_enqueue(%s, 'mailsync', %s, %s)",
                       (m.tenant, str(m.connection),
                        json.dumps({"connection_id": str(m.connection)})))

        def gmail_log():
            return [e for e in fakegoogle.requests_log(mark) if e["path"].startswith("/gmail/")]

        def refusal():
            return next((e for e in gmail_log() if e["status"] == 429), None)
        first = wait_until(refusal, timeout=30, interval=0.05, message="a refusal")
        refused_at = time.monotonic()
        # Retry-After long enough for the 4 s looked at below.
        assert int(first["time"][17:19]) < 54, first
        # The calls under way when Google refused may still arrive; then an
        # ordinary call, which lib/http would have sent at once.
        time.sleep(1.0)
        quiet = gmail_log()[-1]["seq"]
        op = m.conn.execute(
            "INSERT INTO rally.mail_label_ops (tenant_id, user_id, connection_id, message_id,"
            " op) SELECT tenant_id, %s, connection_id, id, 'star' FROM rally.mail_messages"
            " WHERE connection_id = %s AND gmail_id = %s RETURNING id",
            (m.user, m.connection, star)).fetchone()[0]
        time.sleep(3.0)
        assert time.monotonic() - refused_at < 15
        early = [e for e in gmail_log() if e["seq"] > quiet]
        assert not early, early
        # Once the minute has rolled over, everything goes, refused no more.
        wait_until(lambda: m.conn.execute("SELECT state FROM rally.mail_label_ops"
                                          " WHERE id = %s", (op,)).fetchone()[0] == "done",
                   timeout=90, message="the star reaches Gmail")
        wait_until(lambda: m.conn.execute(
            "SELECT count(*) FROM rally.mail_messages WHERE connection_id = %s",
            (m.connection,)).fetchone()[0] > 60, timeout=90, message="the import done")
        after = [e for e in gmail_log() if e["seq"] > quiet]
        assert [e["status"] for e in after if e["status"] == 429] == [], after
    finally:
        fakegoogle.admin("POST", "/__admin/settings", {"gmailUnitsPerMinute": 1500000})
        m.close()


def _mailbox(owner, name, messages, seed):
    """A sibling CRM user of owner's daemons (in a tenant of its own) whose
    Gmail holds messages; returns it and the ids Gmail gave them."""
    m = owner.sibling(name)
    owner.fg.admin("POST", "/__admin/accounts", {"email": m.google_email})
    ids = owner.fg.admin("POST", f"/__admin/accounts/{m.google_email}/seed",
                         {"messages": messages, "seed": seed,
                          "baseTime": int(time.time())})["messageIds"]
    return m, ids


def test_two_instances_share_one_project_bucket(pg, db, login_roles, fakegoogle, tmp_path):
    a = Mail(pg, db, login_roles, fakegoogle, tmp_path, "proj")
    rate, burst = 100, 200
    a.sections["mail"]["project_rate"] = str(rate)
    a.sections["mail"]["project_burst"] = str(burst)
    # Two imports at a time each: the four go to both instances.
    a.sections.setdefault("daemon", {})["concurrency"] = "2"
    boxes = []
    try:
        for i in range(4):
            boxes.append(_mailbox(a, f"p{i}", 40, 10 + i)[0])
        before = fakegoogle.admin("GET", "/__admin/counters")
        # Measured from before either daemon starts: load only makes it
        # longer, and so the bound below looser, never tighter.
        t0 = time.monotonic()
        a.start("one")
        a.start("two")
        for m in boxes:
            m.connect()
        for m in boxes:
            m.settle(timeout=180)
        elapsed = time.monotonic() - t0
        after = fakegoogle.admin("GET", "/__admin/counters")
        units = after["gmailUnits"] - before["gmailUnits"]
        assert after["quotaRejected"] == before["quotaRejected"]
        # Both instances did the work ...
        owners = {r[0] for r in a.conn.execute(
            "SELECT DISTINCT r.instance FROM rally.job_runs r JOIN rally.jobs j"
            " ON j.tenant_id = r.tenant_id AND j.id = r.job_id WHERE j.kind = 'mailsync'"
            " AND j.tenant_id = ANY(%s::uuid[])", ([m.tenant for m in boxes],)).fetchall()}
        assert len(owners) == 2, owners
        # ... and together spent no more than the one bucket holds: its
        # depth and its refill over the run (two buckets would allow twice).
        # Each mailbox's own full sync: last_result() is the latest of any.
        fetched = sum(a.conn.execute(
            "SELECT (result->>'fetched')::int FROM rally.jobs WHERE kind = 'mailsync'"
            " AND state = 'done' AND result->>'mode' = 'full' AND dedupe_key = %s"
            " ORDER BY finished_at DESC LIMIT 1", (str(m.connection),)).fetchone()[0]
            for m in boxes)
        assert fetched > 4 * 30 and units > fetched * 5
        assert units <= burst + rate * elapsed + 10, (units, elapsed)
    finally:
        for m in boxes:
            m.conn.close()
        a.close()


def test_sends_go_before_a_large_import_of_the_same_and_another_user(
        pg, db, login_roles, fakegoogle, tmp_path):
    small = Mail(pg, db, login_roles, fakegoogle, tmp_path, "smallsender")
    # The project's bucket is what the import and the sends compete for.
    small.sections["mail"]["project_rate"] = "400"
    small.sections["mail"]["project_burst"] = "400"
    big = None
    try:
        fakegoogle.admin("POST", "/__admin/accounts", {"email": small.google_email})
        small.connect()
        small.start("one")
        small.start("two")
        small.settle()
        big, big_ids = _mailbox(small, "bigimport", 600, 7)
        big_paths = {f"/gmail/v1/users/me/messages/{i}" for i in big_ids}
        mark = fakegoogle.admin("GET", "/__admin/requests?since=0")["last"]
        big.connect()
        from rallytest.daemon import wait_until

        def fetched():
            return sum(1 for e in fakegoogle.requests_log(mark) if e["path"] in big_paths)
        wait_until(lambda: fetched() >= 30, timeout=60, interval=0.05,
                   message="the big import under way")
        outbox = []
        for who in (big, small):
            mid = f"<{uuid.uuid4()}@rally.test>"
            outbox.append(who.conn.execute(
                "INSERT INTO rally.mail_outbox (tenant_id, user_id, connection_id, message_id,"
                " from_addr, to_addrs, subject, body_text) VALUES (%s, %s, %s, %s, %s,"
                " ARRAY['ann@mail.test'], 'During the import', 'Hi') RETURNING id",
                (who.tenant, who.user, who.connection, mid, who.google_email)).fetchone()[0])
        big.settle(timeout=240)
        small.settle(timeout=60)
        states = [small.conn.execute("SELECT state FROM rally.mail_outbox WHERE id = %s",
                                     (oid,)).fetchone()[0] for oid in outbox]
        assert states == ["sent", "sent"]
        log = fakegoogle.requests_log(mark)
        sends = [e["seq"] for e in log if e.get("route") == "gmail.users.messages.send"]
        gets = [e["seq"] for e in log if e["path"] in big_paths]
        assert len(sends) == 2 and len(gets) == big.last_result("full")["fetched"] > 400
        # Both sends reached Gmail while the import still had fetches ahead.
        assert max(sends) < gets[-1], (sends, gets[-1])
    finally:
        if big is not None:
            big.conn.close()
        small.close()
