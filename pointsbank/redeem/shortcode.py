"""Voucher short codes: what a cashier types when the QR will not scan.

A short code is 15 random digits (from :mod:`secrets`, about 50 bits) followed by one Damm
check digit, 16 ASCII digits in all, shown in groups of four for reading aloud::

    >>> check_digit("572498103665421")
    '4'
    >>> format("5724981036654214")
    '5724 9810 3665 4214'
    >>> is_valid("5724-9810-3665-4214"), is_valid("５７２４ ９８１０ ３６６５ ４２１４")
    (True, True)
    >>> is_valid("5724 9810 3665 4241")      # last two digits swapped
    False

Invariants:

* ``generate()`` returns exactly :data:`DIGITS` ASCII digits whose Damm checksum is 0.
* The Damm check digit detects every single-digit substitution and every transposition of
  two adjacent different digits (the table is a weakly totally anti-symmetric quasigroup),
  so a typo is refused as malformed before any database lookup.
* :func:`normalize` is total: any input (even a non-``str``) gives a ``str``; it only removes
  spaces and dashes and maps full-width digits to ASCII, so what a cashier sees grouped and
  what they type compare equal after normalizing.
* :func:`is_valid` and :func:`looks_like_short_code` never raise.

A short code is not a secret of its own strength: the redeem service still looks it up,
checks state and rate-limits guesses. The check digit only catches honest mistakes.
"""

from __future__ import annotations

import secrets

__all__ = ["DIGITS", "generate", "check_digit", "is_valid", "normalize", "format", "looks_like_short_code"]

#: length of a short code, check digit included
DIGITS = 16
_RANDOM_DIGITS = DIGITS - 1
_GROUP = 4
_ASCII_DIGITS = frozenset("0123456789")

# Damm's order-10 quasigroup (H. M. Damm, 2004): row = interim digit, column = next digit.
# Its diagonal is all zeros, which is what makes a trailing check digit bring the interim
# back to 0, and it is weakly totally anti-symmetric, which catches adjacent transpositions.
_DAMM = (
    (0, 3, 1, 7, 5, 9, 8, 6, 4, 2),
    (7, 0, 9, 2, 1, 5, 4, 8, 6, 3),
    (4, 2, 0, 6, 8, 7, 1, 3, 5, 9),
    (1, 7, 5, 0, 9, 8, 3, 4, 2, 6),
    (6, 1, 2, 3, 0, 4, 5, 9, 7, 8),
    (3, 6, 7, 4, 2, 0, 9, 5, 8, 1),
    (5, 8, 6, 9, 7, 2, 0, 1, 3, 4),
    (8, 9, 4, 5, 3, 6, 2, 0, 1, 7),
    (9, 4, 3, 8, 6, 1, 7, 2, 0, 5),
    (2, 5, 8, 1, 4, 3, 6, 7, 9, 0),
)

# Separators a cashier (or a phone keyboard in Chinese input mode) may put between groups:
# ASCII hyphen, hyphen, non-breaking hyphen, figure dash, en dash, em dash, minus sign,
# full-width hyphen-minus. Whitespace of any kind (including U+3000) is removed separately.
_DASHES = "-\u2010\u2011\u2012\u2013\u2014\u2212\uff0d"
_TRANSLATE = {ord(d): None for d in _DASHES}
_TRANSLATE.update({0xFF10 + i: ord("0") + i for i in range(10)})  # ０-９ → 0-9


def _is_ascii_digits(text: str) -> bool:
    return bool(text) and all(ch in _ASCII_DIGITS for ch in text)


def _damm_interim(digits: str) -> int:
    interim = 0
    for ch in digits:
        interim = _DAMM[interim][ord(ch) - 48]
    return interim


def check_digit(digits: str) -> str:
    """The Damm check digit to append to ``digits`` (ASCII digits only, at least one)."""
    if not isinstance(digits, str) or not _is_ascii_digits(digits):
        raise ValueError("check_digit needs a non-empty string of ASCII digits")
    return str(_damm_interim(digits))


def generate() -> str:
    """A fresh short code: 15 random digits and their check digit, no separators."""
    body = "".join(str(secrets.randbelow(10)) for _ in range(_RANDOM_DIGITS))
    return body + check_digit(body)


def normalize(text: str) -> str:
    """``text`` without whitespace and dashes, full-width digits made ASCII; ``""`` for non-str.

    Other characters are kept, so a letter or a stray punctuation mark still makes the result
    fail :func:`is_valid` instead of being silently dropped.
    """
    if not isinstance(text, str):
        return ""
    return "".join(text.translate(_TRANSLATE).split())


def is_valid(code: str) -> bool:
    """Whether ``code`` is, after :func:`normalize`, 16 ASCII digits with a correct check digit."""
    digits = normalize(code)
    return len(digits) == DIGITS and _is_ascii_digits(digits) and _damm_interim(digits) == 0


def format(code: str) -> str:  # noqa: A001 - the module is used as ``shortcode.format(...)``
    """``code`` grouped in fours for reading aloud: ``"1234 5678 9012 3456"``.

    Accepts any separators :func:`normalize` removes; raises ``ValueError`` unless what is left
    is ASCII digits. It does not check the check digit (see :func:`is_valid`).
    """
    digits = normalize(code)
    if not _is_ascii_digits(digits):
        raise ValueError("a short code is made of digits")
    return " ".join(digits[i:i + _GROUP] for i in range(0, len(digits), _GROUP))


def looks_like_short_code(text: str) -> bool:
    """Whether ``text`` is digits only after normalizing (any length): route it to short-code
    handling, where a wrong length or check digit is then refused as malformed."""
    return _is_ascii_digits(normalize(text))
