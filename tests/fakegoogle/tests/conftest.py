# SPDX-License-Identifier: ISC
"""Shared fixtures: one emulator per test module, started over HTTPS on a free port with a
throwaway CA made by ../mkcerts, and a small urllib client that trusts that CA."""

import base64
import hashlib
import json
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import ssl
from pathlib import Path

import pytest

FG_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(FG_DIR))        # unit tests import fg.* directly

CAL = "https://www.googleapis.com/auth/calendar.events"
GMAIL = "https://www.googleapis.com/auth/gmail.modify"
SEND = "https://www.googleapis.com/auth/gmail.send"
FULL_MAIL = "https://mail.google.com/"
REDIRECT = "https://rally.test/oauth/callback"


class Resp:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return "<Resp %d %r>" % (self.status, self.body[:300])


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Emulator:
    def __init__(self, base, ca_file, certs, proc):
        self.base = base
        self.ca_file = ca_file
        self.certs = certs
        self.proc = proc
        self.ssl = ssl.create_default_context(cafile=ca_file)
        self._opener = urllib.request.build_opener(
            urllib.request.HTTPSHandler(context=self.ssl), _NoRedirect())

    @property
    def port(self):
        return int(self.base.rsplit(":", 1)[1])

    def request(self, method, path, body=None, token=None, headers=None, params=None):
        url = self.base + path
        if params:
            url += ("&" if "?" in url else "?") + urllib.parse.urlencode(params, doseq=True)
        headers = dict(headers or {})
        data = None
        if isinstance(body, (dict, list)):
            data = json.dumps(body).encode()
            headers.setdefault("Content-Type", "application/json")
        elif isinstance(body, (bytes, str)):
            data = body.encode() if isinstance(body, str) else body
        if token:
            headers["Authorization"] = "Bearer " + token
        req = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with self._opener.open(req, timeout=30) as resp:
                return Resp(resp.status, resp.headers, resp.read())
        except urllib.error.HTTPError as err:
            return Resp(err.code, err.headers, err.read())

    def admin(self, method, path, body=None, expect=(200, 204)):
        resp = self.request(method, "/__admin/" + path, body if body is not None else {})
        assert resp.status in expect, resp
        return resp.json() if resp.body else None

    def api(self, method, path, token, body=None, params=None, headers=None):
        return self.request(method, path, body, token=token, params=params, headers=headers)

    def form(self, path, fields, headers=None):
        return self.request("POST", path, urllib.parse.urlencode(fields),
                            headers=dict({"Content-Type": "application/x-www-form-urlencoded"},
                                         **(headers or {})))

    # -- set-up helpers -------------------------------------------------------------------

    def client(self, client_id="rally-client", secret="s3cret", redirect=REDIRECT):
        self.admin("POST", "clients", {"client_id": client_id, "client_secret": secret,
                                       "redirect_uris": [redirect]})

    def connect(self, email="alice@example.com", scopes=(CAL, GMAIL, "openid", "email"),
                client_id="rally-client"):
        """Account + client + code + token exchange; returns the token response."""
        self.admin("POST", "accounts", {"email": email})
        self.client(client_id)
        verifier = "v" * 50
        code = self.admin("POST", "authorize", {
            "client_id": client_id, "email": email, "scopes": list(scopes),
            "redirect_uri": REDIRECT, "code_challenge": s256(verifier)})["code"]
        resp = self.form("/token", {"grant_type": "authorization_code", "code": code,
                                    "client_id": client_id, "client_secret": "s3cret",
                                    "redirect_uri": REDIRECT, "code_verifier": verifier})
        assert resp.status == 200, resp
        return resp.json()

    def token(self, email="alice@example.com", scopes=(CAL, GMAIL, "openid", "email")):
        return self.connect(email, scopes)["access_token"]


def s256(verifier):
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def start_emulator(tmp_dir, extra_args=()):
    certs = tmp_dir / "certs"
    subprocess.run([str(FG_DIR / "mkcerts"), str(certs)], check=True)
    port_file = tmp_dir / "port"
    proc = subprocess.Popen(
        ["/usr/bin/python3", str(FG_DIR / "fakegoogle"), "--cert", str(certs / "server.pem"),
         "--key", str(certs / "server.key"), "--port", "0", "--port-file", str(port_file),
         "--push-ca", str(certs / "ca.pem"), "--seed", "7", *extra_args],
        stdout=subprocess.PIPE, stderr=None, text=True)
    line = proc.stdout.readline()
    assert line.startswith("fakegoogle listening on https://127.0.0.1:"), line
    deadline = time.time() + 10
    while not port_file.exists() and time.time() < deadline:
        time.sleep(0.05)
    port = int(port_file.read_text())
    assert line.strip().endswith(":%d" % port)
    return Emulator("https://127.0.0.1:%d" % port, str(certs / "ca.pem"), certs, proc)


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    em = start_emulator(tmp_path_factory.mktemp("fakegoogle"))
    yield em
    em.proc.terminate()
    try:
        em.proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        em.proc.kill()
    if em.proc.stdout:
        em.proc.stdout.close()


@pytest.fixture
def fg(emulator):
    """The module's emulator, reset to an empty world for this test."""
    emulator.admin("POST", "reset")
    return emulator


class PushReceiver:
    """An HTTPS endpoint (test CA cert) that records what the emulator pushes to it and can
    answer 503 to the first `fail_first` deliveries."""

    def __init__(self, certs, fail_first=0):
        import http.server
        import threading
        receiver = self
        self.received = []
        self.fail_first = fail_first
        self._lock = threading.Lock()

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver._lock:
                    failing = receiver.fail_first > 0
                    if failing:
                        receiver.fail_first -= 1
                    receiver.received.append({"headers": dict(self.headers), "body": body,
                                              "t": time.time(),
                                              "path": self.path, "answered": 503 if failing else 200})
                self.send_response(503 if failing else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(certs / "server.pem"), str(certs / "server.key"))
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.url = "https://127.0.0.1:%d/hook" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, count, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self._lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.02)
        return list(self.received)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(emulator):
    r = PushReceiver(emulator.certs)
    yield r
    r.close()
