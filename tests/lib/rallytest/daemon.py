# SPDX-License-Identifier: ISC
"""rallyd processes under test: a config file, a NOTIFY_SOCKET, stderr
captured to a file, and helpers to wait for readiness and stop them."""

import os
import signal
import subprocess
import tempfile
import time

from . import program
from .notify import NotifySocket


def write_config(path, sections):
    """Written aside and renamed into place: a program reading it meanwhile
    (a CGI request, a FastCGI process after SIGHUP) sees the old file or
    the new one, never half of one."""
    tmp = f"{os.fspath(path)}.tmp"
    with open(tmp, "w") as f:
        for section, keys in sections.items():
            f.write(f"[{section}]\n")
            for k, v in keys.items():
                f.write(f"{k} = {v}\n")
    os.rename(tmp, path)


class Rallyd:
    def __init__(self, conninfo, name="test", extra=None, log_target="stderr", env=None,
                 prefix=()):
        """prefix: a command rallyd runs under (its arguments follow)."""
        self.prefix = list(prefix)
        self.dir = tempfile.mkdtemp(prefix=f"rallyd-{name}-")
        self.conf = os.path.join(self.dir, "rally.conf")
        sections = {
            "database": {"conninfo": conninfo},
            "daemon": {"instance": name, "lease": "4s", "retry_base": "1s",
                       "retry_max": "2s", "shutdown_timeout": "3s", "safety_poll": "30s"},
            "log": {"level": "debug", "target": log_target},
            # The per-user quota bucket has a test of its own; elsewhere it
            # would only slow the tests down.
            "google": {"user_rate": "1000", "user_burst": "1000"},
        }
        for section, keys in (extra or {}).items():
            sections.setdefault(section, {}).update(keys)
        write_config(self.conf, sections)
        self.name = name
        self.env = env or {}
        self.notify = NotifySocket()
        self.proc = None
        self.log_path = os.path.join(self.dir, "stderr.log")

    def start(self, wait_ready=True):
        env = dict(os.environ, NOTIFY_SOCKET=self.notify.path, **self.env)
        env.pop("JOURNAL_STREAM", None)
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(self.prefix + [program("rallyd"), "-c", self.conf],
                                     stdout=self.log, stderr=subprocess.STDOUT, env=env)
        if wait_ready:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=20):
        try:
            self.notify.wait_for("READY", "1", timeout=timeout)
        except TimeoutError:
            raise AssertionError(f"rallyd {self.name} not ready:\n{self.output()}")

    def output(self):
        with open(self.log_path) as f:
            return f.read()

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=20):
        """SIGTERM and wait; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"rallyd {self.name} did not stop:\n{self.output()}")

    def kill(self):
        self.proc.kill()
        self.proc.wait()

    def close(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.notify.close()
        if self.proc is not None:
            self.log.close()


def wait_until(predicate, timeout=20, interval=0.05, message="condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {message}")
        time.sleep(interval)
