"""Partner shops, their cashiers, their redemption lists, and corrections of a redemption."""

from pointsbank.audit.models import AuditEvent
from pointsbank.ledger.verify import verify
from tests.integration.helpers_redeem import (escrow_balance, give, household_balance, issued, new_shop, redeem,
                                              shop_balance)


def _create(client, world, user, community="alpha", **body):
    return client.post(f"/api/v1/communities/{world[community]}/shops", json={"name": "新店", **body},
                       headers=world.headers(user))


def test_staff_register_a_shop_partnered_with_their_community_and_its_account_opens(client, world, db):
    response = _create(client, world, "staff_a", address="村口 1 号")
    assert response.status_code == 201
    shop = response.get_json()
    assert (shop["name"], shop["address"], shop["community_id"], shop["partner_community_ids"]) == (
        "新店", "村口 1 号", world["alpha"], [world["alpha"]])
    assert shop_balance(world["alpha"], shop["id"]) == 0
    assert db.session.query(AuditEvent).filter_by(action="shop.create", target_id=str(shop["id"])).count() == 1


def test_a_shop_name_is_unique_within_a_community(client, world):
    assert _create(client, world, "staff_a").status_code == 201
    again = _create(client, world, "admin")
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "shop_name_taken"
    assert _create(client, world, "staff_b", community="beta").status_code == 201


def test_shops_are_registered_only_within_the_callers_scope(client, world):
    assert _create(client, world, "staff_b").status_code == 404
    assert _create(client, world, "admin_t2").status_code == 404
    assert _create(client, world, "cashier_a").status_code == 403


def test_the_community_lists_its_partner_shops(client, world):
    _create(client, world, "staff_a")
    listing = client.get(f"/api/v1/communities/{world['alpha']}/shops", headers=world.headers("staff_a")).get_json()
    assert sorted(s["name"] for s in listing) == sorted(["新店", "爱心超市"])
    assert client.get(f"/api/v1/communities/{world['alpha']}/shops", headers=world.headers("staff_b")).status_code == 404


def test_an_admin_partners_a_shop_with_another_community_once(client, world, db):
    url = f"/api/v1/shops/{world['shop_a']}/partners"
    response = client.post(url, json={"community_id": world["beta"]}, headers=world.headers("admin"))
    assert response.status_code == 201 and response.get_json()["community_id"] == world["beta"]
    assert shop_balance(world["beta"], world["shop_a"]) == 0
    again = client.post(url, json={"community_id": world["beta"]}, headers=world.headers("admin"))
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "shop_already_partner"
    listing = client.get(f"/api/v1/communities/{world['beta']}/shops", headers=world.headers("staff_b")).get_json()
    assert {s["id"] for s in listing} == {world["shop_a"], world["shop_b"]}


def test_an_admin_of_another_town_cannot_partner_a_shop_into_a_community_outside_it(client, world):
    url = f"/api/v1/shops/{world['shop_b']}/partners"
    assert client.post(url, json={"community_id": world["alpha"]}, headers=world.headers("admin_t2")).status_code == 404
    assert client.post(url, json={"community_id": world["alpha"]}, headers=world.headers("staff_b")).status_code == 403


def test_a_shop_shows_its_cashiers_to_partner_staff_and_its_own_cashiers_only(client, world):
    url = f"/api/v1/shops/{world['shop_a']}"
    for user in ("staff_a", "admin", "cashier_a"):
        response = client.get(url, headers=world.headers(user))
        assert response.status_code == 200, user
        assert [c["username"] for c in response.get_json()["cashiers"]] == ["cashier_a"]
    for user in ("staff_b", "cashier_b", "admin_t2"):
        assert client.get(url, headers=world.headers(user)).status_code == 404, user
    assert client.get(url, headers=world.headers("resident_a1")).status_code == 403


def test_a_cashier_login_is_made_with_the_users_route_for_a_new_shop(client, world):
    shop = _create(client, world, "staff_a").get_json()
    response = client.post("/api/v1/users", json={"username": "xiaoli", "password": "till-pass-1", "role": "cashier",
                                                  "shop_id": shop["id"]}, headers=world.headers("staff_a"))
    assert response.status_code == 201
    detail = client.get(f"/api/v1/shops/{shop['id']}", headers=world.headers("staff_a")).get_json()
    assert [c["username"] for c in detail["cashiers"]] == ["xiaoli"]


def _redeemed(client, world, points_list):
    give(world, "a1", sum(points_list))
    receipts = []
    for points in points_list:
        voucher = issued(client, world, "resident_a1", points)
        receipts.append(redeem(client, world.headers("cashier_a"), voucher["token"], points).get_json())
    return receipts


