# SPDX-License-Identifier: ISC
"""Export (access, portability), rectification and objection
(docs/compliance.md): an archive of everything held about one user and
nothing of anyone else's, readable by that user alone and gone after 7
days; corrections audited by field name; an analytics opt-out that
removes the user from usage data and stops recording it."""

import datetime
import json
import os
import subprocess

import jsonschema
import psycopg
import pytest

from rallytest import SRCDIR, program
from rallytest.calendar import PASSWORD, Cal
from rallytest.daemon import wait_until
from rallytest.mailrows import mark_mail_synced, seed_mail
from rallytest.schema import insert, set_context

SCHEMA = json.loads((SRCDIR / "docs" / "export.schema.json").read_text())


class World:
    """Tenant Acme: owner olga (a connected Google account, mail, CRM data,
    billing) and member max; tenant Other: its owner tom."""

    def __init__(self, pg, db, login_roles, fakegoogle, tmp_path):
        self.cal = Cal(pg, db, login_roles, fakegoogle, tmp_path, "olga")
        self.pg, self.db, self.login_roles = pg, db, login_roles
        self.conn = self.cal.conn
        # Taken per test, not when the module loads: a run that crosses
        # midnight (UTC) would otherwise see "today" become a past day.
        self.now = datetime.datetime.now(datetime.timezone.utc)
        self.tenant = self.cal.tenant
        self.conn.execute("UPDATE rally.users SET role = 'owner' WHERE id = %s", (self.cal.user,))
        self.olga = self.cal.user
        self.max = self.user(self.tenant, "max")
        self.other = json.loads(self.cal.ctl("--json", "tenant", "create", "Other").stdout)[
            "tenant_id"]
        self.tom = self.user(self.other, "tom")
        fakegoogle.admin("POST", "/__admin/accounts", {"email": self.cal.google_email})
        self.connection = self.cal.connect(mail=True)
        mark_mail_synced(self.cal)
        insert(self.conn, "billing_profiles", tenant_id=self.tenant, billing_email="pay@acme.test",
               country="DE", vat_id="DE123456789")
        for who, tenant in ((self.olga, self.tenant), (self.max, self.tenant),
                            (self.tom, self.other)):
            insert(self.conn, "activities", tenant_id=tenant, owner_id=who, title=f"call {who}")
            insert(self.conn, "usage_events", tenant_id=tenant, user_id=who, kind="page.view",
                   occurred_at=self.now - datetime.timedelta(days=1))
        seed_mail(self.conn, self.tenant, self.olga, self.connection)

    def user(self, tenant, name):
        out = self.cal.ctl("--json", "user", "create", "--tenant", tenant, "--email",
                           f"{name}@{name}.test", "--name", name.title(), input=PASSWORD + "\n")
        return json.loads(out.stdout)["user_id"]

    def web(self, tenant, user):
        conn = psycopg.connect(self.pg.conninfo(self.db, self.login_roles["web"]),
                               autocommit=True)
        set_context(conn, tenant, user)
        return conn


@pytest.fixture
def world(pg, db, login_roles, fakegoogle, tmp_path):
    w = World(pg, db, login_roles, fakegoogle, tmp_path)
    yield w
    w.cal.close()


def export_of(w, email, path):
    out = w.cal.ctl("--json", "export", "--user", email, "--output", str(path))
    return json.loads(out.stdout), json.loads(path.read_text())


