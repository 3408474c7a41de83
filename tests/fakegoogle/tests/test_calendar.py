# SPDX-License-Identifier: ISC
"""Calendar v3 events: CRUD, ids, etags, sync tokens, pagination, recurrence, extended
properties, and watch channels."""

EVENTS = "/calendar/v3/calendars/primary/events"
FULL_SYNC_BODY = {"error": {"errors": [{"domain": "calendar", "reason": "fullSyncRequired",
                                        "message": "Sync token is no longer valid, a full sync is required.",
                                        "locationType": "parameter", "location": "syncToken"}],
                            "code": 410,
                            "message": "Sync token is no longer valid, a full sync is required."}}


def _event(summary="Meeting", day="2024-06-03", **extra):
    body = {"summary": summary,
            "start": {"dateTime": day + "T09:00:00+02:00", "timeZone": "Europe/Paris"},
            "end": {"dateTime": day + "T10:00:00+02:00", "timeZone": "Europe/Paris"}}
    body.update(extra)
    return body


def _list_all(fg, token, **params):
    """Follow nextPageToken to the end; returns (items, nextSyncToken, page sizes)."""
    items, sizes, page_token = [], [], None
    while True:
        query = dict(params)
        if page_token:
            query["pageToken"] = page_token
        resp = fg.api("GET", EVENTS, token, params=query)
        assert resp.status == 200, resp
        body = resp.json()
        assert ("nextPageToken" in body) != ("nextSyncToken" in body)
        items += body["items"]
        sizes.append(len(body["items"]))
        page_token = body.get("nextPageToken")
        if not page_token:
            return items, body["nextSyncToken"], sizes


def test_insert_get_update_patch_delete_roundtrip(fg):
    token = fg.token()
    created = fg.api("POST", EVENTS, token, _event(attendees=[{"email": "bob@example.com"}]))
    assert created.status == 200, created
    event = created.json()
    assert event["kind"] == "calendar#event" and event["status"] == "confirmed"
    assert event["attendees"][0]["responseStatus"] == "needsAction"
    assert event["organizer"]["email"] == "alice@example.com"
    got = fg.api("GET", EVENTS + "/" + event["id"], token).json()
    assert got == event
    put = fg.api("PUT", EVENTS + "/" + event["id"], token, _event("Renamed")).json()
    assert put["summary"] == "Renamed" and "attendees" not in put
    patched = fg.api("PATCH", EVENTS + "/" + event["id"], token, {"location": "Room 1"}).json()
    assert patched["summary"] == "Renamed" and patched["location"] == "Room 1"
    assert len({event["etag"], put["etag"], patched["etag"]}) == 3
    deleted = fg.api("DELETE", EVENTS + "/" + event["id"], token)
    assert deleted.status == 204 and deleted.body == b""
    again = fg.api("DELETE", EVENTS + "/" + event["id"], token)
    assert again.status == 410 and again.json()["error"]["errors"][0]["reason"] == "deleted"
    assert fg.api("GET", EVENTS + "/nosuchevent1", token).status == 404


def test_calendar_id_may_be_primary_or_own_email(fg):
    token = fg.token()
    assert fg.api("GET", "/calendar/v3/calendars/alice%40example.com/events", token).status == 200
    assert fg.api("GET", "/calendar/v3/calendars/other%40example.com/events", token).status == 404


def test_client_chosen_ids_are_validated_and_duplicates_409(fg):
    token = fg.token()
    assert fg.api("POST", EVENTS, token, _event(id="evt0001abc")).json()["id"] == "evt0001abc"
    dup = fg.api("POST", EVENTS, token, _event(id="evt0001abc"))
    assert dup.status == 409
    assert dup.json()["error"]["errors"][0]["reason"] == "duplicate"
    assert dup.json()["error"]["message"] == "The requested identifier already exists."
    for bad in ("abc", "UPPERCASE1", "has-dash-1", "wxyz12345"):
        assert fg.api("POST", EVENTS, token, _event(id=bad)).status == 400, bad


