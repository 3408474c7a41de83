# SPDX-License-Identifier: ISC
"""A Gmail mailbox: messages (stored as RFC 5322 bytes plus labels), threads, labels, and the
history log behind historyId.

Every change goes through `_record`, which appends a history record, stamps the message's
historyId and tells the push sender; so history.list, message historyIds and Pub/Sub
notifications can never disagree."""

import email.utils
import re

from . import clock, mime
from .changelog import ChangeLog
from .errors import ApiError, bad_request

SYSTEM_LABELS = ("INBOX", "SPAM", "TRASH", "UNREAD", "STARRED", "IMPORTANT", "SENT", "DRAFT",
                 "CATEGORY_PERSONAL", "CATEGORY_SOCIAL", "CATEGORY_PROMOTIONS",
                 "CATEGORY_UPDATES", "CATEGORY_FORUMS", "CHAT")
NOT_BY_HAND = ("SENT", "DRAFT")      # Gmail refuses to add or remove these in modify
MAX_MESSAGE_BYTES = 35 * 1024 * 1024
MAX_USER_LABELS = 10000
_SUBJECT_PREFIX = re.compile(r"^\s*((re|fwd?|aw|sv|tr)\s*(\[\d+\])?:\s*)+", re.I)
_MSGID = re.compile(r"<[^<>\s]+>")


def normalize_subject(subject):
    return _SUBJECT_PREFIX.sub("", subject or "").strip().lower()


class GmailMessage:
    def __init__(self, message_id, thread_id, raw, labels, internal_date):
        self.id = message_id
        self.thread_id = thread_id
        self.raw = raw
        self.labels = labels                # set of label ids
        self.internal_date = internal_date  # epoch ms
        self.history_id = 0
        self.labels_version = 0             # bumps with every label change (cache key)
        parsed = mime.parse(raw)
        self.message_id_header = mime.header(parsed, "Message-ID").strip()
        self.subject = mime.header(parsed, "Subject")
        self.from_ = mime.header(parsed, "From")
        self.to = mime.header(parsed, "To") + " " + mime.header(parsed, "Cc")
        self.references = _MSGID.findall(mime.header(parsed, "References") + " " +
                                         mime.header(parsed, "In-Reply-To"))
        self._rendered = None

    def rendered(self, inline_max):
        """MIME rendering, built on first use; raw bytes never change so it never goes stale."""
        if self._rendered is None or self._rendered.inline_max != inline_max:
            self._rendered = mime.Rendered(self.id, self.raw, inline_max)
        return self._rendered

    def ref(self, with_labels=True):
        out = {"id": self.id, "threadId": self.thread_id}
        if with_labels:
            out["labelIds"] = sorted(self.labels)
        return out


