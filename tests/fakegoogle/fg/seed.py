# SPDX-License-Identifier: ISC
"""Deterministic generated data: a realistic mix of mail and calendar events for an account.

Mail: plain and multipart/alternative bodies, attachments (some with non-ASCII filenames),
non-ASCII headers and bodies in utf-8, iso-8859-1, windows-1252, iso-2022-jp and koi8-r, long
reply threads, a spread of labels. Events: timed events in several zones with attendees,
all-day and multi-day events, recurring series (daily/weekly/monthly/yearly, EXDATEs) with
moved and cancelled instances, extended properties. The same (server seed, request seed,
account) always yields the same bytes, ids and order."""

import datetime
import email.header
import email.utils
import random
from email.mime.application import MIMEApplication
from email.mime.image import MIMEImage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText

from .calendar_store import instance_suffix

FIRST = ["Ana", "Björn", "Chloé", "Dmitri", "Emeka", "Fatima", "Giulia", "Hiroshi", "Ingrid",
         "José", "Keiko", "Lars", "Małgorzata", "Nikolai", "Olivia", "Priya"]
LAST = ["García", "Müller", "Dubois", "Ivanov", "Okafor", "Haddad", "Rossi", "Tanaka",
        "Nilsen", "Martínez", "Sato", "Berg", "Wiśniewska", "Petrov", "Smith", "Patel"]
DOMAINS = ["example.com", "example.org", "acme.test", "contoso.test"]
TOPICS = ["Quarterly review", "Contract renewal", "Invoice 2024-{n}", "Site visit",
          "Proposal draft", "Budget follow-up", "Onboarding plan", "Price list update"]
# (charset, subject, body): text that exercises each charset's own repertoire.
LOCALIZED = [
    ("utf-8", "Réunion — prochaine étape ✔", "Bonjour,\nVoici le résumé: coût 1 200 €, délai 3 semaines.\n"),
    ("iso-8859-1", "Grüße aus München", "Hallo,\nanbei die Unterlagen für die Besprechung. Schöne Grüße!\n"),
    ("windows-1252", "“Quoted” pricing – final", "Hi,\nThe “final” price is €950 – see below… Thanks!\n"),
    ("iso-2022-jp", "会議の件について", "お世話になっております。\n来週の会議の件でご連絡いたします。\n"),
    ("koi8-r", "Встреча в пятницу", "Здравствуйте!\nПодтверждаю встречу в пятницу в 10:00.\n"),
]
ZONES = ["Europe/Paris", "America/New_York", "Asia/Tokyo", "UTC", "America/Los_Angeles"]
SYSTEM_MIX = ["CATEGORY_PERSONAL", "CATEGORY_UPDATES", "CATEGORY_PROMOTIONS", "CATEGORY_SOCIAL",
              "CATEGORY_FORUMS"]
DEFAULT_BASE = 1717200000     # 2024-06-01T00:00:00Z: fixed so seeded data is reproducible


def person(rng):
    first, last = rng.choice(FIRST), rng.choice(LAST)
    address = "%s.%s@%s" % (_ascii(first), _ascii(last), rng.choice(DOMAINS))
    return "%s %s" % (first, last), address.lower()


def _ascii(text):
    return text.encode("ascii", "ignore").decode() or "x"


def _encoded(text, charset):
    """An RFC 2047 header value in the message's charset when the text fits it, else UTF-8."""
    if all(ord(c) < 128 for c in text):
        return text
    try:
        text.encode(charset)
    except UnicodeEncodeError:
        charset = "utf-8"
    return email.header.Header(text, charset).encode()


def _addr(name, address, charset="utf-8"):
    return email.utils.formataddr((_encoded(name, charset), address))


