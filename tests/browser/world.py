# SPDX-License-Identifier: ISC
"""Acme Ltd's owner, Ann, with a keyring, a rallyctl configuration, a
Google account on the emulator and (when a test starts one) a rallyd: the
world of the browser tests that need sync.  Built on rallytest.mail.Mail
(the calendar and mail harness of the integration tests); the owner is
made by rallyctl, so the web signs her in with rallytest.calendar.PASSWORD.

Realistic data for the screenshots comes through the real paths: mail
delivered to the emulator's Gmail and events in its Calendar, synced by
rallyd, and activities stored as the web stores them."""

import email
import email.policy
import email.utils
import json

from rallytest.calendar import PASSWORD
from rallytest.daemon import wait_until
from rallytest.mail import Mail

__all__ = ["World", "PASSWORD", "rfc822"]


def rfc822(subject, sender, to, text=None, html=None, message_id=None, in_reply_to=None,
           date=None):
    """A message as a correspondent's mail program sends it: text, HTML or
    both (multipart/alternative), UTF-8.  sender: "Name <addr>", or
    (name, addr) for a name that is not a plain phrase, sent as an RFC 5322
    quoted string.  Headers are written as given (compat32), never
    re-parsed on the way."""
    from email.mime.multipart import MIMEMultipart
    from email.mime.text import MIMEText
    if isinstance(sender, tuple):
        name, addr = sender
        quoted = name.replace("\\", "\\\\").replace('"', '\\"')
        sender = f'"{quoted}" <{addr}>'
    parts = []
    if text is not None or html is None:
        parts.append(MIMEText(text or "", "plain", "utf-8"))
    if html is not None:
        parts.append(MIMEText(html, "html", "utf-8"))
    if len(parts) == 1:
        msg = parts[0]
    else:
        msg = MIMEMultipart("alternative")
        for p in parts:
            msg.attach(p)
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = date or email.utils.formatdate(localtime=False)
    msg["Message-ID"] = message_id or email.utils.make_msgid(domain="mail.example")
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        msg["References"] = in_reply_to
    return msg.as_bytes()


