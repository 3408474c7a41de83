# SPDX-License-Identifier: ISC
"""A database password never reaches a log or a terminal, even when the
conninfo is malformed and libpq quotes pieces of it in its error: rallyd
retrying such a database, and rallyctl failing to connect to it."""

import subprocess

import pytest

from rallytest import program
from rallytest.daemon import Rallyd, wait_until, write_config

EX_USAGE, EX_UNAVAILABLE = 64, 69
PIECES = ["Hunter2xq", "Sekr3tPart"]

# Each a slip an operator makes in rally.conf; libpq quoted a piece of the
# password back in every one.
CONNINFOS = [
    # An unencoded '@': libpq takes "Sekr3tPart@127.0.0.1" for the host.
    "postgresql://rally:Hunter2xq@Sekr3tPart@127.0.0.1:1/rally",
    # An unencoded '/': "Hunter2xq" is taken for the port.
    "postgresql://rally:Hunter2xq/Sekr3tPart@127.0.0.1:1/rally",
    # A bad escape: libpq quotes the whole password.
    "postgresql://rally:Hunter2xq%zzSekr3tPart@127.0.0.1:1/rally",
    # A blank in an unquoted password: missing "=" after "Sekr3tPart".
    "host=127.0.0.1 port=1 dbname=rally password=Hunter2xq Sekr3tPart",
]
# rallyd's log already masked this one ("token: \"...\""); rallyctl did not.
DAEMON_CONNINFOS = [c for c in CONNINFOS if "%zz" not in c]


def assert_no_secret(text):
    for piece in PIECES:
        assert piece not in text, text


@pytest.mark.parametrize("conninfo", DAEMON_CONNINFOS)
def test_rallyd_retrying_a_bad_conninfo_logs_no_password(conninfo):
    d = Rallyd(conninfo, name="badpw")
    try:
        d.start(wait_ready=False)
        wait_until(lambda: "database unavailable, retrying" in d.output(), timeout=15,
                   message="rallyd reports the database")
        assert d.stop() == 0
        assert_no_secret(d.output())
    finally:
        d.close()


def run_ctl(tmp_path, conninfo, *args):
    conf = tmp_path / "rally.conf"
    write_config(conf, {"database": {"conninfo": conninfo},
                        "keys": {"keyring": str(tmp_path / "keyring")}})
    return subprocess.run([program("rallyctl"), "-c", str(conf), *args],
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("conninfo", CONNINFOS)
def test_rallyctl_shows_a_bad_conninfo_without_its_password(tmp_path, conninfo):
    r = run_ctl(tmp_path, conninfo, "status")
    assert r.returncode == EX_UNAVAILABLE, r.stderr
    assert r.stderr.startswith("rallyctl: database: "), r.stderr
    assert_no_secret(r.stdout + r.stderr)


def test_rallyctl_errors_are_redacted_like_log_lines(tmp_path):
    r = run_ctl(tmp_path, "host=127.0.0.1 port=1", "jobs", "show",
                "refresh_token=1//0gSekr3tPart")
    assert r.returncode == EX_USAGE, r.stderr
    assert "refresh_token=[REDACTED]" in r.stderr
    assert_no_secret(r.stdout + r.stderr)
