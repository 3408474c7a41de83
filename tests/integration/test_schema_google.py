# SPDX-License-Identifier: ISC
"""What the schema enforces around Google connections and the web tier's
lookups: tokens leave a connection the moment it stops being used (queued,
sealed, for revocation, with a job), push hooks and login find their tenant
without exposing others, and an objection to analytics is honoured."""

import datetime
import hashlib
import os
import uuid

import psycopg
import pytest

from rallytest.schema import insert, set_context

NOW = datetime.datetime.now(datetime.timezone.utc)
HOUR = datetime.timedelta(hours=1)
HASH = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA"


@pytest.fixture
def su(pg, db):
    with pg.connect(db) as conn:
        yield conn


@pytest.fixture
def web(pg, db, login_roles):
    with pg.connect(db, user=login_roles["web"]) as conn:
        yield conn


def _user(su, email="ann@example.com", tenant=None, **kw):
    t = tenant or insert(su, "tenants", "tenant_id", name="Acme")
    u = insert(su, "users", "id", tenant_id=t, email=email, password_hash=HASH, **kw)
    return t, u


def _connection(su, t, u, calendar=True, mail=True, email="ann@gmail.example"):
    refresh, access = os.urandom(70), os.urandom(70)
    c = insert(su, "google_connections", "id", tenant_id=t, user_id=u, google_email=email,
               google_subject=f"sub-{uuid.uuid4()}", calendar_enabled=calendar,
               mail_enabled=mail, refresh_token=refresh, access_token=access)
    return c, refresh, access


def _tokens_on(su, c):
    return su.execute("SELECT refresh_token, access_token FROM rally.google_connections "
                      "WHERE id = %s", (c,)).fetchone()


def _queued(su, c):
    return su.execute("SELECT refresh_token, access_token FROM rally.token_revocations "
                      "WHERE connection_id = %s", (c,)).fetchall()


def _jobs(su, kind):
    return su.execute("SELECT tenant_id, dedupe_key, payload FROM rally.jobs WHERE kind = %s "
                      "AND state = 'pending' ORDER BY id", (kind,)).fetchall()


def test_switching_off_the_last_integration_moves_tokens_to_revocation(su, web):
    t, u = _user(su)
    c, refresh, access = _connection(su, t, u)
    set_context(web, t, u)
    web.execute("SELECT rally.web_disconnect(%s, true, false)", (c,))
    # One integration left: the tokens stay.
    assert _tokens_on(su, c) == (refresh, access)
    assert _queued(su, c) == []
    web.execute("SELECT rally.web_disconnect(%s, false, true)", (c,))
    assert _tokens_on(su, c) == (None, None)
    assert _queued(su, c) == [(refresh, access)]
    assert _jobs(su, "token-revoke") == [(t, str(c), {"connection_id": str(c)})]


def test_disconnect_in_one_statement_queues_one_revocation(su, web):
    t, u = _user(su)
    c, refresh, access = _connection(su, t, u)
    set_context(web, t, u)
    web.execute("SELECT rally.web_disconnect(%s, true, true)", (c,))
    assert _queued(su, c) == [(refresh, access)]
    assert len(_jobs(su, "token-revoke")) == 1


def test_revoked_connection_keeps_no_tokens(su):
    t, u = _user(su)
    c, refresh, access = _connection(su, t, u)
    su.execute("UPDATE rally.google_connections SET status = 'revoked' WHERE id = %s", (c,))
    assert _tokens_on(su, c) == (None, None)
    assert _queued(su, c) == [(refresh, access)]
    # Tokens written to it go straight to the revocation queue.
    su.execute("UPDATE rally.google_connections SET refresh_token = '\\x01' WHERE id = %s",
               (c,))
    assert _tokens_on(su, c) == (None, None)
    assert len(_queued(su, c)) == 2


def test_account_deletion_queues_the_tokens_of_every_connection(su):
    t, u = _user(su)
    c1, r1, a1 = _connection(su, t, u)
    c2, r2, a2 = _connection(su, t, u, calendar=False, email="ann2@gmail.example")
    su.execute("DELETE FROM rally.users WHERE id = %s", (u,))
    assert _queued(su, c1) == [(r1, a1)]
    assert _queued(su, c2) == [(r2, a2)]
    assert len(_jobs(su, "token-revoke")) == 2


def test_tenant_deletion_removes_everything_but_the_revocation_queue(su):
    t, u = _user(su)
    c, refresh, access = _connection(su, t, u)
    insert(su, "activities", tenant_id=t, owner_id=u, title="x")
    su.execute("DELETE FROM rally.tenants WHERE tenant_id = %s", (t,))
    for table in ("users", "google_connections", "activities"):
        assert su.execute(f"SELECT count(*) FROM rally.{table}").fetchone()[0] == 0
    assert _queued(su, c) == [(refresh, access)]


