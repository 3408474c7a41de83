# SPDX-License-Identifier: ISC
"""A primary calendar: stored events (masters, exceptions, single events, tombstones), the
change log behind sync tokens, recurring-instance expansion, and Google's validation rules.

Writes go through `_commit`, which stamps `updated`, a new etag and a change-log position, and
tells the push sender; that one path is why every write is visible to sync and to watchers."""

import copy
import datetime
import re

from . import clock, rrule
from .changelog import ChangeLog
from .errors import ApiError, bad_request, not_found
from .ids import is_base32hex_id

MAX_ATTENDEES = 1000
MAX_TEXT = 8192
EXT_KEY_MAX, EXT_VALUE_MAX, EXT_COUNT_MAX, EXT_BYTES_MAX = 44, 1024, 300, 32 * 1024
WRITABLE = ("summary", "description", "location", "start", "end", "recurrence", "status",
            "attendees", "extendedProperties", "transparency", "visibility", "colorId",
            "reminders", "guestsCanModify", "guestsCanInviteOthers", "guestsCanSeeOtherGuests",
            "anyoneCanAddSelf", "source", "eventType", "sequence", "originalStartTime",
            "recurringEventId", "iCalUID", "conferenceData", "attachments", "endTimeUnspecified",
            "locked", "privateCopy", "hangoutLink")
_INSTANCE_ID = re.compile(r"^(?P<master>[a-v0-9]{5,1000})_(?P<when>\d{8}(T\d{6}Z)?)$")
UTC = datetime.timezone.utc


class StoredEvent:
    def __init__(self, key, res):
        self.key = key          # insertion order: the default listing order
        self.res = res          # the Event resource as Google would return it


def parse_time(value, field):
    """An RFC 3339 dateTime (offset required unless the caller supplies a zone)."""
    if not isinstance(value, str) or len(value) > 64:
        raise bad_request("Invalid %s." % field)
    try:
        return datetime.datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        raise bad_request("Invalid %s: %s" % (field, value[:40])) from None


def parse_when(when, field):
    """(value, zone): a date for all-day, an aware datetime otherwise."""
    if not isinstance(when, dict):
        raise bad_request("Missing %s." % field, reason="required")
    zone_name = when.get("timeZone")
    try:
        tz = rrule.zone(zone_name) if zone_name else None
    except rrule.RRuleError:
        raise bad_request("Invalid time zone definition for %s." % field) from None
    if when.get("date") and when.get("dateTime"):
        raise bad_request("Only one of date and dateTime may be set in %s." % field)
    if when.get("date"):
        try:
            return datetime.date.fromisoformat(when["date"]), tz or UTC
        except (TypeError, ValueError):
            raise bad_request("Invalid %s.date." % field) from None
    if when.get("dateTime"):
        value = parse_time(when["dateTime"], field + ".dateTime")
        if value.tzinfo is None:
            if tz is None:
                raise bad_request("Missing time zone definition for %s." % field)
            value = value.replace(tzinfo=tz)
        return value, tz or value.tzinfo
    raise bad_request("Missing %s." % field, reason="required")


def event_bounds(res):
    """(start, end) of a non-cancelled resource as aware UTC datetimes (dates at midnight UTC)."""
    start, _ = parse_when(res["start"], "start")
    end, _ = parse_when(res["end"], "end")
    return _utc(start), _utc(end)


def _utc(value):
    if isinstance(value, datetime.datetime):
        return value.astimezone(UTC)
    return datetime.datetime.combine(value, datetime.time(), UTC)


def format_when(value, zone_name):
    if isinstance(value, datetime.datetime):
        out = {"dateTime": value.isoformat()}
        if zone_name:
            out["timeZone"] = zone_name
        return out
    return {"date": value.isoformat()}


def instance_suffix(value):
    if isinstance(value, datetime.datetime):
        return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return value.strftime("%Y%m%d")


def validate_event(res, is_exception=False):
    """Google's rules for an Event body; raises a 400 ApiError naming the problem."""
    if "start" not in res or "end" not in res:
        raise bad_request("Missing end time." if "start" in res else "Missing start time.",
                          reason="required")
    start, _ = parse_when(res["start"], "start")
    end, _ = parse_when(res["end"], "end")
    if isinstance(start, datetime.datetime) != isinstance(end, datetime.datetime):
        raise bad_request("Start and end must both be dates or both be date-times.")
    if end < start or (not isinstance(start, datetime.datetime) and end == start):
        raise bad_request("The specified time range is empty.", reason="timeRangeEmpty")
    for field in ("summary", "description", "location"):
        if field in res and res[field] is not None and (
                not isinstance(res[field], str) or len(res[field]) > MAX_TEXT):
            raise bad_request("Invalid %s." % field)
    if res.get("status", "confirmed") not in ("confirmed", "tentative", "cancelled"):
        raise bad_request("Invalid status.")
    if "recurrence" in res:
        if is_exception:
            raise bad_request("An exception of a recurring event cannot have a recurrence.")
        _, tz = parse_when(res["start"], "start")
        try:
            rrule.Recurrence(res["recurrence"], tz)
        except rrule.RRuleError as exc:
            raise bad_request("Invalid recurrence rule: %s" % exc) from None
    _validate_attendees(res.get("attendees"))
    _validate_extended(res.get("extendedProperties"))