def test_the_shops_redemptions_are_newest_first_paginated_and_show_no_balance(client, world, db):
    receipts = _redeemed(client, world, [5, 6, 7])
    url = f"/api/v1/shops/{world['shop_a']}/redemptions"
    page = client.get(f"{url}?limit=2", headers=world.headers("cashier_a")).get_json()
    assert [r["id"] for r in page["items"]] == [receipts[2]["id"], receipts[1]["id"]]
    rest = client.get(f"{url}?limit=2&cursor={page['next_cursor']}", headers=world.headers("cashier_a")).get_json()
    assert [r["id"] for r in rest["items"]] == [receipts[0]["id"]] and rest["next_cursor"] is None
    text = str(page)
    assert "balance" not in text and "redeemable" not in text and "household" not in text
    assert client.get(url, headers=world.headers("staff_a")).get_json()["items"][0]["points"] == 7


def test_staff_see_only_their_communitys_redemptions_at_a_shared_shop(client, world, db):
    _redeemed(client, world, [5])
    client.post(f"/api/v1/shops/{world['shop_a']}/partners", json={"community_id": world["beta"]},
                headers=world.headers("admin"))
    url = f"/api/v1/shops/{world['shop_a']}/redemptions"
    assert client.get(url, headers=world.headers("staff_b")).get_json()["items"] == []
    assert len(client.get(url, headers=world.headers("admin")).get_json()["items"]) == 1
    assert client.get(url, headers=world.headers("cashier_b")).status_code == 404


def test_staff_reverse_a_redemption_and_the_points_go_back_to_the_household(client, world, db):
    (receipt,) = _redeemed(client, world, [30])
    assert (household_balance(world, "a1"), shop_balance(world["alpha"], world["shop_a"])) == (100, 30)
    response = client.post(f"/api/v1/redemptions/{receipt['id']}/reverse", json={"reason": "收银员按错"},
                           headers=world.headers("staff_a"))
    assert response.status_code == 200 and response.get_json()["reversed_at"] is not None
    assert household_balance(world, "a1") == 130
    assert shop_balance(world["alpha"], world["shop_a"]) == 0 and escrow_balance(world["alpha"]) == 0
    voucher = client.get(f"/api/v1/vouchers/{receipt['voucher_id']}", headers=world.headers("resident_a1")).get_json()
    assert voucher["status"] == "redeemed" and voucher["receipt"]["reversed_at"] is not None
    again = client.post(f"/api/v1/redemptions/{receipt['id']}/reverse", json={"reason": "再来"},
                        headers=world.headers("staff_a"))
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "redemption_already_reversed"
    assert household_balance(world, "a1") == 130
    assert db.session.query(AuditEvent).filter_by(action="redemption.reverse").count() == 1
    assert verify().ok


def test_a_partial_redemption_reversed_returns_only_what_the_shop_took(client, world, db):
    give(world, "a1", 50)
    voucher = issued(client, world, "resident_a1", 50)
    receipt = redeem(client, world.headers("cashier_a"), voucher["token"], 20).get_json()
    client.post(f"/api/v1/redemptions/{receipt['id']}/reverse", json={"reason": "退货"}, headers=world.headers("staff_a"))
    assert household_balance(world, "a1") == 150 and shop_balance(world["alpha"], world["shop_a"]) == 0
    assert escrow_balance(world["alpha"]) == 0


def test_only_staff_of_the_vouchers_community_reverse_and_never_for_their_own_household(client, world, db):
    (receipt,) = _redeemed(client, world, [10])
    url = f"/api/v1/redemptions/{receipt['id']}/reverse"
    assert client.post(url, json={"reason": "x"}, headers=world.headers("staff_b")).status_code == 404
    assert client.post(url, json={"reason": "x"}, headers=world.headers("cashier_a")).status_code == 403
    missing = client.post("/api/v1/redemptions/999999/reverse", json={"reason": "x"}, headers=world.headers("staff_a"))
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "redemption_not_found"
    give(world, "a3", 10)
    own = issued(client, world, "staff_a2", 10, world["a3"])
    own_receipt = redeem(client, world.headers("cashier_a"), own["token"], 10).get_json()
    refused = client.post(f"/api/v1/redemptions/{own_receipt['id']}/reverse", json={"reason": "x"},
                          headers=world.headers("staff_a"))
    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "conflict_of_interest"
    assert household_balance(world, "a3") == 100
