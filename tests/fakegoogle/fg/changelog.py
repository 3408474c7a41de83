# SPDX-License-Identifier: ISC
"""An append-only change log with numbered entries and a horizon.

Calendar sync tokens and Gmail history ids are positions in such a log: a client that holds
position P asks for everything after P. Positions older than the horizon (trimmed away, or
expired by the admin API) can no longer be served, which is what makes Calendar answer 410
and Gmail answer 404."""

import bisect


class Expired(Exception):
    pass


class ChangeLog:
    def __init__(self, start=1, max_entries=100000):
        self.last_id = start
        self.horizon = start  # positions < horizon are gone
        self.max_entries = max_entries
        self._ids = []
        self._payloads = []

    def append(self, payload):
        self.last_id += 1
        self._ids.append(self.last_id)
        self._payloads.append(payload)
        if len(self._ids) > self.max_entries:
            self._trim(len(self._ids) - self.max_entries)
        return self.last_id

    def _trim(self, count):
        self.horizon = self._ids[count - 1]
        del self._ids[:count]
        del self._payloads[:count]

    def is_valid(self, position):
        return self.horizon <= position <= self.last_id

    def since(self, position):
        """[(id, payload)] for entries after `position`; Expired if it predates the horizon."""
        if not self.is_valid(position):
            raise Expired(position)
        start = bisect.bisect_right(self._ids, position)
        return list(zip(self._ids[start:], self._payloads[start:]))

    def expire(self):
        """Invalidate every position handed out so far (admin: expire sync tokens/history)."""
        self.last_id += 1
        self.horizon = self.last_id
        self._ids.clear()
        self._payloads.clear()
