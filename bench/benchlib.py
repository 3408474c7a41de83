# SPDX-License-Identifier: ISC
"""Shared by the bench/ scripts: CPU and memory of processes from /proc, the
CPU of the PostgreSQL backends serving a login role (work moved into the
database is still the client's work), percentiles.  Also puts tests/lib on
sys.path so the scripts can import rallytest."""

import json
import os
import pathlib
import resource
import shutil
import subprocess
import sys
import time

sys.dont_write_bytecode = True      # no bench/__pycache__ in the source tree
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "tests" / "lib"))

from rallytest import SRCDIR  # noqa: E402  (after the sys.path line above)
from rallytest.schema import login_role  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")
BENCH = pathlib.Path(__file__).resolve().parent
# The Node peers' packages (--compare-node): googleapis at the pin of the emulator's own Node
# client test (the latest needs Node 22), pg at a version that runs on Node 20.
GOOGLEAPIS = json.loads((SRCDIR / "tests/fakegoogle/node/package.json").read_text())[
    "dependencies"]["googleapis"]
NODE_PG = "8.23.1"


def cpu_seconds(pid):
    """User+system CPU time of a process (all its threads), in seconds: from
    schedstat (nanoseconds) where the kernel has it, else from stat (ticks)."""
    try:
        return sum(int(open(f"/proc/{pid}/task/{t}/schedstat").read().split()[0])
                   for t in os.listdir(f"/proc/{pid}/task")) / 1e9
    except (OSError, ValueError, IndexError):
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK


def process_cpu_seconds(pid):
    """User+system CPU time of a process from /proc/PID/stat (ticks), which,
    unlike the per-thread schedstat sum, keeps the time of threads that have
    exited (the emulator's, one per client connection)."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def backend_pids(conn, role):
    """The PostgreSQL backends a login role holds open."""
    return [r[0] for r in conn.execute("SELECT pid FROM pg_stat_activity WHERE usename = %s",
                                       (role,))]


class BackendCPU:
    """CPU of the backends serving one role, from their /proc entries, since
    construction: a backend that appears later counts from zero, one that
    went away keeps what was last read of it (read at construction and at
    each seconds())."""

    def __init__(self, conn, role):
        self.conn, self.role = conn, role
        self.start = {p: cpu_seconds(p) for p in backend_pids(conn, role)}
        self.last = dict(self.start)

    def seconds(self):
        for p in set(self.last) | set(backend_pids(self.conn, self.role)):
            try:
                self.last[p] = cpu_seconds(p)
            except OSError:
                pass
        return sum(v - self.start.get(p, 0.0) for p, v in self.last.items())


def peak_rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def pct(values, p):
    """The p-quantile (0..1) of values, nearest rank, rounded to 0.01."""
    values = sorted(values)
    return round(values[min(len(values) - 1, int(len(values) * p))], 2)


def ratio(a, b, digits=2):
    """a / b rounded, or None when b is zero."""
    return round(a / b, digits) if b else None


# --- the Gmail fetches of bench/gmail-fetch and bench/gmail --warm-emulator -----------

def gmail_ids(fg, token):
    """Every message id of the mailbox token reads, from messages.list."""
    ids, page = [], None
    while True:
        q = "/gmail/v1/users/me/messages?maxResults=500" + (f"&pageToken={page}" if page else "")
        status, out = fg.request("GET", q, token=token)
        assert status == 200, out
        ids += [m["id"] for m in out.get("messages", [])]
        page = out.get("nextPageToken")
        if not page:
            return ids


def run_curl(config, fg):
    """curl -K config, its CPU from its rusage, the emulator's meanwhile."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    fg0, t0 = process_cpu_seconds(fg.proc.pid), time.monotonic()
    out = subprocess.run(["curl", "-sS", "--parallel", "-K", str(config)],
                         check=True, capture_output=True, text=True).stdout
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return out, {"client_cpu_seconds": round(cpu, 3),
                 "emulator_cpu_seconds": round(process_cpu_seconds(fg.proc.pid) - fg0, 3),
                 "wall_seconds": round(wall, 2)}


def curl_common(f, fg, token, parallel):
    """The options of a curl -K file every request to the emulator takes."""
    f.write(f'parallel-max = {parallel}\ncacert = "{fg.ca_file}"\n')
    f.write(f'header = "Authorization: Bearer {token}"\n')


def gmail_one_each(tmp, fg, token, ids, parallel):
    """messages.get format=full of each id, parallel at a time, with curl."""
    config = tmp / "each.conf"
    with open(config, "w") as f:
        curl_common(f, fg, token, parallel)
        f.write('write-out = "%{http_code}\\n"\n')
        for i in ids:
            f.write(f'url = "{fg.base_url}/gmail/v1/users/me/messages/{i}?format=full"\n'
                    'output = "/dev/null"\n')
    out, r = run_curl(config, fg)
    r["requests"] = len(ids)
    r["ok"] = out.split().count("200")
    return r


