# SPDX-License-Identifier: ISC
"""rallyd's event loop does not wait for the resolver.  libpq looks the
database's host name up with getaddrinfo where it is called; on the loop,
a name server that never answers stopped everything, the watchdog's pings
included, for the resolver's whole timeout (10 s and more: systemd would
have killed rallyd).  The lookup is on a thread now (lib/pgconnect.c).
rallyd runs in a mount namespace of its own whose /etc/resolv.conf names
a name server that reads every query and answers none."""

import os
import random
import socket
import subprocess
import threading

import pytest

from rallytest.daemon import Rallyd, wait_until

PING_SEC = 0.5          # WATCHDOG_USEC / 2: rallyd pings at half the interval


def bind_silent_server():
    """Port 53 of a loopback address no other run of the suite holds."""
    for _ in range(50):
        address = "127.%d.%d.%d" % tuple(random.randrange(1, 255) for _ in range(3))
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.bind((address, 53))
            return sock
        except OSError:
            sock.close()
    raise AssertionError("no loopback address with port 53 free")


@pytest.fixture
def silent_resolver(tmp_path):
    if not os.path.exists("/etc/resolv.conf"):
        pytest.skip("no /etc/resolv.conf to hide")
    sock = bind_silent_server()
    resolver = sock.getsockname()[0]

    def swallow():
        while True:
            try:
                sock.recvfrom(4096)
            except OSError:
                return
    threading.Thread(target=swallow, daemon=True).start()
    conf = tmp_path / "resolv.conf"
    conf.write_text(f"nameserver {resolver}\noptions timeout:3 attempts:2\n")
    yield conf
    sock.close()


def hidden_rallyd(resolv_conf, conninfo, name, extra=None):
    """rallyd in a mount namespace whose /etc/resolv.conf is resolv_conf,
    pinging the watchdog every PING_SEC."""
    hide = f'mount --bind {resolv_conf} /etc/resolv.conf && exec "$@"'
    check = subprocess.run(["unshare", "-m", "sh", "-c", hide, "sh", "true"],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    return Rallyd(conninfo, name=name, extra=extra,
                  env={"WATCHDOG_USEC": str(int(PING_SEC * 2e6))},
                  prefix=["unshare", "-m", "sh", "-c", hide, "sh"])


def assert_pings_go_on(d, count=16):
    """count more pings come, and no gap since the first ping, the stall
    included, is more than a few intervals."""
    start = len(watchdog_gaps(d))
    wait_until(lambda: len(watchdog_gaps(d)) >= start + count, timeout=30,
               message=f"{count} more pings")
    gaps = watchdog_gaps(d)
    assert max(gaps) < 6 * PING_SEC, f"the loop stopped: pings {gaps}"
    assert d.proc.poll() is None


def watchdog_gaps(d):
    stamps = [t for m, t in zip(list(d.notify.messages), list(d.notify.stamps))
              if m.get("WATCHDOG") == "1"]
    return [b - a for a, b in zip(stamps, stamps[1:])]


def test_a_database_name_no_server_answers_for_does_not_stop_the_loop(silent_resolver):
    d = hidden_rallyd(silent_resolver, "host=db.example.com port=5432 dbname=rally user=rally",
                      "dns")
    try:
        d.start(wait_ready=False)
        # A lookup takes the resolver 6 s (3 s, twice) to give up on.
        wait_until(lambda: "could not translate host name" in d.output()
                   or "timed out connecting" in d.output(), timeout=60,
                   message="a connection attempt ended")
        assert_pings_go_on(d)
    finally:
        d.close()


def test_a_google_name_no_server_answers_for_does_not_stop_the_loop(
        silent_resolver, pg, db, login_roles, fakegoogle, tmp_path):
    """The same for Google's host names, looked up by libcurl's resolver
    thread: a transfer that times out while its lookup runs must not wait
    for that thread on the loop (CURLOPT_QUICK_EXIT).  The first sync's
    token refresh goes to a name no server answers for, with transfers
    cut at 1 s where the lookup takes 6."""
    from rallytest.calendar import Cal

    cal = Cal(pg, db, login_roles, fakegoogle, tmp_path, "dns")
    cal.connect()
    named = fakegoogle.base_url.replace("127.0.0.1", "google.example.com")
    extra = {k: dict(v) for k, v in cal.sections.items() if k != "database"}
    extra["google"] = {k: v.replace(fakegoogle.base_url, named) if isinstance(v, str) else v
                       for k, v in extra["google"].items()}
    extra["http"].update(timeout="1s", connect_timeout="1s", max_retries="3")
    d = hidden_rallyd(silent_resolver, cal.daemon_conninfo, "dnsgoogle", extra)
    try:
        d.start()
        wait_until(lambda: cal.conn.execute(
            "SELECT count(*) FROM rally.jobs WHERE kind = 'calsync'"
            " AND last_error IS NOT NULL").fetchone()[0] > 0 or d.proc.poll() is not None,
            timeout=60, message="the sync failed on the name")
        assert_pings_go_on(d)
    finally:
        d.close()
        cal.conn.close()