def _validate_attendees(attendees):
    if attendees is None:
        return
    if not isinstance(attendees, list) or len(attendees) > MAX_ATTENDEES:
        raise bad_request("Invalid attendees.")
    for attendee in attendees:
        if not isinstance(attendee, dict) or not isinstance(attendee.get("email"), str) \
                or "@" not in attendee["email"]:
            raise bad_request("Invalid attendee email.", reason="invalid")
        status = attendee.get("responseStatus", "needsAction")
        if status not in ("needsAction", "declined", "tentative", "accepted"):
            raise bad_request("Invalid attendee responseStatus.")


def _validate_extended(ext):
    if ext is None:
        return
    if not isinstance(ext, dict) or set(ext) - {"private", "shared"}:
        raise bad_request("Invalid extendedProperties.")
    count, size = 0, 0
    for props in ext.values():
        if not isinstance(props, dict):
            raise bad_request("Invalid extendedProperties.")
        for key, value in props.items():
            if not isinstance(value, str):
                raise bad_request("Extended property values must be strings.")
            if len(key) > EXT_KEY_MAX:
                raise bad_request("Extended property key too long (max %d)." % EXT_KEY_MAX)
            if len(value) > EXT_VALUE_MAX:
                raise bad_request("Extended property value too long (max %d)." % EXT_VALUE_MAX)
            count += 1
            size += len(key.encode()) + len(value.encode())
    if count > EXT_COUNT_MAX or size > EXT_BYTES_MAX:
        raise bad_request("Too many extended properties.", reason="tooManyExtendedProperties")


