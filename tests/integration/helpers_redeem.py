"""Helpers for voucher, shop and redemption tests (built on the same services the API uses)."""

from __future__ import annotations

from typing import Any

from pointsbank.auth.services import create_user
from pointsbank.extensions import db
from pointsbank.ledger import services as ledger
from tests.factories import PASSWORD, make_shop, token_for
from tests.integration.helpers_ledger import award


def give(world: Any, household: str | int, points: int) -> None:
    """Award ``points`` above the base to a household of alpha (or beta for ``b…``) and commit."""
    household_id = world[household] if isinstance(household, str) else household
    community = world["beta"] if household == "b1" else world["alpha"]
    award(community, household_id, points)
    db.session.commit()


def escrow_balance(community_id: int) -> int:
    return ledger.account_balance(ledger.system_accounts(community_id)["vouchers"])


def shop_balance(community_id: int, shop_id: int) -> int:
    return ledger.account_balance(ledger.shop_account(community_id, shop_id, create=False))


def household_balance(world: Any, household: str | int) -> int:
    return ledger.household_balance(world[household] if isinstance(household, str) else household)


def issue(client: Any, world: Any, user: str, points: int, household_id: int | None = None,
          **headers: str) -> Any:
    body: dict[str, Any] = {"points": points}
    if household_id is not None:
        body["household_id"] = household_id
    return client.post("/api/v1/vouchers", json=body, headers=world.headers(user, **headers))


def issued(client: Any, world: Any, user: str, points: int, household_id: int | None = None) -> dict[str, Any]:
    response = issue(client, world, user, points, household_id)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def redeem(client: Any, headers: dict[str, str], code: str, points: int) -> Any:
    return client.post("/api/v1/redemptions", json={"code": code, "points": points}, headers=headers)


def new_shop(community_id: int, name: str, cashiers: int = 1) -> tuple[int, list[dict[str, str]]]:
    """A shop partnered with ``community_id`` and bearer headers of its new cashiers (committed)."""
    shop = make_shop(community_id, name)
    headers = []
    for i in range(cashiers):
        user = create_user(None, role="cashier", username=f"c{shop.id}_{i}", password=PASSWORD, shop_id=shop.id)
        headers.append({"Authorization": f"Bearer {token_for(user.id)}"})
    db.session.commit()
    return shop.id, headers


def voucher_ttl(client: Any, world: Any, hours: int, community: str = "alpha") -> None:
    """Set a community's voucher lifetime (the test tokens live a day, so expiry tests use short vouchers)."""
    response = client.patch(f"/api/v1/communities/{world[community]}", json={"voucher_ttl_hours": hours},
                            headers=world.headers("admin"))
    assert response.status_code == 200
