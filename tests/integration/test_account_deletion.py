# SPDX-License-Identifier: ISC
"""Account deletion (docs/compliance.md): at once sign-in blocked, sessions
ended, Google connections disconnected and their tokens out of the rows;
after the grace period every row about the user purged in batches, and for
the last member of a tenant its company and billing data; left behind only
the ledger's keyed hashes, anonymised audit entries and purge counts.  The
30-day promise is checked on every configuration."""

import datetime
import json
import os
import re
import subprocess

import psycopg
import pytest

from rallytest import journal, program
from rallytest.calendar import PASSWORD, Cal
from rallytest.daemon import Rallyd, wait_until, write_config
from rallytest.mailrows import mark_mail_synced, seed_mail
from rallytest.schema import insert, set_context
from rallytest.smtp import SmtpSink

MSGID_DELETION_OVERDUE = "23b732db186d4ad4a30916cbc288f9b5"
NOW = datetime.datetime.now(datetime.timezone.utc)


@pytest.fixture
def cal(pg, db, login_roles, fakegoogle, tmp_path):
    c = Cal(pg, db, login_roles, fakegoogle, tmp_path, "vera")
    c.fg.admin("POST", "/__admin/accounts", {"email": c.google_email})
    c.g_create({"summary": "Vera's event", "start": {"date": "2026-12-21"},
                "end": {"date": "2026-12-22"}})
    yield c
    c.close()


@pytest.fixture(scope="module")
def journald():
    proc = journal.ensure_journald()
    yield
    if proc is not None:
        proc.terminate()
        proc.wait()


def add_user(cal, name):
    out = cal.ctl("--json", "user", "create", "--tenant", cal.tenant, "--email",
                  f"{name}@acme.test", "--name", f"{name.title()} Quist", input=PASSWORD + "\n")
    return json.loads(out.stdout)["user_id"]


def seed_user(conn, tenant, user):
    """A row of every per-user table the CRM writes, beside what sync wrote."""
    insert(conn, "sessions", tenant_id=tenant, id_hash=os.urandom(32), user_id=user,
           csrf_secret=os.urandom(32), expires_at=NOW + datetime.timedelta(days=1))
    insert(conn, "usage_events", tenant_id=tenant, user_id=user, kind="page.view")
    insert(conn, "usage_daily", tenant_id=tenant, day=NOW.date(), user_id=user,
           kind="page.view", count=3)
    insert(conn, "activities", tenant_id=tenant, owner_id=user, title="CRM call")
    insert(conn, "exports", tenant_id=tenant, user_id=user)
    insert(conn, "oauth_pending", tenant_id=tenant, user_id=user, state_hash=os.urandom(32),
           pkce_verifier="v" * 43, redirect_uri="https://rally.test/cb", want_calendar=True)


def counts(conn, tenant, user):
    tables = {"sessions": "user_id", "usage_events": "user_id", "usage_daily": "user_id",
              "activities": "owner_id", "exports": "user_id", "oauth_pending": "user_id",
              "users": "id", "notices": "user_id"}
    return {t: conn.execute(f"SELECT count(*) FROM rally.{t} WHERE tenant_id = %s AND {c} = %s",
                            (tenant, user)).fetchone()[0] for t, c in tables.items()}


def backdate(cal):
    """The grace period is over: what rallyd sees after compliance.deletion_grace."""
    cal.conn.execute("UPDATE rally.users SET deletion_purge_after = now() - interval '1 s'"
                     " WHERE status = 'deletion_pending'")
    cal.conn.execute("UPDATE rally.jobs SET run_at = now() WHERE kind = 'accountpurge'"
                     " AND state = 'pending'")


