# SPDX-License-Identifier: ISC
"""The admin API under /__admin/: JSON in and out, no auth. Tests use it to set up clients and
accounts, act as the user in Google's own UI, seed data, break things on purpose and read what
the emulator received. README.md documents every route."""


from . import clock, seed, settings as settings_mod
from .errors import bad_request, not_found
from .faults import FaultError
from .http import empty_response, json_response
from .mime import b64url_decode
from .oauth_store import normalize_scopes, unknown_scopes, valid_challenge
from .routes import Route

MAX_SEED = 20000


def _json(req):
    return req.json(required=False)


def _account(state, params):
    account = state.account(params["email"])
    if account is None:
        raise not_found("No account %s" % params["email"][:100])
    return account


def _str_list(value, name):
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise bad_request("%s must be a list of strings" % name)
    return value


# -- world ------------------------------------------------------------------------------

def health(state, req, params):
    return json_response({"ok": True})


def reset(state, req, params):
    state.reset()
    return json_response({"ok": True})


def get_settings(state, req, params):
    return json_response(state.settings)


def set_settings(state, req, params):
    try:
        changes = settings_mod.validate(_json(req))
    except settings_mod.SettingsError as exc:
        raise bad_request(str(exc)) from None
    with state.lock:
        state.settings.update(changes)
    return json_response(state.settings)


def advance_clock(state, req, params):
    seconds = _json(req).get("advanceSeconds")
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 <= seconds <= 10 ** 9:
        raise bad_request("advanceSeconds must be a non-negative number")
    clock.advance(seconds)
    return json_response({"offsetSeconds": clock.offset(), "now": clock.rfc3339(clock.now())})


# -- accounts, clients, grants ------------------------------------------------------------

def create_account(state, req, params):
    address = _json(req).get("email")
    if not isinstance(address, str) or "@" not in address or len(address) > 254:
        raise bad_request("email is required")
    account = state.add_account(address)
    return json_response({"email": account.email, "sub": account.sub})


def list_accounts(state, req, params):
    with state.lock:
        return json_response({"accounts": [
            {"email": a.email, "sub": a.sub, "messages": len(a.mailbox.messages),
             "events": len(a.calendar.events), "historyId": str(a.mailbox.history_id)}
            for a in state.accounts.values()]})


def create_client(state, req, params):
    body = _json(req)
    client_id, secret = body.get("client_id"), body.get("client_secret")
    if not isinstance(client_id, str) or not client_id or not isinstance(secret, str):
        raise bad_request("client_id and client_secret are required")
    uris = _str_list(body.get("redirect_uris", []), "redirect_uris")
    with state.lock:
        state.clients[client_id] = {"secret": secret, "redirect_uris": list(uris)}
    return json_response({"client_id": client_id})


def authorize(state, req, params):
    """Issue an authorization code as if the user had clicked Allow."""
    body = _json(req)
    with state.lock:
        client = state.clients.get(body.get("client_id"))
        account = state.account(body.get("email"))
        if client is None or account is None:
            raise not_found("unknown client_id or email")
        redirect_uri = body.get("redirect_uri") or (client["redirect_uris"] or [""])[0]
        if redirect_uri not in client["redirect_uris"]:
            raise bad_request("redirect_uri_mismatch")
        scopes = normalize_scopes(" ".join(_str_list(body.get("scopes", []), "scopes")))
        if not scopes or unknown_scopes(scopes):
            raise bad_request("invalid scopes: %s" % " ".join(unknown_scopes(scopes)))
        challenge = body.get("code_challenge")
        if challenge is not None and not valid_challenge(challenge):
            raise bad_request("code_challenge must be BASE64URL(SHA-256(verifier)) without padding")
        code = state.oauth.issue_code(
            client_id=body["client_id"], sub=account.sub, scopes=scopes, redirect_uri=redirect_uri,
            challenge=challenge, offline=body.get("access_type", "offline") == "offline",
            include_granted=bool(body.get("include_granted_scopes")),
            force_refresh=body.get("prompt") == "consent")
    return json_response({"code": code, "redirect_uri": redirect_uri})


