"""Star-rated households (星级文明户), as the shelf needs them.

The star levels themselves are built in issue 17 (the town and the county). Until they exist,
:func:`household_stars` answers 0 for every household: an item with ``min_stars`` of 1 or more
is then refused with ``stars_required`` for everybody, and an item without it (or with 0) is
open to all. When issue 17 lands, this one function reads the household's current level and
nothing else in the shelf changes.
"""

from __future__ import annotations


def household_stars(community_id: int, household_id: int) -> int:
    """The household's star level now (0–5). Returns 0 for now: star levels do not exist yet."""
    return 0
