# SPDX-License-Identifier: ISC
"""Deterministic identifiers: every id and token comes from one RNG seeded by --seed, so a
test run that makes the same requests in the same order sees the same ids."""

import random
import string
import threading

_BASE32HEX = "0123456789abcdefghijklmnopqrstuv"
_URLSAFE = string.ascii_letters + string.digits + "-_"


class IdGen:
    def __init__(self, seed):
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def _pick(self, alphabet, length):
        with self._lock:
            return "".join(self._rng.choice(alphabet) for _ in range(length))

    def hex(self, length=16):
        return self._pick("0123456789abcdef", length)

    def base32hex(self, length=26):
        return self._pick(_BASE32HEX, length)

    def urlsafe(self, length=40):
        return self._pick(_URLSAFE, length)

    def digits(self, length=21):
        with self._lock:
            return str(self._rng.randint(1, 9)) + "".join(
                str(self._rng.randint(0, 9)) for _ in range(length - 1))

    def random(self):
        with self._lock:
            return self._rng.random()


def is_base32hex_id(value):
    """Calendar's rule for client-chosen event ids: base32hex chars, length 5-1024."""
    return 5 <= len(value) <= 1024 and all(c in _BASE32HEX for c in value)
