# SPDX-License-Identifier: ISC
"""Calendar v3 handlers: events list/get/insert/update/patch/delete/watch and channels.stop.

Listing follows API.md: full or incremental (syncToken) listings over the calendar's change
log, pages via the shared pager, exactly one of nextPageToken/nextSyncToken, and 410
fullSyncRequired for a token the log can no longer serve."""

import datetime

from . import clock
from .calendar_store import UTC, event_bounds, parse_time
from .changelog import Expired
from .errors import ApiError, bad_request, not_found
from .http import empty_response
from .paging import TokenError, paginate
from .params import get_bool, get_enum, get_int, get_list, get_str
from .routes import Route

SCOPES_WRITE = ("https://www.googleapis.com/auth/calendar",
                "https://www.googleapis.com/auth/calendar.events")
SCOPES_READ = SCOPES_WRITE + ("https://www.googleapis.com/auth/calendar.readonly",
                              "https://www.googleapis.com/auth/calendar.events.readonly")
LIST_PARAMS = ("calendarId", "alwaysIncludeEmail", "eventTypes", "iCalUID", "maxAttendees",
               "maxResults", "orderBy", "pageToken", "privateExtendedProperty", "q",
               "sharedExtendedProperty", "showDeleted", "showHiddenInvitations", "singleEvents",
               "syncToken", "timeMax", "timeMin", "timeZone", "updatedMin")
NOT_WITH_SYNC_TOKEN = ("iCalUID", "orderBy", "privateExtendedProperty", "q",
                       "sharedExtendedProperty", "timeMin", "timeMax", "updatedMin")
FULL_SYNC_MESSAGE = "Sync token is no longer valid, a full sync is required."
MAX_CHANNEL_TTL_MS = 30 * 86400 * 1000


def full_sync_required():
    return ApiError(410, "fullSyncRequired", FULL_SYNC_MESSAGE, domain="calendar",
                    location="syncToken", location_type="parameter", status=False)


def calendar_of(ctx):
    if ctx.p["calendarId"] not in ("primary", ctx.account.email):
        raise not_found()
    return ctx.account.calendar


def view(calendar, res):
    """What a listing shows: cancelled items carry only what Google guarantees."""
    if res.get("status") != "cancelled":
        return res
    out = {"kind": "calendar#event", "etag": res["etag"], "id": res["id"], "status": "cancelled"}
    master = calendar.stored(res.get("recurringEventId", ""))
    if master is not None and master.res.get("status") != "cancelled":
        out["recurringEventId"] = res["recurringEventId"]
        out["originalStartTime"] = res["originalStartTime"]
    return out


# -- events.list ------------------------------------------------------------------------

def events_list(ctx):
    cal = calendar_of(ctx)
    q = ctx.q
    max_results = get_int(q, "maxResults", 250, minimum=1, maximum=2500, clamp=True)
    single = get_bool(q, "singleEvents")
    show_deleted = get_bool(q, "showDeleted")
    order = get_enum(q, "orderBy", ("startTime", "updated"))
    if order == "startTime" and not single:
        raise bad_request("The requested ordering is not available for the particular query.")
    sync_token = get_str(q, "syncToken")
    if sync_token is not None:
        for name in NOT_WITH_SYNC_TOKEN:
            if name in q:
                raise bad_request("%s cannot be used together with syncToken." % name, location=name)
        position = _decode_sync_token(ctx, cal, sync_token)
        try:
            candidates = cal.changed_since(position)
        except Expired:
            raise full_sync_required() from None
        show_deleted = True
    else:
        candidates = sorted(cal.events.values(), key=lambda e: e.key)
    window = (_time_param(q, "timeMin"), _time_param(q, "timeMax"))
    items = _expand(cal, candidates, single, window)
    items = [i for i in items if _keep(cal, i, q, show_deleted, window, single)]
    items.sort(key=_sort_key(order))
    page = _page(ctx, cal, items, order, max_results)
    body = {"kind": "calendar#events", "etag": ctx.state.next_etag(), "summary": cal.email,
            "description": "", "updated": _latest(items), "timeZone": get_str(q, "timeZone", "UTC"),
            "accessRole": "owner", "defaultReminders": [],
            "items": [view(cal, i) for i in page.items]}
    if page.next_token:
        body["nextPageToken"] = page.next_token
    else:
        body["nextSyncToken"] = ctx.state.signer.encode("C", {"c": cal.email, "p": page.snapshot})
    return body


