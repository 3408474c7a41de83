# SPDX-License-Identifier: ISC
"""What the emulator received: a bounded request log and counters for the admin API.

Credentials never enter the log: the Authorization header is not recorded at all and
credential-bearing query parameters are masked."""

import collections

from . import clock

MAX_ENTRIES = 20000
_SECRET_PARAMS = {"access_token", "oauth_token", "code", "code_verifier", "client_secret",
                  "refresh_token", "token"}


class RequestLog:
    def __init__(self):
        self.entries = collections.deque(maxlen=MAX_ENTRIES)
        self.counters = collections.Counter()
        self.seq = 0

    def record(self, method, path, query, status, route=None, fault=None, batch=False):
        self.seq += 1
        safe_query = {k: (["***"] * len(v) if k in _SECRET_PARAMS else v)
                      for k, v in query.items()}
        entry = {"seq": self.seq, "time": clock.rfc3339(clock.now()), "method": method,
                 "path": path, "query": safe_query, "status": status}
        if route is not None and route.name:
            entry["route"] = route.name
        if fault:
            entry["fault"] = fault
        if batch:
            entry["batch"] = True
        self.entries.append(entry)
        self.counters["requests"] += 1
        self.counters["status.%d" % status] += 1
        if route is not None and route.name:
            self.counters["route.%s" % route.name] += 1
        if fault:
            self.counters["fault.%s" % fault] += 1

    def since(self, seq):
        return [e for e in self.entries if e["seq"] > seq]
