"""The freeze's reason is checked by the database too (both backends)."""

import pytest
import sqlalchemy as sa

from pointsbank.community.models import Household


def test_a_frozen_reason_outside_the_three_is_refused_by_the_database(app, world, db):
    with pytest.raises(sa.exc.IntegrityError):
        db.session.execute(sa.update(Household).where(Household.id == world["a1"]).values(frozen_reason="bored"))
        db.session.flush()
    db.session.rollback()
    db.session.execute(sa.update(Household).where(Household.id == world["a1"]).values(frozen_reason="deceased"))
    db.session.commit()
