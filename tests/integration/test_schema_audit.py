"""audit_log is append-only for every role, superusers included, and the
deletion ledger keeps its entries."""

import datetime
import os
import uuid

import psycopg
import pytest

from rallytest.schema import insert, set_context

NOW = datetime.datetime.now(datetime.timezone.utc)


@pytest.fixture
def tenant(pg, db):
    with pg.connect(db) as su:
        t = insert(su, "tenants", "tenant_id", name="Acme")
        insert(su, "audit_log", tenant_id=t, actor="operator", action="tenant.create")
    return t


def _connect(pg, db, login_roles, who, tenant):
    """A connection acting as who: rally_owner (by SET ROLE from the
    superuser, as migrations do), a login member of rally_daemon or
    rally_web, or the superuser itself."""
    if who == "owner":
        conn = pg.connect(db)
        conn.execute("SET ROLE rally_owner")
    elif who == "superuser":
        conn = pg.connect(db)
    else:
        conn = pg.connect(db, user=login_roles[who])
    set_context(conn, tenant)
    return conn


ROLES = ["owner", "daemon", "web", "superuser"]
CHANGES = ["UPDATE rally.audit_log SET action = 'forged'",
           "DELETE FROM rally.audit_log",
           "TRUNCATE rally.audit_log"]


@pytest.mark.parametrize("who", ROLES)
@pytest.mark.parametrize("stmt", CHANGES)
def test_audit_log_cannot_be_changed_by_any_role(pg, db, login_roles, tenant, who, stmt):
    with _connect(pg, db, login_roles, who, tenant) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(stmt)
    with pg.connect(db) as su:
        assert su.execute("SELECT action FROM rally.audit_log").fetchall() == [("tenant.create",)]


@pytest.mark.parametrize("who", ROLES)
def test_audit_log_accepts_new_entries_from_every_role(pg, db, login_roles, tenant, who):
    with _connect(pg, db, login_roles, who, tenant) as conn:
        insert(conn, "audit_log", tenant_id=tenant, actor="user", action=f"test.{who}",
               detail={"n": 1})
    with pg.connect(db) as su:
        assert su.execute("SELECT count(*) FROM rally.audit_log").fetchone()[0] == 2


@pytest.mark.parametrize("stmt", CHANGES)
def test_audit_log_holds_even_with_triggers_off_for_replication(pg, db, tenant, stmt):
    with pg.connect(db) as su:
        su.execute("SET session_replication_role = replica")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            su.execute(stmt)


def _ledger_entry(pg, db, tenant):
    with pg.connect(db) as su:
        return insert(su, "deletion_ledger", "id", tenant_id=tenant, kind="account_deletion",
                      subject_hash=os.urandom(32), hash_key_id="1",
                      due_at=NOW + datetime.timedelta(days=20))


def test_deletion_ledger_entry_can_be_completed_once_and_never_removed(pg, db, login_roles,
                                                                       tenant):
    entry = _ledger_entry(pg, db, tenant)
    with pg.connect(db, user=login_roles["daemon"]) as conn:
        assert conn.execute("UPDATE rally.deletion_ledger SET completed_at = now() "
                            "WHERE id = %s", (entry,)).rowcount == 1
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("UPDATE rally.deletion_ledger SET completed_at = NULL")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DELETE FROM rally.deletion_ledger")
    with pg.connect(db) as su:
        for stmt in ("DELETE FROM rally.deletion_ledger", "TRUNCATE rally.deletion_ledger",
                     "UPDATE rally.deletion_ledger SET subject_hash = '\\x00'::bytea"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                su.execute(stmt)
        assert su.execute("SELECT count(*) FROM rally.deletion_ledger "
                          "WHERE completed_at IS NOT NULL").fetchone()[0] == 1


def test_ledger_and_audit_log_survive_the_deletion_of_their_tenant(pg, db, tenant):
    _ledger_entry(pg, db, tenant)
    with pg.connect(db) as su:
        su.execute("DELETE FROM rally.tenants WHERE tenant_id = %s", (tenant,))
        assert su.execute("SELECT count(*) FROM rally.deletion_ledger WHERE tenant_id = %s",
                          (tenant,)).fetchone()[0] == 1
        assert su.execute("SELECT count(*) FROM rally.audit_log WHERE tenant_id = %s",
                          (tenant,)).fetchone()[0] == 1


def test_web_cannot_record_audit_entries_for_another_tenant(pg, db, login_roles, tenant):
    with _connect(pg, db, login_roles, "web", tenant) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            insert(conn, "audit_log", tenant_id=uuid.uuid4(), actor="user", action="x")
