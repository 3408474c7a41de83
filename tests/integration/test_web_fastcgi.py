# SPDX-License-Identifier: ISC
"""rally.cgi's persistent mode (docs/cgi.md section 11): lighttpd's
mod_fastcgi starts it with bin-path and sends it request after request.

A representative set of the web tests runs here again, in FastCGI mode
(this module's web_site fixture replaces conftest's for them): sign-in,
CSRF 403, another tenant's ids 404, POSTs with a body, the sandboxed mail
frame's headers.  The whole web suite runs in FastCGI mode with
RALLY_TEST_WEB_MODE=fastcgi.  Then what only a persistent process can get
wrong: one process serving two users in turn must never show one the
other's session, tenant or form token; a connection left in a failed or
open transaction, or cut by the server, is not reused; SIGHUP rereads
rally.conf; RALLY_FASTCGI_MAX_REQUESTS makes the process exit.
And the protocol itself, on a socket of our own: FCGI_GET_VALUES, a kept
connection, FCGI_CANT_MPX_CONN, oversize parameters answered 400."""

import os
import re
import socket
import struct
import subprocess
import time

import pytest

from rallytest import program
from rallytest.daemon import write_config
from rallytest.site import Site

from test_web_auth import (  # noqa: F401  (collected again here)
    test_csrf_missing_or_wrong_is_refused, test_signin_signout_and_wrong_password,
    test_pages_carry_the_security_headers, test_bad_input_is_a_4xx_never_a_crash,
    test_secure_cookie_with_host_prefix_when_served_over_https)
from test_web_activities import (  # noqa: F401
    test_another_tenants_activities_are_404_on_every_route,
    test_create_shows_the_activity_private_and_only_in_rally,
    test_delete_asks_first_then_removes_it)
from test_web_inbox import (  # noqa: F401
    world, test_hostile_mail_is_escaped_everywhere_and_html_is_only_framed,
    test_another_tenants_ids_are_404_on_every_route_and_change_nothing)


@pytest.fixture
def web_site(tmp_path, pg, db, login_roles):
    site = Site(str(tmp_path), pg.conninfo(db, login_roles["web"]), mode="fastcgi",
                procs=2)
    yield site
    assert site.server.cgi_pids(), "served by persistent processes"
    site.close()


@pytest.fixture
def one_process(tmp_path, pg, db, login_roles):
    """A pool of one: every request is served by the same rally.cgi."""
    site = Site(str(tmp_path), pg.conninfo(db, login_roles["web"]), mode="fastcgi",
                procs=1)
    yield site
    site.close()


def test_requests_are_served_by_the_same_persistent_processes(web_site):
    assert web_site.server.request("GET", "/signin").status == 200
    before = sorted(web_site.server.cgi_pids())
    assert len(before) == 2
    for _ in range(10):
        assert web_site.server.request("GET", "/signin").status == 200
    assert sorted(web_site.server.cgi_pids()) == before


def test_one_process_serving_two_users_in_turn_shows_each_only_their_own(one_process):
    ann, eve = one_process.client(), one_process.client()
    ann.signup(company="Acme Ltd", name="Ann Owner", email="ann@acme.example")
    eve.signup(company="Other Co", name="Eve Other", email="eve@other.example")
    for who, mine in ((ann, "Ann's"), (eve, "Eve's")):
        who.get("/activities/new")
        r = who.post("/activities", {
            "title": f"{mine} secret call", "kind": "call", "timing": "time",
            "start": "2030-03-04T10:00", "end": "2030-03-04T10:30", "first_day": "",
            "last_day": "", "location": "", "guests": "", "description": "",
            "visibility": "private"})
        assert r.status == 303, r.text
    anon = one_process.client()
    tokens = set()
    for _ in range(3):
        for who, mine, theirs in ((ann, "Ann", "Eve"), (eve, "Eve", "Ann"),
                                  (anon, None, None)):
            for path in ("/", "/activities"):
                r = who.get(path)
                if who is anon:
                    # No session carried over: sent to sign in.
                    assert r.status == 303 and r.header("location") == "/signin"
                    continue
                assert r.status == 200
                assert mine in r.text and theirs not in r.text, (mine, path)
                assert ("Acme Ltd" in r.text) == (mine == "Ann")
                assert ("Other Co" in r.text) == (mine == "Eve")
            form = anon.get("/signin")
            assert form.status == 200 and "Ann" not in form.text
            assert "Eve" not in form.text
            tokens.add(anon.csrf)
            anon.cookies.clear()
    # Each signed-out visitor gets a form token of its own.
    assert len(tokens) == 9
    assert len(one_process.server.cgi_pids()) == 1


