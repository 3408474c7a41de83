# SPDX-License-Identifier: ISC
"""The HTTP(S) front end: a threaded HTTP/1.1 keep-alive server that reads requests with size
limits, applies injected faults, hands requests to the dispatcher, logs them and writes
responses with an exact Content-Length.

TLS is negotiated in the connection's own thread (not in accept()), so a slow or broken client
cannot stall the listener."""

import email.utils
import socket
import ssl
import struct
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .dispatch import dispatch
from .errors import ApiError, backend_error, bad_request
from .http import QueryError, Request, Response, error_response

SMALL_BODY_MAX = 1024 * 1024              # OAuth and Calendar bodies
LARGE_BODY_MAX = 50 * 1024 * 1024         # Gmail raw messages (35 MB) in base64, admin delivery
LARGE_BODY_PREFIXES = ("/upload/", "/gmail/", "/batch", "/__admin/")
HANDSHAKE_TIMEOUT = 10
IDLE_TIMEOUT = 120
GARBAGE = b"<html><body>\x00\xff upstream connect error or disconnect/reset before headers"


class BodyError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address, state, router, ssl_context):
        self.state = state
        self.router = router
        self.ssl_context = ssl_context
        super().__init__(address, Handler)

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, (ssl.SSLError, ConnectionError, socket.timeout, TimeoutError)):
            return          # clients hanging up or failing TLS are not emulator errors
        sys.stderr.write("fakegoogle: connection error from %s: %r\n" % (client_address, exc))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ESF"
    sys_version = ""
    timeout = IDLE_TIMEOUT

    def setup(self):
        if self.server.ssl_context is not None:
            self.request.settimeout(HANDSHAKE_TIMEOUT)
            self.request = self.server.ssl_context.wrap_socket(self.request, server_side=True)
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().setup()

    def log_message(self, format, *args):   # noqa: A002  - the request log replaces this
        pass

    def do_GET(self):
        self._serve()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    # -- one request ---------------------------------------------------------------------

    def _serve(self):
        state = self.server.state
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            body = self._read_body(headers)
        except BodyError as exc:
            self.close_connection = True
            self._write(error_response(ApiError(exc.status, "invalid", str(exc))))
            return
        try:
            req = Request(self.command, self.path, headers, body)
        except QueryError as exc:
            self._write(error_response(bad_request("Invalid query string: %s" % exc)))
            return
        fault = None
        if not req.path.startswith("/__admin/"):
            with state.lock:
                fault = state.faults.match(req.method, req.path)
        if fault is not None and fault.kind == "latency":
            time.sleep(fault.latency_ms / 1000.0)
        if fault is not None and fault.kind == "reset":
            self._record(req, 0, None, fault)
            self._reset_connection()
            return
        if fault is not None and fault.kind in ("429", "500", "503"):
            response, route = _fault_response(fault), None
        else:
            response, route = dispatch(state, self.server.router, req)
        if fault is not None and fault.kind == "garbage":
            response = Response(fault.status, GARBAGE, "application/json; charset=UTF-8")
        if fault is not None and fault.kind in ("cut", "rewrite"):
            response.body = fault.edit(response.body)
        self._record(req, response.status, route, fault)
        self._write(response, truncate=fault is not None and fault.kind == "truncate")

    def _record(self, req, status, route, fault):
        if req.path.startswith("/__admin/"):
            return      # the log shows what the program under test sent, not the test's set-up
        state = self.server.state
        with state.lock:
            state.log.record(req.method, req.path, req.query, status, route,
                             fault.kind if fault is not None else None)

    def _read_body(self, headers):
        limit = LARGE_BODY_MAX if self.path.startswith(LARGE_BODY_PREFIXES) else SMALL_BODY_MAX
        if "chunked" in headers.get("transfer-encoding", "").lower():
            return self._read_chunked(limit)
        length = headers.get("content-length")
        if length is None:
            return b""
        if not length.isdigit():
            raise BodyError(400, "Invalid Content-Length")
        length = int(length)
        if length > limit:
            raise BodyError(413, "Request body too large (limit %d bytes)" % limit)
        body = self.rfile.read(length)
        if len(body) != length:
            raise BodyError(400, "Request body shorter than Content-Length")
        return body

    def _read_chunked(self, limit):
        chunks, total = [], 0
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise BodyError(400, "Invalid chunked encoding") from None
            if size == 0:
                break
            total += size
            if total > limit:
                raise BodyError(413, "Request body too large (limit %d bytes)" % limit)
            chunks.append(self.rfile.read(size))
            self.rfile.readline(16)
        for _ in range(100):      # trailers, ignored
            if self.rfile.readline(65537) in (b"\r\n", b"\n", b""):
                break
        return b"".join(chunks)

    def _write(self, response, truncate=False):
        lines = ["HTTP/1.1 %d %s" % (response.status, self.responses.get(response.status, ("",))[0]),
                 "Date: " + email.utils.formatdate(usegmt=True),
                 "Server: ESF",
                 "Content-Length: %d" % len(response.body)]
        if response.content_type:
            lines.append("Content-Type: " + response.content_type)
        for name, value in response.headers.items():
            lines.append("%s: %s" % (name, value))
        if self.close_connection or truncate:
            lines.append("Connection: close")
        body = response.body[:len(response.body) // 2] if truncate else response.body
        try:
            self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        except (ConnectionError, ssl.SSLError, socket.timeout):
            self.close_connection = True
        if truncate:
            # A plain close after half the body: the client reads a short body, then EOF.
            self.close_connection = True

    def _reset_connection(self):
        """Drop the connection with a TCP RST (SO_LINGER 0), as a flaky network would."""
        self.close_connection = True
        try:
            self.request.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            raw = self.request.detach() if isinstance(self.request, ssl.SSLSocket) else None
            if raw is not None:
                socket.socket(fileno=raw).close()
            else:
                self.request.close()
        except OSError:
            pass


def _fault_response(fault):
    if fault.kind == "429":
        err = ApiError(429, "rateLimitExceeded", "Too many concurrent requests for user.",
                       domain="usageLimits", headers={"Retry-After": str(fault.retry_after)})
        return error_response(err)
    return error_response(backend_error(int(fault.kind)))
