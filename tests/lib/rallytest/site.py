# SPDX-License-Identifier: ISC
"""The web front end as a browser without JavaScript sees it: a lighttpd
serving the built rally.cgi against the test's database as a rally_web
login (Site), and a client with a cookie jar that fills in each form's
CSRF field from the page it came from (Client).  The browser tests in
tests/browser drive a real Chromium instead; these are for the HTTP-level
integration tests, which need many requests fast."""

import html
import os
import re
import urllib.parse

from .daemon import write_config
from .web import Lighttpd

CSRF_FIELD = re.compile(r'name="csrf" value="([^"]*)"')
PASSWORD = "correct horse battery"


class Site:
    """lighttpd + rally.cgi and the rally.conf it reads on every request
    (rewrite it with configure() to change a setting)."""

    def __init__(self, directory, web_conninfo, mode=None, procs=2, **sections):
        self.dir = directory
        self.conf = os.path.join(directory, "rally.conf")
        self.sections = sections
        self.server = None
        self.configure(web_conninfo, **sections)
        self.server = Lighttpd(self.conf, mode=mode, procs=procs).start()

    def configure(self, web_conninfo, **sections):
        conf = {"database": {"web_conninfo": web_conninfo},
                "log": {"level": "debug", "target": "stderr"},
                # Fast hashes: the tests sign in many times.
                "passwords": {"argon2_memory_kib": "19456", "argon2_iterations": "2"}}
        for name, values in sections.items():
            conf.setdefault(name, {}).update(values)
        write_config(self.conf, conf)
        if self.server is not None:
            self.server.reload()

    def client(self):
        return Client(self)

    def logs(self):
        return self.server.logs()

    def close(self):
        logs = self.logs()
        self.server.close()
        # In an --enable-asan --enable-ubsan build, rally.cgi reports here.
        assert "Sanitizer" not in logs and "runtime error" not in logs, logs


class Client:
    """One browser: cookies kept across requests, the CSRF token of the last
    page that had a form."""

    def __init__(self, site):
        self.site = site
        self.cookies = {}
        self.csrf = None

    def _cookie_header(self):
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items())

    def _remember(self, r):
        for value in r.header_all("set-cookie"):
            pair = value.split(";", 1)[0]
            name, _, v = pair.partition("=")
            attrs = value.lower()
            if v == "" or "max-age=0" in attrs:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = v
        if r.body and (r.header("content-type") or "").startswith("text/html"):
            m = CSRF_FIELD.search(r.text)
            if m:
                self.csrf = html.unescape(m.group(1))
        return r

    def request(self, method, path, body=None, headers=None):
        h = dict(headers or {})
        if self.cookies:
            h["Cookie"] = self._cookie_header()
        return self._remember(self.site.server.request(method, path, body=body, headers=h))

    def get(self, path, headers=None):
        return self.request("GET", path, headers=headers)

    def post(self, path, fields=None, csrf=True, headers=None):
        """A form POST; the CSRF token of the last page unless csrf is False
        (none) or a string (that one)."""
        f = dict(fields or {})
        if csrf is True:
            assert self.csrf is not None, "no page with a form was fetched"
            f.setdefault("csrf", self.csrf)
        elif isinstance(csrf, str):
            f["csrf"] = csrf
        body = urllib.parse.urlencode(f).encode()
        h = {"Content-Type": "application/x-www-form-urlencoded"}
        h.update(headers or {})
        return self.request("POST", path, body, h)

    def signup(self, company="Acme Ltd", name="Ann Owner", email="ann@acme.example",
               password=PASSWORD, size="11-50"):
        self.get("/signup")
        r = self.post("/signup", {"company": company, "size": size, "name": name,
                                   "email": email, "password": password})
        assert r.status == 303, r
        return r

    def signin(self, email, password=PASSWORD):
        if self.get("/signin").status == 303:      # signed in already
            self.get("/")
        r = self.post("/signin", {"email": email, "password": password})
        assert r.status == 303 and r.header("location") == "/", r
        self.get("/")
        return r
