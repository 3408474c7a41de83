# SPDX-License-Identifier: ISC
"""mail_compose() (lib/mail/compose.c), through tests/unit/mail-compose-tool:
each composed message is parsed back with Python's email package and
compared field by field, and its wire form checked: CRLF line ends, no line
over 998 octets, header lines folded at 78, nothing but ASCII."""

import base64
import email
import email.policy
import email.utils
import json
import subprocess

import pytest

from rallytest import BUILDDIR

TOOL = BUILDDIR / "tests" / "unit" / "mail-compose-tool"
DATE = 1764590064  # Mon, 01 Dec 2025 11:54:24 +0000


def draft(**fields):
    d = {"from": "Rally User <me@example.com>", "to": ["bob@example.org"],
         "message_id": "<rally-1@example.com>", "subject": "Hello",
         "body_text": "Hi Bob.\n", "date": DATE}
    d.update(fields)
    return {k: v for k, v in d.items() if v is not None}


def run(d):
    return subprocess.run([str(TOOL)], input=json.dumps(d).encode(),
                          capture_output=True, timeout=30)


def compose(**fields):
    p = run(draft(**fields))
    assert p.returncode == 0, p.stderr.decode()
    check_wire(p.stdout)
    msg = email.message_from_bytes(p.stdout, policy=email.policy.default)
    for part in msg.walk():
        assert not part.defects, part.defects
        for name, value in part.items():
            assert not value.defects, (name, value.defects)
    return msg, p.stdout


def refused(**fields):
    p = run(draft(**fields))
    assert p.returncode == 1 and p.stdout == b""
    return p.stderr.decode().strip()


def check_wire(raw):
    assert all(b < 0x80 for b in raw), "only ASCII on the wire"
    assert raw.endswith(b"\r\n")
    lines = raw.split(b"\r\n")
    assert all(b"\n" not in line and b"\r" not in line for line in lines), "bare CR or LF"
    assert all(len(line) <= 998 for line in lines)
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    assert all(len(line) <= 78 for line in head), [l for l in head if len(l) > 78]


def text(part):
    return part.get_content().replace("\r\n", "\n")


def addresses(msg, name):
    return [(a.display_name, a.addr_spec) for a in msg[name].addresses]


def test_plain_message_parses_back_field_by_field():
    msg, raw = compose(cc=["Carol <carol@example.net>"])
    assert msg["Subject"] == "Hello"
    assert addresses(msg, "From") == [("Rally User", "me@example.com")]
    assert addresses(msg, "To") == [("", "bob@example.org")]
    assert addresses(msg, "Cc") == [("Carol", "carol@example.net")]
    assert msg["Date"].datetime == email.utils.parsedate_to_datetime(
        "Mon, 01 Dec 2025 11:54:24 +0000")
    assert msg["Message-ID"] == "<rally-1@example.com>"
    assert msg["MIME-Version"] == "1.0"
    assert msg.get_content_type() == "text/plain"
    assert msg.get_content_charset() == "utf-8"
    assert msg["Content-Transfer-Encoding"] == "quoted-printable"
    assert text(msg) == "Hi Bob.\n"
    assert msg["In-Reply-To"] is None and msg["References"] is None
    assert not msg.defects


def test_non_ascii_names_and_subjects_are_encoded_words():
    subject = "Grüße aus Köln — 日本語の件名 " + "très long sujet " * 12
    msg, raw = compose(
        subject=subject.strip(),
        **{"from": "Jörg Müller <jorg@example.de>"},
        to=["Müller, Hans <hans@example.de>", "\"Smith, J.\" <j@example.org>",
            "José =?not?= encoded <jose@example.es>", "山田 太郎 <taro@example.jp>"])
    assert msg["Subject"] == subject.strip()
    assert b"=?UTF-8?B?" in raw
    assert addresses(msg, "From") == [("Jörg Müller", "jorg@example.de")]
    assert addresses(msg, "To") == [
        ("Müller, Hans", "hans@example.de"), ("Smith, J.", "j@example.org"),
        ("José =?not?= encoded", "jose@example.es"), ("山田 太郎", "taro@example.jp")]


def test_specials_in_ascii_names_are_quoted():
    names = ['Smith, John', 'O"Brien \\ Co', 'Dr. Who (Time Lord)', 'a:b;c@d']
    msg, raw = compose(to=[f'"{n.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}" <x{i}@example.com>'
                           for i, n in enumerate(names)])
    assert [a[0] for a in addresses(msg, "To")] == names
    assert b'"Smith, John" <x0@example.com>' in raw


def test_long_subject_of_ascii_folds_between_words():
    subject = " ".join("word%d" % i for i in range(60))
    msg, raw = compose(subject=subject)
    assert msg["Subject"] == subject
    assert b"=?" not in raw.split(b"\r\n\r\n")[0]
    assert raw.count(b"\r\n ") >= 4


