# SPDX-License-Identifier: ISC
"""Calendar sync under chaos, end to end (docs/calendar-sync.md, "Chaos
test"): three users edit, create and delete on both sides, sometimes the
same item on both sides at once, while two rallyd instances are killed
with SIGKILL every 2-6 s and restarted, PostgreSQL restarts once, and the
emulator answers about one call to Google in ten with a 429, a 5xx, a
reset, a truncated body or garbage.  Then everything is left to settle
and the invariants are checked on what both sides hold.

The script (which operation when, on which item, which instance dies when,
which answer is a fault) comes from one seed; the daemons' own timing does
not, so a failing seed shows the same storm, not always the same
interleaving.  By hand, bigger or with other seeds:

    RALLY_CHAOS_SEED=7 RALLY_CHAOS_SECONDS=300 RALLY_CHAOS_OPS=1250 \\
        abs_top_builddir=$PWD/_build PYTHONPATH=tests/lib \\
        /usr/bin/python3 -m pytest -q -s tests/integration/test_calendar_chaos.py
"""

import json
import os
import random
import time

import psycopg
import pytest

from rallytest.calendar import Cal
from rallytest.daemon import Rallyd, wait_until
from rallytest.google import AdminError, FakeGoogle

SEED = int(os.environ.get("RALLY_CHAOS_SEED", "1"))
SECONDS = float(os.environ.get("RALLY_CHAOS_SECONDS", "90"))
OPS = int(os.environ.get("RALLY_CHAOS_OPS", "450"))
FAULT_RATE = float(os.environ.get("RALLY_CHAOS_FAULT_RATE", "0.10"))
LATENCY_RATE = float(os.environ.get("RALLY_CHAOS_LATENCY_RATE", "0.3"))
FAULT_KINDS = ("429", "500", "503", "reset", "truncate", "garbage")
CALENDAR_KINDS = ["calsync", "calpush", "calpurge", "calwatch"]

# How often each operation is picked; one that finds no item to act on
# creates one instead.
WEIGHTS = {"crm_create": 18, "g_create": 14, "crm_edit": 14, "g_edit": 14,
           "crm_delete": 6, "g_delete": 5, "both_edit": 20, "crm_delete_g_edit": 4,
           "g_delete_crm_edit": 4, "both_delete": 3, "g_series": 3, "g_instance": 5,
           "expire_sync_token": 0.4}


class Item:
    def __init__(self, user, aid, eid, title):
        self.user, self.aid, self.eid = user, aid, eid
        self.title = title
        self.deleted = False
        self.frozen = False          # edited on both sides at once: left alone since
        self.pair = None             # (CRM's title, Google's title) of that edit


