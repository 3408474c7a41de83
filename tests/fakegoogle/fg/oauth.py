# SPDX-License-Identifier: ISC
"""OAuth 2.0 endpoints: the consent page, token exchange, revocation and userinfo.

Paths as at Google (accounts.google.com, oauth2.googleapis.com, openidconnect.googleapis.com
all collapse onto the emulator's one origin). The consent page is a real HTML form so a
browser test can click Allow or Deny."""

import base64
import hashlib
import hmac
import html
import json
import urllib.parse

from . import clock
from .errors import OAuthError
from .http import html_response, json_response, redirect
from .oauth_store import (KNOWN_SCOPES, normalize_scopes, pkce_s256, unknown_scopes,
                          valid_challenge)
from .routes import Route

AUTH_PATH = "o/oauth2/v2/auth"
_VERIFIER_CHARS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


# -- authorization endpoint -------------------------------------------------------------

def auth_page(state, req, _params):
    q = {k: v[0] for k, v in req.query.items()}
    with state.lock:
        client = state.clients.get(q.get("client_id", ""))
        if client is None:
            return _error_page(401, "invalid_client", "The OAuth client was not found.")
        redirect_uri = q.get("redirect_uri", "")
        if redirect_uri not in client["redirect_uris"]:
            return _error_page(400, "redirect_uri_mismatch",
                               "You can't sign in to this app because it doesn't comply with "
                               "Google's OAuth 2.0 policy. redirect_uri=%s" % redirect_uri)
        problem = _auth_request_problem(q)
        if problem:
            return redirect(_with_query(redirect_uri, {"error": problem[0],
                                                       "error_description": problem[1],
                                                       "state": q.get("state")}))
        accounts = _choosable_accounts(state, q.get("login_hint"))
        session = state.oauth.new_consent(q)
    return html_response(_consent_html(q, accounts, session))


def _auth_request_problem(q):
    if q.get("response_type") != "code":
        return ("unsupported_response_type", "response_type must be code")
    scopes = normalize_scopes(q.get("scope", ""))
    if not scopes:
        return ("invalid_request", "Missing required parameter: scope")
    bad = unknown_scopes(scopes)
    if bad:
        return ("invalid_scope", "Some requested scopes were invalid: %s" % " ".join(bad))
    challenge = q.get("code_challenge")
    if challenge is not None:
        if q.get("code_challenge_method", "plain") != "S256":
            return ("invalid_request", "code_challenge_method must be S256")
        if not valid_challenge(challenge):
            return ("invalid_request", "Invalid code_challenge")
    return None


def _choosable_accounts(state, hint):
    account = state.account(hint) if hint else None
    if account is not None:
        return [account]
    return sorted(state.accounts.values(), key=lambda a: a.email)


def _consent_html(q, accounts, session):
    e = html.escape
    scopes = normalize_scopes(q.get("scope", ""))
    rows = "".join('<li data-scope="%s">%s</li>' % (e(s), e(KNOWN_SCOPES[s])) for s in scopes)
    if accounts:
        choices = "".join(
            '<label><input type="radio" name="account" value="%s"%s> %s</label><br>'
            % (e(a.email), " checked" if i == 0 else "", e(a.email))
            for i, a in enumerate(accounts))
    else:
        choices = "<p>No accounts exist on this emulator; create one with POST /__admin/accounts.</p>"
    return """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in - Google Accounts</title></head>
<body>
<h1>Choose an account</h1>
<p>to continue to <b id="client">%s</b></p>
<form id="consent" method="post" action="/%s/consent">
<input type="hidden" name="session" value="%s">
<div id="accounts">%s</div>
<h2>This app wants to</h2>
<ul id="scopes">%s</ul>
<button type="submit" id="deny" name="decision" value="deny">Deny</button>
<button type="submit" id="allow" name="decision" value="allow">Allow</button>
</form>
</body></html>
""" % (e(q.get("client_id", "")), AUTH_PATH, e(session), choices, rows)


