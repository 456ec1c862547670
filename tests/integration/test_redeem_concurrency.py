"""Races on real PostgreSQL: many tills, one voucher; many vouchers, one household."""

import random
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from pointsbank.auth.models import User
from pointsbank.community import services as community
from pointsbank.database import unit_of_work
from pointsbank.ledger import services as ledger
from pointsbank.ledger.models import Posting
from pointsbank.ledger.verify import verify
from pointsbank.redeem import vouchers
from pointsbank.redeem.models import Redemption, Voucher
from tests.integration.helpers_redeem import escrow_balance, give, household_balance, issued, new_shop, shop_balance
from pointsbank.database import row_by_id

pytestmark = pytest.mark.postgres_only


def _at_once(app, count, work):
    """Run ``work(client, i)`` in ``count`` threads, each with its own app context and test
    client, released together by a barrier; what each returned."""
    barrier = threading.Barrier(count)

    def run(i):
        with app.app_context():
            client = app.test_client()
            barrier.wait()
            return work(client, i)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(run, range(count)))


def _answer(response):
    return response.status_code, response.get_json()


def test_fifty_tills_redeeming_the_same_voucher_at_once_give_exactly_one_receipt(app, client, world, db):
    give(world, "a1", 50)
    voucher = issued(client, world, "resident_a1", 50)
    _, cashiers = new_shop(world["alpha"], "并发店", cashiers=49)
    tills = [world.headers("cashier_a")] + cashiers

    def send(c, i):
        code = voucher["token"] if i % 2 else voucher["short_code"]
        return _answer(c.post("/api/v1/redemptions", json={"code": code, "points": 30}, headers=tills[i]))

    results = _at_once(app, 50, send)
    statuses = sorted(status for status, _ in results)
    assert statuses == [201] + [409] * 49
    assert {body["error"]["code"] for status, body in results if status == 409} == {"voucher_already_redeemed"}
    db.session.rollback()
    (receipt,) = [body for status, body in results if status == 201]
    assert household_balance(world, "a1") == 120 and escrow_balance(world["alpha"]) == 0
    assert shop_balance(world["alpha"], receipt["shop_id"]) == 30
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Redemption)) == 1
    assert verify().ok


def test_two_hundred_vouchers_redeemed_at_ten_shops_at_once_leave_every_balance_exact(app, world, db):
    shops = [new_shop(world["alpha"], f"店{i}") for i in range(10)]
    households = [unit_of_work(community.create_household)(None, world["alpha"], number=f"R-{i}", head_name="户主")["id"]
                  for i in range(20)]
    for household in households:
        give(world, household, 500)
    staff = db.session.get(User, world.users["staff_a2"])
    rng = random.Random(7)
    plan = []
    for i in range(200):
        household = households[i % 20]
        voucher = unit_of_work(vouchers.issue_voucher)(staff, points=rng.randint(1, 50), household_id=household)
        rung_up = rng.randint(1, voucher["points"])
        plan.append((voucher, household, i % 10, rung_up))

    def till(c, thread):  # each of 20 threads redeems every 20th voucher of the plan
        answers = []
        for voucher, _, shop, points in plan[thread::20]:
            answers.append(_answer(c.post("/api/v1/redemptions", json={"code": voucher["token"], "points": points},
                                          headers=shops[shop][1][0])))
        return answers

    answers = [answer for answers in _at_once(app, 20, till) for answer in answers]
    assert len(answers) == 200 and {status for status, _ in answers} == {201}, answers
    db.session.rollback()
    for shop in range(10):
        expected = sum(points for _, _, s, points in plan if s == shop)
        assert shop_balance(world["alpha"], shops[shop][0]) == expected
    for household in households:
        expected = 600 - sum(points for _, h, _, points in plan if h == household)
        assert household_balance(world, household) == expected
    assert escrow_balance(world["alpha"]) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Redemption)) == 200
    assert verify().ok


def test_fifty_vouchers_of_thirty_asked_at_once_from_one_hundred_redeemable_give_exactly_three(app, world, db):
    give(world, "a1", 100)

    def send(c, i):
        return _answer(c.post("/api/v1/vouchers", json={"points": 30}, headers=world.headers("resident_a1")))

    results = _at_once(app, 50, send)
    statuses = sorted(status for status, _ in results)
    assert statuses == [201] * 3 + [422] * 47
    assert {body["error"]["code"] for status, body in results if status == 422} == {"insufficient_points"}
    db.session.rollback()
    assert household_balance(world, "a1") == 110 and escrow_balance(world["alpha"]) == 90
    account = ledger.household_account_id(world["a1"])
    lowest = db.session.scalar(sa.select(sa.func.min(Posting.balance_after)).where(Posting.account_id == account,
                                                                                    Posting.points < 0))
    assert lowest == 110  # never below the base of 100
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Voucher)) == 3
    assert verify().ok


def test_a_cancel_racing_redemptions_of_the_same_voucher_lets_exactly_one_win(app, client, world, db):
    give(world, "a1", 40)
    voucher = issued(client, world, "resident_a1", 40)

    def send(c, i):
        if i == 0:
            return _answer(c.delete(f"/api/v1/vouchers/{voucher['id']}", headers=world.headers("resident_a1")))
        return _answer(c.post("/api/v1/redemptions", json={"code": voucher["token"], "points": 40},
                              headers=world.headers("cashier_a")))

    results = _at_once(app, 20, send)
    winners = [status for status, _ in results if status in (200, 201)]
    assert len(winners) == 1 and sorted(s for s, _ in results).count(409) == 19
    db.session.rollback()
    status = row_by_id(Voucher, voucher["id"]).status
    if status == "cancelled":
        assert household_balance(world, "a1") == 140 and shop_balance(world["alpha"], world["shop_a"]) == 0
    else:
        assert status == "redeemed" and household_balance(world, "a1") == 100
        assert shop_balance(world["alpha"], world["shop_a"]) == 40
    assert escrow_balance(world["alpha"]) == 0
    assert verify().ok
