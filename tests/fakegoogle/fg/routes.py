# SPDX-License-Identifier: ISC
"""The route table: which handler serves which verb and path template.

A template uses Google's discovery syntax ("gmail/v1/users/{userId}/messages/{id}"), so the
conformance test can compare this table with the discovery documents one to one. A parameter
whose name starts with '+' (e.g. {+path}) is not supported; none of ours need it."""

import re
import urllib.parse

# Query parameters every Google API method accepts (discovery "parameters" at the top level
# of both documents, plus the legacy ones the front end still honours).
STANDARD_PARAMS = frozenset({
    "alt", "fields", "key", "prettyPrint", "quotaUser", "oauth_token", "access_token",
    "userIp", "upload_protocol", "uploadType", "callback", "$.xgafv",
})


class Route:
    def __init__(self, method, template, handler, kind, name=None, params=(), scopes=(),
                 cost=1, root="/"):
        self.method = method
        self.template = template
        self.handler = handler
        self.kind = kind            # "calendar", "gmail", "oauth", "admin", "batch"
        self.name = name            # discovery method id, e.g. "gmail.users.messages.get"
        self.params = frozenset(params)
        self.scopes = frozenset(scopes)
        self.cost = cost
        self.root = root
        self.path_params = re.findall(r"{([^}]+)}", template)
        pattern = re.sub(r"\\{([^}]+)\\}", lambda m: "(?P<%s>[^/]+)" % _group(m.group(1)),
                         re.escape(root + template))
        self.regex = re.compile("^" + pattern + "$")

    def match(self, path):
        m = self.regex.match(path)
        if not m:
            return None
        return {name: urllib.parse.unquote(m.group(_group(name))) for name in self.path_params}

    def describe(self):
        return {"method": self.method, "path": self.root + self.template, "kind": self.kind,
                "name": self.name, "params": sorted(self.params), "cost": self.cost,
                "scopes": sorted(self.scopes)}


def _group(name):
    return re.sub(r"\W", "_", name)


class Router:
    def __init__(self):
        self.routes = []

    def add(self, route):
        self.routes.append(route)

    def extend(self, routes):
        for route in routes:
            self.add(route)

    def match(self, method, path):
        """(route, path_params) or (None, path_known): path_known tells 404 from 405."""
        path_known = False
        for route in self.routes:
            params = route.match(path)
            if params is None:
                continue
            if route.method == method:
                return route, params
            path_known = True
        return None, path_known
