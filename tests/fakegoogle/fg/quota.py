# SPDX-License-Identifier: ISC
"""Per-user and per-project quota in fixed one-second and one-minute windows.

Gmail charges each method its published unit cost (see the route table) and answers 429
when a user goes over; Calendar charges one unit per request and answers 403
usageLimits/rateLimitExceeded. Gmail's per-project limit (every user of the OAuth client
together: Google's 1,200,000 units a minute) answers 403 usageLimits/rateLimitExceeded, as
Google does for a project. All carry Retry-After (seconds until the window that overflowed
rolls over). A call refused is not charged."""

import math

from . import clock
from .errors import ApiError


class Quota:
    def __init__(self):
        self._windows = {}   # (api, sub, window_seconds) -> (window_start, used)
        self.rejected = 0
        self.project_rejected = 0
        self.gmail_units = 0     # charged, all users together

    def charge(self, api, sub, cost, settings):
        if api == "gmail":
            limits = ((sub, 1, settings["gmailUnitsPerSecond"]),
                      (sub, 60, settings["gmailUnitsPerMinute"]),
                      (None, 1, settings["gmailProjectUnitsPerSecond"]),
                      (None, 60, settings["gmailProjectUnitsPerMinute"]))
        else:
            limits = ((sub, 60, settings["calendarRequestsPerMinute"]),)
        now = clock.now()
        pending = []
        for who, seconds, limit in limits:
            start = math.floor(now / seconds) * seconds
            key = (api, who, seconds)
            window_start, used = self._windows.get(key, (start, 0))
            if window_start != start:
                used = 0
            if used + cost > limit:
                self.rejected += 1
                if who is None:
                    self.project_rejected += 1
                raise _exceeded(api, max(1, math.ceil(start + seconds - now)), who is None)
            pending.append((key, start, used + cost))
        for key, start, used in pending:
            self._windows[key] = (start, used)
        if api == "gmail":
            self.gmail_units += cost


def _exceeded(api, retry_after, project=False):
    headers = {"Retry-After": str(retry_after)}
    if api == "gmail" and project:
        return ApiError(403, "rateLimitExceeded", "Rate Limit Exceeded",
                        domain="usageLimits", headers=headers)
    if api == "gmail":
        return ApiError(429, "rateLimitExceeded", "User-rate limit exceeded.",
                        domain="usageLimits", headers=headers)
    return ApiError(403, "rateLimitExceeded", "Rate Limit Exceeded",
                    domain="usageLimits", headers=headers)