def _error_page(status, error, detail):
    e = html.escape
    return html_response("""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Error 400 (OAuth 2.0 policy)</title></head>
<body><h1>Access blocked: authorization error</h1>
<p id="error">Error %d: <code>%s</code></p><p id="detail">%s</p></body></html>
""" % (status, e(error), e(detail)), status)


def consent_submit(state, req, _params):
    form = req.form()
    with state.lock:
        q = state.oauth.take_consent(form.get("session"))
        if q is None:
            return _error_page(400, "invalid_request", "The consent session expired or was used.")
        target = q["redirect_uri"]
        if form.get("decision") != "allow":
            return redirect(_with_query(target, {"error": "access_denied", "state": q.get("state")}))
        account = state.account(form.get("account"))
        if account is None:
            return _error_page(400, "invalid_request", "Choose an account.")
        code = state.oauth.issue_code(
            q["client_id"], account.sub, normalize_scopes(q["scope"]), target,
            q.get("code_challenge"), q.get("access_type") == "offline",
            include_granted=q.get("include_granted_scopes") == "true",
            force_refresh="consent" in q.get("prompt", "").split())
    return redirect(_with_query(target, {"code": code, "scope": " ".join(
        normalize_scopes(q["scope"])), "state": q.get("state")}))


def _with_query(uri, params):
    params = {k: v for k, v in params.items() if v is not None}
    sep = "&" if urllib.parse.urlsplit(uri).query else "?"
    return uri + sep + urllib.parse.urlencode(params)


# -- token endpoint ---------------------------------------------------------------------

def token(state, req, _params):
    form = req.form()
    try:
        with state.lock:
            client_id, client = _client_auth(state, req, form)
            grant = form.get("grant_type")
            if not grant:
                raise OAuthError(400, "invalid_request", "Missing required parameter: grant_type")
            if grant == "authorization_code":
                body = _exchange_code(state, client_id, client, form)
            elif grant == "refresh_token":
                body = _refresh(state, client_id, form)
            else:
                raise OAuthError(400, "unsupported_grant_type", "Invalid grant_type: %s" % grant[:64])
    except OAuthError as err:
        return json_response(err.body(), err.code)
    return json_response(body, headers={"Cache-Control": "no-cache, no-store, max-age=0"})


def _client_auth(state, req, form):
    """client_id/client_secret from the form or HTTP Basic, as Google accepts both."""
    client_id, secret = form.get("client_id"), form.get("client_secret")
    basic = req.header("authorization", "")
    if basic.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(basic[6:].strip()).decode("utf-8")
            user, _, password = decoded.partition(":")
            client_id = urllib.parse.unquote(user)
            secret = urllib.parse.unquote(password)
        except (ValueError, UnicodeDecodeError):
            raise OAuthError(401, "invalid_client", "Unauthorized") from None
    if not client_id:
        raise OAuthError(400, "invalid_request", "Could not determine client ID from request.")
    client = state.clients.get(client_id)
    if client is None:
        raise OAuthError(401, "invalid_client", "The OAuth client was not found.")
    if not hmac.compare_digest((secret or "").encode(), client["secret"].encode()):
        raise OAuthError(401, "invalid_client", "Unauthorized")
    return client_id, client


def _exchange_code(state, client_id, client, form):
    value = form.get("code")
    if not value:
        raise OAuthError(400, "invalid_request", "Missing required parameter: code")
    code = state.oauth.codes.get(value)
    if code is None or code.used or code.expires < clock.now():
        raise OAuthError(400, "invalid_grant", "Malformed auth code." if code is None else "Bad Request")
    if code.client_id != client_id:
        raise OAuthError(400, "invalid_grant", "Unauthorized")
    if form.get("redirect_uri") != code.redirect_uri:
        raise OAuthError(400, "redirect_uri_mismatch", "Bad Request")
    _check_verifier(code, form.get("code_verifier"))
    code.used = True
    refresh = state.oauth.refresh_for_code(code)
    parent = refresh or (state.oauth.live_refresh.get((client_id, code.sub)) if code.offline else None)
    access = state.oauth.mint_access(client_id, code.sub, code.scopes, parent)
    body = _token_body(state, access, client)
    if refresh is not None:
        body["refresh_token"] = refresh.value
    return body


