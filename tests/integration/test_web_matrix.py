# SPDX-License-Identifier: ISC
"""Every route of rally.cgi, read from the route tables in cgi/*.c, tried
against the rules that hold for all of them: signed out, a page that needs
a session sends a GET to /signin and refuses a POST; a POST without the
CSRF token or with a wrong one is 403 and changes nothing; and every id a
route takes, in its path or its form, given another tenant's id, is 404
and changes nothing.  A route added without being covered here fails
test_every_route_is_in_the_matrix, so the matrix grows with the front end.
The page groups' own tests go deeper (docs/web.md)."""

import os
import re
import uuid
from pathlib import Path

import pytest

from rallytest import SRCDIR
from rallytest.schema import insert

ROUTE = re.compile(r"const struct route (\w+) = \{(.*?)\};", re.S)
OTHER_PASSWORD_HASH = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"


def routes():
    out = []
    for path in sorted((Path(SRCDIR) / "cgi").glob("*.c")):
        for name, body in ROUTE.findall(path.read_text()):
            method = re.search(r'\.method = "(\w+)"', body).group(1)
            p = re.search(r'\.path = "([^"]*)"', body).group(1)
            flags = re.search(r"\.flags = ([A-Z_ |]+)", body)
            out.append({"name": name, "method": method, "path": p,
                        "segment": ".segment = true" in body,
                        "flags": flags.group(1).strip() if flags else ""})
    assert len(out) > 40, "the route tables were not found"
    return out


ROUTES = routes()
PAGES = [r for r in ROUTES if "ROUTE_PAGE" in r["flags"] or "ROUTE_SIGNED_IN" in r["flags"]]
SIGNED_IN = [r for r in ROUTES if "ROUTE_SIGNED_IN" in r["flags"]]
SECRET_PATHS = [r for r in ROUTES if "ROUTE_SECRET_PATH" in r["flags"]]

# Routes whose path or form takes an id of a tenant's row, and which row:
# the key names an attribute of World, filled with the other tenant's id.
PATH_IDS = {
    "/activities/*": "activity", "/activities/*/edit": "activity",
    "/activities/*/delete": "activity", "/activities/*/share": "activity",
    "/activities/*/private": "activity", "/activities/*/reviewed": "activity",
    "/inbox/": "thread", "/inbox/*/reply": "thread", "/inbox/*/act": "thread",
    "/inbox/message/*/html": "message",
    "/inbox/outbox/*/cancel": "outbox", "/inbox/outbox/*/retry": "outbox",
    "/integrations/connecting/": "pending", "/account/exports/": "export",
}
FORM_IDS = {
    ("GET", "/integrations/disconnect"): ("query", "connection", "connection"),
    ("POST", "/integrations/disconnect"): ("form", "connection", "connection"),
    ("POST", "/integrations/sync"): ("form", "connection", "connection"),
    ("POST", "/integrations/connect"): ("form", "connection", "connection"),
    ("POST", "/team/revoke"): ("form", "invitation", "invitation"),
    ("POST", "/team/role"): ("form", "user", "user"),
    ("GET", "/team/remove"): ("query", "user", "user"),
    ("POST", "/team/remove"): ("form", "user", "user"),
}
# Routes that take no tenant row's id: tokens (reset, invite) and the
# Gmail hook's secret, checked by their own tests; everything else fixed.
NO_IDS = {"/reset/", "/invite/", "/hooks/google/gmail/"}
# What the forms of the id routes need besides the id, so that only the id
# can make them fail.
FORM_EXTRA = {
    "/activities/*": {"title": "Hijack", "kind": "meeting", "timing": "timed",
                      "start": "2026-12-10T10:00", "end": "2026-12-10T11:00",
                      "visibility": "private"},
    "/inbox/*/reply": {"body": "hijack"}, "/inbox/*/act": {"op": "star"},
    "/integrations/disconnect": {"what": "all"}, "/integrations/sync": {"resource": "calendar"},
    "/integrations/connect": {"calendar": "1"}, "/team/role": {"role": "member"},
}


