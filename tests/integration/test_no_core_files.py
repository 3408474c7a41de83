# SPDX-License-Identifier: ISC
"""No core file from a Rally program, whatever its memory holds (the
database password, tokens, session ids, keys): rallyd, rally.cgi in
FastCGI mode and rallyctl, each killed by SIGSEGV with the core limit
raised, leave none where a control process started the same way leaves
one (lib/util.c, process_no_core).  Under AddressSanitizer, which turns
cores off itself, they cannot fail."""

import os
import resource
import select
import signal
import socket
import subprocess

import pytest

from rallytest import program
from rallytest.daemon import write_config

PASSWORD = "NotInAnyCoreFile"


def raise_core_limit():
    resource.setrlimit(resource.RLIMIT_CORE,
                       (resource.RLIM_INFINITY, resource.RLIM_INFINITY))


def cores(where):
    return sorted(f for f in os.listdir(where) if f.startswith("core"))


@pytest.fixture
def silent_db(tmp_path):
    """A socket where PostgreSQL's would be, which accepts and never
    answers: a program that connects waits there, well past its start."""
    sockdir = tmp_path / "sock"
    sockdir.mkdir()
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(sockdir / ".s.PGSQL.5432"))
    listener.listen(16)
    yield listener, f"host={sockdir} port=5432 dbname=rally user=rally password={PASSWORD}"
    listener.close()


def connected(listener, proc, timeout=20):
    """Waits for the program's connection to the silent database."""
    ready, _, _ = select.select([listener], [], [], timeout)
    assert ready, f"the program never connected (exit {proc.poll()})"
    conn, _ = listener.accept()
    return conn


def crash(proc, where):
    proc.send_signal(signal.SIGSEGV)
    proc.wait(timeout=20)
    return cores(where)


@pytest.fixture
def control(tmp_path):
    """A core from a plain program proves this machine writes them here."""
    with open("/proc/sys/kernel/core_pattern") as f:
        pattern = f.read().strip()
    if pattern.startswith("|"):
        pytest.skip(f"cores go to a program here ({pattern!r}), not to a file")
    where = tmp_path / "control"
    where.mkdir()
    proc = subprocess.Popen(["sleep", "60"], cwd=where, preexec_fn=raise_core_limit)
    found = crash(proc, where)
    assert found, f"no core from the control (core_pattern {pattern!r}): cannot tell"


def run_dir(tmp_path, name):
    where = tmp_path / name
    where.mkdir()
    return where


def test_rallyd_leaves_no_core(tmp_path, silent_db, control):
    listener, conninfo = silent_db
    where = run_dir(tmp_path, "rallyd")
    conf = where / "rally.conf"
    write_config(conf, {"database": {"conninfo": conninfo}, "log": {"target": "stderr"}})
    proc = subprocess.Popen([program("rallyd"), "-c", str(conf)], cwd=where,
                            preexec_fn=raise_core_limit, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    held = connected(listener, proc)
    assert crash(proc, where) == []
    held.close()


def test_rallyctl_leaves_no_core(tmp_path, silent_db, control):
    listener, conninfo = silent_db
    where = run_dir(tmp_path, "rallyctl")
    conf = where / "rally.conf"
    write_config(conf, {"database": {"conninfo": conninfo}})
    proc = subprocess.Popen([program("rallyctl"), "-c", str(conf), "status"], cwd=where,
                            preexec_fn=raise_core_limit, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    held = connected(listener, proc)
    assert crash(proc, where) == []
    held.close()


def fastcgi_request(path, cookie):
    def record(kind, content):
        return bytes([1, kind, 0, 1, len(content) >> 8, len(content) & 255, 0, 0]) + content

    def pair(k, v):
        return bytes([len(k), len(v)]) + k + v

    params = b"".join(pair(k, v) for k, v in [
        (b"REQUEST_METHOD", b"GET"), (b"SCRIPT_NAME", b""), (b"PATH_INFO", b"/"),
        (b"QUERY_STRING", b""), (b"HTTP_COOKIE", b"rally=" + cookie)])
    client = socket.socket(socket.AF_UNIX)
    client.connect(str(path))
    client.sendall(record(1, bytes([0, 1, 0, 0, 0, 0, 0, 0])) + record(4, params)
                   + record(4, b"") + record(5, b""))
    return client


def test_rally_cgi_leaves_no_core(tmp_path, silent_db, control):
    """It answers a request (a sign-in page for a cookie of no session it
    knows) before it is killed."""
    _, conninfo = silent_db
    where = run_dir(tmp_path, "cgi")
    conf = where / "rally.conf"
    write_config(conf, {"database": {"conninfo": conninfo, "web_conninfo": conninfo}})
    fcgi_path = where / "fcgi.sock"
    fcgi = socket.socket(socket.AF_UNIX)
    fcgi.bind(str(fcgi_path))
    fcgi.listen(4)
    proc = subprocess.Popen([program("rally.cgi")], stdin=fcgi.fileno(), cwd=where,
                            env=dict(os.environ, RALLY_CONFIG=str(conf)),
                            preexec_fn=raise_core_limit, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    fcgi.close()
    client = fastcgi_request(fcgi_path, b"SessionCookieNotInAnyCore")
    client.settimeout(20)
    assert client.recv(65536), f"no answer (exit {proc.poll()})"
    assert crash(proc, where) == []
    client.close()
