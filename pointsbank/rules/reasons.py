"""Why a record scored what it did, in the reader's language.

A record stores its reasons as ``[{"code": ..., "params": {...}}]`` (the engine's reasons plus
``claim_needs_approval`` and ``rejected``); the message is rendered when the record is read,
so it follows ``?lang=`` and the translation catalogue. Unknown codes fall back to the
engine's English text.
"""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l

from pointsbank.rules.engine import Reason

_MESSAGES = {
    "quantity_invalid": _l("The quantity must be a whole number of at least 1 (got %(quantity)s)."),
    "quantity_above_limit": _l("The quantity %(quantity)s is above this rule's limit of %(max_quantity)s per record."),
    "evidence_required": _l("This rule needs evidence (a photo or a document)."),
    "count_cap_reached": _l("Already %(count)s scoring record(s) in %(period_key)s; the %(period)s cap is "
                            "%(cap)s, so this record scores 0 points."),
    "points_cap_reached": _l("The %(period)s cap of %(cap)s points leaves %(remaining)s point(s) in %(period_key)s."),
    "two_person_above": _l("%(points)s points is more than %(threshold)s in absolute value, so two people must "
                           "approve."),
    "approval_required": _l("Needs %(approvals)s approval(s) before it is posted."),
    "claim_needs_approval": _l("A resident's claim waits for a staff member's approval."),
    "rejected": _l("Rejected: %(reason)s"),
}


def message(code: str, params: dict[str, Any]) -> str:
    template = _MESSAGES.get(code)
    if template is not None:
        try:
            return str(template) % params
        except (KeyError, TypeError, ValueError):
            pass
    return Reason(code, dict(params)).message_en


def rendered(reasons: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Stored reasons with their message."""
    return [{"code": r["code"], "params": r.get("params") or {}, "message": message(r["code"], r.get("params") or {})}
            for r in reasons or []]


def stored(reasons: Any) -> list[dict[str, Any]]:
    """Engine reasons as stored on a record."""
    return [{"code": r.code, "params": dict(r.params)} for r in reasons]
