"""The one clock of the application.

``now()`` is the system time in UTC unless ``POINTSBANK_CLOCK`` (config ``CLOCK``) froze it,
for demos, drills and tests. Everything that needs "now" (expiry, periods, jobs) asks here.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context


def now() -> datetime:
    if has_app_context():
        frozen = current_app.config.get("CLOCK")
        if frozen is not None:
            return frozen
    return datetime.now(timezone.utc)


def today_in(tz: str) -> date:
    """The calendar day it is now in a community's time zone."""
    return now().astimezone(ZoneInfo(tz)).date()