class Chaos:
    def __init__(self, pg, db, login_roles, fg, tmp_path, seed):
        self.pg, self.db, self.fg = pg, db, fg
        self.rng = random.Random(seed)
        self.seed = seed
        ann = Cal(pg, db, login_roles, fg, tmp_path, "ann")
        ann.sections["calendar"]["poll_interval"] = "10s"
        self.users = [ann, ann.sibling("bob", tenant=ann.tenant), ann.sibling("cyd")]
        for u in self.users:
            u.connect()
        self.extra = {k: v for k, v in ann.sections.items() if k != "database"}
        self.conninfo = ann.daemon_conninfo
        self.all_daemons = []
        self.daemons = [self.spawn("chaos-a"), self.spawn("chaos-b")]
        for d in self.daemons:
            d.wait_ready()
        self.items = []
        self.stats = {k: 0 for k in WEIGHTS}
        self.stats.update(kills=0, skipped=0, pg_restarts=0)
        self.died = []

    def spawn(self, name):
        d = Rallyd(self.conninfo, name=name, extra=self.extra)
        self.all_daemons.append(d)
        return d.start(wait_ready=False)

    def close(self):
        for d in self.all_daemons:
            d.close()
        for u in self.users:
            try:
                u.conn.close()
            except psycopg.Error:
                pass

    def where(self):
        """What a reader of a failure needs: the seed and the daemons' logs."""
        return (f"chaos seed {self.seed} (rerun with RALLY_CHAOS_SEED={self.seed});"
                f" rallyd logs in {', '.join(d.dir for d in self.all_daemons[-2:])}"
                f" and {len(self.all_daemons) - 2} earlier")

    # --- the storm ---------------------------------------------------------
    def schedule(self):
        plan = [(self.rng.uniform(0, SECONDS), "op", None) for _ in range(OPS)]
        for slot in range(len(self.daemons)):
            t = self.rng.uniform(2, 6)
            while t < SECONDS:
                plan.append((t, "kill", slot))
                t += self.rng.uniform(2, 6)
        plan.append((self.rng.uniform(0.35, 0.65) * SECONDS, "pg_restart", None))
        return sorted(plan, key=lambda p: p[0])

    def storm(self):
        rate = FAULT_RATE / len(FAULT_KINDS)
        for kind in FAULT_KINDS:
            self.fg.admin("POST", "faults", {"kind": kind, "probability": rate,
                                             "pathPrefix": "/calendar/", "retryAfter": 1})
        # Google is not as quick as its emulator: slow answers widen the
        # windows the races need.
        self.fg.admin("POST", "faults", {"kind": "latency", "probability": LATENCY_RATE,
                                         "latencyMs": 250, "pathPrefix": "/calendar/"})
        t0 = time.monotonic()
        for at, what, arg in self.schedule():
            delay = t0 + at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            if what == "kill":
                self.kill(arg)
            elif what == "pg_restart":
                self.pg_restart()
            else:
                self.operation()
        faults = self.fg.admin("GET", "faults")["faults"]
        self.fired = sum(f.get("fired", 0) for f in faults if f["kind"] != "latency")
        self.slowed = sum(f.get("fired", 0) for f in faults if f["kind"] == "latency")
        self.fg.admin("DELETE", "faults")

    def kill(self, slot):
        d = self.daemons[slot]
        if d.proc.poll() is not None:
            self.died.append((d.name, d.proc.returncode, d.dir))
        d.kill()
        self.stats["kills"] += 1
        self.daemons[slot] = self.spawn(d.name)

    def pg_restart(self):
        # An instance that has not connected yet would exit, as it should
        # at start-up (its supervisor restarts it): not the race sought.
        for d in self.daemons:
            d.wait_ready()
        self.pg.restart()
        self.stats["pg_restarts"] += 1
        for u in self.users:
            try:
                u.conn.close()
            except psycopg.Error:
                pass
            u.conn = self.pg.connect(self.db)

    # --- what the users do -------------------------------------------------
    def operation(self):
        u = self.rng.choice(self.users)
        kind = self.rng.choices(list(WEIGHTS), weights=list(WEIGHTS.values()))[0]
        live = [i for i in self.items if i.user is u and not i.deleted and not i.frozen]
        if kind not in ("crm_create", "g_create", "g_series", "expire_sync_token") and not live:
            kind = "crm_create"
        done = getattr(self, kind)(u, self.rng.choice(live) if live else None)
        self.stats[kind if done else "skipped"] += 1

    def title(self, u, what):
        return f"{u.user_email.split('@')[0]}-{len(self.items)}-{what}-{self.rng.randrange(10**6)}"

    def when(self):
        day, hour = self.rng.randrange(1, 28), self.rng.randrange(7, 19)
        return f"2027-01-{day:02d}T{hour:02d}:00:00Z", f"2027-01-{day:02d}T{hour:02d}:45:00Z"

    def crm_create(self, u, _):
        start, end = self.when()
        title = self.title(u, "crm")
        aid = u.add_activity(title=title, start_at=start, end_at=end)
        self.items.append(Item(u, aid, u.event_id_of(aid), title))
        return True

    def g_create(self, u, _):
        start, end = self.when()
        title = self.title(u, "google")
        e = u.g_create({"summary": title, "start": {"dateTime": start},
                        "end": {"dateTime": end}})
        self.items.append(Item(u, None, e["id"], title))
        self.maybe_push(u)
        return True

    def g_series(self, u, _):
        start, end = self.when()
        title = self.title(u, "series")
        e = u.g_create({"summary": title, "start": {"dateTime": start},
                        "end": {"dateTime": end}, "recurrence": ["RRULE:FREQ=DAILY;COUNT=4"]})
        item = Item(u, None, e["id"], title)
        item.series_start = start
        self.items.append(item)
        self.maybe_push(u)
        return True

    @staticmethod
    def moved(item, start):
        """A series moved: its occurrences' ids follow its start."""
        if getattr(item, "series_start", None):
            item.series_start = start

    def g_instance(self, u, item):
        """Google's user edits or cancels one occurrence of a series."""
        series = [i for i in self.items if i.user is u and not i.deleted
                  and getattr(i, "series_start", None)]
        if not series:
            return False
        item = self.rng.choice(series)
        start = item.series_start
        day = int(start[8:10]) + self.rng.randrange(4)
        iid = f"{item.eid}_{start[:8].replace('-', '')}{day:02d}T{start[11:13]}0000Z"
        try:
            if self.rng.random() < 0.3:
                u.g_delete(iid)
            else:
                u.g_edit(iid, {"summary": self.title(u, "occurrence")})
        except AdminError:
            return False
        self.maybe_push(u)
        return True

    def expire_sync_token(self, u, _):
        """Google forgets the sync tokens: the next sync is a full one (410)."""
        self.fg.admin("POST", f"accounts/{u.google_email}/expire-sync-tokens")
        self.maybe_push(u)
        return True

    def activity_of(self, item):
        """The item's activity id, once it exists (Google's items get one
        when a sync brings them)."""
        if item.aid is None:
            row = item.user.conn.execute(
                "SELECT id FROM rally.activities WHERE tenant_id = %s AND google_event_id = %s",
                (item.user.tenant, item.eid)).fetchone()
            item.aid = row[0] if row else None
        return item.aid

    def crm_change(self, item, title=None):
        if self.activity_of(item) is None:
            return False
        if title is None and self.rng.random() < 0.3:
            start, end = self.when()
            sql, args = "start_at = %s, end_at = %s", (start, end)
            self.moved(item, start)
        elif title is None and self.rng.random() < 0.3:
            sql, args = "location = %s", (f"Room {self.rng.randrange(100)}",)
        else:
            sql, args = "title = %s", (title or self.title(item.user, "crm-edit"),)
        cur = item.user.conn.execute(
            f"UPDATE rally.activities SET {sql} WHERE tenant_id = %s AND id = %s"
            " AND deleted_at IS NULL", (*args, item.user.tenant, item.aid))
        return cur.rowcount == 1

    def g_change(self, item, title=None):
        if title is None and self.rng.random() < 0.3:
            start, end = self.when()
            patch = {"start": {"dateTime": start}, "end": {"dateTime": end}}
            self.moved(item, start)
        elif title is None and self.rng.random() < 0.3:
            patch = {"location": f"Hall {self.rng.randrange(100)}"}
        else:
            patch = {"summary": title or self.title(item.user, "google-edit")}
        try:
            item.user.g_edit(item.eid, patch)
        except AdminError:              # not at Google yet (or no more)
            return False
        self.maybe_push(item.user)
        return True

    def crm_edit(self, u, item):
        return self.crm_change(item)

    def g_edit(self, u, item):
        return self.g_change(item)

    def crm_delete(self, u, item):
        if self.activity_of(item) is None:
            return False
        if self.rng.random() < 0.5:
            sql = "UPDATE rally.activities SET deleted_at = now()"
        else:
            sql = "DELETE FROM rally.activities"
        cur = u.conn.execute(sql + " WHERE tenant_id = %s AND id = %s AND deleted_at IS NULL",
                             (u.tenant, item.aid))
        item.deleted = cur.rowcount == 1
        return item.deleted

    def g_delete(self, u, item):
        try:
            u.g_delete(item.eid)
        except AdminError:
            return False
        item.deleted = True
        self.maybe_push(u)
        return True

    def both_edit(self, u, item):
        """The same field of one item edited in the CRM and at Google at
        the same moment, in either order."""
        crm, google = self.title(u, "both-crm"), self.title(u, "both-google")
        # Often Google changed the title just before too, so that a sync
        # may hold an older version of the event than the one a push meets.
        if self.rng.random() < 0.4 and not self.g_change(item, self.title(u, "google-before")):
            return False
        done = {}

        def crm_side():
            done["crm"] = self.crm_change(item, crm)
            return done["crm"]

        def google_side():
            done["google"] = self.g_change(item, google)
            return done["google"]

        if not self.at_once(crm_side, google_side):
            return False
        if done.get("crm") and done.get("google"):
            item.frozen, item.pair = True, (crm, google)
        return True

    def at_once(self, first, second):
        """Two changes of one item on both sides at the same moment, in
        either order; True if at least the first happened."""
        steps = [first, second]
        if self.rng.random() < 0.5:
            steps.reverse()
        return steps[0]() and (steps[1]() or True)

    def crm_delete_g_edit(self, u, item):
        return self.at_once(lambda: self.crm_delete(u, item), lambda: self.g_change(item))

    def g_delete_crm_edit(self, u, item):
        return self.at_once(lambda: self.g_delete(u, item), lambda: self.crm_change(item))

    def both_delete(self, u, item):
        return self.at_once(lambda: self.crm_delete(u, item), lambda: self.g_delete(u, item))

    def maybe_push(self, u):
        """Most of Google's changes arrive by push (a calsync right away);
        the others wait for the poll."""
        if self.rng.random() < 0.7:
            self.queue_sync(u)

    @staticmethod
    def queue_sync(u):
        u.conn.execute("SELECT rally.job_enqueue(%s, 'calsync', %s, %s)",
                       (u.tenant, str(u.connection),
                        json.dumps({"connection_id": str(u.connection)})))

    # --- quiescence ---------------------------------------------------------
    def settle(self):
        for slot, d in enumerate(self.daemons):
            if d.proc.poll() is not None:
                self.died.append((d.name, d.proc.returncode, d.dir))
                self.daemons[slot] = self.spawn(d.name)
        for d in self.daemons:
            d.wait_ready(timeout=60)
        conn = self.users[0].conn
        tenants = list({u.tenant for u in self.users})
        for _ in range(2):
            for u in self.users:
                self.queue_sync(u)
            wait_until(lambda: conn.execute(
                "SELECT count(*) FROM rally.jobs WHERE tenant_id = ANY(%s) AND kind = ANY(%s)"
                " AND (state = 'running' OR (state = 'pending'"
                "      AND run_at < now() + interval '10 seconds'))",
                (tenants, CALENDAR_KINDS)).fetchone()[0] == 0,
                timeout=180, interval=0.2, message="calendar jobs settled " + self.where())
        for d in self.daemons:
            assert d.stop() == 0, d.output()[-3000:]


