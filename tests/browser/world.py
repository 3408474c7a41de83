# SPDX-License-Identifier: ISC
"""Acme Ltd's owner, Ann, with a keyring, a rallyctl configuration, a
Google account on the emulator and (when a test starts one) a rallyd: the
world of the browser tests that need sync.  Built on rallytest.mail.Mail
(the calendar and mail harness of the integration tests); the owner is
made by rallyctl, so the web signs her in with rallytest.calendar.PASSWORD.

Realistic data for the screenshots comes through the real paths: mail
delivered to the emulator's Gmail and events in its Calendar, synced by
rallyd, and activities stored as the web stores them."""

import email.utils
import json

from rallytest.calendar import PASSWORD
from rallytest.daemon import wait_until
from rallytest.mail import Mail

__all__ = ["World", "PASSWORD", "rfc822"]


def rfc822(subject, sender, to, text=None, html=None, message_id=None, in_reply_to=None,
           date=None):
    """A message as a correspondent's mail program sends it: text, HTML or
    both (multipart/alternative), UTF-8, headers encoded where they must be."""
    from email.header import Header
    from email.message import EmailMessage
    msg = EmailMessage()
    name, addr = email.utils.parseaddr(sender)
    msg["From"] = email.utils.formataddr((str(Header(name, "utf-8")) if not name.isascii()
                                          else name, addr)) if name else addr
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = date or email.utils.formatdate(localtime=False)
    msg["Message-ID"] = message_id or email.utils.make_msgid(domain="mail.example")
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        msg["References"] = in_reply_to
    if text is not None:
        msg.set_content(text)
    if html is not None:
        if text is None:
            msg.set_content(html, subtype="html")
        else:
            msg.add_alternative(html, subtype="html")
    return msg.as_bytes()


class World(Mail):
    """Ann Owner of Acme Ltd (ann@acme.test), her Google account
    ann-…@gmail.test on the emulator."""

    def __init__(self, pg, db, login_roles, fakegoogle, tmp_path):
        super().__init__(pg, db, login_roles, fakegoogle, tmp_path, "ann")
        self.conn.execute("UPDATE rally.tenants SET name = 'Acme Ltd', company_size = '11-50'"
                          " WHERE tenant_id = %s", (self.tenant,))
        self.conn.execute("UPDATE rally.users SET name = 'Ann Owner' WHERE id = %s",
                          (self.user,))
        self.fg.add_account(self.google_email)
        self.connection = None

    def connect(self, mail=True, calendar=True):
        return super().connect(mail=mail, calendar=calendar)

    def deliver(self, subject, sender="Bob Buyer <bob@globex.example>", text=None, html=None,
                **kw):
        """A message arrives in Ann's Gmail inbox (not yet synced)."""
        if text is None and html is None:
            text = "Hello Ann,\n\nCould we talk about the renewal next week?\n\nBob\n"
        return self.g_deliver(rfc822(subject, sender, self.google_email, text=text, html=html,
                                     **kw))

    def sync_mail(self, timeout=60):
        self.conn.execute(
            "SELECT rally.job_enqueue(%s, 'mailsync', %s, %s)",
            (self.tenant, str(self.connection),
             json.dumps({"connection_id": str(self.connection)})))
        self.settle(timeout, kinds=("mailsync", "maillabel", "mailsend", "mailwatch",
                                    "mailreconcile"))

    def sync_calendar(self, timeout=60):
        super().sync(timeout)

    def settle(self, timeout=60, kinds=("calsync", "calpush", "calpurge", "calwatch",
                                        "mailsync", "maillabel", "mailsend")):
        wait_until(lambda: super(Mail, self).jobs_idle(kinds), timeout=timeout, interval=0.1,
                   message="sync jobs idle")
        failed = self.conn.execute(
            "SELECT kind, last_error FROM rally.jobs WHERE tenant_id = %s AND state = 'failed'",
            (self.tenant,)).fetchall()
        assert not failed, failed

    def g_sent(self):
        """Messages in Ann's Gmail with the SENT label: [(id, raw headers+body)]."""
        return [mid for mid, m in self.g_messages().items() if "SENT" in m["labelIds"]]

    def wait_for(self, predicate, message, timeout=60):
        return wait_until(predicate, timeout=timeout, interval=0.2, message=message)
