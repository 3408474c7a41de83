# SPDX-License-Identifier: ISC
"""A NOTIFY_SOCKET listener: what a service manager sees of sd_notify."""

import os
import socket
import tempfile
import threading
import time


class NotifySocket:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="rally-notify-")
        self.path = os.path.join(self.dir, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.messages = []          # each a dict of KEY=VALUE lines, in order
        self.stamps = []            # time.monotonic() of each, as received
        self._cond = threading.Condition()
        self._closed = False
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        while not self._closed:
            try:
                data = self.sock.recv(65536)
            except OSError:
                return
            fields = dict(line.split("=", 1) for line in data.decode().splitlines() if "=" in line)
            with self._cond:
                self.messages.append(fields)
                self.stamps.append(time.monotonic())
                self._cond.notify_all()

    def wait_for(self, key, value=None, timeout=20, start=0):
        """Index of the first message from `start` on that sets key (to value)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for i in range(start, len(self.messages)):
                    m = self.messages[i]
                    if key in m and (value is None or m[key] == value):
                        return i
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no {key}={value} in {self.messages}")
                self._cond.wait(left)

    def values(self, key):
        with self._cond:
            return [m[key] for m in self.messages if key in m]

    def close(self):
        self._closed = True
        self.sock.close()
        try:
            os.unlink(self.path)
            os.rmdir(self.dir)
        except OSError:
            pass
