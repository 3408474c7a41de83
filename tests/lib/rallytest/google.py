# SPDX-License-Identifier: ISC
"""The Google emulator (tests/fakegoogle) for integration tests, and a helper
that connects a Rally user's Google account through "rallyctl google
connect" end to end, as an operator would.

    fg = FakeGoogle(directory).start()
    sections = fg.config_sections()          # [google] and [http] for rally.conf
    cid = fg.connect_user(pg, db, tenant_id, "owner@example.com",
                          "ann@gmail.com", calendar=True, mail=False,
                          rallyctl_config=conf_path)
    fg.stop()

One emulator can serve a whole session: POST /__admin/reset (fg.reset())
empties its world between tests, or tests use distinct account emails.
"""

import json
import os
import secrets
import select
import ssl
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

from . import SRCDIR, program

FG_DIR = SRCDIR / "tests" / "fakegoogle"

CLIENT_ID = "rally-test-client.apps.googleusercontent.com"
REDIRECT_URI = "https://rally.test/rally.cgi/oauth/callback"
SCOPE_CALENDAR = "https://www.googleapis.com/auth/calendar.events"
SCOPE_GMAIL_MODIFY = "https://www.googleapis.com/auth/gmail.modify"
SCOPE_GMAIL_SEND = "https://www.googleapis.com/auth/gmail.send"
SCOPE_EMAIL = "https://www.googleapis.com/auth/userinfo.email"


class AdminError(AssertionError):
    pass


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _write_private(path, text):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(path, 0o600)


def write_config(path, sections):
    """Writes a rally.conf from {section: {key: value}}."""
    with open(path, "w") as f:
        for section, keys in sections.items():
            f.write(f"[{section}]\n")
            for k, v in keys.items():
                f.write(f"{k} = {v}\n")
    return str(path)


