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


def test_the_demo_household_card_pays_at_the_demo_store_with_its_printed_pin(app, client, db):
    from pointsbank.cards.models import HouseholdCard
    from pointsbank.community.models import Household

    logins = {username: password for username, password, _ in demo.seed()}
    db.session.commit()
    household = db.session.scalar(sa.select(Household).where(Household.number == demo.CARD_HOUSEHOLD))
    staff = client.post("/api/v1/auth/tokens", json={"username": "staff2", "password": logins["staff2"]}).json["token"]
    # the credential is shown once, at issue; staff read the live card's print page, whose QR carries it
    card = client.get(f"/api/v1/households/{household.id}/card", headers={"Authorization": f"Bearer {staff}"}).json
    assert card["status"] == "live"
    row = db.session.scalar(sa.select(HouseholdCard).where(HouseholdCard.household_id == household.id,
                                                           HouseholdCard.revoked_at.is_(None)))
    from pointsbank.cards import services as cards

    token = cards.token_of(row)
    cashier = client.post("/api/v1/auth/tokens", json={"username": "cashier", "password": logins["cashier"]}).json["token"]
    before = client.get(f"/api/v1/households/{household.id}", headers={"Authorization": f"Bearer {staff}"}).json
    paid = client.post("/api/v1/redemptions", json={"card": token, "pin": demo.CARD_PIN, "points": 5},
                       headers={"Authorization": f"Bearer {cashier}"})
    assert paid.status_code == 201, paid.json
    after = client.get(f"/api/v1/households/{household.id}", headers={"Authorization": f"Bearer {staff}"}).json
    assert after["balance"] == before["balance"] - 5
    assert verify().ok
