#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""tools/demo.py: the part of tools/demo that runs Rally (tools/demo builds
first).  Everything runs on this machine: a scratch PostgreSQL, the Google
emulator (tests/fakegoogle) standing in for Google, lighttpd serving
rally.cgi for Google's push notifications, and two rallyd instances.

It shows: migrations, a tenant and its owner, two daemons sharing jobs,
then a Google account connected with `rallyctl google connect`,
activities flowing both ways between the CRM and Google Calendar, and the
user's Gmail inbox in the CRM: a label change each way and mail sent from
the CRM arriving in Gmail's Sent.
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
from rallytest.mail import Mail  # noqa: E402
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


def settle(cal):
    """Waits until no job of any kind is due or running (the hourly prune aside)."""
    wait_until(lambda: cal.conn.execute(
        "SELECT count(*) FROM rally.jobs WHERE state IN ('pending', 'running')"
        " AND run_at <= now() AND kind <> 'prune'").fetchone()[0] == 0, timeout=60)


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
        cal = Mail(pg, db, roles, fg, tmp, "ada", push_url=f"http://127.0.0.1:{web.port}")
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
        inbox = [cal.g_deliver(f"From: {who}\r\nTo: {cal.google_email}\r\nSubject: {subject}\r\n"
                               f"Message-ID: <demo-{i}@mail.test>\r\n\r\n{body}\r\n")
                 for i, (who, subject, body) in enumerate((
                     ("Ann Initech <ann@initech.test>", "Renewal quote", "Here is the quote."),
                     ("Bob Globex <bob@globex.test>", "Demo next week?", "Does Thursday work?"),
                     ("Zoë Ångström <zoe@umbrella.test>", "Grüße aus Köln", "Bis bald!")))]
        print(f"   and {len(inbox)} messages in Gmail")

        say("Connecting Google: rallyctl google connect (the consent is given on the emulator)")
        cal.connect(calendar=True, mail=True)
        print(f"   connection {cal.connection}")
        settle(cal)
        show([(a["title"], a["start_at"], a["origin"], a["sync_state"]) for a in cal.activities()],
             ("CRM activity", "start", "origin", "sync"))

        say("An activity scheduled in the CRM appears in Google Calendar")
        aid = cal.add_activity(title="Demo for Globex", start_at="2026-12-10T15:00:00Z",
                               end_at="2026-12-10T16:00:00Z", location="Zoom")
        settle(cal)
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

        say("The Gmail inbox, synced into the CRM")
        show(cal.conn.execute("SELECT t.subject, m.from_addr, m.label_ids FROM rally.mail_messages m"
                              " JOIN rally.mail_threads t ON t.id = m.thread_id"
                              " ORDER BY m.internal_date").fetchall(),
             ("thread", "from", "labels"))

        say("Reading a message in the CRM marks it read in Gmail")
        first = cal.messages()[inbox[0]["id"]]
        cal.conn.execute("INSERT INTO rally.mail_label_ops (tenant_id, user_id, connection_id,"
                         " message_id, op) VALUES (%s, %s, %s, %s, 'read')",
                         (cal.tenant, cal.user, cal.connection, first["id"]))
        settle(cal)
        print(f"   Gmail's labels now: {cal.g_messages()[inbox[0]['id']]['labelIds']}")

        say("Starring a message in Gmail reaches the CRM")
        cal.g_labels(inbox[1]["id"], add=["STARRED"])
        cal.sync()
        print(f"   the CRM's labels now: {sorted(cal.messages()[inbox[1]['id']]['label_ids'])}")

        say("A reply written in the CRM arrives in Gmail's Sent, in its thread")
        cal.conn.execute(
            "INSERT INTO rally.mail_outbox (tenant_id, user_id, connection_id, thread_id, message_id,"
            " in_reply_to, references_header, from_addr, to_addrs, subject, body_text)"
            " VALUES (%s, %s, %s, %s, '<demo-reply@rally.test>', '<demo-1@mail.test>',"
            " '<demo-1@mail.test>', %s, '{\"Bob Globex <bob@globex.test>\"}', 'Re: Demo next week?',"
            " 'Thursday works, see you then.')",
            (cal.tenant, cal.user, cal.connection, cal.messages()[inbox[1]["id"]]["thread_id"],
             f"Ada <{cal.google_email}>"))
        settle(cal)
        cal.sync()
        show(cal.conn.execute("SELECT t.subject, t.message_count, m.label_ids FROM rally.mail_threads t"
                              " JOIN rally.mail_messages m ON m.thread_id = t.id"
                              " WHERE 'SENT' = ANY (m.label_ids)").fetchall(),
             ("thread", "messages", "the reply's labels"))

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
