# SPDX-License-Identifier: ISC
"""A real pgbouncer (Debian's package) in transaction pooling mode in front
of a scratch cluster (rallytest.pg.Cluster), as docs/cgi.md section 8 tells
operators to run rally.cgi at scale: on a Unix socket in a private
directory, no TCP, every database of the cluster (the "*" fallback), a pool
per database and user of pool_size server connections.

It runs as the postgres user when started by root: pgbouncer, like
PostgreSQL, refuses to run as root.  The client roles are listed in its
auth_file with auth_type = trust, which is what the scratch cluster does
too; production uses scram-sha-256 (docs/cgi.md)."""

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time

import psycopg

PGBOUNCER = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
PORT = 6432


class PgBouncer:
    def __init__(self, cluster, users, pool_size=1, max_client_conn=200):
        self.cluster = cluster
        self.users = list(users)
        self.pool_size = pool_size
        self.max_client_conn = max_client_conn
        self.dir = tempfile.mkdtemp(prefix="rally-pgbouncer-")
        os.chmod(self.dir, 0o755)
        self.ini = os.path.join(self.dir, "pgbouncer.ini")
        self.log = os.path.join(self.dir, "pgbouncer.log")
        self.port = PORT
        self.proc = None

    def write_config(self):
        with open(os.path.join(self.dir, "userlist.txt"), "w") as f:
            for u in self.users:
                f.write(f'"{u}" ""\n')
        with open(self.ini, "w") as f:
            f.write(f"""[databases]
* = host={self.cluster.sockdir} port={self.cluster.port}

[pgbouncer]
listen_addr =
listen_port = {self.port}
unix_socket_dir = {self.dir}
unix_socket_mode = 0777
auth_type = trust
auth_file = {self.dir}/userlist.txt
pool_mode = transaction
default_pool_size = {self.pool_size}
min_pool_size = 0
reserve_pool_size = 0
max_client_conn = {self.max_client_conn}
max_db_connections = {self.pool_size}
server_lifetime = 3600
server_idle_timeout = 600
admin_users = postgres
stats_users = postgres
logfile = {self.log}
pidfile = {self.dir}/pgbouncer.pid
log_connections = 0
log_disconnections = 0
""")

    def start(self, timeout=10):
        self.write_config()
        kw = {}
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            for name in os.listdir(self.dir):
                os.chown(os.path.join(self.dir, name), pw.pw_uid, pw.pw_gid)
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
            kw = {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}
        self.out = open(os.path.join(self.dir, "pgbouncer.out"), "w")
        self.proc = subprocess.Popen([PGBOUNCER, self.ini], stdout=self.out,
                                     stderr=subprocess.STDOUT, **kw)
        sock = os.path.join(self.dir, f".s.PGSQL.{self.port}")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"pgbouncer exited {self.proc.returncode}:\n{self.logs()}")
            if os.path.exists(sock):
                try:
                    with socket.socket(socket.AF_UNIX) as s:
                        s.connect(sock)
                        return self
                except OSError:
                    pass
            time.sleep(0.05)
        raise AssertionError(f"pgbouncer not listening:\n{self.logs()}")

    def conninfo(self, dbname, user):
        return f"host={self.dir} port={self.port} dbname={dbname} user={user}"

    def connect(self, dbname, user, **kw):
        """A client connection through pgbouncer (autocommit by default)."""
        kw.setdefault("autocommit", True)
        return psycopg.connect(self.conninfo(dbname, user), **kw)

    def logs(self):
        out = []
        for p in (self.log, os.path.join(self.dir, "pgbouncer.out")):
            if os.path.exists(p):
                with open(p, errors="replace") as f:
                    out.append(f.read())
        return "".join(out)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()       # SIGTERM: immediate shutdown
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc is not None:
            self.out.close()
        self.proc = None

    def close(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
