# SPDX-License-Identifier: ISC
"""Gmail's quota as a resource, not an error: rallyd spends each call's
units from the connection's bucket before calling, so a first import runs
at the quota's pace with almost no call refused, and another user's sync
is not held up by it."""

import json
import time

import pytest

from rallytest.mail import Mail
from rallytest.calendar import PASSWORD


@pytest.fixture
def real_quota(fakegoogle):
    # Google's per-user limits: 250 units a second, 15,000 a minute.
    fakegoogle.admin("POST", "/__admin/settings", {"gmailUnitsPerSecond": 250,
                                                   "gmailUnitsPerMinute": 15000})
    yield
    fakegoogle.admin("POST", "/__admin/settings", {"gmailUnitsPerSecond": 25000,
                                                   "gmailUnitsPerMinute": 1500000})


def test_a_first_import_keeps_within_the_quota_and_others_go_on(
        pg, db, login_roles, fakegoogle, tmp_path, real_quota):
    big = Mail(pg, db, login_roles, fakegoogle, tmp_path, "big")
    # rallyd's own defaults: spend no faster than Google allows.
    del big.sections["mail"]["quota_rate"], big.sections["mail"]["quota_burst"]
    try:
        fakegoogle.admin("POST", "/__admin/accounts", {"email": big.google_email})
        fakegoogle.admin("POST", f"/__admin/accounts/{big.google_email}/seed",
                         {"messages": 150, "seed": 2, "baseTime": int(time.time())})
        other = json.loads(big.ctl("--json", "tenant", "create", "Other").stdout)["tenant_id"]
        big.ctl("--json", "user", "create", "--tenant", other, "--email", "small@other.test",
                "--name", "small", input=PASSWORD + "\n")
        small_google = f"small-{time.monotonic_ns()}@gmail.test"
        fakegoogle.admin("POST", "/__admin/accounts", {"email": small_google})
        fakegoogle.admin("POST", f"/__admin/accounts/{small_google}/seed",
                         {"messages": 3, "seed": 4, "baseTime": int(time.time())})
        before = fakegoogle.admin("GET", "/__admin/counters")
        big.connect()
        small = fakegoogle.connect_user(pg, db, other, "small@other.test", small_google,
                                        calendar=False, mail=True, rallyctl_config=big.ctl_conf)
        big.start()

        def done(conn):
            return big.conn.execute("SELECT count(*) FROM rally.jobs WHERE kind = 'mailsync'"
                                    " AND dedupe_key = %s AND state = 'done'",
                                    (str(conn),)).fetchone()[0] > 0
        from rallytest.daemon import wait_until
        wait_until(lambda: done(small), timeout=60, message="the small mailbox synced")
        # ... while the big one was still importing at the quota's pace.
        assert not done(big.connection)
        big.settle(timeout=120)
        after = fakegoogle.admin("GET", "/__admin/counters")
        calls = after.get("requests", 0) - before.get("requests", 0)
        refused = after["quotaRejected"] - before["quotaRejected"]
        assert calls > 150 and refused <= calls // 100, (calls, refused)
        assert big.last_result("full")["fetched"] == big.conn.execute(
            "SELECT count(*) FROM rally.mail_messages WHERE connection_id = %s",
            (big.connection,)).fetchone()[0]
    finally:
        big.close()