def test_if_match_mismatch_is_412_condition_not_met(fg):
    token = fg.token()
    event = fg.api("POST", EVENTS, token, _event()).json()
    stale = fg.api("PATCH", EVENTS + "/" + event["id"], token, {"summary": "x"},
                   headers={"If-Match": '"123"'})
    assert stale.status == 412
    assert stale.json()["error"]["errors"][0]["reason"] == "conditionNotMet"
    fresh = fg.api("PATCH", EVENTS + "/" + event["id"], token, {"summary": "x"},
                   headers={"If-Match": event["etag"]})
    assert fresh.status == 200
    assert fg.api("DELETE", EVENTS + "/" + event["id"], token,
                  headers={"If-Match": event["etag"]}).status == 412


def test_validation_errors_are_400(fg):
    token = fg.token()
    assert fg.api("POST", EVENTS, token, {"summary": "no times"}).status == 400
    backwards = _event()
    backwards["end"]["dateTime"] = "2024-06-03T08:00:00+02:00"
    assert fg.api("POST", EVENTS, token, backwards).status == 400
    mixed = {"start": {"date": "2024-06-03"}, "end": {"dateTime": "2024-06-03T10:00:00Z"}}
    assert fg.api("POST", EVENTS, token, mixed).status == 400
    assert fg.api("POST", EVENTS, token, _event(recurrence=["RRULE:FREQ=HOURLY"])).status == 400


def test_incremental_sync_returns_changes_and_cancellations(fg):
    token = fg.token()
    keep = fg.api("POST", EVENTS, token, _event("keep")).json()
    gone = fg.api("POST", EVENTS, token, _event("gone")).json()
    items, sync, _ = _list_all(fg, token)
    assert {i["id"] for i in items} == {keep["id"], gone["id"]}
    empty = fg.api("GET", EVENTS, token, params={"syncToken": sync}).json()
    assert empty["items"] == [] and "nextSyncToken" in empty
    fg.api("PATCH", EVENTS + "/" + keep["id"], token, {"summary": "kept"})
    fg.api("DELETE", EVENTS + "/" + gone["id"], token)
    fg.admin("POST", "accounts/alice@example.com/events", _event("from the UI"))
    changes = fg.api("GET", EVENTS, token, params={"syncToken": empty["nextSyncToken"]}).json()
    by_id = {i["id"]: i for i in changes["items"]}
    assert by_id[keep["id"]]["summary"] == "kept"
    assert by_id[gone["id"]] == {"kind": "calendar#event", "etag": by_id[gone["id"]]["etag"],
                                 "id": gone["id"], "status": "cancelled"}
    assert any(i.get("summary") == "from the UI" for i in changes["items"])
    full = fg.api("GET", EVENTS, token).json()
    assert gone["id"] not in {i["id"] for i in full["items"]}
    shown = fg.api("GET", EVENTS, token, params={"showDeleted": "true"}).json()
    assert gone["id"] in {i["id"] for i in shown["items"]}


def test_expired_or_garbled_sync_token_is_410_with_googles_body(fg):
    token = fg.token()
    fg.api("POST", EVENTS, token, _event())
    _, sync, _ = _list_all(fg, token)
    garbled = fg.api("GET", EVENTS, token, params={"syncToken": "CPjunk"})
    assert garbled.status == 410 and garbled.json() == FULL_SYNC_BODY
    fg.admin("POST", "accounts/alice@example.com/expire-sync-tokens", {})
    expired = fg.api("GET", EVENTS, token, params={"syncToken": sync})
    assert expired.status == 410 and expired.json() == FULL_SYNC_BODY
    _, fresh, _ = _list_all(fg, token)
    assert fg.api("GET", EVENTS, token, params={"syncToken": fresh}).status == 200


def test_params_not_allowed_with_sync_token_are_400(fg):
    token = fg.token()
    _, sync, _ = _list_all(fg, token)
    for name, value in (("timeMin", "2024-01-01T00:00:00Z"), ("q", "x"), ("orderBy", "updated"),
                        ("updatedMin", "2024-01-01T00:00:00Z"), ("iCalUID", "x"),
                        ("privateExtendedProperty", "a=b")):
        resp = fg.api("GET", EVENTS, token, params={"syncToken": sync, name: value})
        assert resp.status == 400, name


