# SPDX-License-Identifier: ISC
"""mail_decode() (lib/mail/decode.c), through tests/unit/mail-decode-tool,
on messages Gmail's way: RFC 5322 messages rendered into format=full answers
by the emulator's own renderer (tests/fakegoogle/fg/mime.py), compared with
what Python's email package reads in the same messages.  The last test
sends mail_compose()'s output the same way, so that a draft comes back
field by field through both modules."""

import base64
import email
import email.header
import email.policy
import json
import subprocess
import sys

from rallytest import BUILDDIR, SRCDIR

sys.path.insert(0, str(SRCDIR / "tests" / "fakegoogle"))
from fg import mime  # noqa: E402

DECODE = BUILDDIR / "tests" / "unit" / "mail-decode-tool"
COMPOSE = BUILDDIR / "tests" / "unit" / "mail-compose-tool"
INLINE_MAX = 262144


def gmail(raw, inline_max=INLINE_MAX, patch=None):
    r = mime.Rendered("18c2f0a1b2c3d4e5", raw, inline_max)
    if patch:
        patch(r.payload)
    return {"id": "18c2f0a1b2c3d4e5", "threadId": "18c2f0a1b2c3d4e0",
            "labelIds": ["INBOX"], "snippet": r.snippet, "payload": r.payload,
            "sizeEstimate": len(raw), "historyId": "77", "internalDate": "1764590064000"}


def decode(msg):
    p = subprocess.run([str(DECODE)], input=json.dumps(msg).encode(),
                       capture_output=True, timeout=120)
    assert p.returncode == 0, p.stderr.decode()
    out = json.loads(p.stdout)
    assert "error" not in out, out
    row = out["row"]
    assert set(row) == {
        "gmail_id", "thread_id", "history_id", "internal_date_ms", "size_estimate",
        "label_ids", "snippet", "message_id", "in_reply_to", "references", "subject",
        "from", "reply_to", "date", "to", "cc", "bcc", "body_text", "body_html",
        "attachments", "repaired"}
    for v in strings(row):
        assert "\0" not in v
        v.encode("utf-8")  # no lone surrogates from bad UTF-8
    return row, out["stats"]


def strings(o):
    if isinstance(o, str):
        yield o
    elif isinstance(o, dict):
        for v in o.values():
            yield from strings(v)
    elif isinstance(o, list):
        for v in o:
            yield from strings(v)


def message(headers, body, ctype="text/plain; charset=utf-8", cte="8bit"):
    head = "".join("%s: %s\r\n" % h for h in headers).encode()
    return head + b"MIME-Version: 1.0\r\nContent-Type: " + ctype.encode() + \
        b"\r\nContent-Transfer-Encoding: " + cte.encode() + b"\r\n\r\n" + body


BASE = [("From", "Ann <ann@example.com>"), ("To", "bob@example.org"),
        ("Subject", "Hello"), ("Date", "Tue, 1 Dec 2026 11:54:24 +0000"),
        ("Message-ID", "<m1@example.com>")]

SAMPLES = {
    "iso-8859-1": "Café crème, déjà vu",
    "windows-1252": "“Smart quotes” – and € signs",
    "iso-2022-jp": "日本語のメールです",
    "shift_jis": "こんにちは、世界",
    "koi8-r": "Привет, мир",
    "gb2312": "中文邮件",
    "utf-8": "Grüße — ünïcödé ✓",
}


def test_bodies_in_many_charsets_come_out_as_their_text():
    for cs, text in SAMPLES.items():
        raw = message(BASE, text.encode(cs), "text/plain; charset=%s" % cs)
        row, stats = decode(gmail(raw))
        assert row["body_text"] == text, cs
        assert row["repaired"] == 0, cs


def test_bodies_google_did_not_transcode_are_converted():
    for cs, text in SAMPLES.items():
        raw = message(BASE, text.encode(cs), "text/plain; charset=%s" % cs)

        def untranscoded(payload, data=text.encode(cs)):
            payload["body"] = {"size": len(data), "data": mime.b64url(data)}
        row, stats = decode(gmail(raw, patch=untranscoded))
        assert row["body_text"] == text, cs
        assert stats["charset_converted"] == (0 if cs == "utf-8" else 1), cs


def test_a_wrong_charset_label_is_repaired_not_refused():
    data = "naïve café".encode("latin-1")
    raw = message(BASE, data, "text/plain; charset=utf-8")

    def untranscoded(payload):
        payload["body"] = {"size": len(data), "data": mime.b64url(data)}
    row, stats = decode(gmail(raw, patch=untranscoded))
    assert row["body_text"] == "naïve café"
    assert stats["repaired"] == 1 and row["repaired"] == 1


