"""Wrong PINs racing on real PostgreSQL: twenty at once (threads, each its own session) block the
card exactly at the fifth — counter 5, five throttle records, one audit row per attempt — and the
right PIN is refused afterwards."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from pointsbank.audit.models import AuditEvent
from pointsbank.auth.models import ThrottleEvent
from pointsbank.cards.models import HouseholdCard
from pointsbank.ledger.verify import verify
from tests.integration.helpers_cards import PIN, issued_card, pay
from tests.integration.helpers_redeem import give, household_balance, new_shop
from pointsbank.database import row_by_id

pytestmark = pytest.mark.postgres_only


def test_twenty_concurrent_wrong_pins_block_the_card_exactly_at_five(app, client, world, db):
    give(world, "a1", 50)
    card = issued_card(client, world)
    shop_id, tills = new_shop(world["alpha"], "并发卡店", cashiers=20)
    barrier = threading.Barrier(20)

    def attempt(i):
        with app.app_context():
            c = app.test_client()
            barrier.wait()
            response = c.post("/api/v1/redemptions", json={"card": card["token"], "pin": f"{i:06d}", "points": 5},
                              headers=tills[i])
            return response.status_code, response.get_json()["error"]["code"]

    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(attempt, range(20)))

    assert sorted(answers).count((401, "wrong_pin")) == 4
    assert sorted(answers).count((423, "card_blocked")) == 16  # the fifth wrong PIN, then fifteen on a blocked card
    db.session.expire_all()
    row = row_by_id(HouseholdCard, card["card_id"])
    assert row.wrong_pins == 5 and row.blocked_at is not None
    audits = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "card.pin")).all()
    assert len(audits) == 20
    assert sorted(e.data["outcome"] for e in audits) == ["blocked"] * 15 + ["wrong_pin"] * 5
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ThrottleEvent).where(
        ThrottleEvent.scope == "card_pin:shop")) == 5
    after = pay(client, tills[0], card["token"], PIN, 5)
    assert after.status_code == 423
    assert household_balance(world, "a1") == 150 and verify().ok


def test_two_cards_issued_at_once_for_a_household_leave_exactly_one_live_card(app, client, world, db):
    barrier = threading.Barrier(2)

    def issue(who):
        with app.app_context():
            c = app.test_client()
            barrier.wait()
            response = c.post(f"/api/v1/households/{world['a1']}/card", json={"pin": PIN},
                              headers=world.headers(who))
            return response.status_code

    with ThreadPoolExecutor(2) as pool:
        answers = sorted(pool.map(issue, ["staff_a2", "staff_a3"]))

    assert answers in ([201, 201], [201, 409])  # one after the other (the second revokes), or a refused race
    db.session.expire_all()
    live = db.session.scalars(sa.select(HouseholdCard).where(HouseholdCard.household_id == world["a1"],
                                                             HouseholdCard.revoked_at.is_(None))).all()
    assert len(live) == 1