def test_export_holds_every_item_of_the_user_and_nothing_of_anyone_else(world, tmp_path):
    w = world
    w.cal.ctl("user", "update", "--user", "olga@acme.test", "--name", "Olga B")
    outbox = w.conn.execute("SELECT id FROM rally.mail_outbox WHERE user_id = %s"
                            " ORDER BY queued_at LIMIT 1", (w.olga,)).fetchone()[0]
    insert(w.conn, "mail_outbox_attachments", tenant_id=w.tenant, outbox_id=outbox,
           user_id=w.olga, filename="Angebot.pdf", content_type="application/pdf",
           data=b"%PDF-1.7 the offer")
    meta, doc = export_of(w, "olga@acme.test", tmp_path / "olga.json")
    jsonschema.Draft202012Validator(SCHEMA).validate(doc)
    assert doc["profile"]["id"] == w.olga and doc["profile"]["name"] == "Olga B"
    assert doc["company"] == {"name": "Acme", "size": None}
    assert doc["billing"]["vat_id"] == "DE123456789"
    acts = {a["title"] for a in doc["activities"]}
    assert acts == {f"call {w.olga}"}
    mine = {str(r[0]) for r in w.conn.execute("SELECT id FROM rally.mail_messages"
                                              " WHERE user_id = %s", (w.olga,))}
    got = {m["id"] for t in doc["mail_threads"] for m in t["messages"]}
    assert got == mine and len(got) == 6
    assert all(m["body_text"] == "the body of a private message"
               for t in doc["mail_threads"] for m in t["messages"])
    assert len(doc["mail_outbox"]) == 2
    assert [o["attachments"] for o in doc["mail_outbox"] if o["id"] == str(outbox)] == [
        [{"filename": "Angebot.pdf", "content_type": "application/pdf", "size": 18}]]
    assert [c["id"] for c in doc["google_connections"]] == [w.connection]
    assert len(doc["usage_events"]) == 1
    assert {a["action"] for a in doc["audit"]} >= {"account.rectified",
                                                   "account.export_requested"}
    text = json.dumps(doc)
    for foreign in (w.max, w.tom, "max@max.test", "tom@tom.test", "refresh_token",
                    "access_token"):
        assert foreign not in text, foreign
    assert os.stat(tmp_path / "olga.json").st_mode & 0o077 == 0
    assert meta["size_bytes"] == len((tmp_path / "olga.json").read_bytes())
    # A member's export has no company or billing data.
    _, doc = export_of(w, "max@max.test", tmp_path / "max.json")
    jsonschema.Draft202012Validator(SCHEMA).validate(doc)
    assert doc["company"] is None and doc["billing"] is None
    assert "DE123456789" not in json.dumps(doc)


def test_an_export_is_readable_by_its_user_alone(world, tmp_path):
    w = world
    meta, _ = export_of(w, "olga@acme.test", tmp_path / "olga.json")
    for tenant, user, n in ((w.tenant, w.olga, 1), (w.tenant, w.max, 0), (w.other, w.tom, 0),
                            (None, None, 0)):
        with w.web(tenant, user) as web:
            rows = web.execute("SELECT id FROM rally.exports WHERE id = %s",
                               (meta["export_id"],)).fetchall()
            assert len(rows) == n, (tenant, user)


def test_the_web_asks_the_daemon_for_an_export_of_its_own_user_only(world):
    w = world
    with w.web(w.tenant, w.max) as web:
        export = web.execute("SELECT rally.web_export_request()").fetchone()[0]
    with w.web(None, None) as web:
        assert web.execute("SELECT rally.web_export_request()").fetchone()[0] is None
    # A hostile job naming max's export in another tenant builds nothing.
    w.conn.execute("SELECT rally.job_enqueue(%s, 'export', 'x', %s)",
                   (w.other, json.dumps({"export_id": str(export)})))
    w.cal.start()
    wait_until(lambda: w.conn.execute("SELECT status FROM rally.exports WHERE id = %s",
                                      (export,)).fetchone()[0] == "ready", message="built")
    wait_until(lambda: w.cal.jobs_idle(("export",)), message="jobs idle")
    built = w.conn.execute("SELECT tenant_id::text, result FROM rally.jobs WHERE kind = 'export'"
                           " ORDER BY id").fetchall()
    assert sorted(built) == sorted([(w.tenant, {"built": True}), (w.other, {"built": False})])
    doc = json.loads(bytes(w.conn.execute("SELECT content FROM rally.exports WHERE id = %s",
                                          (export,)).fetchone()[0]))
    assert doc["profile"]["id"] == w.max


