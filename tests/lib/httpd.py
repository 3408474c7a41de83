#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""Scripted HTTP/1.1 server for tests/unit/test-http.

Generates a throwaway CA, a server certificate for localhost/127.0.0.1 signed
by it, and a second unrelated CA (for "wrong CA" tests) with the openssl CLI
in --dir, then serves the same behaviours over TLS and over plain HTTP on
127.0.0.1.  Prints "tls=PORT http=PORT" once both listen.  Exits when stdin
closes (the test died or finished) or after --max-seconds.

Behaviours, chosen by path:
  /ok                         200 "ok\\n" text/plain
  /echo                       200, the request's method, headers and body
  /big?n=BYTES                200 with BYTES bytes of 'x'
  /gzip?n=BYTES               200, BYTES of 'a' sent gzip-encoded
  /status/CODE                that status
  /flaky?key=K&n=N[&code=C]   C (503) the first N times for K, then 200
  /retry-after/S?key=K        429 with Retry-After: S the first time, then 200
  /slow?ms=MS                 200 after MS milliseconds
  /hang                       never answers
  /reset                      closes the connection without answering
  /garbage                    answers something that is not HTTP
  /redirect                   302 to /ok
  /count?key=K                how many requests K has seen
"""

import argparse
import gzip
import http.server
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse

MAX_BIG = 256 * 1024 * 1024

counters = {}
counters_lock = threading.Lock()


def hit(key):
    with counters_lock:
        counters[key] = counters.get(key, 0) + 1
        return counters[key]


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def make_certs(d):
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem",
            "-days", "2", "-subj", "/CN=rally test CA", cwd=d)
    openssl("req", "-x509", *ec, "-keyout", "other-ca.key", "-out", "other-ca.pem",
            "-days", "2", "-subj", "/CN=rally unrelated CA", cwd=d)
    openssl("req", *ec, "-keyout", "server.key", "-out", "server.csr",
            "-subj", "/CN=localhost", cwd=d)
    with open(os.path.join(d, "server.ext"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n"
                "basicConstraints=CA:FALSE\n"
                "keyUsage=digitalSignature\n"
                "extendedKeyUsage=serverAuth\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "server.pem", "-days", "2",
            "-extfile", "server.ext", cwd=d)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 60

    def log_message(self, fmt, *args):
        pass

    def setup(self):
        super().setup()
        if isinstance(self.connection, ssl.SSLSocket):
            # Handshake here, in the connection's thread, not in accept().
            self.connection.do_handshake()

    def send_text(self, code, body, ctype="text/plain", headers=()):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def read_body(self):
        n = int(self.headers.get("Content-Length", "0"))
        return self.rfile.read(n) if n > 0 else b""

    def dispatch(self):
        url = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(url.query))
        body = self.read_body()
        parts = url.path.strip("/").split("/")
        route = getattr(self, "r_" + parts[0].replace("-", "_"), None)
        if route is None:
            self.send_text(404, "no such behaviour\n")
            return
        route(parts[1:], q, body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = dispatch

    def r_ok(self, args, q, body):
        self.send_text(200, "ok\n")

    def r_echo(self, args, q, body):
        lines = ["method=" + self.command, "path=" + self.path]
        for k in ("Authorization", "Content-Type", "X-Test", "Expect",
                  "Accept-Encoding", "Content-Length", "User-Agent"):
            lines.append("%s=%s" % (k.lower(), self.headers.get(k, "")))
        lines.append("body=" + body.decode("utf-8", "replace"))
        self.send_text(200, "\n".join(lines) + "\n")

    def r_big(self, args, q, body):
        n = min(int(q.get("n", "0")), MAX_BIG)
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(n))
        self.end_headers()
        chunk = b"x" * 65536
        while n > 0:
            self.wfile.write(chunk[:n])
            n -= min(n, len(chunk))

    def r_gzip(self, args, q, body):
        n = min(int(q.get("n", "0")), MAX_BIG)
        data = gzip.compress(b"a" * n)
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def r_status(self, args, q, body):
        code = int(args[0]) if args and args[0].isdigit() else 500
        self.send_text(code, "status %d\n" % code)

    def r_flaky(self, args, q, body):
        n = hit("flaky:" + q.get("key", ""))
        if n <= int(q.get("n", "1")):
            code = int(q.get("code", "503"))
            self.send_text(code, "failure %d\n" % n)
        else:
            self.send_text(200, "ok after %d\n" % (n - 1))

    def r_retry_after(self, args, q, body):
        n = hit("retry-after:" + q.get("key", ""))
        if n == 1:
            self.send_text(429, "slow down\n",
                           headers=[("Retry-After", args[0] if args else "1")])
        else:
            self.send_text(200, "ok after %d\n" % (n - 1))

    def r_count(self, args, q, body):
        with counters_lock:
            n = sum(v for k, v in counters.items() if k.endswith(":" + q.get("key", "")))
        self.send_text(200, "%d\n" % n)

    def r_slow(self, args, q, body):
        time.sleep(min(int(q.get("ms", "500")), 30000) / 1000.0)
        self.send_text(200, "slow\n")

    def r_hang(self, args, q, body):
        time.sleep(120)
        self.close_connection = True

    def r_reset(self, args, q, body):
        self.close_connection = True
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                   b"\x01\x00\x00\x00\x00\x00\x00\x00")

    def r_garbage(self, args, q, body):
        self.close_connection = True
        self.wfile.write(b"this is not HTTP at all\r\n\r\n")

    def r_redirect(self, args, q, body):
        self.send_text(302, "moved\n", headers=[("Location", "/ok")])


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256
    tls = None

    def get_request(self):
        sock, addr = self.socket.accept()
        if self.tls is not None:
            sock = self.tls.wrap_socket(sock, server_side=True,
                                        do_handshake_on_connect=False)
        return sock, addr

    def handle_error(self, request, client_address):
        pass  # resets and refused handshakes are what the tests provoke


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True, help="where certificates are written")
    ap.add_argument("--max-seconds", type=float, default=120)
    a = ap.parse_args()

    make_certs(a.dir)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(a.dir, "server.pem"), os.path.join(a.dir, "server.key"))
    ctx.set_alpn_protocols(["http/1.1"])

    tls = Server(("127.0.0.1", 0), Handler)
    tls.tls = ctx
    plain = Server(("127.0.0.1", 0), Handler)
    for s in (tls, plain):
        threading.Thread(target=s.serve_forever, daemon=True).start()
    print("tls=%d http=%d" % (tls.server_address[1], plain.server_address[1]), flush=True)

    def watch_stdin():
        sys.stdin.buffer.read()
        os._exit(0)

    threading.Thread(target=watch_stdin, daemon=True).start()
    time.sleep(a.max_seconds)
    os._exit(0)


if __name__ == "__main__":
    main()