def test_tokens_cannot_be_stored_on_a_connection_without_integration(su):
    t, u = _user(su)
    with pytest.raises(psycopg.errors.CheckViolation):
        _connection(su, t, u, calendar=False, mail=False)


def test_synced_data_belongs_to_the_connections_user(su):
    t, u = _user(su)
    _, other = _user(su, email="bob@example.com", tenant=t)
    c, _, _ = _connection(su, t, u)
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        insert(su, "activities", tenant_id=t, owner_id=other, title="x", connection_id=c,
               sync_state="pending")
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        insert(su, "mail_threads", tenant_id=t, user_id=other, connection_id=c,
               gmail_thread_id="t1")


def test_calendar_push_with_the_channel_token_queues_a_sync(su, web):
    t, u = _user(su)
    c, _, _ = _connection(su, t, u)
    insert(su, "sync_state", tenant_id=t, connection_id=c, resource="calendar",
           channel_id="chan-1", channel_token_hash=hashlib.sha256(b"s3cret").digest(),
           channel_expires_at=NOW + HOUR)
    # The hook knows no tenant.
    assert web.execute("SELECT rally.hook_calendar('chan-1', 'wrong')").fetchone()[0] is False
    assert web.execute("SELECT rally.hook_calendar('chan-2', 's3cret')").fetchone()[0] is False
    assert _jobs(su, "calsync") == []
    for _ in range(2):
        assert web.execute("SELECT rally.hook_calendar('chan-1', 's3cret')").fetchone()[0]
    assert _jobs(su, "calsync") == [(t, str(c), {"connection_id": str(c), "reason": "push"})]


def test_calendar_push_for_a_disconnected_calendar_is_refused(su, web):
    t, u = _user(su)
    c, _, _ = _connection(su, t, u)
    insert(su, "sync_state", tenant_id=t, connection_id=c, resource="calendar",
           channel_id="chan-1", channel_token_hash=hashlib.sha256(b"s3cret").digest())
    su.execute("UPDATE rally.google_connections SET calendar_enabled = false")
    assert web.execute("SELECT rally.hook_calendar('chan-1', 's3cret')").fetchone()[0] is False


PUSH_SECRET = "push-secret-" + "Hk3Jd8Sm2Qp5Lx9Vb7Nc4Wz1"
NIL = "00000000-0000-0000-0000-000000000000"
# What a void function's one row reads as, and no error.
VOID = ([("",)], None)


def _push_secret(su, secret=PUSH_SECRET):
    """What rallyd stores from google.push_token_file."""
    su.execute("INSERT INTO rally.push_secrets (tenant_id, name, sha256) "
               "VALUES (%s, 'gmail', %s)", (NIL, hashlib.sha256(secret.encode()).digest()))


def _hook_gmail(web, email, secret):
    """Calls rally.hook_gmail as the CGI does; (rows, error class) so that
    tests can compare every observable outcome."""
    try:
        rows = web.execute("SELECT rally.hook_gmail(%s, %s)", (email, secret)).fetchall()
        return rows, None
    except psycopg.Error as e:
        return None, type(e).__name__


def _other_tenants_mailbox(su, web):
    """A mail connection in tenant 2 and a web session set to tenant 1."""
    t1, u1 = _user(su)
    t2, u2 = _user(su)
    _connection(su, t2, u2, email="Shared@Gmail.example")
    set_context(web, t1, u1)
    return t2


@pytest.mark.parametrize("secret", ["wrong-secret-Hk3Jd8Sm2Qp5Lx9Vb7Nc4Wz1", "", None])
def test_gmail_hook_without_the_push_secret_tells_nothing_of_another_tenant(su, web, secret):
    _other_tenants_mailbox(su, web)
    _push_secret(su)
    known = _hook_gmail(web, "shared@gmail.example", secret)
    unknown = _hook_gmail(web, "nobody@gmail.example", secret)
    assert known == unknown == VOID
    assert su.execute("SELECT count(*) FROM rally.jobs").fetchone()[0] == 0


def test_gmail_hook_with_no_secret_stored_accepts_no_secret(su, web):
    _other_tenants_mailbox(su, web)
    for secret in (PUSH_SECRET, "", None):
        assert _hook_gmail(web, "shared@gmail.example", secret) == VOID
    assert su.execute("SELECT count(*) FROM rally.jobs").fetchone()[0] == 0


