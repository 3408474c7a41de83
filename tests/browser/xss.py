# SPDX-License-Identifier: ISC
"""An XSS corpus and the check that a page rendered it inert, in Chromium.

Every payload calls home: an alert() with MARK (a dialog event), a
console.error with MARK, a fetch of the beacon (a local HTTP server that
counts hits), or a resource load from the beacon.  A page shows them
inertly when none of that happens, no CSP violation is reported in the
page (escaped text is never even parsed as markup, so the CSP has nothing
to block), and the document holds no element or attribute the payloads
tried to inject."""

MARK = "rally-xss"


def corpus(beacon):
    b = beacon.url
    return [
        f"<script>alert('{MARK}');fetch('{b}/script')</script>",
        f"<img src=x onerror=\"alert('{MARK}');fetch('{b}/onerror')\">",
        f"<svg onload=\"alert('{MARK}')\"><svg/onload=fetch('{b}/svg')>",
        f"<a href=\"javascript:alert('{MARK}')\">click me</a>",
        f"<iframe srcdoc=\"<script>parent.alert('{MARK}')</script>\"></iframe>",
        f"\"><img src=x onerror=alert('{MARK}')>",
        f"'><svg onload=console.error('{MARK}')>",
        f"\" autofocus onfocus=\"alert('{MARK}')\" x=\"",
        f"</title></textarea><script>alert('{MARK}')</script>",
        f"<body onload=alert('{MARK}')>",
        f"<img src=\"{b}/img-load\" alt=\"\">",
        f"<meta http-equiv=\"refresh\" content=\"0;url={b}/meta\">",
        f"<style>@import '{b}/css';</style>",
        f"<math><mtext><table><mglyph><style><img src=x onerror=alert('{MARK}')>",
        f"<details open ontoggle=alert('{MARK}')>",
        f"{{{{constructor.constructor('alert(\"{MARK}\")')()}}}}",
    ]


# What injected markup would leave in the document.  A sandboxed frame
# without allow-scripts is Rally's own (the HTML mail body); any other frame
# is not.
INJECTED = """(() => {
  const bad = [];
  const sel = 'script, svg, math, meta[http-equiv], base, object, embed, body style,'
            + ' iframe:not([sandbox]), a[href^="javascript:" i], [srcdoc], img[src^="http"]';
  for (const el of document.querySelectorAll(sel)) bad.push(el.outerHTML.slice(0, 200));
  for (const el of document.querySelectorAll('*')) {
    for (const a of el.attributes) {
      if (/^on/i.test(a.name)) bad.push(el.outerHTML.slice(0, 200));
    }
  }
  for (const f of document.querySelectorAll('iframe[sandbox]')) {
    if (f.getAttribute('sandbox') !== '') bad.push(f.outerHTML.slice(0, 200));
  }
  return bad;
})()"""


def assert_inert(page, ctx, beacon, mail_body=False):
    """The page ran nothing that was injected; returns the recorded events
    (cleared for the next page).  mail_body: the page is a mail's HTML
    body (the frame's document, opened at the top), whose markup is the
    correspondent's: the sandbox and its CSP block what it tries, and
    only what got through counts."""
    # A handler fires at load at the latest; a fetch it starts reaches the
    # beacon within milliseconds on loopback.
    page.run("await page.waitForLoadState('load'); await page.waitForTimeout(50)")
    ev = ctx.events(clear=True)
    assert ev["dialogs"] == [], ev["dialogs"]
    assert ev["pageErrors"] == [], ev["pageErrors"]
    marked = [c for c in ev["console"] if MARK in c["text"]]
    assert marked == [], marked
    assert beacon.hits == [], beacon.hits
    if mail_body:
        return ev
    # The mail frame's document asks for what its markup names; the frame's
    # CSP refuses it (beacon.hits above tells whether anything got out).
    called = [r["url"] for r in ev["requests"] if r["url"].startswith(beacon.url)
              and "/inbox/message/" not in r["frame"]]
    assert called == [], called
    # Rally's own page never had anything to block.
    assert ev["csp"] == [], ev["csp"]
    assert page.evaluate(INJECTED) == []
    return ev
