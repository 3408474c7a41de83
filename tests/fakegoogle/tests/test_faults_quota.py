# SPDX-License-Identifier: ISC
"""Fault injection, quota, and the request log the admin API exposes."""

import http.client
import ssl
import time

import pytest

U = "/gmail/v1/users/me"
EVENTS = "/calendar/v3/calendars/primary/events"


def test_next_n_requests_fail_with_status_and_retry_after(fg):
    token = fg.token()
    fg.admin("POST", "faults", {"kind": "429", "count": 2, "pathPrefix": "/gmail/", "retryAfter": 7})
    for _ in range(2):
        resp = fg.api("GET", U + "/profile", token)
        assert resp.status == 429 and resp.headers["Retry-After"] == "7"
        assert resp.json()["error"]["errors"][0]["reason"] == "rateLimitExceeded"
    assert fg.api("GET", U + "/profile", token).status == 200


@pytest.mark.parametrize("kind", ["500", "503"])
def test_server_errors(fg, kind):
    token = fg.token()
    fg.admin("POST", "faults", {"kind": kind})
    resp = fg.api("GET", EVENTS, token)
    assert resp.status == int(kind)
    assert resp.json()["error"]["errors"][0]["reason"] == "backendError"


def test_path_prefix_filters_faults(fg):
    token = fg.token()
    fg.admin("POST", "faults", {"kind": "500", "count": 1, "pathPrefix": "/calendar/"})
    assert fg.api("GET", U + "/profile", token).status == 200
    assert fg.api("GET", EVENTS, token).status == 500


def test_latency(fg):
    token = fg.token()
    fg.admin("POST", "faults", {"kind": "latency", "latencyMs": 400})
    started = time.monotonic()
    assert fg.api("GET", U + "/profile", token).status == 200
    assert time.monotonic() - started >= 0.4


def test_connection_reset(fg):
    fg.admin("POST", "faults", {"kind": "reset"})
    conn = http.client.HTTPSConnection("127.0.0.1", fg.port, context=fg.ssl, timeout=5)
    with pytest.raises((ConnectionError, http.client.RemoteDisconnected, ssl.SSLError)):
        conn.request("GET", U + "/profile")
        conn.getresponse().read()
    assert fg.request("GET", "/__admin/health").status == 200


def test_truncated_body(fg):
    token = fg.token()
    fg.admin("POST", "faults", {"kind": "truncate"})
    conn = http.client.HTTPSConnection("127.0.0.1", fg.port, context=fg.ssl, timeout=5)
    conn.request("GET", U + "/labels", headers={"Authorization": "Bearer " + token})
    resp = conn.getresponse()
    assert resp.status == 200
    with pytest.raises((http.client.IncompleteRead, ssl.SSLError, ConnectionError)):
        resp.read()


def test_garbage_body(fg):
    token = fg.token()
    fg.admin("POST", "faults", {"kind": "garbage", "status": 502})
    resp = fg.api("GET", U + "/profile", token)
    assert resp.status == 502
    with pytest.raises(ValueError):
        resp.json()


def test_probability_faults_are_reproducible_and_bounded(fg):
    token = fg.token()
    fg.admin("POST", "faults", {"kind": "503", "probability": 0.5, "pathPrefix": "/gmail/"})
    statuses = [fg.api("GET", U + "/profile", token).status for _ in range(40)]
    assert 5 < statuses.count(503) < 35 and statuses.count(200) + statuses.count(503) == 40
    listed = fg.admin("GET", "faults")["faults"]
    assert listed[0]["fired"] == statuses.count(503)
    fg.admin("DELETE", "faults")
    assert fg.api("GET", U + "/profile", token).status == 200


def test_bad_fault_specs_are_400(fg):
    for spec in ({"kind": "explode"}, {"kind": "429", "probability": 2},
                 {"kind": "latency", "latencyMs": "slow"}):
        assert fg.request("POST", "/__admin/faults", spec).status == 400


def test_gmail_quota_is_429_with_retry_after(fg):
    token = fg.token()
    fg.admin("POST", "settings", {"gmailUnitsPerMinute": 12})
    assert fg.api("GET", U + "/messages", token).status == 200           # 5 units
    assert fg.api("GET", U + "/history", token,
                  params={"startHistoryId": "1000"}).status == 200       # 2 units
    assert fg.api("GET", U + "/messages", token).status == 200           # 5 units: 12
    resp = fg.api("GET", U + "/profile", token)                         # 1 more: over
    assert resp.status == 429
    assert 1 <= int(resp.headers["Retry-After"]) <= 60
    error = resp.json()["error"]
    assert error["errors"][0] == {"domain": "usageLimits", "reason": "rateLimitExceeded",
                                  "message": "User-rate limit exceeded."}
    assert fg.admin("GET", "counters")["quotaRejected"] == 1


