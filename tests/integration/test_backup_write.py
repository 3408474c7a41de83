# SPDX-License-Identifier: ISC
"""Writing backups (lib/backup-run.c through rallyctl backup now and
rallyd's backup job): the record, the lock that keeps backups one at a
time, a full disk, a file that does not read back, retention, and a
process killed mid-backup, a COPY cut short."""

import os
import signal
import subprocess
import time

import pytest

from rallytest import program
from rallytest.backup import CHUNK, ctl, ctl_json, write_conf
from rallytest.daemon import Rallyd, wait_until
from rallytest.faults import read_fault_env
from rallytest.pg import PGBIN
from rallytest.schema import calendar_user

SYSTEM = "00000000-0000-0000-0000-000000000000"
LOCK_KEY = 8241988006213476715
EX_TEMPFAIL = 75


def noise(conn, nbytes):
    """Activities of random text (which zstd cannot shrink much)."""
    tenant, user, _ = calendar_user(conn)
    conn.execute(
        "INSERT INTO rally.activities (tenant_id, owner_id, title, description)"
        " SELECT %s, %s, 'noise ' || g,"
        "  (SELECT string_agg(md5(random()::text || g || h), '') FROM generate_series(1, 32) h)"
        " FROM generate_series(1, %s) g", (tenant, user, nbytes // 400 + 1))


def slow_pg_dump(tmp_path, delay):
    """A pg_dump that writes its first 64 KiB, then waits delay seconds."""
    path = tmp_path / "slow-pg_dump"
    path.write_text(f"#!/bin/sh\n{PGBIN}/pg_dump \"$@\" | (head -c 65536; sleep {delay}; cat)\n")
    path.chmod(0o755)
    return str(path)


@pytest.fixture
def backup_dir(tmp_path):
    return tmp_path / "backups"


@pytest.fixture
def conf(pg, db, tmp_path, backup_dir):
    c = write_conf(tmp_path / "rally.conf", pg.conninfo(db), tmp_path / "keyring",
                   tmp_path / "backup-keyring", backup_dir)
    assert ctl(c, "keys", "generate", "--backup").returncode == 0
    return c


def wait_lock_released(conn):
    """A killed backup's backend lets the backup lock go once it sees the
    connection closed, a moment later: until then a backup is refused."""
    wait_until(lambda: conn.execute(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
        " AND classid = %s AND objid = %s", (LOCK_KEY >> 32, LOCK_KEY & 0xFFFFFFFF)
    ).fetchone()[0] == 0, message="the killed backup's lock released")


def records(conn):
    return conn.execute("SELECT file_name, status, error FROM rally.backups"
                        " ORDER BY started_at").fetchall()


def files(d):
    return sorted(os.listdir(d)) if os.path.isdir(d) else []


def test_backup_now_records_the_file_with_its_size_and_sha256(dbconn, conf, backup_dir):
    noise(dbconn, 10000)
    made = ctl_json(conf, "backup", "now")
    path = backup_dir / made["file"]
    assert files(backup_dir) == [made["file"]] and path.stat().st_mode & 0o777 == 0o600
    row = dbconn.execute("SELECT status, size_bytes, encode(sha256, 'hex'), key_id,"
                         " verified_at IS NOT NULL, row_counts->>'rally.activities'"
                         " FROM rally.backups WHERE file_name = %s", (made["file"],)).fetchone()
    import hashlib
    assert row == ("complete", path.stat().st_size, hashlib.sha256(path.read_bytes()).hexdigest(),
                   1, True, str(made["row_counts"]["rally.activities"]))
    listed = ctl_json(conf, "backup", "list")["backups"]
    assert [(b["file"], b["status"], b["size_bytes"]) for b in listed] == \
        [(made["file"], "complete", path.stat().st_size)]


def test_a_backup_is_refused_while_another_holds_the_lock(pg, db, dbconn, conf, backup_dir):
    with pg.connect(db) as other:
        other.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
        r = ctl(conf, "backup", "now")
        assert r.returncode == EX_TEMPFAIL and "another backup is running" in r.stderr
        assert files(backup_dir) == [] and records(dbconn) == []
    assert ctl(conf, "backup", "now").returncode == 0


def test_a_full_disk_leaves_no_file_and_older_backups_untouched(pg, dbconn, conf, backup_dir):
    backup_dir.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(backup_dir)],
                   check=True)
    try:
        older = backup_dir / "20261130T030000.000Z.rbk"
        older.write_bytes(b"an older backup")
        noise(dbconn, 4 * CHUNK)
        r = ctl(conf, "backup", "now")
        assert r.returncode == 1 and "No space left on device" in r.stderr, r.stderr
        assert files(backup_dir) == [older.name] and older.read_bytes() == b"an older backup"
        [(name, status, error)] = records(dbconn)
        assert status == "failed" and "No space left on device" in error
    finally:
        subprocess.run(["umount", str(backup_dir)], check=True)


