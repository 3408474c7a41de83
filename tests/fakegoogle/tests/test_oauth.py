# SPDX-License-Identifier: ISC
"""OAuth: consent page, codes, PKCE, token grants and errors, revocation, userinfo, bearer
checks on the APIs."""

import html
import re
import urllib.parse

from conftest import CAL, GMAIL, REDIRECT, s256

VERIFIER = "A" * 43 + "-._~"


def _auth_url(**extra):
    params = {"client_id": "rally-client", "redirect_uri": REDIRECT, "response_type": "code",
              "scope": "openid email " + CAL, "access_type": "offline", "state": "xyz",
              "code_challenge": s256(VERIFIER), "code_challenge_method": "S256"}
    params.update(extra)
    return "/o/oauth2/v2/auth?" + urllib.parse.urlencode(params)


def _consent(fg, decision, **extra):
    fg.admin("POST", "accounts", {"email": "alice@example.com"})
    fg.client()
    page = fg.request("GET", _auth_url(**extra))
    assert page.status == 200
    text = page.body.decode()
    session = re.search(r'name="session" value="([^"]+)"', text).group(1)
    resp = fg.form("/o/oauth2/v2/auth/consent", {"session": html.unescape(session),
                                                 "account": "alice@example.com",
                                                 "decision": decision})
    assert resp.status == 302
    return urllib.parse.urlsplit(resp.headers["Location"]), text


def _exchange(fg, code, verifier=VERIFIER, **extra):
    fields = {"grant_type": "authorization_code", "code": code, "client_id": "rally-client",
              "client_secret": "s3cret", "redirect_uri": REDIRECT, "code_verifier": verifier}
    fields.update(extra)
    return fg.form("/token", {k: v for k, v in fields.items() if v is not None})


def test_consent_page_lists_scopes_and_allow_redirects_with_code_and_state(fg):
    location, page = _consent(fg, "allow")
    assert 'id="allow"' in page and 'id="deny"' in page and "<form" in page
    assert "alice@example.com" in page and "View and edit events" in page
    query = urllib.parse.parse_qs(location.query)
    assert location.scheme + "://" + location.netloc + location.path == REDIRECT
    assert query["state"] == ["xyz"] and query["code"][0].startswith("4/")


def test_deny_redirects_with_access_denied(fg):
    location, _ = _consent(fg, "deny")
    assert urllib.parse.parse_qs(location.query) == {"error": ["access_denied"], "state": ["xyz"]}


def test_unregistered_redirect_uri_shows_redirect_uri_mismatch_page(fg):
    fg.client()
    resp = fg.request("GET", _auth_url(redirect_uri="https://evil.test/cb"))
    assert resp.status == 400 and b"redirect_uri_mismatch" in resp.body
    assert "Location" not in resp.headers


def test_unknown_scope_redirects_with_invalid_scope(fg):
    fg.client()
    resp = fg.request("GET", _auth_url(scope="https://www.googleapis.com/auth/nope"))
    assert resp.status == 302 and "error=invalid_scope" in resp.headers["Location"]


def test_code_exchange_checks_pkce_and_is_single_use(fg):
    location, _ = _consent(fg, "allow")
    code = urllib.parse.parse_qs(location.query)["code"][0]
    wrong = _exchange(fg, code, verifier="B" * 43)
    assert wrong.status == 400 and wrong.json()["error"] == "invalid_grant"
    missing = _exchange(fg, code, verifier=None)
    assert missing.status == 400 and missing.json()["error_description"] == "Missing code verifier."
    ok = _exchange(fg, code)
    assert ok.status == 200, ok
    body = ok.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3599
    assert body["refresh_token"] and body["id_token"].count(".") == 2
    assert CAL in body["scope"].split() and "openid" in body["scope"].split()
    again = _exchange(fg, code)
    assert again.status == 400 and again.json()["error"] == "invalid_grant"


def test_code_expires(fg):
    location, _ = _consent(fg, "allow")
    code = urllib.parse.parse_qs(location.query)["code"][0]
    fg.admin("POST", "clock", {"advanceSeconds": 601})
    assert _exchange(fg, code).json()["error"] == "invalid_grant"


def test_redirect_uri_must_match_at_token_endpoint(fg):
    location, _ = _consent(fg, "allow")
    code = urllib.parse.parse_qs(location.query)["code"][0]
    resp = _exchange(fg, code, redirect_uri="https://rally.test/other")
    assert resp.status == 400 and resp.json()["error"] == "redirect_uri_mismatch"


def test_refresh_token_only_on_first_offline_grant(fg):
    first = fg.connect()
    assert "refresh_token" in first
    second = fg.connect()
    assert "refresh_token" not in second
    refreshed = fg.form("/token", {"grant_type": "refresh_token", "client_id": "rally-client",
                                   "client_secret": "s3cret",
                                   "refresh_token": first["refresh_token"]})
    assert refreshed.status == 200
    assert "refresh_token" not in refreshed.json()
    assert refreshed.json()["access_token"] != first["access_token"]


