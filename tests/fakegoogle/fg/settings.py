# SPDX-License-Identifier: ISC
"""Tunable behaviour, read and changed through POST /__admin/settings.

Defaults follow Google where Google publishes a number; quota defaults are 100x Google's
per-user limits so that ordinary tests never trip them unless they lower them on purpose."""

DEFAULTS = {
    # OAuth
    "accessTokenLifetime": 3599,      # seconds, Google's expires_in
    "authCodeLifetime": 600,          # seconds an authorization code stays exchangeable
    # Pagination: every Nth page is short (half of maxResults) or empty; 0 disables.
    "pageShortEvery": 0,
    "pageEmptyEvery": 0,
    # Change logs: entries kept before the oldest positions expire (410 / 404).
    "calendarChangeLogMax": 100000,
    "gmailHistoryMax": 100000,
    # Calendar expansion of open-ended series with singleEvents=true.
    "instanceHorizonDays": 730,
    "instanceMaxPerSeries": 1000,
    # Gmail: leaf parts bigger than this are only reachable through attachmentId.
    "attachmentInlineMax": 262144,
    # Quota per user. Gmail counts units (Google: 250/s, 15000/min); Calendar counts requests.
    "gmailUnitsPerSecond": 25000,
    "gmailUnitsPerMinute": 1500000,
    "calendarRequestsPerMinute": 60000,
    # Gmail quota per project (every user together; Google: 1,200,000/min), also 100x.
    "gmailProjectUnitsPerSecond": 2000000,
    "gmailProjectUnitsPerMinute": 120000000,
    # Push delivery.
    "pushAttempts": 5,
    "pushBackoffSeconds": 0.5,
    "pushTimeoutSeconds": 5.0,
    "pubsubMinIntervalSeconds": 1.0,
}

_LIMITS = {
    "pageEmptyEvery": (0, 1000),   # 1 would mean every page is empty: an endless listing
    "pageShortEvery": (0, 1000),
}


class SettingsError(ValueError):
    pass


def validate(changes):
    """Checked copy of a settings change; raises SettingsError naming the bad key."""
    if not isinstance(changes, dict):
        raise SettingsError("settings must be a JSON object")
    out = {}
    for key, value in changes.items():
        if key not in DEFAULTS:
            raise SettingsError("unknown setting %r" % key)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SettingsError("setting %r must be a number" % key)
        if value < 0:
            raise SettingsError("setting %r must not be negative" % key)
        if key == "pageEmptyEvery" and value == 1:
            raise SettingsError("pageEmptyEvery=1 would never finish a listing; use 0 or >= 2")
        low, high = _LIMITS.get(key, (0, float("inf")))
        if not low <= value <= high:
            raise SettingsError("setting %r out of range" % key)
        out[key] = type(DEFAULTS[key])(value)
    return out
