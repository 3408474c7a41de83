# SPDX-License-Identifier: ISC
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


# rally_web writes its entries only through the functions that make the
# change they record (migration 0041), which run as rally_owner.
WRITERS = ["owner", "daemon", "superuser"]


@pytest.mark.parametrize("who", WRITERS)
def test_audit_log_accepts_new_entries_from_every_writer(pg, db, login_roles, tenant, who):
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


@pytest.mark.parametrize("table", ["audit_log", "deletion_ledger"])
def test_web_cannot_write_audit_or_ledger_entries_itself(pg, db, login_roles, tenant, table):
    cols = {"audit_log": dict(actor="user", action="x"),
            "deletion_ledger": dict(kind="account_deletion", subject_hash="x",
                                    hash_key_id="k", due_at=NOW)}[table]
    for t in (tenant, uuid.uuid4()):
        with _connect(pg, db, login_roles, "web", tenant) as conn:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                insert(conn, table, tenant_id=t, **cols)


# --- The hash chain (migration 0015, sql/functions/audit.sql) ------------------------


def _chain(su):
    return su.execute("SELECT seq, prev_hash, hash, action FROM rally.audit_log "
                      "ORDER BY seq").fetchall()


def _verify(conn):
    return conn.execute("SELECT rally.audit_verify()").fetchone()[0]


@pytest.fixture
def chained(pg, db, login_roles, tenant):
    """Five more entries, written by rally_owner (as the rally.web_*
    functions are) and rally_daemon in turn."""
    for n in range(5):
        who = "owner" if n % 2 == 0 else "daemon"
        with _connect(pg, db, login_roles, who, tenant) as conn:
            insert(conn, "audit_log", tenant_id=tenant, actor="user", action=f"test.{n}",
                   detail={"n": n, "by": who})
    return tenant


def test_entries_from_owner_and_daemon_form_one_chain(pg, db, login_roles, chained):
    with pg.connect(db) as su:
        rows = _chain(su)
    assert [r[0] for r in rows] == [1, 2, 3, 4, 5, 6]
    assert rows[0][1] == bytes(32)
    for before, after in zip(rows, rows[1:]):
        assert after[1] == before[2] and len(after[2]) == 32
    with pg.connect(db, user=login_roles["daemon"]) as conn:
        assert _verify(conn) is None
        assert conn.execute("SELECT seq, hash FROM rally.audit_head()").fetchone() == \
            (6, rows[-1][2])


def test_web_may_not_verify_or_read_the_chain(pg, db, login_roles, chained):
    with _connect(pg, db, login_roles, "web", chained) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            _verify(conn)


def test_a_forged_chain_position_is_overwritten_on_insert(pg, db, login_roles, chained):
    with pg.connect(db) as su:
        insert(su, "audit_log", tenant_id=chained, actor="user", action="forged",
               seq=1, prev_hash=bytes(32), hash=bytes(32))
        assert _chain(su)[-1][0] == 7
        assert _verify(su) is None


SUPERUSER_REWRITES = {
    "delete": "DELETE FROM rally.audit_log WHERE seq = 3",
    "edit": "UPDATE rally.audit_log SET detail = '{\"n\": 99}' WHERE seq = 3",
    "edit-time": "UPDATE rally.audit_log SET at = at - interval '1 day' WHERE seq = 3",
    "delete-first": "DELETE FROM rally.audit_log WHERE seq = 1",
}


@pytest.mark.parametrize("rewrite", SUPERUSER_REWRITES.values(), ids=SUPERUSER_REWRITES)
def test_a_superuser_rewriting_a_middle_entry_is_detected(pg, db, chained, rewrite):
    with pg.connect(db) as su:
        su.execute("ALTER TABLE rally.audit_log DISABLE TRIGGER ALL")
        assert su.execute(rewrite).rowcount == 1
        expected = 1 if "seq = 1" in rewrite else 3
        assert _verify(su) == expected


def test_a_superuser_relinking_the_next_entry_is_still_detected(pg, db, chained):
    # Fixing up the successor's prev_hash without recomputing its hash.
    with pg.connect(db) as su:
        su.execute("ALTER TABLE rally.audit_log DISABLE TRIGGER ALL")
        su.execute("DELETE FROM rally.audit_log WHERE seq = 3")
        su.execute("UPDATE rally.audit_log SET seq = 3, prev_hash = "
                   "(SELECT hash FROM rally.audit_log WHERE seq = 2) WHERE seq = 4")
        assert _verify(su) == 3


def test_entries_cannot_leave_the_chain_even_with_triggers_off(pg, db, chained):
    with pg.connect(db) as su:
        su.execute("ALTER TABLE rally.audit_log DISABLE TRIGGER ALL")
        with pytest.raises(psycopg.errors.CheckViolation):
            su.execute("UPDATE rally.audit_log SET seq = NULL WHERE seq = 3")
        with pytest.raises(psycopg.errors.CheckViolation):
            insert(su, "audit_log", tenant_id=chained, actor="user", action="unchained")


def test_truncate_is_still_refused_with_the_chain(pg, db, login_roles, chained):
    for who in ROLES:
        with _connect(pg, db, login_roles, who, chained) as conn:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("TRUNCATE rally.audit_log")
    with pg.connect(db) as su:
        assert len(_chain(su)) == 6 and _verify(su) is None


def test_concurrent_writers_take_turns_on_the_chain(pg, db, login_roles, chained):
    import threading

    def write(n):
        with _connect(pg, db, login_roles, "daemon", chained) as conn:
            for i in range(10):
                insert(conn, "audit_log", tenant_id=chained, actor="daemon",
                       action=f"test.t{n}", detail={"i": i})

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with pg.connect(db) as su:
        assert [r[0] for r in _chain(su)] == list(range(1, 47))
        assert _verify(su) is None


def test_the_chain_does_not_depend_on_the_sessions_time_zone(pg, db, chained):
    with pg.connect(db) as su:
        su.execute("SET TimeZone = 'Pacific/Chatham'")
        su.execute("SET DateStyle = 'SQL, DMY'")
        assert _verify(su) is None
