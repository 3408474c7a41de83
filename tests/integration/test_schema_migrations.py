# SPDX-License-Identifier: ISC
"""The migrations apply on an empty database, once, under the runner
contract lib/migrate implements (and rallytest.schema mirrors)."""

import os
import re
import subprocess
import threading

import psycopg
import pytest

from rallytest.pg import PGBIN
from rallytest.schema import (MigrationError, apply_migrations, login_role, migrations_dir,
                              scan, scan_functions)


@pytest.fixture
def empty_db(pg):
    name = pg.create_database()
    yield name
    with pg.connect() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _files():
    return [(v, n) for v, n, _ in scan(migrations_dir())]


def _recorded(conn):
    return [tuple(r) for r in conn.execute(
        "SELECT version, name FROM rally.schema_migrations ORDER BY version")]


def _dump(pg, db):
    """Schema and grants, plus the runner's records, as pg_dump prints them."""
    out = subprocess.run([f"{PGBIN}/pg_dump", "-h", pg.sockdir, "-p", str(pg.port),
                          "-U", "postgres", "--schema-only", db],
                         check=True, capture_output=True, text=True).stdout
    # pg_dump's \restrict lines carry a random key per run.
    out = "\n".join(line for line in out.splitlines()
                    if not line.startswith(("\\restrict", "\\unrestrict")))
    with pg.connect(db) as conn:
        rows = conn.execute("SELECT version, name, applied_at FROM rally.schema_migrations "
                            "ORDER BY version").fetchall()
        roles = conn.execute("SELECT rolname, rolcanlogin, rolinherit, rolbypassrls "
                             "FROM pg_roles WHERE rolname LIKE 'rally\\_%' ORDER BY 1").fetchall()
    return out, rows, roles


def test_migrations_apply_on_an_empty_database_and_record_each_file(pg, empty_db):
    files = _files()
    assert len(files) >= 8
    with pg.connect(empty_db) as conn:
        applied = apply_migrations(conn, migrations_dir())
        assert applied == [f"{v:04d}_{n}.sql" for v, n in files]
        assert _recorded(conn) == files
        owner = conn.execute("SELECT pg_get_userbyid(nspowner) FROM pg_namespace "
                             "WHERE nspname = 'rally'").fetchone()[0]
        assert owner == "rally_owner"
        not_owned = conn.execute(
            "SELECT relname FROM pg_class WHERE relnamespace = 'rally'::regnamespace "
            "AND relkind IN ('r', 'p', 'S', 'v', 'i') "
            "AND pg_get_userbyid(relowner) <> 'rally_owner'").fetchall()
        assert not_owned == []
        roles = conn.execute("SELECT rolname, rolcanlogin FROM pg_roles "
                             "WHERE rolname IN ('rally_owner', 'rally_daemon', 'rally_web') "
                             "ORDER BY 1").fetchall()
        assert roles == [("rally_daemon", False), ("rally_owner", False), ("rally_web", False)]


def test_rerun_applies_nothing_and_changes_nothing(pg, empty_db):
    with pg.connect(empty_db) as conn:
        apply_migrations(conn, migrations_dir())
    before = _dump(pg, empty_db)
    with pg.connect(empty_db) as conn:
        assert apply_migrations(conn, migrations_dir()) == []
    after = _dump(pg, empty_db)
    assert after == before
    assert "CREATE TABLE rally.jobs" in before[0]


def test_concurrent_runs_apply_each_file_once(pg, empty_db):
    start = threading.Barrier(3)
    results, errors = [], []

    def run():
        try:
            with pg.connect(empty_db) as conn:
                start.wait()
                results.append(apply_migrations(conn, migrations_dir()))
        except Exception as e:   # reported below, not lost in the thread
            errors.append(e)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    everything = sorted(f for r in results for f in r)
    assert everything == [f"{v:04d}_{n}.sql" for v, n in _files()]
    with pg.connect(empty_db) as conn:
        assert _recorded(conn) == _files()


