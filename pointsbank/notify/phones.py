"""Household phone numbers: checked on the way in, masked on every way out.

A number is 5 to 15 digits (a mobile 13812345678, a landline 07551234567); spaces, dashes and a
leading ``+`` are dropped before the check. Every view, page and export shows
:func:`masked`: the first three and last four digits, the rest as ``*`` (``138****5678``); a short
number keeps only its last two. The full number leaves the database only in an SMS payload.
"""

from __future__ import annotations

import re

_SEPARATORS = re.compile(r"[\s\-()+]")
_DIGITS = re.compile(r"^\d{5,15}$")


class BadPhone(ValueError):
    pass


def normalised(value: str | None) -> str | None:
    """The digits of ``value`` (``None`` or blank: no phone); :class:`BadPhone` otherwise."""
    if value is None:
        return None
    digits = _SEPARATORS.sub("", value)
    if not digits:
        return None
    if not _DIGITS.match(digits):
        raise BadPhone(value)
    return digits


def masked(phone: str | None) -> str | None:
    """``13812345678`` → ``138****5678``; ``12345`` → ``***45``; ``None`` stays ``None``."""
    if not phone:
        return None
    if len(phone) >= 9:
        return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]
    return "*" * (len(phone) - 2) + phone[-2:]
