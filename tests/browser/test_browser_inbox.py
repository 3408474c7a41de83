# SPDX-License-Identifier: ISC
"""The inbox in Chromium with rallyd and the Google emulator: mail delivered
to Gmail appears in the inbox and reads as sent (text escaped, HTML only in
the sandboxed frame); a reply and a new message written in the browser
land in Gmail's Sent; compose with the keyboard alone."""

import time

from conftest import signed_in

HTML_BODY = ("<html><body><h1 style='color:#0a5'>Acme Ltd renewal</h1>"
             "<p>The <b>new price list</b> is attached.</p></body></html>")


def wait_sent(w, predicate, timeout=30):
    """The Sent message of Ann's Gmail that predicate accepts, once rallyd
    has sent it."""
    deadline = time.monotonic() + timeout
    while True:
        w.settle()
        found = [m for m in w.g_sent() if predicate(m)]
        if found:
            return found[0]
        assert time.monotonic() < deadline, "nothing of that in Gmail's Sent"
        time.sleep(0.3)


def open_thread(page, w, subject):
    page.goto(w.site.url + "/inbox")
    page.click(f"main a:has-text('{subject}')")
    page.wait_url(r"/inbox/[0-9a-f-]{36}$")
    assert page.text("h1") == subject


def test_mail_from_gmail_appears_in_the_inbox_and_is_readable(world, ctx, page):
    w = world
    w.deliver("Renewal of the Acme contract", sender="Bob Buyer <bob@globex.example>",
              text="Hello Ann,\n\nCould we talk about the renewal next week?\n\nBob\n")
    w.deliver("New price list", sender="Carol Chen <carol@initech.example>",
              text="The new price list, in case the HTML does not show.", html=HTML_BODY)
    w.connect()
    w.settle()
    signed_in(ctx, w)
    page.goto(w.site.url + "/inbox")
    listing = page.text("main")
    assert "Renewal of the Acme contract" in listing and "Bob Buyer" in listing
    assert "New price list" in listing and "Carol Chen" in listing
    open_thread(page, w, "Renewal of the Acme contract")
    assert "Could we talk about the renewal next week?" in page.text("pre.mail")

    # HTML mail: only in the sandboxed frame, served with a sandbox CSP.
    open_thread(page, w, "New price list")
    frame = page.run("""
        const f = page.locator('iframe.mail');
        return {count: await f.count(), sandbox: await f.getAttribute('sandbox'),
                src: await f.getAttribute('src'), title: await f.getAttribute('title')};""")
    assert frame["count"] == 1 and frame["sandbox"] == "", frame
    assert "Carol Chen" in frame["title"]
    inner = page.run("return await page.frameLocator('iframe.mail').locator('body')"
                     ".innerText()")
    assert "new price list" in inner and "Acme Ltd renewal" in inner
    r = page.run("const r = await page.request.get(args.u);"
                 "return {status: r.status(), csp: r.headers()['content-security-policy']}",
                 u=w.site.url + frame["src"])
    assert r["status"] == 200 and r["csp"].startswith("sandbox"), r
    # The page itself holds no HTML of the mail.
    assert page.count("main h1") == 1 and page.count("main b") == 0


def test_reply_from_the_browser_lands_in_gmail_sent(world, ctx, page):
    w = world
    first = w.deliver("Renewal of the Acme contract", sender="Bob Buyer <bob@globex.example>")
    w.connect()
    w.settle()
    signed_in(ctx, w)
    open_thread(page, w, "Renewal of the Acme contract")
    page.fill("#reply-body", "Hi Bob,\n\nTuesday at 10:00 works for me.\n\nAnn")
    page.click("main button:has-text('Send reply')")
    page.wait_url(r"\?done=replied$")
    sent = wait_sent(w, lambda m: "Tuesday at 10:00 works for me." in m["text"])
    assert sent["threadId"] == first["threadId"]
    assert sent["subject"] == "Re: Renewal of the Acme contract"
    assert "bob@globex.example" in sent["to"] and sent["in_reply_to"]


def test_keyboard_only_compose(world, ctx, page):
    """From the inbox to Gmail's Sent with Tab, Shift+Tab, typing and Enter."""
    from test_browser_auth import tab_to
    w = world
    w.connect()
    w.settle()
    signed_in(ctx, w)
    page.goto(w.site.url + "/inbox")
    tab_to(page, lambda f: f["tag"] == "a" and f["href"] == "/inbox/compose", limit=60)
    page.press("Enter")
    page.wait_url("/inbox/compose$")
    tab_to(page, lambda f: f["id"] == "to", limit=30)
    page.type("Bob Buyer <bob@globex.example>")
    page.press("Tab")
    assert page.focused()["id"] == "cc"
    page.press("Tab")
    assert page.focused()["id"] == "subject"
    page.type("Meeting notes")
    page.press("Tab")
    assert page.focused()["id"] == "body"
    page.type("Thanks for today. Notes follow.")
    # Back up to add to the subject (a field reached by Tab has its text
    # selected: End first), then forward again.
    page.press("Shift+Tab")
    assert page.focused()["id"] == "subject"
    page.press("End")
    page.type(" from Tuesday")
    page.press("Tab")
    f = tab_to(page, lambda f: f["tag"] == "button" and f["text"] == "Send")[-1]
    assert f["focusVisible"]
    page.press("Enter")
    page.wait_url(r"/inbox/outbox\?done=queued$")
    sent = wait_sent(w, lambda m: m["subject"] == "Meeting notes from Tuesday")
    assert "Thanks for today. Notes follow." in sent["text"]
    assert "bob@globex.example" in sent["to"]
