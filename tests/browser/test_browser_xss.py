# SPDX-License-Identifier: ISC
"""The XSS corpus (xss.py) wherever a person's or a correspondent's words
reach a page: company and person names, activity titles, mail subjects,
bodies and sender names.  Nothing executes in Chromium, and each payload
is shown as the text it is."""

import time

import pytest

from conftest import sign_in_as
from xss import assert_inert, corpus


def test_names_of_people_and_companies_execute_nothing(site, ctx, page, dbconn, beacon):
    client = site.client()
    client.signup(company="Acme Ltd", name="Ann Owner", email="ann@acme.example")
    sign_in_as(ctx, site, client)
    for payload in corpus(beacon):
        # As if the owner had entered them: up to 200 characters each.
        dbconn.execute("UPDATE rally.tenants SET name = %s", (payload[:200],))
        dbconn.execute("UPDATE rally.users SET name = %s", (payload[:200],))
        assert page.goto(site.url + "/") == 200
        assert_inert(page, ctx, beacon)
        header = page.text("header")
        assert payload[:200] in header, (payload, header)


def test_the_check_catches_a_page_that_does_not_escape(ctx, page, beacon):
    """The harness itself: a page that pastes the corpus raw fails the
    check, with Rally's CSP (a CSP violation, injected elements) and
    without (dialogs, beacon hits)."""
    for csp in ("default-src 'none'; style-src 'self'; img-src 'self' data:", None):
        for payload in corpus(beacon)[:3]:
            headers = {"content-type": "text/html"}
            if csp:
                headers["content-security-policy"] = csp
            page.run("await page.unroute('http://raw.test/');"
                     "await page.route('http://raw.test/', r => r.fulfill({status: 200,"
                     " headers: args.h, body: '<!DOCTYPE html><title>t</title>' + args.p}))",
                     h=headers, p=payload)
            page.goto("http://raw.test/")
            with pytest.raises(AssertionError):
                assert_inert(page, ctx, beacon)
            ctx.events(clear=True)
            beacon.hits.clear()
    # A late fetch from the last page must not count against another test.
    page.goto("about:blank")
    time.sleep(0.3)
    beacon.hits.clear()

