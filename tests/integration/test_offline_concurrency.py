"""Offline syncs racing on real PostgreSQL: many phones, overlapping batches, shared vouchers."""

import uuid
from collections import Counter
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from pointsbank.ledger.models import LedgerTransaction
from pointsbank.ledger.verify import verify
from pointsbank.offline.models import OfflineRedemption
from pointsbank.redeem.models import Redemption
from tests.conftest import NOW as _NOW
from tests.integration.helpers_redeem import escrow_balance, give, household_balance, issued, new_shop, shop_balance
from tests.integration.test_redeem_concurrency import _at_once

pytestmark = pytest.mark.postgres_only
NOW = datetime.fromisoformat(_NOW)


def test_twenty_concurrent_syncs_of_overlapping_batches_from_four_devices_take_every_item_once(app, client, world, db):
    assert client.patch(f"/api/v1/communities/{world['alpha']}", json={"offline": {
        "enabled": True, "max_points_per_device": 10_000, "max_hours": 24}},
        headers=world.headers("admin")).status_code == 200
    give(world, "a1", 200)
    give(world, "a2", 200)
    vouchers = [issued(client, world, "resident_a1" if i % 2 else "resident_a2", 10) for i in range(16)]
    shops = [new_shop(world["alpha"], f"山村店{i}") for i in range(2)]
    devices = []  # (shop id, headers, device id)
    app.config["CLOCK"] = NOW - timedelta(days=1)
    for shop_id, tills in shops:
        for phone in range(2):
            response = client.post(f"/api/v1/shops/{shop_id}/devices", json={"name": f"手机{phone}"},
                                   headers=tills[0])
            assert response.status_code == 201
            devices.append((shop_id, tills[0], response.get_json()["id"]))
    app.config["CLOCK"] = NOW
    # device d redeems vouchers 4d … 4d+3, and device d also uses voucher 4((d+1)%4): 4 vouchers used twice
    batches = []
    for d in range(4):
        mine = [vouchers[4 * d + k] for k in range(4)] + [vouchers[4 * ((d + 1) % 4)]]
        batches.append([{"client_id": str(uuid.uuid4()), "code": v["token"], "points": 10,
                         "redeemed_at": (NOW - timedelta(minutes=50 - 5 * k + d)).isoformat()}
                        for k, v in enumerate(mine)])

    def send(c, i):  # each device sends its batch (or its first three items) five times at once
        _, headers, device_id = devices[i % 4]
        batch = batches[i % 4] if i % 2 == 0 or i < 4 else batches[i % 4][:3]
        response = c.post("/api/v1/redemptions/sync", json={"device_id": device_id, "redemptions": batch},
                          headers=headers)
        assert response.status_code == 200, response.get_json()
        return response.get_json()["results"]

    answers = [r for results in _at_once(app, 20, send) for r in results]
    db.session.rollback()
    taken = Counter(r["client_id"] for r in answers if r["status"] != "duplicate")
    assert set(taken) == {item["client_id"] for batch in batches for item in batch}
    assert set(taken.values()) == {1}
    final = Counter(r["status"] for r in answers if r["status"] != "duplicate")
    assert final == {"accepted": 16, "double_spend": 4}
    rows = list(db.session.scalars(sa.select(OfflineRedemption)))
    assert len(rows) == 20 and Counter(r.status for r in rows) == {"accepted": 16, "double_spend": 4}
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Redemption)) == 16
    assert db.session.scalar(sa.select(sa.func.count()).select_from(LedgerTransaction).where(
        LedgerTransaction.kind == "offline_overdraft")) == 4
    # every shop is paid for every item it took; the households pay each voucher once, and the double spends again
    for shop_id, _ in shops:
        expected = 10 * sum(1 for r in rows if r.shop_id == shop_id)
        assert shop_balance(world["alpha"], shop_id) == expected
    spent = Counter(r.household_id for r in rows if r.status == "double_spend")
    assert household_balance(world, "a1") == 300 - 80 - 10 * spent[world["a1"]]
    assert household_balance(world, "a2") == 300 - 80 - 10 * spent[world["a2"]]
    assert escrow_balance(world["alpha"]) == 0
    assert verify().ok
