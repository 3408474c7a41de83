# SPDX-License-Identifier: ISC
"""Opening what Rally sealed (lib/seal) with tests/unit/seal-tool, to check
that a stored token is the one Google issued and is not in the clear."""

import subprocess

from . import BUILDDIR


def seal_open(keyring, tenant, row, column, value):
    """The plaintext of value (bytes from a sealed column) sealed for
    (tenant, row, column) with a key of keyring."""
    r = subprocess.run([str(BUILDDIR / "tests" / "unit" / "seal-tool"), "open", str(keyring),
                        tenant, row, column], input=bytes(value).hex().encode(),
                       capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout.decode()
