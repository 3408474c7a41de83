# SPDX-License-Identifier: ISC
"""The batch endpoints (/batch/gmail/v1, /batch/calendar/v3, and Gmail's short /batch):
a multipart/mixed body whose parts are `application/http` requests, answered with a
multipart/mixed body whose parts are HTTP responses with `Content-ID: <response-...>`.

Each inner request runs through the same dispatcher as a top-level one, so it is checked,
charged quota and logged on its own, as Google does."""

import re

from .errors import ApiError, bad_request
from .http import Request, Response, error_response
from .routes import Route

MAX_PARTS = 100
_BOUNDARY = re.compile(r'boundary="?([^";]+)"?', re.I)
_REASONS = {200: "OK", 204: "No Content", 400: "Bad Request", 401: "Unauthorized",
            403: "Forbidden", 404: "Not Found", 409: "Conflict", 410: "Gone",
            412: "Precondition Failed", 429: "Too Many Requests", 500: "Internal Server Error",
            503: "Service Unavailable"}


def _split_parts(body, boundary):
    delimiter = b"--" + boundary.encode("latin-1")
    chunks = body.split(delimiter)
    parts = []
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):
            break
        parts.append(chunk.strip(b"\r\n"))
    return parts


def _head_and_body(data):
    for sep in (b"\r\n\r\n", b"\n\n"):
        if sep in data:
            head, body = data.split(sep, 1)
            return head.decode("latin-1").replace("\r\n", "\n").split("\n"), body
    return data.decode("latin-1").replace("\r\n", "\n").split("\n"), b""


def _header_map(lines):
    out = {}
    for line in lines:
        name, sep, value = line.partition(":")
        if sep:
            out[name.strip().lower()] = value.strip()
    return out


def _inner_request(part, outer):
    part_head, http = _head_and_body(part)
    part_headers = _header_map(part_head)
    lines, body = _head_and_body(http.lstrip(b"\r\n"))
    request_line = lines[0].split() if lines else []
    if len(request_line) < 2:
        raise bad_request("Batch part has no HTTP request line.")
    method, target = request_line[0].upper(), request_line[1]
    target = re.sub(r"^https?://[^/]+", "", target)
    headers = _header_map(lines[1:])
    if "authorization" not in headers and outer.header("authorization"):
        headers["authorization"] = outer.header("authorization")
    body = body.rstrip(b"\r\n") if "content-length" not in headers else \
        body[:_int(headers["content-length"])]
    return part_headers.get("content-id"), Request(method, target, headers, body)


def _int(text):
    try:
        return max(0, int(text))
    except ValueError:
        return 0


def _render_part(content_id, response):
    head = ["HTTP/1.1 %d %s" % (response.status, _REASONS.get(response.status, "Status"))]
    if response.content_type:
        head.append("Content-Type: %s" % response.content_type)
    for name, value in response.headers.items():
        head.append("%s: %s" % (name, value))
    head.append("Content-Length: %d" % len(response.body))
    outer = ["Content-Type: application/http"]
    if content_id:
        outer.append("Content-ID: <response-%s>" % content_id.strip("<>"))
    return ("\r\n".join(outer) + "\r\n\r\n" + "\r\n".join(head) + "\r\n\r\n").encode("latin-1") \
        + response.body


def _faulted(fault):
    """(Response, None) for an inner request an inBatch fault answers; None otherwise
    (omit runs the request, charging its quota, and leaves its answer out)."""
    from .server import GARBAGE, _fault_response
    if fault is None or fault.kind == "omit":
        return None
    if fault.kind == "garbage":
        return Response(fault.status, GARBAGE, "application/json; charset=UTF-8"), None
    return _fault_response(fault), None


def make_handler(router, dispatch, record, api_kind):
    """A batch route handler bound to the router and the request log."""
    def handle(state, req, _params):
        match = _BOUNDARY.search(req.header("content-type", ""))
        if not req.header("content-type", "").lower().startswith("multipart/mixed") or not match:
            raise bad_request("Batch requests must be multipart/mixed with a boundary.")
        parts = _split_parts(req.body, match.group(1))
        if not parts:
            raise bad_request("Batch request has no parts.")
        if len(parts) > MAX_PARTS:
            raise bad_request("Too many requests in batch (max %d)." % MAX_PARTS)
        boundary = "batch_" + state.ids.urlsafe(20)
        out = []
        for part in parts:
            content_id = None
            try:
                content_id, inner = _inner_request(part, req)
                if not inner.path.startswith("/%s/" % api_kind) and \
                        not inner.path.startswith("/upload/%s/" % api_kind):
                    raise ApiError(404, "notFound", "Batch part is not a %s request." % api_kind)
                with state.lock:
                    fault = state.faults.match(inner.method, inner.path, in_batch=True)
                response, route = _faulted(fault) or dispatch(state, router, inner)
                record(inner, response.status, route, batch=True)
                if fault is not None and fault.kind == "omit":
                    continue
            except ApiError as err:
                response = error_response(err)
            out.append(b"--" + boundary.encode() + b"\r\n" + _render_part(content_id, response))
        body = b"\r\n".join(out) + b"\r\n--" + boundary.encode() + b"--\r\n"
        return Response(200, body, "multipart/mixed; boundary=%s" % boundary)
    return handle


def routes(router, dispatch, record):
    gmail = make_handler(router, dispatch, record, "gmail/v1")
    calendar = make_handler(router, dispatch, record, "calendar/v3")
    return [Route("POST", "batch/gmail/v1", gmail, "batch"),
            Route("POST", "batch", gmail, "batch"),
            Route("POST", "batch/calendar/v3", calendar, "batch")]
