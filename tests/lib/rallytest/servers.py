# SPDX-License-Identifier: ISC
"""The example web server configurations of contrib/ (lighttpd, nginx with
fcgiwrap, Apache with mod_cgid), run for real: each file is copied with its
production paths and ports replaced by scratch ones (nothing else in it
changes), checked by the server's own syntax test, and served on 127.0.0.1
over HTTPS (a throwaway certificate) with plain HTTP redirected, in front of
the built rally.cgi.

As root, the servers drop to www-data as their Debian packages do, so
rally.cgi runs as the web server's user: its files are made readable to it.
"""

import http.client
import os
import pwd
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time

from . import SRCDIR, program
from .web import Response, free_port

CONTRIB = SRCDIR / "contrib"
WEB_USER = "www-data"
APACHE_MODULES = "/usr/lib/apache2/modules"

TOOLS = {"lighttpd": "/usr/sbin/lighttpd", "nginx": "/usr/sbin/nginx",
         "apache2": "/usr/sbin/apache2"}
SPAWN_FCGI = "/usr/bin/spawn-fcgi"
# The examples: kind -> its file in contrib/.  The "-fastcgi" kinds run
# rally.cgi as a FastCGI application (docs/cgi.md section 11): lighttpd
# starts it itself; nginx's file is the fcgiwrap one, its socket served by
# rally.cgi processes that spawn-fcgi starts.
EXAMPLES = {"lighttpd": "lighttpd/lighttpd.conf",
            "lighttpd-fastcgi": "lighttpd/lighttpd-fastcgi.conf",
            "nginx": "nginx/rally.conf", "nginx-fastcgi": "nginx/rally.conf",
            "apache2": "apache2/rally.conf"}


def tool_of(kind):
    return kind.split("-")[0]


def available(kind):
    """Whether this machine has the server (and fcgiwrap or spawn-fcgi for
    nginx)."""
    if not os.access(TOOLS[tool_of(kind)], os.X_OK):
        return False
    if kind == "nginx":
        return os.access("/usr/sbin/fcgiwrap", os.X_OK)
    if kind == "nginx-fastcgi":
        return os.access(SPAWN_FCGI, os.X_OK)
    if tool_of(kind) == "lighttpd":
        return os.path.exists("/usr/lib/lighttpd/mod_openssl.so")
    return True


def _as_root():
    return os.geteuid() == 0


def _web_user_ids():
    pw = pwd.getpwnam(WEB_USER)
    return pw.pw_uid, pw.pw_gid


