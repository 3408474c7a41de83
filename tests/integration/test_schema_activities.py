# SPDX-License-Identifier: ISC
"""What the schema guarantees about an activity's owner and time zone
since migration 0027 made them cheaper to check for a sync: an owner
always exists, whether the activity is in a calendar or not, and goes with
the user; a time zone keeps the rule it had."""

import psycopg
import pytest

from rallytest.schema import calendar_user, insert


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
