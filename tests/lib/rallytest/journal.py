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
    """Journal entries matching FIELD=value strings, as dicts."""
    args = ["journalctl", "--no-pager", "-o", "json", "--all"]
    if since_cursor:
        args += ["--after-cursor", since_cursor]
    subprocess.run(["journalctl", "--sync"], capture_output=True)
    out = subprocess.run(args + list(matches), capture_output=True, text=True).stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def cursor():
    """The cursor of the newest entry, to read only what comes after."""
    subprocess.run(["journalctl", "--sync"], capture_output=True)
    out = subprocess.run(["journalctl", "--no-pager", "-o", "json", "-n", "1"],
                         capture_output=True, text=True).stdout.strip()
    return json.loads(out)["__CURSOR"] if out else None


def wait_entries(*matches, since_cursor=None, timeout=10, count=1):
    deadline = time.monotonic() + timeout
    while True:
        found = entries(*matches, since_cursor=since_cursor)
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.1)