class World:
    """Ann owns Acme and is signed in; Globex (Cy) has a row of every kind
    a route can name."""

    def __init__(self, site, conn):
        self.site, self.conn = site, conn
        self.ann = site.client()
        self.ann.signup()
        self.ann.get("/")
        t = insert(conn, "tenants", "tenant_id", name="Globex")
        u = insert(conn, "users", "id", tenant_id=t, email="cy@globex.example", name="Cy",
                   role="owner", password_hash=OTHER_PASSWORD_HASH)
        v = insert(conn, "users", "id", tenant_id=t, email="dee@globex.example", name="Dee",
                   role="member", password_hash=OTHER_PASSWORD_HASH)
        c = insert(conn, "google_connections", "id", tenant_id=t, user_id=u,
                   google_email="cy@gmail.test", google_subject="sub-cy",
                   calendar_enabled=True, mail_enabled=True,
                   refresh_token=os.urandom(40), access_token=os.urandom(40))
        self.tenant, self.user, self.connection = str(t), str(v), str(c)
        self.activity = str(insert(conn, "activities", "id", tenant_id=t, owner_id=u,
                                   title="Globex secret", kind="meeting",
                                   visibility="shared"))
        th = insert(conn, "mail_threads", "id", tenant_id=t, user_id=u, connection_id=c,
                    gmail_thread_id="gt-cy", visibility="shared")
        self.thread = str(th)
        self.message = str(insert(conn, "mail_messages", "id", tenant_id=t, thread_id=th,
                                  user_id=u, connection_id=c, gmail_id="gm-cy",
                                  subject="Globex secret", body_html="<p>secret</p>",
                                  label_ids=["INBOX"]))
        self.outbox = str(insert(conn, "mail_outbox", "id", tenant_id=t, user_id=u,
                                 connection_id=c, message_id="<cy-1@rally.example>",
                                 from_addr="cy@gmail.test", to_addrs=["x@example.com"],
                                 subject="Hi", body_text="Hello", state="failed",
                                 last_error="refused"))
        self.export = str(insert(conn, "exports", "id", tenant_id=t, user_id=u))
        self.pending = str(insert(conn, "oauth_pending", "id", tenant_id=t, user_id=u,
                                  state_hash=os.urandom(32), pkce_verifier="v" * 64,
                                  redirect_uri="https://crm.example/oauth/callback",
                                  want_calendar=True))
        self.invitation = str(insert(conn, "invitations", "id", tenant_id=t,
                                     email="new@globex.example", role="member",
                                     token_hash=os.urandom(32),
                                     expires_at="2027-01-01T00:00:00Z"))

    def fingerprint(self):
        """Everything about Globex a hijack could change."""
        return self.conn.execute(
            "SELECT (SELECT array_agg(row(a.*)::text ORDER BY id) FROM rally.activities a"
            "         WHERE tenant_id = %(t)s),"
            " (SELECT array_agg(row(m.*)::text ORDER BY id) FROM rally.mail_threads m"
            "         WHERE tenant_id = %(t)s),"
            " (SELECT array_agg(row(o.*)::text ORDER BY id) FROM rally.mail_outbox o"
            "         WHERE tenant_id = %(t)s),"
            " (SELECT array_agg(row(g.*)::text ORDER BY id) FROM rally.google_connections g"
            "         WHERE tenant_id = %(t)s),"
            " (SELECT array_agg(row(u.id, u.role, u.status)::text ORDER BY id)"
            "         FROM rally.users u WHERE tenant_id = %(t)s),"
            " (SELECT count(*) FROM rally.invitations WHERE tenant_id = %(t)s),"
            " (SELECT count(*) FROM rally.mail_label_ops WHERE tenant_id = %(t)s),"
            " (SELECT count(*) FROM rally.jobs WHERE tenant_id = %(t)s),"
            " (SELECT count(*) FROM rally.deletion_ledger WHERE tenant_id = %(t)s)",
            {"t": self.tenant}).fetchone()


@pytest.fixture
def world(web_site, dbconn):
    return World(web_site, dbconn)


def concrete(path, segment, value):
    if segment:
        return path + value
    return path.replace("*", value)


