# SPDX-License-Identifier: ISC
"""What the schema guarantees about an activity's owner and time zone
since migration 0027 made them cheaper to check for a sync: an owner
always exists, whether the activity is in a calendar or not, and goes with
the user; a time zone keeps the rule it had."""

import psycopg
import pytest

from rallytest.daemon import wait_until
from rallytest.schema import calendar_user, insert, login_role, set_context


@pytest.fixture
def owner(dbconn):
    return calendar_user(dbconn)       # (tenant, user, connection)


def _activity(conn, tenant, user, **kw):
    return insert(conn, "activities", "id", tenant_id=tenant, owner_id=user, title="A", **kw)


def _exists(conn, tenant, aid):
    return conn.execute("SELECT count(*) FROM rally.activities WHERE tenant_id = %s AND id = %s",
                        (tenant, aid)).fetchone()[0] == 1


def test_an_activity_in_no_calendar_needs_an_owner_that_exists(dbconn, owner):
    tenant, _, _ = owner
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        _activity(dbconn, tenant, "00000000-0000-4000-8000-000000000001")


def test_an_activity_in_a_calendar_needs_the_connections_user_as_owner(dbconn, owner):
    tenant, user, conn = owner
    other = insert(dbconn, "users", "id", tenant_id=tenant, email="bo@acme.test", name="Bo",
                   role="member", password_hash="$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA")
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        _activity(dbconn, tenant, other, connection_id=conn)
    assert _exists(dbconn, tenant, _activity(dbconn, tenant, user, connection_id=conn))


def test_deleting_the_owner_deletes_activities_in_and_out_of_a_calendar(dbconn, owner):
    tenant, user, conn = owner
    crm = _activity(dbconn, tenant, user)
    synced = _activity(dbconn, tenant, user, connection_id=conn)
    dbconn.execute("DELETE FROM rally.users WHERE tenant_id = %s AND id = %s", (tenant, user))
    assert not _exists(dbconn, tenant, crm)
    assert not _exists(dbconn, tenant, synced)


def test_an_activity_detached_from_its_calendar_is_checked_and_deleted_with_its_owner(
        dbconn, owner):
    tenant, user, conn = owner
    aid = _activity(dbconn, tenant, user, connection_id=conn)
    dbconn.execute("UPDATE rally.activities SET connection_id = NULL, sync_state = 'local'"
                   " WHERE tenant_id = %s AND id = %s", (tenant, aid))
    dbconn.execute("DELETE FROM rally.google_connections WHERE tenant_id = %s AND id = %s",
                   (tenant, conn))
    assert _exists(dbconn, tenant, aid)          # CRM data stays with the CRM
    dbconn.execute("DELETE FROM rally.users WHERE tenant_id = %s AND id = %s", (tenant, user))
    assert not _exists(dbconn, tenant, aid)


@pytest.mark.parametrize("zone,ok", [
    ("Europe/Paris", True), ("America/Argentina/Buenos_Aires", True), ("Etc/GMT+5", True),
    ("x" * 64, True), ("x" * 65, False), ("", False), ("Europe/Paris; drop", False),
    ("Évry", False)])
def test_a_time_zone_is_1_to_64_characters_of_a_zone_name(dbconn, owner, zone, ok):
    tenant, user, _ = owner
    if ok:
        assert _exists(dbconn, tenant, _activity(dbconn, tenant, user, time_zone=zone))
    else:
        with pytest.raises(psycopg.errors.CheckViolation):
            _activity(dbconn, tenant, user, time_zone=zone)


# Since migration 0050 the reference to the connection is checked by triggers,
# once per INSERT statement: the same guarantees as the foreign key it replaced.

def test_one_bad_row_fails_the_whole_insert_of_a_set(dbconn, owner):
    tenant, user, conn = owner
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        dbconn.execute(
            "INSERT INTO rally.activities (tenant_id, owner_id, title, connection_id)"
            " SELECT %s, %s, 'set ' || g, CASE WHEN g = 7 THEN gen_random_uuid() ELSE %s END"
            " FROM generate_series(1, 20) g", (tenant, user, conn))
    assert dbconn.execute("SELECT count(*) FROM rally.activities").fetchone()[0] == 0


def test_an_activity_cannot_be_moved_to_a_connection_that_is_not_its_owners(dbconn, owner):
    tenant, user, conn = owner
    aid = _activity(dbconn, tenant, user)
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        dbconn.execute("UPDATE rally.activities SET connection_id = gen_random_uuid()"
                       " WHERE tenant_id = %s AND id = %s", (tenant, aid))
    dbconn.execute("UPDATE rally.activities SET connection_id = %s WHERE tenant_id = %s"
                   " AND id = %s", (conn, tenant, aid))
    assert _exists(dbconn, tenant, aid)


def test_deleting_a_connection_deletes_its_activities_and_no_others(dbconn, owner):
    tenant, user, conn = owner
    synced = _activity(dbconn, tenant, user, connection_id=conn)
    crm = _activity(dbconn, tenant, user)
    dbconn.execute("DELETE FROM rally.google_connections WHERE tenant_id = %s AND id = %s",
                   (tenant, conn))
    assert not _exists(dbconn, tenant, synced)
    assert _exists(dbconn, tenant, crm)


def test_a_connections_key_cannot_change_under_its_activities(dbconn, owner):
    tenant, user, conn = owner
    _activity(dbconn, tenant, user, connection_id=conn)
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        dbconn.execute("UPDATE rally.google_connections SET id = gen_random_uuid()"
                       " WHERE tenant_id = %s AND id = %s", (tenant, conn))


