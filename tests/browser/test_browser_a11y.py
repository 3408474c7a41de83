# SPDX-License-Identifier: ISC
"""axe-core in Chromium on every page a person can reach, signed out and
signed in, with realistic data on it: no serious or critical violation.
Each page is also saved as a screenshot when RALLY_SCREENSHOTS asks."""

import pytest

from conftest import shoot, sign_in_as

SIGNED_OUT = [
    ("signin", "/signin"),
    ("signup", "/signup"),
    ("signin-failed", None),        # the form again, with its alert
]

SIGNED_IN = [
    ("dashboard", "/"),
]


def serious(violations):
    return [v for v in violations if v["impact"] in ("serious", "critical")]


def explain(violations):
    return "\n".join(f"{v['id']} ({v['impact']}): {v['help']}\n  " +
                     "\n  ".join(f"{n['target']} {n['html']}" for n in v["nodes"][:5])
                     for v in violations)


def scan(page, name):
    found = serious(page.axe())
    assert not found, f"{name}:\n{explain(found)}"
    # The page has a language, a title and one h1 (axe says "moderate"
    # for some of these; a screen reader user notices all of them).
    assert page.evaluate("document.documentElement.lang") == "en"
    assert page.title().endswith("· Rally")
    assert page.count("h1") == 1


@pytest.mark.parametrize("name, path", SIGNED_OUT, ids=[n for n, _ in SIGNED_OUT])
def test_signed_out_page_has_no_serious_accessibility_violation(site, page, name, path):
    if path is None:
        page.goto(site.url + "/signin")
        page.fill("#email", "nobody@acme.example")
        page.fill("#password", "wrong password")
        page.click("main button[type=submit]")
        page.wait_url("/signin$")
        assert page.count("[role=alert]") == 1
    else:
        assert page.goto(site.url + path) == 200
    scan(page, name)
    shoot(page, name)


@pytest.mark.parametrize("name, path", SIGNED_IN, ids=[n for n, _ in SIGNED_IN])
def test_signed_in_page_has_no_serious_accessibility_violation(site, ctx, page, name, path):
    client = site.client()
    client.signup(company="Acme Ltd", name="Ann Owner", email="ann@acme.example")
    sign_in_as(ctx, site, client)
    assert page.goto(site.url + path) == 200
    assert "Ann Owner" in page.text("header")
    scan(page, name)
    shoot(page, name)
