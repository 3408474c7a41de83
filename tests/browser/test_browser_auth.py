# SPDX-License-Identifier: ISC
"""Sign-up, sign-in and sign-out in Chromium, as a person does them: with
the mouse, and with the keyboard alone (Tab, Shift+Tab and Enter, the focus
always visible)."""

from conftest import PASSWORD

EMAIL = "ann@acme.example"


def assert_quiet(ctx):
    """Nothing went wrong in the page: no script error, no CSP violation
    (no page has any script to block), no dialog."""
    ev = ctx.events()
    assert ev["pageErrors"] == [] and ev["csp"] == [] and ev["dialogs"] == [], ev
    # A 4xx answer is logged as "Failed to load resource": the wrong
    # password's 403 is one.
    errors = [c for c in ev["console"] if c["type"] == "error"
              and not c["text"].startswith("Failed to load resource")]
    assert errors == [], errors


def test_sign_up_sign_out_and_sign_in_with_the_mouse(site, ctx, page, dbconn):
    page.goto(site.url + "/")
    page.wait_url("/signin$")                   # signed out: the sign-in page
    page.click("text=Create a workspace")
    page.wait_url("/signup$")
    page.click("#company")
    page.type("Acme Ltd")
    page.call("selectOption", "#size", "11-50")
    page.click("#name")
    page.type("Ann Owner")
    page.click("#email")
    page.type(EMAIL)
    page.click("#password")
    page.type(PASSWORD)
    page.click("button[type=submit]")
    page.wait_url(r"/\?done=welcome$")
    assert "Your workspace is ready." in page.text("main")
    assert "Acme Ltd" in page.text("header")
    assert dbconn.execute("SELECT name FROM rally.tenants").fetchall() == [("Acme Ltd",)]

    page.click("header button:has-text('Sign out')")
    page.wait_url(r"/signin\?done=signedout$")
    assert "You are signed out." in page.text("main")
    assert page.goto(site.url + "/") == 200 and page.url.endswith("/signin")

    page.click("#email")
    page.type(EMAIL)
    page.click("#password")
    page.type("not the password")
    page.click("main button[type=submit]")
    assert "do not match an account" in page.text("[role=alert]")
    page.fill("#password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_url(r"/$")
    assert "Ann Owner" in page.text("header") and "Dashboard" in page.text("h1")
    assert_quiet(ctx)


def tab_to(page, want, keys="Tab", limit=40):
    """Presses keys until want(focused element) holds; every element on the
    way must show where focus is.  Returns the path taken."""
    path = []
    for _ in range(limit):
        page.press(keys)
        f = page.focused()
        assert f is not None, f"focus left the page after {path}"
        assert f["focusVisible"] and f["indicator"], f"no visible focus on {f}"
        path.append(f)
        if want(f):
            return path
    raise AssertionError(f"never reached the element; focus went {path}")


def test_keyboard_only_sign_in(site, ctx, page):
    site.client().signup(email=EMAIL)
    page.goto(site.url + "/signin")
    # The email field has focus first (autofocus); type, Tab on.
    f = page.focused()
    assert f and f["id"] == "email", f
    page.type(EMAIL)
    page.press("Tab")
    assert page.focused()["id"] == "password"
    page.type("wrong password, first")
    page.press("Enter")
    page.wait_url("/signin$")
    assert "do not match" in page.text("[role=alert]")
    # After a failure the password field is focused again, the email kept.
    f = page.focused()
    assert f["id"] == "password", f
    assert page.call("inputValue", "#email") == EMAIL
    # Shift+Tab back to the email, then forward to the button: every stop
    # shows its focus ring.
    page.press("Shift+Tab")
    assert page.focused()["id"] == "email"
    page.press("Tab")
    page.type(PASSWORD)
    tab_to(page, lambda f: f["tag"] == "button" and f["text"] == "Sign in")
    page.press("Enter")
    page.wait_url(r"/$")
    assert "Dashboard" in page.text("h1")


def test_skip_link_is_the_first_tab_stop_and_moves_focus_to_main(site, ctx, page):
    page.goto(site.url + "/signup")            # no field takes focus first
    page.press("Tab")
    f = page.focused()
    assert f["tag"] == "a" and f["text"] == "Skip to content", f
    assert f["focusVisible"] and f["indicator"]
    page.press("Enter")
    assert page.url.endswith("#main")
    # The next Tab lands inside main, not back in the header.
    page.press("Tab")
    assert page.evaluate("document.activeElement.closest('main') !== null")
