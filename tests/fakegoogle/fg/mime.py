# SPDX-License-Identifier: ISC
"""Gmail's view of an RFC 5322 message, built from the stored bytes with the `email` package.

Parts are numbered as Gmail numbers them ("" for the top, then "0", "1", "0.1"...). Header
values are RFC 2047-decoded to UTF-8; text bodies are transcoded to UTF-8 while the part's own
Content-Type header keeps its original charset (API.md records this from real responses).
Leaves with a filename, or bigger than the inline threshold, are only reachable through an
attachmentId."""

import base64
import codecs
import email
import email.header
import email.policy
import hashlib
import html
import re

SNIPPET_CHARS = 200
MAX_DEPTH = 20          # nesting deeper than this is treated as an opaque leaf
MAX_PARTS = 500
_FOLD = re.compile(r"\r?\n(?=[ \t])")
_TAGS = re.compile(r"<(script|style)\b.*?</\1\s*>|<[^>]*>", re.S | re.I)
_SPACE = re.compile(r"\s+")


def b64url(data):
    """Gmail's body.data / raw encoding: URL-safe base64 with padding."""
    return base64.urlsafe_b64encode(data).decode("ascii")


def b64url_decode(text):
    """Accepts padded or unpadded URL-safe (and, leniently, standard) base64."""
    if not isinstance(text, str):
        raise ValueError("not a string")
    cleaned = re.sub(r"\s", "", text).replace("+", "-").replace("/", "_").rstrip("=")
    if not re.fullmatch(r"[A-Za-z0-9_-]*", cleaned):
        raise ValueError("invalid base64url")
    return base64.urlsafe_b64decode(cleaned + "=" * (-len(cleaned) % 4))


def parse(raw):
    # compat32 never raises on malformed input; decoding is done by hand below.
    return email.message_from_bytes(raw, policy=email.policy.compat32)


def decode_header_value(value):
    if isinstance(value, email.header.Header):
        value = str(value)
    value = _FOLD.sub("", value)
    # 8-bit bytes in a header arrive as surrogates: read them as UTF-8, as Gmail does.
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    if "=?" not in value:
        return value
    try:
        return str(email.header.make_header(email.header.decode_header(value)))
    except (email.errors.HeaderParseError, LookupError, UnicodeError, ValueError):
        return value


def headers(part):
    return [{"name": name, "value": decode_header_value(value)} for name, value in part.items()]


def header(msg, name, default=""):
    value = msg.get(name)
    return decode_header_value(value) if value is not None else default


def _decode_text(part, data):
    """Text of a part. Undeclared (or us-ascii) 8-bit text is read as UTF-8 when it is valid
    UTF-8, else as windows-1252: what mail clients and Gmail settle on in practice."""
    charset = part.get_content_charset()
    if charset in (None, "us-ascii", "ascii"):
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return data.decode("windows-1252", "replace")
    try:
        codec = codecs.lookup(charset).name
    except LookupError:
        codec = "windows-1252"
    return data.decode(codec, "replace")


def _leaf_bytes(part):
    """Decoded content of a leaf; text is transcoded to UTF-8."""
    if part.get_content_type() == "message/rfc822" or part.is_multipart():
        inner = part.get_payload()
        if isinstance(inner, list):
            return b"".join(p.as_bytes() for p in inner), False
    data = part.get_payload(decode=True)
    if data is None:
        data = b""
    if part.get_content_maintype() == "text":
        return _decode_text(part, data).encode("utf-8"), True
    return data, False


class Rendered:
    """Everything about a message that does not depend on its labels, computed once."""

    def __init__(self, message_id, raw, inline_max):
        self.message_id = message_id
        self.inline_max = inline_max
        self.attachments = {}       # attachmentId -> bytes
        self._count = 0
        self._plain, self._html = None, None
        msg = parse(raw)
        self.headers = headers(msg)
        self.mime_type = msg.get_content_type()
        self.payload = self._part(msg, "", 0)
        self.snippet = make_snippet(self._plain if self._plain is not None else _strip_html(self._html or ""))
        self.has_attachment = any(True for _ in self.attachments)

    def _part(self, part, part_id, depth):
        self._count += 1
        out = {"partId": part_id, "mimeType": part.get_content_type(),
               "filename": _filename(part), "headers": headers(part)}
        children = part.get_payload() if part.is_multipart() else None
        if (isinstance(children, list) and part.get_content_maintype() == "multipart"
                and depth < MAX_DEPTH and self._count < MAX_PARTS):
            out["body"] = {"size": 0}
            prefix = part_id + "." if part_id else ""
            out["parts"] = [self._part(child, prefix + str(i), depth + 1)
                            for i, child in enumerate(children)]
            return out
        data, is_text = _leaf_bytes(part)
        if out["filename"] or len(data) > self.inline_max:
            attachment_id = self._attachment_id(part_id)
            self.attachments[attachment_id] = data
            out["body"] = {"attachmentId": attachment_id, "size": len(data)}
        else:
            out["body"] = {"size": len(data), "data": b64url(data)} if data else {"size": 0}
        if is_text and not out["filename"]:
            text = data.decode("utf-8", "replace")
            if part.get_content_subtype() == "plain" and self._plain is None:
                self._plain = text
            elif part.get_content_subtype() == "html" and self._html is None:
                self._html = text
        return out

    def _attachment_id(self, part_id):
        digest = hashlib.sha256(("%s/%s" % (self.message_id, part_id)).encode()).digest()
        return "ANGjdJ" + base64.urlsafe_b64encode(digest * 3).decode().rstrip("=")

    def metadata_headers(self, wanted):
        if not wanted:
            return self.headers
        names = {w.lower() for w in wanted}
        return [h for h in self.headers if h["name"].lower() in names]


def _filename(part):
    name = part.get_filename()
    if not name:
        return ""
    return decode_header_value(name)


def _strip_html(text):
    return html.unescape(_TAGS.sub(" ", text))


def make_snippet(text):
    text = _SPACE.sub(" ", text).strip()[:SNIPPET_CHARS]
    # Gmail sends snippets HTML-escaped, with &#39; for the apostrophe.
    return html.escape(text, quote=True).replace("&#x27;", "&#39;")
