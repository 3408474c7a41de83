# SPDX-License-Identifier: ISC
"""Request and Response values passed between the server, the dispatcher and handlers.

Handlers never touch sockets: they get a parsed Request and return a Response, which lets the
batch endpoint run inner requests through exactly the same code as top-level ones."""

import json
import urllib.parse

from .errors import ApiError, bad_request

JSON_TYPE = "application/json; charset=UTF-8"
MAX_FORM_FIELDS = 100


class Request:
    def __init__(self, method, target, headers, body=b""):
        self.method = method
        self.target = target
        split = urllib.parse.urlsplit(target)
        self.path = split.path
        self.raw_query = split.query
        self.query = parse_query(split.query)
        self.headers = headers      # {lower-case name: value}
        self.body = body

    def header(self, name, default=None):
        return self.headers.get(name.lower(), default)

    def json(self, required=True):
        """The body as a JSON object; a clear 400 otherwise."""
        if not self.body.strip():
            if required:
                raise bad_request("Request body is required.", reason="required")
            return {}
        try:
            value = json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise ApiError(400, "parseError", "Invalid JSON payload received. %s" % exc) from None
        if not isinstance(value, dict):
            raise ApiError(400, "parseError", "Invalid JSON payload received. Expected an object.")
        return value

    def form(self):
        """application/x-www-form-urlencoded fields, first value of each."""
        try:
            text = self.body.decode("utf-8")
        except UnicodeDecodeError:
            return {}
        fields = urllib.parse.parse_qsl(text, keep_blank_values=True,
                                        max_num_fields=MAX_FORM_FIELDS)
        out = {}
        for name, value in fields:
            out.setdefault(name, value)
        return out


class QueryError(ValueError):
    pass


def parse_query(raw):
    try:
        pairs = urllib.parse.parse_qsl(raw, keep_blank_values=True, max_num_fields=200)
    except ValueError as exc:
        raise QueryError(str(exc)) from None
    query = {}
    for name, value in pairs:
        query.setdefault(name, []).append(value)
    return query


class Response:
    def __init__(self, status=200, body=b"", content_type=JSON_TYPE, headers=None):
        self.status = status
        self.body = body
        self.content_type = content_type
        self.headers = dict(headers or {})


def dumps(obj):
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def json_response(obj, status=200, headers=None):
    return Response(status, dumps(obj), JSON_TYPE, headers)


def empty_response(status=204):
    return Response(status, b"", None)


def html_response(html, status=200):
    return Response(status, html.encode("utf-8"), "text/html; charset=utf-8")


def redirect(location):
    return Response(302, b"", None, {"Location": location})


def error_response(err):
    """Render an ApiError (REST) as Google does."""
    return json_response(err.body(), err.code, err.headers)