def test_encoded_word_headers_decode_like_pythons_email():
    headers = [("From", "=?iso-8859-1?q?Andr=E9?= Dupont <andre@example.fr>"),
               ("To", "=?utf-8?b?TcO8bGxlciwgSGFucw==?= <hans@example.de>, "
                      "\"Smith, J\" <j@example.org>, g: c@example.net;"),
               ("Cc", "=?iso-2022-jp?b?GyRCRnxLXDhsGyhC?= <t@example.jp>"),
               ("Subject", "=?utf-8?q?caf=C3=A9?= =?utf-8?q?_au_lait?= and "
                           "=?koi8-r?b?8NLJ18XU?="),
               ("Date", "1 Dec 2026 03:54:24 -0800"), ("Message-ID", "<m2@x>"),
               ("Reply-To", "list@example.com"), ("In-Reply-To", "<m1@x>"),
               ("References", "<m0@x>\r\n <m1@x>")]
    raw = message(headers, b"x")
    row, _ = decode(gmail(raw))
    py = email.message_from_bytes(raw, policy=email.policy.default)
    assert row["subject"] == str(py["Subject"]) == "café au lait and Привет"
    assert row["from"] == "André Dupont <andre@example.fr>"
    assert row["to"] == ["Müller, Hans <hans@example.de>", "Smith, J <j@example.org>",
                         "c@example.net"]
    assert [a.addr_spec for a in py["To"].addresses] == [
        "hans@example.de", "j@example.org", "c@example.net"]
    assert row["cc"] == ["日本語 <t@example.jp>"]
    assert row["date"] == "2026-12-01T11:54:24Z"
    assert row["reply_to"] == "list@example.com"
    assert (row["message_id"], row["in_reply_to"], row["references"]) == (
        "<m2@x>", "<m1@x>", "<m0@x> <m1@x>")


def test_nested_multiparts_html_only_and_attachments():
    py = email.message.EmailMessage()
    for k, v in BASE:
        py[k] = v
    py.set_content("plain text ✓")
    py.add_alternative("<p>html ✓</p>", subtype="html")
    py.get_payload()[1].add_related(b"GIF89a", "image", "gif", cid="<img1>")
    py.add_attachment(b"%PDF-1.4 " * 100, "application", "pdf", filename="Résumé.pdf")
    py.add_attachment(b"notes", "text", "plain", filename="notes.txt")
    row, _ = decode(gmail(py.as_bytes()))
    assert row["body_text"].rstrip("\n") == "plain text ✓"
    assert row["body_html"].rstrip("\n") == "<p>html ✓</p>"
    names = [(a["filename"], a["mime_type"]) for a in row["attachments"]]
    assert names == [("", "image/gif"), ("Résumé.pdf", "application/pdf"),
                     ("notes.txt", "text/plain")]
    assert row["attachments"][1]["size"] == 900
    assert row["attachments"][1]["attachment_id"].startswith("ANGjdJ")

    html_only = message(BASE, b"<p>only</p>", "text/html; charset=us-ascii")
    row, _ = decode(gmail(html_only))
    assert row["body_text"] is None and row["body_html"] == "<p>only</p>"


def test_malformed_mime_still_gives_a_row():
    raw = (b"From: a@example.com\r\nTo: b@example.com\r\nSubject: broken\r\n"
           b"Date: not a date\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: multipart/mixed; boundary=\"XX\"\r\n\r\n"
           b"--XX\r\nContent-Type: text/plain; charset=x-no-such\r\n"
           b"Content-Transfer-Encoding: base64\r\n\r\nnot base64 at all!!\r\n"
           b"--XX\r\nContent-Type: text/html\r\n\r\n<p>\xff\xfe unterminated")
    row, _ = decode(gmail(raw))
    assert row["subject"] == "broken" and row["date"] is None
    assert row["body_html"] is not None


def test_a_20_mb_message():
    body = (b"0123456789abcdef" * 64 + b"\r\n") * (20 * 1024 * 1024 // 1026)
    raw = message(BASE, base64.encodebytes(body), cte="base64")
    row, stats = decode(gmail(raw, inline_max=64 * 1024 * 1024))
    assert len(row["body_text"]) == len(body) and stats["truncated"] == 0
    row, stats = decode(gmail(raw))
    assert row["body_text"] is None and stats["body_external"] == 1
    assert row["attachments"][0]["filename"] == ""


def test_a_composed_draft_comes_back_through_the_decoder():
    blob = bytes(range(256)) * 20
    draft = {
        "from": "Jörg Müller <jorg@example.de>",
        "to": ["Müller, Hans <hans@example.de>", "bob@example.org"],
        "cc": ["\"Smith, J.\" <j@example.org>"], "bcc": ["hidden@example.net"],
        "subject": "Re: Grüße — " + "long subject " * 10,
        "message_id": "<rally-7@example.com>", "in_reply_to": "<m1@example.com>",
        "references": "<m0@example.com> <m1@example.com>",
        "body_text": "Hallo Hans,\nbis später.\n" + "z" * 3000 + "\n",
        "body_html": "<p>Hallo Hans, bis später.</p>\n",
        "date": 1764590064,
        "attachments": [{"filename": "Bericht März.pdf", "mime_type": "application/pdf",
                         "data": base64.b64encode(blob).decode()}]}
    p = subprocess.run([str(COMPOSE)], input=json.dumps(draft).encode(),
                       capture_output=True, timeout=30)
    assert p.returncode == 0, p.stderr.decode()
    row, stats = decode(gmail(p.stdout))
    assert row["from"] == draft["from"]
    assert row["to"] == draft["to"]
    assert row["cc"] == ["Smith, J. <j@example.org>"]
    assert row["bcc"] == ["hidden@example.net"]
    assert row["subject"] == draft["subject"]
    assert row["message_id"] == draft["message_id"]
    assert row["in_reply_to"] == draft["in_reply_to"]
    assert row["references"] == draft["references"]
    assert row["date"] == "2025-12-01T11:54:24Z"
    assert row["body_text"].replace("\r\n", "\n") == draft["body_text"]
    assert row["body_html"].replace("\r\n", "\n") == draft["body_html"]
    assert [(a["filename"], a["mime_type"], a["size"]) for a in row["attachments"]] == [
        ("Bericht März.pdf", "application/pdf", len(blob))]
    assert row["repaired"] == 0
