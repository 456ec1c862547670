"""A household's card: the signed credential in its QR names the row, the row says whether it is live.

* At most one live card per household: the partial unique key ``(community_id, household_id)``
  over rows with ``revoked_at IS NULL``; a new card revokes the old one first.
* ``wrong_pins`` counts wrong PINs in a row (0..5), written only under the row's lock; the fifth
  sets ``blocked_at`` and the card refuses every PIN until staff unblock it (counter back to 0).
* ``pin_hash`` is a slow salted hash (werkzeug's scheme, as for passwords), never the PIN.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from pointsbank.database import UTCDateTime, tenant_community_id, tenant_id, utcnow
from pointsbank.extensions import db
from pointsbank.tenancy import tenant_key

#: wrong PINs in a row that block a card
MAX_WRONG_PINS = 5


class HouseholdCard(db.Model):
    __tablename__ = "household_cards"
    __table_args__ = (
        sa.CheckConstraint(f"wrong_pins >= 0 AND wrong_pins <= {MAX_WRONG_PINS}", name="wrong_pins_range"),
        sa.Index("uq_household_cards_live", "community_id", "household_id", unique=True,
                 postgresql_where=sa.text("revoked_at IS NULL"), sqlite_where=sa.text("revoked_at IS NULL")),
        tenant_key("household_id", "households"),
    )

    id: Mapped[int] = tenant_id(sa.Integer())
    community_id: Mapped[int] = tenant_community_id()
    household_id: Mapped[int] = mapped_column(index=True)
    #: the signing key (the community's voucher key) that signed the card's credential
    kid: Mapped[str] = mapped_column(sa.String(32))
    pin_hash: Mapped[str] = mapped_column(sa.String(255))
    wrong_pins: Mapped[int] = mapped_column(default=0)
    blocked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_by_id: Mapped[int | None] = mapped_column()
    issued_by_id: Mapped[int | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
