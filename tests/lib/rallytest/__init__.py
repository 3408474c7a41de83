# SPDX-License-Identifier: ISC
"""Shared test harness: real PostgreSQL, rallyd processes, journald, sd_notify."""

import os
import pathlib

SRCDIR = pathlib.Path(os.environ.get("abs_top_srcdir") or pathlib.Path(__file__).resolve().parents[3])
BUILDDIR = pathlib.Path(os.environ.get("abs_top_builddir") or SRCDIR / "_build")


def program(name):
    """Path of a built program (rallyd, rallyctl, rally.cgi)."""
    return str(BUILDDIR / name)
