# SPDX-License-Identifier: ISC
"""Fixtures of the browser tests: the real parts (a scratch PostgreSQL, a
fresh migrated database per test, lighttpd + rally.cgi, the Google
emulator, rallyd where a test needs sync) and one Chromium per test module
with a fresh profile per test."""

import http.server
import os
import pathlib
import threading

import pytest

from rallytest.browser import Chromium
from rallytest.calendar import PASSWORD as ANN_PASSWORD     # the world's Ann, made by rallyctl
from rallytest.pg import Cluster
from rallytest.schema import apply_migrations, login_role, migrations_dir
from rallytest.site import PASSWORD, Site

# RALLY_SCREENSHOTS=docs/images saves a PNG of each page the tests pass
# through (relative to the source tree); unset, none is saved.
SHOTS = os.environ.get("RALLY_SCREENSHOTS")


@pytest.fixture(scope="session")
def pg():
    cluster = Cluster().start()
    yield cluster
    cluster.destroy()


@pytest.fixture(scope="session")
def migrated_template(pg):
    name = pg.create_database()
    with pg.connect(name) as conn:
        apply_migrations(conn, migrations_dir())
    return name


@pytest.fixture(scope="session")
def login_roles(pg, migrated_template):
    with pg.connect() as conn:
        return {"web": login_role(conn, "rally_test_web", ["rally_web"]),
                "daemon": login_role(conn, "rally_test_daemon", ["rally_daemon"])}


@pytest.fixture
def db(pg, migrated_template):
    name = pg.create_database(template=migrated_template)
    yield name
    with pg.connect() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def dbconn(pg, db):
    with pg.connect(db) as conn:
        yield conn


@pytest.fixture(scope="session")
def fakegoogle(tmp_path_factory):
    from rallytest.google import FakeGoogle
    fg = FakeGoogle(tmp_path_factory.mktemp("fakegoogle")).start()
    yield fg
    fg.stop()


@pytest.fixture
def site(tmp_path, pg, db, login_roles):
    """rally.cgi behind lighttpd on the test's database; site.url is its
    address."""
    s = Site(str(tmp_path), pg.conninfo(db, login_roles["web"]))
    s.url = f"http://127.0.0.1:{s.server.port}"
    yield s
    s.close()


@pytest.fixture(scope="module")
def chrome():
    c = Chromium().start()
    yield c
    c.stop()


@pytest.fixture
def ctx(chrome):
    """A fresh browser profile for the test."""
    c = chrome.context()
    yield c
    c.close()


@pytest.fixture
def page(ctx):
    return ctx.page()


class Beacon(http.server.ThreadingHTTPServer):
    """A local HTTP server the XSS payloads call home to: any request that
    reaches it means injected code ran (or a resource it named loaded)."""

    def __init__(self):
        self.hits = []
        beacon = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                beacon.hits.append(self.path)
                self.send_response(204)
                self.end_headers()
            do_POST = do_GET

            def log_message(self, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server_address[1]}"
        threading.Thread(target=self.serve_forever, daemon=True).start()


@pytest.fixture(scope="session")
def beacon():
    b = Beacon()
    yield b
    b.shutdown()


def shoot(page, name):
    """Saves docs/images/NAME.png (or wherever RALLY_SCREENSHOTS says) when
    asked to: 1280x800, the viewport only."""
    if not SHOTS:
        return
    from rallytest import SRCDIR
    out = pathlib.Path(SHOTS)
    if not out.is_absolute():
        out = SRCDIR / out
    out.mkdir(parents=True, exist_ok=True)
    page.screenshot(out / f"{name}.png")


def sign_in_as(ctx, site, client):
    """Hands an HTTP client's session (rallytest.site.Client) to the
    browser profile: faster than signing in with the mouse, for tests
    about what comes after."""
    ctx.add_cookies([{"name": k, "value": v, "url": site.url} for k, v in client.cookies.items()])


def make_world(pg, db, login_roles, fakegoogle, directory, google_email=None):
    """Ann of Acme Ltd (world.World) with rally.cgi (w.site, at w.site.url)
    and a running rallyd sharing google.redirect_uri, rally.cgi's own
    /oauth/callback (registered with the emulator); rally.cgi holds no
    client secret.  The caller closes w and w.site."""
    from world import World
    w = World(pg, db, login_roles, fakegoogle, directory, google_email=google_email)
    (directory / "web").mkdir()
    site = Site(str(directory / "web"), pg.conninfo(db, login_roles["web"]))
    site.url = f"http://127.0.0.1:{site.server.port}"
    redirect = site.url + "/oauth/callback"
    g = w.sections["google"]
    g["redirect_uri"] = redirect
    site.configure(pg.conninfo(db, login_roles["web"]), web={"public_url": site.url},
                   google={"client_id": g["client_id"], "redirect_uri": redirect,
                           "auth_url": g["auth_url"]})
    fakegoogle.admin("POST", "clients", {"client_id": fakegoogle.client_id,
                                         "client_secret": fakegoogle.client_secret,
                                         "redirect_uris": [redirect, fakegoogle.redirect_uri]})
    w.site = site
    w.start("web")
    return w


@pytest.fixture
def world(pg, db, login_roles, fakegoogle, tmp_path):
    w = make_world(pg, db, login_roles, fakegoogle, tmp_path)
    yield w
    w.close()
    w.site.close()


def signed_in(ctx, w):
    """The browser profile signed in as Ann of the world."""
    c = w.site.client()
    c.signin(w.user_email, ANN_PASSWORD)
    sign_in_as(ctx, w.site, c)


__all__ = ["ANN_PASSWORD", "PASSWORD", "shoot", "sign_in_as", "signed_in"]
