# SPDX-License-Identifier: ISC
"""What the web tier may write (docs/compliance.md): rally_web changes
what a compliance routine owns (an integration's flags, a user's status,
address or name, the company and billing details, export requests, the
ledger and the audit log) only through the rally.web_* function that
writes the ledger and audit entries with it, and only for the signed-in
user."""

import json

import psycopg
import pytest

from rallytest.calendar import PASSWORD, Cal
from rallytest.schema import set_context

# Every column rally_web may write, and every table it may delete from.
# Each is a write no compliance routine owns; a grant added later fails here
# until it is reviewed against that rule.
WEB_WRITES = {
    ("activities", "INSERT"), ("activities", "UPDATE"), ("activities", "DELETE"),
    ("mail_label_ops", "INSERT"), ("mail_outbox", "INSERT"), ("mail_outbox", "DELETE"),
    ("mail_outbox_attachments", "INSERT"), ("mail_outbox_attachments", "DELETE"),
    ("mail_threads", "UPDATE"), ("merge_conflicts", "UPDATE"), ("oauth_pending", "DELETE"),
    ("sessions", "INSERT"), ("sessions", "UPDATE"), ("sessions", "DELETE"),
    ("usage_events", "INSERT"), ("users", "UPDATE"), ("exports", "DELETE"),
}
WEB_USER_COLUMNS = {"last_login_at", "password_hash", "updated_at"}


@pytest.fixture
def cal(pg, db, login_roles, fakegoogle, tmp_path):
    c = Cal(pg, db, login_roles, fakegoogle, tmp_path, "wanda")
    c.fg.admin("POST", "/__admin/accounts", {"email": c.google_email})
    c.connect(mail=True)
    yield c
    c.close()


@pytest.fixture
def web(pg, db, login_roles):
    with psycopg.connect(pg.conninfo(db, login_roles["web"]), autocommit=True) as c:
        yield c


def entries(cal):
    ledger = sorted(k for (k,) in cal.conn.execute("SELECT kind FROM rally.deletion_ledger"))
    audit = sorted(a for (a,) in cal.conn.execute("SELECT action FROM rally.audit_log"))
    return ledger, audit


def refused(web, sql, params=()):
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        web.execute(sql, params)


def test_the_web_role_writes_nothing_a_compliance_routine_owns(dbconn):
    tables = {(t, p) for t, p in dbconn.execute(
        "SELECT table_name, privilege_type FROM information_schema.table_privileges"
        " WHERE grantee = 'rally_web' AND table_schema = 'rally'"
        " AND privilege_type IN ('INSERT', 'UPDATE', 'DELETE', 'TRUNCATE')"
        " UNION SELECT table_name, privilege_type FROM information_schema.column_privileges"
        " WHERE grantee = 'rally_web' AND table_schema = 'rally'"
        " AND privilege_type IN ('INSERT', 'UPDATE')")}
    assert tables == WEB_WRITES
    user_cols = {c for (c,) in dbconn.execute(
        "SELECT column_name FROM information_schema.column_privileges WHERE grantee ="
        " 'rally_web' AND table_schema = 'rally' AND table_name = 'users'"
        " AND privilege_type = 'UPDATE'")}
    assert user_cols == WEB_USER_COLUMNS


def test_an_integration_goes_off_only_through_web_disconnect_with_its_entries(cal, web):
    set_context(web, cal.tenant, cal.user)
    refused(web, "UPDATE rally.google_connections SET calendar_enabled = false WHERE id = %s",
            (cal.connection,))
    refused(web, "UPDATE rally.google_connections SET mail_enabled = false WHERE id = %s",
            (cal.connection,))
    assert cal.conn.execute("SELECT calendar_enabled, mail_enabled FROM"
                            " rally.google_connections").fetchone() == (True, True)
    assert entries(cal) == ([], [])
    assert web.execute("SELECT rally.web_disconnect(%s, true, false)",
                       (cal.connection,)).fetchone()[0] is True
    assert cal.conn.execute("SELECT calendar_enabled, mail_enabled FROM"
                            " rally.google_connections").fetchone() == (False, True)
    assert entries(cal) == (["calendar_disconnect"], ["connection.disconnected"])


