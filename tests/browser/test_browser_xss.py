# SPDX-License-Identifier: ISC
"""The XSS corpus (xss.py) wherever a person's or a correspondent's words
reach a page: company and person names, activity titles, mail subjects,
bodies and sender names.  Nothing executes in Chromium, and each payload
is shown as the text it is."""

import re
import time

import pytest

from conftest import sign_in_as, signed_in
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


def test_mail_and_activities_from_outside_execute_nothing(world, ctx, page, beacon):
    """Each payload as a mail's subject, sender name, text body and HTML
    body (delivered to Gmail, synced by rallyd), as the title of an event
    made in Google Calendar and of an activity, with its location and
    description; every page that shows them."""
    w = world
    payloads = corpus(beacon)
    for i, p in enumerate(payloads):
        w.deliver(f"[{i}] {p}", sender=(p[:80], f"x{i}@evil.example"), text=f"text {i}: {p}",
                  html=f"<p>HTML-ONLY-{i}</p>{p}")
        w.g_create({"summary": f"[g{i}] {p}", "location": p, "description": p,
                    "start": {"dateTime": f"2026-12-{10 + i // 4:02d}T{9 + i % 4:02d}:00:00Z"},
                    "end": {"dateTime": f"2026-12-{10 + i // 4:02d}T{9 + i % 4:02d}:30:00Z"}})
        w.add_activity(title=f"[a{i}] {p}", location=p[:1000], description=p,
                       start_at=f"2026-12-{20 + i // 4:02d}T{9 + i % 4:02d}:00:00Z",
                       end_at=f"2026-12-{20 + i // 4:02d}T{9 + i % 4:02d}:30:00Z")
    w.connect()
    w.settle()
    assert w.conn.execute("SELECT count(*) FROM rally.mail_threads").fetchone()[0] == len(payloads)
    signed_in(ctx, w)
    url = w.site.url

    for path in ("/", "/inbox", "/activities", "/integrations"):
        assert page.goto(url + path) == 200
        assert_inert(page, ctx, beacon)
    assert f"[0] {payloads[0]}" in page.run("await page.goto(args.u); "
                                            "return await page.locator('main').innerText()",
                                            u=url + "/inbox")

    threads = w.conn.execute("SELECT id, subject FROM rally.mail_threads").fetchall()
    for tid, subject in threads:
        i = int(re.match(r"\[(\d+)\]", subject).group(1))
        assert page.goto(f"{url}/inbox/{tid}") == 200
        assert_inert(page, ctx, beacon)
        main = page.text("main")
        text = page.run("return await page.locator('pre.mail').first().textContent()")
        assert text.strip() == f"text {i}: {payloads[i]}", text
        # The sender's name, shown as the text it is.
        assert payloads[i][:80] in main, main
        # The HTML body is only in the sandboxed frame, never in the page.
        assert f"HTML-ONLY-{i}" not in page.text("body")
        src = page.attr("iframe.mail", "src")
        inner = page.run("return await page.frameLocator('iframe.mail').locator('body')"
                         ".innerText()")
        assert f"HTML-ONLY-{i}" in inner
        # The frame's document opened by itself runs nothing either.
        assert page.goto(url + src) == 200
        assert_inert(page, ctx, beacon, mail_body=True)

    acts = w.conn.execute("SELECT id, title, origin FROM rally.activities").fetchall()
    assert len(acts) == 2 * len(payloads)
    for aid, title, origin in acts:
        # The edit form (attribute values) for those made in Rally.
        for suffix in ("", "/edit") if origin == "crm" else ("",):
            assert page.goto(f"{url}/activities/{aid}{suffix}") == 200
            assert_inert(page, ctx, beacon)
        if origin == "crm":
            assert page.call("inputValue", "#title") == title