def test_a_createrole_member_of_rally_owner_can_migrate(pg, migrated_template):
    # The group roles exist on this cluster (the template created them).
    with pg.connect() as su:
        login_role(su, "rally_test_migrator", ["rally_owner"], "CREATEROLE")
        su.execute('CREATE DATABASE "rally_migrator_db" OWNER rally_test_migrator')
    try:
        with pg.connect("rally_migrator_db", user="rally_test_migrator") as conn:
            assert len(apply_migrations(conn, migrations_dir())) == len(_files())
            assert apply_migrations(conn, migrations_dir()) == []
            owners = {r[0] for r in conn.execute(
                "SELECT pg_get_userbyid(relowner) FROM pg_class "
                "WHERE relnamespace = 'rally'::regnamespace")}
            assert owners == {"rally_owner"}
    finally:
        with pg.connect() as su:
            su.execute('DROP DATABASE IF EXISTS "rally_migrator_db" WITH (FORCE)')


def _write(dir, files):
    for name, text in files.items():
        (dir / name).write_text(text)
    return str(dir)


def test_a_failing_file_leaves_earlier_ones_applied_and_nothing_of_itself(pg, empty_db,
                                                                        tmp_path):
    d = _write(tmp_path, {
        "0001_one.sql": "create table public.one (i int);",
        "0002_two.sql": "create table public.two (i int);\nselect 1/0;",
        "0003_three.sql": "create table public.three (i int);",
    })
    with pg.connect(empty_db) as conn:
        with pytest.raises(MigrationError, match="0002_two.sql: division by zero"):
            apply_migrations(conn, d)
        assert _recorded(conn) == [(1, "one")]
        tables = {r[0] for r in conn.execute(
            "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace")}
        assert tables == {"one"}


def test_a_file_that_ends_its_transaction_is_not_recorded(pg, empty_db, tmp_path):
    d = _write(tmp_path, {"0001_sneaky.sql": "create table public.t (i int); commit;"})
    with pg.connect(empty_db) as conn:
        with pytest.raises(MigrationError, match="ends the transaction"):
            apply_migrations(conn, d)
        assert _recorded(conn) == []


def test_renaming_an_applied_migration_is_refused(pg, empty_db, tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = _write(tmp_path / "a", {"0001_one.sql": "select 1;"})
    renamed = _write(tmp_path / "b", {"0001_uno.sql": "select 1;"})
    # Not Rally's schema: there are no functions to apply after them.
    with pg.connect(empty_db) as conn:
        apply_migrations(conn, first, functions=False)
        with pytest.raises(MigrationError, match="must not be renamed"):
            apply_migrations(conn, renamed, functions=False)


@pytest.mark.parametrize("name", ["1_short.sql", "0001_Upper.sql", "0001_x.txt",
                                  "0000_zero.sql"])
def test_a_badly_named_file_stops_the_run_before_anything_applies(tmp_path, name):
    _write(tmp_path, {"0001_ok.sql": "select 1;", name: "select 1;"})
    with pytest.raises(MigrationError, match="not a migration file name"):
        scan(str(tmp_path))


def test_runner_needs_an_autocommit_connection(pg, empty_db):
    with psycopg.connect(pg.conninfo(empty_db)) as conn:
        with pytest.raises(MigrationError, match="autocommit"):
            apply_migrations(conn, migrations_dir())


def test_every_migration_file_is_installed_by_the_build():
    from rallytest import SRCDIR
    text = (SRCDIR / "sql" / "Makemodule.am").read_text()
    listed = sorted(re.findall(r"sql/migrations/([0-9]{4}_[a-z0-9_-]+\.sql)", text))
    assert listed == [f"{v:04d}_{n}.sql" for v, n, _ in scan(str(SRCDIR / "sql" / "migrations"))]


def test_every_functions_file_is_installed_by_the_build():
    from rallytest import SRCDIR
    text = (SRCDIR / "sql" / "Makemodule.am").read_text()
    listed = sorted(re.findall(r"sql/functions/([a-z0-9][a-z0-9-]*\.sql)", text))
    assert listed == [os.path.basename(p) for p in
                      scan_functions(str(SRCDIR / "sql" / "functions"))]
