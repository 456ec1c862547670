"""Moved to :mod:`pointsbank.community.household_import` (households belong to the community
package); this module re-exports it for one release so that code importing it here keeps working."""

from pointsbank.community.household_import import *  # noqa: F401,F403
from pointsbank.community.household_import import import_households  # noqa: F401