def test_a_backup_that_does_not_read_back_is_never_visible(dbconn, conf, backup_dir, tmp_path):
    # The disk fails the read-back one chunk in.
    noise(dbconn, 8 * CHUNK)
    r = ctl(conf, "backup", "now", env=read_fault_env(tmp_path, ".rbk.tmp", CHUNK))
    assert r.returncode == 1 and "Input/output error" in r.stderr, r.stderr
    assert files(backup_dir) == []
    [(_, status, error)] = records(dbconn)
    assert status == "failed" and ".rbk.tmp: read: Input/output error" in error
    made = ctl_json(conf, "backup", "now")
    assert files(backup_dir) == [made["file"]]


def test_a_backup_killed_before_its_read_back_ended_is_never_visible(dbconn, conf, backup_dir,
                                                                     tmp_path):
    # The process ends in the middle of reading the file back: what it
    # leaves has no backup's name, and the next backup clears it.
    noise(dbconn, 8 * CHUNK)
    r = ctl(conf, "backup", "now", env=read_fault_env(tmp_path, ".rbk.tmp", 4 * CHUNK,
                                                        exit=True))
    assert r.returncode == 137, r.stderr
    assert [n for n in files(backup_dir) if n.endswith(".rbk")] == []
    made = ctl_json(conf, "backup", "now")
    assert files(backup_dir) == [made["file"]]
    statuses = [status for _, status, _ in records(dbconn)]
    assert statuses == ["failed", "complete"]


