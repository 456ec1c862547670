"""The demo that ``make run`` seeds: every role can log in, the history is scored through the
rule book, some records wait for approval, the ledger verifies, and seeding twice adds nothing."""

from __future__ import annotations

import sqlalchemy as sa

from pointsbank import demo
from pointsbank.ledger.models import Posting
from pointsbank.ledger.verify import verify
from pointsbank.rules.models import BehaviourRecord


def test_the_demo_seeds_a_scored_history_every_login_works_and_a_second_seed_adds_nothing(app, client, db):
    logins = demo.seed()
    db.session.commit()

    for username, password, role in logins:
        response = client.post("/api/v1/auth/tokens", json={"username": username, "password": password})
        assert response.status_code == 201, (username, response.json)
        me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {response.json['token']}"})
        assert me.json["user"]["role"] == role
    statuses = dict(db.session.execute(sa.select(BehaviourRecord.status, sa.func.count())
                                       .group_by(BehaviourRecord.status)).all())
    assert statuses["posted"] >= 10 and statuses["pending"] >= 1
    assert verify().ok
    postings = db.session.scalar(sa.select(sa.func.count()).select_from(Posting))

    demo.seed()
    db.session.commit()

    assert db.session.scalar(sa.select(sa.func.count()).select_from(Posting)) == postings


def test_the_demo_store_has_a_stocked_shelf_that_the_demo_resident_can_browse(app, client, db):
    from pointsbank.shelf.services.stock import verify_stock

    logins = {username: password for username, password, _ in demo.seed()}
    db.session.commit()
    token = client.post("/api/v1/auth/tokens", json={"username": "resident", "password": logins["resident"]}).json
    shop_id = client.post("/api/v1/auth/tokens", json={"username": "cashier", "password": logins["cashier"]}
                          ).json["user"]["shop_id"]
    items = client.get(f"/api/v1/shops/{shop_id}/items", headers={"Authorization": f"Bearer {token['token']}"}).json
    assert {item["name"]["zh"] for item in items} == {zh for zh, *_ in demo.SHELF}
    rice = next(item for item in items if item["name"]["en"] == "Rice 5 kg")
    assert (rice["stock"], rice["limit"], "eligible" in rice) == (10, {"period": "month", "count": 1}, True)
    assert verify_stock().ok
