#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""tools/demo.py: the part of tools/demo that runs Rally (tools/demo builds
first).  Everything runs on this machine: a scratch PostgreSQL, the Google
emulator (tests/fakegoogle) standing in for Google, lighttpd serving
rally.cgi for Google's push notifications, and two rallyd instances.

It shows: migrations, a tenant and its owner, two daemons sharing jobs,
then a Google account connected with `rallyctl google connect` and
activities flowing both ways between the CRM and Google Calendar.
With --keep it stays up until Ctrl-C."""

import argparse
import os
import pathlib
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "tests" / "lib"))

from rallytest import SRCDIR, program  # noqa: E402
from rallytest.calendar import Cal  # noqa: E402
from rallytest.daemon import wait_until, write_config  # noqa: E402
from rallytest.google import FakeGoogle  # noqa: E402
from rallytest.pg import Cluster  # noqa: E402
from rallytest.schema import login_role  # noqa: E402
from rallytest.web import Lighttpd  # noqa: E402

SYSTEM = "00000000-0000-0000-0000-000000000000"


def say(text):
    print(f"\n\033[1m== {text}\033[0m", flush=True)


def show(rows, header):
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)] if rows else []
    for r in [header] + list(rows):
        print("   " + "  ".join(str(x).ljust(w) for x, w in zip(r, widths)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    # rallyctl finds the schema of this tree, not of an installed copy.
    os.environ.setdefault("RALLY_MIGRATIONS_DIR", str(SRCDIR / "sql" / "migrations"))
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="rally-demo-"))
    pg = Cluster().start()
    fg = web = cal = None
    try:
        say(f"A scratch PostgreSQL ({pg.sockdir}) and the Google emulator")
        db = pg.create_database()
        fg = FakeGoogle(tmp / "google").start()
        print(f"   Google emulator at {fg.base_url}")

        say("Applying the migrations: rallyctl migrate")
        owner_conf = tmp / "owner.conf"
        write_config(owner_conf, {"database": {"conninfo": pg.conninfo(db)}})
        out = subprocess.run([program("rallyctl"), "-c", str(owner_conf), "migrate",
                              "--dir", str(SRCDIR / "sql" / "migrations")],
                             capture_output=True, text=True, check=True).stdout
        print("   " + out.strip().replace("\n", "\n   "))
        with pg.connect(db) as c:
            roles = {"daemon": login_role(c, "rallyd", ["rally_daemon"]),
                     "web": login_role(c, "rallyweb", ["rally_web"])}

        say("lighttpd serving rally.cgi, for Google's push notifications")
        web_conf = tmp / "web.conf"
        web = Lighttpd(str(web_conf))
        write_config(web_conf, {"database": {"web_conninfo": pg.conninfo(db, roles["web"])},
                                "log": {"level": "warning", "target": "stderr"}})
        web.start()
        print(f"   http://127.0.0.1:{web.port}/hooks/google/calendar")

        say("A keyring, a tenant and its owner (rallyctl keys generate, tenant create, user create)")
        cal = Cal(pg, db, roles, fg, tmp, "ada", push_url=f"http://127.0.0.1:{web.port}")
        cal.sections["log"] = {"level": "info"}
        print(f"   tenant {cal.tenant}, user {cal.user_email} ({cal.user})")

        say("Two rallyd instances share the work: 200 diagnostic jobs")
        cal.start("alpha")
        cal.start("beta")
        cal.conn.execute("INSERT INTO rally.jobs (tenant_id, kind, payload) SELECT %s, 'ping',"
                         " '{\"sleep_ms\": 20}' FROM generate_series(1, 200)", (SYSTEM,))
        wait_until(lambda: cal.conn.execute("SELECT count(*) FROM rally.jobs WHERE kind = 'ping'"
                                            " AND state <> 'done'").fetchone()[0] == 0, timeout=60)
        show(cal.conn.execute("SELECT r.instance, count(*) FROM rally.job_runs r JOIN rally.jobs j"
                              " ON j.id = r.job_id WHERE j.kind = 'ping' GROUP BY 1 ORDER BY 1"
                              ).fetchall(), ("instance", "jobs run"))

        say(f"The user already has events in Google Calendar ({cal.google_email})")
        fg.admin("POST", "/__admin/accounts", {"email": cal.google_email})
        for title, day in (("Board meeting", "2026-12-08"), ("Lunch with Initech", "2026-12-09")):
            cal.g_create({"summary": title, "start": {"dateTime": f"{day}T12:00:00Z"},
                          "end": {"dateTime": f"{day}T13:00:00Z"}})
        cal.g_create({"summary": "Weekly standup", "recurrence": ["RRULE:FREQ=WEEKLY;COUNT=10"],
                      "start": {"dateTime": "2026-12-07T09:00:00Z"},
                      "end": {"dateTime": "2026-12-07T09:15:00Z"}})
        show([(e["summary"], e["start"].get("dateTime") or e["start"].get("date"))
              for e in cal.g_events()], ("Google event", "start"))

        say("Connecting Google: rallyctl google connect (the consent is given on the emulator)")
        cal.connect()
        print(f"   connection {cal.connection}")
        cal.settle()
        show([(a["title"], a["start_at"], a["origin"], a["sync_state"]) for a in cal.activities()],
             ("CRM activity", "start", "origin", "sync"))

        say("An activity scheduled in the CRM appears in Google Calendar")
        aid = cal.add_activity(title="Demo for Globex", start_at="2026-12-10T15:00:00Z",
                               end_at="2026-12-10T16:00:00Z", location="Zoom")
        cal.settle()
        e = cal.g_live()[cal.event_id_of(aid)]
        print(f"   Google now has: {e['summary']!r} at {e['start']['dateTime']}, "
              f"location {e.get('location')!r}")

        say("An edit made in Google Calendar reaches the CRM by push notification")
        wait_until(lambda: cal.conn.execute(
            "SELECT channel_id IS NOT NULL FROM rally.sync_state WHERE connection_id = %s"
            " AND resource = 'calendar'", (cal.connection,)).fetchone()[0], timeout=60)
        cal.g_edit(cal.event_id_of(aid), {"summary": "Demo for Globex (moved to room 4)",
                                          "location": "Room 4"})
        t0 = time.monotonic()
        wait_until(lambda: cal.conn.execute("SELECT location FROM rally.activities WHERE id = %s",
                                            (aid,)).fetchone()[0] == "Room 4", timeout=30)
        row = cal.conn.execute("SELECT title, location FROM rally.activities WHERE id = %s",
                               (aid,)).fetchone()
        print(f"   the CRM row now reads {row[0]!r}, {row[1]!r} "
              f"({(time.monotonic() - t0) * 1000:.0f} ms after the edit)")

        say("rallyctl status")
        print(subprocess.run([program("rallyctl"), "-c", cal.ctl_conf, "status"],
                             capture_output=True, text=True).stdout)
        if args.keep:
            say(f"Running. Config {cal.ctl_conf}; Ctrl-C stops everything")
            signal.sigwait({signal.SIGINT, signal.SIGTERM})
        else:
            say("Done: stopping everything")
    finally:
        if cal is not None:
            cal.close()
        if web is not None:
            web.close()
        if fg is not None:
            fg.stop()
        pg.destroy()


if __name__ == "__main__":
    main()
