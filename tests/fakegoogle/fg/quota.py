# SPDX-License-Identifier: ISC
"""Per-user quota in fixed one-second and one-minute windows.

Gmail charges each method its published unit cost (see the route table) and answers 429;
Calendar charges one unit per request and answers 403 usageLimits/rateLimitExceeded, which is
what each service sends when a user goes over. Both carry Retry-After (seconds until the
window that overflowed rolls over)."""

import math

from . import clock
from .errors import ApiError


class Quota:
    def __init__(self):
        self._windows = {}   # (api, sub, window_seconds) -> (window_start, used)
        self.rejected = 0

    def charge(self, api, sub, cost, settings):
        if api == "gmail":
            limits = ((1, settings["gmailUnitsPerSecond"]), (60, settings["gmailUnitsPerMinute"]))
        else:
            limits = ((60, settings["calendarRequestsPerMinute"]),)
        now = clock.now()
        pending = []
        for seconds, limit in limits:
            start = math.floor(now / seconds) * seconds
            key = (api, sub, seconds)
            window_start, used = self._windows.get(key, (start, 0))
            if window_start != start:
                used = 0
            if used + cost > limit:
                self.rejected += 1
                raise _exceeded(api, max(1, math.ceil(start + seconds - now)))
            pending.append((key, start, used + cost))
        for key, start, used in pending:
            self._windows[key] = (start, used)


def _exceeded(api, retry_after):
    headers = {"Retry-After": str(retry_after)}
    if api == "gmail":
        return ApiError(429, "rateLimitExceeded", "User-rate limit exceeded.",
                        domain="usageLimits", headers=headers)
    return ApiError(403, "rateLimitExceeded", "Rate Limit Exceeded",
                    domain="usageLimits", headers=headers)
