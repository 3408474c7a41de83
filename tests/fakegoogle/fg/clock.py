# SPDX-License-Identifier: ISC
"""The emulator's clock: wall time plus an offset the admin API can advance, so tests can
expire codes, tokens and watch channels without sleeping."""

import datetime
import threading
import time

_lock = threading.Lock()
_offset = 0.0


def now():
    """Seconds since the epoch, as the emulator sees them."""
    return time.time() + _offset


def now_ms():
    return int(now() * 1000)


def advance(seconds):
    global _offset
    with _lock:
        _offset += float(seconds)


def reset():
    global _offset
    with _lock:
        _offset = 0.0


def offset():
    return _offset


def rfc3339(ts):
    """Google's timestamp format: UTC with milliseconds and a Z."""
    dt = datetime.datetime.fromtimestamp(ts, datetime.timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (dt.microsecond // 1000)
