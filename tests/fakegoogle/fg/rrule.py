# SPDX-License-Identifier: ISC
"""Expansion of RFC 5545 recurrence rules, the subset Calendar clients actually send:
FREQ=DAILY|WEEKLY|MONTHLY|YEARLY with INTERVAL, COUNT, UNTIL, BYDAY (with ordinals for
MONTHLY/YEARLY), BYMONTHDAY, BYMONTH, BYSETPOS, WKST; plus RDATE and EXDATE lines.

Occurrences are generated in the event's wall-clock time zone (so a 09:00 weekly meeting stays
at 09:00 across DST) and returned as aware datetimes, or as dates for all-day series.
Anything outside the subset raises RRuleError, which the API turns into a 400."""

import calendar as _calendar
import datetime
import zoneinfo

WEEKDAYS = {"MO": 0, "TU": 1, "WE": 2, "TH": 3, "FR": 4, "SA": 5, "SU": 6}
FREQS = ("DAILY", "WEEKLY", "MONTHLY", "YEARLY")
MAX_PERIODS = 200000   # a guard against rules that never produce an occurrence
UTC = datetime.timezone.utc


class RRuleError(ValueError):
    pass


def zone(name):
    try:
        return zoneinfo.ZoneInfo(name) if name else UTC
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise RRuleError("Invalid time zone: %s" % name) from None


class Rule:
    def __init__(self, text):
        parts = {}
        for item in text.split(";"):
            name, sep, value = item.partition("=")
            if not sep or not value:
                raise RRuleError("Invalid recurrence rule part: %s" % item[:40])
            parts[name.upper()] = value.upper()
        self.freq = parts.pop("FREQ", None)
        if self.freq not in FREQS:
            raise RRuleError("Unsupported or missing FREQ in recurrence rule")
        self.interval = _int(parts.pop("INTERVAL", "1"), 1, 10000)
        self.count = _int(parts.pop("COUNT"), 1, 100000) if "COUNT" in parts else None
        self.until = _parse_until(parts.pop("UNTIL")) if "UNTIL" in parts else None
        if self.count is not None and self.until is not None:
            raise RRuleError("COUNT and UNTIL cannot both be set")
        self.byday = [_parse_byday(v) for v in parts.pop("BYDAY").split(",")] if "BYDAY" in parts else []
        self.bymonthday = [_int(v, -31, 31) for v in parts.pop("BYMONTHDAY").split(",")] if "BYMONTHDAY" in parts else []
        self.bymonth = [_int(v, 1, 12) for v in parts.pop("BYMONTH").split(",")] if "BYMONTH" in parts else []
        self.bysetpos = [_int(v, -366, 366) for v in parts.pop("BYSETPOS").split(",")] if "BYSETPOS" in parts else []
        self.wkst = WEEKDAYS.get(parts.pop("WKST", "MO"))
        if self.wkst is None or 0 in self.bymonthday or 0 in self.bysetpos:
            raise RRuleError("Invalid recurrence rule")
        if parts:
            raise RRuleError("Unsupported recurrence rule parts: %s" % ",".join(sorted(parts)))


def _int(text, low, high):
    try:
        value = int(text)
    except ValueError:
        raise RRuleError("Invalid number in recurrence rule: %s" % text[:20]) from None
    if not low <= value <= high:
        raise RRuleError("Number out of range in recurrence rule: %s" % text[:20])
    return value


def _parse_byday(text):
    day = text[-2:]
    if day not in WEEKDAYS:
        raise RRuleError("Invalid BYDAY value: %s" % text[:10])
    ordinal = _int(text[:-2], -53, 53) if text[:-2] else None
    if ordinal == 0:
        raise RRuleError("Invalid BYDAY value: %s" % text[:10])
    return ordinal, WEEKDAYS[day]


def _parse_until(text):
    value = parse_ical_time(text, None)
    return value


