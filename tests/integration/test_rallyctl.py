# SPDX-License-Identifier: ISC
"""rallyctl, the operators' CLI, against a real PostgreSQL: migrations,
tenants and users, status and jobs, keys, and its exit codes."""

import contextlib
import fcntl
import json
import os
import re
import select
import shutil
import stat
import subprocess
import threading
import time

import psycopg
import pytest

from rallytest import BUILDDIR, program
from rallytest.schema import functions_digest, functions_dir, migrations_dir, scan_functions

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
SYSTEM = "00000000-0000-0000-0000-000000000000"
PASSWORD = "correct horse battery staple 7"
EX_USAGE, EX_DATAERR, EX_UNAVAILABLE, EX_TEMPFAIL, EX_CONFIG = 64, 65, 69, 75, 78


def write_conf(path, conninfo, keyring, lease="60s", extra=""):
    with open(path, "w") as f:
        f.write(f"[database]\nconninfo = {conninfo}\n"
                f"[daemon]\nlease = {lease}\n"
                f"[keys]\nkeyring = {keyring}\n"
                "[passwords]\nargon2_memory_kib = 19456\nargon2_iterations = 2\n"
                "argon2_parallelism = 1\n" + extra)
    return str(path)


def ctl_env(env=None):
    e = dict(os.environ)
    e.pop("RALLY_MIGRATIONS_DIR", None)
    e.pop("RALLY_FUNCTIONS_DIR", None)
    e.pop("CREDENTIALS_DIRECTORY", None)
    e.update(env or {})
    return e


def run(conf, *args, input=None, env=None):
    r = subprocess.run([program("rallyctl"), "-c", conf, *args], input=input,
                       capture_output=True, text=True, env=ctl_env(env), timeout=120)
    # Under --enable-asan/--enable-ubsan, whatever the exit status was meant to be.
    assert "Sanitizer" not in r.stderr and "runtime error:" not in r.stderr, r.stderr
    return r


def ok(conf, *args, **kw):
    r = run(conf, *args, **kw)
    assert r.returncode == 0, f"rallyctl {' '.join(args)} exited {r.returncode}:\n{r.stderr}"
    return r


def seal_tool(*args, input):
    return subprocess.run([str(BUILDDIR / "tests" / "unit" / "seal-tool"), *args],
                          input=input, capture_output=True, check=True, timeout=30).stdout


@pytest.fixture
def empty_db(pg):
    name = pg.create_database()
    yield name
    with pg.connect() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def empty_conf(pg, empty_db, tmp_path):
    return write_conf(tmp_path / "rally.conf", pg.conninfo(empty_db), tmp_path / "keyring")


@pytest.fixture
def conf(pg, db, tmp_path):
    return write_conf(tmp_path / "rally.conf", pg.conninfo(db), tmp_path / "keyring")


@pytest.fixture
def conn(pg, db):
    with pg.connect(db) as c:
        yield c


def applied_versions(pg, dbname):
    with pg.connect(dbname) as c:
        return [r[0] for r in c.execute(
            "SELECT version FROM rally.schema_migrations ORDER BY version")]


def table_exists(pg, dbname, name):
    with pg.connect(dbname) as c:
        return c.execute("SELECT to_regclass(%s)", (name,)).fetchone()[0] is not None


def migration_files():
    return sorted(f for f in os.listdir(migrations_dir()) if f.endswith(".sql"))


def tree_functions():
    return [os.path.basename(p) for p in scan_functions(functions_dir(migrations_dir()))]


# --- migrate ------------------------------------------------------------------


def test_migrate_applies_every_file_on_an_empty_database_then_nothing(pg, empty_db, empty_conf):
    first = ok(empty_conf, "migrate", "--dir", migrations_dir())
    files = migration_files()
    assert files, "the source tree has migrations"
    lines = first.stdout.splitlines()
    assert lines[:-1] == [f"applied {f}" for f in files]
    assert re.match(r"^functions: \d+ file\(s\) applied, digest [0-9a-f]{12}$", lines[-1])
    assert applied_versions(pg, empty_db) == [int(f[:4]) for f in files]

    again = ok(empty_conf, "migrate", "--dir", migrations_dir())
    assert not re.search(r"^applied ", again.stdout, re.M)
    assert "up to date" in again.stdout
    out = json.loads(ok(empty_conf, "--json", "migrate", "--dir", migrations_dir()).stdout)
    assert out["applied"] == []
    assert out["functions"]["files"] == tree_functions()


def test_migrate_takes_its_directory_from_the_environment(pg, empty_db, empty_conf, tmp_path):
    d = tmp_path / "m"
    d.mkdir()
    (d / "0001_one.sql").write_text("create table rally.one (x int);\n")
    # Not Rally's schema: no functions to apply after it.
    r = ok(empty_conf, "migrate", "--json", "--no-functions",
           env={"RALLY_MIGRATIONS_DIR": str(d)})
    assert json.loads(r.stdout) == {"applied": ["0001_one.sql"]}
    assert table_exists(pg, empty_db, "rally.one")