def test_exports_are_deleted_once_their_seven_days_are_over(world, tmp_path):
    w = world
    meta, _ = export_of(w, "olga@acme.test", tmp_path / "olga.json")
    w.conn.execute("UPDATE rally.exports SET ready_at = now() - interval '8 days',"
                   " expires_at = now() - interval '1 day' WHERE id = %s", (meta["export_id"],))
    assert w.conn.execute("SELECT rally.exports_expire()").fetchone()[0] == 1
    assert w.conn.execute("SELECT count(*) FROM rally.exports").fetchone()[0] == 0


FAILED_MESSAGE = ("Rally could not prepare this export. Ask for a new one; if that fails"
                  " too, contact your administrator.")


def fail_export_builds(conn, when="new.status = 'ready'"):
    """The disk fills up (SQLSTATE 53100) whenever a built export is stored
    (or, with when='true', whenever an export changes)."""
    conn.execute("CREATE FUNCTION public.export_disk_full() RETURNS trigger LANGUAGE plpgsql"
                 " AS $$BEGIN RAISE EXCEPTION 'could not extend file: No space left on device'"
                 " USING ERRCODE = '53100'; END$$")
    conn.execute("CREATE TRIGGER export_disk_full BEFORE UPDATE ON rally.exports"
                 f" FOR EACH ROW WHEN ({when})"
                 " EXECUTE FUNCTION public.export_disk_full()")


def mend_export_builds(conn):
    conn.execute("DROP TRIGGER export_disk_full ON rally.exports")
    conn.execute("DROP FUNCTION public.export_disk_full()")


def export_row(w, export):
    return w.conn.execute("SELECT status, error FROM rally.exports WHERE id = %s",
                          (export,)).fetchone()


def test_an_export_whose_job_fails_for_good_is_failed_and_a_new_request_builds(world):
    w = world
    fail_export_builds(w.conn)
    with w.web(w.tenant, w.max) as web:
        first = web.execute("SELECT rally.web_export_request()").fetchone()[0]
    w.conn.execute("UPDATE rally.jobs SET max_attempts = 2 WHERE kind = 'export'")
    w.cal.start()
    wait_until(lambda: w.conn.execute("SELECT state FROM rally.jobs WHERE kind = 'export'"
                                      " AND dedupe_key = %s", (str(first),)).fetchone()[0]
               == "failed", timeout=60, message="the export job to fail for good")
    attempts, last_error = w.conn.execute(
        "SELECT attempts, last_error FROM rally.jobs WHERE kind = 'export'"
        " AND dedupe_key = %s", (str(first),)).fetchone()
    assert attempts == 2 and "No space left on device" in last_error
    # What the user's exports page reads: failed, and what to do about it.
    with w.web(w.tenant, w.max) as web:
        assert web.execute("SELECT status, error FROM rally.exports WHERE id = %s",
                           (first,)).fetchone() == ("failed", FAILED_MESSAGE)
    # Asking again starts a new export, which builds once the disk has room.
    mend_export_builds(w.conn)
    with w.web(w.tenant, w.max) as web:
        second = web.execute("SELECT rally.web_export_request()").fetchone()[0]
    assert second is not None and second != first
    wait_until(lambda: export_row(w, second)[0] == "ready", timeout=60,
               message="the new export to be built")
    assert export_row(w, first) == ("failed", FAILED_MESSAGE)
    doc = json.loads(bytes(w.conn.execute("SELECT content FROM rally.exports WHERE id = %s",
                                          (second,)).fetchone()[0]))
    assert doc["profile"]["id"] == w.max


