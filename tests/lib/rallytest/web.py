# SPDX-License-Identifier: ISC
"""A real lighttpd serving the built rally.cgi, as docs/cgi.md deploys it:
on a free 127.0.0.1 port, in the foreground (-D), with a generated config
that maps /rally.cgi to the program and rewrites every other path to it, and
RALLY_CONFIG set for the CGI.  The CGI's standard error lands in the
"breakage log"; lighttpd's own messages in the error log; requests in the
access log, without the CGI's paths (where the Gmail hook's secret is),
as docs/operations.md tells operators to."""

import http.client
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from . import program

LIGHTTPD = shutil.which("lighttpd") or "/usr/sbin/lighttpd"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _quote(s):
    """A lighttpd config string literal."""
    return '"' + str(s).replace("\\", "\\\\").replace('"', '\\"') + '"'


# docs/operations.md's lighttpd example.  The Gmail hook's path ends in the
# push secret, and %r and %U would both log it.  Once lighttpd has split
# the path info off /rally.cgi, its conditions see only "/rally.cgi", so
# they cannot single out the Gmail hook: requests to the CGI are logged
# without their path.  (A format set in a conditional applies only with the
# file named there too; it is the same file, appended to.)
ACCESSLOG_CGI = ('accesslog.format = "%h %V %u %t \\"%m /rally.cgi/[path not logged] %H\\" '
                 '%>s %b \\"%{User-Agent}i\\""')


def _catches(pid, sig):
    """Whether the process has a handler for sig (SigCgt in /proc), or is
    gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("SigCgt:"):
                    return bool(int(line.split()[1], 16) & (1 << (sig - 1)))
    except OSError:
        return True
    return False


class Response:
    def __init__(self, status, headers, body, header_list=()):
        self.status = status
        self.headers = headers      # lower-case names, the last of each
        self.body = body
        self.header_list = list(header_list)    # (name, value), all of them

    def header_all(self, name):
        return [v for k, v in self.header_list if k.lower() == name.lower()]

    @property
    def text(self):
        return self.body.decode("utf-8")

    def header(self, name):
        return self.headers.get(name.lower())

    def __repr__(self):
        return f"<Response {self.status} {self.headers} {self.body[:200]!r}>"


def default_mode():
    """"cgi", or "fastcgi" when RALLY_TEST_WEB_MODE says so: the web tests
    run against either (docs/cgi.md section 11)."""
    mode = os.environ.get("RALLY_TEST_WEB_MODE", "cgi")
    assert mode in ("cgi", "fastcgi"), mode
    return mode


class Lighttpd:
    """mode "fastcgi" runs rally.cgi under mod_fastcgi's bin-path: procs
    persistent processes, each serving one request at a time."""

    def __init__(self, rally_conf, cgi=None, max_request_kib=0, mode=None, procs=2,
                 max_requests=0):
        self.dir = tempfile.mkdtemp(prefix="rally-web-")
        self.port = free_port()
        self.cgi = cgi or program("rally.cgi")
        self.rally_conf = rally_conf
        self.conf = os.path.join(self.dir, "lighttpd.conf")
        self.error_log = os.path.join(self.dir, "error.log")
        self.access_log = os.path.join(self.dir, "access.log")
        self.cgi_log = os.path.join(self.dir, "cgi-stderr.log")
        self.out_log = os.path.join(self.dir, "lighttpd.out")
        self.docroot = os.path.join(self.dir, "www")
        os.mkdir(self.docroot)
        self.max_request_kib = max_request_kib
        self.mode = mode or default_mode()
        self.procs = procs
        self.max_requests = max_requests
        self.socket = os.path.join(self.dir, "rally-fcgi.sock")
        self.proc = None

    def _handler(self):
        """How lighttpd runs rally.cgi for the paths under /rally.cgi."""
        conf = _quote(self.rally_conf)
        if self.mode == "cgi":
            return ('cgi.assign = ( "" => "" )\n'
                    f'    setenv.add-environment = ( "RALLY_CONFIG" => {conf} )')
        return f"""fastcgi.server = ( "/rally.cgi" => ((
        "socket" => {_quote(self.socket)},
        "bin-path" => {_quote(self.cgi)},
        "max-procs" => {self.procs},
        "check-local" => "disable",
        "bin-environment" => ( "RALLY_CONFIG" => {conf},
                               "RALLY_FASTCGI_MAX_REQUESTS" => "{self.max_requests}" ),
    )) )"""

    def cgi_pids(self):
        """The rally.cgi processes lighttpd started (FastCGI mode)."""
        pids = []
        for task in os.listdir(f"/proc/{self.proc.pid}/task"):
            with open(f"/proc/{self.proc.pid}/task/{task}/children") as f:
                pids += [int(p) for p in f.read().split()]
        return pids

    def reload(self):
        """After rally.conf changed: each persistent rally.cgi rereads it
        before its next request (SIGHUP).  A process that lighttpd has just
        started may not catch SIGHUP yet (it would die of it): wait until
        its /proc status says it does."""
        if self.mode != "fastcgi" or self.proc is None:
            return
        for pid in self.cgi_pids():
            deadline = time.monotonic() + 20
            while not _catches(pid, signal.SIGHUP) and time.monotonic() < deadline:
                time.sleep(0.02)
            try:
                os.kill(pid, signal.SIGHUP)
            except ProcessLookupError:
                pass

    def write_config(self):
        with open(self.conf, "w") as f:
            f.write(f"""
server.modules = ( "mod_alias", "mod_rewrite", "mod_setenv", "mod_cgi", "mod_fastcgi", "mod_accesslog" )
server.document-root = {_quote(self.docroot)}
server.bind = "127.0.0.1"
server.port = {self.port}
server.errorlog = {_quote(self.error_log)}
server.breakagelog = {_quote(self.cgi_log)}
server.max-request-size = {self.max_request_kib}
accesslog.filename = {_quote(self.access_log)}
url.rewrite-once = ( "^/rally\\.cgi(/.*)?$" => "$0", "^(/.*)$" => "/rally.cgi$1" )
alias.url = ( "/rally.cgi" => {_quote(self.cgi)} )
$HTTP["url"] =~ "^/rally\\.cgi(/|$)" {{
    {self._handler()}
    accesslog.filename = {_quote(self.access_log)}
    {ACCESSLOG_CGI}
}}
""")

    def start(self, timeout=10):
        self.write_config()
        self.out = open(self.out_log, "w")
        self.proc = subprocess.Popen([LIGHTTPD, "-D", "-f", self.conf],
                                     stdout=self.out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"lighttpd exited {self.proc.returncode}:\n{self.logs()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        raise AssertionError(f"lighttpd not listening on {self.port}:\n{self.logs()}")

    def request(self, method, path, body=None, headers=None, timeout=20):
        """One request on a fresh connection; body bytes get a Content-Length
        (also when empty, as Google sends POSTs)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            hdrs = dict(headers or {})
            if body is None and method == "POST":
                body = b""
            if body is not None:
                hdrs.setdefault("Content-Length", str(len(body)))
            conn.request(method, path, body=body, headers=hdrs)
            r = conn.getresponse()
            data = r.read()
            return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, data,
                            r.getheaders())
        finally:
            conn.close()

    def logs(self):
        """Everything lighttpd and the CGI wrote, for assertions and failures."""
        out = []
        for path in (self.error_log, self.cgi_log, self.out_log, self.access_log):
            if os.path.exists(path):
                with open(path, errors="replace") as f:
                    out.append(f.read())
        return "".join(out)

    def stop(self, timeout=10):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc is not None:
            self.out.close()

    def close(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
