#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""tools/demo.py: the part of tools/demo that runs Rally (tools/demo builds
first).  Everything runs on this machine: a scratch PostgreSQL, the Google
emulator (tests/fakegoogle) standing in for Google, lighttpd serving
rally.cgi, and rallyd.

By default it serves the web front end on http://127.0.0.1:8080/ (--port;
a free port when 8080 is taken) for a browser: a workspace whose owner's
Google account, in the emulator, already holds calendar events and mail;
it prints the URL and the demo sign-in and stays up until Ctrl-C.  The
user connects Google from the Integrations page through the emulator's
consent page; until the front end has that page, the demo connects the
account itself (`rallyctl google connect`, as the tour does).
--smoke starts the same, signs in over HTTP, connects Google as a browser
would (Integrations, Connect, Allow on the emulator's consent page, back to
/oauth/callback), waits for the first sync and exits: the non-interactive
check (tests/integration/test_demo.py).

--tour is the scripted terminal tour: migrations, a tenant and its owner,
two daemons sharing jobs, then a Google account connected with `rallyctl
google connect`, activities flowing both ways between the CRM and Google
Calendar, and the user's Gmail inbox in the CRM: a label change each way
and mail sent from the CRM arriving in Gmail's Sent.  With --keep it stays
up until Ctrl-C."""

import argparse
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "tests" / "lib"))

from rallytest import SRCDIR, program  # noqa: E402
from rallytest.calendar import PASSWORD  # noqa: E402
from rallytest.mail import Mail  # noqa: E402
from rallytest.daemon import wait_until, write_config  # noqa: E402
from rallytest.google import FakeGoogle  # noqa: E402
from rallytest.pg import Cluster  # noqa: E402
from rallytest.schema import login_role  # noqa: E402
from rallytest.web import Lighttpd, free_port  # noqa: E402

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


def tour(args):
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
        shutil.rmtree(tmp, ignore_errors=True)


DEMO_EVENTS = (("Board meeting", 1, 9), ("Lunch with Initech", 2, 12), ("Demo for Globex", 3, 15),
               ("Quarterly review", 7, 10), ("Call with Umbrella", 8, 16))
DEMO_MAIL = (
    ("Ann Initech <ann@initech.test>", "Renewal quote", "Here is the quote for next year."),
    ("Bob Globex <bob@globex.test>", "Demo next week?", "Does Thursday at 3 work for you?"),
    ("Zoë Ångström <zoe@umbrella.test>", "Grüße aus Köln", "Bis bald!"),
    ("Carol Hooli <carol@hooli.test>", "Contract signed", "Attached, countersigned."),
)


def demo_port(wanted):
    """wanted if nothing listens there, else a free one (0: any)."""
    import socket
    if wanted == 0:
        return free_port()
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", wanted))
            return wanted
        except OSError:
            pass
    return free_port()


def seed_google(cal):
    """The demo user's Google account: events in the coming days and mail."""
    cal.fg.admin("POST", "/__admin/accounts", {"email": cal.google_email})
    today = time.time() // 86400 * 86400
    for title, days, hour in DEMO_EVENTS:
        start = time.strftime("%Y-%m-%dT%H:00:00Z", time.gmtime(today + days * 86400 + hour * 3600))
        end = time.strftime("%Y-%m-%dT%H:45:00Z", time.gmtime(today + days * 86400 + hour * 3600))
        cal.g_create({"summary": title, "start": {"dateTime": start}, "end": {"dateTime": end},
                      "location": "Zoom" if "Call" in title else "Office"})
    cal.g_create({"summary": "Weekly standup", "recurrence": ["RRULE:FREQ=WEEKLY;COUNT=10"],
                  "start": {"dateTime": time.strftime("%Y-%m-%dT09:00:00Z", time.gmtime(today + 86400))},
                  "end": {"dateTime": time.strftime("%Y-%m-%dT09:15:00Z", time.gmtime(today + 86400))}})
    for i, (who, subject, body) in enumerate(DEMO_MAIL):
        cal.g_deliver(f"From: {who}\r\nTo: {cal.google_email}\r\nSubject: {subject}\r\n"
                      f"Message-ID: <demo-{i}@mail.test>\r\nContent-Type: text/plain; charset=utf-8"
                      f"\r\n\r\n{body}\r\n".encode())
    cal.fg.admin("POST", f"/__admin/accounts/{cal.google_email}/seed",
                 {"messages": 40, "seed": 7, "baseTime": int(time.time())})