def traces(conn, needles):
    """(table, needle) for every row of every table whose text holds a needle."""
    found, tables = [], [t for (t,) in conn.execute(
        "SELECT relname FROM pg_class WHERE relnamespace = 'rally'::regnamespace"
        " AND relkind = 'r'").fetchall()]
    # The tables that outlive a deletion are scanned like the others.
    assert {"notices", "audit_log", "deletion_ledger", "jobs", "job_runs"} <= set(tables)
    for t in tables:
        for n in needles:
            hit = conn.execute(f"SELECT count(*) FROM rally.{t} x WHERE x::text ILIKE %s",
                               (f"%{n}%",)).fetchone()[0]
            if hit:
                found.append((t, n))
    return found


def journal_traces(daemons, since, needles):
    """(field, needle) for every journal entry of these rallyd processes whose
    fields hold a needle (a whole word, case ignored)."""
    pids = {str(d.proc.pid) for d in daemons}
    words = [re.compile(r"(?<![\w.-])" + re.escape(n) + r"(?![\w-])", re.I) for n in needles]
    found = []
    for e in journal.entries("SYSLOG_IDENTIFIER=rallyd", since_cursor=since):
        if e.get("_PID") not in pids:
            continue
        for k, v in e.items():
            if k.startswith("_") or k.startswith("__"):
                continue        # journald's own fields: the process, not its words
            found += [(k, w.pattern) for w in words if w.search(str(v))]
    return found


def login(conn, email):
    return conn.execute("SELECT count(*) FROM rally.web_login_lookup(%s)",
                        (email,)).fetchone()[0]


def test_deletion_blocks_sign_in_ends_sessions_and_takes_the_tokens_at_once(cal, login_roles, pg,
                                                                           db):
    cal.connect(mail=True)
    mark_mail_synced(cal)
    seed_user(cal.conn, cal.tenant, cal.user)
    with psycopg.connect(pg.conninfo(db, login_roles["web"]), autocommit=True) as web:
        assert login(web, cal.user_email) == 1
        r = json.loads(cal.ctl("--json", "user", "delete", "--user", cal.user_email).stdout)
        assert login(web, cal.user_email) == 0
        pending = web.execute("SELECT tenant_id, user_id FROM rally.web_deletion_pending_lookup(%s)",
                              (cal.user_email,)).fetchall()
        assert [(str(a), str(b)) for a, b in pending] == [(cal.tenant, cal.user)]
    assert cal.conn.execute("SELECT count(*) FROM rally.sessions").fetchone()[0] == 0
    row = cal.conn.execute("SELECT calendar_enabled, mail_enabled, refresh_token IS NULL"
                           " AND access_token IS NULL FROM rally.google_connections").fetchone()
    assert row == (False, False, True)
    assert cal.conn.execute("SELECT count(*) FROM rally.token_revocations").fetchone()[0] == 1
    kinds = sorted(k for (k,) in cal.conn.execute("SELECT kind FROM rally.deletion_ledger"))
    assert kinds == ["account_deletion", "calendar_disconnect", "mail_disconnect",
                     "tenant_deletion"]
    due = datetime.datetime.fromisoformat(r["due_at"].replace("Z", "+00:00"))
    assert datetime.timedelta(days=14) < due - NOW < datetime.timedelta(days=15, minutes=5)
    job = cal.conn.execute("SELECT payload, run_at > now() + interval '13 days' FROM rally.jobs"
                           " WHERE kind = 'accountpurge'").fetchone()
    assert job == ({"ledger_id": r["ledger_id"]}, True)
    # Asking again changes nothing.
    again = json.loads(cal.ctl("--json", "user", "delete", "--user", cal.user_email).stdout)
    assert again["ledger_id"] == r["ledger_id"]


def test_backdated_deletion_leaves_no_trace_of_the_user_and_spares_the_colleague(cal, journald):
    sink = SmtpSink().start()
    try:
        cal.sections["smtp"] = sink.config()
        purged_without_a_trace(cal, sink)
    finally:
        sink.stop()


