# SPDX-License-Identifier: ISC
"""Row-level security as the CGI (a login member of rally_web) meets it:
nothing without a tenant, one tenant never sees another, private rows stay
their owner's, and secrets are out of reach."""

import datetime
import os
import uuid
from types import SimpleNamespace

import psycopg
import pytest
from psycopg.types.json import Jsonb

from rallytest.schema import NIL_TENANT, insert, set_context

NOW = datetime.datetime.now(datetime.timezone.utc)
DAY = datetime.timedelta(days=1)


def _tables(conn):
    """Every table of schema rally but the runner's bookkeeping table."""
    return [r[0] for r in conn.execute(
        "SELECT c.relname FROM pg_class c WHERE c.relnamespace = 'rally'::regnamespace "
        "AND c.relkind IN ('r', 'p') AND c.relname NOT IN ('schema_migrations', 'schema_functions') ORDER BY 1")]


def _web_can(conn, table, priv):
    return conn.execute("SELECT has_any_column_privilege('rally_web', %s, %s)",
                        (f"rally.{table}", priv)).fetchone()[0]


def _seed_tenant(conn, w, key, name, users):
    """A tenant with its users (first one the owner), each with a connection
    and private rows, plus shared ones."""
    t = insert(conn, "tenants", "tenant_id", name=name, company_size="11-50")
    setattr(w, key, t)
    first = True
    for ukey in users:
        u = insert(conn, "users", "id", tenant_id=t, email=f"{ukey}@{key}.example",
                   name=ukey.upper(), role="owner" if first else "member",
                   password_hash="$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA")
        first = False
        setattr(w, ukey, u)
        c = insert(conn, "google_connections", "id", tenant_id=t, user_id=u,
                   google_email=f"{ukey}@gmail.example", google_subject=f"sub-{ukey}",
                   scopes=["calendar", "gmail.modify"], calendar_enabled=True,
                   mail_enabled=True, refresh_token=os.urandom(60),
                   access_token=os.urandom(60))
        setattr(w, f"conn_{ukey}", c)
        for res in ("calendar", "mail"):
            insert(conn, "sync_state", tenant_id=t, connection_id=c, resource=res,
                   lag_seconds=3, channel_id=f"ch-{ukey}-{res}")
        insert(conn, "sessions", tenant_id=t, id_hash=os.urandom(32), user_id=u,
               csrf_secret=os.urandom(32), expires_at=NOW + DAY)
        insert(conn, "oauth_pending", tenant_id=t, user_id=u, state_hash=os.urandom(32),
               pkce_verifier="v" * 43, redirect_uri="https://crm.example/oauth",
               want_mail=True, code="4/code")
        for vis in ("private", "shared"):
            a = insert(conn, "activities", "id", tenant_id=t, owner_id=u, title=f"{ukey} {vis}",
                       visibility=vis, start_at=NOW, end_at=NOW + DAY / 24,
                       connection_id=c, origin="google", google_event_id=f"ev-{ukey}-{vis}",
                       sync_state="synced", attendees=[{"email": "guest@example.com"}])
            setattr(w, f"act_{ukey}_{vis}", a)
            insert(conn, "activity_tombstones", tenant_id=t, activity_id=uuid.uuid4(),
                   connection_id=c, owner_id=u, google_event_id=f"gone-{ukey}-{vis}")
            th = insert(conn, "mail_threads", "id", tenant_id=t, user_id=u, connection_id=c,
                        gmail_thread_id=f"th-{ukey}-{vis}", subject="Hello", visibility=vis)
            setattr(w, f"thread_{ukey}_{vis}", th)
            m = insert(conn, "mail_messages", "id", tenant_id=t, thread_id=th, user_id=u,
                       connection_id=c, gmail_id=f"m-{ukey}-{vis}", subject="Hello",
                       from_addr="someone@example.com", to_addrs=[f"{ukey}@gmail.example"],
                       body_text="body", label_ids=["INBOX"])
            setattr(w, f"msg_{ukey}_{vis}", m)
        insert(conn, "merge_conflicts", tenant_id=t, activity_id=getattr(w, f"act_{ukey}_private"),
               owner_id=u, field="title", local_value=Jsonb("a"), remote_value=Jsonb("b"),
               winner="remote")
        o = insert(conn, "mail_outbox", "id", tenant_id=t, user_id=u, connection_id=c,
                   message_id=f"<{uuid.uuid4()}@rally.example>",
                   from_addr=f"{ukey}@gmail.example", to_addrs=["client@example.com"],
                   subject="Offer", body_text="Hi")
        insert(conn, "mail_outbox_attachments", tenant_id=t, outbox_id=o, user_id=u,
               filename="offer.pdf", content_type="application/pdf", data=b"%PDF")
        insert(conn, "mail_label_ops", tenant_id=t, user_id=u, connection_id=c,
               message_id=getattr(w, f"msg_{ukey}_private"), op="star")
        insert(conn, "exports", tenant_id=t, user_id=u, status="ready", content=b"{}",
               sha256=os.urandom(32), ready_at=NOW, expires_at=NOW + DAY)
        insert(conn, "notices", tenant_id=t, user_id=u, kind="technical", subject="Maintenance",
               body_text="Tonight")
        insert(conn, "password_resets", tenant_id=t, token_hash=os.urandom(32), user_id=u,
               expires_at=NOW + DAY / 24)
        insert(conn, "usage_events", tenant_id=t, user_id=u, kind="page.view")
        insert(conn, "usage_daily", tenant_id=t, day=NOW.date(), user_id=u, kind="page.view",
               count=4)
    j = insert(conn, "jobs", "id", tenant_id=t, kind="calsync", dedupe_key="k")
    insert(conn, "job_runs", tenant_id=t, job_id=j, attempt=1, instance="test")
    insert(conn, "token_revocations", tenant_id=t, connection_id=uuid.uuid4(),
           refresh_token=os.urandom(60))
    insert(conn, "deletion_ledger", tenant_id=t, kind="mail_disconnect",
           subject_hash=os.urandom(32), hash_key_id="1", due_at=NOW + DAY)
    insert(conn, "audit_log", tenant_id=t, actor="user", action="session.login")
    insert(conn, "invitations", tenant_id=t, email=f"new@{key}.example", role="member",
           token_hash=os.urandom(32), invited_by=getattr(w, users[0]), expires_at=NOW + 7 * DAY)
    # A secret notice (a link) is not the web tier's to read, even its user's.
    insert(conn, "notices", tenant_id=t, user_id=getattr(w, users[0]), kind="security",
           subject="Reset your password", body_text="https://crm.example/reset/x",
           body_secret=True)