def web_has(web, path):
    """Whether rally.cgi serves path (a page that may not have landed yet)."""
    return web.request("GET", path).status != 404


def serve(args):
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="rally-demo-"))
    port = demo_port(args.port)
    url = f"http://127.0.0.1:{port}"
    pg = Cluster().start()
    fg = web = cal = None
    try:
        say("Starting Rally: a scratch PostgreSQL, the Google emulator, rallyd, lighttpd")
        db = pg.create_database()
        fg = FakeGoogle(tmp / "google", redirect_uri=f"{url}/oauth/callback").start()
        owner_conf = tmp / "owner.conf"
        write_config(owner_conf, {"database": {"conninfo": pg.conninfo(db)}})
        subprocess.run([program("rallyctl"), "-c", str(owner_conf), "migrate",
                        "--dir", str(SRCDIR / "sql" / "migrations")],
                       capture_output=True, text=True, check=True)
        with pg.connect(db) as c:
            roles = {"daemon": login_role(c, "rallyd", ["rally_daemon"]),
                     "web": login_role(c, "rallyweb", ["rally_web"])}

        # rally.cgi's configuration holds no client secret and no keyring:
        # the consent URL's parts only (docs/cgi.md).
        google = fg.config_sections()["google"]
        web_conf = tmp / "web.conf"
        write_config(web_conf, {
            "database": {"web_conninfo": pg.conninfo(db, roles["web"])},
            "log": {"level": "warning", "target": "stderr"},
            "web": {"public_url": url},
            "google": {k: google[k] for k in ("client_id", "redirect_uri", "auth_url")}})
        web = Lighttpd(str(web_conf))
        web.port = port
        web.start()

        cal = Mail(pg, db, roles, fg, tmp, "ada", push_url=url)
        cal.sections["log"] = {"level": "notice"}
        cal.sections["google"]["redirect_uri"] = fg.redirect_uri
        seed_google(cal)
        connect_in_browser = web_has(web, "/integrations")
        if not connect_in_browser:
            # Until the Integrations page lands, connected as the tour does.
            cal.connect(calendar=True, mail=True)
        cal.start("demo")
        if args.smoke:
            return smoke(cal, web, connect_in_browser)

        say(f"Rally is running at {url}/")
        print(f"   Sign in as {cal.user_email}, password: {PASSWORD}")
        if connect_in_browser:
            print(f"   Then Integrations, Connect Google: the emulator's consent page asks for\n"
                  f"   {cal.google_email}'s consent (its calendar and inbox are ready).")
        else:
            print(f"   Google account {cal.google_email} (the emulator) is connected:\n"
                  "   its calendar and inbox sync into Rally.")
        print(f"   The emulator serves HTTPS at {fg.base_url} with the demo's own CA\n"
              f"   ({fg.ca_file}): the browser warns about it once.")
        print(f"   rallyctl: {program('rallyctl')} -c {cal.ctl_conf} status")
        print("   Ctrl-C stops everything and removes it.", flush=True)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.default_int_handler)
        try:
            signal.pause()
        except KeyboardInterrupt:
            pass
        say("Stopping")
    finally:
        # A second Ctrl-C must not leave half of it running.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if cal is not None:
            cal.close()
        if web is not None:
            web.close()
        if fg is not None:
            fg.stop()
        pg.destroy()
        shutil.rmtree(tmp, ignore_errors=True)