def _decode_sync_token(ctx, cal, token):
    try:
        payload = ctx.state.signer.decode("C", token)
        if payload["c"] != cal.email:
            raise TokenError(token)
        return int(payload["p"])
    except (TokenError, KeyError, TypeError, ValueError):
        raise full_sync_required() from None


def _time_param(q, name):
    value = get_str(q, name)
    if value is None:
        return None
    parsed = parse_time(value, name)
    if parsed.tzinfo is None:
        raise bad_request("Bad Request: %s needs a time zone offset." % name, location=name)
    return parsed.astimezone(UTC)


def _expand(cal, candidates, single, window):
    """Stored events, or with singleEvents their instances (exceptions stand for theirs)."""
    out = []
    for event in candidates:
        res = event.res
        if not single:
            out.append(res)
        elif "recurrence" in res and res.get("status") != "cancelled":
            out.extend(cal.instances(event, window[0], window[1]))
        elif "recurringEventId" not in res or cal.stored(res["recurringEventId"]) is None:
            out.append(res)
        elif not _series_live(cal, res):
            out.append(res)   # exception of a deleted series: shown as itself
    # Exceptions of live series already came out of instances(); drop duplicates.
    unique = {}
    for item in out:
        unique.setdefault(item["id"], item)
    return list(unique.values())


def _series_live(cal, res):
    master = cal.stored(res["recurringEventId"])
    return master is not None and master.res.get("status") != "cancelled"


def _keep(cal, item, q, show_deleted, window, single):
    if item.get("status") == "cancelled":
        if show_deleted:
            return True
        # The discovery document: "Cancelled instances of recurring events (but not the
        # underlying recurring event) will still be included if showDeleted and
        # singleEvents are both False."
        master = cal.stored(item.get("recurringEventId", ""))
        if single or master is None or master.res.get("status") == "cancelled":
            return False
        return window == (None, None) or _overlaps(item, window, single)
    if window != (None, None) and not _overlaps(item, window, single):
        return False
    updated_min = _time_param(q, "updatedMin")
    if updated_min and item["updated"] < clock.rfc3339(updated_min.timestamp()):
        return False
    if "iCalUID" in q and item.get("iCalUID") != q["iCalUID"][0]:
        return False
    text = get_str(q, "q")
    if text and not _matches_text(item, text):
        return False
    for scope, name in (("private", "privateExtendedProperty"), ("shared", "sharedExtendedProperty")):
        props = item.get("extendedProperties", {}).get(scope, {})
        for pair in get_list(q, name):
            key, sep, value = pair.partition("=")
            if not sep:
                raise bad_request("Invalid %s: expected propertyName=value." % name, location=name)
            if props.get(key) != value:
                return False
    return True


def _overlaps(item, window, single):
    start, end = event_bounds(item)
    if "recurrence" in item and not single:
        end = datetime.datetime.max.replace(tzinfo=UTC)   # a series may run on
    low, high = window
    return (low is None or end > low) and (high is None or start < high)


def _matches_text(item, text):
    haystack = " ".join([item.get("summary", ""), item.get("description", ""),
                         item.get("location", "")] +
                        [a.get("email", "") + " " + a.get("displayName", "")
                         for a in item.get("attendees", [])]).lower()
    return all(word in haystack for word in text.lower().split())


def _sort_key(order):
    if order == "startTime":
        return lambda i: (event_bounds(i)[0].isoformat(), i["id"])
    if order == "updated":
        return lambda i: (i["updated"], i["id"])
    return lambda i: (i["id"],)    # Google leaves the default order unspecified


def _page(ctx, cal, items, order, max_results):
    return paginate(ctx.state.signer, items, _sort_key(order), max_results,
                    get_str(ctx.q, "pageToken"), ctx.q, ctx.state.settings, cal.log.last_id)


def _latest(items):
    return max((i["updated"] for i in items), default=clock.rfc3339(clock.now()))


# -- get / insert / update / patch / delete ------------------------------------------------

def events_get(ctx):
    cal = calendar_of(ctx)
    return cal.lookup(ctx.p["eventId"])


def events_insert(ctx):
    cal = calendar_of(ctx)
    return cal.insert(ctx.req.json()).res


def events_update(ctx):
    cal = calendar_of(ctx)
    return cal.replace(ctx.p["eventId"], ctx.req.json(), ctx.req.header("if-match")).res


def events_patch(ctx):
    cal = calendar_of(ctx)
    return cal.replace(ctx.p["eventId"], ctx.req.json(), ctx.req.header("if-match"), patch=True).res


def events_delete(ctx):
    cal = calendar_of(ctx)
    cal.delete(ctx.p["eventId"], ctx.req.header("if-match"))
    return empty_response()