def test_a_failing_migration_is_named_rolled_back_and_earlier_ones_stay(pg, empty_db, empty_conf,
                                                                       tmp_path):
    d = tmp_path / "m"
    d.mkdir()
    (d / "0001_first.sql").write_text("create table rally.first (x int);\n")
    (d / "0002_broken.sql").write_text("create table rally.second (x int);\n\n"
                                       "create tabel rally.oops (x int);\n")
    (d / "0003_third.sql").write_text("create table rally.third (x int);\n")
    r = run(empty_conf, "migrate", "--no-functions", "--dir", str(d))
    assert r.returncode == 1
    assert "0002_broken.sql" in r.stderr and "syntax error" in r.stderr
    assert "(line 3)" in r.stderr
    assert r.stdout.splitlines() == ["applied 0001_first.sql"]
    assert applied_versions(pg, empty_db) == [1]
    assert table_exists(pg, empty_db, "rally.first")
    assert not table_exists(pg, empty_db, "rally.second"), "the failed file is rolled back"
    assert not table_exists(pg, empty_db, "rally.third"), "nothing runs after a failure"

    # Fixed, the run resumes where it stopped.
    (d / "0002_broken.sql").write_text("create table rally.second (x int);\n")
    r = ok(empty_conf, "migrate", "--no-functions", "--dir", str(d))
    assert r.stdout.splitlines() == ["applied 0002_broken.sql", "applied 0003_third.sql"]
    assert applied_versions(pg, empty_db) == [1, 2, 3]


@pytest.mark.parametrize("files, message", [
    ({"1_short.sql": "select 1;"}, "1_short.sql: not a migration file name"),
    ({"0001_Upper.sql": "select 1;"}, "0001_Upper.sql: not a migration file name"),
    ({"0001_a.sql": "select 1;", "README": "x"}, "README: not a migration file name"),
    ({"0001_a.sql": "select 1;", "0001_b.sql": "select 1;"},
     "0001_a.sql and 0001_b.sql have the same version"),
    ({"0001_big.sql": "-- " + "x" * (1024 * 1024) + "\n"}, "0001_big.sql: larger than 1048576 bytes"),
    ({"0001_nul.sql": "select 1;\0"}, "0001_nul.sql: contains a NUL byte"),
    ({"0001_commits.sql": "create table rally.c (x int); commit;"},
     "0001_commits.sql: ends the transaction it runs in"),
])
def test_migrate_refuses_a_malformed_directory_and_applies_nothing(pg, empty_db, empty_conf,
                                                                   tmp_path, files, message):
    d = tmp_path / "m"
    d.mkdir()
    for name, text in files.items():
        (d / name).write_text(text)
    r = run(empty_conf, "migrate", "--no-functions", "--dir", str(d))
    assert r.returncode == 1
    assert message in r.stderr
    if table_exists(pg, empty_db, "rally.schema_migrations"):
        assert applied_versions(pg, empty_db) == []


def test_migrate_refuses_a_renamed_applied_migration(pg, empty_db, empty_conf, tmp_path):
    d = tmp_path / "m"
    d.mkdir()
    (d / "0001_first.sql").write_text("select 1;\n")
    ok(empty_conf, "migrate", "--no-functions", "--dir", str(d))
    os.rename(d / "0001_first.sql", d / "0001_renamed.sql")
    r = run(empty_conf, "migrate", "--no-functions", "--dir", str(d))
    assert r.returncode == 1
    assert 'version 1 was applied as "first"' in r.stderr