def test_long_lines_go_quoted_printable_with_soft_breaks():
    body = "x" * 5000 + "\n= trailing space \nend"
    msg, raw = compose(body_text=body)
    assert text(msg) == body
    assert all(len(line) <= 76 for line in raw.split(b"\r\n\r\n", 1)[1].split(b"\r\n"))


def test_mostly_non_ascii_text_goes_base64():
    body = "日本語の本文です。\n" * 40
    msg, raw = compose(body_text=body)
    assert msg["Content-Transfer-Encoding"] == "base64"
    assert text(msg) == body


def test_html_makes_multipart_alternative():
    html = "<p>Hi <b>Bob</b> — ça va ?</p>\n"
    msg, raw = compose(body_html=html)
    assert msg.get_content_type() == "multipart/alternative"
    plain, rich = list(msg.iter_parts())
    assert plain.get_content_type() == "text/plain" and text(plain) == "Hi Bob.\n"
    assert rich.get_content_type() == "text/html" and text(rich) == html


def test_html_alone_is_one_part():
    msg, raw = compose(body_text=None, body_html="<p>only</p>")
    assert msg.get_content_type() == "text/html" and text(msg) == "<p>only</p>"


def test_attachments_make_multipart_mixed_with_rfc2231_names():
    blob = bytes(range(256)) * 300
    names = ["Résumé 2026 — final.pdf", "plain.txt", "n" * 100 + ".bin", "日本.txt"]
    atts = [{"filename": n, "mime_type": "application/octet-stream",
             "data": base64.b64encode(blob[:1000 * (i + 1)]).decode()}
            for i, n in enumerate(names)]
    atts[1]["mime_type"] = "text/plain"
    msg, raw = compose(body_html="<p>x</p>", attachments=atts)
    assert msg.get_content_type() == "multipart/mixed"
    parts = list(msg.iter_parts())
    assert parts[0].get_content_type() == "multipart/alternative"
    assert [p.get_filename() for p in parts[1:]] == names
    assert [p.get_content_type() for p in parts[1:]] == [
        "application/octet-stream", "text/plain", "application/octet-stream",
        "application/octet-stream"]
    for i, p in enumerate(parts[1:]):
        assert p.get_payload(decode=True) == blob[:1000 * (i + 1)]
        assert p.get_content_disposition() == "attachment"
    assert b"filename*0*=UTF-8''R%C3%A9sum%C3%A9" in raw


def test_reply_headers_and_bcc_are_written():
    refs = " ".join("<ref%d.%s@mail.example.com>" % (i, "x" * 20) for i in range(30))
    msg, raw = compose(in_reply_to="<ref29@mail.example.com>", references=refs,
                       bcc=["Hidden <hidden@example.net>"], subject="Re: Hello")
    assert msg["In-Reply-To"] == "<ref29@mail.example.com>"
    assert " ".join(str(msg["References"]).split()) == refs
    assert addresses(msg, "Bcc") == [("Hidden", "hidden@example.net")]


@pytest.mark.parametrize("fields,reason", [
    ({"subject": "Hi\r\nBcc: evil@example.com"}, "header injection in subject"),
    ({"subject": "Hi\nX: y"}, "header injection in subject"),
    ({"to": ["ok@example.com", "x@example.com\nBcc: evil@example.com"]},
     "header injection in to[1]"),
    ({"from": "me@example.com\rX: y"}, "header injection in from"),
    ({"cc": ["Name\r\n <c@example.com>"]}, "header injection in cc[0]"),
    ({"references": "<a@x>\r\nBcc: evil@example.com"}, "header injection in references"),
    ({"in_reply_to": "<a@x>\n"}, "header injection in in_reply_to"),
    ({"message_id": "<a@x>\r\n"}, "header injection in message_id"),
    ({"attachments": [{"filename": "a\r\n.txt", "data": ""}]},
     "header injection in att.filename[0]"),
    ({"to": ["not an address"]}, "bad address in to[0]"),
    ({"to": ["a@example.com, b@example.com"]}, "bad address in to[0]"),
    ({"to": ["ok@example.com", "ok@example.com", "jürgen@example.de"]},
     "bad address in to[2]"),
    ({"bcc": ["<@example.com>"]}, "bad address in bcc[0]"),
    ({"to": ["a@-bad-.com"]}, "bad address in to[0]"),
    ({"from": "nobody"}, "bad address in from"),
    ({"to": [], "cc": [], "bcc": []}, "no recipients"),
    ({"message_id": None}, "no message_id"),
    ({"message_id": "no-brackets@example.com"}, "bad message_id"),
    ({"attachments": [{"mime_type": "text/plain; x=\"y\"", "data": ""}]},
     "bad att.mime_type[0]"),
    ({"to": ["u%d@example.com" % i for i in range(501)]}, "too many recipients"),
])
def test_refused(fields, reason):
    assert refused(**fields) == reason
