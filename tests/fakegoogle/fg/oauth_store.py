# SPDX-License-Identifier: ISC
"""OAuth grants: consent sessions, authorization codes, refresh and access tokens.

Follows API.md: codes are single use and expire; a refresh token is issued only on the first
offline grant of a (client, account) pair (or again with prompt=consent); access tokens expire
after the `accessTokenLifetime` setting; revoking an access token revokes its refresh token and
every access token minted from it."""

import base64
import hashlib
import re

from . import clock

SCOPE_ALIASES = {
    "email": "https://www.googleapis.com/auth/userinfo.email",
    "profile": "https://www.googleapis.com/auth/userinfo.profile",
}
_AUTH = "https://www.googleapis.com/auth/"
KNOWN_SCOPES = {
    "openid": "Associate you with your personal info on Google",
    _AUTH + "userinfo.email": "See your primary Google Account email address",
    _AUTH + "userinfo.profile": "See your personal info",
    _AUTH + "calendar": "See, edit, share, and permanently delete all the calendars you can access",
    _AUTH + "calendar.events": "View and edit events on all your calendars",
    _AUTH + "calendar.readonly": "See and download any calendar you can access",
    _AUTH + "calendar.events.readonly": "View events on all your calendars",
    "https://mail.google.com/": "Read, compose, send, and permanently delete all your email",
    _AUTH + "gmail.modify": "Read, compose, and send emails from your Gmail account",
    _AUTH + "gmail.readonly": "View your email messages and settings",
    _AUTH + "gmail.send": "Send email on your behalf",
    _AUTH + "gmail.labels": "See and edit your email labels",
}
_VERIFIER = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")
_CHALLENGE = re.compile(r"^[A-Za-z0-9\-_]{43}$")


def normalize_scopes(scope_text):
    """Space-separated scopes as Google reports them back (aliases expanded, order kept)."""
    out = []
    for scope in scope_text.split():
        scope = SCOPE_ALIASES.get(scope, scope)
        if scope not in out:
            out.append(scope)
    return out


def unknown_scopes(scopes):
    return [s for s in scopes if s not in KNOWN_SCOPES]


def valid_challenge(challenge):
    return bool(_CHALLENGE.match(challenge or ""))


def pkce_s256(verifier):
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class AccessToken:
    def __init__(self, value, client_id, sub, scopes, expires, refresh):
        self.value = value
        self.client_id = client_id
        self.sub = sub
        self.scopes = scopes
        self.expires = expires
        self.refresh = refresh      # the refresh token it was minted from, or None
        self.revoked = False

    def alive(self):
        return not self.revoked and clock.now() < self.expires


class RefreshToken:
    def __init__(self, value, client_id, sub, scopes):
        self.value = value
        self.client_id = client_id
        self.sub = sub
        self.scopes = scopes
        self.revoked = False


class Code:
    def __init__(self, value, client_id, sub, scopes, redirect_uri, challenge, offline,
                 force_refresh, expires):
        self.value = value
        self.client_id = client_id
        self.sub = sub
        self.scopes = scopes
        self.redirect_uri = redirect_uri
        self.challenge = challenge
        self.offline = offline
        self.force_refresh = force_refresh
        self.expires = expires
        self.used = False


class OAuthStore:
    def __init__(self, state):
        self.state = state
        self.consents = {}       # consent session id -> auth request parameters
        self.codes = {}
        self.access = {}
        self.refresh = {}
        self.granted = {}        # (client_id, sub) -> scopes granted so far
        self.live_refresh = {}   # (client_id, sub) -> RefreshToken still valid

    # -- authorization ---------------------------------------------------------------

    def new_consent(self, request):
        session = self.state.ids.urlsafe(32)
        self.consents[session] = dict(request, expires=clock.now() + 600)
        if len(self.consents) > 10000:   # abandoned consent pages must not grow forever
            oldest = next(iter(self.consents))
            del self.consents[oldest]
        return session

    def take_consent(self, session):
        request = self.consents.pop(session or "", None)
        if request is None or request["expires"] < clock.now():
            return None
        return request

    def issue_code(self, client_id, sub, scopes, redirect_uri, challenge, offline,
                   include_granted=False, force_refresh=False):
        key = (client_id, sub)
        if include_granted:
            scopes = list(dict.fromkeys(self.granted.get(key, []) + scopes))
        self.granted[key] = scopes
        value = "4/0A" + self.state.ids.urlsafe(60)
        self.codes[value] = Code(value, client_id, sub, scopes, redirect_uri, challenge, offline,
                                 force_refresh,
                                 clock.now() + self.state.setting("authCodeLifetime"))
        return value

    # -- tokens ----------------------------------------------------------------------

    def mint_access(self, client_id, sub, scopes, refresh):
        value = "ya29.a0" + self.state.ids.urlsafe(100)
        lifetime = self.state.setting("accessTokenLifetime")
        token = AccessToken(value, client_id, sub, scopes, clock.now() + lifetime, refresh)
        self.access[value] = token
        return token

    def mint_refresh(self, client_id, sub, scopes):
        value = "1//0g" + self.state.ids.urlsafe(90)
        token = RefreshToken(value, client_id, sub, scopes)
        self.refresh[value] = token
        self.live_refresh[(client_id, sub)] = token
        return token

    def refresh_for_code(self, code):
        """The refresh token to hand out with this code's exchange, or None (not first grant)."""
        if not code.offline:
            return None
        live = self.live_refresh.get((code.client_id, code.sub))
        if live is not None and not live.revoked and not code.force_refresh:
            # Google returns no new refresh token, but later access tokens hang off the old one.
            return None
        return self.mint_refresh(code.client_id, code.sub, code.scopes)

    def access_info(self, value):
        token = self.access.get(value or "")
        if token is None or not token.alive():
            return None
        return token

    # -- revocation ------------------------------------------------------------------

    def revoke(self, value):
        """Revoke an access or refresh token; False if it is unknown or already revoked."""
        token = self.access.get(value)
        if token is not None:
            if token.revoked:
                return False
            token.revoked = True
            if token.refresh is not None:
                self._revoke_refresh(token.refresh)
            return True
        refresh = self.refresh.get(value)
        if refresh is None or refresh.revoked:
            return False
        self._revoke_refresh(refresh)
        return True

    def _revoke_refresh(self, refresh):
        refresh.revoked = True
        for token in self.access.values():
            if token.refresh is refresh:
                token.revoked = True
        if self.live_refresh.get((refresh.client_id, refresh.sub)) is refresh:
            del self.live_refresh[(refresh.client_id, refresh.sub)]

    def revoke_account(self, sub, client_id=None):
        """Admin: the user removed the app's access (next refresh → invalid_grant)."""
        count = 0
        for refresh in list(self.refresh.values()):
            if refresh.sub == sub and not refresh.revoked and client_id in (None, refresh.client_id):
                self._revoke_refresh(refresh)
                count += 1
        for token in self.access.values():
            if token.sub == sub and client_id in (None, token.client_id):
                token.revoked = True
        for key in [k for k in self.granted if k[1] == sub and client_id in (None, k[0])]:
            del self.granted[key]
        return count

    def expire_access(self, sub):
        """Admin: make the account's access tokens expired (401 until refreshed)."""
        now = clock.now()
        for token in self.access.values():
            if token.sub == sub and token.expires > now:
                token.expires = now
