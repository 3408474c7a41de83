# SPDX-License-Identifier: ISC
"""The web tier is hostile: what a rally_web session may write into the
mail tables (outbox rows, label ops) never reaches another user's or
another tenant's mailbox.  The database refuses the rows outright where
it can (row-level security, foreign keys); what the daemon reads back
(rally.mail_outbox_next, rally.mail_label_ops_due) is checked against the
connection's own user regardless."""

import psycopg
import pytest

from rallytest.schema import insert, set_context

HASH = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA"


@pytest.fixture
def world(pg, db, login_roles):
    """Ada and Bo in Acme, Cy in Globex, each with a mail connection and
    one stored message; a web session signed in as Ada."""
    with pg.connect(db) as su, pg.connect(db, user=login_roles["web"]) as web:
        acme = insert(su, "tenants", "tenant_id", name="Acme")
        globex = insert(su, "tenants", "tenant_id", name="Globex")
        people = {}
        for name, tenant in (("ada", acme), ("bo", acme), ("cy", globex)):
            u = insert(su, "users", "id", tenant_id=tenant, email=f"{name}@x.test",
                       password_hash=HASH)
            c = insert(su, "google_connections", "id", tenant_id=tenant, user_id=u,
                       google_email=f"{name}@gmail.test", google_subject=f"sub-{name}",
                       mail_enabled=True)
            t = insert(su, "mail_threads", "id", tenant_id=tenant, user_id=u, connection_id=c,
                       gmail_thread_id=f"t-{name}")
            m = insert(su, "mail_messages", "id", tenant_id=tenant, thread_id=t, user_id=u,
                       connection_id=c, gmail_id=f"m-{name}")
            people[name] = {"tenant": tenant, "user": u, "conn": c, "thread": t, "message": m}
        set_context(web, acme, people["ada"]["user"])
        yield su, web, people


def _refused(web, sql, params):
    try:
        with web.transaction():
            web.execute(sql, params)
    except (psycopg.errors.InsufficientPrivilege, psycopg.errors.ForeignKeyViolation,
            psycopg.errors.CheckViolation):
        return True
    return False


OUTBOX = ("INSERT INTO rally.mail_outbox (tenant_id, user_id, connection_id, thread_id,"
          " message_id, from_addr, to_addrs) VALUES (%s, %s, %s, %s, %s, %s, %s)")
OP = ("INSERT INTO rally.mail_label_ops (tenant_id, user_id, connection_id, message_id, op)"
      " VALUES (%s, %s, %s, %s, 'trash')")


def test_mail_cannot_be_queued_from_another_users_or_tenants_mailbox(world):
    su, web, p = world
    ada, bo, cy = p["ada"], p["bo"], p["cy"]
    attempts = [
        # As Bo, from Bo's connection: not Ada's to write.
        (bo["tenant"], bo["user"], bo["conn"], None),
        # Ada's name on Bo's connection.
        (ada["tenant"], ada["user"], bo["conn"], None),
        # Ada's connection, replying into Bo's thread.
        (ada["tenant"], ada["user"], ada["conn"], bo["thread"]),
        # Another tenant's connection and thread.
        (cy["tenant"], cy["user"], cy["conn"], cy["thread"]),
        (ada["tenant"], ada["user"], cy["conn"], None),
    ]
    for i, (t, u, c, th) in enumerate(attempts):
        assert _refused(web, OUTBOX, (t, u, c, th, f"<h{i}@rally.test>", "ada@gmail.test",
                                      ["x@y.test"])), (i, t, u, c, th)
    assert su.execute("SELECT count(*) FROM rally.mail_outbox").fetchone()[0] == 0
    assert su.execute("SELECT count(*) FROM rally.jobs").fetchone()[0] == 0


