# SPDX-License-Identifier: ISC
"""The migration runner in Python, for tests and the harness: the same
contract as lib/migrate's db_migrate() and db_functions_apply().

Files NNNN_name.sql (name in a-z 0-9 _ -) are applied in version order,
each once, each in its own transaction holding the advisory lock
DB_MIGRATE_LOCK_KEY, and recorded in rally.schema_migrations, which the
runner creates (with the schema) before the first one.  A file must not end
the transaction it runs in."""

import os
import re

from psycopg.pq import TransactionStatus

# lib/migrate.h DB_MIGRATE_LOCK_KEY: "rallymig".
MIGRATE_LOCK_KEY = 0x72616C6C796D6967
MAX_FILE = 1024 * 1024
MAX_NAME = 128

NIL_TENANT = "00000000-0000-0000-0000-000000000000"

_NAME = re.compile(r"^([0-9]{4})_([a-z0-9_-]+)\.sql$")

_BOOTSTRAP = (
    "CREATE SCHEMA IF NOT EXISTS rally",
    "CREATE TABLE IF NOT EXISTS rally.schema_migrations ("
    " version int PRIMARY KEY,"
    " name text NOT NULL,"
    " applied_at timestamptz NOT NULL DEFAULT now())",
)


class MigrationError(Exception):
    pass


def scan(directory):
    """[(version, name, path)] in version order; every non-dot entry must
    be a well-formed migration file."""
    found = []
    for entry in sorted(os.listdir(directory)):
        if entry.startswith("."):
            continue
        m = _NAME.match(entry)
        if not m or len(entry) > MAX_NAME or int(m.group(1)) == 0:
            raise MigrationError(f"{entry}: not a migration file name (NNNN_name.sql)")
        path = os.path.join(directory, entry)
        if not os.path.isfile(path):
            raise MigrationError(f"{entry}: not a regular file")
        found.append((int(m.group(1)), m.group(2), path))
    found.sort()
    for a, b in zip(found, found[1:]):
        if a[0] == b[0]:
            raise MigrationError(f"{os.path.basename(a[2])} and {os.path.basename(b[2])} "
                                 "have the same version")
    return found


def _read(path):
    with open(path, "rb") as f:
        data = f.read(MAX_FILE + 1)
    if len(data) > MAX_FILE:
        raise MigrationError(f"{os.path.basename(path)}: larger than {MAX_FILE} bytes")
    if b"\0" in data:
        raise MigrationError(f"{os.path.basename(path)}: contains a NUL byte")
    return data.decode("utf-8")


def _locked(conn):
    conn.execute("BEGIN")
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATE_LOCK_KEY,))


def _apply_one(conn, version, name, path):
    """Applies one file unless recorded; True if it was applied."""
    file = os.path.basename(path)
    _locked(conn)
    try:
        row = conn.execute("SELECT name FROM rally.schema_migrations WHERE version = %s",
                           (version,)).fetchone()
        if row is not None:
            if row[0] != name:
                raise MigrationError(f'{file}: version {version} was applied as "{row[0]}"; '
                                     "applied migrations must not be renamed")
            conn.execute("COMMIT")
            return False
        try:
            # No parameters: psycopg sends it as a simple query, many statements.
            conn.execute(_read(path))
        except Exception as e:
            raise MigrationError(f"{file}: {e}") from e
        if conn.info.transaction_status != TransactionStatus.INTRANS:
            raise MigrationError(f"{file}: ends the transaction it runs in "
                                 "(COMMIT or ROLLBACK in a migration file)")
        conn.execute("INSERT INTO rally.schema_migrations (version, name) VALUES (%s, %s)",
                     (version, name))
        conn.execute("COMMIT")
        return True
    except BaseException:
        if conn.info.transaction_status != TransactionStatus.IDLE:
            conn.execute("ROLLBACK")
        raise


def apply_migrations(conn, directory, functions=None):
    """Applies what is not yet recorded, then every file of the functions
    directory (functions_dir(directory) unless given; False skips them);
    returns the migration file names applied.  conn must be in autocommit
    mode (the runner issues BEGIN/COMMIT)."""
    if not conn.autocommit:
        raise MigrationError("apply_migrations needs an autocommit connection")
    files = scan(directory)
    _locked(conn)
    try:
        for stmt in _BOOTSTRAP:
            conn.execute(stmt)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    applied = []
    for version, name, path in files:
        if _apply_one(conn, version, name, path):
            applied.append(os.path.basename(path))
    if functions is not False:
        apply_functions(conn, functions or functions_dir(directory))
    return applied


_FUNC_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*\.sql$")


def scan_functions(directory):
    """[path] in name order; every non-dot entry must be <area>.sql."""
    found = []
    for entry in sorted(os.listdir(directory)):
        if entry.startswith("."):
            continue
        if not _FUNC_NAME.match(entry) or len(entry) > MAX_NAME:
            raise MigrationError(f"{entry}: not a functions file name (<area>.sql)")
        path = os.path.join(directory, entry)
        if not os.path.isfile(path):
            raise MigrationError(f"{entry}: not a regular file")
        found.append(path)
    return found