def test_an_export_job_ends_failed_even_when_its_export_cannot_be_marked_failed(world):
    w = world
    fail_export_builds(w.conn, when="true")
    with w.web(w.tenant, w.max) as web:
        first = web.execute("SELECT rally.web_export_request()").fetchone()[0]
    w.conn.execute("UPDATE rally.jobs SET max_attempts = 2 WHERE kind = 'export'")
    w.cal.start()
    # The job's end is recorded, not retried for ever under expiring leases.
    wait_until(lambda: w.conn.execute("SELECT state, attempts FROM rally.jobs"
                                      " WHERE kind = 'export'").fetchone() == ("failed", 2),
               timeout=60, message="the export job to fail for good")
    assert export_row(w, first) == ("requested", None)
    mend_export_builds(w.conn)
    with w.web(w.tenant, w.max) as web:
        second = web.execute("SELECT rally.web_export_request()").fetchone()[0]
    assert second != first and export_row(w, first) == ("failed", FAILED_MESSAGE)
    wait_until(lambda: export_row(w, second)[0] == "ready", timeout=60,
               message="the new export to be built")


def test_an_export_left_in_progress_by_a_job_gone_or_failed_does_not_block(world):
    w = world
    request = ("SELECT rally.export_request(%s, %s, 'user')", (w.tenant, w.max))
    first = w.conn.execute(*request).fetchone()[0]
    # While its job may still build it, a request returns the same export.
    assert w.conn.execute(*request).fetchone()[0] == first
    # Its job failed without failing the export (as before the export
    # followed its job): the next request fails it and starts anew.
    w.conn.execute("SET session_replication_role = replica")
    w.conn.execute("UPDATE rally.jobs SET state = 'failed', finished_at = now()"
                   " WHERE kind = 'export' AND dedupe_key = %s", (str(first),))
    w.conn.execute("RESET session_replication_role")
    assert export_row(w, first)[0] == "requested"
    second = w.conn.execute(*request).fetchone()[0]
    assert second != first and export_row(w, first) == ("failed", FAILED_MESSAGE)
    # Its job was pruned: the same.
    w.conn.execute("DELETE FROM rally.jobs WHERE kind = 'export' AND dedupe_key = %s",
                   (str(second),))
    third = w.conn.execute(*request).fetchone()[0]
    assert third not in (first, second) and export_row(w, second)[0] == "failed"
    w.cal.start()
    wait_until(lambda: export_row(w, third)[0] == "ready", timeout=60,
               message="the new export to be built")