@pytest.fixture
def chaos(pg, db, login_roles, tmp_path):
    fg = FakeGoogle(tmp_path / "fakegoogle", seed=SEED).start()
    c = None
    try:
        c = Chaos(pg, db, login_roles, fg, tmp_path, SEED)
        yield c
    finally:
        if c is not None:
            c.close()
        fg.stop()


def live_events(u):
    """What Google holds for u: live events, and the cancelled occurrences
    of live series (which the CRM keeps, linked to their series)."""
    events = u.g_events()
    up = {e["id"] for e in events if e.get("status") != "cancelled"}
    return {e["id"]: e for e in events if e.get("status") != "cancelled"
            or e.get("recurringEventId") in up}


def calendar_problems(c):
    """Each user's CRM and Google Calendar hold the same items, once each."""
    problems = []
    for u in c.users:
        live = live_events(u)
        by_rally_id = {}
        for e in live.values():
            if e.get("recurringEventId"):
                continue                # an occurrence shares its series' properties
            rid = e.get("extendedProperties", {}).get("private", {}).get("rallyActivityId")
            if rid:
                by_rally_id.setdefault(rid, []).append(e["id"])
        problems += [f"{u.user_email}: activity {rid} has {len(ids)} events at Google: {ids}"
                     for rid, ids in by_rally_id.items() if len(ids) > 1]
        rows = u.conn.execute(
            "SELECT id, google_event_id, sync_state, deleted_at IS NOT NULL, connection_id,"
            " rally.cal_fields(a) FROM rally.activities a WHERE tenant_id = %s AND owner_id = %s",
            (u.tenant, u.user)).fetchall()
        by_event = {}
        for aid, eid, state, deleted, conn, fields in rows:
            if deleted:
                problems.append(f"{u.user_email}: activity {aid} soft-deleted and still there")
            if str(conn) != str(u.connection):
                problems.append(f"{u.user_email}: activity {aid} is in no calendar")
            if state != "synced":
                problems.append(f"{u.user_email}: activity {aid} is {state}")
            if eid is None or eid not in live:
                problems.append(f"{u.user_email}: activity {aid} has no event at Google ({eid})")
                continue
            by_event.setdefault(eid, []).append(aid)
            if live[eid].get("status") == "cancelled":
                # A cancelled occurrence: Google lists only that it is off.
                if fields["event_status"] != "cancelled":
                    problems.append(f"{u.user_email}: occurrence {eid} cancelled, {aid} is not")
                continue
            same = u.conn.execute("SELECT %s::jsonb = rally.cal_fields_from_event(%s::jsonb)",
                                  (json.dumps(fields), json.dumps(live[eid]))).fetchone()[0]
            if not same:
                problems.append(f"{u.user_email}: activity {aid} differs from event {eid}:"
                                f" {fields} vs {live[eid]}")
        for eid in live:
            n = len(by_event.get(eid, []))
            if n != 1:
                problems.append(f"{u.user_email}: event {eid} has {n} activities")
    n = c.users[0].conn.execute("SELECT count(*) FROM rally.activity_tombstones").fetchone()[0]
    if n:
        problems.append(f"{n} tombstones left")
    return problems


