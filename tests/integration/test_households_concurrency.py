"""Freeze racing the till on real PostgreSQL: vouchers issued and redeemed while staff freeze the
household — each either went through whole or was refused with household_frozen, nothing else
moved, the balances are exact, and nothing moves once the freeze has committed."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from pointsbank.ledger.verify import verify
from tests.integration.helpers_redeem import escrow_balance, give, household_balance, issued, new_shop, shop_balance

pytestmark = pytest.mark.postgres_only


def _at_once(app, count, work):
    barrier = threading.Barrier(count)

    def run(i):
        with app.app_context():
            client = app.test_client()
            barrier.wait()
            return work(client, i)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(run, range(count)))


def test_a_freeze_racing_twenty_redemptions_and_twenty_voucher_issues_leaves_every_point_accounted(app, client,
                                                                                                     world, db):
    give(world, "a1", 900)  # 1000 on the account, 900 redeemable
    issued_vouchers = [issued(client, world, "resident_a1", 20) for _ in range(20)]  # 400 into the escrow
    shop_id, tills = new_shop(world["alpha"], "并发店", cashiers=20)
    assert household_balance(world, "a1") == 600

    def work(c, i):
        if i == 0:
            return "freeze", c.post(f"/api/v1/households/{world['a1']}/freeze", json={"reason": "under_review"},
                                    headers=world.headers("staff_a2"))
        if i <= 20:
            return "redeem", c.post("/api/v1/redemptions", json={"code": issued_vouchers[i - 1]["token"], "points": 15},
                                    headers=tills[i - 1])
        return "issue", c.post("/api/v1/vouchers", json={"points": 10}, headers=world.headers("resident_a1"))

    results = _at_once(app, 41, work)
    db.session.rollback()
    (freeze,) = [r for kind, r in results if kind == "freeze"]
    assert freeze.status_code == 200, freeze.get_json()
    for kind, response in results:
        if kind != "freeze":
            assert response.status_code in (201, 422), response.get_json()
            if response.status_code == 422:
                assert response.get_json()["error"]["code"] == "household_frozen"
    redeemed = sum(1 for kind, r in results if kind == "redeem" and r.status_code == 201)
    new_vouchers = sum(1 for kind, r in results if kind == "issue" and r.status_code == 201)
    # a redemption of a 20-point voucher for 15: 15 to the shop, 5 back; an issue: 10 into the escrow
    assert household_balance(world, "a1") == 600 + 5 * redeemed - 10 * new_vouchers
    assert shop_balance(world["alpha"], shop_id) == 15 * redeemed
    assert escrow_balance(world["alpha"]) == 400 - 20 * redeemed + 10 * new_vouchers
    assert verify().ok

    balances = (household_balance(world, "a1"), shop_balance(world["alpha"], shop_id), escrow_balance(world["alpha"]))
    after = _at_once(app, 10, lambda c, i: c.post("/api/v1/vouchers", json={"points": 10},
                                                  headers=world.headers("resident_a1")))
    assert {r.status_code for r in after} == {422}
    db.session.rollback()
    assert (household_balance(world, "a1"), shop_balance(world["alpha"], shop_id),
            escrow_balance(world["alpha"])) == balances