def test_a_copy_the_database_ends_midway_fails_the_backup_and_leaves_no_file(
        dbconn, conf, backup_dir):
    """The backup reads the table data with COPY itself: when the database
    ends that connection in the middle of it, the backup fails, naming the
    table it was reading, and the next one succeeds."""
    noise(dbconn, 32 * 1024 * 1024)
    p = subprocess.Popen([program("rallyctl"), "-c", conf, "backup", "now"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    def copying():
        row = dbconn.execute("SELECT pid FROM pg_stat_activity"
                             " WHERE query LIKE 'COPY rally.activities %TO STDOUT'").fetchone()
        return row and row[0]

    try:
        pid = wait_until(copying, interval=0.001, message="the COPY of rally.activities")
        # Held still, so that the COPY is surely in the middle when it ends.
        p.send_signal(signal.SIGSTOP)
        assert dbconn.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone()[0]
    finally:
        p.send_signal(signal.SIGCONT)
        _, err = p.communicate(timeout=60)
    assert p.returncode == 1, err
    # The server's reason, or libpq's when the socket was too full for it.
    assert "backup: reading rally.activities: " in err, err
    assert files(backup_dir) == []
    [(_, status, error)] = records(dbconn)
    assert status == "failed" and "reading rally.activities" in error
    made = ctl_json(conf, "backup", "now")
    assert files(backup_dir) == [made["file"]]


def test_a_statement_waiting_for_a_table_fails_the_backup_instead_of_both_waiting(
        pg, db, dbconn, tmp_path, backup_dir):
    """An ALTER TABLE that comes while the backup holds its locks waits
    behind them, and the pg_dumps' locks behind it: the backup gives up
    after backup.lock_wait, and the ALTER goes on."""
    late = tmp_path / "late-pg_dump"
    late.write_text(f"#!/bin/sh\nsleep 2\nexec {PGBIN}/pg_dump \"$@\"\n")
    late.chmod(0o755)
    conf = write_conf(tmp_path / "late.conf", pg.conninfo(db), tmp_path / "keyring",
                      tmp_path / "backup-keyring", backup_dir,
                      {"backup": {"pg_dump": str(late), "lock_wait": "1s"}})
    assert ctl(conf, "keys", "generate", "--backup").returncode == 0
    p = subprocess.Popen([program("rallyctl"), "-c", conf, "backup", "now"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wait_until(lambda: dbconn.execute(
        "SELECT 1 FROM pg_stat_activity WHERE application_name = 'rallyctl'"
        " AND state = 'idle in transaction'").fetchone(), interval=0.01,
        message="the backup's locks")
    with pg.connect(db) as ddl:
        ddl.execute("SET lock_timeout = '60s'")
        ddl.execute("ALTER TABLE rally.activities ADD COLUMN late int")
    _, err = p.communicate(timeout=60)
    assert p.returncode == 1 and "pg_dump" in err, err
    assert files(backup_dir) == []
    [(_, status, _)] = records(dbconn)
    assert status == "failed"


def test_a_table_locked_by_another_fails_the_backup_after_lock_wait(
        pg, db, dbconn, tmp_path, backup_dir):
    conf = write_conf(tmp_path / "wait.conf", pg.conninfo(db), tmp_path / "keyring",
                      tmp_path / "backup-keyring", backup_dir,
                      {"backup": {"lock_wait": "1s"}})
    assert ctl(conf, "keys", "generate", "--backup").returncode == 0
    with pg.connect(db) as other, other.transaction():
        other.execute("LOCK TABLE rally.users IN ACCESS EXCLUSIVE MODE")
        r = ctl(conf, "backup", "now")
    assert r.returncode == 1, r.stderr
    assert "locking the tables (at most backup.lock_wait): canceling statement due to lock" \
        " timeout" in r.stderr, r.stderr
    assert files(backup_dir) == []
    made = ctl_json(conf, "backup", "now")
    assert files(backup_dir) == [made["file"]]


def test_backups_older_than_the_retention_are_deleted(dbconn, conf, backup_dir):
    backup_dir.mkdir()
    old, recent = "20200101T030000.000Z.rbk", time.strftime("%Y%m%dT%H%M%S.000Z.rbk",
                                                             time.gmtime(time.time() - 3600))
    for name, age in ((old, "6 years"), (recent, "1 hour")):
        (backup_dir / name).write_bytes(b"x")
        dbconn.execute("INSERT INTO rally.backups (file_name, status, size_bytes, sha256, key_id,"
                       " started_at, finished_at) VALUES (%s, 'complete', 1, sha256('x'), 1,"
                       " now() - %s::interval, now())", (name, age))
    (backup_dir / "unrelated.txt").write_bytes(b"kept")
    made = ctl_json(conf, "backup", "now")
    assert made["pruned"] == 1
    assert files(backup_dir) == sorted([recent, made["file"], "unrelated.txt"])
    status = dict((n, s) for n, s, _ in records(dbconn))
    assert status == {old: "pruned", recent: "complete", made["file"]: "complete"}


def test_a_backup_killed_midway_leaves_no_backup_and_the_next_succeeds(pg, db, dbconn, tmp_path,
                                                                      backup_dir):
    conf = write_conf(tmp_path / "slow.conf", pg.conninfo(db), tmp_path / "keyring",
                      tmp_path / "backup-keyring", backup_dir,
                      {"backup": {"pg_dump": slow_pg_dump(tmp_path, 30)}})
    assert ctl(conf, "keys", "generate", "--backup").returncode == 0
    noise(dbconn, 2 * CHUNK)
    p = subprocess.Popen([program("rallyctl"), "-c", conf, "backup", "now"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_until(lambda: any(f.endswith(".rbk.tmp") for f in files(backup_dir)),
               message="the temporary file")
    p.send_signal(signal.SIGKILL)
    p.wait()
    assert not any(f.endswith(".rbk") for f in files(backup_dir))
    wait_lock_released(dbconn)
    normal = write_conf(tmp_path / "rally.conf", pg.conninfo(db), tmp_path / "keyring",
                        tmp_path / "backup-keyring", backup_dir)
    made = ctl_json(normal, "backup", "now")
    assert files(backup_dir) == [made["file"]]
    status = [(s, e) for _, s, e in records(dbconn)]
    assert status[0][0] == "failed" and "interrupted" in status[0][1]
    assert status[1] == ("complete", None)


def daemon(pg, db, login_roles, tmp_path, backup_dir, name, pg_dump=None, **backup):
    extra = {"keys": {"backup_keyring": str(tmp_path / "backup-keyring")},
             "backup": {"dir": str(backup_dir), "conninfo": pg.conninfo(db),
                        "pg_dump": pg_dump or f"{PGBIN}/pg_dump", **backup}}
    return Rallyd(pg.conninfo(db, login_roles["daemon"]), name=name, extra=extra)


def queue_backup(conn, key):
    conn.execute("SELECT rally.job_enqueue(%s, 'backup', %s)", (SYSTEM, key))


def test_two_daemons_never_back_up_at_once(pg, db, dbconn, login_roles, conf, tmp_path,
                                           backup_dir):
    noise(dbconn, CHUNK)
    slow = slow_pg_dump(tmp_path, 3)
    a = daemon(pg, db, login_roles, tmp_path, backup_dir, "a", slow).start()
    b = daemon(pg, db, login_roles, tmp_path, backup_dir, "b", slow).start()
    try:
        queue_backup(dbconn, "one")
        queue_backup(dbconn, "two")
        most = 0

        def first_done():
            nonlocal most
            running = dbconn.execute("SELECT count(*) FROM rally.backups"
                                     " WHERE status = 'running'").fetchone()[0]
            most = max(most, running)
            return dbconn.execute("SELECT count(*) FROM rally.backups"
                                  " WHERE status = 'complete'").fetchone()[0] == 1

        wait_until(first_done, timeout=60, message="the first backup")
        assert most == 1
        busy = wait_until(lambda: dbconn.execute(
            "SELECT last_error FROM rally.jobs WHERE kind = 'backup' AND state = 'pending'"
            " AND attempts = 1").fetchone(), message="the refused backup")
        assert "another backup is running" in busy[0]
        assert len([f for f in files(backup_dir) if f.endswith(".rbk")]) == 1
    finally:
        a.stop()
        b.stop()
        a.close()
        b.close()


def backup_taken_over(pg, db, dbconn, login_roles, tmp_path, backup_dir, key):
    """Another instance finishes the backup job of dedupe key key."""
    wait_lock_released(dbconn)      # else its first try waits a minute
    b = daemon(pg, db, login_roles, tmp_path, backup_dir, "b").start()
    try:
        wait_until(lambda: dbconn.execute("SELECT state FROM rally.jobs WHERE kind = 'backup'"
                                          " AND dedupe_key = %s", (key,)).fetchone()[0] == "done",
                   timeout=60, message="the backup taken over")
    finally:
        b.stop()
        b.close()


def test_a_daemon_killed_midway_leaves_no_backup_and_another_finishes_it(
        pg, db, dbconn, login_roles, conf, tmp_path, backup_dir):
    noise(dbconn, CHUNK)
    a = daemon(pg, db, login_roles, tmp_path, backup_dir, "a",
               slow_pg_dump(tmp_path, 60)).start()
    try:
        queue_backup(dbconn, "killed")
        wait_until(lambda: any(f.endswith(".rbk.tmp") for f in files(backup_dir)),
                   message="the temporary file")
        a.kill()
    finally:
        a.close()
    assert not any(f.endswith(".rbk") for f in files(backup_dir))
    backup_taken_over(pg, db, dbconn, login_roles, tmp_path, backup_dir, "killed")
    [made] = [f for f in files(backup_dir)]
    assert made.endswith(".rbk")
    status = [(n, s) for n, s, _ in records(dbconn)]
    assert status[0][1] == "failed" and status[1] == (made, "complete")
    result = dbconn.execute("SELECT result FROM rally.jobs WHERE dedupe_key = 'killed'"
                            ).fetchone()[0]
    assert result["file"] == made and result["key_id"] == 1


def restore_check(pg, db, dbconn, login_roles, tmp_path, backup_dir):
    """Starts rallyd, which queues the restore check of the newest backup on
    its first tick, and waits for the check's record."""
    d = daemon(pg, db, login_roles, tmp_path, backup_dir, "checker").start()
    try:
        wait_until(lambda: dbconn.execute(
            "SELECT restore_check FROM rally.backups WHERE restore_check IS NOT NULL"
        ).fetchone(), timeout=60, message="the restore check")
    finally:
        d.stop()
        d.close()
    return d.output(), dbconn.execute(
        "SELECT restore_check, restore_error FROM rally.backups"
        " WHERE restore_checked_at IS NOT NULL").fetchall()


def scratch_databases(pg):
    with pg.connect() as c:
        return c.execute("SELECT datname FROM pg_database"
                         " WHERE datname LIKE 'rally_restore_check_%'").fetchall()


def test_the_restore_check_restores_the_newest_backup_and_finds_its_counts(
        pg, db, dbconn, login_roles, conf, tmp_path, backup_dir):
    noise(dbconn, 20000)
    ctl_json(conf, "backup", "now")
    output, checks = restore_check(pg, db, dbconn, login_roles, tmp_path, backup_dir)
    assert checks == [("ok", None)]
    assert "restored:" in output and "as recorded" in output
    assert scratch_databases(pg) == []


def test_a_backup_restoring_other_counts_fails_the_check_at_crit(
        pg, db, dbconn, login_roles, conf, tmp_path, backup_dir):
    noise(dbconn, 20000)
    made = ctl_json(conf, "backup", "now")
    dbconn.execute("UPDATE rally.backups SET row_counts = row_counts"
                   " || '{\"rally.activities\": 1}' WHERE file_name = %s", (made["file"],))
    output, checks = restore_check(pg, db, dbconn, login_roles, tmp_path, backup_dir)
    [(status, error)] = checks
    assert status == "failed" and "rally.activities" in error and "1 recorded" in error
    assert "crit: backup restore check failed" in output
    assert scratch_databases(pg) == []


def test_a_damaged_newest_backup_fails_the_check(pg, db, dbconn, login_roles, conf, tmp_path,
                                                 backup_dir):
    noise(dbconn, 20000)
    made = ctl_json(conf, "backup", "now")
    path = backup_dir / made["file"]
    data = bytearray(path.read_bytes())
    data[-5] ^= 0x40
    path.write_bytes(bytes(data))
    output, checks = restore_check(pg, db, dbconn, login_roles, tmp_path, backup_dir)
    [(status, error)] = checks
    assert status == "failed" and "does not authenticate" in error
    assert scratch_databases(pg) == []


def test_a_backup_job_queued_in_a_tenant_is_refused(pg, db, dbconn, login_roles, conf, tmp_path,
                                                    backup_dir):
    tenant, _, _ = calendar_user(dbconn)
    d = daemon(pg, db, login_roles, tmp_path, backup_dir, "a").start()
    try:
        for kind in ("backup", "backup-check"):
            dbconn.execute("SELECT rally.job_enqueue(%s, %s, 'hostile')", (tenant, kind))
        wait_until(lambda: dbconn.execute(
            "SELECT count(*) FROM rally.jobs WHERE tenant_id = %s AND state = 'failed'"
            " AND last_error = 'backup jobs belong to the system tenant'",
            (tenant,)).fetchone()[0] == 2, message="the refusals")
    finally:
        d.stop()
        d.close()
    assert files(backup_dir) == [] and records(dbconn) == []


# rallyd's stop cancels the statement a backup or a restore check waits in
# and stops its pg_dump or psql (lib/cancel.h): Rallyd.stop() gives it 20 s,
# where the waits below would last ten minutes.

def test_a_daemon_stopped_while_its_backup_waits_for_a_lock_stops_at_once(
        pg, db, dbconn, login_roles, conf, tmp_path, backup_dir):
    # A table of the database that rallyd's own jobs do not read: they
    # would wait too, and the job leases' hand-back behind them.
    dbconn.execute("CREATE TABLE public.held (x int)")
    d = daemon(pg, db, login_roles, tmp_path, backup_dir, "a", lock_wait="10m")
    try:
        with pg.connect(db) as other, other.transaction():
            other.execute("LOCK TABLE public.held IN ACCESS EXCLUSIVE MODE")
            d.start()
            queue_backup(dbconn, "stopped")
            wait_until(lambda: dbconn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                " AND query LIKE 'LOCK TABLE%'").fetchone()[0] == 1,
                timeout=60, message="the backup waiting for its locks")
            assert d.stop() == 0, d.output()[-3000:]
        assert dbconn.execute("SELECT count(*) FROM pg_stat_activity"
                              " WHERE query LIKE 'LOCK TABLE%'").fetchone()[0] == 0
    finally:
        d.close()
    assert files(backup_dir) == []
    assert [(s, e) for _, s, e in records(dbconn)] == [("failed", "cancelled")]
    state = dbconn.execute("SELECT state, attempts FROM rally.jobs WHERE kind = 'backup'"
                           " AND dedupe_key = 'stopped'").fetchone()
    assert state[0] == "pending", state       # handed back, for the next instance
    backup_taken_over(pg, db, dbconn, login_roles, tmp_path, backup_dir, "stopped")
    assert [f for f in files(backup_dir) if f.endswith(".rbk")] and not [
        f for f in files(backup_dir) if f.endswith(".tmp")]


def test_a_daemon_stopped_during_its_restore_check_stops_at_once(
        pg, db, dbconn, login_roles, conf, tmp_path, backup_dir):
    noise(dbconn, 4 * CHUNK)         # more than a pipe holds
    ctl_json(conf, "backup", "now")
    started = tmp_path / "psql-started"
    stuck = tmp_path / "stuck-psql"
    stuck.write_text(f"#!/bin/sh\ntouch {started}\nexec sleep 600\n")
    stuck.chmod(0o755)
    d = daemon(pg, db, login_roles, tmp_path, backup_dir, "checker", psql=str(stuck)).start()
    try:
        wait_until(started.exists, timeout=60, message="the restore check's psql")
        assert scratch_databases(pg) != []
        time.sleep(0.5)         # the restore blocked, writing to psql
        assert d.stop() == 0, d.output()[-3000:]
    finally:
        d.close()
    assert "restore check failed" not in d.output()
    assert scratch_databases(pg) == []
    # Not a failed check: none recorded.
    assert dbconn.execute("SELECT restore_check, restore_checked_at FROM rally.backups"
                          ).fetchall() == [(None, None)]
