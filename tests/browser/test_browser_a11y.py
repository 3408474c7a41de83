# SPDX-License-Identifier: ISC
"""axe-core in Chromium on every page a person can reach, signed out and
signed in, with Acme Ltd's week on them (world.seed_acme: teammates, mail,
calendar events and activities synced through rallyd): no serious or
critical violation.  Each page is also saved as a screenshot when
RALLY_SCREENSHOTS asks (tests/browser/README.md)."""

import re

import pytest

from conftest import make_world, shoot, signed_in
from world import seed_acme

RESET_TOKEN = "r" * 43
INVITE_TOKEN = "i" * 43       # seed_acme's invitation

SIGNED_OUT = [
    ("signin", "/signin"),
    ("signup", "/signup"),
    ("reset", "/reset"),
    ("reset-link", f"/reset/{RESET_TOKEN}"),
    ("invite", f"/invite/{INVITE_TOKEN}"),
    ("privacy-signed-out", "/privacy"),
    ("signin-failed", None),        # the form again, with its alert
]

# {thread}, {activity}, {connection}, …: ids of Acme's seeded rows.
SIGNED_IN = [
    ("dashboard", "/"),
    ("activities", "/activities"),
    ("activity-new", "/activities/new"),
    ("activity", "/activities/{activity}"),
    ("activity-edit", "/activities/{activity}/edit"),
    ("activity-delete", "/activities/{activity}/delete"),
    ("inbox", "/inbox"),
    ("thread", "/inbox/{thread}"),
    ("thread-html", "/inbox/{html_thread}"),
    ("compose", "/inbox/compose"),
    ("outbox", "/inbox/outbox"),
    ("integrations", "/integrations"),
    ("disconnect", "/integrations/disconnect?connection={connection}&what=all"),
    ("account", "/account"),
    ("exports", "/account/exports"),
    # Ann is the only owner of a team: the page says what to do first.
    ("account-delete", "/account/delete"),
    ("team", "/team"),
    ("team-remove", "/team/remove?user={teammate}"),
    ("privacy", "/privacy"),
]


@pytest.fixture(scope="module")
def acme(pg, migrated_template, login_roles, fakegoogle, tmp_path_factory):
    """One seeded Acme Ltd for the whole module: the scans only look."""
    db = pg.create_database(template=migrated_template)
    w = make_world(pg, db, login_roles, fakegoogle, tmp_path_factory.mktemp("acme"),
                   google_email="ann.owner@gmail.test")
    seed_acme(w)
    w.conn.execute("INSERT INTO rally.password_resets (tenant_id, token_hash, user_id,"
                   " expires_at) VALUES (%s, rally.link_token_hash(%s), %s,"
                   " now() + interval '1 hour')", (w.tenant, RESET_TOKEN, w.user))
    q = w.conn.execute
    w.ids = {
        "activity": q("SELECT id FROM rally.activities WHERE title = 'Quarterly review with"
                      " Initech'").fetchone()[0],
        "thread": q("SELECT id FROM rally.mail_threads WHERE subject = 'Renewal of the Acme"
                    " contract'").fetchone()[0],
        "html_thread": q("SELECT id FROM rally.mail_threads WHERE subject = 'New price list'"
                         ).fetchone()[0],
        "connection": w.connection,
        "teammate": q("SELECT id FROM rally.users WHERE email = 'bob@acme.test'").fetchone()[0],
    }
    yield w
    w.close()
    w.site.close()
    with pg.connect() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


@pytest.fixture(scope="module")
def ann(chrome, acme):
    """A browser profile signed in as Ann for the module."""
    ctx = chrome.context()
    signed_in(ctx, acme)
    yield ctx
    ctx.close()


def serious(violations):
    return [v for v in violations if v["impact"] in ("serious", "critical")]


def explain(violations):
    return "\n".join(f"{v['id']} ({v['impact']}): {v['help']}\n  " +
                     "\n  ".join(f"{n['target']} {n['html']}" for n in v["nodes"][:5])
                     for v in violations)


def scan(page, name):
    found = serious(page.axe())
    assert not found, f"{name}:\n{explain(found)}"
    # A language, a title and one h1 (axe calls some of these moderate; a
    # screen reader user notices all of them).
    assert page.evaluate("document.documentElement.lang") == "en"
    assert page.title().endswith("· Rally")
    assert page.count("h1") == 1


@pytest.mark.parametrize("name, path", SIGNED_OUT, ids=[n for n, _ in SIGNED_OUT])
def test_signed_out_page_has_no_serious_accessibility_violation(acme, ctx, page, name, path):
    url = acme.site.url
    if path is None:
        page.goto(url + "/signin")
        page.fill("#email", "nobody@acme.example")
        page.fill("#password", "wrong password")
        page.click("main button[type=submit]")
        page.wait_url("/signin$")
        assert page.count("[role=alert]") == 1
    else:
        assert page.goto(url + path) == 200
    scan(page, name)
    shoot(page, name)


@pytest.mark.parametrize("name, path", SIGNED_IN, ids=[n for n, _ in SIGNED_IN])
def test_signed_in_page_has_no_serious_accessibility_violation(acme, ann, name, path):
    page = ann.page()
    try:
        status = page.goto(acme.site.url + path.format(**acme.ids))
        assert status == 200, (path, page.text("main"))
        assert "Ann Owner" in page.text("header")
        scan(page, name)
        shoot(page, name)
    finally:
        page.close()


def test_the_mail_frame_is_titled_and_scanned_alone(acme, ann):
    """The HTML body's frame has a title naming the sender; its document,
    the correspondent's markup, is not Rally's to fix and is not scanned."""
    page = ann.page()
    try:
        page.goto(acme.site.url + f"/inbox/{acme.ids['html_thread']}")
        title = page.attr("iframe.mail", "title")
        assert re.search("Carol Chen", title), title
    finally:
        page.close()