def functions_digest(paths):
    """What rally.schema_functions records: SHA-256 over each file's name,
    a NUL, its bytes and a NUL, in name order (lowercase hex)."""
    import hashlib
    h = hashlib.sha256()
    for path in paths:
        h.update(os.path.basename(path).encode() + b"\0")
        h.update(_read(path).encode() + b"\0")
    return h.hexdigest()


def apply_functions(conn, directory):
    """Re-applies every functions file (CREATE OR REPLACE, idempotent) in
    one transaction under the migrations lock, and records their digest."""
    paths = scan_functions(directory)
    _locked(conn)
    try:
        conn.execute("SET LOCAL check_function_bodies = off")
        for path in paths:
            try:
                conn.execute(_read(path))
            except Exception as e:
                raise MigrationError(f"functions/{os.path.basename(path)}: {e}") from e
            if conn.info.transaction_status != TransactionStatus.INTRANS:
                raise MigrationError(f"functions/{os.path.basename(path)}: ends the "
                                     "transaction it runs in")
            conn.execute("RESET ROLE")  # each file starts with its own SET LOCAL ROLE
        # rally.schema_functions (migration 0012) is rally_owner's.
        conn.execute("SET LOCAL ROLE rally_owner")
        conn.execute("INSERT INTO rally.schema_functions (id, digest, files) "
                     "VALUES (1, %s, %s) ON CONFLICT (id) DO UPDATE SET "
                     "digest = excluded.digest, files = excluded.files, applied_at = now()",
                     (functions_digest(paths), [os.path.basename(p) for p in paths]))
        conn.execute("COMMIT")
    except BaseException:
        if conn.info.transaction_status != TransactionStatus.IDLE:
            conn.execute("ROLLBACK")
        raise


def functions_dir(migrations=None):
    """$RALLY_FUNCTIONS_DIR, else the functions directory beside the
    migrations directory (as lib/migrate's db_functions_dir())."""
    return (os.environ.get("RALLY_FUNCTIONS_DIR")
            or os.path.join(os.path.dirname(os.path.abspath(migrations or migrations_dir())),
                            "functions"))


def migrations_dir():
    """$RALLY_MIGRATIONS_DIR (as for lib/migrate's db_migrations_dir()), else
    the source tree's sql/migrations."""
    from rallytest import SRCDIR
    return os.environ.get("RALLY_MIGRATIONS_DIR") or str(SRCDIR / "sql" / "migrations")


def login_role(conn, name, member_of, *extra):
    """Creates (once per cluster) a LOGIN role that is a member of the
    group roles in member_of, as operators do; extra are role options
    such as "CREATEROLE"."""
    from psycopg import sql
    exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone()
    if exists is None:
        opts = sql.SQL(" ").join(sql.SQL(o) for o in ("LOGIN",) + extra)
        conn.execute(sql.SQL("CREATE ROLE {} {}").format(sql.Identifier(name), opts))
    for group in member_of:
        conn.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(group), sql.Identifier(name)))
    return name


def insert(conn, table, returning=None, **cols):
    """INSERT INTO rally.<table> (cols) VALUES (...) [RETURNING returning];
    dicts and lists of dicts are sent as jsonb.  Returns the returned value
    (or None)."""
    from psycopg import sql
    from psycopg.types.json import Jsonb

    def adapt(v):
        if isinstance(v, dict) or (isinstance(v, list) and v and isinstance(v[0], dict)):
            return Jsonb(v)
        return v

    names = list(cols)
    q = sql.SQL("INSERT INTO rally.{} ({}) VALUES ({})").format(
        sql.Identifier(table),
        sql.SQL(", ").join(sql.Identifier(n) for n in names),
        sql.SQL(", ").join(sql.Placeholder() for _ in names))
    if returning:
        q = q + sql.SQL(" RETURNING {}").format(sql.Identifier(returning))
    cur = conn.execute(q, [adapt(cols[n]) for n in names])
    if returning:
        row = cur.fetchone()
        return row[0] if row else None
    return None


def set_context(conn, tenant_id=None, user_id=None):
    """Sets rally.tenant_id and rally.user_id for the session ('' for none),
    as lib/db's db_set_tenant() does."""
    conn.execute("SELECT set_config('rally.tenant_id', %s, false), "
                 "set_config('rally.user_id', %s, false)",
                 (str(tenant_id or ""), str(user_id or "")))


def calendar_user(conn):
    """A tenant, its owner and the owner's Google connection with the
    calendar on, written directly: (tenant_id, user_id, connection_id)."""
    tenant = insert(conn, "tenants", "tenant_id", name="Acme", company_size="1-10")
    user = insert(conn, "users", "id", tenant_id=tenant, email="ada@acme.test",
                  name="Ada", role="owner",
                  password_hash="$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA")
    connection = insert(conn, "google_connections", "id", tenant_id=tenant, user_id=user,
                        google_email="ada@gmail.test", google_subject="sub-ada",
                        calendar_enabled=True)
    return tenant, user, connection