def _check_verifier(code, verifier):
    if code.challenge is None:
        return
    if not verifier:
        raise OAuthError(400, "invalid_grant", "Missing code verifier.")
    if not 43 <= len(verifier) <= 128 or not set(verifier) <= _VERIFIER_CHARS:
        raise OAuthError(400, "invalid_grant", "Invalid code verifier.")
    if not hmac.compare_digest(pkce_s256(verifier), code.challenge):
        raise OAuthError(400, "invalid_grant", "Invalid code verifier.")


def _refresh(state, client_id, form):
    value = form.get("refresh_token")
    if not value:
        raise OAuthError(400, "invalid_request", "Missing required parameter: refresh_token")
    refresh = state.oauth.refresh.get(value)
    if refresh is None or refresh.revoked:
        raise OAuthError(400, "invalid_grant", "Token has been expired or revoked.")
    if refresh.client_id != client_id:
        raise OAuthError(400, "unauthorized_client", "Unauthorized")
    access = state.oauth.mint_access(client_id, refresh.sub, refresh.scopes, refresh)
    return _token_body(state, access, state.clients[client_id])


def _token_body(state, access, client):
    body = {"access_token": access.value,
            "expires_in": int(state.setting("accessTokenLifetime")),
            "scope": " ".join(access.scopes), "token_type": "Bearer"}
    if "openid" in access.scopes or any(s.endswith("userinfo.email") for s in access.scopes):
        body["id_token"] = _id_token(state, access, client)
    return body


def _id_token(state, access, client):
    """A JWT with Google's claims. Signed HS256 with the client secret, not RS256: the
    emulator has no RSA in the standard library. Rally reads the claims, it does not verify."""
    account = state.accounts_by_sub[access.sub]
    now = int(clock.now())
    claims = {"iss": "https://accounts.google.com", "azp": access.client_id,
              "aud": access.client_id, "sub": account.sub, "iat": now, "exp": now + 3600}
    if any(s.endswith("userinfo.email") for s in access.scopes):
        claims.update(email=account.email, email_verified=True)
    segments = [_b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()),
                _b64(json.dumps(claims).encode())]
    signing_input = ".".join(segments).encode()
    segments.append(_b64(hmac.new(client["secret"].encode(), signing_input, hashlib.sha256).digest()))
    return ".".join(segments)


def _b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


# -- revoke and userinfo ----------------------------------------------------------------

def revoke(state, req, _params):
    value = req.form().get("token") or (req.query.get("token") or [None])[0]
    with state.lock:
        ok = bool(value) and state.oauth.revoke(value)
    if not ok:
        return json_response({"error": "invalid_token", "error_description": "Token expired or revoked"}, 400)
    return json_response({})


def userinfo(state, req, _params):
    auth = req.header("authorization", "")
    value = auth[7:].strip() if auth.lower().startswith("bearer ") else None
    with state.lock:
        access = state.oauth.access_info(value)
        if access is None:
            return json_response({"error": "invalid_request",
                                  "error_description": "Invalid Credentials"}, 401,
                                 {"WWW-Authenticate": 'Bearer error="invalid_token"'})
        account = state.accounts_by_sub[access.sub]
        body = {"sub": account.sub}
        if any(s.endswith("userinfo.email") for s in access.scopes):
            body.update(email=account.email, email_verified=True)
    return json_response(body)


ROUTES = [
    Route("GET", AUTH_PATH, auth_page, "oauth"),
    Route("POST", AUTH_PATH + "/consent", consent_submit, "oauth"),
    Route("POST", "token", token, "oauth"),
    Route("POST", "revoke", revoke, "oauth"),
    Route("GET", "v1/userinfo", userinfo, "oauth"),
    Route("GET", "oauth2/v3/userinfo", userinfo, "oauth"),
]