def test_export_output_on_a_full_disk_leaves_no_file_and_a_rerun_writes_it(world, tmp_path):
    w = world
    out = tmp_path / "out"
    out.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(out)], check=True)
    try:
        # Fill the disk: creating a file still works, writing to it not.
        fd = os.open(out / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            while os.write(fd, b"x" * 4096) > 0:
                pass
        except OSError:
            pass
        os.close(fd)
        target = out / "olga.json"
        cmd = [program("rallyctl"), "-c", w.cal.ctl_conf, "--json", "export", "--user",
               "olga@acme.test", "--output", str(target)]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        assert r.returncode != 0 and "No space left on device" in r.stderr, r.stderr
        assert sorted(os.listdir(out)) == ["filler"]
        os.unlink(out / "filler")
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        meta = json.loads(r.stdout)
        assert sorted(os.listdir(out)) == ["olga.json"]
        assert os.stat(target).st_mode & 0o777 == 0o600
        written = target.read_bytes()
        assert len(written) == meta["size_bytes"]
        assert json.loads(written)["profile"]["id"] == w.olga
        # An existing file is never replaced, and nothing else is left.
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        assert r.returncode == 73 and "File exists" in r.stderr, r.stderr
        assert sorted(os.listdir(out)) == ["olga.json"] and target.read_bytes() == written
    finally:
        subprocess.run(["umount", str(out)], check=True)


def test_rectification_changes_only_the_callers_fields_and_audits_their_names(world):
    w = world
    with w.web(w.tenant, w.max) as web:
        assert web.execute("SELECT rally.web_account_update(%s)",
                           (json.dumps({"name": "Maxine", "email": "maxine@max.test"}),)
                           ).fetchone()[0] == ["email", "name"]
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            web.execute("SELECT rally.web_account_update(%s)",
                        (json.dumps({"company_name": "Taken over"}),))
        with pytest.raises(psycopg.errors.InvalidParameterValue):
            web.execute("SELECT rally.web_account_update(%s)",
                        (json.dumps({"role": "owner"}),))
    with w.web(w.tenant, w.olga) as web:
        web.execute("SELECT rally.web_account_update(%s)",
                    (json.dumps({"company_name": "Acme GmbH", "vat_id": "DE999999999"}),))
    rows = dict(w.conn.execute("SELECT email, name FROM rally.users WHERE tenant_id = %s",
                               (w.tenant,)).fetchall())
    assert rows == {"maxine@max.test": "Maxine", "olga@acme.test": "olga"}
    assert w.conn.execute("SELECT name FROM rally.tenants WHERE tenant_id = %s",
                          (w.tenant,)).fetchone()[0] == "Acme GmbH"
    assert w.conn.execute("SELECT name FROM rally.tenants WHERE tenant_id = %s",
                          (w.other,)).fetchone()[0] == "Other"
    audit = w.conn.execute("SELECT actor, action, detail FROM rally.audit_log"
                           " WHERE action = 'account.rectified' ORDER BY seq").fetchall()
    assert audit == [("user", "account.rectified", {"fields": ["email", "name"]}),
                     ("user", "account.rectified", {"fields": ["company_name", "vat_id"]})]
    assert "Maxine" not in json.dumps([a[2] for a in audit])
    r = subprocess.run([program("rallyctl"), "-c", w.cal.ctl_conf, "user", "update", "--user",
                        "tom@tom.test", "--country", "Germany"], capture_output=True, text=True)
    assert r.returncode == 65 and "country" in r.stderr


def test_analytics_objection_removes_the_user_from_usage_and_stops_recording(world):
    w = world
    w.conn.execute("SELECT rally.usage_rollup('30 days')")
    before = w.conn.execute("SELECT count(*) FROM rally.usage_daily WHERE user_id = %s",
                            (w.max,)).fetchone()[0]
    assert before == 1
    w.cal.ctl("user", "update", "--user", "max@max.test", "--analytics-opt-out", "yes")
    for t in ("usage_events", "usage_daily"):
        assert w.conn.execute(f"SELECT count(*) FROM rally.{t} WHERE user_id = %s",
                              (w.max,)).fetchone()[0] == 0, t
    with w.web(w.tenant, w.max) as web:
        web.execute("SELECT rally.web_usage_record('page.view')")
    with w.web(w.tenant, w.olga) as web:
        web.execute("SELECT rally.web_usage_record('page.view')")
    counts = dict(w.conn.execute("SELECT user_id::text, count(*) FROM rally.usage_events"
                                 " WHERE tenant_id = %s GROUP BY 1", (w.tenant,)).fetchall())
    assert counts == {w.olga: 2}
    audit = w.conn.execute("SELECT action, detail FROM rally.audit_log"
                           " WHERE action = 'account.analytics_objection'").fetchall()
    assert audit == [("account.analytics_objection",
                      {"fields": ["analytics_opt_out"], "analytics_opt_out": True})]


def test_the_daily_rollup_counts_complete_days_and_drops_raw_events_past_retention(world):
    w = world
    insert(w.conn, "usage_events", tenant_id=w.tenant, user_id=w.olga, kind="page.view",
           occurred_at=w.now - datetime.timedelta(days=40))
    insert(w.conn, "usage_events", tenant_id=w.tenant, user_id=w.olga, kind="page.view",
           occurred_at=w.now)
    # The day the roll-up runs in, from the statement that runs it: the
    # days before it are complete, that one is not.
    today, dropped = w.conn.execute(
        "SELECT (now() AT TIME ZONE 'UTC')::date, rally.usage_rollup('30 days')").fetchone()
    assert dropped == 1
    assert w.conn.execute("SELECT rally.usage_rollup('30 days')").fetchone()[0] == 0
    daily = w.conn.execute("SELECT day, count FROM rally.usage_daily WHERE user_id = %s"
                           " ORDER BY day", (w.olga,)).fetchall()
    days = [(w.now - datetime.timedelta(days=d)).date() for d in (40, 1, 0)]
    assert daily == [(d, 1) for d in days if d < today]     # not today's
