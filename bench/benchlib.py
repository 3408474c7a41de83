# SPDX-License-Identifier: ISC
"""Shared by the bench/ scripts: CPU and memory of processes from /proc, the
CPU of the PostgreSQL backends serving a login role (work moved into the
database is still the client's work), percentiles.  Also puts tests/lib on
sys.path so the scripts can import rallytest."""

import os
import pathlib
import resource
import subprocess
import sys
import time

sys.dont_write_bytecode = True      # no bench/__pycache__ in the source tree
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "tests" / "lib"))

TICK = os.sysconf("SC_CLK_TCK")


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