def test_label_ops_cannot_reach_another_users_or_tenants_messages(world):
    su, web, p = world
    ada, bo, cy = p["ada"], p["bo"], p["cy"]
    for t, u, c, m in ((bo["tenant"], bo["user"], bo["conn"], bo["message"]),
                       (ada["tenant"], ada["user"], ada["conn"], bo["message"]),
                       (ada["tenant"], ada["user"], bo["conn"], bo["message"]),
                       (cy["tenant"], cy["user"], cy["conn"], cy["message"]),
                       (ada["tenant"], ada["user"], ada["conn"], cy["message"])):
        assert _refused(web, OP, (t, u, c, m)), (t, u, c, m)
    # Ada's own op on her own message goes in, and queues her connection's job.
    web.execute(OP, (ada["tenant"], ada["user"], ada["conn"], ada["message"]))
    assert su.execute("SELECT kind, dedupe_key FROM rally.jobs").fetchall() == [
        ("maillabel", str(ada["conn"]))]
    for who in (bo, cy):
        assert su.execute("SELECT count(*) FROM rally.mail_label_ops_due(%s, %s, 100)",
                          (who["tenant"], who["conn"])).fetchone()[0] == 0
    assert su.execute("SELECT count(*) FROM rally.mail_label_ops_due(%s, %s, 100)",
                      (ada["tenant"], ada["conn"])).fetchone()[0] == 1


ATTACH = ("INSERT INTO rally.mail_outbox_attachments (tenant_id, outbox_id, user_id, filename,"
          " content_type, data) VALUES (%s, %s, %s, 'x.pdf', 'application/pdf', '\\x00')")


def test_files_cannot_be_attached_to_another_users_or_tenants_outbox_rows(world):
    su, web, p = world
    ada, bo, cy = p["ada"], p["bo"], p["cy"]
    rows = {}
    for name in ("ada", "bo", "cy"):
        who = p[name]
        rows[name] = insert(su, "mail_outbox", "id", tenant_id=who["tenant"], user_id=who["user"],
                            connection_id=who["conn"], message_id=f"<o-{name}@rally.test>",
                            from_addr=f"{name}@gmail.test", to_addrs=["x@y.test"])
    attempts = [
        # A colleague's row, in the colleague's name or in Ada's.
        (bo["tenant"], rows["bo"], bo["user"]),
        (ada["tenant"], rows["bo"], ada["user"]),
        # Another tenant's row, under that tenant or under Ada's.
        (cy["tenant"], rows["cy"], cy["user"]),
        (ada["tenant"], rows["cy"], ada["user"]),
        (ada["tenant"], rows["cy"], cy["user"]),
        # Ada's own row, filed under a colleague.
        (ada["tenant"], rows["ada"], bo["user"]),
    ]
    for i, params in enumerate(attempts):
        assert _refused(web, ATTACH, params), (i, params)
    # Her own queued row takes it; once it is sending, nothing more.
    with web.transaction():
        web.execute(ATTACH, (ada["tenant"], rows["ada"], ada["user"]))
    su.execute("UPDATE rally.mail_outbox SET state = 'sending' WHERE id = %s", (rows["ada"],))
    assert _refused(web, ATTACH, (ada["tenant"], rows["ada"], ada["user"]))
    assert su.execute("SELECT outbox_id FROM rally.mail_outbox_attachments").fetchall() == [
        (rows["ada"],)]
    # The web tier reads back what it attached, never the bytes.
    assert _refused(web, "SELECT data FROM rally.mail_outbox_attachments", ())
    # What the daemon reads is the row's own user's, from its own connection.
    def of(tenant, conn, oid):
        return su.execute("SELECT count(*) FROM rally.mail_outbox_attachments_of(%s, %s, %s)",
                          (tenant, conn, oid)).fetchone()[0]
    assert of(ada["tenant"], ada["conn"], rows["ada"]) == 1
    assert of(ada["tenant"], bo["conn"], rows["ada"]) == 0
    assert of(cy["tenant"], cy["conn"], rows["ada"]) == 0