class Mailbox:
    def __init__(self, state, email_address):
        self.state = state
        self.email = email_address
        self.messages = {}            # id -> GmailMessage, in arrival order
        self.by_message_id = {}       # Message-ID header -> GmailMessage
        self.labels = {name: {"id": name, "name": name, "type": "system"} for name in SYSTEM_LABELS}
        self.log = ChangeLog(start=1000, max_entries=state.setting("gmailHistoryMax"))
        self.watch = None             # {"topicName", "labelIds", "behavior", "expiration"}
        self.on_change = None         # set by the push sender

    @property
    def history_id(self):
        return self.log.last_id

    # -- labels ------------------------------------------------------------------------

    def create_label(self, body):
        name = body.get("name")
        if not isinstance(name, str) or not name.strip() or len(name) > 225:
            raise bad_request("Invalid label name", reason="invalidArgument")
        if any(l["name"].lower() == name.lower() for l in self.labels.values()):
            raise ApiError(409, "alreadyExists", "Label name exists or conflicts")
        if len(self.labels) >= MAX_USER_LABELS:
            raise bad_request("Too many labels")
        label_id = "Label_%d" % (len(self.labels) - len(SYSTEM_LABELS) + 1)
        label = {"id": label_id, "name": name, "type": "user",
                 "messageListVisibility": body.get("messageListVisibility", "show"),
                 "labelListVisibility": body.get("labelListVisibility", "labelShow")}
        if isinstance(body.get("color"), dict):
            label["color"] = body["color"]
        self.labels[label_id] = label
        return label

    def label_with_counts(self, label_id):
        label = dict(self.labels[label_id])
        with_label = [m for m in self.messages.values() if label_id in m.labels]
        unread = [m for m in with_label if "UNREAD" in m.labels]
        label.update(messagesTotal=len(with_label), messagesUnread=len(unread),
                     threadsTotal=len({m.thread_id for m in with_label}),
                     threadsUnread=len({m.thread_id for m in unread}))
        return label

    def check_labels(self, label_ids, by_hand):
        for label_id in label_ids:
            if not isinstance(label_id, str) or label_id not in self.labels:
                raise bad_request("Invalid label: %s" % str(label_id)[:64], reason="invalidArgument")
            if by_hand and label_id in NOT_BY_HAND:
                raise bad_request("Invalid label: %s" % label_id, reason="invalidArgument")

    # -- messages ----------------------------------------------------------------------

    def deliver(self, raw, label_ids, internal_date=None, thread_id=None):
        """Store a message (arrival, send, or admin delivery) and record messageAdded."""
        if len(raw) > MAX_MESSAGE_BYTES:
            raise ApiError(413, "invalidArgument", "Message too large")
        if not looks_like_rfc5322(raw):
            raise bad_request("Invalid raw message: no RFC 5322 header section.",
                              reason="invalidArgument")
        self.check_labels(label_ids, by_hand=False)
        message_id = self._new_message_id()
        if internal_date is None:
            internal_date = _date_header_ms(raw) or clock.now_ms()
        msg = GmailMessage(message_id, None, raw, set(label_ids), internal_date)
        msg.thread_id = self._thread_for(msg, thread_id) or message_id
        self.messages[message_id] = msg
        if msg.message_id_header:
            self.by_message_id.setdefault(msg.message_id_header, msg)
        self._record(msg, "messagesAdded", set(msg.labels))
        return msg

    def _new_message_id(self):
        while True:
            candidate = self.state.ids.hex(16)
            if candidate not in self.messages and candidate[0] != "0":
                return candidate

    def _thread_for(self, msg, thread_id):
        """Gmail's rule: an explicit threadId counts only when References/In-Reply-To are set
        and the subject matches; otherwise the referenced messages decide."""
        if thread_id:
            members = [m for m in self.messages.values() if m.thread_id == thread_id]
            if members and msg.references and \
                    normalize_subject(members[0].subject) == normalize_subject(msg.subject):
                return thread_id
        for ref in reversed(msg.references):
            parent = self.by_message_id.get(ref)
            if parent is not None:
                return parent.thread_id
        return None

    def modify(self, msg, add, remove, by_hand=True):
        self.check_labels(list(add) + list(remove), by_hand)
        added = set(add) - msg.labels
        removed = (set(remove) - set(add)) & msg.labels
        if not added and not removed:
            return msg
        msg.labels = (msg.labels | added) - removed
        msg.labels_version += 1
        if added:
            self._record(msg, "labelsAdded", added)
        if removed:
            self._record(msg, "labelsRemoved", removed)
        return msg

    def delete(self, msg):
        del self.messages[msg.id]
        if self.by_message_id.get(msg.message_id_header) is msg:
            del self.by_message_id[msg.message_id_header]
        self._record(msg, "messagesDeleted", set())

    def _record(self, msg, kind, label_ids):
        payload = {"kind": kind, "message": msg.ref(with_labels=kind != "messagesDeleted"),
                   "labelIds": sorted(label_ids)}
        msg.history_id = self.log.append(payload)
        if self.on_change is not None:
            self.on_change(self, msg)

    def expire_history(self):
        self.log.expire()

    def profile(self):
        return {"emailAddress": self.email, "messagesTotal": len(self.messages),
                "threadsTotal": len({m.thread_id for m in self.messages.values()}),
                "historyId": str(self.history_id)}


def looks_like_rfc5322(raw):
    head = raw.split(b"\n\n", 1)[0].split(b"\r\n\r\n", 1)[0]
    first = head.split(b"\n", 1)[0]
    return b":" in first and not first[:1].isspace()


def _date_header_ms(raw):
    try:
        date = mime.parse(raw).get("Date")
        parsed = email.utils.parsedate_to_datetime(date) if date else None
    except (TypeError, ValueError, IndexError):
        return None
    if parsed is None or parsed.tzinfo is None:
        return None
    return int(parsed.timestamp() * 1000)
