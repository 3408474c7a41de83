# SPDX-License-Identifier: ISC
"""Backups under test: a rally.conf with a backup directory and both
keyrings, rallyctl run against it, and the layout of a backup file
(docs/backup-format.md) for tests that damage one on purpose."""

import json
import os
import subprocess

from . import program
from .daemon import write_config
from .pg import PGBIN

HEADER_LEN = 92
TAG_LEN = 16
CHUNK = 256 * 1024


def write_conf(path, conninfo, keyring, backup_keyring, backup_dir, extra=None):
    sections = {
        "database": {"conninfo": conninfo},
        "keys": {"keyring": keyring, "backup_keyring": backup_keyring},
        "backup": {"dir": backup_dir, "pg_dump": f"{PGBIN}/pg_dump",
                   "psql": f"{PGBIN}/psql"},
    }
    for section, keys in (extra or {}).items():
        sections.setdefault(section, {}).update(keys)
    write_config(path, sections)
    return str(path)


def ctl(conf, *args, timeout=300, env=None):
    env = dict(env or os.environ)
    env.pop("CREDENTIALS_DIRECTORY", None)
    r = subprocess.run([program("rallyctl"), "-c", conf, *args], capture_output=True,
                       text=True, env=env, timeout=timeout)
    assert "Sanitizer" not in r.stderr and "runtime error:" not in r.stderr, r.stderr
    return r


def ctl_json(conf, *args, **kw):
    r = ctl(conf, *args, "--json", **kw)
    assert r.returncode == 0, f"rallyctl {' '.join(args)} exited {r.returncode}:\n{r.stderr}"
    return json.loads(r.stdout)


def chunk_offsets(size):
    """[(start, end)] of each chunk of a file of size bytes."""
    out, pos = [], HEADER_LEN
    while pos < size:
        end = min(pos + CHUNK + TAG_LEN, size)
        out.append((pos, end))
        pos = end
    return out


def dump(pg, dbname, *extra):
    """pg_dump's plain SQL of a database, for comparing two of them; without
    the \\restrict lines, whose key pg_dump draws at random each time."""
    out = subprocess.run([f"{PGBIN}/pg_dump", "-h", pg.sockdir, "-p", str(pg.port),
                          "-U", "postgres", "--no-password", *extra, dbname],
                         capture_output=True, check=True, timeout=300).stdout
    return b"\n".join(line for line in out.split(b"\n")
                      if not line.startswith((b"\\restrict ", b"\\unrestrict ")))