def purged_without_a_trace(cal, sink):
    cal.connect(mail=True)
    mark_mail_synced(cal)
    bob = add_user(cal, "bob")
    seed_user(cal.conn, cal.tenant, cal.user)
    seed_user(cal.conn, cal.tenant, bob)
    seed_mail(cal.conn, cal.tenant, cal.user, cal.connection, threads=3, per_thread=300)
    since = journal.cursor()
    d = cal.start(log_target="journal")
    cal.settle()
    assert len(cal.activities()) >= 2
    bob_before = counts(cal.conn, cal.tenant, bob)
    cal.ctl("user", "delete", "--user", cal.user_email)
    backdate(cal)
    wait_until(lambda: cal.conn.execute(
        "SELECT count(*) FROM rally.deletion_ledger WHERE kind = 'account_deletion'"
        " AND completed_at IS NOT NULL").fetchone()[0] == 1, timeout=90, message="purged")
    wait_until(lambda: cal.jobs_idle(("calpurge", "mailpurge", "token-revoke", "accountpurge",
                                      "notice")), message="all idle")
    scheduled = [m for _, r, m in sink.received()
                 if m["Subject"] == "Your Rally account will be deleted"]
    assert len(scheduled) == 1 and scheduled[0]["To"] == cal.user_email
    # Asked by an operator (rallyctl), not through the account page.
    assert "Rally's operators started the deletion" in scheduled[0].get_content()
    assert "cancel the deletion" in scheduled[0].get_content()
    # The last message goes to the address the user had, which nothing keeps.
    farewell = [(r, m) for _, r, m in sink.received()
                if m["Subject"] == "Your Rally account has been deleted"]
    assert len(farewell) == 1
    rcpt, msg = farewell[0]
    assert rcpt == [cal.user_email] and msg["To"] == cal.user_email
    body = msg.get_content()
    assert "permanently deleted on " in body and "no copy of this address" in body
    assert cal.user not in body and "vera" not in body.replace(cal.user_email, "")
    wait_until(lambda: cal.conn.execute("SELECT count(*) FROM rally.notices WHERE user_id"
                                        " IS NULL").fetchone()[0] == 0,
               message="the sent notice deleted")
    needles = [cal.user, cal.user_email, cal.google_email, "Vera"]
    assert traces(cal.conn, needles) == []
    assert cal.user not in d.output() and cal.user_email not in d.output()
    # Nor, in the journal, the mail that was synced (DESIGN §6: no bodies).
    assert journal_traces(cal.daemons, since,
                          needles + ["the body of a private message"]) == []
    assert journal.entries("SYSLOG_IDENTIFIER=rallyd", f"_PID={d.proc.pid}",
                           since_cursor=since), "the journal holds rallyd's lines"
    assert counts(cal.conn, cal.tenant, bob) == bob_before
    assert cal.conn.execute("SELECT count(*) FROM rally.tenants WHERE tenant_id = %s",
                            (cal.tenant,)).fetchone()[0] == 1
    purged = dict(cal.conn.execute(
        "SELECT p.table_name, p.rows FROM rally.deletion_purges p JOIN rally.deletion_ledger l"
        " ON l.tenant_id = p.tenant_id AND l.id = p.ledger_id"
        " WHERE l.kind = 'account_deletion'").fetchall())
    assert purged["users"] == 1 and purged["exports"] == 1 and purged["usage_events"] == 1
    assert "sessions" not in purged     # ended at the request already
    assert purged.get("mail_messages", 0) + purged.get("mail_threads", 0) <= 903
    report = json.loads(cal.ctl("--json", "compliance", "report").stdout)
    done = [e for e in report["completed"] if e["kind"] == "account_deletion"]
    assert len(done) == 1 and done[0]["purged"] == purged
    assert report["pending"] == []
    audit = cal.conn.execute("SELECT actor, action FROM rally.audit_log WHERE action LIKE"
                             " 'account.%%' ORDER BY seq").fetchall()
    assert audit == [("operator", "account.deletion_requested"), ("daemon", "account.purged")]