def test_every_route_is_in_the_matrix():
    """A route that takes an id must be listed above, so that the
    cross-tenant test tries it."""
    for r in ROUTES:
        takes_segment = r["segment"] or "*" in r["path"]
        if takes_segment:
            assert r["path"] in PATH_IDS or r["path"] in NO_IDS, \
                f"{r['name']} ({r['method']} {r['path']}) is not in the matrix"


@pytest.mark.parametrize("route", SIGNED_IN, ids=lambda r: f"{r['method']} {r['path']}")
def test_signed_out_is_sent_to_signin_or_refused(web_site, route):
    c = web_site.client()
    path = concrete(route["path"], route["segment"], str(uuid.uuid4()))
    if route["method"] == "GET":
        r = c.get(path)
        assert r.status == 303 and r.header("location") == "/signin", r
    else:
        c.get("/signin")
        r = c.post(path, {})
        assert r.status == 403, r


def test_every_post_needs_the_csrf_token(world):
    before = world.fingerprint()
    mine = world.conn.execute("SELECT count(*) FROM rally.sessions").fetchone()[0]
    for r in PAGES:
        if r["method"] != "POST":
            continue
        path = concrete(r["path"], r["segment"], str(uuid.uuid4()))
        for token in (False, "x" * 43, world.ann.csrf[:-2] + "AA"):
            resp = world.ann.post(path, {"connection": world.connection}, csrf=token)
            assert resp.status == 403, (r["path"], token, resp)
            assert "did not come from Rally" in resp.text
    assert world.fingerprint() == before
    assert world.conn.execute("SELECT count(*) FROM rally.sessions").fetchone()[0] == mine


@pytest.mark.parametrize("route", SECRET_PATHS, ids=lambda r: f"{r['method']} {r['path']}")
def test_a_secret_in_the_path_is_kept_by_no_answer(web_site, route):
    """Whatever answers a path with a token in it, an error before the
    handler (a form without its CSRF token, an unknown token) included, is
    sent no-store and no-referrer: its next request's Referer, which web
    servers log, must not carry the token."""
    c = web_site.client()
    c.get("/signin")
    path = concrete(route["path"], route["segment"], "T" * 43)
    r = c.get(path) if route["method"] == "GET" else c.post(path, {}, csrf=False)
    assert r.status in (403, 404), r
    assert r.header("cache-control") == "no-store", r
    assert r.header("referrer-policy") == "no-referrer", r


def test_another_tenants_ids_are_404_on_every_route(world):
    before = world.fingerprint()
    tried = 0
    for r in PAGES:
        kind = PATH_IDS.get(r["path"])
        form = FORM_IDS.get((r["method"], r["path"]))
        if kind is None and form is None:
            continue
        path = concrete(r["path"], r["segment"], getattr(world, kind)) if kind else r["path"]
        fields = dict(FORM_EXTRA.get(r["path"], {}))
        if form is not None:
            where, field, attr = form
            if where == "query":
                path += f"?{field}={getattr(world, attr)}"
            else:
                fields[field] = getattr(world, attr)
        if r["method"] == "GET":
            resp = world.ann.get(path)
        else:
            world.ann.get("/")
            resp = world.ann.post(path, fields)
        assert resp.status == 404, (r["method"], path, resp)
        assert "Globex secret" not in resp.text and "cy@gmail.test" not in resp.text
        tried += 1
    assert tried >= len(PATH_IDS) + len(FORM_IDS) - 2
    assert world.fingerprint() == before


def test_malformed_ids_are_404_on_every_route(world):
    for r in PAGES:
        if not (r["segment"] or "*" in r["path"]) or r["path"] in NO_IDS:
            continue
        for bad in ("not-a-uuid", "00000000-0000-0000-0000-00000000000g", "%27%22%3E"):
            path = concrete(r["path"], r["segment"], bad)
            if r["method"] == "GET":
                resp = world.ann.get(path)
            else:
                world.ann.get("/")
                resp = world.ann.post(path, FORM_EXTRA.get(r["path"], {}))
            assert resp.status == 404, (r["method"], path, resp)