@pytest.fixture
def world(pg, db, login_roles):
    """Tenant a (owner x, member y) and tenant b (owner z), rows in every
    table, written by the superuser; tenant a has no billing profile (the
    CGI's owner creates it in a test)."""
    w = SimpleNamespace(db=db)
    with pg.connect(db) as conn:
        _seed_tenant(conn, w, "a", "Acme", ["x", "y"])
        _seed_tenant(conn, w, "b", "Beta", ["z"])
        insert(conn, "billing_profiles", tenant_id=w.b, billing_email="pay@b.example",
               country="DE", vat_id="DE123456789")
        j = insert(conn, "jobs", "id", tenant_id=NIL_TENANT, kind="backup")
        insert(conn, "job_runs", tenant_id=NIL_TENANT, job_id=j, attempt=1, instance="test")
        insert(conn, "instances", name="test", host="h", pid=1)
        insert(conn, "backups", file_name="20260101T000000Z.rbk", status="running")
        insert(conn, "push_secrets", name="gmail", sha256=os.urandom(32))
        insert(conn, "ledger_keys", key_id="ledger-1", key=os.urandom(32))
        insert(conn, "login_failures", key_hash=os.urandom(32))
        insert(conn, "quota_buckets", name="gmail", level=1.0, updated_at=NOW)
        insert(conn, "deletion_purges", tenant_id=w.a, ledger_id=uuid.uuid4(),
               table_name="users", rows=1)
        w.tables = _tables(conn)
        empty = [t for t in w.tables
                 if conn.execute(f"SELECT count(*) FROM rally.{t}").fetchone()[0] == 0]
        assert empty == [], "the seed must fill every table"
    return w


def _web(pg, w, login_roles, tenant=None, user=None):
    conn = pg.connect(w.db, user=login_roles["web"])
    set_context(conn, tenant, user)
    return conn


