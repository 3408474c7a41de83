# SPDX-License-Identifier: ISC
"""Opaque, signed page and sync tokens, and the shared pager that hands out pages.

Pages resume after the last sort key returned (not at an offset), so writes between pages
neither skip nor repeat unchanged items. The admin settings pageShortEvery/pageEmptyEvery make
some pages short or empty while nextPageToken is still set, as Google's are."""

import base64
import bisect
import hashlib
import hmac
import json

from .errors import bad_request


class TokenError(ValueError):
    pass


class Signer:
    """Tokens are base64url(JSON) plus a MAC, so a garbled token is detected, not misread."""

    def __init__(self, secret):
        self._secret = secret

    def encode(self, prefix, payload):
        body = json.dumps(payload, separators=(",", ":")).encode()
        mac = hmac.new(self._secret, prefix.encode() + body, hashlib.sha256).digest()[:9]
        return prefix + base64.urlsafe_b64encode(mac + body).rstrip(b"=").decode()

    def decode(self, prefix, token):
        if not isinstance(token, str) or not token.startswith(prefix) or len(token) > 4096:
            raise TokenError(token)
        try:
            text = token[len(prefix):]
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            mac, body = raw[:9], raw[9:]
            expected = hmac.new(self._secret, prefix.encode() + body, hashlib.sha256).digest()[:9]
            if not hmac.compare_digest(mac, expected):
                raise TokenError(token)
            return json.loads(body)
        except (ValueError, TypeError):
            raise TokenError(token) from None


def fingerprint(query, ignore=("pageToken", "maxResults")):
    """Identifies the listing a page token belongs to."""
    items = sorted((k, v) for k, vs in query.items() if k not in ignore for v in vs)
    return hashlib.sha256(json.dumps(items).encode()).hexdigest()[:16]


class Page:
    def __init__(self, items, next_token, snapshot):
        self.items = items
        self.next_token = next_token
        self.snapshot = snapshot    # e.g. the change-log position the listing started at


def paginate(signer, items, sort_key, max_results, page_token, query, settings, snapshot):
    """One page of `items` (already sorted by `sort_key`)."""
    fp = fingerprint(query)
    number = 1
    after = None
    if page_token:
        try:
            state = signer.decode("P", page_token)
            after, number, snapshot, token_fp = state["a"], int(state["n"]), state["s"], state["f"]
        except (TokenError, KeyError, TypeError, ValueError):
            raise bad_request("Invalid page token.", location="pageToken") from None
        if token_fp != fp:
            raise bad_request("The page token does not belong to this query.", location="pageToken")
    keys = [sort_key(item) for item in items]
    start = 0 if after is None else bisect.bisect_right(keys, tuple(after))
    limit = max_results
    short_every, empty_every = settings["pageShortEvery"], settings["pageEmptyEvery"]
    if empty_every and number % empty_every == 0 and start < len(items):
        limit = 0
    elif short_every and number % short_every == 0:
        limit = max(1, max_results // 2)
    page = items[start:start + limit]
    if start + limit >= len(items):
        return Page(page, None, snapshot)
    last = keys[start + limit - 1] if limit else (tuple(after) if after is not None else None)
    token = signer.encode("P", {"a": last, "n": number + 1, "s": snapshot, "f": fp})
    return Page(page, token, snapshot)