def test_a_connection_not_left_idle_is_not_reused(one_process, dbconn, login_roles):
    client = one_process.client()
    client.signup()
    assert client.get("/").status == 200
    # The server ends the backend between two requests: the next one
    # still succeeds, on a new connection.
    dbconn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                   " WHERE usename = %s", (login_roles["web"],))
    statuses = [client.get("/").status for _ in range(3)]
    assert statuses[1:] == [200, 200], statuses
    assert statuses[0] in (200, 503), statuses
    assert "Sanitizer" not in one_process.logs()


def test_sighup_rereads_the_configuration(one_process, pg, db, login_roles):
    client = one_process.client()
    client.signup()
    assert client.get("/").status == 200
    one_process.configure("host=/nonexistent dbname=rally user=nobody")
    assert client.get("/").status == 503
    one_process.configure(pg.conninfo(db, login_roles["web"]))
    assert client.get("/").status == 200


# --- the protocol on a socket of our own ------------------------------------

def record(rtype, rid, content=b"", pad=0):
    return struct.pack(">BBHHBx", 1, rtype, rid, len(content), pad) + content + b"\0" * pad


def pair(name, value):
    def length(x):
        return bytes([len(x)]) if len(x) < 128 else struct.pack(">I", len(x) | 0x80000000)
    return length(name) + length(value) + name + value


def request(rid, params, body=b"", keep=True):
    pairs = b"".join(pair(k.encode(), v.encode()) for k, v in params.items())
    out = record(1, rid, struct.pack(">HB5x", 1, 1 if keep else 0))
    for i in range(0, len(pairs), 65535):
        out += record(4, rid, pairs[i:i + 65535])
    out += record(4, rid)
    for i in range(0, len(body), 65535):
        out += record(5, rid, body[i:i + 65535])
    return out + record(5, rid)


def read_records(sock, until_end_request=1):
    """Records up to the until_end_request-th FCGI_END_REQUEST."""
    buf, out = b"", []
    while True:
        while len(buf) >= 8:
            _, rtype, rid, clen, plen = struct.unpack(">BBHHBx", buf[:8])
            if len(buf) < 8 + clen + plen:
                break
            out.append((rtype, rid, buf[8:8 + clen]))
            buf = buf[8 + clen + plen:]
            if rtype == 3:
                until_end_request -= 1
                if until_end_request == 0:
                    return out
        data = sock.recv(65536)
        if not data:
            return out
        buf += data


def stdout_of(records, rid):
    return b"".join(c for t, i, c in records if t == 6 and i == rid)


class Spawned:
    """rally.cgi on a listening socket as its standard input, as spawn-fcgi
    starts it; connect() gives a connection to it."""

    def __init__(self, tmp_path, conf, env=None):
        self.path = str(tmp_path / "fcgi.sock")
        listener = socket.socket(socket.AF_UNIX)
        listener.bind(self.path)
        listener.listen(8)
        self.log = open(tmp_path / "stderr.log", "w+")
        self.proc = subprocess.Popen([program("rally.cgi")], stdin=listener.fileno(),
                                     stderr=self.log,
                                     env=dict(os.environ, RALLY_CONFIG=conf, **(env or {})))
        listener.close()

    def connect(self):
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(20)
        s.connect(self.path)
        return s

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
        self.proc.wait(10)
        self.log.seek(0)
        text = self.log.read()
        assert "Sanitizer" not in text and "runtime error" not in text, text


@pytest.fixture
def spawn(tmp_path, pg, db, login_roles):
    conf = str(tmp_path / "rally.conf")
    write_config(conf, {"database": {"web_conninfo": pg.conninfo(db, login_roles["web"])},
                        "log": {"level": "debug", "target": "stderr"}})
    started = []

    def start(**env):
        started.append(Spawned(tmp_path, conf, env))
        return started[-1]
    yield start
    for s in started:
        s.close()


@pytest.fixture
def fcgi(spawn):
    return spawn().connect


GET_SIGNIN = {"REQUEST_METHOD": "GET", "PATH_INFO": "/signin", "QUERY_STRING": ""}


def test_get_values_says_one_request_at_a_time(fcgi):
    with fcgi() as s:
        s.sendall(record(9, 0, pair(b"FCGI_MPXS_CONNS", b"") + pair(b"FCGI_MAX_REQS", b"")))
        s.sendall(record(99, 0, b"?", 7))
        s.sendall(request(1, GET_SIGNIN))
        recs = read_records(s)
    assert recs[0] == (10, 0, pair(b"FCGI_MAX_REQS", b"1") + pair(b"FCGI_MPXS_CONNS", b"0"))
    assert recs[1] == (11, 0, bytes([99]) + b"\0" * 7)
    assert stdout_of(recs, 1).startswith(b"Status: 200 OK\r\n")


