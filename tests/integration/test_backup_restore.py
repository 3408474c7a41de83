# SPDX-License-Identifier: ISC
"""rallyctl backup now, verify and restore against a real PostgreSQL: the
round trip, and every kind of damage refused by verify and by restore,
which then restores nothing (lib/backup-*.c, docs/backup-format.md)."""

import os
import subprocess
import threading

import psycopg
import pytest

from rallytest.backup import CHUNK, HEADER_LEN, TAG_LEN, chunk_offsets, ctl, ctl_json, dump
from rallytest.backup import write_conf
from rallytest.pg import PGBIN
from rallytest.schema import calendar_user

EX_DATAERR = 65


def seed(conn, rows=50, noise=0):
    """A tenant with a user, a connection and activities; noise bytes of
    random text make the dump span several chunks."""
    tenant, user, connection = calendar_user(conn)
    conn.execute(
        "INSERT INTO rally.activities (tenant_id, owner_id, title, description)"
        " SELECT %s, %s, 'Réunion ' || g, E'line one\\nline two\\ttab ' || g"
        " FROM generate_series(1, %s) g", (tenant, user, rows))
    if noise:
        conn.execute(
            "INSERT INTO rally.activities (tenant_id, owner_id, title, description)"
            " SELECT %s, %s, 'noise ' || g,"
            "  (SELECT string_agg(md5(random()::text || g || h), '') FROM generate_series(1, 32) h)"
            " FROM generate_series(1, %s) g", (tenant, user, noise // 400 + 1))
    return tenant, user, connection


@pytest.fixture
def setup(pg, db, tmp_path):
    keyring, bkeyring = tmp_path / "keyring", tmp_path / "backup-keyring"
    conf = write_conf(tmp_path / "rally.conf", pg.conninfo(db), keyring, bkeyring,
                      tmp_path / "backups")
    assert ctl(conf, "keys", "generate", "--backup").returncode == 0
    return conf, tmp_path


def new_db(pg):
    return pg.create_database()


def schemas(pg, dbname):
    with pg.connect(dbname) as c:
        return [r[0] for r in c.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%'"
            " AND nspname NOT IN ('public', 'information_schema')")]


def load(pg, dbname, sql):
    subprocess.run([f"{PGBIN}/psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", pg.sockdir,
                    "-p", str(pg.port), "-U", "postgres", dbname], input=sql,
                   capture_output=True, check=True, timeout=300)


def test_a_restored_database_dumps_the_same_as_the_one_backed_up(pg, db, dbconn, setup):
    """The data dumps byte for byte the same.  The schema is compared after
    one trip through pg_dump's text on both sides: PostgreSQL prints some
    CHECK expressions it re-parsed with fewer parentheses than the
    migrations wrote them, the same expression."""
    conf, _ = setup
    seed(dbconn, rows=200)
    # Every other sequence moved (the table data is read apart from
    # pg_dump, and a serial's value goes with it), the rest never called.
    seqs = [r[0] for r in dbconn.execute(
        "SELECT format('%I.%I', schemaname, sequencename) FROM pg_sequences"
        " WHERE schemaname = 'rally' ORDER BY 1")]
    assert len(seqs) >= 2
    for i, seq in enumerate(seqs[::2]):
        dbconn.execute("SELECT setval(%s, %s)", (seq, 1000 + i))
    # The backups row changes as the backup ends; everything else must match.
    data_before = dump(pg, db, "--data-only", "--exclude-table-data=rally.backups")
    schema_before = dump(pg, db, "--schema-only")
    made = ctl_json(conf, "backup", "now")
    assert made["size_bytes"] > HEADER_LEN and made["row_counts"]["rally.activities"] == 200
    target = new_db(pg)
    restored = ctl_json(conf, "restore", os.path.join(made["dir"], made["file"]),
                        "--dbname", target)
    assert restored["restored_rows"]["rally.activities"] == 200
    assert dump(pg, target, "--data-only", "--exclude-table-data=rally.backups") == data_before
    assert b"setval('rally." in data_before
    canonical = new_db(pg)
    load(pg, canonical, schema_before)
    assert dump(pg, target, "--schema-only") == dump(pg, canonical, "--schema-only")


def test_every_sequence_keeps_its_value_and_text_its_encoding(pg, db, dbconn, setup):
    """The table data is read apart from pg_dump, which then leaves out
    every sequence's value: one no table owns and one a partitioned table
    owns come back with theirs.  The sessions of this database default to
    another client encoding than its own: the text still comes back as it
    was."""
    conf, _ = setup
    seed(dbconn, rows=3)
    dbconn.execute("CREATE SEQUENCE rally.free_seq")
    dbconn.execute("SELECT setval('rally.free_seq', 777)")
    dbconn.execute("CREATE TABLE rally.parted (id serial, k int) PARTITION BY RANGE (k)")
    dbconn.execute("CREATE TABLE rally.parted_1 PARTITION OF rally.parted"
                   " FOR VALUES FROM (0) TO (100)")
    dbconn.execute("INSERT INTO rally.parted (k) SELECT g FROM generate_series(1, 7) g")
    dbconn.execute(f"ALTER DATABASE {db} SET client_encoding = 'LATIN1'")
    made = ctl_json(conf, "backup", "now")
    target = new_db(pg)
    ctl_json(conf, "restore", os.path.join(made["dir"], made["file"]), "--dbname", target)
    with pg.connect(target) as c:
        c.execute("SET client_encoding = 'UTF8'")
        assert c.execute("SELECT last_value, is_called FROM rally.free_seq"
                         ).fetchone() == (777, True)
        assert c.execute("SELECT last_value FROM rally.parted_id_seq").fetchone() == (7,)
        assert c.execute("SELECT count(*) FROM rally.parted").fetchone() == (7,)
        titles = {t for (t,) in c.execute("SELECT title FROM rally.activities")}
    assert titles == {"Réunion 1", "Réunion 2", "Réunion 3"}


def test_large_objects_come_back_after_the_table_data(pg, db, dbconn, setup):
    """pg_dump's second part holds what is left of the data section once
    the tables are excluded: large objects, before the indexes and
    constraints.  Rally stores none, but a database it backs up may."""
    conf, _ = setup
    seed(dbconn, rows=3)
    blob = bytes(range(256)) * 1000
    (oid,) = dbconn.execute("SELECT lo_from_bytea(0, %s)", (blob,)).fetchone()
    dbconn.execute(f"COMMENT ON LARGE OBJECT {oid} IS 'kept'")
    made = ctl_json(conf, "backup", "now")
    target = new_db(pg)
    ctl_json(conf, "restore", os.path.join(made["dir"], made["file"]), "--dbname", target)
    with pg.connect(target) as c:
        assert c.execute("SELECT lo_get(%s)", (oid,)).fetchone() == (blob,)
        assert c.execute("SELECT obj_description(%s, 'pg_largeobject')",
                         (oid,)).fetchone() == ("kept",)
        assert c.execute("SELECT count(*) FROM rally.activities").fetchone() == (3,)


def test_verify_reads_every_chunk_and_reports_the_file(pg, dbconn, setup):
    conf, _ = setup
    seed(dbconn, noise=2 * CHUNK)
    made = ctl_json(conf, "backup", "now")
    v = ctl_json(conf, "backup", "verify", os.path.join(made["dir"], made["file"]))
    assert v["ok"] and v["chunks"] == made["chunks"] >= 3
    assert v["sha256"] == made["sha256"] and v["key_id"] == 1
    assert v["plain_bytes"] == made["plain_bytes"]


def test_verify_compares_the_file_with_its_record(pg, dbconn, setup):
    conf, _ = setup
    seed(dbconn, noise=2 * CHUNK)
    made = ctl_json(conf, "backup", "now")
    v = ctl_json(conf, "backup", "verify", os.path.join(made["dir"], made["file"]))
    assert v["record"] == "matches" and made["file"] in v["record_note"]
    r = ctl(conf, "backup", "verify", os.path.join(made["dir"], made["file"]))
    assert r.returncode == 0 and "record: size and SHA-256 as recorded" in r.stdout, r.stdout


def test_another_genuine_backup_renamed_into_its_place_fails_verify(pg, dbconn, setup):
    """Every chunk of the file authenticates (it is a backup Rally made),
    but it is not the one recorded under that name."""
    conf, _ = setup
    seed(dbconn, noise=2 * CHUNK)
    first = ctl_json(conf, "backup", "now")
    seed(dbconn, rows=10)
    second = ctl_json(conf, "backup", "now")
    first_path = os.path.join(first["dir"], first["file"])
    os.replace(os.path.join(second["dir"], second["file"]), first_path)
    r = ctl(conf, "backup", "verify", first_path)
    assert r.returncode == EX_DATAERR, r.stdout + r.stderr
    assert len(r.stderr.splitlines()) == 1 and r.stdout == "", r.stderr
    assert f"every chunk authenticates, but this is not the backup recorded as {first['file']}" \
        in r.stderr, r.stderr
    assert first["sha256"] in r.stderr and second["sha256"] in r.stderr
    assert f"byte for byte the backup recorded as {second['file']}" in r.stderr, r.stderr


def test_a_file_whose_record_names_other_bytes_fails_verify(pg, dbconn, setup):
    """As a backup of the same name made elsewhere, under the same keyring,
    and copied over the recorded one would."""
    conf, _ = setup
    seed(dbconn, noise=2 * CHUNK)
    made = ctl_json(conf, "backup", "now")
    dbconn.execute("UPDATE rally.backups SET sha256 = sha256('other bytes'),"
                   " size_bytes = size_bytes + 1 WHERE file_name = %s", (made["file"],))
    r = ctl(conf, "backup", "verify", os.path.join(made["dir"], made["file"]))
    assert r.returncode == EX_DATAERR and "is not the backup recorded as" in r.stderr, r.stderr
    assert f"the file has {made['size_bytes']} bytes, SHA-256 {made['sha256']}" in r.stderr
    assert "another backup renamed, or a copy of one not recorded here" in r.stderr, r.stderr


def test_verify_of_a_file_without_a_record_says_so_and_checks_the_chunks(pg, dbconn, setup):
    conf, tmp = setup
    seed(dbconn, noise=2 * CHUNK)
    made = ctl_json(conf, "backup", "now")
    copy = tmp / "20200101T000000.000Z.rbk"
    with open(os.path.join(made["dir"], made["file"]), "rb") as f:
        copy.write_bytes(f.read())
    v = ctl_json(conf, "backup", "verify", str(copy))
    assert v["ok"] and v["record"] == "none" and v["chunks"] == made["chunks"]
    assert f"no record of {copy.name}, but the file is byte for byte the backup recorded as " \
        f"{made['file']}" == v["record_note"]
    dbconn.execute("DELETE FROM rally.backups")
    r = ctl(conf, "backup", "verify", str(copy))
    assert r.returncode == 0 and "record: no record of" in r.stdout, r.stdout
    assert "only its chunks were checked" in r.stdout


def test_verify_without_a_database_checks_the_chunks_and_says_so(pg, db, dbconn, setup, tmp_path):
    conf, _ = setup
    seed(dbconn, noise=2 * CHUNK)
    made = ctl_json(conf, "backup", "now")
    offline = write_conf(tmp_path / "offline.conf", "host=/nonexistent dbname=rally",
                         tmp_path / "keyring", tmp_path / "backup-keyring", tmp_path / "backups")
    v = ctl_json(offline, "backup", "verify", os.path.join(made["dir"], made["file"]))
    assert v["ok"] and v["record"] == "unreachable"
    assert v["record_note"].startswith("not compared with its record (database:")


def test_verify_of_a_file_whose_backup_failed_is_refused(pg, dbconn, setup):
    conf, _ = setup
    seed(dbconn)
    made = ctl_json(conf, "backup", "now")
    dbconn.execute("UPDATE rally.backups SET status = 'failed', error = 'disk on fire'"
                   " WHERE file_name = %s", (made["file"],))
    r = ctl(conf, "backup", "verify", os.path.join(made["dir"], made["file"]))
    assert r.returncode == EX_DATAERR, r.stderr
    assert f"the backup recorded as {made['file']} is failed, not complete: disk on fire" \
        in r.stderr, r.stderr


def _flip(data, pos, bit=0):
    b = bytearray(data)
    b[pos] ^= 1 << bit
    return bytes(b)


def damages(data):
    """name -> damaged copy of a backup file's bytes."""
    ch = chunk_offsets(len(data))
    assert len(ch) >= 3, "the file needs three chunks at least"
    c0, c1, c2 = ch[0], ch[1], ch[2]
    out = {}
    for name, pos in (("magic", 0), ("version", 8), ("key id", 15), ("chunk size", 17),
                      ("salt", 30), ("nonce prefix", 55), ("mac", 70)):
        out[f"header {name}"] = _flip(data, pos, 3)
    out["chunk body"] = _flip(data, c1[0] + 1000, 5)
    out["chunk tag"] = _flip(data, c0[1] - 1, 0)
    out["last chunk tag"] = _flip(data, len(data) - 1, 7)
    out["truncated at a chunk boundary"] = data[:c2[0]]
    out["truncated mid-chunk"] = data[:c1[0] + 5000]
    out["truncated in the header"] = data[:40]
    out["last chunk dropped"] = data[:ch[-1][0]]
    out["chunks swapped"] = data[:c0[0]] + data[c1[0]:c1[1]] + data[c0[0]:c0[1]] + data[c1[1]:]
    out["chunk duplicated"] = data[:c1[1]] + data[c1[0]:c1[1]] + data[c1[1]:]
    out["byte appended"] = data + b"\0"
    return out


def test_every_damage_fails_verify_and_restore_and_restores_nothing(pg, dbconn, setup):
    conf, tmp = setup
    seed(dbconn, noise=3 * CHUNK)
    made = ctl_json(conf, "backup", "now")
    data = open(os.path.join(made["dir"], made["file"]), "rb").read()
    bad = tmp / "bad.rbk"
    for name, damaged in damages(data).items():
        bad.write_bytes(damaged)
        v = ctl(conf, "backup", "verify", str(bad))
        assert v.returncode == EX_DATAERR, f"{name}: verify exited {v.returncode}"
        assert "bad.rbk: " in v.stderr and len(v.stderr.splitlines()) == 1, v.stderr
        target = new_db(pg)
        r = ctl(conf, "restore", str(bad), "--dbname", target)
        assert r.returncode == EX_DATAERR, f"{name}: restore exited {r.returncode}"
        assert "nothing was restored" in r.stderr, r.stderr
        assert schemas(pg, target) == [], f"{name}: something was restored"


def test_damage_messages_name_the_fault(pg, dbconn, setup):
    conf, tmp = setup
    seed(dbconn, noise=3 * CHUNK)
    made = ctl_json(conf, "backup", "now")
    data = open(os.path.join(made["dir"], made["file"]), "rb").read()
    d = damages(data)
    want = {
        "header magic": "not a Rally backup file",
        "header mac": "header does not authenticate",
        "chunks swapped": "chunk 0 does not authenticate",
        "truncated at a chunk boundary": "truncated or damaged",
        "truncated in the header": "shorter than a header",
    }
    bad = tmp / "bad.rbk"
    for name, text in want.items():
        bad.write_bytes(d[name])
        r = ctl(conf, "backup", "verify", str(bad))
        assert text in r.stderr, f"{name}: {r.stderr}"


def test_the_wrong_key_fails_verify_and_restore(pg, dbconn, setup):
    conf, tmp = setup
    seed(dbconn)
    made = ctl_json(conf, "backup", "now")
    path = os.path.join(made["dir"], made["file"])
    os.rename(tmp / "backup-keyring", tmp / "backup-keyring.good")
    assert ctl(conf, "keys", "generate", "--backup").returncode == 0   # key 1, other bytes
    v = ctl(conf, "backup", "verify", path)
    assert v.returncode == EX_DATAERR and "wrong key" in v.stderr, v.stderr
    target = new_db(pg)
    r = ctl(conf, "restore", path, "--dbname", target)
    assert r.returncode == EX_DATAERR and schemas(pg, target) == []


def test_restore_refuses_a_database_that_is_not_empty(pg, db, dbconn, setup):
    conf, _ = setup
    seed(dbconn)
    made = ctl_json(conf, "backup", "now")
    r = ctl(conf, "restore", os.path.join(made["dir"], made["file"]), "--dbname", db)
    assert r.returncode == EX_DATAERR and "is not empty" in r.stderr, r.stderr


def test_old_files_stay_readable_after_keys_rotate_backup(pg, dbconn, setup):
    conf, _ = setup
    seed(dbconn)
    old = ctl_json(conf, "backup", "now")
    rotated = ctl_json(conf, "keys", "rotate", "--backup")
    assert rotated["key_id"] == 2
    new = ctl_json(conf, "backup", "now")
    assert (old["key_id"], new["key_id"]) == (1, 2)
    for made in (old, new):
        v = ctl_json(conf, "backup", "verify", os.path.join(made["dir"], made["file"]))
        assert v["key_id"] == made["key_id"]


def test_a_backup_taken_while_writes_go_on_holds_one_snapshot(pg, db, dbconn, setup):
    """Each writer transaction adds five activities and bumps the tenant's
    name: a dump from one snapshot has whole batches that agree with it."""
    conf, _ = setup
    tenant, user, _ = seed(dbconn)
    stop = threading.Event()

    def write():
        with pg.connect(db) as c:
            n = 0
            while not stop.is_set():
                n += 1
                with c.transaction():
                    c.execute("INSERT INTO rally.activities (tenant_id, owner_id, title)"
                              " SELECT %s, %s, 'batch' FROM generate_series(1, 5)",
                              (tenant, user))
                    c.execute("UPDATE rally.tenants SET name = %s WHERE tenant_id = %s",
                              (f"batches {n}", tenant))

    t = threading.Thread(target=write)
    t.start()
    try:
        made = ctl_json(conf, "backup", "now")
    finally:
        stop.set()
        t.join()
    target = new_db(pg)
    ctl_json(conf, "restore", os.path.join(made["dir"], made["file"]), "--dbname", target)
    with pg.connect(target) as c:
        batches = c.execute("SELECT count(*) FROM rally.activities WHERE title = 'batch'"
                            ).fetchone()[0]
        name = c.execute("SELECT name FROM rally.tenants").fetchone()[0]
    expected = 0 if name == "Acme" else 5 * int(name.split()[1])
    assert batches == expected