def merge_patch(target, patch):
    """PATCH semantics: objects merge recursively, arrays and scalars replace, null deletes."""
    out = dict(target)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge_patch(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


class Calendar:
    def __init__(self, state, email):
        self.state = state
        self.email = email
        self.events = {}        # id -> StoredEvent
        self.log = ChangeLog(start=1000, max_entries=state.setting("calendarChangeLogMax"))
        self.next_key = 0
        self.on_change = None   # set by the push sender: called after every commit

    # -- reads -------------------------------------------------------------------------

    def stored(self, event_id):
        return self.events.get(event_id)

    def lookup(self, event_id):
        """The resource for an id: stored, or a virtual instance of a recurring series."""
        event = self.events.get(event_id)
        if event is not None:
            return event.res
        match = _INSTANCE_ID.match(event_id)
        master = self.events.get(match.group("master")) if match else None
        if master is None or master.res.get("status") == "cancelled" or "recurrence" not in master.res:
            raise not_found()
        for instance in self.instances(master, None, None):
            if instance["id"] == event_id:
                return instance
        raise not_found()

    def instances(self, master, window_start, window_end):
        """Instances of a series (exceptions substituted) overlapping the window."""
        res = master.res
        start, tz = parse_when(res["start"], "start")
        end, _ = parse_when(res["end"], "end")
        duration = end - start
        horizon = clock.now() + 86400 * self.state.setting("instanceHorizonDays")
        bound = _utc(window_end) if window_end else datetime.datetime.fromtimestamp(horizon, UTC)
        bound_value = bound if isinstance(start, datetime.datetime) else bound.date()
        recurrence = rrule.Recurrence(res["recurrence"], tz)
        zone_name = res["start"].get("timeZone")
        out = []
        for occurrence in rrule.expand(recurrence, start, tz, bound_value,
                                       self.state.setting("instanceMaxPerSeries")):
            instance_id = "%s_%s" % (res["id"], instance_suffix(occurrence))
            exception = self.events.get(instance_id)
            if exception is not None:
                item = exception.res
            else:
                item = self._virtual_instance(res, instance_id, occurrence, duration, zone_name)
            if window_start is not None and item.get("status") != "cancelled":
                if event_bounds(item)[1] <= _utc(window_start):
                    continue
            out.append(item)
        return out

    @staticmethod
    def _virtual_instance(res, instance_id, occurrence, duration, zone_name):
        item = {k: v for k, v in res.items() if k != "recurrence"}
        item["id"] = instance_id
        item["recurringEventId"] = res["id"]
        item["originalStartTime"] = format_when(occurrence, zone_name)
        item["start"] = format_when(occurrence, zone_name)
        item["end"] = format_when(occurrence + duration, zone_name)
        return item

    # -- writes ------------------------------------------------------------------------

    def insert(self, body, event_id=None):
        event_id = event_id or body.get("id")
        if event_id is not None:
            if not isinstance(event_id, str) or not is_base32hex_id(event_id):
                raise bad_request("Invalid resource id value.", reason="invalid")
            if event_id in self.events:
                raise ApiError(409, "duplicate", "The requested identifier already exists.")
        else:
            event_id = self.state.ids.base32hex(26)
        res = {k: copy.deepcopy(v) for k, v in body.items() if k in WRITABLE and v is not None}
        validate_event(res, is_exception="recurringEventId" in res)
        now = clock.rfc3339(clock.now())
        res.update(kind="calendar#event", id=event_id, created=now,
                   iCalUID=res.get("iCalUID") or "%s@google.com" % event_id,
                   status=res.get("status", "confirmed"), sequence=int(res.get("sequence", 0)),
                   creator={"email": self.email, "self": True},
                   organizer={"email": self.email, "self": True},
                   htmlLink="https://www.google.com/calendar/event?eid=%s" % event_id,
                   eventType=res.get("eventType", "default"))
        res.setdefault("reminders", {"useDefault": True})
        self._mark_self(res)
        event = StoredEvent(self.next_key, res)
        self.next_key += 1
        self.events[event_id] = event
        self._commit(event)
        return event

    def replace(self, event_id, body, if_match=None, patch=False):
        """events.update (full replace) or events.patch (merge); creates an exception when
        the id names an instance of a series."""
        current = self.lookup(event_id)
        self._check_etag(current, if_match)
        if patch:
            merged = merge_patch({k: v for k, v in current.items() if k in WRITABLE}, body)
        else:
            merged = {k: copy.deepcopy(v) for k, v in body.items() if k in WRITABLE and v is not None}
            for keep in ("recurringEventId", "originalStartTime"):
                if keep in current:
                    merged[keep] = current[keep]
        merged = {k: v for k, v in merged.items() if k in WRITABLE}
        validate_event(merged, is_exception="recurringEventId" in current)
        event = self.events.get(event_id)
        if event is None:      # first write to a virtual instance: it becomes an exception
            return self._new_exception(event_id, current, merged)
        old = event.res
        times_changed = any(old.get(k) != merged.get(k) for k in ("start", "end", "recurrence"))
        fixed = {k: old[k] for k in ("kind", "id", "iCalUID", "created", "creator", "organizer",
                                     "htmlLink") if k in old}
        merged.update(fixed)
        merged.setdefault("status", "confirmed")
        merged["sequence"] = old.get("sequence", 0) + (1 if times_changed else 0)
        merged.setdefault("eventType", "default")
        self._mark_self(merged)
        event.res = merged
        self._commit(event)
        return event

    def _new_exception(self, event_id, instance, fields):
        res = dict(fields, recurringEventId=instance["recurringEventId"],
                   originalStartTime=instance["originalStartTime"])
        res.setdefault("status", "confirmed")
        now = clock.rfc3339(clock.now())
        master = self.events[instance["recurringEventId"]].res
        res.update(kind="calendar#event", id=event_id, created=master["created"],
                   iCalUID=master["iCalUID"], creator=master["creator"],
                   organizer=master["organizer"], htmlLink=master["htmlLink"],
                   sequence=master.get("sequence", 0), updated=now)
        res.setdefault("eventType", "default")
        self._mark_self(res)
        event = StoredEvent(self.next_key, res)
        self.next_key += 1
        self.events[event_id] = event
        self._commit(event)
        return event

    def delete(self, event_id, if_match=None):
        current = self.lookup(event_id)
        if current.get("status") == "cancelled":
            raise ApiError(410, "deleted", "Resource has been deleted")
        self._check_etag(current, if_match)
        event = self.events.get(event_id)
        if event is None:
            self._new_exception(event_id, current, {"status": "cancelled",
                                                    "start": current["start"], "end": current["end"]})
            return
        self._cancel(event)
        if "recurrence" in event.res:
            for other in list(self.events.values()):
                if other.res.get("recurringEventId") == event_id and other.res.get("status") != "cancelled":
                    self._cancel(other)

    def _cancel(self, event):
        event.res = dict(event.res, status="cancelled")
        self._commit(event)

    def _check_etag(self, current, if_match):
        if if_match and if_match != "*" and if_match != current.get("etag"):
            raise ApiError(412, "conditionNotMet", "Precondition Failed",
                           location="If-Match", location_type="header")

    def _mark_self(self, res):
        for attendee in res.get("attendees", []):
            attendee.setdefault("responseStatus", "needsAction")
            if attendee["email"].lower() == self.email.lower():
                attendee["self"] = True

    def _commit(self, event):
        event.res["updated"] = clock.rfc3339(clock.now())
        event.res["etag"] = self.state.next_etag()
        self.log.append(event.res["id"])
        if self.on_change is not None:
            self.on_change(self)

    # -- sync ------------------------------------------------------------------------

    def changed_since(self, position):
        """Events changed after a change-log position (raises changelog.Expired)."""
        seen = {}
        for _, event_id in self.log.since(position):
            seen[event_id] = True
        return [self.events[i] for i in seen if i in self.events]

    def expire_sync_tokens(self):
        self.log.expire()
