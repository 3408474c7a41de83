# SPDX-License-Identifier: ISC
"""A restore re-applies the deletion ledger (lib/backup-restore.c,
rally.backup_reapply_ledger in sql/functions/backup.sql): what was deleted
after the backup, or was still to be purged when it was made, does not
come back; the restored ledger holds the live one's entries."""

import os

import pytest

from rallytest.backup import ctl, ctl_json, write_conf
from rallytest.schema import insert

EX_DATAERR = 65


@pytest.fixture
def conf(pg, db, tmp_path):
    c = write_conf(tmp_path / "rally.conf", pg.conninfo(db), tmp_path / "keyring",
                   tmp_path / "backup-key", tmp_path / "backups")
    assert ctl(c, "keys", "generate", "--backup").returncode == 0
    return c


def person(conn, tenant, name):
    user = insert(conn, "users", "id", tenant_id=tenant, email=f"{name}@acme.test", name=name,
                  role="member", password_hash="$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA")
    connection = insert(conn, "google_connections", "id", tenant_id=tenant, user_id=user,
                        google_email=f"{name}@gmail.test", google_subject=f"sub-{name}",
                        calendar_enabled=True)
    conn.execute("INSERT INTO rally.activities (tenant_id, owner_id, title, connection_id,"
                 " google_event_id, origin) SELECT %s, %s, %s || ' from Google ' || g, %s,"
                 " 'ev' || g, 'google' FROM generate_series(1, 3) g",
                 (tenant, user, name, connection))
    conn.execute("INSERT INTO rally.activities (tenant_id, owner_id, title)"
                 " VALUES (%s, %s, %s || ' typed in the CRM')", (tenant, user, name))
    return user, connection


def ledger(conn, tenant, kind, subject_kind, subject):
    conn.execute("INSERT INTO rally.deletion_ledger (tenant_id, kind, subject_hash,"
                 " hash_key_id, due_at) SELECT %s, %s, h.hash, h.key_id, now()"
                 " FROM rally.ledger_hash(%s, %s) h", (tenant, kind, subject_kind, subject))


@pytest.fixture
def world(dbconn):
    tenant = insert(dbconn, "tenants", "tenant_id", name="Acme", company_size="1-10")
    ada = person(dbconn, tenant, "ada")
    bob = person(dbconn, tenant, "bob")
    cid = person(dbconn, tenant, "cid")
    return tenant, ada, bob, cid


def restore(pg, conf, made, *flags):
    target = pg.create_database()
    r = ctl_json(conf, "restore", os.path.join(made["dir"], made["file"]), "--dbname", target,
                 *flags)
    return target, r


def names(pg, dbname):
    with pg.connect(dbname) as c:
        users = sorted(r[0] for r in c.execute("SELECT name FROM rally.users"))
        titles = sorted(r[0] for r in c.execute("SELECT title FROM rally.activities"))
        calendars = dict(c.execute("SELECT google_email, calendar_enabled"
                                   " FROM rally.google_connections").fetchall())
        entries = c.execute("SELECT count(*) FROM rally.deletion_ledger").fetchone()[0]
    return users, titles, calendars, entries


def test_deletions_made_after_the_backup_do_not_come_back(pg, dbconn, conf, world):
    tenant, ada, bob, cid = world
    made = ctl_json(conf, "backup", "now")
    # After the backup: Bob deletes his account, Ada disconnects her calendar.
    ledger(dbconn, tenant, "account_deletion", "user", bob[0])
    dbconn.execute("DELETE FROM rally.users WHERE id = %s", (bob[0],))
    ledger(dbconn, tenant, "calendar_disconnect", "connection", ada[1])
    target, r = restore(pg, conf, made)
    assert r["ledger_entries"] == 2
    users, titles, calendars, entries = names(pg, target)
    assert users == ["ada", "cid"]
    assert not any(t.startswith("bob") for t in titles)
    assert not any(t.startswith("ada from Google") for t in titles)
    assert "ada typed in the CRM" in titles          # the CRM's own, detached
    assert [t for t in titles if t.startswith("cid")] == [
        "cid from Google 1", "cid from Google 2", "cid from Google 3", "cid typed in the CRM"]
    assert calendars == {"ada@gmail.test": False, "cid@gmail.test": True}
    assert entries == 2


def test_the_backups_own_ledger_is_re_applied_when_the_live_one_is_lost(pg, dbconn, conf, world):
    tenant, ada, bob, cid = world
    # Requested before the backup, purge still to run when it was made.
    ledger(dbconn, tenant, "account_deletion", "user", cid[0])
    made = ctl_json(conf, "backup", "now")
    target, r = restore(pg, conf, made, "--ledger-from-backup-only")
    assert r["ledger_entries"] == 0
    users, _, _, entries = names(pg, target)
    assert users == ["ada", "bob"] and entries == 1


def test_a_restore_whose_ledger_cannot_be_re_applied_restores_nothing(pg, dbconn, conf, world):
    tenant, ada, bob, cid = world
    made = ctl_json(conf, "backup", "now")
    dbconn.execute("INSERT INTO rally.deletion_ledger (tenant_id, kind, subject_hash,"
                   " hash_key_id, due_at) VALUES (%s, 'account_deletion', sha256('x'),"
                   " 'no-such-key', now())", (tenant,))
    target = pg.create_database()
    r = ctl(conf, "restore", os.path.join(made["dir"], made["file"]), "--dbname", target)
    assert r.returncode == EX_DATAERR and "no-such-key" in r.stderr, r.stderr
    with pg.connect(target) as c:
        assert c.execute("SELECT count(*) FROM pg_namespace WHERE nspname = 'rally'"
                         ).fetchone()[0] == 0


def test_a_deletion_cancelled_after_the_backup_deletes_nothing_at_restore(pg, dbconn, conf, world):
    tenant, ada, bob, cid = world
    made = ctl_json(conf, "backup", "now")
    # Bob asked for his account to be deleted, then changed his mind.
    ledger(dbconn, tenant, "account_deletion", "user", bob[0])
    dbconn.execute("UPDATE rally.deletion_ledger SET cancelled_at = now()"
                   " WHERE kind = 'account_deletion'")
    target, r = restore(pg, conf, made)
    users, _, _, entries = names(pg, target)
    assert users == ["ada", "bob", "cid"] and entries == 1
