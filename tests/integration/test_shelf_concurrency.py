"""Races on real PostgreSQL: the last units of an item, a household limit, a reservation cancelled
while being collected, two expiry processes. Real threads with their own connections (and real
processes for the expiry), released together; ``ledger verify`` and the stock check after each."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import sqlalchemy as sa

from pointsbank import clock
from pointsbank.auth.models import User
from pointsbank.community import services as community
from pointsbank.database import unit_of_work
from pointsbank.ledger.verify import verify
from pointsbank.redeem import vouchers
from pointsbank.redeem.models import Redemption
from pointsbank.shelf.models import RedemptionLine, Reservation, StockMovement
from pointsbank.shelf.services import catalogue, reservations
from tests.integration.helpers_redeem import escrow_balance, give, household_balance, new_shop, shop_balance
from tests.integration.helpers_shelf import stock_clean, stock_of
from pointsbank.database import row_by_id

pytestmark = pytest.mark.postgres_only


def _at_once(app, count, work):
    """Run ``work(client, i)`` in ``count`` threads, each with its own app context, test client
    and database connection, released together by a barrier; what each returned."""
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


def _staff(db, world):
    return db.session.get(User, world.users["staff_a2"])


def _item(db, world, shop_id, name, points, stock, **fields):
    return unit_of_work(catalogue.create_item)(_staff(db, world), shop_id, name={"zh": name, "en": name},
                                               points=points, stock=stock, **fields)


def _households(world, count, points, prefix):
    ids = [unit_of_work(community.create_household)(None, world["alpha"], number=f"{prefix}-{i}",
                                                     head_name="户主")["id"] for i in range(count)]
    for household in ids:
        give(world, household, points)
    return ids


def _voucher(db, world, household, points):
    return unit_of_work(vouchers.issue_voucher)(_staff(db, world), points=points, household_id=household)


def _basket(client, headers, code, items):
    return _answer(client.post("/api/v1/redemptions", headers=headers,
                               json={"code": code, "items": [{"item_id": i, "quantity": q} for i, q in items]}))


def test_fifty_cashiers_buying_the_last_three_units_at_once_give_exactly_three_baskets(app, world, db):
    shop_id, cashiers = new_shop(world["alpha"], "村积分超市", cashiers=50)
    rice = _item(db, world, shop_id, "大米", 20, 3)
    households = _households(world, 50, 20, "L")
    codes = [_voucher(db, world, h, 20)["token"] for h in households]

    results = _at_once(app, 50, lambda c, i: _basket(c, cashiers[i], codes[i], [(rice["id"], 1)]))
    assert sorted(status for status, _ in results) == [201] * 3 + [409] * 47
    for status, body in results:
        if status == 409:
            assert body["error"]["code"] == "out_of_stock"
            assert body["error"]["details"]["items"][0]["item_id"] == rice["id"]
            assert body["error"]["details"]["items"][0]["name"] == "大米"
    db.session.rollback()
    assert stock_of(rice["id"]) == 0
    # every voucher drew its 20 points; the refused ones still hold them in escrow, redeemable later
    assert all(household_balance(world, household) == 100 for household in households)
    assert shop_balance(world["alpha"], shop_id) == 60
    assert escrow_balance(world["alpha"]) == 20 * 47  # the refused vouchers are still open
    assert verify().ok and stock_clean()


def test_fifty_cashiers_at_five_shops_each_buying_its_last_three_units_give_exactly_three_per_shop(app, world, db):
    shops = [new_shop(world["alpha"], f"超市{s}", cashiers=10) for s in range(5)]
    items = [_item(db, world, shop_id, f"油{s}", 10, 3)["id"] for s, (shop_id, _) in enumerate(shops)]
    households = _households(world, 50, 10, "F")
    codes = [_voucher(db, world, h, 10)["token"] for h in households]

    def send(c, i):
        shop = i % 5
        return _basket(c, shops[shop][1][i // 5], codes[i], [(items[shop], 1)])

    results = _at_once(app, 50, send)
    per_shop = Counter((i % 5, status) for i, (status, _) in enumerate(results))
    assert per_shop == Counter({(s, 201): 3 for s in range(5)}) + Counter({(s, 409): 7 for s in range(5)})
    db.session.rollback()
    assert [stock_of(item) for item in items] == [0] * 5
    assert [shop_balance(world["alpha"], shop_id) for shop_id, _ in shops] == [30] * 5
    assert verify().ok and stock_clean()


def test_twenty_two_item_baskets_whose_second_item_has_one_unit_left_take_one_basket_and_nothing_else(app, world, db):
    shop_id, cashiers = new_shop(world["alpha"], "双品店", cashiers=20)
    soap = _item(db, world, shop_id, "肥皂", 10, 100)
    oil = _item(db, world, shop_id, "食用油", 30, 1)
    households = _households(world, 20, 40, "T")
    codes = [_voucher(db, world, h, 40)["token"] for h in households]

    results = _at_once(app, 20, lambda c, i: _basket(c, cashiers[i], codes[i], [(soap["id"], 1), (oil["id"], 1)]))
    assert sorted(status for status, _ in results) == [201] + [409] * 19
    db.session.rollback()
    assert (stock_of(soap["id"]), stock_of(oil["id"])) == (99, 0)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(RedemptionLine)) == 2
    assert shop_balance(world["alpha"], shop_id) == 40
    assert verify().ok and stock_clean()


def test_a_limit_of_one_a_month_holds_under_twenty_concurrent_baskets_and_reservations(app, world, db):
    shop_id, cashiers = new_shop(world["alpha"], "限购店", cashiers=10)
    rice = _item(db, world, shop_id, "大米", 20, 50, limit={"period": "month", "count": 1})
    (household,) = _households(world, 1, 20 * 20, "M")
    codes = [_voucher(db, world, household, 20)["token"] for _ in range(10)]
    resident = community_resident(world, household)

    def send(c, i):
        if i % 2:
            return _basket(c, cashiers[i // 2], codes[i // 2], [(rice["id"], 1)])
        return _answer(c.post("/api/v1/reservations", headers=resident,
                              json={"shop_id": shop_id, "items": [{"item_id": rice["id"]}]}))

    results = _at_once(app, 20, send)
    assert sorted(status for status, _ in results) == [201] + [422] * 19
    assert {body["error"]["code"] for status, body in results if status == 422} == {"household_limit_reached"}
    db.session.rollback()
    assert stock_of(rice["id"]) == 49
    assert verify().ok and stock_clean()


def community_resident(world, household):
    """Bearer headers of a new resident login of ``household`` (committed)."""
    from pointsbank.auth.services import create_user
    from pointsbank.extensions import db
    from tests.factories import PASSWORD, token_for

    user = create_user(None, role="resident", username=f"res{household}", password=PASSWORD, household_id=household)
    headers = {"Authorization": f"Bearer {token_for(user.id)}"}
    db.session.commit()
    return headers


def _reserve(db, world, household, shop_id, items):
    resident = db.session.get(User, world.users["staff_a2"])
    return unit_of_work(reservations.create_reservation)(resident, shop_id=shop_id, household_id=household,
                                                         items=[{"item_id": i, "quantity": q} for i, q in items])


def test_a_reservation_cancelled_while_being_collected_ends_in_exactly_one_of_the_two(app, world, db):
    shop_id, cashiers = new_shop(world["alpha"], "预约店", cashiers=10)
    soap = _item(db, world, shop_id, "肥皂", 10, 100)
    households = _households(world, 10, 30, "C")
    booked = [_reserve(db, world, h, shop_id, [(soap["id"], 3)]) for h in households]
    assert stock_of(soap["id"]) == 70
    staff = {"Authorization": world.headers("staff_a2")["Authorization"]}

    def send(c, i):
        reservation = booked[i // 2]
        if i % 2:
            return _answer(c.post("/api/v1/reservations/collect", json={"code": reservation["pickup_code"]},
                                  headers=cashiers[i // 2]))
        return _answer(c.delete(f"/api/v1/reservations/{reservation['id']}", headers=staff))

    results = _at_once(app, 20, send)
    db.session.rollback()
    collected = 0
    for n, reservation in enumerate(booked):
        cancel, collect = results[2 * n], results[2 * n + 1]
        assert sorted([cancel[0], collect[0]]) in ([200, 409], [201, 409]), (cancel, collect)
        status = row_by_id(Reservation, reservation["id"]).status
        if collect[0] == 201:
            collected += 1
            assert status == "collected" and household_balance(world, households[n]) == 100
        else:
            assert status == "cancelled" and household_balance(world, households[n]) == 130
    assert stock_of(soap["id"]) == 100 - 3 * collected
    assert shop_balance(world["alpha"], shop_id) == 30 * collected
    assert escrow_balance(world["alpha"]) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Redemption)) == collected
    assert verify().ok and stock_clean()


def _env(app, now):
    env = {k: v for k, v in os.environ.items() if not k.startswith("POINTSBANK_")}
    env.update(POINTSBANK_DATABASE_URL=app.config["DATABASE_URL"], POINTSBANK_CLOCK=now.isoformat(),
               POINTSBANK_SECRET_KEY="test-secret", PYTHONPATH=os.pathsep.join(sys.path))
    return env


def test_two_expiry_processes_at_once_return_each_reservations_stock_and_points_exactly_once(app, world, db):
    app.config["RESERVATION_TTL_HOURS"] = 1
    shop_id, _ = new_shop(world["alpha"], "过期店")
    soap = _item(db, world, shop_id, "肥皂", 5, 200)
    rice = _item(db, world, shop_id, "大米", 10, 200)
    households = _households(world, 40, 30, "E")
    for household in households:
        _reserve(db, world, household, shop_id, [(soap["id"], 1), (rice["id"], 2)])
    assert (stock_of(soap["id"]), stock_of(rice["id"]), escrow_balance(world["alpha"])) == (160, 120, 40 * 25)
    late = clock.now() + timedelta(hours=2)
    command = [sys.executable, "-c", "from pointsbank.cli import main; main()", "reservations", "expire",
               "--batch", "3"]
    processes = [subprocess.Popen(command, env=_env(app, late), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=180) for p in processes]
    assert [p.returncode for p in processes] == [0, 0], outputs
    expired = sum(int(out.split()[1]) for out, _ in outputs)
    assert expired == 40
    db.session.rollback()
    assert (stock_of(soap["id"]), stock_of(rice["id"])) == (200, 200)
    assert escrow_balance(world["alpha"]) == 0
    assert all(household_balance(world, h) == 130 for h in households)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(StockMovement).where(
        StockMovement.reason == "release")) == 80
    again = subprocess.run(command, env=_env(app, late), capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and "expired 0 reservation(s)" in again.stdout
    assert verify().ok and stock_clean()


def test_two_staff_reversing_one_basket_at_once_put_its_goods_back_once(app, world, db):
    shop_id, cashiers = new_shop(world["alpha"], "退货店", cashiers=1)
    soap = _item(db, world, shop_id, "肥皂", 10, 5)
    rice = _item(db, world, shop_id, "大米", 30, 4)
    household = _households(world, 1, 60, "R")[0]
    code = _voucher(db, world, household, 60)["token"]
    status, receipt = _basket(app.test_client(), cashiers[0], code, [(soap["id"], 2), (rice["id"], 1)])
    assert status == 201, receipt
    staff = [world.headers("staff_a2"), world.headers("staff_a3")]

    results = _at_once(app, 2, lambda c, i: _answer(c.post(f"/api/v1/redemptions/{receipt['id']}/reverse",
                                                            json={"reason": "twice"}, headers=staff[i])))
    assert sorted(status for status, _ in results) == [200, 409]
    db.session.rollback()
    assert (stock_of(soap["id"]), stock_of(rice["id"])) == (5, 4)
    returned = db.session.scalars(sa.select(StockMovement).where(StockMovement.redemption_id == receipt["id"],
                                                                 StockMovement.reason == "release")).all()
    assert sorted((m.item_id, m.change) for m in returned) == [(soap["id"], 2), (rice["id"], 1)]
    assert household_balance(world, household) == 160
    assert verify().ok and stock_clean()