class Server:
    """One server with its contrib/ file; kind is lighttpd, nginx or apache2."""

    def __init__(self, kind, rally_conf):
        self.kind = kind
        self.tool = tool_of(kind)
        self.dir = tempfile.mkdtemp(prefix=f"rally-{kind}-")
        os.chmod(self.dir, 0o755)
        self.logs_dir = os.path.join(self.dir, "log")
        os.mkdir(self.logs_dir)
        self.http_port, self.https_port = free_port(), free_port()
        self.rally_conf = rally_conf
        self.cgi = program("rally.cgi")
        self.conf = os.path.join(self.dir, f"{kind}.conf")
        self.proc = self.fcgiwrap = None
        self._certs()

    def _certs(self):
        d = os.path.join(self.dir, "tls")
        subprocess.run(["sh", str(SRCDIR / "tests" / "fakegoogle" / "mkcerts"), d],
                       check=True, capture_output=True)
        self.cert, self.key, self.ca = (os.path.join(d, n) for n in
                                        ("server.pem", "server.key", "ca.pem"))

    def example(self):
        name = EXAMPLES[self.kind]
        return str(CONTRIB / name)

    def _localise(self, text):
        """The example with scratch paths and ports; the rest untouched."""
        subst = [
            ("/usr/libexec/rally/rally.cgi", self.cgi),
            ("/usr/libexec/rally", os.path.dirname(self.cgi)),
            ("/etc/rally/rally.conf", self.rally_conf),
            ("/etc/ssl/rally/crm.example.com.pem", self.cert),
            ("/etc/ssl/rally/crm.example.com.key", self.key),
            ("/var/log/lighttpd/", self.logs_dir + "/"),
            ("/var/log/nginx/", self.logs_dir + "/"),
            ("/var/www/html", self.dir),
            ("/run/fcgiwrap.socket", self._fcgiwrap_socket()),
            ("/run/lighttpd/", self.logs_dir + "/"),
        ]
        for a, b in subst:
            text = text.replace(a, b)
        h, s = self.http_port, self.https_port
        ports = {
            "lighttpd": [(r"server\.port = 80\b", f'server.bind = "127.0.0.1"\nserver.port = {h}'),
                         (r'"\:443"', f'"127.0.0.1:{s}"')],
            "nginx": [(r"listen 80;", f"listen 127.0.0.1:{h};"),
                      (r"listen 443 ssl;", f"listen 127.0.0.1:{s} ssl;")],
            "apache2": [(r"<VirtualHost \*:80>", f"<VirtualHost 127.0.0.1:{h}>"),
                        (r"<VirtualHost \*:443>", f"<VirtualHost 127.0.0.1:{s}>")],
        }[self.tool]
        for pattern, repl in ports:
            text, n = re.subn(pattern, repl, text)
            assert n == 1, f"{self.example()}: expected one {pattern!r}"
        if self.tool == "lighttpd" and not _as_root():
            text = re.sub(r'^server\.(user|group)name = .*$', "", text, flags=re.M)
        return text

    def _main_config(self, site):
        """The server's main configuration around the example, as Debian's
        packages ship it (nginx.conf's http block, apache2.conf's modules)."""
        if self.tool == "lighttpd":
            return site
        if self.tool == "nginx":
            user = f"user {WEB_USER};\n" if _as_root() else ""
            return f"""{user}worker_processes 1;
pid {self.dir}/nginx.pid;
error_log {self.logs_dir}/error.log;
events {{ worker_connections 64; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    client_body_temp_path {self.dir}/client_body;
    fastcgi_temp_path {self.dir}/fastcgi;
    proxy_temp_path {self.dir}/proxy;
    uwsgi_temp_path {self.dir}/uwsgi;
    scgi_temp_path {self.dir}/scgi;
    access_log {self.logs_dir}/access.log;
{site}
}}
"""
        mods = ["mpm_event", "authz_core", "alias", "cgid", "env", "setenvif",
                "ssl", "socache_shmcb"]
        load = "".join(f"LoadModule {m}_module {APACHE_MODULES}/mod_{m}.so\n" for m in mods)
        user = f"User {WEB_USER}\nGroup {WEB_USER}\n" if _as_root() else ""
        return f"""Define APACHE_LOG_DIR {self.logs_dir}
ServerRoot {self.dir}
{load}{user}PidFile {self.dir}/apache2.pid
Mutex file:{self.dir}
DefaultRuntimeDir {self.dir}
ScriptSock {self.dir}/cgid.sock
ErrorLog {self.logs_dir}/error.log
LogFormat "%h %l %u %t \\"%r\\" %>s %O \\"%{{Referer}}i\\" \\"%{{User-Agent}}i\\"" combined
Listen 127.0.0.1:{self.http_port}
Listen 127.0.0.1:{self.https_port}
ServerName localhost
<Directory />
    AllowOverride None
    Require all denied
</Directory>
{site}
"""

    def write_config(self):
        with open(self.example()) as f:
            site = self._localise(f.read())
        with open(self.conf, "w") as f:
            f.write(self._main_config(site))
        if self.tool == "nginx":     # the site's "include fastcgi_params"
            shutil.copy("/etc/nginx/fastcgi_params", self.dir)
        if _as_root():
            uid, gid = _web_user_ids()
            os.chown(self.logs_dir, uid, gid)
        return self.conf

    def syntax_check(self):
        """The server's own configuration test: (ok, output)."""
        self.write_config()
        cmd = {"lighttpd": [TOOLS["lighttpd"], "-tt", "-f", self.conf],
               "nginx": [TOOLS["nginx"], "-t", "-p", self.dir, "-c", self.conf],
               "apache2": [TOOLS["apache2"], "-t", "-d", self.dir, "-f", self.conf]}[self.tool]
        r = subprocess.run(cmd, capture_output=True, text=True)
        return r.returncode == 0, r.stdout + r.stderr

    def start(self, timeout=15):
        self.write_config()
        self.out = open(os.path.join(self.dir, "server.out"), "w")
        if self.kind == "nginx":
            self._start_fcgiwrap()
        if self.kind == "nginx-fastcgi":
            self._spawn_fcgi()
        cmd = {"lighttpd": [TOOLS["lighttpd"], "-D", "-f", self.conf],
               "nginx": [TOOLS["nginx"], "-p", self.dir, "-c", self.conf,
                         "-g", "daemon off;"],
               "apache2": [TOOLS["apache2"], "-d", self.dir, "-f", self.conf,
                           "-DFOREGROUND"]}[self.tool]
        self.proc = subprocess.Popen(cmd, stdout=self.out, stderr=subprocess.STDOUT)
        self._wait_listening(self.proc, self.https_port, timeout)
        return self

    def _fcgiwrap_socket(self):
        """In a directory of the web server's user, as /run is for Debian's
        fcgiwrap.socket unit."""
        return os.path.join(self.logs_dir, "fcgiwrap.sock")

    def _start_fcgiwrap(self):
        sock = self._fcgiwrap_socket()
        cmd = ["/usr/sbin/fcgiwrap", "-f", "-c", "4", "-p", self.cgi, "-s", f"unix:{sock}"]
        as_user = {"user": WEB_USER, "group": WEB_USER, "extra_groups": []} if _as_root() else {}
        self.fcgiwrap = subprocess.Popen(cmd, stdout=self.out, stderr=subprocess.STDOUT,
                                         cwd=self.dir, **as_user)
        deadline = time.monotonic() + 10
        while not os.path.exists(sock):
            if self.fcgiwrap.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"fcgiwrap did not start:\n{self.logs()}")
            time.sleep(0.05)

    def _spawn_fcgi(self):
        """Two rally.cgi processes on the socket nginx passes to, as
        docs/cgi.md starts them; RALLY_CONFIG from spawn-fcgi's environment
        (nginx's fastcgi_param of it is not read under FastCGI)."""
        sock = self._fcgiwrap_socket()
        self.pidfile = os.path.join(self.dir, "spawn-fcgi.pid")
        cmd = [SPAWN_FCGI, "-s", sock, "-M", "0660", "-F", "2", "-P", self.pidfile]
        if _as_root():
            cmd += ["-u", WEB_USER, "-g", WEB_USER, "-U", WEB_USER, "-G", WEB_USER]
        subprocess.run(cmd + ["--", self.cgi], stdout=self.out, stderr=subprocess.STDOUT,
                       env=dict(os.environ, RALLY_CONFIG=self.rally_conf), check=True)

    def _stop_spawned(self):
        pidfile = getattr(self, "pidfile", None)
        if pidfile is None or not os.path.exists(pidfile):
            return
        with open(pidfile) as f:
            for pid in f.read().split():
                try:
                    os.kill(int(pid), signal.SIGTERM)
                except ProcessLookupError:
                    pass

    def _wait_listening(self, proc, port, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise AssertionError(f"{self.kind} exited {proc.returncode}:\n{self.logs()}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise AssertionError(f"{self.kind} not listening on {port}:\n{self.logs()}")

    def request(self, method, path, body=None, headers=None, tls=True, timeout=20,
                declare_length=None):
        """One request on a fresh connection.  declare_length: a
        Content-Length header of that size with no body sent, to see the
        server refuse it before reading."""
        if tls:
            ctx = ssl.create_default_context(cafile=self.ca)
            conn = http.client.HTTPSConnection("127.0.0.1", self.https_port, timeout=timeout,
                                               context=ctx)
        else:
            conn = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=timeout)
        try:
            hdrs = {"Host": "crm.example.com"}
            hdrs.update(headers or {})
            if body is None and method == "POST":
                body = b""
            if body is not None:
                hdrs.setdefault("Content-Length", str(len(body)))
            if declare_length is None:
                conn.request(method, path, body=body, headers=hdrs)
            else:
                conn.putrequest(method, path, skip_host=True)
                hdrs["Content-Length"] = str(declare_length)
                for k, v in hdrs.items():
                    conn.putheader(k, v)
                conn.endheaders()
            r = conn.getresponse()
            data = r.read()
            return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, data,
                            r.getheaders())
        finally:
            conn.close()

    def access_log(self):
        out = []
        for name in sorted(os.listdir(self.logs_dir)):
            if "access" in name:
                with open(os.path.join(self.logs_dir, name), errors="replace") as f:
                    out.append(f.read())
        return "".join(out)

    def logs(self):
        out = []
        for d in (self.logs_dir, self.dir):
            for name in sorted(os.listdir(d)):
                p = os.path.join(d, name)
                if os.path.isfile(p) and (name.endswith(".log") or name.endswith(".out")):
                    with open(p, errors="replace") as f:
                        out.append(f"== {name}\n{f.read()}")
        return "".join(out)

    def stop(self):
        for p in (self.proc, self.fcgiwrap):
            if p is not None and p.poll() is None:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        self._stop_spawned()
        if self.proc is not None:
            self.out.close()
        self.proc = self.fcgiwrap = None

    def close(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