def test_last_member_takes_the_tenants_company_and_billing_with_them(cal):
    insert(cal.conn, "billing_profiles", tenant_id=cal.tenant, billing_email="pay@acme.test",
           billing_name="Acme Billing", country="DE", vat_id="DE123456789")
    cal.start()
    cal.ctl("user", "delete", "--user", cal.user_email)
    backdate(cal)
    wait_until(lambda: cal.conn.execute(
        "SELECT count(*) FROM rally.deletion_ledger WHERE completed_at IS NOT NULL"
        " AND kind IN ('account_deletion', 'tenant_deletion')").fetchone()[0] == 2,
        timeout=60, message="purged")
    # Without a relay the notice of the completed deletion waits, and it alone
    # holds the address (vera@acme.test) until compliance.purge_lag is over.
    needles = [cal.user, "Acme", "pay@acme.test", "DE123456789"]
    assert traces(cal.conn, needles) == [("notices", "Acme")]
    assert cal.conn.execute("SELECT to_address, user_id, status FROM rally.notices"
                            ).fetchall() == [(cal.user_email, None, "queued")]
    cal.conn.execute("UPDATE rally.notices SET created_at = now() - interval '1 day 1 s'")
    cal.conn.execute("SELECT rally.job_enqueue('00000000-0000-0000-0000-000000000000',"
                     " 'deletion-watch', 'now')")
    wait_until(lambda: cal.conn.execute("SELECT count(*) FROM rally.notices").fetchone()[0] == 0,
               message="the undelivered notice dropped")
    # The tenant's id stays only where the ledger, audit and job records need it.
    assert traces(cal.conn, needles) == []
    assert cal.conn.execute("SELECT count(*) FROM rally.deletion_ledger"
                            " WHERE tenant_id = %s", (cal.tenant,)).fetchone()[0] >= 2


def test_cancel_during_the_grace_period_lets_the_user_sign_in_again(cal, pg, db, login_roles):
    cal.ctl("user", "delete", "--user", cal.user_email)
    out = cal.ctl("--json", "user", "delete", "--user", cal.user_email, "--cancel")
    assert json.loads(out.stdout) == "cancelled"
    with psycopg.connect(pg.conninfo(db, login_roles["web"]), autocommit=True) as web:
        assert login(web, cal.user_email) == 1
    ledger = cal.conn.execute("SELECT kind, cancelled_at IS NOT NULL, completed_at IS NULL"
                              " FROM rally.deletion_ledger ORDER BY kind").fetchall()
    assert ledger == [("account_deletion", True, True), ("tenant_deletion", True, True)]
    # The purge job finds nothing to do, even once due.
    cal.conn.execute("UPDATE rally.jobs SET run_at = now() WHERE kind = 'accountpurge'")
    cal.start()
    wait_until(lambda: cal.jobs_idle(("accountpurge",)), message="purge job ended")
    assert counts(cal.conn, cal.tenant, cal.user)["users"] == 1
    r = subprocess.run([program("rallyctl"), "-c", cal.ctl_conf, "user", "delete", "--user",
                        cal.user_email, "--cancel"], capture_output=True, text=True)
    assert r.returncode == 65 and "no deletion" in r.stderr


