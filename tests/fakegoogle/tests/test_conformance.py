# SPDX-License-Identifier: ISC
"""Every API route the emulator serves matches a method in Google's discovery documents: the
same verb, path template, parameter names (a subset) and scopes (a subset). And an unknown
query parameter is a 400 on every route, as at Google."""

import json
import re
from pathlib import Path

import pytest

DISCOVERY = Path("/work/shared/google/discovery")
if not DISCOVERY.is_dir():      # in a checkout, shared/ sits beside the repository
    DISCOVERY = Path(__file__).resolve().parents[4] / "shared" / "google" / "discovery"
STANDARD = {"alt", "fields", "key", "prettyPrint", "quotaUser", "oauth_token", "access_token",
            "userIp", "upload_protocol", "uploadType", "callback", "$.xgafv"}


def _methods():
    out = {}
    for name in ("calendar-v3.json", "gmail-v1.json"):
        doc = json.loads((DISCOVERY / name).read_text())
        base = "/" + doc["servicePath"]

        def walk(resources):
            for resource in resources.values():
                for method in resource.get("methods", {}).values():
                    out[method["id"]] = (method, base)
                walk(resource.get("resources", {}))
        walk(doc["resources"])
    return out


@pytest.fixture(scope="module")
def routes(emulator):
    listed = emulator.admin("GET", "routes")["routes"]
    return [r for r in listed if r["kind"] in ("calendar", "gmail")]


def test_every_api_route_matches_discovery(routes):
    methods = _methods()
    assert len(routes) >= 24
    for route in routes:
        method, base = methods[route["name"]]
        paths = {base + method["path"]}
        upload = method.get("mediaUpload", {}).get("protocols", {}).get("simple", {})
        if upload:
            paths.add(upload["path"])
        assert route["method"] == method["httpMethod"], route
        assert route["path"] in paths, route
        declared = set(method.get("parameters", {}))
        assert set(route["params"]) <= declared, (route["name"], set(route["params"]) - declared)
        path_params = set(re.findall(r"{([^}]+)}", route["path"]))
        required = {n for n, p in method.get("parameters", {}).items() if p["location"] == "path"}
        assert path_params == required, route
        assert set(route["scopes"]) <= set(method.get("scopes", [])), route["name"]


def test_the_methods_rally_uses_are_all_served(routes):
    served = {r["name"] for r in routes}
    needed = {"calendar.events.%s" % m for m in
              ("list", "get", "insert", "update", "patch", "delete", "watch")}
    needed |= {"calendar.channels.stop", "gmail.users.getProfile", "gmail.users.watch",
               "gmail.users.stop", "gmail.users.history.list", "gmail.users.labels.list",
               "gmail.users.labels.get", "gmail.users.labels.create",
               "gmail.users.messages.attachments.get"}
    needed |= {"gmail.users.messages.%s" % m for m in
               ("list", "get", "send", "modify", "trash", "untrash", "delete", "batchModify")}
    assert needed <= served


def test_unknown_query_parameter_is_400_on_every_route(fg, routes):
    token = fg.token(scopes=("https://www.googleapis.com/auth/calendar",
                             "https://mail.google.com/"))
    for route in routes:
        path = re.sub(r"{[^}]+}", "x", route["path"]).replace("users/x/", "users/me/")
        resp = fg.api(route["method"], path, token, params={"notAParameter": "1"},
                      body={} if route["method"] in ("POST", "PUT", "PATCH") else None)
        assert resp.status == 400, (route, resp)
        assert "notAParameter" in resp.json()["error"]["message"]


def test_standard_parameters_are_always_accepted(fg):
    token = fg.token()
    params = {"alt": "json", "prettyPrint": "false", "quotaUser": "u1", "fields": "items",
              "key": "k", "$.xgafv": "2"}
    assert fg.api("GET", "/calendar/v3/calendars/primary/events", token, params=params).status == 200
    assert fg.api("GET", "/gmail/v1/users/me/profile", token, params=params).status == 200
