# SPDX-License-Identifier: ISC
"""A real systemd-journald, started by hand when none is running, and a
reader for what it stored (journalctl -o json)."""

import json
import os
import subprocess
import time

SOCKET = "/run/systemd/journal/socket"


def ensure_journald():
    """Starts systemd-journald unless one already listens; returns its Popen or None."""
    if os.path.exists(SOCKET) and subprocess.run(["pgrep", "-x", "systemd-journal"],
                                                 capture_output=True).returncode == 0:
        return None
    proc = subprocess.Popen(["/lib/systemd/systemd-journald"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        if os.path.exists(SOCKET):
            return proc
        time.sleep(0.05)
    raise RuntimeError("systemd-journald did not create its socket")


def entries(*matches, since_cursor=None):
    """Journal entries matching FIELD=value strings, as dicts; with
    since_cursor (a mark from cursor()), only those written after it."""
    args = ["journalctl", "--no-pager", "-o", "json", "--all"]
    # journalctl 252 ignores matches when given --after-cursor, so the mark
    # is a wall-clock time and the filtering is done here.
    if since_cursor:
        args += ["--since", "@%d" % (since_cursor // 1000000)]
    subprocess.run(["journalctl", "--sync"], capture_output=True)
    out = subprocess.run(args + list(matches), capture_output=True, text=True).stdout
    found = [json.loads(line) for line in out.splitlines() if line.strip()]
    if since_cursor:
        found = [e for e in found if int(e["__REALTIME_TIMESTAMP"]) > since_cursor]
    return found


def cursor():
    """A mark (wall-clock microseconds) to read only entries written after it."""
    return int(time.time() * 1000000)


def wait_entries(*matches, since_cursor=None, timeout=10, count=1):
    deadline = time.monotonic() + timeout
    while True:
        found = entries(*matches, since_cursor=since_cursor)
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.1)