def test_concurrent_migrate_runs_both_succeed_and_apply_each_file_once(pg, empty_db, empty_conf,
                                                                      tmp_path):
    d = tmp_path / "m"
    d.mkdir()
    # Not idempotent on purpose: applied twice, a file would fail.
    for i in range(1, 5):
        (d / f"{i:04d}_step{i}.sql").write_text(
            f"create table rally.step{i} (x int);\nselect pg_sleep(0.3);\n")
    results = [None, None]

    def go(k):
        results[k] = run(empty_conf, "migrate", "--no-functions", "--dir", str(d))

    threads = [threading.Thread(target=go, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for r in results:
        assert r.returncode == 0, r.stderr
    lines = sorted(line for r in results for line in r.stdout.splitlines()
                   if line.startswith("applied "))
    assert lines == [f"applied {i:04d}_step{i}.sql" for i in range(1, 5)]
    assert applied_versions(pg, empty_db) == [1, 2, 3, 4]


# --- functions ----------------------------------------------------------------


def copy_functions(tmp_path):
    """A copy of the tree's functions directory, to change."""
    d = tmp_path / "functions"
    shutil.copytree(functions_dir(migrations_dir()), d)
    return d


def recorded_functions(pg, dbname):
    with pg.connect(dbname) as c:
        return c.execute("SELECT digest, files, applied_at FROM rally.schema_functions"
                         " WHERE id = 1").fetchone()


def test_migrate_records_the_functions_digest_the_python_runner_computes(pg, empty_db,
                                                                        empty_conf, db):
    out = json.loads(ok(empty_conf, "--json", "migrate", "--dir", migrations_dir()).stdout)
    want = functions_digest(scan_functions(functions_dir(migrations_dir())))
    digest, files, _ = recorded_functions(pg, empty_db)
    assert digest == want == out["functions"]["digest"]
    assert files == tree_functions() == out["functions"]["files"]
    assert recorded_functions(pg, db)[:2] == (digest, files), \
        "the tests' Python runner records what rallyctl migrate records"


def test_migrate_reapplies_the_functions_on_every_run(pg, empty_db, empty_conf):
    ok(empty_conf, "migrate", "--dir", migrations_dir())
    before = recorded_functions(pg, empty_db)
    with pg.connect(empty_db) as c:
        c.execute("CREATE OR REPLACE FUNCTION rally.job_kinds() RETURNS text[]"
                  " LANGUAGE sql IMMUTABLE AS $$ SELECT array['tampered'] $$")
    again = ok(empty_conf, "migrate", "--dir", migrations_dir())
    assert "nothing to apply" in again.stdout and "functions: " in again.stdout
    with pg.connect(empty_db) as c:
        assert "ping" in c.execute("SELECT rally.job_kinds()").fetchone()[0]
    after = recorded_functions(pg, empty_db)
    assert after[:2] == before[:2] and after[2] > before[2]


def test_a_broken_functions_file_fails_migrate_and_keeps_the_previous_functions(
        pg, empty_db, empty_conf, tmp_path):
    f = copy_functions(tmp_path)
    ok(empty_conf, "migrate", "--dir", migrations_dir(), "--functions-dir", str(f))
    before = recorded_functions(pg, empty_db)
    (f / "aaa-probe.sql").write_text(
        "set local role rally_owner;\n"
        "create or replace function rally.probe() returns int language sql as $$ select 1 $$;\n")
    (f / "zzz-broken.sql").write_text("set local role rally_owner;\n\n"
                                      "create functoin rally.oops() returns int;\n")
    r = run(empty_conf, "migrate", "--dir", migrations_dir(), "--functions-dir", str(f))
    assert r.returncode == 1
    assert "functions/zzz-broken.sql: syntax error" in r.stderr and "(line 3)" in r.stderr
    assert recorded_functions(pg, empty_db) == before
    with pg.connect(empty_db) as c:
        assert c.execute("SELECT to_regprocedure('rally.probe()')").fetchone()[0] is None, \
            "the files before the broken one are rolled back with it"


@pytest.mark.parametrize("name, message", [
    ("Jobs.sql", "Jobs.sql: not a functions file name"),
    ("-jobs.sql", "-jobs.sql: not a functions file name"),
    ("job_kinds.sql", "job_kinds.sql: not a functions file name"),
    ("README", "README: not a functions file name"),
    ("dir.sql/", "dir.sql: not a regular file"),
    ("nul.sql", "nul.sql: contains a NUL byte"),
])
def test_migrate_refuses_a_malformed_functions_directory_before_any_migration(
        pg, empty_db, empty_conf, tmp_path, name, message):
    f = copy_functions(tmp_path)
    if name.endswith("/"):
        (f / name).mkdir()
    else:
        (f / name).write_text("select 1;\0" if name == "nul.sql" else "select 1;\n")
    r = run(empty_conf, "migrate", "--dir", migrations_dir(), "--functions-dir", str(f))
    assert r.returncode == 1 and message in r.stderr, r.stderr
    assert not table_exists(pg, empty_db, "rally.schema_migrations")


def test_migrate_without_a_functions_directory_says_where_it_looked(empty_conf, tmp_path):
    missing = tmp_path / "none"
    r = run(empty_conf, "migrate", "--dir", migrations_dir(),
            env={"RALLY_FUNCTIONS_DIR": str(missing)})
    assert r.returncode == 1
    assert f"functions directory {missing}: No such file or directory" in r.stderr


def test_status_says_whether_the_functions_are_the_installed_ones(conf, tmp_path):
    f = copy_functions(tmp_path)
    env = {"RALLY_FUNCTIONS_DIR": str(f)}
    assert "functions: up to date" in ok(conf, "status", env=env).stdout
    s = json.loads(ok(conf, "--json", "status", env=env).stdout)["functions"]
    assert s["up_to_date"] and s["database"] == s["installed"]

    with open(f / "jobs.sql", "a") as fh:
        fh.write("-- changed\n")
    new = functions_digest(scan_functions(str(f)))
    human = ok(conf, "status", env=env).stdout
    assert (f"functions: out of date (database {s['database'][:12]}, installed {new[:12]}): "
            "run rallyctl migrate") in human
    s = json.loads(ok(conf, "--json", "status", env=env).stdout)["functions"]
    assert not s["up_to_date"] and s["installed"] == new and s["dir"] == str(f)

    ok(conf, "migrate", "--dir", migrations_dir(), env=env)
    assert "functions: up to date" in ok(conf, "status", env=env).stdout


def test_status_reports_an_unreadable_functions_directory_and_still_shows_the_rest(conf,
                                                                                  tmp_path):
    r = ok(conf, "status", env={"RALLY_FUNCTIONS_DIR": str(tmp_path / "none")})
    assert "Instances:" in r.stdout and "functions: cannot tell: functions directory" in r.stdout


# --- tenants and users --------------------------------------------------------


def make_tenant(conf, name="Acme", *extra):
    tid = ok(conf, "tenant", "create", name, *extra).stdout.strip()
    assert UUID.match(tid), tid
    return tid


def test_tenant_create_prints_the_new_tenant_id(conf, conn):
    tid = make_tenant(conf, "Acme Ltd", "--size", "25")
    assert conn.execute("SELECT name, company_size FROM rally.tenants WHERE tenant_id = %s",
                        (tid,)).fetchone() == ("Acme Ltd", "11-50")
    out = json.loads(ok(conf, "--json", "tenant", "create", "Globex", "--size", "1001+").stdout)
    assert UUID.match(out["tenant_id"]) and out["company_size"] == "1001+"
    r = run(conf, "tenant", "create", "Bad", "--size", "lots")
    assert r.returncode == EX_USAGE and "--size" in r.stderr


def test_user_create_stores_an_argon2id_hash_and_never_shows_the_password(conf, conn):
    tid = make_tenant(conf)
    r = ok(conf, "user", "create", "--tenant", tid, "--email", "Alice@Example.COM",
           "--name", "Alice", "--role", "admin", input=PASSWORD + "\nignored second line\n")
    uid = r.stdout.strip()
    assert UUID.match(uid)
    email, name, role, phc = conn.execute(
        "SELECT email, name, role, password_hash FROM rally.users"
        " WHERE tenant_id = %s AND id = %s", (tid, uid)).fetchone()
    assert (email, name, role) == ("alice@example.com", "Alice", "admin")
    assert phc.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert PASSWORD not in phc
    assert PASSWORD not in r.stdout + r.stderr

    js = json.loads(ok(conf, "--json", "user", "create", "--tenant", tid, "--email",
                       "bob@example.com", input=PASSWORD + "\n").stdout)
    assert UUID.match(js["user_id"]) and js["role"] == "member"
    assert js["email"] == "bob@example.com"


def test_a_duplicate_email_in_a_tenant_exits_65_with_a_clear_message(conf, conn):
    tid = make_tenant(conf)
    ok(conf, "user", "create", "--tenant", tid, "--email", "carol@example.com",
       input=PASSWORD + "\n")
    r = run(conf, "user", "create", "--tenant", tid, "--email", "CAROL@example.com",
            input=PASSWORD + "\n")
    assert r.returncode == EX_DATAERR
    assert r.stderr.startswith("rallyctl: ")
    assert "already has a user with email carol@example.com" in r.stderr
    assert PASSWORD not in r.stdout + r.stderr
    assert conn.execute("SELECT count(*) FROM rally.users WHERE tenant_id = %s",
                        (tid,)).fetchone()[0] == 1
    # The same address in another tenant is another account.
    other = make_tenant(conf, "Other")
    ok(conf, "user", "create", "--tenant", other, "--email", "carol@example.com",
       input=PASSWORD + "\n")


@pytest.mark.parametrize("args, stdin, status, message", [
    (["--email", "a@example.com"], "", EX_USAGE, "no password on stdin"),
    (["--email", "a@example.com"], "\n", EX_USAGE, "no password on stdin"),
    (["--email", "a@example.com"], "x" * 1025 + "\n", EX_USAGE, "at most 1024 bytes"),
    (["--email", "not-an-address"], PASSWORD + "\n", EX_DATAERR, "not a valid email address"),
    (["--email", "a@b@example.com"], PASSWORD + "\n", EX_DATAERR, "not a valid email address"),
    (["--email", "x" * 250 + "@example.com"], PASSWORD + "\n", EX_DATAERR,
     "not a valid email address"),
    (["--email", "a@example.com", "--role", "root"], PASSWORD + "\n", EX_USAGE, "--role"),
])
def test_user_create_rejects_bad_input(conf, conn, args, stdin, status, message):
    tid = make_tenant(conf)
    r = run(conf, "user", "create", "--tenant", tid, *args, input=stdin)
    assert r.returncode == status, r.stderr
    assert message in r.stderr
    assert conn.execute("SELECT count(*) FROM rally.users").fetchone()[0] == 0


def test_user_create_in_an_unknown_tenant_exits_65(conf):
    r = run(conf, "user", "create", "--tenant", "7c9e6679-7425-40de-944b-e07fc1f90ae7",
            "--email", "a@example.com", input=PASSWORD + "\n")
    assert r.returncode == EX_DATAERR and "no tenant" in r.stderr
    r = run(conf, "user", "create", "--tenant", "nope", "--email", "a@example.com",
            input=PASSWORD + "\n")
    assert r.returncode == EX_USAGE


def test_a_password_of_1024_bytes_is_accepted(conf, conn):
    tid = make_tenant(conf)
    ok(conf, "user", "create", "--tenant", tid, "--email", "long@example.com",
       input="p" * 1024 + "\n")


# --- status and jobs ----------------------------------------------------------


def add_job(conn, kind, state="pending", tenant=SYSTEM, attempts=0, run_in="0 seconds",
            last_error=None):
    return conn.execute(
        "INSERT INTO rally.jobs (tenant_id, kind, state, attempts, run_at, last_error)"
        " VALUES (%s, %s, %s, %s, now() + %s::interval, %s) RETURNING id",
        (tenant, kind, state, attempts, run_in, last_error)).fetchone()[0]


def add_connection(conn, tenant, user, subject, status="active", refresh=None, access=None,
                   conn_id=None):
    return str(conn.execute(
        "INSERT INTO rally.google_connections (tenant_id, id, user_id, google_email,"
        " google_subject, calendar_enabled, status, refresh_token, access_token)"
        " VALUES (%s, coalesce(%s::uuid, gen_random_uuid()), %s, %s, %s, %s, %s, %s, %s)"
        " RETURNING id",
        (tenant, conn_id, user, f"{subject}@gmail.com", subject, status != "revoked",
         status, refresh, access)).fetchone()[0])


def make_user(conf, tid, email="owner@example.com"):
    return ok(conf, "user", "create", "--tenant", tid, "--email", email,
              input=PASSWORD + "\n").stdout.strip()


def test_status_shows_instances_jobs_backlog_and_connections(conf, conn):
    conn.execute("INSERT INTO rally.instances (name, host, pid, jobs_running)"
                 " VALUES ('alive-1', 'h1', 101, 2)")
    conn.execute("INSERT INTO rally.instances (name, host, pid, heartbeat_at)"
                 " VALUES ('dead-2', 'h2', 202, now() - interval '10 minutes')")
    add_job(conn, "calsync", run_in="-90 seconds")
    add_job(conn, "calsync")
    add_job(conn, "calsync", run_in="1 hour")
    add_job(conn, "mailsync", state="failed", attempts=8)
    tid = make_tenant(conf)
    uid = make_user(conf, tid)
    add_connection(conn, tid, uid, "s1")
    add_connection(conn, tid, uid, "s2")
    add_connection(conn, tid, uid, "s3", status="revoked")

    human = ok(conf, "status").stdout
    assert re.search(r"alive-1\s+h1\s+101\s+\d+\s+2\s+alive", human), human
    assert re.search(r"dead-2\s+h2\s+202\s+\d+\s+0\s+stale", human), human
    assert re.search(r"calsync\s+pending\s+3\s+(89|9\d)", human), human
    assert re.search(r"mailsync\s+failed\s+1", human), human
    assert "Backlog: 2 job(s) due" in human
    assert re.search(r"active\s+2", human) and re.search(r"revoked\s+1", human)

    s = json.loads(ok(conf, "status", "--json").stdout)
    inst = {i["name"]: i for i in s["instances"]}
    assert inst["alive-1"]["stale"] is False and inst["dead-2"]["stale"] is True
    assert inst["alive-1"]["pid"] == 101 and inst["alive-1"]["jobs_running"] == 2
    assert inst["dead-2"]["heartbeat_age_sec"] >= 600
    jobs = {(j["kind"], j["state"]): j for j in s["jobs"]}
    assert jobs[("calsync", "pending")]["count"] == 3
    assert 89 <= jobs[("calsync", "pending")]["oldest_due_age_sec"] < 200
    assert jobs[("mailsync", "failed")] == {"kind": "mailsync", "state": "failed", "count": 1,
                                           "oldest_due_age_sec": None}
    assert s["backlog"]["due"] == 2 and s["backlog"]["oldest_due_age_sec"] >= 89
    assert {c["status"]: c["count"] for c in s["connections"]} == {"active": 2, "revoked": 1}


def test_status_shows_each_mailboxs_backlog_and_what_it_could_not_store(conf, conn):
    tid = make_tenant(conf)
    uid = make_user(conf, tid)
    cid = add_connection(conn, tid, uid, "m1")
    conn.execute("UPDATE rally.google_connections SET mail_enabled = true WHERE id = %s", (cid,))
    conn.execute("INSERT INTO rally.sync_state (tenant_id, connection_id, resource, skipped)"
                 " VALUES (%s, %s, 'mail', '{\"undecodable\": 2, \"bad_id\": 1}')", (tid, cid))
    conn.execute("INSERT INTO rally.mail_outbox (tenant_id, user_id, connection_id, message_id,"
                 " from_addr, to_addrs) VALUES (%s, %s, %s, '<q1@rally.test>', 'm1@gmail.com',"
                 " '{a@b.test}')", (tid, uid, cid))
    [row] = [r for r in json.loads(ok(conf, "status", "--json").stdout)["sync"]
             if r["resource"] == "mail"]
    assert (row["backlog"], row["skipped"]) == (1, "bad_id=1, undecodable=2")
    human = ok(conf, "status").stdout
    assert re.search(r"mail\s+-\s+1\s+bad_id=1, undecodable=2", human), human


def test_status_shows_the_audit_chains_head_and_a_break(conf, conn):
    empty = json.loads(ok(conf, "status", "--json").stdout)["audit_chain"]
    head = conn.execute("SELECT seq, encode(hash, 'hex') FROM rally.audit_log "
                        "WHERE seq IS NOT NULL ORDER BY seq DESC LIMIT 1").fetchone()
    if head is None:
        assert empty == {"seq": None, "head": None, "broken_at": None}
        assert "Audit chain: empty" in ok(conf, "status").stdout
    tid = make_tenant(conf)
    for n in range(3):
        conn.execute("INSERT INTO rally.audit_log (tenant_id, actor, action) "
                     "VALUES (%s, 'operator', %s)", (tid, f"test.{n}"))
    seq, hexhash = conn.execute("SELECT seq, encode(hash, 'hex') FROM rally.audit_log "
                                "ORDER BY seq DESC LIMIT 1").fetchone()
    s = json.loads(ok(conf, "status", "--json").stdout)["audit_chain"]
    assert s == {"seq": seq, "head": hexhash, "broken_at": None}
    assert f"Audit chain: seq {seq}, head {hexhash}, intact" in ok(conf, "status").stdout
    conn.execute("ALTER TABLE rally.audit_log DISABLE TRIGGER ALL")
    conn.execute("UPDATE rally.audit_log SET action = 'forged' WHERE seq = %s", (seq - 1,))
    assert json.loads(ok(conf, "status", "--json").stdout)["audit_chain"]["broken_at"] == seq - 1
    assert f"BROKEN at seq {seq - 1}" in ok(conf, "status").stdout


def test_status_marks_an_instance_stale_after_two_leases(pg, db, conn, tmp_path):
    conf = write_conf(tmp_path / "short.conf", pg.conninfo(db), tmp_path / "kr", lease="10s")
    conn.execute("INSERT INTO rally.instances (name, heartbeat_at)"
                 " VALUES ('late', now() - interval '25 seconds'),"
                 " ('fine', now() - interval '15 seconds')")
    s = json.loads(ok(conf, "--json", "status").stdout)
    assert {i["name"]: i["stale"] for i in s["instances"]} == {"late": True, "fine": False}


def test_jobs_list_filters_by_state_and_kind_in_both_forms(conf, conn):
    a = add_job(conn, "calsync", state="failed", attempts=3, last_error="HTTP 500 from Google")
    b = add_job(conn, "mailsync", state="failed", attempts=1)
    c = add_job(conn, "calsync")
    human = ok(conf, "jobs", "list", "--state", "failed").stdout
    lines = human.splitlines()
    assert lines[0].split()[:4] == ["ID", "TENANT", "KIND", "STATE"]
    ids = [int(line.split()[0]) for line in lines[1:]]
    assert ids == [b, a]
    assert "HTTP 500 from Google" in human

    js = json.loads(ok(conf, "--json", "jobs", "list", "--kind", "calsync").stdout)
    assert [j["id"] for j in js["jobs"]] == [c, a]
    j = js["jobs"][1]
    assert j["state"] == "failed" and j["attempts"] == 3 and j["tenant_id"] == SYSTEM
    assert j["last_error"] == "HTTP 500 from Google"
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", j["run_at"])
    js = json.loads(ok(conf, "jobs", "list", "--limit", "1", "--json").stdout)
    assert [j["id"] for j in js["jobs"]] == [c]
    assert run(conf, "jobs", "list", "--state", "bogus").returncode == EX_USAGE
    assert run(conf, "jobs", "list", "--limit", "0").returncode == EX_USAGE


def test_jobs_list_masks_a_token_in_a_stored_error(conf, conn):
    add_job(conn, "calsync", state="failed", last_error="refresh failed: access_token=ya29.SECRETSECRET")
    r = ok(conf, "jobs", "list")
    assert "ya29.SECRETSECRET" not in r.stdout
    r = ok(conf, "jobs", "list", "--json")
    assert "ya29.SECRETSECRET" not in r.stdout


def test_jobs_retry_puts_a_failed_job_back_in_the_queue(conf, conn, pg, db):
    jid = add_job(conn, "calsync", state="failed", attempts=8, run_in="-1 hour",
                  last_error="boom")
    conn.execute("UPDATE rally.jobs SET finished_at = now() WHERE id = %s", (jid,))
    woke = []
    with pg.connect(db) as listener:
        listener.add_notify_handler(woke.append)
        listener.execute("LISTEN rally_jobs")
        r = ok(conf, "jobs", "retry", str(jid))
        assert f"job {jid}" in r.stdout
        select.select([listener.fileno()], [], [], 5)
        listener.execute("SELECT 1")
    assert [n.channel for n in woke] == ["rally_jobs"], "the daemons are woken"
    state, attempts, age, finished = conn.execute(
        "SELECT state, attempts, extract(epoch FROM now() - run_at), finished_at"
        " FROM rally.jobs WHERE id = %s", (jid,)).fetchone()
    assert (state, attempts, finished) == ("pending", 0, None)
    assert abs(age) < 30

    again = run(conf, "jobs", "retry", str(jid))
    assert again.returncode == EX_DATAERR and "is pending, not failed" in again.stderr
    missing = run(conf, "jobs", "retry", "999999")
    assert missing.returncode == EX_DATAERR and "no job 999999" in missing.stderr
    assert run(conf, "jobs", "retry", "abc").returncode == EX_USAGE


def test_jobs_retry_refuses_when_a_pending_twin_will_do_the_work(conf, conn):
    failed = conn.execute("INSERT INTO rally.jobs (tenant_id, kind, dedupe_key, state)"
                          " VALUES (%s, 'calsync', 'conn-1', 'failed') RETURNING id",
                          (SYSTEM,)).fetchone()[0]
    conn.execute("INSERT INTO rally.jobs (tenant_id, kind, dedupe_key)"
                 " VALUES (%s, 'calsync', 'conn-1')", (SYSTEM,))
    r = run(conf, "jobs", "retry", str(failed))
    assert r.returncode == EX_DATAERR and "pending twin" in r.stderr
    assert conn.execute("SELECT state FROM rally.jobs WHERE id = %s",
                        (failed,)).fetchone()[0] == "failed"


def test_jobs_show_lists_the_runs_of_a_job(conf, conn):
    jid = add_job(conn, "mailsync", state="failed", attempts=2, last_error="quota")
    conn.execute("INSERT INTO rally.job_runs (tenant_id, job_id, attempt, instance, outcome, error)"
                 " VALUES (%s, %s, 1, 'host-a', 'retry', 'HTTP 429'),"
                 " (%s, %s, 2, 'host-b', 'failed', 'quota')", (SYSTEM, jid, SYSTEM, jid))
    human = ok(conf, "jobs", "show", str(jid)).stdout
    assert re.search(r"^kind\s+mailsync$", human, re.M)
    assert re.search(r"1\s+host-a\s+retry", human) and re.search(r"2\s+host-b\s+failed", human)
    js = json.loads(ok(conf, "--json", "jobs", "show", str(jid)).stdout)
    assert js["job"]["id"] == jid and js["job"]["state"] == "failed"
    assert js["job"]["payload"] == {}
    assert [(r["attempt"], r["instance"], r["outcome"], r["error"]) for r in js["runs"]] == [
        (1, "host-a", "retry", "HTTP 429"), (2, "host-b", "failed", "quota")]
    r = run(conf, "jobs", "show", "424242")
    assert r.returncode == EX_DATAERR and "no job 424242" in r.stderr


# --- keys ---------------------------------------------------------------------


def test_keys_generate_creates_a_private_keyring_and_refuses_to_overwrite(conf, tmp_path):
    r = ok(conf, "keys", "generate")
    path = tmp_path / "keyring"
    assert str(path) in r.stdout
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    before = path.read_bytes()
    assert re.search(rb"^1 [A-Za-z0-9+/=]{43,44}$", before, re.M)
    assert before.split(b" ", 1)[1].strip() not in r.stdout.encode()

    again = run(conf, "keys", "generate")
    assert again.returncode == 1 and "refusing to overwrite" in again.stderr
    assert path.read_bytes() == before


def test_keys_generate_uses_the_systemd_credential_path(conf, tmp_path):
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "keyring").write_text("")
    r = run(conf, "keys", "generate", env={"CREDENTIALS_DIRECTORY": str(creds)})
    assert r.returncode == 1 and str(creds / "keyring") in r.stderr
    assert not (tmp_path / "keyring").exists()


def seal(keyring, tenant, row, column, plaintext):
    return bytes.fromhex(seal_tool("seal", str(keyring), tenant, row, column,
                                   input=plaintext.encode()).decode())


def open_sealed(keyring, tenant, row, column, value):
    return seal_tool("open", str(keyring), tenant, row, column, input=value.hex().encode()).decode()


def key_id(value):
    return int(seal_tool("keyid", input=value.hex().encode()))


def test_keys_rotate_reseals_every_secret_under_the_new_key(conf, conn, tmp_path):
    keyring = tmp_path / "keyring"
    ok(conf, "keys", "generate")
    tid = make_tenant(conf)
    uid = make_user(conf, tid)
    cid = "11111111-2222-4333-8444-555555555555"
    refresh, access = "1//refresh-token-for-test", "ya29.access-token-for-test"
    add_connection(conn, tid, uid, "s1", conn_id=cid,
                   refresh=seal(keyring, tid, cid, "refresh_token", refresh),
                   access=seal(keyring, tid, cid, "access_token", access))
    # A revocation keeps the bytes of the connection they came from.
    gone = "99999999-2222-4333-8444-555555555555"
    rev = conn.execute(
        "INSERT INTO rally.token_revocations (tenant_id, connection_id, refresh_token)"
        " VALUES (%s, %s, %s) RETURNING id",
        (tid, gone, seal(keyring, tid, gone, "refresh_token", "1//revoke-me"))).fetchone()[0]

    r = ok(conf, "keys", "rotate")
    assert "added key 2" in r.stdout
    assert "rally.google_connections.refresh_token: 1 re-sealed, 0 failed" in r.stdout
    assert "rally.token_revocations.refresh_token: 1 re-sealed, 0 failed" in r.stdout
    for secret in (refresh, access, "1//revoke-me"):
        assert secret not in r.stdout + r.stderr

    rt, at = conn.execute("SELECT refresh_token, access_token FROM rally.google_connections"
                          " WHERE id = %s", (cid,)).fetchone()
    assert key_id(rt) == 2 and key_id(at) == 2
    assert open_sealed(keyring, tid, cid, "refresh_token", rt) == refresh
    assert open_sealed(keyring, tid, cid, "access_token", at) == access
    (vt,) = conn.execute("SELECT refresh_token FROM rally.token_revocations WHERE id = %s",
                         (rev,)).fetchone()
    assert key_id(vt) == 2 and open_sealed(keyring, tid, gone, "refresh_token", vt) == "1//revoke-me"

    # Safe to re-run: nothing left under an old key.
    js = json.loads(ok(conf, "--json", "keys", "rotate", "--reseal-only").stdout)
    assert js["key_id"] == 2 and js["key_added"] is False
    assert js["resealed"] == 0 and js["failed"] == 0
    cols = {(c["table"], c["column"]): c for c in js["columns"]}
    assert cols[("rally.google_connections", "access_token")]["current"] == 1


def test_keys_rotate_reports_a_value_that_does_not_open_and_finishes_the_others(conf, conn,
                                                                               tmp_path):
    keyring = tmp_path / "keyring"
    ok(conf, "keys", "generate")
    tid = make_tenant(conf)
    uid = make_user(conf, tid)
    good, bad = ("aaaaaaaa-2222-4333-8444-555555555555", "bbbbbbbb-2222-4333-8444-555555555555")
    add_connection(conn, tid, uid, "good", conn_id=good,
                   refresh=seal(keyring, tid, good, "refresh_token", "1//good"))
    # Sealed for another row: moved here, it must not open.
    add_connection(conn, tid, uid, "bad", conn_id=bad,
                   refresh=seal(keyring, tid, good, "refresh_token", "1//moved"))

    r = run(conf, "keys", "rotate")
    assert r.returncode == 1
    assert f"rally.google_connections {tid}/{bad} refresh_token" in r.stderr
    assert "1//moved" not in r.stderr + r.stdout
    assert "rally.google_connections.refresh_token: 1 re-sealed, 1 failed" in r.stdout
    rows = dict(conn.execute("SELECT id::text, refresh_token FROM rally.google_connections"
                             " WHERE tenant_id = %s", (tid,)).fetchall())
    assert key_id(rows[good]) == 2 and open_sealed(keyring, tid, good, "refresh_token",
                                                   rows[good]) == "1//good"
    assert key_id(rows[bad]) == 1, "a value that does not open is left as it was"

    js = run(conf, "--json", "keys", "rotate", "--reseal-only")
    assert js.returncode == 1
    out = json.loads(js.stdout)
    assert out["failed"] == 1 and out["resealed"] == 0
    assert out["failures"][0]["id"] == bad


def start_rotate(conf):
    return subprocess.Popen([program("rallyctl"), "-c", conf, "keys", "rotate"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=ctl_env())


def finish(p):
    out, err = p.communicate(timeout=120)
    assert "Sanitizer" not in err and "runtime error:" not in err, err
    return p.returncode, out, err


def keyring_ids(keyring):
    return [int(line.split()[0]) for line in keyring.read_text().splitlines()
            if line.strip() and not line.startswith("#")]


def test_concurrent_keys_rotations_each_add_a_distinct_key(conf, tmp_path):
    keyring = tmp_path / "keyring"
    ok(conf, "keys", "generate")
    results = [finish(p) for p in [start_rotate(conf) for _ in range(4)]]
    added = []
    for rc, out, err in results:
        assert rc == 0, err
        added += [int(m) for m in re.findall(r"added key (\d+)", out)]
    assert sorted(added) == [2, 3, 4, 5], results
    assert sorted(keyring_ids(keyring)) == [1, 2, 3, 4, 5]
    # The keyring still loads, and seals with the newest key.
    assert key_id(seal(keyring, SYSTEM, "r", "refresh_token", "x")) == 5
    assert stat.S_IMODE(os.stat(keyring).st_mode) == 0o600


@contextlib.contextmanager
def keyring_locked(keyring):
    """Holds <keyring>.lock as another rotation would."""
    with open(f"{keyring}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def test_keys_rotate_waits_for_the_keyring_lock(conf, tmp_path):
    keyring = tmp_path / "keyring"
    ok(conf, "keys", "generate")
    before = keyring.read_bytes()
    with keyring_locked(keyring):
        p = start_rotate(conf)
        time.sleep(1.5)
        assert p.poll() is None, "the rotation waits while another holds the lock"
        assert keyring.read_bytes() == before
    rc, out, err = finish(p)
    assert rc == 0 and "added key 2" in out, err
    assert keyring_ids(keyring) == [1, 2]


def test_keys_rotate_gives_up_when_the_keyring_lock_stays_held(conf, tmp_path):
    keyring = tmp_path / "keyring"
    ok(conf, "keys", "generate")
    before = keyring.read_bytes()
    with keyring_locked(keyring):
        rc, out, err = finish(start_rotate(conf))
    assert rc == EX_TEMPFAIL, err
    assert f"{keyring}.lock is held by another process" in err
    assert "is another keys rotate running?" in err
    assert keyring.read_bytes() == before


def test_keys_rotate_without_a_keyring_is_a_configuration_error(conf):
    r = run(conf, "keys", "rotate")
    assert r.returncode == EX_CONFIG and "keyring" in r.stderr


# --- configuration, database and usage errors ------------------------------------


def test_a_bad_config_exits_78_naming_file_and_line(tmp_path):
    bad = tmp_path / "bad.conf"
    bad.write_text("[database]\nconninfo = dbname=x\nbogus = 1\n")
    r = run(str(bad), "status")
    assert r.returncode == EX_CONFIG
    assert r.stderr.startswith(f"rallyctl: {bad}:3: ")
    missing = run(str(tmp_path / "none.conf"), "status")
    assert missing.returncode == EX_CONFIG and "none.conf" in missing.stderr


def test_the_config_path_comes_from_rally_config(conf):
    env = dict(os.environ, RALLY_CONFIG=conf)
    r = subprocess.run([program("rallyctl"), "--json", "status"], capture_output=True, text=True,
                       env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "instances" in json.loads(r.stdout)


@pytest.mark.parametrize("args", [["status"], ["migrate", "--dir", "/nonexistent"],
                                  ["jobs", "list"], ["tenant", "create", "X"]])
def test_an_unreachable_database_exits_69(tmp_path, args):
    conf = write_conf(tmp_path / "rally.conf",
                      f"host={tmp_path} port=1 dbname=nothing connect_timeout=2",
                      tmp_path / "keyring")
    r = run(conf, *args)
    assert r.returncode == EX_UNAVAILABLE, r.stderr
    assert r.stderr.startswith("rallyctl: database: ")


@pytest.mark.parametrize("args", [[], ["frobnicate"], ["jobs"], ["jobs", "frob"], ["status", "x"],
                                  ["jobs", "list", "--nope"], ["jobs", "retry"],
                                  ["tenant", "create"], ["user", "create", "--email", "a@b.c"],
                                  ["--bogus", "status"]])
def test_bad_command_lines_exit_64(conf, args):
    r = run(conf, *args)
    assert r.returncode == EX_USAGE, (r.returncode, r.stderr)
    assert "usage" in r.stderr or r.stderr.startswith("rallyctl: ")


def test_help_and_version_need_no_config(tmp_path):
    missing = str(tmp_path / "none.conf")
    r = run(missing, "--help")
    assert r.returncode == 0 and "keys rotate" in r.stdout
    r = run(missing, "jobs", "list", "--help")
    assert r.returncode == 0 and "usage: rallyctl jobs list" in r.stdout
    r = subprocess.run([program("rallyctl"), "--version"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("rallyctl ")


# --- lib/db through its C check program -----------------------------------------


def test_lib_db_checks(pg, db):
    r = subprocess.run([str(BUILDDIR / "tests" / "unit" / "db-check"), pg.conninfo(db)],
                       capture_output=True, text=True, timeout=120)
    failed = [line for line in r.stdout.splitlines() if line.startswith("not ok")]
    assert r.returncode == 0 and not failed, r.stdout + r.stderr
    assert re.search(r"^1\.\.\d+$", r.stdout, re.M)
