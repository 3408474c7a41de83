# SPDX-License-Identifier: ISC
"""Activities in Chromium: one created on the page reaches the user's Google
Calendar on the emulator through rallyd, and shows in the list."""

import time

from conftest import signed_in


def test_an_activity_created_in_the_browser_appears_in_google_calendar(world, ctx, page):
    w = world
    w.connect()
    w.settle()
    signed_in(ctx, w)
    page.goto(w.site.url + "/activities")
    page.click("main a:has-text('New activity')")
    page.wait_url("/activities/new$")
    page.fill("#title", "Contract review with Globex")
    page.call("selectOption", "#kind", "meeting")
    page.fill("#start", "2026-12-15T10:00")
    page.fill("#end", "2026-12-15T11:30")
    page.fill("#location", "Acme Ltd, meeting room 2")
    page.fill("#description", "Bring the signed NDA.")
    page.click("main button:has-text('Create activity')")
    page.wait_url(r"/activities/[0-9a-f-]{36}")
    assert "Contract review with Globex" in page.text("main")

    deadline = time.monotonic() + 45
    while True:
        w.settle()
        found = [e for e in w.g_live().values() if e.get("summary") == "Contract review with Globex"]
        if found:
            break
        assert time.monotonic() < deadline, "the activity never reached Google Calendar"
        time.sleep(0.3)
    event = found[0]
    assert event["location"] == "Acme Ltd, meeting room 2"
    assert event["description"].startswith("Bring the signed NDA.")
    # Ann's time zone is UTC: 10:00 to 11:30 that day.
    start = event["start"].get("dateTime", "")
    assert start.startswith("2026-12-15T10:00:00"), event["start"]
    assert event["end"]["dateTime"].startswith("2026-12-15T11:30:00"), event["end"]
    page.goto(w.site.url + "/activities")
    assert "Contract review with Globex" in page.text("main")
