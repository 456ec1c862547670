"""A unique name or code taken by a concurrent request between the check and the insert.

``make check-reliability`` (schemathesis as admin and as staff at the same time) found a 500:
both created a shop of the same name, both checks saw it free, the second insert hit the
unique constraint. That race is now the same 409 the check gives. It cannot happen on SQLite,
whose ``BEGIN IMMEDIATE`` makes check and insert one, so these run on PostgreSQL: the rival row
is committed from another connection at the moment of the insert, after the check.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session

from pointsbank.auth.models import User
from pointsbank.community import services as community
from pointsbank.community.models import Community, Household, Region
from pointsbank.errors import DomainError
from pointsbank.extensions import db
from pointsbank.redeem import shops
from pointsbank.redeem.models import Shop

pytestmark = pytest.mark.postgres_only


def _staff(world):
    return db.session.scalar(sa.select(User).where(User.username == "staff_a"))


CASES = {
    "shop": (Shop, lambda world: shops.create_shop(_staff(world), world["alpha"], name="同名小店"),
             "shop_name_taken"),
    "household": (Household, lambda world: community.create_household(None, world["alpha"], number="RACE-1",
                                                                      head_name="张三"),
                  "household_number_taken"),
    "community": (Community, lambda world: community.create_community(None, code="race", name="抢注村"),
                  "code_taken"),
    "region": (Region, lambda world: community.create_region(None, code="race", name="抢注镇", kind="town"),
               "code_taken"),
}


@pytest.mark.parametrize("case", CASES)
def test_a_key_taken_between_the_check_and_the_insert_is_the_same_conflict_not_a_500(app, world, case):
    model, create, code = CASES[case]
    rival_engine = sa.create_engine(db.engine.url, poolclass=sa.pool.NullPool)

    fired: list[bool] = []

    def rival_commits_first(mapper, _connection, target):
        if fired:  # once: the rival's own insert comes through here too
            return
        fired.append(True)
        columns = {attr.key: getattr(target, attr.key) for attr in mapper.column_attrs
                   if attr.key != "id" and getattr(target, attr.key) is not None}
        with Session(rival_engine) as rival:
            rival.add(model(**columns))
            rival.commit()

    event.listen(model, "before_insert", rival_commits_first)
    try:
        with pytest.raises(DomainError) as raised:
            create(world)
    finally:
        event.remove(model, "before_insert", rival_commits_first)
        db.session.rollback()
        rival_engine.dispose()
    assert fired, "the rival never got in between"
    assert (raised.value.status, raised.value.code) == (409, code)
