"""The community's shelf setting: ``shelf: {board_most_redeemed}`` on ``PATCH /communities/{id}``.

``board_most_redeemed`` (default false): the community's notice board (page and export) shows
the goods its households took most in the board's period — totals per good, never a household.
"""

from __future__ import annotations

from typing import Any

from pointsbank import clock
from pointsbank.audit import services as audit
from pointsbank.auth.models import User
from pointsbank.extensions import db
from pointsbank.shelf.models import ShelfSettings

DEFAULTS = {"board_most_redeemed": False}


def settings_of(community_id: int) -> dict[str, Any]:
    row = db.session.get(ShelfSettings, community_id)
    if row is None:
        return dict(DEFAULTS)
    return {"board_most_redeemed": row.board_most_redeemed}


def update_settings(actor: User | None, community_id: int, changes: dict[str, Any]) -> dict[str, Any]:
    """Apply ``shelf: {board_most_redeemed}`` to a community the caller already may change (the
    community service checked); audited with before/after."""
    before = settings_of(community_id)
    row = db.session.get(ShelfSettings, community_id)
    if row is None:
        row = ShelfSettings(community_id=community_id, **DEFAULTS)
        db.session.add(row)
    for key in DEFAULTS:
        if changes.get(key) is not None:
            setattr(row, key, bool(changes[key]))
    row.updated_at = clock.now()
    db.session.flush()
    after = settings_of(community_id)
    audit.record(actor, "community.shelf", community_id=community_id, target_type="community",
                 target_id=community_id, data={"before": before, "after": after})
    return after
