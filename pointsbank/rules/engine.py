"""The scoring engine: a rule, one record and the household's usage in, a decision out.

Pure: no database, no Flask, no clock, integers only. For each cap period the caller passes
what the household already has under this rule in the period that contains the record's
date: ``Usage(points, count)`` summed over its posted and pending records (pending records
reserve their share; count the records that scored, i.e. whose points are not 0).

Invariants of every ``d = evaluate(rule, ...)``:

* ``d.status == "refused"`` exactly when a refusal reason applies (``quantity_invalid``,
  ``quantity_above_limit``, ``evidence_required``, ``rule_not_effective``); then
  ``d.points == 0`` and ``d.approvals_required == 0``;
* ``d.points`` is an ``int`` with the rule's sign (or 0) and ``|d.points| <= |d.requested_points|``;
* caps apply to absolute values, so deductions are capped like awards: for every points cap
  ``|usage.points| + |d.points| <= cap.points`` (when usage was within the cap), and a record
  only scores while ``usage.count < cap.count`` for every count cap; the tightest cap wins;
* a capped record is not refused: it is kept (posted or pending) with its reduced points;
* ``d.status == "pending"`` exactly when ``d.approvals_required > 0``.

Example: 2 points an hour, at most 40 a month, and the household already has 38 in April::

    >>> rule = Rule("volunteer_hour", "volunteer", "志愿服务", "Volunteer service", 2,
    ...             unit="hour", caps=(Cap("month", points=40),))
    >>> d = evaluate(rule, quantity=3, occurred_on=date(2026, 4, 3), has_evidence=False,
    ...              usage={"month": Usage(points=38, count=19)})
    >>> d.status, d.points, d.requested_points, d.capped, d.reasons[0].code
    ('posted', 2, 6, True, 'points_cap_reached')
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

from pointsbank.rules.rulebook import PERIODS, Rule

APPROVALS_REQUIRED = {"auto": 0, "staff": 1, "two_person": 2}


@dataclass(frozen=True)
class Usage:
    """What a household already has under one rule within one cap period."""

    points: int = 0
    count: int = 0


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return "?"


def _not_effective(p: dict) -> str:
    since = f" from {p['effective_from']}" if p.get("effective_from") else ""
    until = f" until {p['effective_until']}" if p.get("effective_until") else ""
    return f"The rule is not in effect on {p['occurred_on']} (it applies{since}{until})."


_MESSAGES = {
    "quantity_invalid": "The quantity must be a whole number of at least 1 (got {quantity}).",
    "quantity_above_limit": "The quantity {quantity} is above this rule's limit of "
                            "{max_quantity} per record.",
    "evidence_required": "This rule needs evidence (a photo or a document reference).",
    "rule_not_effective": _not_effective,
    "count_cap_reached": "Already {count} scoring record(s) in {period_key}; the {period} cap "
                         "is {cap}, so this record scores 0 points.",
    "points_cap_reached": "The {period} cap of {cap} points leaves {remaining} point(s) "
                          "in {period_key}.",
    "two_person_above": "{points} points is more than {threshold} in absolute value, so two "
                        "people must approve.",
    "approval_required": "Needs {approvals} approval(s) before it is posted.",
}


@dataclass(frozen=True)
class Reason:
    code: str
    params: dict = field(default_factory=dict, hash=False)

    @property
    def message_en(self) -> str:
        template = _MESSAGES.get(self.code)
        if template is None:
            return self.code.replace("_", " ").capitalize() + "."
        return template(_Blank(self.params)) if callable(template) else \
            template.format_map(_Blank(self.params))


@dataclass(frozen=True)
class Decision:
    status: str  # "posted" | "pending" | "refused"
    points: int
    requested_points: int
    approvals_required: int
    capped: bool
    reasons: tuple[Reason, ...] = ()

    def to_dict(self) -> dict:
        return {"status": self.status, "points": self.points,
                "requested_points": self.requested_points,
                "approvals_required": self.approvals_required, "capped": self.capped,
                "reasons": [{"code": r.code, "params": dict(r.params), "message": r.message_en}
                            for r in self.reasons]}


def _check_period(period: str) -> None:
    if period not in PERIODS:
        raise ValueError(f"unknown period {period!r}; expected one of {', '.join(PERIODS)}")


@functools.lru_cache(maxsize=4096)  # pure; a bulk import asks for the same few hundred days
def period_key(period: str, day: date) -> str:
    """``"2026-04"`` for a month, ``"2026Q2"`` for a quarter, ``"2026"`` for a year."""
    _check_period(period)
    if period == "month":
        return f"{day.year:04d}-{day.month:02d}"
    if period == "quarter":
        return f"{day.year:04d}Q{(day.month - 1) // 3 + 1}"
    return f"{day.year:04d}"


def period_bounds(period: str, day: date) -> tuple[date, date]:
    """``[start, end)`` of the calendar period that contains ``day``."""
    _check_period(period)
    months = {"month": 1, "quarter": 3, "year": 12}[period]
    first_month = (day.month - 1) // months * months + 1
    start = date(day.year, first_month, 1)
    next_month = first_month + months
    end = date(day.year + 1, 1, 1) if next_month > 12 else date(day.year, next_month, 1)
    return start, end


def _is_quantity(quantity: object) -> bool:
    return isinstance(quantity, int) and not isinstance(quantity, bool) and quantity >= 1


def _refusals(rule: Rule, quantity: object, occurred_on: date, has_evidence: bool,
              book_effective_from: date | None) -> list[Reason]:
    reasons = []
    if not _is_quantity(quantity):
        shown = quantity if isinstance(quantity, int) and not isinstance(quantity, bool) \
            else repr(quantity)
        reasons.append(Reason("quantity_invalid", {"quantity": shown}))
    elif rule.max_quantity is not None and quantity > rule.max_quantity:
        reasons.append(Reason("quantity_above_limit",
                              {"quantity": quantity, "max_quantity": rule.max_quantity}))
    if rule.evidence == "required" and not has_evidence:
        reasons.append(Reason("evidence_required"))
    starts = [d for d in (rule.effective_from, book_effective_from) if d is not None]
    start = max(starts) if starts else None
    if (start is not None and occurred_on < start) or (
            rule.effective_until is not None and occurred_on > rule.effective_until):
        reasons.append(Reason("rule_not_effective", {
            "occurred_on": occurred_on.isoformat(),
            "effective_from": start.isoformat() if start else None,
            "effective_until": rule.effective_until.isoformat() if rule.effective_until else None,
        }))
    return reasons


def _cap_limits(rule: Rule, magnitude: int, occurred_on: date,
                usage: Mapping[str, Usage]) -> list[tuple[int, Reason]]:
    """(most this record may score under the cap, why) for every cap that bites."""
    limits = []
    for cap in rule.caps:
        used = usage.get(cap.period) or Usage()
        key = period_key(cap.period, occurred_on)
        if cap.count is not None and used.count >= cap.count:
            limits.append((0, Reason("count_cap_reached", {
                "period": cap.period, "period_key": key, "cap": cap.count, "count": used.count})))
        if cap.points is not None:
            remaining = max(0, cap.points - abs(used.points))
            if remaining < magnitude:
                limits.append((remaining, Reason("points_cap_reached", {
                    "period": cap.period, "period_key": key, "cap": cap.points,
                    "remaining": remaining})))
    limits.sort(key=lambda limit: limit[0])  # the tightest cap first
    return limits


def evaluate(rule: Rule, *, quantity: int, occurred_on: date, has_evidence: bool,
             usage: Mapping[str, Usage], book_effective_from: date | None = None) -> Decision:
    """Score one record of ``rule``; ``usage`` is keyed by cap period (missing = ``Usage()``)."""
    if isinstance(occurred_on, datetime) or not isinstance(occurred_on, date):
        raise TypeError("occurred_on must be a datetime.date, not a datetime")
    if rule.approval not in APPROVALS_REQUIRED:
        raise ValueError(f"unknown approval level {rule.approval!r}")
    requested = rule.points * quantity if _is_quantity(quantity) else 0
    refusals = _refusals(rule, quantity, occurred_on, has_evidence, book_effective_from)
    if refusals:
        return Decision("refused", 0, requested, 0, False, tuple(refusals))

    limits = _cap_limits(rule, abs(requested), occurred_on, usage)
    magnitude = min([abs(requested), *(allowed for allowed, _ in limits)])
    points = magnitude if requested > 0 else -magnitude
    reasons = [reason for _, reason in limits]

    approvals = APPROVALS_REQUIRED[rule.approval]
    if rule.two_person_above is not None and abs(points) > rule.two_person_above and approvals < 2:
        approvals = 2
        reasons.append(Reason("two_person_above",
                              {"points": points, "threshold": rule.two_person_above}))
    if approvals:
        reasons.append(Reason("approval_required",
                              {"approval": rule.approval, "approvals": approvals}))
    return Decision("pending" if approvals else "posted", points, requested, approvals,
                    points != requested, tuple(reasons))