def revoke_grant(state, req, params):
    with state.lock:
        account = _account(state, params)
        count = state.oauth.revoke_account(account.sub, _json(req).get("client_id"))
    return json_response({"revokedRefreshTokens": count})


def expire_access_tokens(state, req, params):
    with state.lock:
        state.oauth.expire_access(_account(state, params).sub)
    return json_response({"ok": True})


def expire_sync_tokens(state, req, params):
    with state.lock:
        _account(state, params).calendar.expire_sync_tokens()
    return json_response({"ok": True})


def expire_history(state, req, params):
    with state.lock:
        mailbox = _account(state, params).mailbox
        mailbox.expire_history()
        return json_response({"historyId": str(mailbox.history_id)})


# -- acting as the user in Google's UI ----------------------------------------------------

def ui_list_events(state, req, params):
    with state.lock:
        cal = _account(state, params).calendar
        return json_response({"items": [e.res for e in cal.events.values()]})


def ui_insert_event(state, req, params):
    with state.lock:
        return json_response(_account(state, params).calendar.insert(_json(req)).res)


def ui_patch_event(state, req, params):
    with state.lock:
        cal = _account(state, params).calendar
        return json_response(cal.replace(params["eventId"], _json(req), patch=True).res)


def ui_delete_event(state, req, params):
    with state.lock:
        _account(state, params).calendar.delete(params["eventId"])
    return empty_response()


def ui_deliver_message(state, req, params):
    body = _json(req)
    if isinstance(body.get("rfc822"), str):
        raw = body["rfc822"].encode("utf-8")
    elif isinstance(body.get("raw"), str):
        try:
            raw = b64url_decode(body["raw"])
        except ValueError:
            raise bad_request("raw must be base64url") from None
    else:
        raise bad_request("raw (base64url) or rfc822 (text) is required")
    labels = _str_list(body.get("labelIds", ["INBOX", "UNREAD"]), "labelIds")
    internal_date = body.get("internalDate")
    if internal_date is not None and not str(internal_date).isdigit():
        raise bad_request("internalDate must be epoch milliseconds")
    with state.lock:
        mailbox = _account(state, params).mailbox
        msg = mailbox.deliver(raw, labels, int(internal_date) if internal_date else None,
                              body.get("threadId"))
        return json_response(dict(msg.ref(), historyId=str(msg.history_id)))


def ui_change_labels(state, req, params):
    body = _json(req)
    with state.lock:
        mailbox = _account(state, params).mailbox
        msg = mailbox.messages.get(params["id"])
        if msg is None:
            raise not_found()
        mailbox.modify(msg, _str_list(body.get("add", []), "add"),
                       _str_list(body.get("remove", []), "remove"), by_hand=False)
        return json_response(dict(msg.ref(), historyId=str(msg.history_id)))


def ui_delete_message(state, req, params):
    with state.lock:
        mailbox = _account(state, params).mailbox
        msg = mailbox.messages.get(params["id"])
        if msg is None:
            raise not_found()
        mailbox.delete(msg)
    return empty_response()


def ui_create_label(state, req, params):
    with state.lock:
        return json_response(_account(state, params).mailbox.create_label(_json(req)))


def seed_account(state, req, params):
    body = _json(req)
    events, messages = body.get("events", 0), body.get("messages", 0)
    for name, value in (("events", events), ("messages", messages)):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SEED:
            raise bad_request("%s must be an integer in [0, %d]" % (name, MAX_SEED))
    base_time = body.get("baseTime", seed.DEFAULT_BASE)
    if isinstance(base_time, bool) or not isinstance(base_time, int):
        raise bad_request("baseTime must be epoch seconds")
    with state.lock:
        account = _account(state, params)
        rng = seed.rng_for(state.seed, body.get("seed", 0), account.email)
        message_ids = seed.seed_messages(account.mailbox, messages, rng, base_time)
        event_ids = seed.seed_events(account.calendar, events, rng, base_time)
    return json_response({"messageIds": message_ids, "eventIds": event_ids})


