# SPDX-License-Identifier: ISC
"""A scratch PostgreSQL cluster: initdb + pg_ctl as the postgres user, a
private socket directory, no TCP, removed when stopped."""

import os
import pwd
import shutil
import subprocess
import tempfile
import time

import psycopg

PGBIN = "/usr/lib/postgresql/15/bin"


def _as_postgres(args, **kw):
    if os.geteuid() == 0:
        args = ["runuser", "-u", "postgres", "--"] + args
    return subprocess.run(args, check=True, capture_output=True, text=True, **kw)


class Cluster:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="rally-pg-")
        self.data = os.path.join(self.dir, "data")
        self.sockdir = os.path.join(self.dir, "sock")
        os.mkdir(self.sockdir)
        self.port = 5432
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
            os.chown(self.sockdir, pw.pw_uid, pw.pw_gid)
        os.chmod(self.dir, 0o755)
        os.chmod(self.sockdir, 0o777)
        self._db_seq = 0

    def start(self):
        _as_postgres([f"{PGBIN}/initdb", "-D", self.data, "-U", "postgres", "-A", "trust",
                      "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"])
        with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
            f.write("listen_addresses = ''\n"
                    f"unix_socket_directories = '{self.sockdir}'\n"
                    "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
                    "max_connections = 200\n"
                    "log_min_messages = warning\n")
        self.pg_ctl("start", "-w", "-l", os.path.join(self.dir, "server.log"))
        return self

    def pg_ctl(self, *args):
        _as_postgres([f"{PGBIN}/pg_ctl", "-D", self.data, *args])

    def stop(self, mode="fast"):
        self.pg_ctl("stop", "-m", mode, "-w")

    def restart(self):
        """Stop (fast: kills sessions) and start again on the same socket."""
        self.stop("fast")
        self.pg_ctl("start", "-w", "-l", os.path.join(self.dir, "server.log"))

    def destroy(self):
        try:
            self.stop("immediate")
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)

    def conninfo(self, dbname="postgres", user="postgres"):
        return f"host={self.sockdir} port={self.port} dbname={dbname} user={user}"

    def connect(self, dbname="postgres", user="postgres", **kw):
        kw.setdefault("autocommit", True)
        return psycopg.connect(self.conninfo(dbname, user), **kw)

    def create_database(self, template="template0"):
        """A new empty (or templated) database; returns its name."""
        self._db_seq += 1
        name = f"rally_{os.getpid()}_{self._db_seq}"
        for attempt in range(50):
            try:
                with self.connect() as c:
                    c.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
                return name
            except psycopg.errors.ObjectInUse:
                # The template still has a session closing; wait for it.
                time.sleep(0.1)
        raise RuntimeError(f"template {template} stayed busy")
