"""Moved to :mod:`pointsbank.reports.pages` (the web layer's SQL belongs with the reports); this
module re-exports it for one release so that views importing ``web.queries`` keep working."""

from pointsbank.reports.pages import *  # noqa: F401,F403
from pointsbank.reports.pages import (COUNTED_STATUSES, Dashboard, QuarterTotals, dashboard,  # noqa: F401
                                      households_by_id, quarter_totals, records_by_id, user_names)
