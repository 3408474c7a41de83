# SPDX-License-Identifier: ISC
"""Faults at the boundary between a program under test and the kernel,
for the failure paths a real file system will not produce on demand:
tests/lib/faults/*.c, built with the C compiler into the test's directory
and preloaded into the program (LD_PRELOAD).  Nothing inside the program
is changed."""

import os
import pathlib
import subprocess

FAULTS = pathlib.Path(__file__).resolve().parent.parent / "faults"


def _build(name, tmp_path):
    out = pathlib.Path(tmp_path) / f"{name}.so"
    if not out.exists():
        subprocess.run([os.environ.get("CC", "cc"), "-shared", "-fPIC", "-O1", "-o", str(out),
                        str(FAULTS / f"{name}.c"), "-ldl"], check=True, capture_output=True)
    return out


def read_fault_env(tmp_path, suffix, after_bytes, exit=False):
    """The environment of a process whose reads of files named *suffix
    fail with EIO once it asked for more than after_bytes of them, or,
    with exit, that ends there (_exit 137) as if killed."""
    env = dict(os.environ)
    env["LD_PRELOAD"] = " ".join(filter(None, [env.get("LD_PRELOAD"),
                                               str(_build("eio-read", tmp_path))]))
    env["RALLY_FAULT_READ_SUFFIX"] = suffix
    env["RALLY_FAULT_READ_AFTER"] = str(after_bytes)
    if exit:
        env["RALLY_FAULT_READ_EXIT"] = "1"
    # Under AddressSanitizer its runtime need not come first: the shim
    # only forwards to the next read.
    env["ASAN_OPTIONS"] = ":".join(filter(None, [env.get("ASAN_OPTIONS"),
                                                 "verify_asan_link_order=0"]))
    return env