def deletion_problems(c):
    """Deleted on one side: gone on the other."""
    problems = []
    live = {u.google_email: set(live_events(u)) for u in c.users}
    for i in (i for i in c.items if i.deleted):
        if i.eid in live[i.user.google_email]:
            problems.append(f"deleted item {i.title} ({i.aid}) still live at Google ({i.eid})")
        n = i.user.conn.execute(
            "SELECT count(*) FROM rally.activities WHERE tenant_id = %s"
            " AND (id = %s OR google_event_id = %s)", (i.user.tenant, i.aid, i.eid)).fetchone()[0]
        if n:
            problems.append(f"deleted item {i.title} ({i.aid}, {i.eid}) still in the CRM")
    return problems


def conflict_problems(c):
    """Edits of one field on both sides at once converge, and the loser
    is recorded once: never twice, never with the winner's value left
    behind."""
    problems = []
    conn = c.users[0].conn
    dups = conn.execute(
        "SELECT activity_id, field, local_value, remote_value, count(*)"
        " FROM rally.merge_conflicts GROUP BY 1, 2, 3, 4 HAVING count(*) > 1").fetchall()
    problems += [f"conflict recorded {n} times: {aid} {f} {lv!r} / {rv!r}"
                 for aid, f, lv, rv, n in dups]
    # A merge meets Google's versions of a field in Google's order: one
    # against a version older than one already merged merged a stale copy.
    stale = conn.execute(
        "SELECT activity_id, field, remote_value, remote_updated, prev_value, prev_updated"
        " FROM (SELECT *, lag(remote_value) OVER w AS prev_value,"
        "   lag(remote_updated) OVER w AS prev_updated FROM rally.merge_conflicts"
        "   WINDOW w AS (PARTITION BY tenant_id, activity_id, field ORDER BY id)) c"
        " WHERE remote_updated < prev_updated").fetchall()
    problems += [f"conflict of {aid} {f} with Google's {rv!r} ({ru}) recorded after one with"
                 f" the later {pv!r} ({pu})" for aid, f, rv, ru, pv, pu in stale]
    for i in (i for i in c.items if i.pair):
        crm, google = i.pair
        row = conn.execute("SELECT title FROM rally.activities WHERE id = %s",
                           (i.aid,)).fetchone()
        final = row[0] if row else None
        if final not in (crm, google):
            problems.append(f"{i.aid}: edited {crm!r} and {google!r} at once, ended {final!r}")
            continue
        recorded = conn.execute(
            "SELECT winner, local_value, remote_value FROM rally.merge_conflicts"
            " WHERE activity_id = %s AND field = 'title' AND (local_value = to_jsonb(%s::text)"
            "   OR remote_value = to_jsonb(%s::text))", (i.aid, crm, google)).fetchall()
        for winner, lv, rv in recorded:
            won = lv if winner == "local" else rv
            if (lv, rv) == (crm, google) and won != final:
                problems.append(f"{i.aid}: the conflict says {won!r} won, the item says {final!r}")
    return problems