class World(Mail):
    """Ann Owner of Acme Ltd (ann@acme.test), her Google account
    ann-…@gmail.test on the emulator."""

    def __init__(self, pg, db, login_roles, fakegoogle, tmp_path, google_email=None):
        super().__init__(pg, db, login_roles, fakegoogle, tmp_path, "ann")
        if google_email:
            self.google_email = google_email
        self.conn.execute("UPDATE rally.tenants SET name = 'Acme Ltd', company_size = '11-50'"
                          " WHERE tenant_id = %s", (self.tenant,))
        self.conn.execute("UPDATE rally.users SET name = 'Ann Owner', role = 'owner' WHERE id = %s",
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
        """What Ann's Gmail holds with the SENT label: [{"id", "threadId",
        "raw", "subject", "to", "in_reply_to", "text"}], raw the RFC 5322
        text and text its plain body decoded."""
        import base64
        from rallytest.google import SCOPE_GMAIL_MODIFY
        access = self.fg.access_token(self.google_email, (SCOPE_GMAIL_MODIFY,))
        out = []
        for mid, m in self.g_messages().items():
            if "SENT" not in m["labelIds"]:
                continue
            status, full = self.fg.request("GET", f"/gmail/v1/users/me/messages/{mid}?format=raw",
                                           token=access)
            assert status == 200, full
            raw = base64.urlsafe_b64decode(full["raw"] + "==")
            msg = email.message_from_bytes(raw, policy=email.policy.default)
            body = msg.get_body(("plain",))
            out.append({"id": mid, "threadId": full["threadId"], "raw": raw.decode("utf-8", "replace"),
                        "subject": msg["subject"], "to": msg["to"],
                        "in_reply_to": msg["in-reply-to"],
                        "text": body.get_content() if body is not None else ""})
        return out

    def wait_for(self, predicate, message, timeout=60):
        return wait_until(predicate, timeout=timeout, interval=0.2, message=message)


HASH = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA"     # no password opens it

# Acme Ltd's week, for the screenshots and the accessibility scans.
MAILS = [
    ("Renewal of the Acme contract", "Bob Buyer <bob@globex.example>",
     "Hello Ann,\n\nCould we talk about the renewal next week? Our budget for next year is "
     "approved, and we would like to add five seats.\n\nBest,\nBob\n", None),
    ("New price list", "Carol Chen <carol@initech.example>",
     "The new price list, in case the HTML does not show.",
     "<html><body><h1>Initech price list</h1><p>Dear Ann, our <b>new prices</b> apply "
     "from January. The table below has the details.</p><table><tr><th>Plan</th>"
     "<th>Per seat</th></tr><tr><td>Team</td><td>&pound;12</td></tr><tr><td>Business</td>"
     "<td>&pound;19</td></tr></table></body></html>"),
    ("Demo on Thursday?", "Dan Okafor <dan@umbrella.example>",
     "Hi Ann, would Thursday afternoon work for a demo to our sales team? Dan\n", None),
    ("Invoice 2026-118", "Accounts <billing@hooli.example>",
     "Please find invoice 2026-118 for November. Payment is due in 30 days.\n", None),
    ("Re: Onboarding checklist", "Erin Walsh <erin@stark.example>",
     "Thanks, the checklist is done. Everyone has signed in.\n", None),
]

EVENTS = [
    ("Pipeline review", 1, 9, 60),
    ("Call with Globex about the renewal", 2, 14, 30),
    ("Demo for Umbrella's sales team", 3, 15, 60),
]

ACTIVITIES = [
    ("Quarterly review with Initech", "meeting", 4, 10, 90, "shared"),
    ("Send the proposal to Stark", "call", 1, 16, 15, "private"),
    ("Lunch with Hooli's buyer", "meeting", 6, 12, 60, "private"),
]


def seed_acme(w):
    """Acme Ltd as a small sales team has it: teammates, an invitation, a
    Google Calendar with events and a Gmail inbox with mail (synced by
    rallyd once connected), and activities made in Rally."""
    import datetime
    from rallytest.schema import insert
    now = datetime.datetime.now(datetime.timezone.utc).replace(minute=0, second=0,
                                                                microsecond=0)

    def at(days, hour):
        return (now + datetime.timedelta(days=days)).replace(hour=hour)

    for email_, name, role in (("bob@acme.test", "Bob Seller", "member"),
                               ("cara@acme.test", "Cara Admin", "admin")):
        insert(w.conn, "users", "id", tenant_id=w.tenant, email=email_, name=name, role=role,
               password_hash=HASH)
    w.conn.execute("INSERT INTO rally.invitations (tenant_id, email, role, token_hash, invited_by,"
                   " expires_at) VALUES (%s, 'dev@acme.test', 'member',"
                   " rally.link_token_hash(%s), %s, now() + interval '7 days')",
                   (w.tenant, "i" * 43, w.user))
    for title, days, hour, minutes in EVENTS:
        start = at(days, hour)
        w.g_create({"summary": title, "start": {"dateTime": start.isoformat()},
                    "end": {"dateTime": (start + datetime.timedelta(minutes=minutes)).isoformat()}})
    for i, (subject, sender, text, html_) in enumerate(MAILS):
        w.deliver(subject, sender=sender, text=text, html=html_,
                  date=email.utils.format_datetime(now - datetime.timedelta(hours=3 * i + 1)))
    w.connect()
    w.settle()
    for title, kind, days, hour, minutes, visibility in ACTIVITIES:
        start = at(days, hour)
        w.add_activity(title=title, kind=kind, start_at=start.isoformat(),
                       end_at=(start + datetime.timedelta(minutes=minutes)).isoformat(),
                       visibility=visibility, location="Acme Ltd, London")
    w.settle()