def test_token_endpoint_errors_in_google_shape(fg):
    fg.client()
    bad_client = fg.form("/token", {"grant_type": "refresh_token", "client_id": "nope",
                                    "client_secret": "x", "refresh_token": "r"})
    assert bad_client.status == 401 and bad_client.json()["error"] == "invalid_client"
    bad_secret = fg.form("/token", {"grant_type": "refresh_token", "client_id": "rally-client",
                                    "client_secret": "wrong", "refresh_token": "r"})
    assert bad_secret.status == 401 and bad_secret.json()["error"] == "invalid_client"
    grant = fg.form("/token", {"grant_type": "password", "client_id": "rally-client",
                               "client_secret": "s3cret"})
    assert grant.status == 400 and grant.json()["error"] == "unsupported_grant_type"
    missing = fg.form("/token", {"grant_type": "authorization_code", "client_id": "rally-client",
                                 "client_secret": "s3cret"})
    assert missing.status == 400 and missing.json()["error"] == "invalid_request"
    unknown = fg.form("/token", {"grant_type": "refresh_token", "client_id": "rally-client",
                                 "client_secret": "s3cret", "refresh_token": "1//nope"})
    assert unknown.json() == {"error": "invalid_grant",
                              "error_description": "Token has been expired or revoked."}


def test_client_secret_via_http_basic(fg):
    import base64
    tokens = fg.connect()
    basic = base64.b64encode(b"rally-client:s3cret").decode()
    resp = fg.form("/token", {"grant_type": "refresh_token",
                              "refresh_token": tokens["refresh_token"]},
                   headers={"Authorization": "Basic " + basic})
    assert resp.status == 200


def test_revoking_access_token_revokes_refresh_token(fg):
    tokens = fg.connect()
    assert fg.form("/revoke", {"token": tokens["access_token"]}).status == 200
    assert fg.api("GET", "/gmail/v1/users/me/profile", tokens["access_token"]).status == 401
    refresh = fg.form("/token", {"grant_type": "refresh_token", "client_id": "rally-client",
                                 "client_secret": "s3cret", "refresh_token": tokens["refresh_token"]})
    assert refresh.json()["error"] == "invalid_grant"
    again = fg.form("/revoke", {"token": tokens["access_token"]})
    assert again.status == 400 and again.json()["error"] == "invalid_token"


def test_admin_revoke_grant_makes_next_refresh_invalid_grant(fg):
    tokens = fg.connect()
    fg.admin("POST", "accounts/alice@example.com/revoke", {})
    refresh = fg.form("/token", {"grant_type": "refresh_token", "client_id": "rally-client",
                                 "client_secret": "s3cret", "refresh_token": tokens["refresh_token"]})
    assert refresh.status == 400 and refresh.json()["error"] == "invalid_grant"


def test_access_tokens_expire_with_settable_lifetime(fg):
    fg.admin("POST", "settings", {"accessTokenLifetime": 60})
    tokens = fg.connect()
    assert tokens["expires_in"] == 60
    assert fg.api("GET", "/gmail/v1/users/me/profile", tokens["access_token"]).status == 200
    fg.admin("POST", "clock", {"advanceSeconds": 61})
    resp = fg.api("GET", "/gmail/v1/users/me/profile", tokens["access_token"])
    assert resp.status == 401
    assert resp.json()["error"]["errors"][0]["reason"] == "authError"
    assert resp.json()["error"]["errors"][0]["message"] == "Invalid Credentials"


def test_admin_can_expire_access_tokens(fg):
    token = fg.token()
    fg.admin("POST", "accounts/alice@example.com/expire-access-tokens", {})
    assert fg.api("GET", "/gmail/v1/users/me/profile", token).status == 401


def test_userinfo_returns_sub_email_and_verification(fg):
    token = fg.token()
    sub = fg.admin("POST", "accounts", {"email": "alice@example.com"})["sub"]
    info = fg.api("GET", "/v1/userinfo", token).json()
    assert info == {"sub": sub, "email": "alice@example.com", "email_verified": True}
    assert fg.api("GET", "/v1/userinfo", "bogus").status == 401


def test_missing_or_bad_bearer_token_is_401_auth_error(fg):
    for token in (None, "ya29.bogus"):
        resp = fg.api("GET", "/calendar/v3/calendars/primary/events", token)
        assert resp.status == 401
        assert resp.json()["error"]["errors"][0]["reason"] == "authError"
        assert "WWW-Authenticate" in resp.headers


def test_scopes_are_enforced_with_insufficient_permissions(fg):
    token = fg.token(scopes=(CAL,))
    resp = fg.api("GET", "/gmail/v1/users/me/messages", token)
    assert resp.status == 403
    assert resp.json()["error"]["errors"][0]["reason"] == "insufficientPermissions"
    gmail_only = fg.token(email="bob@example.com", scopes=(GMAIL,))
    delete = fg.api("DELETE", "/gmail/v1/users/me/messages/abc", gmail_only)
    assert delete.status == 403     # messages.delete needs https://mail.google.com/
