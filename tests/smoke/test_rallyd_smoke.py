# SPDX-License-Identifier: ISC
"""rallyd without PostgreSQL or journald: it checks a configuration, starts,
logs plain lines and stops.  Needs nothing but the build, so tools/check runs
it in every build, the one configured --without-systemd included (where the
integration suite, which waits for sd_notify's READY=1, cannot run)."""

import os
import re
import signal
import subprocess
import time

import pytest

from rallytest import BUILDDIR, program
from rallytest.notify import NotifySocket

PLAIN_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z rallyd\[\d+\] \w+: ")


def built_with_systemd():
    return "#define HAVE_SYSTEMD 1" in (BUILDDIR / "config.h").read_text()


def write_conf(tmp_path, target="auto"):
    conf = tmp_path / "rally.conf"
    conf.write_text(
        "[database]\n"
        # Nothing listens there: rallyd keeps retrying, which is all we need.
        f"conninfo = host={tmp_path}/no-server dbname=rally connect_timeout=1\n"
        "[daemon]\ninstance = smoke\nshutdown_timeout = 1s\n"
        f"[keys]\nkeyring = {tmp_path}/no-keyring\n"
        f"[log]\nlevel = debug\ntarget = {target}\n")
    return conf


def test_check_config_accepts_a_valid_file(tmp_path):
    conf = write_conf(tmp_path)
    r = subprocess.run([program("rallyd"), "--check-config", "-c", str(conf)],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"{conf}: configuration OK\n"


def test_check_config_on_log_target_journal(tmp_path):
    conf = write_conf(tmp_path, target="journal")
    r = subprocess.run([program("rallyd"), "--check-config", "-c", str(conf)],
                       capture_output=True, text=True, timeout=10)
    if built_with_systemd():
        assert r.returncode == 0, r.stderr
    else:
        assert r.returncode == 78, r.stderr
        assert "log.target = journal needs systemd" in r.stderr
        assert "--without-systemd" in r.stderr


def test_rallyd_starts_logs_plain_lines_and_stops(tmp_path):
    conf = write_conf(tmp_path)
    notify = NotifySocket()
    log_path = tmp_path / "stderr.log"
    env = dict(os.environ, NOTIFY_SOCKET=notify.path)
    env.pop("JOURNAL_STREAM", None)
    with open(log_path, "w") as log:
        if not built_with_systemd():
            # Even where systemd would have us write to the journal.
            st = os.fstat(log.fileno())
            env["JOURNAL_STREAM"] = f"{st.st_dev}:{st.st_ino}"
        proc = subprocess.Popen([program("rallyd"), "-c", str(conf)],
                                stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + 15
        while "database unavailable, retrying" not in log_path.read_text():
            assert proc.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        notify.close()
    lines = log_path.read_text().splitlines()
    assert any("rallyd " in l and "starting (instance smoke)" in l for l in lines), lines
    assert any(l.endswith("rallyd stopped") for l in lines), lines
    assert all(PLAIN_LINE.match(l) for l in lines), lines
    if built_with_systemd():
        assert notify.values("STATUS"), "no STATUS= reached NOTIFY_SOCKET"
    else:
        assert notify.messages == [], "a build without systemd sent notifications"


def test_programs_link_libsystemd_only_when_built_with_it():
    for name in ("rallyd", "rallyctl", "rally.cgi"):
        r = subprocess.run(["ldd", program(name)], capture_output=True, text=True)
        if r.returncode != 0:
            pytest.skip(f"ldd {name}: {r.stderr.strip()}")
        assert ("libsystemd" in r.stdout) == built_with_systemd(), r.stdout