def test_a_connection_deleted_while_an_insert_is_open_waits_and_takes_the_row(pg, db, dbconn,
                                                                                 owner):
    """The insert holds the connection FOR KEY SHARE until it ends, as the
    foreign key's check did: the delete waits, then cascades to the new row."""
    import threading
    tenant, user, conn = owner
    with pg.connect(db, autocommit=False) as crm:
        aid = _activity(crm, tenant, user, connection_id=conn)
        done = threading.Event()

        def delete():
            with pg.connect(db) as c:
                c.execute("DELETE FROM rally.google_connections WHERE tenant_id = %s"
                          " AND id = %s", (tenant, conn))
            done.set()
        t = threading.Thread(target=delete)
        t.start()
        wait_until(lambda: dbconn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND wait_event_type = 'Lock' AND query LIKE 'DELETE FROM rally.google_conn%%'"
        ).fetchone()[0] == 1, timeout=30, message="the delete waiting for the insert")
        assert not done.is_set()
        crm.commit()
        t.join(10)
    assert done.is_set() and not _exists(dbconn, tenant, aid)


# Since migration 0051 an exception's series is checked the same way.

def _exception(conn, tenant, user, series, **kw):
    return _activity(conn, tenant, user, recurring_activity_id=series, **kw)


def test_an_exception_needs_a_series_that_exists_in_its_tenant(dbconn, owner):
    tenant, user, _ = owner
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        _exception(dbconn, tenant, user, "00000000-0000-4000-8000-000000000002")
    series = _activity(dbconn, tenant, user, recurrence=["RRULE:FREQ=DAILY"])
    assert _exists(dbconn, tenant, _exception(dbconn, tenant, user, series))
    aid = _activity(dbconn, tenant, user)
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        dbconn.execute("UPDATE rally.activities SET recurring_activity_id = gen_random_uuid()"
                       " WHERE tenant_id = %s AND id = %s", (tenant, aid))


def test_a_series_and_its_exceptions_inserted_in_one_statement_are_taken(dbconn, owner):
    tenant, user, _ = owner
    dbconn.execute(
        "WITH s AS (SELECT gen_random_uuid() id)"
        " INSERT INTO rally.activities (tenant_id, owner_id, title, id, recurring_activity_id)"
        " SELECT %s, %s, 'series', s.id, NULL FROM s"
        " UNION ALL SELECT %s, %s, 'exception', gen_random_uuid(), s.id FROM s",
        (tenant, user, tenant, user))
    assert dbconn.execute("SELECT count(*) FROM rally.activities").fetchone()[0] == 2


def test_deleting_a_series_deletes_its_exceptions_and_nothing_else(dbconn, owner):
    tenant, user, conn = owner
    series = _activity(dbconn, tenant, user, recurrence=["RRULE:FREQ=DAILY"])
    other = _activity(dbconn, tenant, user, recurrence=["RRULE:FREQ=WEEKLY"])
    gone = [_exception(dbconn, tenant, user, series) for _ in range(3)]
    kept = _exception(dbconn, tenant, user, other)
    dbconn.execute("DELETE FROM rally.activities WHERE tenant_id = %s AND id = %s",
                   (tenant, series))
    assert not any(_exists(dbconn, tenant, a) for a in gone)
    assert _exists(dbconn, tenant, kept) and _exists(dbconn, tenant, other)


def test_a_series_key_cannot_change_under_its_exceptions(dbconn, owner):
    tenant, user, _ = owner
    series = _activity(dbconn, tenant, user, recurrence=["RRULE:FREQ=DAILY"])
    _exception(dbconn, tenant, user, series)
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        dbconn.execute("UPDATE rally.activities SET id = gen_random_uuid()"
                       " WHERE tenant_id = %s AND id = %s", (tenant, series))


def test_the_web_role_may_not_link_an_activity_to_a_series(pg, db, dbconn, owner):
    """Only the daemon links an exception to its series (migration 0062):
    a web session naming a colleague's private activity, another tenant's
    or its own user's is refused, as are the occurrence's original start
    columns.  Until then a colleague's id was accepted, which told the
    session it existed and let the colleague's series delete the row."""
    tenant, ada, _ = owner
    bo = insert(dbconn, "users", "id", tenant_id=tenant, email="bo@acme.test", name="Bo",
                role="member", password_hash="$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA")
    other = insert(dbconn, "tenants", "tenant_id", name="Other", company_size="1-10")
    stranger = insert(dbconn, "users", "id", tenant_id=other, email="eve@other.test",
                      name="Eve", role="owner",
                      password_hash="$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA")
    series = {"colleague": _activity(dbconn, tenant, bo, visibility="private"),
              "other tenant": _activity(dbconn, other, stranger),
              "own": _activity(dbconn, tenant, ada)}
    login_role(dbconn, "rally_test_web", ["rally_web"])
    with pg.connect(db, user="rally_test_web") as web:
        set_context(web, tenant, ada)
        for whose, sid in series.items():
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                web.execute("INSERT INTO rally.activities (tenant_id, owner_id, title,"
                            " recurring_activity_id) VALUES (%s, %s, 'x', %s)",
                            (tenant, ada, sid))
        for column in ("original_start_at", "original_start_date"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                web.execute(f"INSERT INTO rally.activities (tenant_id, owner_id, title, {column})"
                            " VALUES (%s, %s, 'x', now())", (tenant, ada))
        # What rally.cgi does write is still allowed.
        web.execute("INSERT INTO rally.activities (tenant_id, owner_id, title, visibility)"
                    " VALUES (%s, %s, 'Own', 'private')", (tenant, ada))
    assert dbconn.execute("SELECT count(*) FROM rally.activities WHERE tenant_id = %s"
                          " AND recurring_activity_id IS NOT NULL", (tenant,)).fetchone() == (0,)