def test_a_kept_connection_serves_requests_in_turn_and_refuses_multiplexing(fcgi):
    with fcgi() as s:
        # A second request begun before the first is answered.
        s.sendall(request(1, GET_SIGNIN)[:16] + request(2, GET_SIGNIN)[:16]
                  + request(1, GET_SIGNIN)[16:])
        recs = read_records(s, 2)
        assert (3, 2, struct.pack(">IB3x", 0, 1)) in recs      # FCGI_CANT_MPX_CONN
        assert stdout_of(recs, 1).startswith(b"Status: 200 OK\r\n")
        for rid in (5, 6):
            s.sendall(request(rid, dict(GET_SIGNIN, PATH_INFO="/no/such/page")))
            recs = read_records(s)
            assert stdout_of(recs, rid).startswith(b"Status: 404 Not Found\r\n")
            assert recs[-1] == (3, rid, struct.pack(">IB3x", 0, 0))


def test_oversize_parameters_or_body_are_a_4xx_and_the_process_goes_on(fcgi):
    with fcgi() as s:
        s.sendall(request(1, dict(GET_SIGNIN, HTTP_COOKIE="x" * 200000), keep=False))
        assert stdout_of(read_records(s), 1).startswith(b"Status: 400 Bad Request\r\n")
    with fcgi() as s:
        post = dict(GET_SIGNIN, REQUEST_METHOD="POST", CONTENT_LENGTH="2000000",
                    CONTENT_TYPE="application/x-www-form-urlencoded")
        s.sendall(request(1, post, b"a" * 2000000, keep=False))
        assert stdout_of(read_records(s), 1).startswith(b"Status: 413 Content Too Large\r\n")
    with fcgi() as s:
        s.sendall(b"\x02" + request(1, GET_SIGNIN)[1:])     # not version 1: closed
        assert read_records(s) == []
    with fcgi() as s:
        s.sendall(request(1, GET_SIGNIN, keep=False))
        assert stdout_of(read_records(s), 1).startswith(b"Status: 200 OK\r\n")
        assert s.recv(1) == b""     # closed without FCGI_KEEP_CONN


def test_a_post_body_reaches_the_page(fcgi):
    body = b"email=nobody%40example.com&password=wrong&csrf=x"
    with fcgi() as s:
        s.sendall(request(1, dict(GET_SIGNIN, REQUEST_METHOD="POST",
                                  CONTENT_LENGTH=str(len(body)),
                                  CONTENT_TYPE="application/x-www-form-urlencoded"), body))
        out = stdout_of(read_records(s), 1)
    # Read and checked: the form's token is wrong, not missing.
    assert out.startswith(b"Status: 403 Forbidden\r\n"), out[:200]
    assert re.search(rb"expired|did not come from Rally", out)


def test_after_max_requests_the_process_exits_for_a_fresh_one(spawn):
    app = spawn(RALLY_FASTCGI_MAX_REQUESTS="3")
    with app.connect() as s:
        for rid in (1, 2, 3):
            s.sendall(request(rid, GET_SIGNIN))
            assert stdout_of(read_records(s), rid).startswith(b"Status: 200 OK\r\n")
    assert app.proc.wait(20) == 0


SOCKET_ACTIVATE = "/usr/bin/systemd-socket-activate"


@pytest.mark.skipif(not os.access(SOCKET_ACTIVATE, os.X_OK),
                    reason="systemd-socket-activate is not installed")
def test_a_socket_passed_by_systemd_is_served(tmp_path, pg, db, login_roles):
    """As contrib/systemd/rally-fastcgi@.service runs it: the socket is fd
    3, named by LISTEN_FDS and LISTEN_PID (sd_listen_fds(3))."""
    conf = str(tmp_path / "rally.conf")
    write_config(conf, {"database": {"web_conninfo": pg.conninfo(db, login_roles["web"])},
                        "log": {"level": "debug", "target": "stderr"}})
    path = str(tmp_path / "activated.sock")
    proc = subprocess.Popen([SOCKET_ACTIVATE, "-l", path, "-E", "RALLY_CONFIG=" + conf,
                             program("rally.cgi")], stdin=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(20)
        for _ in range(200):
            try:
                s.connect(path)
                break
            except OSError:
                proc.poll()
                assert proc.returncode is None, proc.stderr.read()
                time.sleep(0.05)
        with s:
            for rid in (1, 2):
                s.sendall(request(rid, GET_SIGNIN))
                assert stdout_of(read_records(s), rid).startswith(b"Status: 200 OK\r\n")
    finally:
        proc.terminate()
        proc.wait(10)