def test_web_asks_and_cancels_only_for_its_own_account(cal, pg, db, login_roles):
    bob = add_user(cal, "bob")
    with psycopg.connect(pg.conninfo(db, login_roles["web"]), autocommit=True) as web:
        set_context(web, cal.tenant, bob)
        due = web.execute("SELECT rally.web_account_delete_request('14 days', '1 day')"
                          ).fetchone()[0]
        assert due is not None
        # Another tenant's session, or none, cancels nothing.
        other = json.loads(cal.ctl("--json", "tenant", "create", "Other").stdout)["tenant_id"]
        for t, u in ((other, bob), (None, None), (cal.tenant, cal.user)):
            set_context(web, t, u)
            assert web.execute("SELECT rally.web_account_delete_cancel()").fetchone()[0] is False
        assert counts(cal.conn, cal.tenant, cal.user)["users"] == 1
        with pytest.raises(psycopg.errors.InvalidParameterValue):
            set_context(web, cal.tenant, cal.user)
            web.execute("SELECT rally.web_account_delete_request('40 days', '1 day')")
        set_context(web, cal.tenant, bob)
        assert web.execute("SELECT rally.web_account_delete_cancel()").fetchone()[0] is True
    status = cal.conn.execute("SELECT id::text, status FROM rally.users ORDER BY email").fetchall()
    assert sorted(s for _, s in status) == ["active", "active"]


def test_the_last_owner_of_a_team_may_not_leave_it_whatever_the_web_asks(
        cal, pg, db, login_roles):
    """rally.cgi offers no deletion to the last owner of a workspace others
    use; the database refuses it too, so a web tier that asks anyway does
    not leave the team without an owner."""
    bob = add_user(cal, "bob")
    cal.conn.execute("UPDATE rally.users SET role = CASE WHEN id = %s THEN 'owner'"
                     " ELSE 'member' END WHERE tenant_id = %s", (cal.user, cal.tenant))
    with psycopg.connect(pg.conninfo(db, login_roles["web"]), autocommit=True) as web:
        set_context(web, cal.tenant, cal.user)
        with pytest.raises(psycopg.errors.RaiseException, match="last owner"):
            web.execute("SELECT rally.web_account_delete_request('14 days', '1 day')")
        assert cal.conn.execute("SELECT status FROM rally.users WHERE id = %s",
                                (cal.user,)).fetchone() == ("active",)
        cal.conn.execute("UPDATE rally.users SET role = 'owner' WHERE id = %s", (bob,))
        assert web.execute("SELECT rally.web_account_delete_request('14 days', '1 day')"
                           ).fetchone()[0] is not None


def test_a_purge_killed_midway_finishes_after_restart_without_missing_a_row(cal):
    n = 30000
    cal.conn.execute("INSERT INTO rally.usage_events (tenant_id, user_id, kind)"
                     " SELECT %s, %s, 'page.view' FROM generate_series(1, %s)",
                     (cal.tenant, cal.user, n))
    cal.ctl("user", "delete", "--user", cal.user_email)
    backdate(cal)
    d = cal.start()

    def purged():
        return cal.conn.execute("SELECT coalesce(sum(rows), 0) FROM rally.deletion_purges"
                                " WHERE table_name = 'usage_events'").fetchone()[0]

    wait_until(lambda: purged() > 0, timeout=60, interval=0.005, message="purge under way")
    d.kill()
    assert 0 < purged() < n, "killed before the purge ended"
    assert cal.conn.execute("SELECT completed_at FROM rally.deletion_ledger"
                            " WHERE kind = 'account_deletion'").fetchone()[0] is None
    cal.start(name="after")
    wait_until(lambda: cal.conn.execute(
        "SELECT count(*) FROM rally.deletion_ledger WHERE kind = 'account_deletion'"
        " AND completed_at IS NOT NULL").fetchone()[0] == 1, timeout=90, message="finished")
    # Each batch and its count commit together: none missed, none counted twice.
    assert purged() == n
    assert cal.conn.execute("SELECT count(*) FROM rally.usage_events").fetchone()[0] == 0
    assert counts(cal.conn, cal.tenant, cal.user)["users"] == 0


