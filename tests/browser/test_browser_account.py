# SPDX-License-Identifier: ISC
"""The account page's privacy rights in Chromium: "Download my data" gives a
JSON file of what Rally holds (built by rallyd's export job), and deleting
the account with the password signs the user out everywhere."""

import json
import time

from conftest import ANN_PASSWORD, signed_in


def wait_for_download_link(page, url, timeout=60):
    """The exports page, reloaded (as its notice asks) until one is ready."""
    deadline = time.monotonic() + timeout
    while page.count("main a[download]") == 0:
        assert time.monotonic() < deadline, page.text("main")
        time.sleep(0.3)
        page.goto(url)


def test_download_my_data_gives_a_json_file_of_the_account(world, ctx, page):
    w = world
    w.add_activity(title="Quarterly review with Globex")
    signed_in(ctx, w)
    page.goto(w.site.url + "/account")
    page.click("main button:has-text('Download my data')")
    page.wait_url(r"/account/exports\?done=requested$")
    assert "preparing a copy of your data" in page.text("[role=status]")
    wait_for_download_link(page, w.site.url + "/account/exports")
    got = page.run("return await lib.download(page, () => page.click('main a[download]'))")
    assert got["name"].startswith("rally-export-") and got["name"].endswith(".json")
    data = json.loads(got["text"])
    flat = json.dumps(data)
    assert w.user_email in flat and "Ann Owner" in flat
    assert "Quarterly review with Globex" in flat
    assert ctx.events()["downloads"] == [{"suggested": got["name"]}]


def test_delete_the_account_with_the_password(world, ctx, page):
    w = world
    signed_in(ctx, w)
    page.goto(w.site.url + "/account")
    page.click("main a:has-text('Delete my account')")
    page.wait_url("/account/delete$")
    # The wrong password changes nothing.
    page.fill("#password", "not my password")
    page.click("main button.danger")
    assert page.count("[role=alert]") == 1
    assert w.conn.execute("SELECT status FROM rally.users WHERE id = %s",
                          (w.user,)).fetchone()[0] == "active"
    page.fill("#password", ANN_PASSWORD)
    page.click("main button.danger")
    page.run("await page.waitForLoadState('load')")
    assert "You are signed out" in page.text("main")
    status = w.conn.execute("SELECT status FROM rally.users WHERE id = %s",
                            (w.user,)).fetchone()[0]
    assert status == "deletion_pending"
    assert w.conn.execute("SELECT count(*) FROM rally.sessions").fetchone()[0] == 0
    # Signed out here, and the old session opens nothing.
    page.goto(w.site.url + "/account")
    assert page.url.endswith("/signin")
