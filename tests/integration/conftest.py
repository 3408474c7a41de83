# SPDX-License-Identifier: ISC
"""Shared fixtures: one scratch PostgreSQL cluster per session, and a fresh
database per test copied from a template that has every migration."""

import pytest

from rallytest.pg import Cluster
from rallytest.schema import apply_migrations, migrations_dir


@pytest.fixture(scope="session")
def pg():
    cluster = Cluster().start()
    yield cluster
    cluster.destroy()


@pytest.fixture(scope="session")
def migrated_template(pg):
    """Name of a database with all migrations applied (used only as a
    template: nothing may stay connected to it)."""
    name = pg.create_database()
    with pg.connect(name) as conn:
        apply_migrations(conn, migrations_dir())
    return name


@pytest.fixture
def db(pg, migrated_template):
    """Name of a fresh, migrated database, dropped after the test."""
    name = pg.create_database(template=migrated_template)
    yield name
    with pg.connect() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def login_roles(pg, migrated_template):
    """LOGIN roles that are members of rally_web and rally_daemon, as an
    operator creates them (sql/README.md): {"web": name, "daemon": name}."""
    from rallytest.schema import login_role
    with pg.connect() as conn:
        return {
            "web": login_role(conn, "rally_test_web", ["rally_web"]),
            "daemon": login_role(conn, "rally_test_daemon", ["rally_daemon"]),
        }


@pytest.fixture
def daemon_conninfo(pg, db, login_roles):
    """How rallyd connects to the test's database: as a rally_daemon member."""
    return pg.conninfo(db, login_roles["daemon"])


@pytest.fixture
def dbconn(pg, db):
    """A superuser connection (autocommit) to the test's database, for
    arranging and inspecting what the programs under test do."""
    with pg.connect(db) as conn:
        yield conn


@pytest.fixture(scope="session")
def fakegoogle(tmp_path_factory):
    """One Google emulator for the session (rallytest.google.FakeGoogle), its
    OAuth client registered.  Tests call fakegoogle.reset() for an empty
    world, or use account emails of their own."""
    from rallytest.google import FakeGoogle
    fg = FakeGoogle(tmp_path_factory.mktemp("fakegoogle")).start()
    yield fg
    fg.stop()


@pytest.fixture
def web_site(tmp_path, pg, db, login_roles):
    """rally.cgi behind lighttpd on the test's database, as a rally_web
    login (rallytest.site.Site); site.client() is a browser without
    JavaScript."""
    from rallytest.site import Site
    site = Site(str(tmp_path), pg.conninfo(db, login_roles["web"]))
    yield site
    site.close()


@pytest.fixture
def pgbouncer(pg, login_roles):
    """A real pgbouncer in transaction pooling mode in front of the cluster
    (rallytest.pgbouncer.PgBouncer) with a pool of one server connection per
    database and user, so that requests take turns on one backend:
    pgbouncer.conninfo(db, role) instead of pg.conninfo(db, role)."""
    from rallytest.pgbouncer import PgBouncer
    b = PgBouncer(pg, [login_roles["web"], login_roles["daemon"], "postgres"],
                  pool_size=1).start()
    yield b
    b.close()