def test_a_config_that_breaks_the_30_day_promise_is_refused(tmp_path, pg, db):
    conf = tmp_path / "rally.conf"
    write_config(conf, {"database": {"conninfo": pg.conninfo(db)},
                        "compliance": {"deletion_grace": "20d", "purge_lag": "2d"},
                        "backup": {"retention": "14d"}})
    for cmd in ([program("rallyd"), "--check-config", "-c", str(conf)],
                [program("rallyctl"), "-c", str(conf), "compliance", "check"]):
        r = subprocess.run(cmd, capture_output=True, text=True)
        assert r.returncode == 78, (cmd, r.stderr)
        assert ("compliance.deletion_grace (20d) + compliance.purge_lag (2d) + "
                "backup.retention (14d) is more than the 30 days") in r.stderr
    write_config(conf, {"database": {"conninfo": pg.conninfo(db)},
                        "compliance": {"deletion_grace": "20d", "purge_lag": "2d"},
                        "backup": {"retention": "8d"}})
    r = subprocess.run([program("rallyctl"), "-c", str(conf), "--json", "compliance", "check"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["total_seconds"] == 30 * 86400


def test_an_overdue_deletion_is_logged_at_crit_and_reported(cal, journald, daemon_conninfo):
    subject = cal.conn.execute("SELECT hash FROM rally.ledger_hash('user', gen_random_uuid())"
                               ).fetchone()[0]
    entry = str(insert(cal.conn, "deletion_ledger", "id", tenant_id=cal.tenant,
                       kind="account_deletion", subject_hash=subject, hash_key_id="ledger-1",
                       requested_at=NOW - datetime.timedelta(days=31),
                       due_at=NOW - datetime.timedelta(days=1)))
    r = subprocess.run([program("rallyctl"), "-c", cal.ctl_conf, "compliance", "check"],
                       capture_output=True, text=True)
    assert r.returncode == 1 and "1 deletion is overdue" in r.stdout
    report = json.loads(cal.ctl("--json", "compliance", "report").stdout)
    assert [(e["id"], e["overdue"]) for e in report["pending"]] == [(entry, True)]
    before = journal.cursor()
    d = Rallyd(daemon_conninfo, name="watch", log_target="journal")
    try:
        d.start()
        found = journal.wait_entries("SYSLOG_IDENTIFIER=rallyd",
                                     f"MESSAGE_ID={MSGID_DELETION_OVERDUE}",
                                     since_cursor=before, timeout=60)
        assert found[0]["PRIORITY"] == "2"
        assert entry in found[0]["MESSAGE"] and found[0]["RALLY_TENANT"] == cal.tenant
    finally:
        d.close()


def test_a_purge_job_for_another_tenant_or_before_the_grace_ends_purges_nothing(cal):
    r = json.loads(cal.ctl("--json", "user", "delete", "--user", cal.user_email).stdout)
    other = json.loads(cal.ctl("--json", "tenant", "create", "Other").stdout)["tenant_id"]
    ids = [cal.conn.execute("INSERT INTO rally.jobs (tenant_id, kind, payload, max_attempts)"
                            " VALUES (%s, 'accountpurge', %s, 1) RETURNING id",
                            (tenant, json.dumps(p))).fetchone()[0]
           for tenant, p in ((other, {"ledger_id": r["ledger_id"]}),
                             (cal.tenant, {"ledger_id": r["ledger_id"]}),
                             (cal.tenant, {"ledger_id": r["ledger_id"].upper()}),
                             (cal.tenant, {"user_id": cal.user}))]
    cal.start()
    wait_until(lambda: cal.conn.execute(
        "SELECT count(*) FROM rally.jobs WHERE id = ANY(%s) AND state = 'failed'",
        (ids,)).fetchone()[0] == len(ids), message="all refused")
    assert counts(cal.conn, cal.tenant, cal.user)["users"] == 1
    assert cal.conn.execute("SELECT count(*) FROM rally.deletion_purges").fetchone()[0] == 0


def test_after_every_kind_of_deletion_the_report_shows_nothing_overdue(cal, pg, db,
                                                                      login_roles):
    """Disconnects, a deletion asked for, a member removed and a last member's
    tenant: once rallyd has run, every entry is completed, nothing is
    pending or overdue, and each deleted user got the notice that it is done."""
    sink = SmtpSink().start()
    try:
        cal.sections["smtp"] = sink.config()
        cal.connect(mail=True)
        mark_mail_synced(cal)
        bob = add_user(cal, "bob")
        olga = cal.sibling("olga")
        cal.conn.execute("UPDATE rally.users SET role = 'owner' WHERE id = %s", (cal.user,))
        cal.start()
        cal.settle()
        cal.ctl("user", "disconnect", "--user", cal.user_email, "--calendar")
        cal.ctl("user", "disconnect", "--user", cal.user_email, "--email")
        with psycopg.connect(pg.conninfo(db, login_roles["web"]), autocommit=True) as web:
            set_context(web, cal.tenant, cal.user)
            assert web.execute("SELECT rally.web_member_remove(%s, '1 day')",
                               (bob,)).fetchone()[0] == "removed"
        cal.ctl("user", "delete", "--user", olga.user_email)
        backdate(cal)
        wait_until(lambda: cal.conn.execute(
            "SELECT count(*) FROM rally.deletion_ledger WHERE completed_at IS NULL"
            " AND cancelled_at IS NULL").fetchone()[0] == 0, timeout=120,
            message="every deletion completed")
        wait_until(lambda: cal.conn.execute("SELECT count(*) FROM rally.notices WHERE"
                                            " status <> 'sent'").fetchone()[0] == 0,
                   timeout=60, message="every notice sent")
        report = json.loads(cal.ctl("--json", "compliance", "report").stdout)
        assert report["pending"] == []
        assert sorted(e["kind"] for e in report["completed"]) == [
            "account_deletion", "account_deletion", "calendar_disconnect", "mail_disconnect",
            "tenant_deletion"]
        r = subprocess.run([program("rallyctl"), "-c", cal.ctl_conf, "compliance", "check"],
                           capture_output=True, text=True)
        assert r.returncode == 0 and "no deletion is overdue" in r.stdout, r.stdout
        done = {(rcpt[0], m["Message-ID"]) for _, rcpt, m in sink.received()
                if m["Subject"] == "Your Rally account has been deleted"}
        # One notice each; one sent again (the relay took it, its answer came
        # after smtp.timeout) keeps its Message-ID, so it counts once.
        assert sorted(r for r, _ in done) == sorted(["bob@acme.test", olga.user_email])
        assert traces(cal.conn, ["bob@acme.test", olga.user_email, bob, olga.user]) == []
    finally:
        sink.stop()
        olga.conn.close()


def test_a_refused_completed_notice_is_retried_and_its_error_holds_no_address(cal, journald):
    sink = SmtpSink().start()
    try:
        cal.sections["smtp"] = sink.config()
        sink.refuse.add(cal.user_email)
        since = journal.cursor()
        cal.start(log_target="journal")
        cal.ctl("user", "delete", "--user", cal.user_email)
        backdate(cal)
        wait_until(lambda: cal.conn.execute(
            "SELECT count(*) FROM rally.notices WHERE user_id IS NULL AND attempts >= 2"
        ).fetchone()[0] == 1, timeout=60, message="the notice refused twice")
        status, error = cal.conn.execute("SELECT status, last_error FROM rally.notices"
                                         " WHERE user_id IS NULL").fetchone()
        assert status in ("queued", "sending") and "550" in error
        # The relay quoted the address; rallyd keeps it nowhere but the notice.
        assert traces(cal.conn, [cal.user_email]) == [("notices", cal.user_email)]
        assert journal_traces(cal.daemons, since, [cal.user_email, cal.user]) == []
        sink.refuse.clear()
        wait_until(lambda: any(m["Subject"] == "Your Rally account has been deleted"
                               for _, _, m in sink.received()), timeout=60,
                   message="sent once the relay takes it")
        wait_until(lambda: traces(cal.conn, [cal.user_email, cal.user]) == [],
                   message="no trace once sent")
    finally:
        sink.stop()