class ConnectRun:
    """A running "rallyctl google connect": its printed authorization URL and
    the parameters in it; finish() pastes a line and waits for the exit."""

    def __init__(self, proc, url):
        self.proc = proc
        self.url = url
        self.params = {k: v[0] for k, v in
                       urllib.parse.parse_qs(urllib.parse.urlsplit(url).query).items()}

    @property
    def state(self):
        return self.params.get("state")

    @property
    def scopes(self):
        return self.params.get("scope", "").split()

    def finish(self, line, timeout=60):
        """Pastes line on stdin; returns a CompletedProcess (text) whose stdout
        excludes the URL line already read."""
        try:
            out, err = self.proc.communicate((line + "\n").encode(), timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
            raise AssertionError(f"rallyctl google connect hung:\n{err.decode()}")
        r = subprocess.CompletedProcess(self.proc.args, self.proc.returncode,
                                        out.decode(), err.decode())
        # Under --enable-asan/--enable-ubsan, whatever the exit status was meant to be.
        assert "Sanitizer" not in r.stderr and "runtime error:" not in r.stderr, r.stderr
        return r


class FakeGoogle:
    """One fakegoogle process over HTTPS with a throwaway CA, and a registered
    OAuth client whose secret is in a private file for rally.conf."""

    def __init__(self, directory, seed=0, client_id=CLIENT_ID, redirect_uri=REDIRECT_URI):
        self.dir = str(directory)
        self.seed = seed
        self.client_id = client_id
        self.redirect_uri = redirect_uri
        self.client_secret = "GOCSPX-" + secrets.token_urlsafe(24)
        self.certs = os.path.join(self.dir, "certs")
        self.ca_file = os.path.join(self.certs, "ca.pem")
        self.secret_file = os.path.join(self.dir, "client-secret")
        self.proc = None
        self.base_url = None
        self._opener = None

    # -- process -------------------------------------------------------------------

    def start(self, timeout=20):
        os.makedirs(self.dir, exist_ok=True)
        subprocess.run([str(FG_DIR / "mkcerts"), self.certs], check=True, timeout=60)
        _write_private(self.secret_file, self.client_secret + "\n")
        port_file = os.path.join(self.dir, "port")
        self.log = open(os.path.join(self.dir, "fakegoogle.log"), "w")
        self.proc = subprocess.Popen(
            ["/usr/bin/python3", str(FG_DIR / "fakegoogle"),
             "--cert", os.path.join(self.certs, "server.pem"),
             "--key", os.path.join(self.certs, "server.key"),
             "--port", "0", "--port-file", port_file,
             "--push-ca", self.ca_file, "--seed", str(self.seed)],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while not os.path.exists(port_file):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("fakegoogle did not start:\n" + self.output())
            time.sleep(0.05)
        with open(port_file) as f:
            self.port = int(f.read())
        self.base_url = f"https://127.0.0.1:{self.port}"
        context = ssl.create_default_context(cafile=self.ca_file)
        self._opener = urllib.request.build_opener(
            urllib.request.HTTPSHandler(context=context), _NoRedirect())
        self.admin("GET", "health")
        self.register_client()
        return self

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        if getattr(self, "log", None):
            self.log.close()

    def output(self):
        try:
            with open(os.path.join(self.dir, "fakegoogle.log")) as f:
                return f.read()
        except OSError:
            return ""

    # -- HTTP ----------------------------------------------------------------------

    def request(self, method, path, body=None, headers=None, token=None, form=None,
                timeout=30):
        """(status, parsed JSON or raw bytes) for a request to the emulator."""
        headers = dict(headers or {})
        data = None
        if form is not None:
            data = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if token:
            headers["Authorization"] = "Bearer " + token
        req = urllib.request.Request(self.base_url + path, data=data, method=method,
                                     headers=headers)
        try:
            with self._opener.open(req, timeout=timeout) as resp:
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as err:
            status, raw = err.code, err.read()
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, raw

    def admin(self, method, path, body=None, expect=(200, 204), timeout=30):
        """Calls the admin API: path is relative to /__admin/ ("accounts") or
        absolute ("/__admin/accounts").  Returns the parsed JSON answer;
        raises unless the status is in expect."""
        path = path.lstrip("/")
        if path.startswith("__admin/"):
            path = path[len("__admin/"):]
        status, out = self.request(method, "/__admin/" + path,
                                   body if body is not None or method == "GET" else {},
                                   timeout=timeout)
        if status not in expect:
            raise AdminError(f"{method} /__admin/{path}: {status} {out!r}")
        return out

    def reset(self):
        """An empty world (accounts, grants, faults, logs, clock) with the
        client registered again."""
        self.admin("POST", "reset")
        self.register_client()

    def register_client(self):
        self.admin("POST", "clients", {"client_id": self.client_id,
                                       "client_secret": self.client_secret,
                                       "redirect_uris": [self.redirect_uri]})

    def add_account(self, email):
        """Creates the Google account (idempotent); returns its sub."""
        return self.admin("POST", "accounts", {"email": email})["sub"]

    def requests_log(self, since=0):
        return self.admin("GET", f"requests?since={since}")["requests"]

    # -- configuration -------------------------------------------------------------

    def config_sections(self):
        """The rally.conf [google] and [http] sections pointing at the emulator."""
        b = self.base_url
        return {
            "google": {
                "client_id": self.client_id,
                "client_secret_file": self.secret_file,
                "redirect_uri": self.redirect_uri,
                "auth_url": f"{b}/o/oauth2/v2/auth",
                "token_url": f"{b}/token",
                "revoke_url": f"{b}/revoke",
                "userinfo_url": f"{b}/v1/userinfo",
                "calendar_url": f"{b}/calendar/v3",
                "gmail_url": f"{b}/gmail/v1",
            },
            "http": {"ca_file": self.ca_file},
        }

    def rallyctl_config(self, path, conninfo, keyring, extra=None):
        """Writes a rally.conf for rallyctl: the database, the keyring and
        the emulator's sections (extra: more {section: {key: value}})."""
        sections = {"database": {"conninfo": conninfo}, "keys": {"keyring": str(keyring)}}
        sections.update(self.config_sections())
        for section, keys in (extra or {}).items():
            sections.setdefault(section, {}).update(keys)
        return write_config(path, sections)

    # -- the consent step, without a browser --------------------------------------

    def authorize(self, url, google_email, prompt=None, scopes=None):
        """What the user's Allow click would give: a code for the
        authorization URL's client, scopes, PKCE challenge and redirect URI.
        prompt/scopes override what the URL asked for."""
        q = {k: v[0] for k, v in urllib.parse.parse_qs(urllib.parse.urlsplit(url).query).items()}
        body = {"client_id": q["client_id"], "email": google_email,
                "scopes": scopes if scopes is not None else q["scope"].split(),
                "redirect_uri": q["redirect_uri"],
                "code_challenge": q.get("code_challenge"),
                "access_type": q.get("access_type", "online"),
                "include_granted_scopes": q.get("include_granted_scopes") == "true"}
        p = q.get("prompt") if prompt is None else prompt
        if p:
            body["prompt"] = p
        return self.admin("POST", "authorize", body)["code"]

    def access_token(self, google_email, scopes=(SCOPE_CALENDAR,)):
        """An access token for google_email and this emulator's client, as
        another program would get one (an online grant: no refresh token,
        nothing of Rally's grant changes)."""
        code = self.admin("POST", "authorize", {
            "client_id": self.client_id, "email": google_email, "scopes": list(scopes),
            "redirect_uri": self.redirect_uri, "access_type": "online"})["code"]
        status, out = self.request("POST", "/token", form={
            "grant_type": "authorization_code", "code": code, "client_id": self.client_id,
            "client_secret": self.client_secret, "redirect_uri": self.redirect_uri})
        if status != 200:
            raise AdminError(f"POST /token: {status} {out!r}")
        return out["access_token"]

    def redirect_url(self, code, state, scope=""):
        """The address Google sends the browser back to."""
        return self.redirect_uri + "?" + urllib.parse.urlencode(
            {"state": state, "code": code, "scope": scope})

    # -- rallyctl google connect ---------------------------------------------------

    def start_connect(self, config, user_email, tenant_id=None, calendar=True, mail=False,
                      extra_args=(), env=None, timeout=30):
        """Starts "rallyctl google connect" and reads the URL it prints.
        Raises with its stderr if it exits before printing one."""
        args = [program("rallyctl"), "-c", str(config), "google", "connect",
                "--user", user_email]
        if tenant_id:
            args += ["--tenant", tenant_id]
        if calendar:
            args.append("--calendar")
        if mail:
            args.append("--mail")
        args += list(extra_args)
        e = dict(os.environ)
        e.pop("CREDENTIALS_DIRECTORY", None)
        e.update(env or {})
        proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=e)
        line = self._read_line(proc, timeout)
        if not line.startswith(self.base_url + "/o/oauth2/v2/auth?"):
            out, err = proc.communicate(timeout=timeout)
            raise AssertionError(f"rallyctl printed no authorization URL (exit "
                                 f"{proc.returncode}): {line!r}\n{err.decode()}")
        return ConnectRun(proc, line)

    @staticmethod
    def _read_line(proc, timeout):
        fd = proc.stdout.fileno()
        buf = b""
        deadline = time.monotonic() + timeout
        while not buf.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                proc.kill()
                raise AssertionError("rallyctl printed no line in time")
            chunk = os.read(fd, 1)
            if not chunk:
                break
            buf += chunk
        return buf.decode().strip()

    def connect_user(self, pg, db, tenant_id, user_email, google_email, calendar=True,
                     mail=False, rallyctl_config=None, keyring=None, directory=None):
        """Connects user_email (a Rally user of tenant_id) to the Google account
        google_email, created on the emulator if needed, through rallyctl as
        an operator would: the code comes from the emulator's admin API for
        the URL rallyctl printed and goes back pasted as the redirect URL.
        Returns the connection id.

        rallyctl_config: a rally.conf holding config_sections() and a keyring;
        without one, a config is written (into directory, default this
        emulator's) for pg's database db with the given keyring."""
        if rallyctl_config is None:
            if keyring is None:
                raise ValueError("connect_user needs rallyctl_config or keyring")
            rallyctl_config = self.rallyctl_config(
                os.path.join(directory or self.dir, f"rally-{db}.conf"),
                pg.conninfo(db), keyring)
        self.add_account(google_email)
        self.register_client()
        run = self.start_connect(rallyctl_config, user_email, tenant_id=tenant_id,
                                 calendar=calendar, mail=mail)
        code = self.authorize(run.url, google_email)
        r = run.finish(self.redirect_url(code, run.state, " ".join(run.scopes)))
        if r.returncode != 0:
            raise AssertionError(f"rallyctl google connect exited {r.returncode}:\n{r.stderr}")
        return r.stdout.strip().splitlines()[-1]