class MailSeeder:
    def __init__(self, rng, owner, base_time, days):
        self.rng = rng
        self.owner = owner
        self.base = base_time
        self.days = days
        self.threads = []       # [(root subject, [message-ids])]
        self.boundary = 0

    def _boundary(self):
        self.boundary += 1
        return "==fg_%08d_%d==" % (self.rng.randrange(10 ** 8), self.boundary)

    def message(self, index, when):
        rng = self.rng
        charset, subject, text = LOCALIZED[index % len(LOCALIZED)] if rng.random() < 0.45 else \
            ("utf-8", rng.choice(TOPICS).format(n=index), "Hello,\nPlease find the details below.\n")
        reply_to = self.threads[-1] if self.threads and rng.random() < 0.35 else None
        body = self._body(charset, text, rng.random())
        sender_name, sender = person(rng)
        outgoing = rng.random() < 0.15
        body["From"] = self.owner if outgoing else _addr(sender_name, sender, charset)
        body["To"] = _addr(sender_name, sender, charset) if outgoing else self.owner
        if rng.random() < 0.3:
            body["Cc"] = _addr(*person(rng))
        msgid = "<%s.%d@%s>" % ("%016x" % rng.getrandbits(64), index, rng.choice(DOMAINS))
        if reply_to is not None:
            root_subject, ids = reply_to
            body["Subject"] = _encoded("Re: " + root_subject, charset)
            body["In-Reply-To"] = ids[-1]
            body["References"] = " ".join(ids[-10:])
            ids.append(msgid)
        else:
            body["Subject"] = _encoded(subject, charset)
            self.threads.append((subject, [msgid]))
        body["Message-ID"] = msgid
        body["Date"] = email.utils.formatdate(when, localtime=False)
        labels = self._labels(outgoing)
        return body.as_bytes(), labels

    def _body(self, charset, text, pick):
        html = "<html><body><p>%s</p></body></html>" % text.replace("\n", "<br>")
        if pick < 0.4:
            return MIMEText(text, "plain", charset)
        alternative = MIMEMultipart("alternative", boundary=self._boundary())
        alternative.attach(MIMEText(text, "plain", charset))
        alternative.attach(MIMEText(html, "html", charset))
        if pick < 0.75:
            return alternative
        mixed = MIMEMultipart("mixed", boundary=self._boundary())
        mixed.attach(alternative)
        size = self.rng.choice([512, 4096, 40000])
        pdf = MIMEApplication(b"%PDF-1.4\n" + bytes(self.rng.getrandbits(8) for _ in range(size)),
                              "pdf")
        name = self.rng.choice(["offer.pdf", "Angebot für Kunden.pdf", "見積書.pdf"])
        pdf.add_header("Content-Disposition", "attachment", filename=("utf-8", "", name)
                       if any(ord(c) > 127 for c in name) else name)
        mixed.attach(pdf)
        if pick > 0.9:
            png = MIMEImage(b"\x89PNG\r\n\x1a\n" + bytes(64), "png")
            png.add_header("Content-Disposition", "inline", filename="logo.png")
            mixed.attach(png)
        return mixed

    def _labels(self, outgoing):
        rng = self.rng
        if outgoing:
            return ["SENT"]
        labels = ["INBOX", rng.choice(SYSTEM_MIX)]
        if rng.random() < 0.4:
            labels.append("UNREAD")
        if rng.random() < 0.1:
            labels.append("STARRED")
        if rng.random() < 0.2:
            labels.append("IMPORTANT")
        if rng.random() < 0.03:
            labels = ["SPAM"]
        elif rng.random() < 0.03:
            labels = ["TRASH"]
        return labels


def seed_messages(mailbox, count, rng, base_time, days=90):
    seeder = MailSeeder(rng, mailbox.email, base_time, days)
    times = sorted(base_time - rng.randrange(days * 86400) for _ in range(count))
    ids = []
    for index, when in enumerate(times):
        raw, labels = seeder.message(index, when)
        ids.append(mailbox.deliver(raw, labels, internal_date=when * 1000).id)
    return ids