def test_pagination_with_short_and_empty_pages(fg):
    token = fg.token()
    fg.admin("POST", "accounts/alice@example.com/seed", {"events": 40})
    fg.admin("POST", "settings", {"pageShortEvery": 3, "pageEmptyEvery": 4})
    items, _, sizes = _list_all(fg, token, maxResults=5)
    stored = fg.admin("GET", "accounts/alice@example.com/events")["items"]
    live = [e for e in stored if e["status"] != "cancelled" and "recurringEventId" not in e]
    assert len(items) == len({i["id"] for i in items})
    assert {i["id"] for i in items} >= {e["id"] for e in live}
    assert 0 in sizes[:-1] and 2 in sizes[:-1], sizes


def test_max_results_bounds(fg):
    token = fg.token()
    assert fg.api("GET", EVENTS, token, params={"maxResults": "0"}).status == 400
    assert fg.api("GET", EVENTS, token, params={"maxResults": "99999"}).status == 200
    assert fg.api("GET", EVENTS, token, params={"maxResults": "abc"}).status == 400


def test_single_events_expands_series_with_exceptions_and_exdate(fg):
    token = fg.token()
    series = fg.api("POST", EVENTS, token, _event(
        "Standup", day="2024-06-03",
        recurrence=["RRULE:FREQ=WEEKLY;BYDAY=MO,WE;COUNT=6",
                    "EXDATE;TZID=Europe/Paris:20240605T090000"])).json()
    instances = fg.api("GET", EVENTS, token, params={"singleEvents": "true",
                                                     "orderBy": "startTime"}).json()["items"]
    starts = [i["start"]["dateTime"][:10] for i in instances]
    assert starts == ["2024-06-03", "2024-06-10", "2024-06-12", "2024-06-17", "2024-06-19"]
    assert all(i["recurringEventId"] == series["id"] for i in instances)
    second = instances[1]
    moved = fg.api("PATCH", EVENTS + "/" + second["id"], token,
                   {"summary": "Standup (moved)"}).json()
    assert moved["id"] == second["id"] and moved["originalStartTime"] == second["originalStartTime"]
    _, sync, _ = _list_all(fg, token)
    assert fg.api("DELETE", EVENTS + "/" + instances[2]["id"], token).status == 204
    changes = fg.api("GET", EVENTS, token, params={"syncToken": sync}).json()["items"]
    assert changes == [{"kind": "calendar#event", "etag": changes[0]["etag"],
                        "id": instances[2]["id"], "status": "cancelled",
                        "recurringEventId": series["id"],
                        "originalStartTime": instances[2]["originalStartTime"]}]
    after = fg.api("GET", EVENTS, token, params={"singleEvents": "true"}).json()["items"]
    assert len(after) == 4 and "Standup (moved)" in [i["summary"] for i in after]
    # Without singleEvents, the cancelled occurrence is listed too (showDeleted's
    # description in the discovery document).
    masters = fg.api("GET", EVENTS, token).json()["items"]
    assert {m["id"] for m in masters} == {series["id"], second["id"], instances[2]["id"]}


def test_time_window_and_all_day_events(fg):
    token = fg.token()
    fg.api("POST", EVENTS, token, {"summary": "Holiday", "start": {"date": "2024-07-01"},
                                   "end": {"date": "2024-07-03"}})
    fg.api("POST", EVENTS, token, _event("June", day="2024-06-03"))
    july = fg.api("GET", EVENTS, token, params={"timeMin": "2024-07-02T00:00:00Z",
                                                "timeMax": "2024-08-01T00:00:00Z"}).json()
    assert [i["summary"] for i in july["items"]] == ["Holiday"]
    assert july["items"][0]["end"] == {"date": "2024-07-03"}


def test_extended_properties_limits_and_null_deletes_on_patch(fg):
    token = fg.token()
    event = fg.api("POST", EVENTS, token, _event(extendedProperties={
        "private": {"rallyActivityId": "42", "other": "x"}})).json()
    found = fg.api("GET", EVENTS, token,
                   params={"privateExtendedProperty": "rallyActivityId=42"}).json()["items"]
    assert [i["id"] for i in found] == [event["id"]]
    patched = fg.api("PATCH", EVENTS + "/" + event["id"], token,
                     {"extendedProperties": {"private": {"other": None}}}).json()
    assert patched["extendedProperties"]["private"] == {"rallyActivityId": "42"}
    too_long_key = {"private": {"k" * 45: "v"}}
    assert fg.api("POST", EVENTS, token, _event(extendedProperties=too_long_key)).status == 400
    too_long_value = {"private": {"k": "v" * 1025}}
    assert fg.api("POST", EVENTS, token, _event(extendedProperties=too_long_value)).status == 400
    too_many = {"private": {"k%d" % i: "v" for i in range(301)}}
    assert fg.api("POST", EVENTS, token, _event(extendedProperties=too_many)).status == 400
    too_big = {"private": {"k%d" % i: "v" * 1000 for i in range(40)}}
    assert fg.api("POST", EVENTS, token, _event(extendedProperties=too_big)).status == 400


