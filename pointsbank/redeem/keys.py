"""Each community's Ed25519 voucher-signing keys: created on first need, rotated on demand.

* One key per community signs (the newest with ``retired_at`` unset). It is created the first
  time a voucher of the community is issued, under a per-community lock (a PostgreSQL
  advisory lock; SQLite's write lock), so two first vouchers never make two keys.
* ``rotate`` retires every signing key of the community and makes a new one. A retired key
  keeps verifying the tokens it signed: the redeem service accepts any key of the voucher's
  community whose kid the voucher itself records, and refuses an expired voucher on its own.
  ``GET /api/v1/keys`` lists a retired key while a voucher it signed may still be redeemed
  (issued and not yet expired), so an offline verifier never drops a key too early.
* Private keys are stored only encrypted with the app's ``SECRET_KEY``
  (:func:`tokens.encrypt_private_key`); decrypted pairs and public keys are cached per
  process by kid (a kid names one key for ever).
"""

from __future__ import annotations

import functools
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l

from pointsbank import clock
from pointsbank.audit import services as audit
from pointsbank.auth import policy
from pointsbank.auth.models import User
from pointsbank.community.models import Community
from pointsbank.database import is_postgresql, execute
from pointsbank.errors import NotFound, ServiceBusy
from pointsbank.extensions import db
from pointsbank.redeem import tokens
from pointsbank.redeem.models import SigningKey, Voucher

#: first half of the advisory-lock key that guards key creation (second half: the community id)
_LOCK_NAMESPACE = 0x7062_6B79  # "pbky"

_pairs: dict[tuple[str, str], tokens.KeyPair] = {}
_publics: dict[str, tuple[int, bytes]] = {}


class SigningKeyUnavailable(ServiceBusy):
    code = "signing_key_unavailable"
    message = _l("The community's signing key cannot be read with this server's secret key; "
                 "an administrator must rotate the keys (pointsbank keys rotate).")


def _lock(community_id: int) -> None:
    if is_postgresql():
        db.session.execute(sa.select(sa.func.pg_advisory_xact_lock(_LOCK_NAMESPACE, community_id)))


def _active_row(community_id: int) -> Any:
    """The community's active key as a row (kid, public_key, private_key_encrypted), or None."""
    return execute(_active_statement(), {"community_id": community_id}).first()


@functools.lru_cache(maxsize=1)
def _active_statement() -> sa.Select:
    """Built once: every voucher issue reads it."""
    table = SigningKey.__table__
    return (sa.select(table.c.kid, table.c.public_key, table.c.private_key_encrypted)
            .where(table.c.community_id == sa.bindparam("community_id"), table.c.retired_at.is_(None))
            .order_by(table.c.id.desc()).limit(1))


def _create(community_id: int) -> SigningKey:
    pair = tokens.generate_keypair()
    row = SigningKey(community_id=community_id, kid=pair.kid, public_key=pair.public_raw,
                     private_key_encrypted=tokens.encrypt_private_key(current_app.config["SECRET_KEY"],
                                                                      pair.private_raw))
    db.session.add(row)
    db.session.flush()
    return row


def keypair_of(row: Any) -> tokens.KeyPair:
    secret = current_app.config["SECRET_KEY"]
    cache_key = (secret, row.kid)
    pair = _pairs.get(cache_key)
    if pair is None:
        try:
            private_raw = tokens.decrypt_private_key(secret, row.private_key_encrypted)
        except ValueError as error:
            current_app.logger.error("signing key %s cannot be decrypted: %s", row.kid, error)
            raise SigningKeyUnavailable() from error
        pair = tokens.KeyPair(kid=row.kid, private_raw=private_raw, public_raw=bytes(row.public_key))
        _pairs[cache_key] = pair
    return pair


def active_key(community_id: int) -> tokens.KeyPair:
    """The community's signing key pair, created on first need."""
    row = _active_row(community_id)
    if row is None:
        _lock(community_id)
        row = _active_row(community_id) or _create(community_id)
    return keypair_of(row)


def keypair_for_kid(kid: str) -> tokens.KeyPair:
    """The pair of any key (retired ones too): a voucher's token is re-signed on demand, and
    Ed25519 signatures are deterministic, so it is the very token issued."""
    cached = _pairs.get((current_app.config["SECRET_KEY"], kid))
    if cached is not None:
        return cached
    row = db.session.scalar(sa.select(SigningKey).where(SigningKey.kid == kid))
    if row is None:
        raise NotFound()
    return keypair_of(row)


def public_key(kid: str) -> tuple[int, bytes] | None:
    """(community id, raw public key) of ``kid``, or None for a kid nobody issued."""
    found = _publics.get(kid)
    if found is None:
        row = db.session.execute(sa.select(SigningKey.community_id, SigningKey.public_key).where(
            SigningKey.kid == kid)).first()
        if row is None:
            return None
        found = _publics[kid] = (row.community_id, bytes(row.public_key))
    return found


def rotate(actor: User | None, community_id: int) -> dict[str, Any]:
    """Retire the community's signing keys and make a new one (``actor`` None: the command line)."""
    if actor is not None:
        policy.community_for(actor, community_id, "admin")
    elif db.session.get(Community, community_id) is None:
        raise NotFound()
    _lock(community_id)
    now = clock.now()
    retired = list(db.session.scalars(sa.select(SigningKey).where(
        SigningKey.community_id == community_id, SigningKey.retired_at.is_(None))))
    for row in retired:
        row.retired_at = now
    new = _create(community_id)
    audit.record(actor, "signing_key.rotate", community_id=community_id, target=new,
                 data={"kid": new.kid, "retired": [row.kid for row in retired]})
    return key_view(new)


def key_view(row: SigningKey) -> dict[str, Any]:
    return {**tokens.public_jwk(row.kid, bytes(row.public_key)), "community_id": row.community_id,
            "status": "active" if row.retired_at is None else "retired",
            "created_at": row.created_at, "retired_at": row.retired_at}


def key_set(community_id: int | None = None) -> dict[str, Any]:
    """The public keys that verify voucher tokens: every signing key, and every retired key
    while a voucher it signed can still be redeemed."""
    now = clock.now()
    stmt = sa.select(SigningKey).order_by(SigningKey.community_id, SigningKey.id)
    if community_id is not None:
        stmt = stmt.where(SigningKey.community_id == community_id)
    rows = list(db.session.scalars(stmt))
    retired = [row for row in rows if row.retired_at is not None]
    live: set[str] = set()
    if retired:
        # uses ix_vouchers_community_id_status_expires_at: only open vouchers are read
        live = set(db.session.scalars(sa.select(sa.distinct(Voucher.kid)).where(
            Voucher.community_id.in_({row.community_id for row in retired}), Voucher.status == "issued",
            Voucher.expires_at > now, Voucher.kid.in_([row.kid for row in retired]))))
    return {"keys": [key_view(row) for row in rows if row.retired_at is None or row.kid in live]}
