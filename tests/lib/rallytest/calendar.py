# SPDX-License-Identifier: ISC
"""A CRM user with a connected Google Calendar and rallyd instances, for
the calendar sync tests and bench/calendar."""

import datetime
import json
import os
import re
import subprocess
import urllib.parse
import uuid

from . import SRCDIR, program
from .daemon import Rallyd, wait_until, write_config

PASSWORD = "correct horse battery staple 9"


def event_members():
    """The members of an event rallyd forwards to PostgreSQL, as
    daemon/job-calsync.c lists them (calsync_event_members)."""
    text = (SRCDIR / "daemon" / "job-calsync.c").read_text()
    m = re.search(r"calsync_event_members\[\] = \{(.*?)\};", text, re.S)
    return re.findall(r'"([^"]+)"', m.group(1))


def keep_members(page, members):
    """page (events.list's answer, parsed) with only members in its
    events' objects, as rallyd's filter leaves it."""
    keep = set(members)
    items = [{k: v for k, v in e.items() if k in keep} if isinstance(e, dict) else e
             for e in page.get("items", [])]
    return dict(page, items=items) if "items" in page else page


def events_list_pages(fg, google_email, days=365, sync_token=None):
    """Every page of events.list for google_email, parsed, as rallyd asks
    for them (maxResults 2500, singleEvents false): a full sync from days
    back, or what changed since sync_token."""
    token = fg.access_token(google_email)
    time_min = (datetime.datetime.now(datetime.timezone.utc)
                - datetime.timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")
    pages, page_token = [], None
    while True:
        q = {"maxResults": 2500, "singleEvents": "false"}
        q.update({"syncToken": sync_token} if sync_token else {"timeMin": time_min})
        if page_token:
            q["pageToken"] = page_token
        status, body = fg.request("GET", "/calendar/v3/calendars/primary/events?"
                                  + urllib.parse.urlencode(q), token=token)
        if status != 200:
            raise RuntimeError(f"events.list answered {status}")
        pages.append(body)
        page_token = body.get("nextPageToken")
        if not page_token:
            return pages


class Cal:
    """One CRM user with a connected Google account and a running rallyd."""

    def __init__(self, pg, db, login_roles, fakegoogle, tmp_path, name, push_url=None):
        self.pg, self.db, self.fg = pg, db, fakegoogle
        self.dir = tmp_path
        self.google_email = f"{name}-{uuid.uuid4().hex[:8]}@gmail.test"
        self.conn = pg.connect(db)
        self.keyring = tmp_path / "keyring"
        sections = fakegoogle.config_sections()
        sections.setdefault("keys", {})["keyring"] = str(self.keyring)
        sections.setdefault("calendar", {})["poll_interval"] = "1h"
        if push_url:
            sections["calendar"]["push_url"] = push_url
        self.sections = sections
        owner = dict(sections, database={"conninfo": pg.conninfo(db)})
        self.ctl_conf = str(tmp_path / "rallyctl.conf")
        write_config(self.ctl_conf, owner)
        self.ctl("keys", "generate")
        self.tenant = json.loads(self.ctl("--json", "tenant", "create", "Acme").stdout)["tenant_id"]
        self.user_email = f"{name}@acme.test"
        out = self.ctl("--json", "user", "create", "--tenant", self.tenant,
                       "--email", self.user_email, "--name", name, input=PASSWORD + "\n")
        self.user = json.loads(out.stdout)["user_id"]
        self.daemon_conninfo = pg.conninfo(db, login_roles["daemon"])
        self.daemons = []

    def sibling(self, name, tenant=None):
        """Another CRM user (in tenant, default a new one) with a Google
        account of its own, sharing this one's keyring, rallyctl
        configuration and daemons; call connect() on it."""
        other = object.__new__(type(self))
        other.__dict__.update(self.__dict__)
        other.google_email = f"{name}-{uuid.uuid4().hex[:8]}@gmail.test"
        other.conn = self.pg.connect(self.db)
        if tenant is None:
            tenant = json.loads(self.ctl("--json", "tenant", "create", name).stdout)["tenant_id"]
        other.tenant = tenant
        other.user_email = f"{name}@{name}.test"
        out = self.ctl("--json", "user", "create", "--tenant", tenant, "--email",
                       other.user_email, "--name", name, input=PASSWORD + "\n")
        other.user = json.loads(out.stdout)["user_id"]
        other.daemons = []
        return other

    def ctl(self, *args, input=None):
        r = subprocess.run([program("rallyctl"), "-c", self.ctl_conf, *args], input=input,
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, f"rallyctl {args}: {r.stderr}"
        return r

    def connect(self, mail=False):
        self.connection = self.fg.connect_user(self.pg, self.db, self.tenant, self.user_email,
                                               self.google_email, calendar=True, mail=mail,
                                               rallyctl_config=self.ctl_conf)
        return self.connection

    def start(self, name="cal", log_target="stderr"):
        extra = {k: v for k, v in self.sections.items() if k not in ("database",)}
        d = Rallyd(self.daemon_conninfo, name=f"{name}-{len(self.daemons)}", extra=extra,
                   log_target=log_target)
        self.daemons.append(d)
        return d.start()

    def close(self):
        if os.environ.get("RALLY_TEST_DEBUG"):
            for j in self.conn.execute("SELECT id, kind, state, attempts, last_error, result"
                                       " FROM rally.jobs ORDER BY id").fetchall():
                print("JOB", j)
            for d in self.daemons:
                print(d.output()[-6000:])
        for d in self.daemons:
            d.close()
        self.conn.close()

    # --- the Google side, through the emulator's admin API ---------------
    def g_events(self):
        r = self.fg.admin("GET", f"/__admin/accounts/{self.google_email}/events")
        return r["items"] if isinstance(r, dict) else r

    def g_live(self):
        return {e["id"]: e for e in self.g_events() if e.get("status") != "cancelled"}

    def g_create(self, event):
        return self.fg.admin("POST", f"/__admin/accounts/{self.google_email}/events", event)

    def g_edit(self, event_id, patch):
        return self.fg.admin("PATCH", f"/__admin/accounts/{self.google_email}/events/{event_id}", patch)

    def g_delete(self, event_id):
        return self.fg.admin("DELETE", f"/__admin/accounts/{self.google_email}/events/{event_id}")

    # --- the CRM side -----------------------------------------------------
    def activities(self):
        cur = self.conn.execute(
            "SELECT * FROM rally.activities WHERE tenant_id = %s ORDER BY created_at", (self.tenant,))
        cols = [c.name for c in cur.description]
        return [dict(zip(cols, r)) for r in cur.fetchall()]

    def by_event(self):
        return {a["google_event_id"]: a for a in self.activities() if a["google_event_id"]}

    def jobs_idle(self, kinds=("calsync", "calpush", "calpurge", "calwatch")):
        return self.conn.execute(
            "SELECT count(*) FROM rally.jobs WHERE tenant_id = %s AND kind = ANY(%s)"
            " AND state IN ('pending', 'running') AND run_at <= now()",
            (self.tenant, list(kinds))).fetchone()[0] == 0

    def sync(self, timeout=60):
        """Queues an incremental sync and waits until all calendar work is done."""
        self.conn.execute(
            "SELECT rally.job_enqueue(%s, 'calsync', %s, %s)",
            (self.tenant, str(self.connection), json.dumps({"connection_id": str(self.connection)})))
        self.settle(timeout)

    def settle(self, timeout=60):
        wait_until(self.jobs_idle, timeout=timeout, interval=0.1, message="calendar jobs idle")
        failed = self.conn.execute(
            "SELECT kind, last_error FROM rally.jobs WHERE tenant_id = %s AND state = 'failed'",
            (self.tenant,)).fetchall()
        assert not failed, failed

    def add_activity(self, **cols):
        cols.setdefault("title", "Call with Bob")
        cols.setdefault("start_at", "2026-12-01T10:00:00Z")
        cols.setdefault("end_at", "2026-12-01T10:30:00Z")
        names = ", ".join(cols)
        marks = ", ".join(["%s"] * len(cols))
        return self.conn.execute(
            f"INSERT INTO rally.activities (tenant_id, owner_id, {names}) VALUES (%s, %s, {marks})"
            " RETURNING id", (self.tenant, self.user, *cols.values())).fetchone()[0]

    def event_id_of(self, activity_id):
        return self.conn.execute("SELECT rally.cal_event_id(%s)", (activity_id,)).fetchone()[0]
