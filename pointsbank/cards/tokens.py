"""Card credentials: what a household card's QR carries, signed with the community's voucher key.

A credential is four dot-separated ASCII parts, framed like a voucher token but under its own
prefix, so neither can ever be taken for the other::

    PBC1.<kid>.<payload>.<sig>
    PBC1.2msdkdbw.eyJrIjo3LCJjIjoxMiwiaCI6NDB9.9fzn…CQ    (payload: {"k":7,"c":12,"h":40})

* ``payload`` is base64url (no padding) of the compact JSON ``{"k":…,"c":…,"h":…}`` (card id,
  community id, household id), keys in that order; no expiry: a card is revoked by its row.
* ``sig`` is the Ed25519 signature over the ASCII bytes ``PBC1.<kid>.<payload>``. A voucher's
  signature covers ``PB1.…``: a voucher token re-framed as a card (or the reverse) does not
  verify, and each parser refuses the other's prefix before looking at the signature.
* Every part has exactly one accepted spelling (canonical base64url, exactly the JSON
  :func:`sign` writes), as for vouchers. :func:`verify` raises only :class:`MalformedCard`
  or :class:`ForgedCard`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Mapping

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from pointsbank.redeem.tokens import KeyPair, b64url, unb64url  # one canonical base64url for both formats

PREFIX = "PBC1"
MAX_CARD_TOKEN_LENGTH = 256
_MAX_INT = 2**63 - 1
_SIG_BYTES = 64
_KID_RE = re.compile(r"[A-Za-z0-9_-]{1,32}")


@dataclass(frozen=True)
class CardClaims:
    card_id: int
    community_id: int
    household_id: int


class CardTokenError(ValueError):
    code = "card_malformed"


class MalformedCard(CardTokenError):
    code = "card_malformed"


class ForgedCard(CardTokenError):
    code = "card_forged"


def _valid(claims: CardClaims) -> bool:
    return all(type(v) is int and 1 <= v <= _MAX_INT
               for v in (claims.card_id, claims.community_id, claims.household_id))


def _payload_json(claims: CardClaims) -> bytes:
    obj = {"k": claims.card_id, "c": claims.community_id, "h": claims.household_id}
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def sign(key: KeyPair, claims: CardClaims) -> str:
    """The credential for ``claims``, signed with ``key`` (``ValueError`` on out-of-range claims)."""
    if not _valid(claims):
        raise ValueError("card, community and household ids are positive integers")
    signing_input = f"{PREFIX}.{key.kid}.{b64url(_payload_json(claims))}"
    signature = Ed25519PrivateKey.from_private_bytes(key.private_raw).sign(signing_input.encode("ascii"))
    return f"{signing_input}.{b64url(signature)}"


def looks_like_card(text: Any) -> bool:
    return isinstance(text, str) and text.startswith(PREFIX + ".")


def _parse(token: Any) -> tuple[str, str, CardClaims, bytes]:
    if not isinstance(token, str) or len(token) > MAX_CARD_TOKEN_LENGTH or not token.isascii():
        raise MalformedCard("not a card")
    parts = token.split(".")
    if len(parts) != 4 or parts[0] != PREFIX or not _KID_RE.fullmatch(parts[1]):
        raise MalformedCard("not a card")
    _, kid, payload_text, sig_text = parts
    try:
        payload = unb64url(payload_text)
        signature = unb64url(sig_text)
        obj = json.loads(payload)
    except (ValueError, RecursionError) as exc:
        raise MalformedCard("bad encoding") from exc
    if len(signature) != _SIG_BYTES or not isinstance(obj, dict) or list(obj) != ["k", "c", "h"]:
        raise MalformedCard("bad claims")
    claims = CardClaims(card_id=obj["k"], community_id=obj["c"], household_id=obj["h"])
    if not _valid(claims) or _payload_json(claims) != payload:
        raise MalformedCard("bad claims")
    return f"{PREFIX}.{kid}.{payload_text}", kid, claims, signature


def peek(token: Any) -> tuple[str, CardClaims]:
    """(kid, claims) WITHOUT checking the signature (to find the key); raises only MalformedCard."""
    try:
        _, kid, claims, _ = _parse(token)
    except MalformedCard:
        raise
    except Exception as exc:  # the contract is "only MalformedCard"
        raise MalformedCard("not a card") from exc
    return kid, claims


def verify(token: str, public_keys: Mapping[str, bytes]) -> CardClaims:
    """The claims of ``token`` if one of ``public_keys`` (kid → raw key) signed it."""
    try:
        signing_input, kid, claims, signature = _parse(token)
    except MalformedCard:
        raise
    except Exception as exc:
        raise MalformedCard("not a card") from exc
    public_raw = public_keys.get(kid)
    if public_raw is None:
        raise ForgedCard("signed by an unknown key")
    try:
        Ed25519PublicKey.from_public_bytes(public_raw).verify(signature, signing_input.encode("ascii"))
    except InvalidSignature as exc:
        raise ForgedCard("signature does not match") from exc
    return claims
