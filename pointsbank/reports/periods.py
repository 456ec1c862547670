"""Periods of the quarterly round: calendar quarters (``2026Q3``) and years (``2026``) in a
community's time zone.

A period is a half-open interval of local calendar days; :meth:`Period.bounds` turns it into
UTC instants ``[start, end)`` for that zone, so a redemption at 23:59 local on 30 September
belongs to Q3 even though it is 15:59 UTC::

    >>> parse("2026Q3").bounds("Asia/Shanghai")
    (datetime(2026, 6, 30, 16, 0, tzinfo=utc), datetime(2026, 9, 30, 16, 0, tzinfo=utc))

A period is *closed* once its end has passed in its community's zone; only closed periods are
settled, published, reset or expired.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l

from pointsbank.errors import BadRequest, Unprocessable

_PATTERN = re.compile(r"^(\d{4})(?:Q([1-4]))?$")


class InvalidPeriod(BadRequest):
    code = "invalid_period"
    message = _l("%(period)s is not a period: write a quarter like 2026Q3 or a year like 2026.")


class PeriodNotClosed(Unprocessable):
    code = "period_not_closed"
    message = _l("The period %(period)s has not ended yet.")


@dataclass(frozen=True, order=True)
class Period:
    year: int
    #: 1–4, or None for a whole year
    quarter: int | None = None

    @property
    def key(self) -> str:
        return f"{self.year}Q{self.quarter}" if self.quarter else f"{self.year}"

    @property
    def kind(self) -> str:
        return "quarter" if self.quarter else "year"

    def __str__(self) -> str:
        return self.key

    def first_day(self) -> date:
        return date(self.year, 3 * (self.quarter - 1) + 1 if self.quarter else 1, 1)

    def end_day(self) -> date:
        """The first day after the period (exclusive end)."""
        return self.next().first_day()

    def last_day(self) -> date:
        return date.fromordinal(self.end_day().toordinal() - 1)

    def bounds(self, tz: str) -> tuple[datetime, datetime]:
        """``[start, end)`` as UTC instants: local midnight of the first day and of the day after."""
        return local_midnight(self.first_day(), tz), local_midnight(self.end_day(), tz)

    def next(self) -> Period:
        if self.quarter is None:
            return Period(self.year + 1)
        return Period(self.year + 1, 1) if self.quarter == 4 else Period(self.year, self.quarter + 1)

    def previous(self) -> Period:
        if self.quarter is None:
            return Period(self.year - 1)
        return Period(self.year - 1, 4) if self.quarter == 1 else Period(self.year, self.quarter - 1)

    def contains(self, day: date) -> bool:
        return self.first_day() <= day < self.end_day()

    def is_closed(self, tz: str, now: datetime) -> bool:
        return self.bounds(tz)[1] <= now

    def ensure_closed(self, tz: str, now: datetime) -> None:
        if not self.is_closed(tz, now):
            raise PeriodNotClosed(period=self.key)


def parse(key: str) -> Period:
    match = _PATTERN.match(str(key or "").strip().upper())
    if not match or not 1970 <= int(match.group(1)) <= 9998:
        raise InvalidPeriod(period=str(key)[:16])
    return Period(int(match.group(1)), int(match.group(2)) if match.group(2) else None)


def local_midnight(day: date, tz: str) -> datetime:
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(tz)).astimezone(timezone.utc)


def local_date(moment: datetime, tz: str) -> date:
    return moment.astimezone(ZoneInfo(tz)).date()


def quarter_of(day: date) -> Period:
    return Period(day.year, (day.month - 1) // 3 + 1)


def year_of(day: date) -> Period:
    return Period(day.year)


def current(kind: str, tz: str, now: datetime) -> Period:
    """The quarter (or year) running at ``now`` in ``tz``."""
    day = local_date(now, tz)
    return quarter_of(day) if kind == "quarter" else year_of(day)


def last_closed(kind: str, tz: str, now: datetime) -> Period:
    return current(kind, tz, now).previous()


def closed_between(kind: str, tz: str, since: datetime, now: datetime) -> list[Period]:
    """Every period of ``kind`` that ends after ``since`` and has closed by ``now``, oldest first."""
    periods: list[Period] = []
    period = current(kind, tz, since)
    while period.bounds(tz)[1] <= now:
        if period.bounds(tz)[1] > since:
            periods.append(period)
        period = period.next()
    return periods
