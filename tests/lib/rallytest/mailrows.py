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