def test_web_disconnect_refuses_a_colleagues_and_another_tenants_connection(cal, web):
    eve = json.loads(cal.ctl("--json", "user", "create", "--tenant", cal.tenant, "--email",
                             "eve@acme.test", "--name", "eve", input=PASSWORD + "\n").stdout)
    other = json.loads(cal.ctl("--json", "tenant", "create", "Other").stdout)["tenant_id"]
    for tenant, user in ((cal.tenant, eve["user_id"]), (other, cal.user)):
        set_context(web, tenant, user)
        assert web.execute("SELECT rally.web_disconnect(%s, true, true)",
                           (cal.connection,)).fetchone()[0] is False
        refused(web, "UPDATE rally.google_connections SET calendar_enabled = false"
                " WHERE id = %s", (cal.connection,))
    assert cal.conn.execute("SELECT calendar_enabled, mail_enabled FROM"
                            " rally.google_connections").fetchone() == (True, True)
    assert entries(cal) == ([], [])


def test_status_address_name_and_company_change_only_through_the_audited_functions(cal, web):
    cal.conn.execute("UPDATE rally.users SET role = 'owner' WHERE id = %s", (cal.user,))
    set_context(web, cal.tenant, cal.user)
    for sql in ("UPDATE rally.users SET status = 'deleted' WHERE id = %(u)s",
                "UPDATE rally.users SET deletion_requested_at = now() WHERE id = %(u)s",
                "UPDATE rally.users SET email = 'w2@acme.test' WHERE id = %(u)s",
                "UPDATE rally.users SET name = 'Someone' WHERE id = %(u)s",
                "UPDATE rally.users SET analytics_opt_out = true WHERE id = %(u)s",
                "UPDATE rally.tenants SET name = 'Evil' WHERE tenant_id = %(t)s",
                "INSERT INTO rally.billing_profiles (tenant_id, billing_email, billing_name,"
                " country) VALUES (%(t)s, 'b@acme.test', 'B', 'DE')",
                "INSERT INTO rally.exports (tenant_id, user_id) VALUES (%(t)s, %(u)s)",
                "INSERT INTO rally.deletion_ledger (tenant_id, kind, subject_hash,"
                " hash_key_id, due_at) VALUES (%(t)s, 'account_deletion', 'x', 'k', now())",
                "INSERT INTO rally.audit_log (tenant_id, actor, action, subject_hash,"
                " hash_key_id) VALUES (%(t)s, 'user', 'account.rectified', 'x', 'k')"):
        refused(web, sql, {"u": cal.user, "t": cal.tenant})
    assert cal.conn.execute("SELECT status, email, name FROM rally.users WHERE id = %s",
                            (cal.user,)).fetchone() == ("active", cal.user_email, "wanda")
    assert entries(cal) == ([], [])
    changed = web.execute("SELECT rally.web_account_update(%s)", (json.dumps(
        {"email": "w2@acme.test", "name": "Wanda Q", "company_name": "Acme Two"}),)
    ).fetchone()[0]
    assert sorted(changed) == ["company_name", "email", "name"]
    assert cal.conn.execute("SELECT u.email, u.name, t.name FROM rally.users u JOIN"
                            " rally.tenants t USING (tenant_id) WHERE u.id = %s",
                            (cal.user,)).fetchone() == ("w2@acme.test", "Wanda Q", "Acme Two")
    detail = cal.conn.execute("SELECT detail FROM rally.audit_log WHERE action ="
                              " 'account.rectified'").fetchone()[0]
    assert "w2@acme.test" not in json.dumps(detail)
    assert web.execute("SELECT rally.web_export_request()").fetchone()[0] is not None
    assert web.execute("SELECT rally.web_account_delete_request('14 days', '1 day')"
                       ).fetchone()[0] is not None
    ledger, audit = entries(cal)
    assert "account_deletion" in ledger
    assert {"account.rectified", "account.export_requested", "account.deletion_requested"} <= set(audit)


def test_the_account_functions_change_nothing_for_a_user_of_another_tenant(cal, web):
    other = cal.sibling("otto")
    before = cal.conn.execute("SELECT id, status, email, name FROM rally.users ORDER BY id"
                              ).fetchall()
    for tenant, user in ((other.tenant, cal.user), (cal.tenant, other.user)):
        set_context(web, tenant, user)
        assert web.execute("SELECT rally.web_account_update(%s)",
                           (json.dumps({"name": "Hijacked"}),)).fetchone()[0] is None
        assert web.execute("SELECT rally.web_account_delete_request('14 days', '1 day')"
                           ).fetchone()[0] is None
        assert web.execute("SELECT rally.web_export_request()").fetchone()[0] is None
    assert cal.conn.execute("SELECT id, status, email, name FROM rally.users ORDER BY id"
                            ).fetchall() == before
    assert entries(cal) == ([], [])
    other.conn.close()