def test_gmail_hook_with_the_push_secret_still_tells_nothing(su, web):
    t2 = _other_tenants_mailbox(su, web)
    _push_secret(su)
    known = _hook_gmail(web, "shared@gmail.example", PUSH_SECRET)
    unknown = _hook_gmail(web, "nobody@gmail.example", PUSH_SECRET)
    assert known == unknown == VOID
    # The authentic push queued the mailbox's sync, in its own tenant; the
    # caller could not tell.
    jobs = su.execute("SELECT tenant_id, kind, payload->>'reason' FROM rally.jobs").fetchall()
    assert jobs == [(t2, "mailsync", "push")]


def test_gmail_hook_returns_no_count_and_the_old_signature_is_gone(su):
    rows = su.execute("SELECT p.oid::regprocedure::text, p.prorettype::regtype::text "
                      "FROM pg_proc p WHERE p.proname = 'hook_gmail' "
                      "AND p.pronamespace = 'rally'::regnamespace").fetchall()
    assert rows == [("rally.hook_gmail(text,text)", "void")]


def test_web_cannot_read_or_write_the_push_secret(su, web):
    _push_secret(su)
    for stmt in ("SELECT sha256 FROM rally.push_secrets",
                 "DELETE FROM rally.push_secrets",
                 "UPDATE rally.push_secrets SET sha256 = sha256('x')"):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            web.execute(stmt)


def test_login_lookup_finds_active_accounts_across_tenants(su, web):
    t1, u1 = _user(su, "Ann@Example.com")
    t2, u2 = _user(su, "ann@example.com")
    t3, _ = _user(su, "ann@example.com", status="deletion_pending",
                  deletion_requested_at=NOW)
    rows = web.execute("SELECT tenant_id, user_id, password_hash "
                       "FROM rally.web_login_lookup('ANN@example.com')").fetchall()
    assert sorted(rows) == sorted([(t1, u1, HASH), (t2, u2, HASH)])
    # Without the function, no tenant, no row.
    assert web.execute("SELECT count(*) FROM rally.users").fetchone()[0] == 0


def test_session_lookup_finds_only_live_sessions_of_active_users(su, web):
    t, u = _user(su)
    live, expired = os.urandom(32), os.urandom(32)
    for h, exp in ((live, NOW + HOUR), (expired, NOW - HOUR)):
        insert(su, "sessions", tenant_id=t, id_hash=h, user_id=u, csrf_secret=os.urandom(32),
               created_at=NOW - 2 * HOUR, expires_at=exp)

    def lookup(h):
        return web.execute("SELECT tenant_id, user_id FROM rally.web_session_lookup(%s)",
                           (h,)).fetchall()

    assert lookup(live) == [(t, u)]
    assert lookup(expired) == []
    assert lookup(os.urandom(32)) == []
    su.execute("UPDATE rally.users SET status = 'deletion_pending', "
               "deletion_requested_at = now() WHERE id = %s", (u,))
    assert lookup(live) == []


def test_only_rally_web_may_call_the_lookups(pg, db, su):
    su.execute("CREATE ROLE rally_test_stranger LOGIN")
    try:
        with pg.connect(db, user="rally_test_stranger") as conn:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("SELECT * FROM rally.web_login_lookup('a@b.c')")
    finally:
        su.execute("DROP ROLE rally_test_stranger")


def test_analytics_opt_out_stops_recording_and_forgets_what_was_recorded(su, web):
    t, u = _user(su)
    insert(su, "usage_events", tenant_id=t, user_id=u, kind="page.view")
    insert(su, "usage_daily", tenant_id=t, day=NOW.date(), user_id=u, kind="page.view", count=3)
    set_context(web, t, u)
    web.execute("SELECT rally.web_account_update('{\"analytics_opt_out\": true}')")
    for table in ("usage_events", "usage_daily"):
        assert su.execute(f"SELECT count(*) FROM rally.{table}").fetchone()[0] == 0, table
    # Neither the CGI nor the daemon records anything more for this user.
    insert(web, "usage_events", tenant_id=t, user_id=u, kind="page.view")
    insert(su, "usage_events", tenant_id=t, user_id=u, kind="page.view")
    insert(su, "usage_daily", tenant_id=t, day=NOW.date(), user_id=u, kind="page.view",
           count=1)
    for table in ("usage_events", "usage_daily"):
        assert su.execute(f"SELECT count(*) FROM rally.{table}").fetchone()[0] == 0, table


def test_web_deletes_only_queued_outbox_messages(su, web):
    t, u = _user(su)
    c, _, _ = _connection(su, t, u)
    for state in ("queued", "sending"):
        insert(su, "mail_outbox", tenant_id=t, user_id=u, connection_id=c,
               message_id=f"<{state}@rally.example>", from_addr="ann@gmail.example",
               to_addrs=["bob@example.com"], state=state)
    set_context(web, t, u)
    assert web.execute("DELETE FROM rally.mail_outbox").rowcount == 1
    assert su.execute("SELECT state FROM rally.mail_outbox").fetchall() == [("sending",)]