# --- the Node.js peers of --compare-node -------------------------------------------------

def node_modules():
    """A node_modules with googleapis and pg at the pinned versions, installed with npm (from
    the registry, once) into a cache directory outside the source tree."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        raise SystemExit("--compare-node needs node and npm (apt-get install nodejs npm)")
    cache = pathlib.Path(os.environ.get("XDG_CACHE_HOME") or pathlib.Path.home() / ".cache")
    target = cache.resolve() / "rally-bench" / f"node-googleapis-{GOOGLEAPIS}-pg-{NODE_PG}"
    if SRCDIR.resolve() in target.parents:
        raise SystemExit(f"--compare-node: {target} is inside the source tree; set XDG_CACHE_HOME")
    if not all((target / "node_modules" / m / "package.json").is_file() for m in ("googleapis", "pg")):
        target.mkdir(parents=True, exist_ok=True)
        (target / "package.json").write_text(json.dumps({
            "name": "rally-bench-node-calendar-sync", "private": True,
            "dependencies": {"googleapis": GOOGLEAPIS, "pg": NODE_PG}}, indent=2) + "\n")
        subprocess.run([npm, "install", "--no-audit", "--no-fund", "--save-exact"], cwd=target,
                       check=True, timeout=600, stdout=subprocess.DEVNULL)
    return node, target / "node_modules"


def node_peer(pg, fg, script, token, table):
    """A first full sync done by bench/<script> into a database of its own in the same
    cluster, under a login role of its own; its CPU (total and after start-up: from its
    "ready" on), its backends' CPU, the emulator's CPU meanwhile and the rows of table, with
    the script's own JSON line (wall_seconds: first request to last commit) merged in."""
    node, modules = node_modules()
    with pg.connect() as c:
        role = login_role(c, "rally_bench_node", [])
        db = pg.create_database()
        c.execute(f'ALTER DATABASE "{db}" OWNER TO "{role}"')
    env = dict(os.environ, NODE_PATH=str(modules), NODE_EXTRA_CA_CERTS=fg.ca_file,
               FG_URL=fg.base_url, FG_ACCESS_TOKEN=token,
               PGHOST=pg.sockdir, PGPORT=str(pg.port), PGDATABASE=db, PGUSER=role)
    proc = subprocess.Popen([node, str(BENCH / script)], env=env, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        with pg.connect(db) as c:
            if proc.stdout.readline() != "ready\n":
                raise RuntimeError(f"{script} exited {proc.wait()} before ready")
            backends = BackendCPU(c, role)
            cpu_ready, fg_cpu0 = cpu_seconds(proc.pid), process_cpu_seconds(fg.proc.pid)
            proc.stdin.write("go\n")
            proc.stdin.flush()
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError(f"{script} exited {proc.wait()} during the sync")
            cpu_end, pg_cpu = cpu_seconds(proc.pid), backends.seconds()
            fg_cpu = process_cpu_seconds(fg.proc.pid) - fg_cpu0
            rss = peak_rss_kib(proc.pid)
            stored = c.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        out = json.loads(line)
        proc.stdin.close()
        if proc.wait(timeout=60) != 0:
            raise RuntimeError(f"{script} exited {proc.returncode}")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    after = cpu_end - cpu_ready
    out.update({"node_cpu_seconds": round(after, 3),
                "node_cpu_seconds_with_startup": round(cpu_end, 3),
                "pg_cpu_seconds": round(pg_cpu, 3), "total_cpu_seconds": round(after + pg_cpu, 3),
                "wall_seconds": round(out["wall_seconds"], 2), "rows": stored,
                "emulator_cpu_seconds": round(fg_cpu, 2), "peak_rss_kib": rss,
                "googleapis": GOOGLEAPIS, "pg": NODE_PG,
                "node": subprocess.run([node, "--version"], capture_output=True,
                                       text=True).stdout.strip()})
    return out


def node_ratios(rally, node):
    """Rally / Node, for --compare-node."""
    return {"client_cpu": ratio(rally["rallyd_cpu_seconds"], node["node_cpu_seconds"], 3),
            "pg_cpu": ratio(rally["pg_cpu_seconds"], node["pg_cpu_seconds"]),
            "total_cpu": ratio(rally["total_cpu_seconds"], node["total_cpu_seconds"]),
            "wall": ratio(rally["wall_seconds"], node["wall_seconds"])}