def consent_allow(cal, consent):
    """The emulator's consent page as a browser sees it: GET it, choose the
    account, press Allow; returns where it sends the browser back to."""
    import html
    import http.client
    import re
    import ssl
    import urllib.parse

    u = urllib.parse.urlsplit(consent)
    ctx = ssl.create_default_context(cafile=cal.fg.ca_file)

    def fetch(method, path, body=None):
        conn = http.client.HTTPSConnection(u.hostname, u.port, context=ctx, timeout=30)
        try:
            hdrs = {"Content-Type": "application/x-www-form-urlencoded"} if body else {}
            conn.request(method, path, body=body, headers=hdrs)
            r = conn.getresponse()
            return r.status, r.getheader("Location"), r.read().decode()
        finally:
            conn.close()

    status, _, page = fetch("GET", f"{u.path}?{u.query}")
    assert status == 200, page
    action = html.unescape(re.search(r'<form id="consent" method="post" action="([^"]*)"',
                                     page).group(1))
    session = html.unescape(re.search(r'name="session" value="([^"]*)"', page).group(1))
    assert f'value="{cal.google_email}"' in page, page
    body = urllib.parse.urlencode({"session": session, "account": cal.google_email,
                                   "decision": "allow"})
    status, location, _ = fetch("POST", action, body)
    assert status in (302, 303) and location, status
    return location


def connect_as_a_browser(cal, client):
    """Integrations, Connect Google, Allow on the emulator's consent page,
    and back to rally.cgi's /oauth/callback, following the redirects as a
    browser does."""
    import urllib.parse
    assert client.get("/integrations").status == 200
    r = client.post("/integrations/connect", {"calendar": "on", "mail": "on"})
    consent = r.header("location") or ""
    assert r.status == 303 and consent.startswith(cal.fg.base_url), r
    back = urllib.parse.urlsplit(consent_allow(cal, consent))
    r = client.get(f"{back.path}?{back.query}")
    assert r.status == 303, r
    assert client.get(r.header("location")).status == 200


def smoke(cal, web, connect_in_browser):
    """Signs in as a newcomer would and checks what the pages need is there."""
    from rallytest.site import Client

    class _Site:
        server = web

    c = Client(_Site())
    c.signin(cal.user_email, password=PASSWORD)
    page = c.get("/")
    assert page.status == 200, page
    if connect_in_browser:
        connect_as_a_browser(cal, c)
    wait_until(lambda: cal.conn.execute(
        "SELECT (SELECT count(*) FROM rally.activities) > 0"
        " AND (SELECT count(*) FROM rally.mail_messages) > 0").fetchone()[0],
        timeout=120, message="the first sync")
    n = cal.conn.execute("SELECT (SELECT count(*) FROM rally.activities),"
                         " (SELECT count(*) FROM rally.mail_messages)").fetchone()
    how = "the Integrations page" if connect_in_browser else "rallyctl google connect"
    print(f"demo: signed in at http://127.0.0.1:{web.port}/ as {cal.user_email}; "
          f"Google connected with {how}; {n[0]} activities, {n[1]} messages synced", flush=True)


def main():
    ap = argparse.ArgumentParser(description="Rally on this machine, in a browser "
                                 "(default) or as a terminal tour (--tour).")
    ap.add_argument("--tour", action="store_true", help="the scripted terminal tour")
    ap.add_argument("--keep", action="store_true", help="with --tour: stay up until Ctrl-C")
    ap.add_argument("--port", type=int, default=8080, help="the web front end's port")
    ap.add_argument("--smoke", action="store_true",
                    help="start, sign in over HTTP, wait for the first sync, stop")
    args = ap.parse_args()
    # rallyctl finds the schema of this tree, not of an installed copy.
    os.environ.setdefault("RALLY_MIGRATIONS_DIR", str(SRCDIR / "sql" / "migrations"))
    if args.tour:
        tour(args)
    else:
        serve(args)


if __name__ == "__main__":
    main()
