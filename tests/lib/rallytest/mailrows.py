# SPDX-License-Identifier: ISC
"""Synced mail written directly into migration 0006's tables, for the
tests of what is done with it (purges, deletion, export) apart from the
Gmail sync that writes the same rows."""

import uuid

from .schema import insert


def seed_mail(conn, tenant, user, connection, threads=2, per_thread=3):
    """Synced mail of one connection, as Gmail sync stores it."""
    for t in range(threads):
        th = insert(conn, "mail_threads", "id", tenant_id=tenant, user_id=user,
                    connection_id=connection, gmail_thread_id=f"t{t}-{uuid.uuid4().hex[:6]}",
                    subject=f"Thread {t}")
        for m in range(per_thread):
            msg = insert(conn, "mail_messages", "id", tenant_id=tenant, thread_id=th,
                         user_id=user, connection_id=connection,
                         gmail_id=f"m{t}-{m}-{uuid.uuid4().hex[:6]}", subject="Hello",
                         body_text="the body of a private message")
        insert(conn, "mail_label_ops", tenant_id=tenant, user_id=user,
               connection_id=connection, message_id=msg, op="read")
        insert(conn, "mail_outbox", tenant_id=tenant, user_id=user, connection_id=connection,
               thread_id=th, message_id=f"<{uuid.uuid4().hex}@rally.test>",
               from_addr="dora@gmail.test", to_addrs=["x@example.test"], subject="Re")


def mark_mail_synced(cal):
    """Records the connection's mailbox as synced up to Gmail's current
    history id, as a finished full sync leaves it: rallyd's mailsync then
    syncs incrementally and leaves the rows seeded above alone (a full
    sync would remove them, Gmail not having them)."""
    from .google import SCOPE_GMAIL_MODIFY
    access = cal.fg.access_token(cal.google_email, (SCOPE_GMAIL_MODIFY,))
    status, profile = cal.fg.request("GET", "/gmail/v1/users/me/profile", token=access)
    assert status == 200, profile
    cal.conn.execute(
        "INSERT INTO rally.sync_state (tenant_id, connection_id, resource, gmail_history_id,"
        " full_sync_required, last_full_sync_at, last_success_at)"
        " VALUES (%s, %s, 'mail', %s, false, now(), now())"
        " ON CONFLICT (tenant_id, connection_id, resource) DO UPDATE SET"
        " gmail_history_id = excluded.gmail_history_id, full_sync_required = false,"
        " last_full_sync_at = now(), last_success_at = now()",
        (cal.tenant, cal.connection, int(profile["historyId"])))
