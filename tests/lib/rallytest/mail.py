# SPDX-License-Identifier: ISC
"""A CRM user with a connected Gmail mailbox and rallyd instances, for
the mail sync tests and bench/gmail."""

import base64
import json

from .calendar import Cal
from .daemon import wait_until
from .google import SCOPE_GMAIL_MODIFY

MAIL_KINDS = ("mailsync", "maillabel", "mailsend", "mailwatch", "mailreconcile")


class Mail(Cal):
    """One CRM user whose Google account has only mail connected."""

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.sections.setdefault("mail", {})["poll_interval"] = "1h"
        # The emulator seeds 90 days of mail before baseTime: all of it in
        # the window, whatever baseTime the test picks.
        self.sections["mail"]["window"] = "365d"
        self.sections["mail"]["reconcile_interval"] = "0"     # tests queue their own
        # The emulator's quota is 100 times Google's: the tests measure
        # Rally, not the pace of the quota (test_mail_quota.py does that).
        self.sections.setdefault("google", {})["user_rate"] = "1000"
        self.sections["google"]["user_burst"] = "1000"
        self.sections["mail"]["quota_rate"] = "20000"
        self.sections["mail"]["quota_burst"] = "2000"

    def connect(self, mail=True, calendar=False):
        self.connection = self.fg.connect_user(self.pg, self.db, self.tenant, self.user_email,
                                               self.google_email, calendar=calendar, mail=mail,
                                               rallyctl_config=self.ctl_conf)
        return self.connection

    # --- the Gmail side, through the emulator's admin API ----------------
    def g_deliver(self, rfc822, labels=("INBOX", "UNREAD"), thread_id=None, internal_date=None):
        body = {"raw": base64.urlsafe_b64encode(
            rfc822 if isinstance(rfc822, bytes) else rfc822.encode()).decode(),
            "labelIds": list(labels)}
        if thread_id:
            body["threadId"] = thread_id
        if internal_date:
            body["internalDate"] = internal_date
        return self.fg.admin("POST", f"/__admin/accounts/{self.google_email}/messages", body)

    def g_labels(self, message_id, add=(), remove=()):
        return self.fg.admin("POST", f"/__admin/accounts/{self.google_email}/messages/"
                             f"{message_id}/labels", {"add": list(add), "remove": list(remove)})

    def g_delete_message(self, message_id):
        return self.fg.admin("DELETE", f"/__admin/accounts/{self.google_email}/messages/"
                             f"{message_id}")

    def g_messages(self):
        """Every message Gmail has for the account, as the API lists them
        (spam and trash included): {id: {"threadId", "labelIds"}}."""
        out, token = {}, None
        access = self.fg.access_token(self.google_email, (SCOPE_GMAIL_MODIFY,))

        def get(path):
            status, body = self.fg.request("GET", "/gmail/v1/users/me/" + path, token=access)
            assert status == 200, (path, status, body)
            return body
        while True:
            q = "maxResults=500&includeSpamTrash=true" + (f"&pageToken={token}" if token else "")
            page = get(f"messages?{q}")
            for m in page.get("messages", []):
                full = get(f"messages/{m['id']}?format=minimal")
                out[m["id"]] = {"threadId": full["threadId"], "labelIds": sorted(full["labelIds"])}
            token = page.get("nextPageToken")
            if not token:
                return out

    # --- the CRM side -----------------------------------------------------
    def messages(self):
        cur = self.conn.execute("SELECT m.*, t.gmail_thread_id FROM rally.mail_messages m"
                                " JOIN rally.mail_threads t ON t.tenant_id = m.tenant_id"
                                " AND t.id = m.thread_id WHERE m.tenant_id = %s", (self.tenant,))
        cols = [c.name for c in cur.description]
        return {r[cols.index("gmail_id")]: dict(zip(cols, r)) for r in cur.fetchall()}

    def mail_state(self):
        cur = self.conn.execute("SELECT * FROM rally.sync_state WHERE connection_id = %s"
                                " AND resource = 'mail'", (self.connection,))
        return dict(zip([c.name for c in cur.description], cur.fetchone()))

    def jobs_idle(self, kinds=MAIL_KINDS):
        return super().jobs_idle(kinds)

    def sync(self, timeout=60):
        """Queues a mail sync and waits until all mail work is done."""
        self.conn.execute(
            "SELECT rally.job_enqueue(%s, 'mailsync', %s, %s)",
            (self.tenant, str(self.connection), json.dumps({"connection_id": str(self.connection)})))
        self.settle(timeout)

    def last_result(self, mode=None):
        """The result of the last mailsync done (of that mode: "full" or
        "incremental"; the scheduler's first poll may follow a full sync)."""
        return self.conn.execute(
            "SELECT result FROM rally.jobs WHERE kind = 'mailsync' AND state = 'done'"
            " AND (%s::text IS NULL OR result->>'mode' = %s)"
            " ORDER BY finished_at DESC LIMIT 1", (mode, mode)).fetchone()[0]

    def wait_messages(self, n, timeout=60):
        wait_until(lambda: len(self.messages()) >= n, timeout=timeout, interval=0.1,
                   message=f"{n} messages stored")