def _visible(conn, table, column="tenant_id"):
    """Values of column in the rows conn sees, or None when it may not read
    the table at all."""
    try:
        return [r[0] for r in conn.execute(f"SELECT {column} FROM rally.{table}")]
    except psycopg.errors.InsufficientPrivilege:
        return None


def _web_rows(w):
    """A valid row, as the CGI of user x in tenant a would write it, for
    every table rally_web may insert into.  Billing details, exports, the
    ledger and the audit log it writes only through the rally.web_*
    functions (migration 0041)."""
    outbox = uuid.uuid4()
    return {
        "sessions": dict(tenant_id=w.a, id_hash=os.urandom(32), user_id=w.x,
                         csrf_secret=os.urandom(32), expires_at=NOW + DAY),
        "activities": dict(tenant_id=w.a, owner_id=w.x, title="Call Bob", kind="call"),
        "mail_outbox": dict(tenant_id=w.a, id=outbox, user_id=w.x, connection_id=w.conn_x,
                            message_id="<web-1@rally.example>", from_addr="x@gmail.example",
                            to_addrs=["bob@example.com"], subject="Hi", body_text="Hello"),
        # After its outbox row: the two go in one transaction from the CGI.
        "mail_outbox_attachments": dict(tenant_id=w.a, outbox_id=outbox, user_id=w.x,
                                        filename="offer.pdf", content_type="application/pdf",
                                        data=b"%PDF"),
        "mail_label_ops": dict(tenant_id=w.a, user_id=w.x, connection_id=w.conn_x,
                               thread_id=w.thread_x_private, op="archive"),
        "usage_events": dict(tenant_id=w.a, user_id=w.x, kind="activity.create"),
    }


def _refused(conn, sql, params=()):
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(sql, params)


def _insert_fails(conn, table, row):
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        insert(conn, table, **row)


@pytest.mark.parametrize("tenant,user", [
    (None, None),
    ("", ""),
    (NIL_TENANT, None),
    (None, "user_x"),
])
def test_web_without_tenant_sees_no_row_of_any_table(pg, world, login_roles, tenant, user):
    w = world
    with _web(pg, w, login_roles, tenant, getattr(w, "x") if user else None) as conn:
        readable = 0
        for t in w.tables:
            try:
                n = conn.execute(f"SELECT count(*) FROM rally.{t}").fetchone()[0]
            except psycopg.errors.InsufficientPrivilege:
                continue
            readable += 1
            assert n == 0, f"rally_web without a tenant sees {n} rows of {t}"
        assert readable >= 15


def test_web_without_tenant_cannot_insert_into_any_table(pg, world, login_roles):
    w = world
    rows = _web_rows(w)
    with pg.connect(w.db) as su:
        insertable = {t for t in w.tables if _web_can(su, t, "INSERT")}
    assert insertable == set(rows), "every table rally_web may insert into needs a test row"
    for tenant in (None, NIL_TENANT):
        with _web(pg, w, login_roles, tenant, w.x) as conn:
            for t in w.tables:
                _insert_fails(conn, t, rows.get(t, {"tenant_id": w.a}))


def test_web_with_tenant_and_user_can_insert_what_the_cgi_writes(pg, world, login_roles):
    w = world
    with _web(pg, w, login_roles, w.a, w.x) as conn:
        for t, row in _web_rows(w).items():
            insert(conn, t, **row)
    with pg.connect(w.db) as su:
        assert su.execute("SELECT count(*) FROM rally.activities WHERE title = 'Call Bob'"
                          ).fetchone()[0] == 1


def test_web_session_of_one_tenant_never_sees_another_tenants_rows(pg, world, login_roles):
    w = world
    for tenant, user, other in ((w.a, w.x, w.b), (w.a, w.y, w.b), (w.b, w.z, w.a)):
        with _web(pg, w, login_roles, tenant, user) as conn:
            seen = {}
            for t in w.tables:
                v = _visible(conn, t)
                if v is not None:
                    assert set(v) <= {tenant}, f"{t}: sees rows of another tenant"
                    seen[t] = len(v)
            for t in ("tenants", "users", "activities", "mail_threads", "mail_messages",
                      "google_connections", "sessions", "exports", "usage_daily",
                      "sync_state", "notices"):
                assert seen.get(t, 0) > 0, f"{t}: own rows should be visible"