# -- push channels ----------------------------------------------------------------------

class Channel:
    def __init__(self, channel_id, resource_id, resource_uri, token, expiration, account, address):
        self.id = channel_id
        self.resource_id = resource_id
        self.resource_uri = resource_uri
        self.token = token
        self.expiration = expiration      # epoch ms
        self.account = account
        self.address = address
        self.message_number = 0
        self.stopped = False

    def describe(self):
        out = {"kind": "api#channel", "id": self.id, "resourceId": self.resource_id,
               "resourceUri": self.resource_uri, "expiration": str(self.expiration)}
        if self.token is not None:
            out["token"] = self.token
        return out


def events_watch(ctx):
    cal = calendar_of(ctx)
    body = ctx.req.json()
    channel_id, address = body.get("id"), body.get("address")
    if not isinstance(channel_id, str) or not 1 <= len(channel_id) <= 64:
        raise bad_request("Channel id is required (at most 64 characters).", reason="required")
    if body.get("type") not in ("web_hook", "webhook"):
        raise bad_request("Channel type must be web_hook.", reason="invalid")
    if not isinstance(address, str) or not address.startswith(("https://", "http://")) \
            or len(address) > 2048:
        raise bad_request("Channel address must be an http(s) URL.", reason="invalid")
    if channel_id in ctx.state.channels:
        raise bad_request("Channel id %s not unique" % channel_id, reason="channelIdNotUnique")
    token = body.get("token")
    if token is not None and (not isinstance(token, str) or len(token) > 256):
        raise bad_request("Channel token must be a string of at most 256 characters.")
    channel = Channel(channel_id, ctx.state.ids.urlsafe(27),
                      "https://www.googleapis.com/calendar/v3/calendars/%s/events?alt=json"
                      % cal.email, token, _expiration(body), ctx.account, address)
    ctx.state.channels[channel_id] = channel
    ctx.state.pusher.calendar_channel_opened(cal, channel)
    return channel.describe()


def _expiration(body):
    now = clock.now_ms()
    latest = now + MAX_CHANNEL_TTL_MS
    wanted = body.get("expiration")
    ttl = (body.get("params") or {}).get("ttl") if isinstance(body.get("params"), dict) else None
    try:
        if ttl is not None:
            return min(latest, now + int(ttl) * 1000)
        if wanted is not None:
            return min(latest, int(wanted))
    except (TypeError, ValueError):
        raise bad_request("Invalid channel expiration.") from None
    return now + 7 * 86400 * 1000


def channels_stop(ctx):
    body = ctx.req.json()
    channel = ctx.state.channels.get(body.get("id") or "")
    if channel is None or channel.resource_id != body.get("resourceId") or \
            channel.account is not ctx.account:
        raise not_found("Channel '%s' not found for project" % str(body.get("id"))[:64])
    channel.stopped = True
    del ctx.state.channels[channel.id]
    return empty_response()


def _route(method, path, handler, name, params, scopes=SCOPES_WRITE):
    return Route(method, path, handler, "calendar", name=name, params=params, scopes=scopes,
                 root="/calendar/v3/")


_EVENT = "calendars/{calendarId}/events/{eventId}"
_WRITE_PARAMS = ("calendarId", "eventId", "alwaysIncludeEmail", "conferenceDataVersion",
                 "maxAttendees", "sendNotifications", "sendUpdates", "supportsAttachments")
ROUTES = [
    _route("GET", "calendars/{calendarId}/events", events_list, "calendar.events.list",
           LIST_PARAMS, SCOPES_READ),
    _route("POST", "calendars/{calendarId}/events/watch", events_watch, "calendar.events.watch",
           LIST_PARAMS, SCOPES_READ),
    _route("POST", "calendars/{calendarId}/events", events_insert, "calendar.events.insert",
           ("calendarId", "conferenceDataVersion", "maxAttendees", "sendNotifications",
            "sendUpdates", "supportsAttachments")),
    _route("GET", _EVENT, events_get, "calendar.events.get",
           ("alwaysIncludeEmail", "calendarId", "eventId", "maxAttendees", "timeZone"), SCOPES_READ),
    _route("PUT", _EVENT, events_update, "calendar.events.update", _WRITE_PARAMS),
    _route("PATCH", _EVENT, events_patch, "calendar.events.patch", _WRITE_PARAMS),
    _route("DELETE", _EVENT, events_delete, "calendar.events.delete",
           ("calendarId", "eventId", "sendNotifications", "sendUpdates")),
    _route("POST", "channels/stop", channels_stop, "calendar.channels.stop", (), SCOPES_READ),
]