# -- push, faults, observation --------------------------------------------------------------

def set_pubsub(state, req, params):
    body = _json(req)
    topic, endpoint = body.get("topic"), body.get("pushEndpoint")
    if not isinstance(topic, str) or not isinstance(endpoint, str) or \
            not endpoint.startswith(("http://", "https://")):
        raise bad_request("topic and pushEndpoint (http(s) URL) are required")
    subscription = body.get("subscription") or topic.replace("/topics/", "/subscriptions/") + "-push"
    with state.lock:
        state.pubsub[topic] = {"subscription": subscription, "pushEndpoint": endpoint}
    return json_response(state.pubsub[topic])


def push_log(state, req, params):
    return json_response({"deliveries": list(state.pusher.log) if state.pusher else []})


def add_fault(state, req, params):
    try:
        with state.lock:
            fault = state.faults.add(_json(req))
    except FaultError as exc:
        raise bad_request(str(exc)) from None
    return json_response(fault.describe())


def list_faults(state, req, params):
    with state.lock:
        return json_response({"faults": [f.describe() for f in state.faults.rules]})


def clear_faults(state, req, params):
    with state.lock:
        state.faults.clear()
    return empty_response()


def requests(state, req, params):
    try:
        since = int((req.query.get("since") or ["0"])[0])
    except ValueError:
        raise bad_request("since must be an integer") from None
    with state.lock:
        return json_response({"requests": state.log.since(since), "last": state.log.seq})


def counters(state, req, params):
    with state.lock:
        out = dict(state.log.counters)
        out["quotaRejected"] = state.quota.rejected
        out["projectQuotaRejected"] = state.quota.project_rejected
        out["gmailUnits"] = state.quota.gmail_units
        out["pushDeliveries"] = len(state.pusher.log) if state.pusher else 0
    return json_response(out)


def crash(state, req, params):
    """Exists so tests can prove a handler exception becomes a 500 in Google's shape."""
    raise RuntimeError("deliberate crash requested through /__admin/debug/crash")


def routes_handler(router):
    def handler(state, req, params):
        return json_response({"routes": [r.describe() for r in router.routes]})
    return handler


def _r(method, path, handler):
    return Route(method, path, handler, "admin", root="/__admin/")


_A = "accounts/{email}/"
ROUTES = [
    _r("GET", "health", health),
    _r("POST", "reset", reset),
    _r("GET", "settings", get_settings),
    _r("POST", "settings", set_settings),
    _r("POST", "clock", advance_clock),
    _r("POST", "accounts", create_account),
    _r("GET", "accounts", list_accounts),
    _r("POST", "clients", create_client),
    _r("POST", "authorize", authorize),
    _r("POST", _A + "revoke", revoke_grant),
    _r("POST", _A + "expire-access-tokens", expire_access_tokens),
    _r("POST", _A + "expire-sync-tokens", expire_sync_tokens),
    _r("POST", _A + "expire-history", expire_history),
    _r("GET", _A + "events", ui_list_events),
    _r("POST", _A + "events", ui_insert_event),
    _r("PATCH", _A + "events/{eventId}", ui_patch_event),
    _r("DELETE", _A + "events/{eventId}", ui_delete_event),
    _r("POST", _A + "messages", ui_deliver_message),
    _r("POST", _A + "messages/{id}/labels", ui_change_labels),
    _r("DELETE", _A + "messages/{id}", ui_delete_message),
    _r("POST", _A + "labels", ui_create_label),
    _r("POST", _A + "seed", seed_account),
    _r("POST", "pubsub", set_pubsub),
    _r("GET", "push-log", push_log),
    _r("POST", "faults", add_fault),
    _r("GET", "faults", list_faults),
    _r("DELETE", "faults", clear_faults),
    _r("GET", "requests", requests),
    _r("GET", "counters", counters),
    _r("POST", "debug/crash", crash),
]