def test_web_cannot_change_or_add_rows_of_another_tenant(pg, world, login_roles):
    w = world
    with _web(pg, w, login_roles, w.a, w.x) as conn:
        assert conn.execute("UPDATE rally.activities SET title = 'owned' WHERE tenant_id = %s",
                            (w.b,)).rowcount == 0
        assert conn.execute("DELETE FROM rally.activities WHERE tenant_id = %s",
                            (w.b,)).rowcount == 0
        _refused(conn, "UPDATE rally.tenants SET name = 'owned' WHERE tenant_id = %s", (w.b,))
        _refused(conn, "UPDATE rally.google_connections SET mail_enabled = false "
                 "WHERE tenant_id = %s", (w.b,))
        _insert_fails(conn, "activities", dict(tenant_id=w.b, owner_id=w.z, title="planted"))
        _insert_fails(conn, "jobs", dict(tenant_id=w.b, kind="purge"))
        _insert_fails(conn, "audit_log", dict(tenant_id=w.b, actor="user", action="x"))
        # Moving an own row to the other tenant is refused too.
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("UPDATE rally.activities SET owner_id = %s WHERE id = %s",
                         (w.z, w.act_x_private))
    with pg.connect(w.db) as su:
        assert su.execute("SELECT count(*) FROM rally.activities WHERE tenant_id = %s "
                          "AND title LIKE 'z %%'", (w.b,)).fetchone()[0] == 2
        assert su.execute("SELECT name FROM rally.tenants WHERE tenant_id = %s",
                          (w.b,)).fetchone()[0] == "Beta"


def test_private_rows_are_their_owners_and_shared_ones_the_tenants(pg, world, login_roles):
    w = world
    with _web(pg, w, login_roles, w.a, w.y) as conn:
        assert set(_visible(conn, "activities", "id")) == {
            w.act_x_shared, w.act_y_private, w.act_y_shared}
        assert set(_visible(conn, "mail_threads", "id")) == {
            w.thread_x_shared, w.thread_y_private, w.thread_y_shared}
        assert set(_visible(conn, "mail_messages", "id")) == {
            w.msg_x_shared, w.msg_y_private, w.msg_y_shared}
        for t, col in (("google_connections", "user_id"), ("sessions", "user_id"),
                       ("exports", "user_id"), ("oauth_pending", "user_id"),
                       ("mail_outbox", "user_id"), ("mail_label_ops", "user_id"),
                       ("notices", "user_id"), ("merge_conflicts", "owner_id"),
                       ("usage_daily", "user_id")):
            assert set(_visible(conn, t, col)) == {w.y}, t
        assert set(_visible(conn, "sync_state", "connection_id")) == {w.conn_y}
        # Team members see each other, not each other's Google accounts.
        assert set(_visible(conn, "users", "id")) == {w.x, w.y}


def test_user_cannot_change_another_users_rows_even_when_shared(pg, world, login_roles):
    w = world
    with _web(pg, w, login_roles, w.a, w.y) as conn:
        assert conn.execute("UPDATE rally.activities SET title = 'mine' WHERE id = %s",
                            (w.act_x_shared,)).rowcount == 0
        assert conn.execute("DELETE FROM rally.activities WHERE id = %s",
                            (w.act_x_shared,)).rowcount == 0
        assert conn.execute("UPDATE rally.mail_threads SET visibility = 'shared' WHERE id = %s",
                            (w.thread_x_private,)).rowcount == 0
        assert conn.execute("UPDATE rally.users SET last_login_at = now() WHERE id = %s",
                            (w.x,)).rowcount == 0
        assert conn.execute("SELECT rally.web_disconnect(%s, false, true)",
                            (w.conn_x,)).fetchone()[0] is False
        _insert_fails(conn, "activities", dict(tenant_id=w.a, owner_id=w.x, title="for x"))
        _insert_fails(conn, "mail_label_ops", dict(tenant_id=w.a, user_id=w.x,
                                                   connection_id=w.conn_x,
                                                   thread_id=w.thread_x_private, op="trash"))
    with pg.connect(w.db) as su:
        assert su.execute("SELECT title FROM rally.activities WHERE id = %s",
                          (w.act_x_shared,)).fetchone()[0] == "x shared"