def seed_events(calendar, count, rng, base_time):
    ids = []
    base = datetime.datetime.fromtimestamp(base_time, datetime.timezone.utc)
    for index in range(count):
        kind = rng.random()
        day = base + datetime.timedelta(days=rng.randrange(-60, 60))
        if kind < 0.5:
            body = _timed(rng, day, index)
        elif kind < 0.65:
            body = _all_day(rng, day, index)
        else:
            body = _recurring(rng, day, index)
        event = calendar.insert(body)
        ids.append(event.res["id"])
        if "recurrence" in body and rng.random() < 0.6:
            _add_exceptions(calendar, event, rng)
    return ids


def _timed(rng, day, index):
    zone = rng.choice(ZONES)
    start = day.replace(hour=rng.randrange(7, 18), minute=rng.choice([0, 15, 30]), second=0,
                        microsecond=0)
    end = start + datetime.timedelta(minutes=rng.choice([30, 45, 60, 90]))
    body = {"summary": rng.choice(TOPICS).format(n=index),
            "start": {"dateTime": start.isoformat(), "timeZone": zone},
            "end": {"dateTime": end.isoformat(), "timeZone": zone}}
    if rng.random() < 0.6:
        body["attendees"] = [{"email": person(rng)[1], "displayName": person(rng)[0],
                              "responseStatus": rng.choice(["needsAction", "accepted",
                                                            "declined", "tentative"])}
                             for _ in range(rng.randrange(1, 5))]
    if rng.random() < 0.3:
        body["description"] = LOCALIZED[index % len(LOCALIZED)][2]
        body["location"] = rng.choice(["Salle Étoile", "会議室A", "Room 4", "Zoom"])
    if rng.random() < 0.25:
        body["extendedProperties"] = {"private": {"rallyActivityId": str(10000 + index)},
                                      "shared": {"source": "seed"}}
    return body


def _all_day(rng, day, index):
    start = day.date()
    return {"summary": rng.choice(["Holiday", "Offsite", "Conference", "Jour férié"]),
            "start": {"date": start.isoformat()},
            "end": {"date": (start + datetime.timedelta(days=rng.choice([1, 1, 2, 3]))).isoformat()}}


def _recurring(rng, day, index):
    body = _timed(rng, day, index)
    rule = rng.choice(["RRULE:FREQ=WEEKLY;BYDAY=MO,WE,FR;COUNT=12",
                       "RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=TU",
                       "RRULE:FREQ=DAILY;COUNT=10",
                       "RRULE:FREQ=MONTHLY;BYMONTHDAY=15;COUNT=6",
                       "RRULE:FREQ=MONTHLY;BYDAY=1MO;UNTIL=20251231T000000Z",
                       "RRULE:FREQ=YEARLY;COUNT=3"])
    body["recurrence"] = [rule]
    body["summary"] = "Recurring: " + body["summary"]
    return body


def _add_exceptions(calendar, event, rng):
    instances = calendar.instances(event, None, None)
    if len(instances) < 3:
        return
    moved, cancelled = instances[1], instances[2]
    start = datetime.datetime.fromisoformat(moved["start"]["dateTime"]) + datetime.timedelta(hours=1)
    end = datetime.datetime.fromisoformat(moved["end"]["dateTime"]) + datetime.timedelta(hours=1)
    calendar.replace(moved["id"], {"start": dict(moved["start"], dateTime=start.isoformat()),
                                   "end": dict(moved["end"], dateTime=end.isoformat()),
                                   "summary": moved.get("summary", "") + " (moved)"}, patch=True)
    calendar.delete(cancelled["id"])
    if rng.random() < 0.5 and len(instances) > 3:
        exdate = instances[3]["originalStartTime"]
        stamp = instance_suffix(datetime.datetime.fromisoformat(exdate["dateTime"]))
        calendar.replace(event.res["id"], {"recurrence": event.res["recurrence"] +
                                           ["EXDATE:" + stamp]}, patch=True)


def rng_for(state_seed, request_seed, email_address):
    return random.Random("%s:%s:%s" % (state_seed, request_seed, email_address.lower()))