def job_problems(c):
    """No failed job, no lease left, every attempt recorded once and closed."""
    conn = c.users[0].conn
    problems = [f"job {jid} {kind} {state}: {err}" for jid, kind, state, err in conn.execute(
        "SELECT id, kind, state, last_error FROM rally.jobs WHERE state IN ('failed', 'running')"
        " OR lease_owner IS NOT NULL ORDER BY id").fetchall()]
    rows = conn.execute(
        "SELECT j.id, j.kind, j.state, j.attempts, count(r.attempt), coalesce(max(r.attempt), 0),"
        " count(*) FILTER (WHERE r.attempt IS NOT NULL AND r.outcome IS NULL),"
        " (array_agg(r.outcome ORDER BY r.attempt DESC))[1]"
        " FROM rally.jobs j LEFT JOIN rally.job_runs r ON r.tenant_id = j.tenant_id"
        "  AND r.job_id = j.id GROUP BY j.tenant_id, j.id ORDER BY j.id").fetchall()
    for jid, kind, state, attempts, runs, last, open_runs, outcome in rows:
        if runs != attempts or last != attempts:
            problems.append(f"job {jid} {kind}: {attempts} attempts, {runs} runs up to {last}")
        if open_runs:
            problems.append(f"job {jid} {kind}: {open_runs} runs never closed")
        if state == "done" and outcome not in ("done", "retry", "released"):
            problems.append(f"job {jid} {kind} done after a run that ended {outcome}")
    return problems


