# SPDX-License-Identifier: ISC
"""Google's error bodies, raised as exceptions by handlers and rendered by the server.

Every REST error leaves the emulator in the shape of Google's JSON error envelope, so the
client under test exercises the same parsing code it runs against the real service."""

_STATUS_NAMES = {
    400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
    404: "NOT_FOUND", 409: "ALREADY_EXISTS", 410: "FAILED_PRECONDITION",
    412: "FAILED_PRECONDITION", 413: "INVALID_ARGUMENT", 429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL", 503: "UNAVAILABLE",
}


class ApiError(Exception):
    """A REST API error: `{"error": {"code", "message", "errors": [...], "status"}}`."""

    def __init__(self, code, reason, message, domain="global", headers=None,
                 location=None, location_type=None, status=True):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.domain = domain
        self.headers = headers or {}
        self.location = location
        self.location_type = location_type
        # Calendar's 410 fullSyncRequired body has no "status" member (API.md quotes it).
        self.with_status = status

    def body(self):
        item = {"domain": self.domain, "reason": self.reason, "message": self.message}
        if self.location_type:
            item["locationType"] = self.location_type
        if self.location:
            item["location"] = self.location
        err = {"errors": [item], "code": self.code, "message": self.message}
        if self.with_status:
            err["status"] = _STATUS_NAMES.get(self.code, "UNKNOWN")
        return {"error": err}


class OAuthError(Exception):
    """An OAuth endpoint error: `{"error": "...", "error_description": "..."}`."""

    def __init__(self, code, error, description):
        super().__init__(description)
        self.code = code
        self.error = error
        self.description = description

    def body(self):
        return {"error": self.error, "error_description": self.description}


def bad_request(message, reason="invalid", location=None):
    return ApiError(400, reason, message, location=location,
                    location_type="parameter" if location else None)


def not_found(message="Not Found"):
    return ApiError(404, "notFound", message)


def unknown_parameter(name):
    # The wording Google's front end uses for a query parameter no method declares.
    msg = ('Invalid JSON payload received. Unknown name "%s": Cannot bind query parameter. '
           "Field '%s' could not be found in request message." % (name, name))
    return ApiError(400, "invalid", msg)


def invalid_credentials():
    return ApiError(
        401, "authError", "Invalid Credentials",
        location="Authorization", location_type="header",
        headers={"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/", '
                                     'error="invalid_token"'})


def insufficient_permissions():
    return ApiError(403, "insufficientPermissions", "Request had insufficient authentication scopes.")


def backend_error(code=500):
    if code == 503:
        return ApiError(503, "backendError", "The service is currently unavailable.")
    return ApiError(500, "backendError", "Backend Error")