def test_watch_posts_sync_then_exists_with_google_headers_and_retries(fg, receiver):
    token = fg.token()
    receiver.fail_first = 1     # the sync message is answered 503 once and must be retried
    fg.admin("POST", "settings", {"pushBackoffSeconds": 0.05})
    channel = fg.api("POST", EVENTS + "/watch", token, {
        "id": "chan-1", "type": "web_hook", "address": receiver.url, "token": "secret-t"}).json()
    assert channel["kind"] == "api#channel" and channel["id"] == "chan-1"
    assert channel["resourceId"] and channel["token"] == "secret-t"
    fg.api("POST", EVENTS, token, _event())
    got = receiver.wait_for(3)
    assert [r["answered"] for r in got[:3]] == [503, 200, 200]
    headers = [{k.lower(): v for k, v in r["headers"].items()} for r in got]
    assert [h["x-goog-resource-state"] for h in headers[:3]] == ["sync", "sync", "exists"]
    assert [h["x-goog-message-number"] for h in headers[:3]] == ["1", "1", "2"]
    for h in headers:
        assert h["x-goog-channel-id"] == "chan-1" and h["x-goog-channel-token"] == "secret-t"
        assert h["x-goog-resource-id"] == channel["resourceId"]
        assert h["x-goog-resource-uri"].startswith("https://www.googleapis.com/calendar/v3/")
        assert h["x-goog-channel-expiration"].endswith("GMT")
    assert all(r["body"] == b"" for r in got)
    stop = fg.api("POST", "/calendar/v3/channels/stop", token,
                  {"id": "chan-1", "resourceId": channel["resourceId"]})
    assert stop.status == 204
    fg.api("POST", EVENTS, token, _event())
    assert len(receiver.wait_for(4, timeout=1)) == 3
    log = fg.admin("GET", "push-log")["deliveries"]
    assert [d["status"] for d in log] == [503, 200, 200]


def test_api_response_does_not_wait_for_slow_push_receiver(fg):
    import socket
    import time
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)         # accepts TCP but never answers: deliveries hang until timeout
    token = fg.token()
    fg.api("POST", EVENTS + "/watch", token, {
        "id": "slow", "type": "web_hook",
        "address": "http://127.0.0.1:%d/hook" % silent.getsockname()[1]})
    started = time.monotonic()
    assert fg.api("POST", EVENTS, token, _event()).status == 200
    assert time.monotonic() - started < 1.0
    silent.close()


def test_read_only_scope_cannot_write(fg):
    token = fg.token(scopes=("https://www.googleapis.com/auth/calendar.readonly",))
    assert fg.api("GET", EVENTS, token).status == 200
    assert fg.api("POST", EVENTS, token, _event()).status == 403


def test_a_full_listing_holds_the_cancelled_instances_of_live_series(fg):
    """As the discovery document says of showDeleted: "Cancelled instances of recurring
    events (but not the underlying recurring event) will still be included if showDeleted
    and singleEvents are both False"."""
    token = fg.token()
    daily = ["RRULE:FREQ=DAILY;COUNT=3"]
    live = fg.api("POST", EVENTS, token, _event("daily", recurrence=daily)).json()
    dead = fg.api("POST", EVENTS, token, _event("gone daily", recurrence=daily)).json()
    off, dead_off = live["id"] + "_20240604T070000Z", dead["id"] + "_20240604T070000Z"
    for eid in (off, dead_off, dead["id"]):
        assert fg.api("DELETE", EVENTS + "/" + eid, token).status == 204
    items, _, _ = _list_all(fg, token)
    by_id = {i["id"]: i for i in items}
    assert by_id[off]["status"] == "cancelled" and by_id[off]["recurringEventId"] == live["id"]
    assert dead["id"] not in by_id and dead_off not in by_id
    single, _, _ = _list_all(fg, token, singleEvents="true")
    assert off not in {i["id"] for i in single}