def test_calendar_sync_under_chaos_keeps_both_sides_equal_once_quiet(chaos):
    print(f"chaos seed {SEED}: {SECONDS:.0f} s, {OPS} operations, faults {FAULT_RATE:.0%}")
    chaos.storm()
    chaos.settle()
    conn = chaos.users[0].conn
    summary = dict(chaos.stats, faults_fired=chaos.fired, slowed=chaos.slowed,
                   calendar_requests=chaos.fg.admin("GET", "counters").get("requests"),
                   items=len(chaos.items),
                   pairs=sum(1 for i in chaos.items if i.pair),
                   conflicts=conn.execute("SELECT count(*) FROM rally.merge_conflicts").fetchone()[0],
                   jobs=conn.execute("SELECT count(*) FROM rally.jobs").fetchone()[0],
                   runs=conn.execute("SELECT count(*) FROM rally.job_runs").fetchone()[0])
    print("chaos summary", json.dumps(summary))
    # The storm was one: instances died, Google failed, both sides moved.
    assert chaos.stats["kills"] >= 10 and chaos.fired > 0 and summary["pairs"] > 0, summary
    assert not chaos.died, ("rallyd exited on its own", chaos.died, chaos.where())
    problems = (calendar_problems(chaos) + deletion_problems(chaos) + conflict_problems(chaos)
                + job_problems(chaos))
    assert not problems, "\n".join([chaos.where(), json.dumps(summary)] + problems[:40])
