# SPDX-License-Identifier: ISC
"""A real headless Chromium for the browser tests (tests/browser): Debian's
/usr/bin/chromium driven by playwright-core in a node process
(tests/browser/driver.js), one per test module, with a fresh profile
(Context) per test and as many tabs (Page) as it likes.

    chrome = Chromium().start()
    ctx = chrome.context()
    page = ctx.page()
    page.goto(site_url + "/signin")
    page.fill("#email", "ann@acme.example")
    page.run("await page.getByRole('button', {name: args.name}).click()", name="Sign in")
    ctx.events()          # dialogs, console, page errors, requests, CSP violations
    chrome.stop()

Page.run takes the body of an async JavaScript function of (page, ctx,
args, lib) for anything the few wrappers here do not cover: the test reads
as Playwright does.  The node packages come from tests/browser/package.json,
installed by tools/deps (npm ci)."""

import json
import os
import select
import shutil
import subprocess
import tempfile
import time

from . import SRCDIR

BROWSER_DIR = SRCDIR / "tests" / "browser"
CHROMIUM = "/usr/bin/chromium"


class BrowserError(AssertionError):
    pass


class Chromium:
    def __init__(self, timeout=60):
        self.timeout = timeout
        self.proc = None
        self.seq = 0
        self.version = None

    def start(self):
        node = shutil.which("node")
        assert node, "node is required (tools/deps installs it)"
        assert os.path.exists(CHROMIUM), "Debian's chromium is required (tools/deps installs it)"
        assert (BROWSER_DIR / "node_modules" / "playwright-core").is_dir(), \
            "tests/browser/node_modules is missing: run tools/deps (npm ci there)"
        self.log_path = os.environ.get("RALLY_BROWSER_LOG")
        if not self.log_path:
            fd, self.log_path = tempfile.mkstemp(prefix="rally-browser-", suffix=".log")
            os.close(fd)
        self.stderr = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [node, str(BROWSER_DIR / "driver.js")], cwd=BROWSER_DIR,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr,
            env=dict(os.environ, PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD="1"))
        self.version = self._read(0)["version"]
        return self

    def _read(self, want):
        deadline = time.monotonic() + self.timeout
        fd = self.proc.stdout.fileno()
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise BrowserError(f"the browser driver did not answer in {self.timeout} s")
            line = self.proc.stdout.readline()
            if not line:
                self.proc.wait(timeout=5)
                raise BrowserError(f"the browser driver exited ({self.proc.returncode}):\n"
                                   + self._log_tail())
            msg = json.loads(line)
            if msg.get("id") != want:
                continue
            if not msg["ok"]:
                raise BrowserError(msg["error"])
            return msg["value"]

    def _log_tail(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()[-4000:]
        except OSError:
            return ""

    def send(self, op, **fields):
        self.seq += 1
        self.proc.stdin.write((json.dumps(dict(fields, id=self.seq, op=op)) + "\n").encode())
        self.proc.stdin.flush()
        return self._read(self.seq)

    def context(self, **options):
        return Context(self, self.send("context", options=options))

    def stop(self):
        if self.proc is None:
            return
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=15)
        except (subprocess.TimeoutExpired, OSError):
            self.proc.kill()
            self.proc.wait()
        self.stderr.close()
        if not os.environ.get("RALLY_BROWSER_LOG"):
            os.unlink(self.log_path)
        self.proc = None


class Context:
    """A browser profile of its own: cookies, storage, the recorded events."""

    def __init__(self, chrome, cid):
        self.chrome, self.id = chrome, cid

    def page(self):
        return Page(self, self.chrome.send("page", ctx=self.id))

    def events(self, clear=False):
        return self.chrome.send("events", ctx=self.id, clear=clear)

    def add_cookies(self, cookies):
        """Cookies from an HTTP client (rallytest.site.Client.cookies) for url."""
        page = self.page()
        page.run("await ctx.addCookies(args.cookies)", cookies=cookies)
        page.close()

    def close(self):
        self.chrome.send("close", ctx=self.id)


class Page:
    def __init__(self, ctx, pid):
        self.ctx, self.id = ctx, pid
        self.chrome = ctx.chrome

    def _send(self, op, **fields):
        try:
            return self.chrome.send(op, page=self.id, **fields)
        except BrowserError as e:
            raise BrowserError(f"{e}\n-- the page: {self._where()}") from None

    def _where(self):
        """Where the page is and what it says, for a failure's message."""
        try:
            return self.chrome.send("run", page=self.id, code=(
                "return page.url() + '\\n' + (await page.locator('body').innerText("
                "{timeout: 1000})).slice(0, 1500)"))
        except BrowserError:
            return "(unknown)"

    def call(self, method, *args):
        return self._send("call", method=method, args=list(args))

    def run(self, code, **args):
        return self._send("run", code=code, args=args)

    def evaluate(self, expression):
        """A JavaScript expression evaluated in the page (not subject to
        its CSP: this is the test looking, not the page running script)."""
        return self.call("evaluate", expression)

    def goto(self, url):
        """Navigates; returns the HTTP status of the document."""
        return self.run("const r = await page.goto(args.url); return r ? r.status() : null",
                        url=url)

    @property
    def url(self):
        return self.call("url")

    def title(self):
        return self.call("title")

    def click(self, selector):
        self.call("click", selector)

    def fill(self, selector, value):
        self.call("fill", selector, value)

    def press(self, key):
        """A key on the keyboard, wherever focus is ("Tab", "Shift+Tab", "Enter")."""
        self.call("keyboard.press", key)

    def type(self, text):
        """Typing into whatever has focus, a key at a time."""
        self.run("await page.keyboard.type(args.text)", text=text)

    def text(self, selector="body"):
        return self.run("return await page.locator(args.s).first().innerText()", s=selector)

    def texts(self, selector):
        return self.run("return await page.locator(args.s).allInnerTexts()", s=selector)

    def count(self, selector):
        return self.run("return await page.locator(args.s).count()", s=selector)

    def attr(self, selector, name):
        return self.run("return await page.locator(args.s).first().getAttribute(args.n)",
                        s=selector, n=name)

    def wait_url(self, pattern):
        """Waits for the address to match a regular expression."""
        self.run("await page.waitForURL(new RegExp(args.p))", p=pattern)

    def focused(self):
        return self.run("return await lib.focused(page)")

    def axe(self, **options):
        return self._send("axe", options=options)

    def screenshot(self, path, full_page=False):
        self.call("screenshot", {"path": str(path), "fullPage": full_page, "type": "png"})

    def close(self):
        self.call("close")
