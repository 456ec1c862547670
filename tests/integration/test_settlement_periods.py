"""Periods: quarters and years of a community's calendar as UTC intervals (no database)."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from pointsbank.reports import periods
from pointsbank.reports.periods import InvalidPeriod, Period

UTC = timezone.utc


def test_a_shanghai_quarter_starts_and_ends_at_local_midnight_which_is_16_00_utc_the_day_before():
    assert periods.parse("2026Q3").bounds("Asia/Shanghai") == (
        datetime(2026, 6, 30, 16, 0, tzinfo=UTC), datetime(2026, 9, 30, 16, 0, tzinfo=UTC))


def test_a_year_in_shanghai_runs_from_16_00_utc_on_31_december():
    assert periods.parse("2026").bounds("Asia/Shanghai") == (
        datetime(2025, 12, 31, 16, 0, tzinfo=UTC), datetime(2026, 12, 31, 16, 0, tzinfo=UTC))


def test_bounds_follow_daylight_saving_time_where_the_zone_has_it():
    start, end = periods.parse("2026Q2").bounds("Europe/Berlin")
    assert (start, end) == (datetime(2026, 3, 31, 22, 0, tzinfo=UTC), datetime(2026, 6, 30, 22, 0, tzinfo=UTC))
    assert periods.parse("2026Q1").bounds("Europe/Berlin")[0] == datetime(2025, 12, 31, 23, 0, tzinfo=UTC)


@pytest.mark.parametrize("moment, expected", [
    (datetime(2026, 6, 30, 15, 59, 59, tzinfo=UTC), "2026Q2"),  # 23:59:59 on 30 June in Shanghai
    (datetime(2026, 6, 30, 16, 0, 0, tzinfo=UTC), "2026Q3"),    # midnight: the new quarter
    (datetime(2026, 12, 31, 16, 0, tzinfo=UTC), "2027Q1"),
])
def test_the_running_quarter_is_read_in_the_community_time_zone(moment, expected):
    assert periods.current("quarter", "Asia/Shanghai", moment).key == expected


def test_a_quarter_is_closed_only_once_its_end_has_passed_in_the_zone():
    q2 = periods.parse("2026Q2")
    assert not q2.is_closed("Asia/Shanghai", datetime(2026, 6, 30, 15, 59, 59, tzinfo=UTC))
    assert q2.is_closed("Asia/Shanghai", datetime(2026, 6, 30, 16, 0, tzinfo=UTC))
    assert not q2.is_closed("America/New_York", datetime(2026, 6, 30, 16, 0, tzinfo=UTC))


def test_neighbours_wrap_around_the_year():
    assert (periods.parse("2026Q4").next().key, periods.parse("2026Q1").previous().key) == ("2027Q1", "2025Q4")
    assert (periods.parse("2026").next().key, periods.parse("2026").previous().key) == ("2027", "2025")
    assert periods.parse("2026Q1").last_day() == date(2026, 3, 31)
    assert periods.parse("2024").last_day() == date(2024, 12, 31)


def test_closed_periods_between_two_moments_oldest_first():
    since = datetime(2026, 5, 15, tzinfo=UTC)
    now = datetime(2027, 1, 5, tzinfo=UTC)
    assert [p.key for p in periods.closed_between("quarter", "Asia/Shanghai", since, now)] == [
        "2026Q2", "2026Q3", "2026Q4"]
    assert [p.key for p in periods.closed_between("year", "Asia/Shanghai", since, now)] == ["2026"]
    assert periods.closed_between("quarter", "Asia/Shanghai", since, datetime(2026, 6, 1, tzinfo=UTC)) == []


def test_quarter_of_a_day():
    assert [periods.quarter_of(date(2026, m, 1)).key for m in (1, 3, 4, 7, 10, 12)] == [
        "2026Q1", "2026Q1", "2026Q2", "2026Q3", "2026Q4", "2026Q4"]


@pytest.mark.parametrize("text", ["2026Q5", "2026Q0", "26Q1", "2026-Q1", "Q1", "", "2026q", "99999"])
def test_anything_but_a_quarter_or_a_year_is_refused(text):
    with pytest.raises(InvalidPeriod) as refused:
        periods.parse(text)
    assert refused.value.code == "invalid_period"


def test_a_lower_case_quarter_is_accepted_and_keys_sort_in_time_order():
    assert periods.parse("2026q3") == Period(2026, 3)
    keys = ["2025Q4", "2026Q1", "2026Q2"]
    assert sorted(keys) == keys == [p.key for p in sorted(periods.parse(k) for k in reversed(keys))]