def test_send_costs_100_units(fg):
    import base64
    token = fg.token()
    fg.admin("POST", "settings", {"gmailUnitsPerSecond": 150})
    raw = base64.urlsafe_b64encode(b"To: x@example.com\r\nSubject: s\r\n\r\nb").decode()
    assert fg.api("POST", U + "/messages/send", token, {"raw": raw}).status == 200
    assert fg.api("POST", U + "/messages/send", token, {"raw": raw}).status in (200, 429)


def test_calendar_quota_is_403_rate_limit_exceeded(fg):
    token = fg.token()
    fg.admin("POST", "settings", {"calendarRequestsPerMinute": 2})
    assert fg.api("GET", EVENTS, token).status == 200
    assert fg.api("GET", EVENTS, token).status == 200
    resp = fg.api("GET", EVENTS, token)
    assert resp.status == 403 and "Retry-After" in resp.headers
    assert resp.json()["error"]["errors"][0]["reason"] == "rateLimitExceeded"
    assert resp.json()["error"]["errors"][0]["domain"] == "usageLimits"


def test_quota_is_per_user(fg):
    alice = fg.token()
    bob = fg.token(email="bob@example.com")
    fg.admin("POST", "settings", {"gmailUnitsPerMinute": 1})
    assert fg.api("GET", U + "/profile", alice).status == 200
    assert fg.api("GET", U + "/profile", alice).status == 429
    assert fg.api("GET", U + "/profile", bob).status == 200


def test_gmail_project_quota_is_shared_by_users_and_answers_403(fg):
    alice = fg.token()
    bob = fg.token(email="bob@example.com")
    fg.admin("POST", "settings", {"gmailProjectUnitsPerMinute": 2})
    before = fg.admin("GET", "counters")
    assert fg.api("GET", U + "/profile", alice).status == 200            # 1 unit
    assert fg.api("GET", U + "/profile", bob).status == 200              # 2: the limit
    resp = fg.api("GET", U + "/profile", bob)
    assert resp.status == 403 and 1 <= int(resp.headers["Retry-After"]) <= 60
    assert resp.json()["error"]["errors"][0] == {
        "domain": "usageLimits", "reason": "rateLimitExceeded", "message": "Rate Limit Exceeded"}
    after = fg.admin("GET", "counters")
    assert after["projectQuotaRejected"] - before["projectQuotaRejected"] == 1
    assert after["gmailUnits"] - before["gmailUnits"] == 2


def test_request_log_never_contains_credentials(fg):
    token = fg.token()
    fg.api("GET", U + "/profile", token)
    fg.request("GET", U + "/profile?access_token=" + token)
    log = fg.admin("GET", "requests")
    text = str(log)
    assert token not in text and "Bearer" not in text
    entry = [e for e in log["requests"] if e["path"] == U + "/profile"]
    assert entry[0]["method"] == "GET" and entry[0]["status"] == 200
    assert entry[1]["query"] == {"access_token": ["***"]}
    assert entry[0]["route"] == "gmail.users.getProfile"
    later = fg.admin("GET", "requests?since=%d" % log["last"])["requests"]
    assert [e["path"] for e in later] == []
    counters = fg.admin("GET", "counters")
    assert counters["route.gmail.users.getProfile"] == 2 and counters["status.200"] >= 2


def test_settings_are_validated(fg):
    assert fg.request("POST", "/__admin/settings", {"nope": 1}).status == 400
    assert fg.request("POST", "/__admin/settings", {"pageEmptyEvery": 1}).status == 400
    assert fg.request("POST", "/__admin/settings", {"accessTokenLifetime": "x"}).status == 400
    assert fg.admin("POST", "settings", {"accessTokenLifetime": 5})["accessTokenLifetime"] == 5


def test_cut_and_rewrite_spoil_the_json_of_a_whole_answer(fg):
    token = fg.token()
    whole = fg.api("GET", U + "/profile", token).body
    fg.admin("POST", "faults", {"kind": "cut"})
    resp = fg.api("GET", U + "/profile", token)
    assert resp.status == 200 and resp.body == whole[:len(whole) // 2]
    fg.admin("POST", "faults", {"kind": "rewrite", "find": "{", "replace": "[{"})
    resp = fg.api("GET", U + "/profile", token)
    assert resp.body == whole.replace(b"{", b"[{")
