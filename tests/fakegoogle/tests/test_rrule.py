# SPDX-License-Identifier: ISC
"""Recurrence expansion (unit tests of fg.rrule)."""

import datetime

import pytest

from fg import rrule

PARIS = rrule.zone("Europe/Paris")


def expand(lines, start, until, limit=100, tz=PARIS):
    bound = until if not isinstance(start, datetime.datetime) else \
        datetime.datetime.combine(until, datetime.time(23, 59), tz)
    return rrule.expand(rrule.Recurrence(lines, tz), start, tz, bound, limit)


def at(y, m, d, h=9):
    return datetime.datetime(y, m, d, h, tzinfo=PARIS)


def test_daily_interval_count():
    got = expand(["RRULE:FREQ=DAILY;INTERVAL=2;COUNT=3"], at(2024, 1, 30), datetime.date(2025, 1, 1))
    assert got == [at(2024, 1, 30), at(2024, 2, 1), at(2024, 2, 3)]


def test_weekly_byday_keeps_wall_clock_across_dst():
    got = expand(["RRULE:FREQ=WEEKLY;BYDAY=FR;UNTIL=20240406T000000Z"], at(2024, 3, 22),
                 datetime.date(2025, 1, 1))
    assert got == [at(2024, 3, 22), at(2024, 3, 29), at(2024, 4, 5)]
    assert [g.utcoffset().seconds // 3600 for g in got] == [1, 1, 2]   # DST from 31 March


def test_monthly_bymonthday_negative_and_skips_short_months():
    assert expand(["RRULE:FREQ=MONTHLY;BYMONTHDAY=-1;COUNT=3"], datetime.date(2024, 1, 31),
                  datetime.date(2025, 1, 1)) == [datetime.date(2024, 1, 31),
                                                 datetime.date(2024, 2, 29),
                                                 datetime.date(2024, 3, 31)]
    assert expand(["RRULE:FREQ=MONTHLY;COUNT=3"], datetime.date(2024, 1, 31),
                  datetime.date(2025, 1, 1)) == [datetime.date(2024, 1, 31),
                                                 datetime.date(2024, 3, 31),
                                                 datetime.date(2024, 5, 31)]


def test_monthly_nth_weekday_and_yearly():
    assert expand(["RRULE:FREQ=MONTHLY;BYDAY=2TU;COUNT=2"], at(2024, 1, 9),
                  datetime.date(2025, 1, 1)) == [at(2024, 1, 9), at(2024, 2, 13)]
    assert expand(["RRULE:FREQ=YEARLY;COUNT=3"], datetime.date(2024, 2, 29),
                  datetime.date(2040, 1, 1)) == [datetime.date(2024, 2, 29),
                                                 datetime.date(2028, 2, 29),
                                                 datetime.date(2032, 2, 29)]
    assert expand(["RRULE:FREQ=YEARLY;BYMONTH=1,7;BYMONTHDAY=1;COUNT=3"], datetime.date(2024, 1, 1),
                  datetime.date(2040, 1, 1)) == [datetime.date(2024, 1, 1),
                                                 datetime.date(2024, 7, 1),
                                                 datetime.date(2025, 1, 1)]


def test_exdate_and_rdate_and_count_before_exdate():
    got = expand(["RRULE:FREQ=DAILY;COUNT=3", "EXDATE;TZID=Europe/Paris:20240102T090000",
                  "RDATE;TZID=Europe/Paris:20240110T090000"], at(2024, 1, 1), datetime.date(2025, 1, 1))
    assert got == [at(2024, 1, 1), at(2024, 1, 3), at(2024, 1, 10)]
    utc_exdate = expand(["RRULE:FREQ=DAILY;COUNT=2", "EXDATE:20240101T080000Z"], at(2024, 1, 1),
                        datetime.date(2025, 1, 1))
    assert utc_exdate == [at(2024, 1, 2)]


def test_open_ended_series_stops_at_bound_and_limit():
    assert len(expand(["RRULE:FREQ=DAILY"], at(2024, 1, 1), datetime.date(2024, 1, 10))) == 10
    assert len(expand(["RRULE:FREQ=DAILY"], at(2024, 1, 1), datetime.date(2030, 1, 1), limit=5)) == 5


@pytest.mark.parametrize("line", ["RRULE:FREQ=HOURLY", "RRULE:FREQ=DAILY;COUNT=0",
                                  "RRULE:FREQ=DAILY;BYHOUR=9", "RRULE:FREQ=WEEKLY;BYDAY=XX",
                                  "RRULE:FREQ=DAILY;COUNT=2;UNTIL=20240101", "FOO:BAR",
                                  "RRULE:garbage"])
def test_unsupported_or_invalid_rules_raise(line):
    with pytest.raises(rrule.RRuleError):
        rrule.Recurrence([line], PARIS)
