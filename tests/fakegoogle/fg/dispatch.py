# SPDX-License-Identifier: ISC
"""The request pipeline shared by top-level and batched requests.

For an API route: reject unknown query parameters (400, as Google's front end does), check
the bearer token (401) and its scopes (403), charge quota (429/403), then run the handler.
OAuth and admin routes skip all of that. Whatever a handler raises becomes Google's error
JSON; anything unexpected is a 500 backendError, logged with its traceback to stderr."""

import sys
import traceback

from .errors import ApiError, insufficient_permissions, invalid_credentials, unknown_parameter
from .http import Response, error_response, json_response
from .routes import STANDARD_PARAMS


class ApiContext:
    """What an API handler sees."""

    def __init__(self, state, req, route, path_params, account, token):
        self.state = state
        self.req = req
        self.route = route
        self.p = path_params
        self.q = req.query
        self.account = account
        self.token = token


def dispatch(state, router, req):
    """(Response, route or None) for a parsed request."""
    route, path_params = router.match(req.method, req.path)
    if route is None:
        if path_params:
            return error_response(ApiError(405, "methodNotAllowed", "Method Not Allowed")), None
        return error_response(ApiError(404, "notFound", "Not Found")), None
    try:
        if route.kind in ("oauth", "admin", "batch"):
            return route.handler(state, req, path_params), route
        return _api(state, route, req, path_params), route
    except ApiError as err:
        return error_response(err), route
    except Exception:  # noqa: BLE001  - a handler bug must not kill the connection thread
        sys.stderr.write("fakegoogle: handler error for %s %s\n%s" % (
            req.method, req.path, traceback.format_exc()))
        sys.stderr.flush()
        return error_response(ApiError(500, "backendError", "Backend Error")), route


def bearer_token(req):
    auth = req.header("authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    for name in ("access_token", "oauth_token"):
        if name in req.query:
            return req.query[name][0]
    return None


def _api(state, route, req, path_params):
    for name in req.query:
        if name not in route.params and name not in STANDARD_PARAMS:
            raise unknown_parameter(name[:100])
    with state.lock:
        token = state.oauth.access_info(bearer_token(req))
        if token is None:
            raise invalid_credentials()
        if route.scopes and not route.scopes & set(token.scopes):
            raise insufficient_permissions()
        account = state.accounts_by_sub[token.sub]
        state.quota.charge(route.kind, account.sub, route.cost, state.settings)
        result = route.handler(ApiContext(state, req, route, path_params, account, token))
    if isinstance(result, Response):
        return result
    return json_response(result)
