# SPDX-License-Identifier: ISC
"""Gmail search (`q`) for messages.list: the operators Rally relies on plus a few common ones.

Supported: after:, before:, older_than:, newer_than:, in:, label:, is:, rfc822msgid:, from:,
to:, subject:, has:attachment, bare words and "quoted phrases", each optionally negated with a
leading '-'. Dates are read in UTC (Gmail uses the account's zone). OR, braces and parentheses
are answered with a 400 naming the construct, so a test notices instead of getting a silently
different result."""

import datetime
import re
import shlex

from . import clock
from .errors import bad_request

MAX_TERMS = 50
_DURATION = re.compile(r"^(\d{1,6})([dmy])$")
_DAYS = {"d": 1, "m": 30, "y": 365}
IN_LABELS = {"inbox": "INBOX", "sent": "SENT", "trash": "TRASH", "spam": "SPAM",
             "drafts": "DRAFT", "draft": "DRAFT", "starred": "STARRED", "important": "IMPORTANT",
             "unread": "UNREAD", "chats": "CHAT"}


class Query:
    def __init__(self, terms, reaches_spam_trash):
        self.terms = terms                          # [(negated, predicate)]
        self.reaches_spam_trash = reaches_spam_trash

    def matches(self, msg, mailbox):
        return all(pred(msg, mailbox) != negated for negated, pred in self.terms)


def parse(text):
    if len(text) > 2048:
        raise bad_request("q is too long.", location="q")
    try:
        tokens = shlex.split(text, posix=True)
    except ValueError:
        raise bad_request("Unbalanced quotes in q.", location="q") from None
    if len(tokens) > MAX_TERMS:
        raise bad_request("Too many search terms in q.", location="q")
    terms, reaches = [], False
    for token in tokens:
        negated = token.startswith("-") and len(token) > 1
        if negated:
            token = token[1:]
        if token in ("OR", "AND") or token[:1] in "({" or token[-1:] in ")}":
            raise bad_request("fakegoogle does not emulate '%s' in q." % token[:20], location="q")
        op, sep, value = token.partition(":")
        if sep and op.lower() in _OPERATORS:
            op = op.lower()
            terms.append((negated, _OPERATORS[op](value.strip())))
            if op in ("in", "label") and value.lower() in ("spam", "trash", "anywhere"):
                reaches = True
        else:
            terms.append((negated, _word(token)))
    return Query(terms, reaches)


def _date_ms(value):
    if value.isdigit():
        return int(value) * 1000
    for fmt in ("%Y/%m/%d", "%Y-%m-%d"):
        try:
            day = datetime.datetime.strptime(value, fmt)
            return int(day.replace(tzinfo=datetime.timezone.utc).timestamp() * 1000)
        except ValueError:
            continue
    raise bad_request("Invalid date in q: %s" % value[:30], location="q")


def _after(value):
    ms = _date_ms(value)
    return lambda m, _: m.internal_date >= ms


def _before(value):
    ms = _date_ms(value)
    return lambda m, _: m.internal_date < ms


def _age_ms(value):
    match = _DURATION.match(value.lower())
    if not match:
        raise bad_request("Invalid duration in q: %s (use 3d, 2m, 1y)" % value[:20], location="q")
    return int(match.group(1)) * _DAYS[match.group(2)] * 86400 * 1000


def _newer_than(value):
    age = _age_ms(value)
    return lambda m, _: m.internal_date > clock.now_ms() - age


def _older_than(value):
    age = _age_ms(value)
    return lambda m, _: m.internal_date <= clock.now_ms() - age


def _in(value):
    value = value.lower()
    if value == "anywhere":
        return lambda m, _: True
    if value not in IN_LABELS:
        return _label(value)
    label = IN_LABELS[value]
    return lambda m, _: label in m.labels


def _label(value):
    wanted = _label_key(value)

    def pred(msg, mailbox):
        for label_id in msg.labels:
            label = mailbox.labels.get(label_id)
            if label_id.lower() == wanted or (label and _label_key(label["name"]) == wanted):
                return True
        return False
    return pred


def _label_key(name):
    # Gmail's label: operator writes spaces and slashes in names as dashes.
    return re.sub(r"[\s/]", "-", name.strip().lower())


def _is(value):
    value = value.lower()
    if value == "read":
        return lambda m, _: "UNREAD" not in m.labels
    labels = {"unread": "UNREAD", "starred": "STARRED", "important": "IMPORTANT"}
    if value not in labels:
        raise bad_request("fakegoogle does not emulate is:%s" % value[:20], location="q")
    return lambda m, _: labels[value] in m.labels


def _rfc822msgid(value):
    wanted = value.strip().strip("<>").lower()
    return lambda m, _: m.message_id_header.strip().strip("<>").lower() == wanted


def _header_contains(attribute):
    def make(value):
        needle = value.lower()
        return lambda m, _: needle in getattr(m, attribute).lower()
    return make


def _has(value):
    if value.lower() != "attachment":
        raise bad_request("fakegoogle does not emulate has:%s" % value[:20], location="q")
    return lambda m, mailbox: m.rendered(mailbox.state.setting("attachmentInlineMax")).has_attachment


def _word(word):
    needle = word.lower()
    return lambda m, mailbox: needle in (m.subject + " " + m.from_ + " " + m.to + " " + m.rendered(
        mailbox.state.setting("attachmentInlineMax")).snippet).lower()


_OPERATORS = {"after": _after, "before": _before, "newer_than": _newer_than,
              "older_than": _older_than, "in": _in, "label": _label, "is": _is,
              "rfc822msgid": _rfc822msgid, "from": _header_contains("from_"),
              "to": _header_contains("to"), "subject": _header_contains("subject"), "has": _has}