def test_user_shares_own_thread_and_teammate_then_sees_it(pg, world, login_roles):
    w = world
    with _web(pg, w, login_roles, w.a, w.x) as conn:
        assert conn.execute("UPDATE rally.mail_threads SET visibility = 'shared' WHERE id = %s",
                            (w.thread_x_private,)).rowcount == 1
    with _web(pg, w, login_roles, w.a, w.y) as conn:
        assert w.msg_x_private in _visible(conn, "mail_messages", "id")


def test_only_the_owner_sees_and_edits_billing_and_company(pg, world, login_roles):
    w = world
    with _web(pg, w, login_roles, w.b, w.z) as conn:
        assert _visible(conn, "billing_profiles", "billing_email") == ["pay@b.example"]
        assert conn.execute("SELECT rally.web_account_update('{\"company_name\":"
                            " \"Beta GmbH\"}')").fetchone()[0] == ["company_name"]
        # Directly, not even the owner: the change would go unaudited.
        _refused(conn, "UPDATE rally.tenants SET name = 'Beta AG'")
    with _web(pg, w, login_roles, w.a, w.y) as conn:
        _insert_fails(conn, "billing_profiles", dict(tenant_id=w.a, billing_email="me@a.example"))
        _refused(conn, "SELECT rally.web_account_update('{\"company_name\": \"Mine\"}')")
        _refused(conn, "UPDATE rally.tenants SET name = 'Mine'")
    with pg.connect(w.db) as su:
        assert su.execute("SELECT name FROM rally.tenants WHERE tenant_id = %s",
                          (w.b,)).fetchone()[0] == "Beta GmbH"


def test_web_cannot_read_tokens_or_other_secrets(pg, world, login_roles):
    w = world
    with _web(pg, w, login_roles, w.a, w.x) as conn:
        for q in ("SELECT refresh_token FROM rally.google_connections",
                  "SELECT access_token FROM rally.google_connections",
                  "SELECT * FROM rally.google_connections",
                  "SELECT g FROM rally.google_connections g",
                  "SELECT id FROM rally.google_connections WHERE refresh_token IS NOT NULL",
                  "SELECT * FROM rally.token_revocations",
                  "SELECT count(*) FROM rally.token_revocations",
                  "SELECT password_hash FROM rally.users",
                  "SELECT pkce_verifier FROM rally.oauth_pending",
                  "SELECT code FROM rally.oauth_pending",
                  "SELECT calendar_sync_token FROM rally.sync_state",
                  "SELECT channel_token_hash FROM rally.sync_state",
                  "SELECT * FROM rally.jobs",
                  "SELECT * FROM rally.activity_tombstones",
                  "SELECT * FROM rally.audit_log",
                  "SELECT * FROM rally.deletion_ledger",
                  "SELECT * FROM rally.password_resets",
                  "SELECT token_hash FROM rally.invitations",
                  "SELECT * FROM rally.invitations"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(q)
        assert conn.execute("SELECT count(*) FROM rally.notices WHERE body_secret"
                            ).fetchone()[0] == 0
        # Owners see their workspace's pending invitations (the team page).
        assert conn.execute("SELECT email FROM rally.invitations").fetchall() == [
            ("new@a.example",)]
        # What the integration settings page shows is readable.
        row = conn.execute("SELECT google_email, calendar_enabled, mail_enabled, status "
                           "FROM rally.google_connections").fetchone()
        assert row == ("x@gmail.example", True, True, "active")


def test_daemon_works_across_tenants(pg, world, login_roles):
    w = world
    with pg.connect(w.db, user=login_roles["daemon"]) as conn:
        for t in w.tables:
            if t == "ledger_keys":
                # Read only by the functions that hash with it (ledger.sql).
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute("SELECT tenant_id FROM rally.ledger_keys")
                continue
            tenants = set(r[0] for r in conn.execute(f"SELECT tenant_id FROM rally.{t}"))
            assert tenants, t
        assert {r[0] for r in conn.execute("SELECT tenant_id FROM rally.activities")} == {
            w.a, w.b}
        assert conn.execute("SELECT count(*) FROM rally.token_revocations").fetchone()[0] == 2
        conn.execute("UPDATE rally.jobs SET state = 'running' WHERE tenant_id = %s", (w.b,))
