"""Privacy of the boards: which records may appear by name in public.

A rule says ``public: true | false``; without it additions are public and deductions are not
(``Rule.is_public``). A record inherits the flag of its rule in the rule-book version it was
scored under, so changing the book later never unmasks or hides what was already published.
Non-public records never appear by name on a notice board, its CSV/XLSX export or a region
board; the household (its history) and staff (record lists, household pages) still see them,
and the objection period runs for them as for any other record.

    >>> hidden = private_rules({7})       # {(7, "damage_public_facility"), …}
    >>> (record.rulebook_version_id, record.rule_code) in hidden
"""

from __future__ import annotations

from typing import Iterable

import sqlalchemy as sa

from pointsbank.extensions import db
from pointsbank.rules.models import RuleBookVersion
from pointsbank.rules.rulebook import RuleBookError


def private_rules(version_ids: Iterable[int]) -> set[tuple[int, str]]:
    """``(rulebook_version_id, rule_code)`` of every non-public rule in those versions."""
    from pointsbank.rules.services import parsed

    ids = set(version_ids)
    if not ids:
        return set()
    hidden: set[tuple[int, str]] = set()
    for version_id, source in db.session.execute(
            sa.select(RuleBookVersion.id, RuleBookVersion.source).where(RuleBookVersion.id.in_(ids))):
        try:
            book = parsed(source)
        except RuleBookError:
            continue
        hidden.update((version_id, rule.code) for rule in book.rules if not rule.is_public)
    return hidden