def parse_ical_time(text, tz):
    """A DATE (20240105) or DATE-TIME (20240105T090000[Z]) value; floating times take `tz`."""
    try:
        if len(text) == 8:
            return datetime.datetime.strptime(text, "%Y%m%d").date()
        if text.endswith("Z"):
            return datetime.datetime.strptime(text, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        naive = datetime.datetime.strptime(text, "%Y%m%dT%H%M%S")
        return naive.replace(tzinfo=tz or UTC)
    except ValueError:
        raise RRuleError("Invalid date in recurrence: %s" % text[:30]) from None


def _parse_date_list(line, default_tz):
    """Values of an RDATE/EXDATE line such as `EXDATE;TZID=Europe/Paris:20240101T090000,...`."""
    head, sep, values = line.partition(":")
    if not sep:
        raise RRuleError("Invalid recurrence line: %s" % line[:40])
    tz = default_tz
    for param in head.split(";")[1:]:
        name, _, value = param.partition("=")
        if name.upper() == "TZID":
            tz = zone(value)
    return [parse_ical_time(v.strip(), tz) for v in values.split(",") if v.strip()]


class Recurrence:
    """A parsed `recurrence[]` array: one or more RRULEs, RDATEs and EXDATEs."""

    def __init__(self, lines, tz):
        self.rules, self.rdates, self.exdates = [], [], []
        if not isinstance(lines, list) or len(lines) > 100:
            raise RRuleError("recurrence must be a list of at most 100 lines")
        for line in lines:
            if not isinstance(line, str) or len(line) > 4096:
                raise RRuleError("Invalid recurrence line")
            name = line.split(":", 1)[0].split(";", 1)[0].upper()
            if name == "RRULE":
                self.rules.append(Rule(line.split(":", 1)[1] if ":" in line else ""))
            elif name == "RDATE":
                self.rdates.extend(_parse_date_list(line, tz))
            elif name == "EXDATE":
                self.exdates.extend(_parse_date_list(line, tz))
            else:
                raise RRuleError("Unsupported recurrence line: %s" % name[:20])


def expand(recurrence, start, tz, end_bound, limit):
    """Occurrence starts of a series beginning at `start` (date or aware datetime), up to and
    including `end_bound` (same kind), at most `limit` of them, sorted."""
    found = set()
    for rule in recurrence.rules:
        found.update(_expand_rule(rule, start, tz, end_bound, limit))
    if not recurrence.rules:
        found.add(start)
    found.update(d for d in _coerce_all(recurrence.rdates, start, tz) if d <= end_bound)
    excluded = set(_coerce_all(recurrence.exdates, start, tz))
    return sorted(d for d in found if d not in excluded)[:limit]


def _coerce_all(values, start, tz):
    """Bring RDATE/EXDATE values to the kind of the series start for comparison."""
    out = []
    all_day = not isinstance(start, datetime.datetime)
    for value in values:
        if all_day:
            out.append(value.date() if isinstance(value, datetime.datetime) else value)
        elif isinstance(value, datetime.datetime):
            out.append(value.astimezone(tz))
        else:
            out.append(datetime.datetime.combine(value, start.timetz()))
    return out


def _expand_rule(rule, start, tz, end_bound, limit):
    all_day = not isinstance(start, datetime.datetime)
    first_day = start if all_day else start.date()
    out = []
    produced = 0
    for index, period_start in enumerate(_periods(rule, first_day)):
        if index > MAX_PERIODS:
            break
        if period_start > (end_bound if all_day else end_bound.astimezone(tz).date()):
            break
        for day in _candidates(rule, period_start, first_day):
            if day < first_day:
                continue
            occurrence = day if all_day else _at(day, start, tz)
            if rule.until is not None and _after_until(occurrence, rule.until, tz):
                return out
            if occurrence > end_bound:
                return out
            produced += 1
            out.append(occurrence)
            if (rule.count is not None and produced >= rule.count) or len(out) >= limit:
                return out
    return out


def _at(day, start, tz):
    """`day` at the series' wall-clock time in its zone (fold=0 resolves DST gaps)."""
    local = start.astimezone(tz)
    return datetime.datetime.combine(day, local.time().replace(tzinfo=None)).replace(tzinfo=tz)


def _after_until(occurrence, until, tz):
    if isinstance(until, datetime.datetime):
        if not isinstance(occurrence, datetime.datetime):
            return occurrence > until.date()
        return occurrence > until
    if isinstance(occurrence, datetime.datetime):
        return occurrence.astimezone(tz).date() > until
    return occurrence > until


def _periods(rule, first_day):
    """First day of each period (day, week, month, year) the rule steps through."""
    if rule.freq == "DAILY":
        day = first_day
        while True:
            yield day
            day += datetime.timedelta(days=rule.interval)
    elif rule.freq == "WEEKLY":
        day = first_day - datetime.timedelta(days=(first_day.weekday() - rule.wkst) % 7)
        while True:
            yield day
            day += datetime.timedelta(weeks=rule.interval)
    elif rule.freq == "MONTHLY":
        year, month = first_day.year, first_day.month
        while True:
            yield datetime.date(year, month, 1)
            month += rule.interval
            year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
    else:
        year = first_day.year
        while True:
            yield datetime.date(year, 1, 1)
            year += rule.interval


def _candidates(rule, period, first_day):
    if rule.freq == "DAILY":
        days = [period]
    elif rule.freq == "WEEKLY":
        wanted = [wd for _, wd in rule.byday] or [first_day.weekday()]
        days = [period + datetime.timedelta(days=(wd - period.weekday()) % 7) for wd in wanted]
    elif rule.freq == "MONTHLY":
        days = _month_days(rule, period.year, period.month, first_day)
    else:
        months = rule.bymonth or [first_day.month]
        if rule.byday and not rule.bymonth and not rule.bymonthday:
            days = _weekdays_in(rule.byday, _year_days(period.year))
        else:
            days = [d for m in months for d in _month_days(rule, period.year, m, first_day)]
    days = sorted(set(d for d in days if _passes_filters(rule, d)))
    if rule.bysetpos:
        days = sorted(set(days[p - 1 if p > 0 else p] for p in rule.bysetpos
                          if -len(days) <= (p - 1 if p > 0 else p) < len(days)))
    return days


def _passes_filters(rule, day):
    if rule.bymonth and day.month not in rule.bymonth:
        return False
    if rule.freq in ("DAILY", "WEEKLY") and rule.bymonthday and not _monthday_matches(rule, day):
        return False
    if rule.freq == "DAILY" and rule.byday and day.weekday() not in [wd for _, wd in rule.byday]:
        return False
    return True


def _monthday_matches(rule, day):
    last = _calendar.monthrange(day.year, day.month)[1]
    return any(day.day == (md if md > 0 else last + md + 1) for md in rule.bymonthday)


def _month_days(rule, year, month, first_day):
    last = _calendar.monthrange(year, month)[1]
    all_days = [datetime.date(year, month, d) for d in range(1, last + 1)]
    if rule.bymonthday:
        days = [d for d in all_days if _monthday_matches(rule, d)]
        if rule.byday:
            days = [d for d in days if d.weekday() in [wd for _, wd in rule.byday]]
        return days
    if rule.byday:
        return _weekdays_in(rule.byday, all_days)
    return [datetime.date(year, month, first_day.day)] if first_day.day <= last else []


def _year_days(year):
    day = datetime.date(year, 1, 1)
    out = []
    while day.year == year:
        out.append(day)
        day += datetime.timedelta(days=1)
    return out


def _weekdays_in(byday, days):
    """BYDAY within a set of days: plain weekdays match all, ordinals pick the nth (or -nth)."""
    out = []
    for ordinal, weekday in byday:
        matching = [d for d in days if d.weekday() == weekday]
        if ordinal is None:
            out.extend(matching)
        elif -len(matching) <= (ordinal - 1 if ordinal > 0 else ordinal) < len(matching):
            out.append(matching[ordinal - 1 if ordinal > 0 else ordinal])
    return out
