"""The catalogue: who manages a shelf, who reads it, and what a resident is told about each item."""

from datetime import timedelta

from pointsbank import clock
from pointsbank.audit.models import AuditEvent
from tests.fixtures.rules import PDF, PNG, upload
from tests.integration.helpers_redeem import give
from tests.integration.helpers_shelf import new_item, stock_clean, stock_of


def test_staff_put_an_item_on_the_shelf_with_its_opening_stock_as_a_delivery(client, world, db):
    item = new_item(client, world, name="大米 5kg", en="Rice 5 kg", points=60, stock=20, barcode=" 6901234567892 ",
                    limit={"period": "month", "count": 1})
    assert {k: item[k] for k in ("shop_id", "community_id", "name", "points", "stock", "barcode", "limit",
                                 "is_active", "is_available", "is_unlimited")} == {
        "shop_id": world["shop_a"], "community_id": world["alpha"], "name": {"zh": "大米 5kg", "en": "Rice 5 kg"},
        "points": 60, "stock": 20, "barcode": "6901234567892", "limit": {"period": "month", "count": 1},
        "is_active": True, "is_available": True, "is_unlimited": False}
    movements = client.get(f"/api/v1/items/{item['id']}/stock", headers=world.headers("staff_a")).get_json()
    assert [(m["change"], m["reason"], m["stock_after"]) for m in movements["items"]] == [(20, "delivery", 20)]
    assert db.session.query(AuditEvent).filter_by(action="shelf.item_create").count() == 1
    assert stock_clean()


def test_the_english_name_defaults_to_the_chinese_one(client, world, db):
    response = client.post(f"/api/v1/shops/{world['shop_a']}/items", json={"name": {"zh": "肥皂"}, "points": 10},
                           headers=world.headers("staff_a"))
    assert response.status_code == 201 and response.get_json()["name"] == {"zh": "肥皂", "en": "肥皂"}


def test_a_cashier_a_resident_and_staff_of_another_community_cannot_create_items(client, world, db):
    body = {"name": {"zh": "肥皂"}, "points": 10}
    url = f"/api/v1/shops/{world['shop_a']}/items"
    assert client.post(url, json=body, headers=world.headers("cashier_a")).status_code == 403
    assert client.post(url, json=body, headers=world.headers("resident_a1")).status_code == 403
    assert client.post(url, json=body, headers=world.headers("staff_b")).status_code == 404


def test_a_barcode_is_unique_within_a_shop_but_another_shop_may_use_it(client, world, db):
    new_item(client, world, barcode="6901234567892")
    again = client.post(f"/api/v1/shops/{world['shop_a']}/items", headers=world.headers("staff_a"),
                        json={"name": {"zh": "另一种"}, "points": 5, "barcode": "6901234567892"})
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "barcode_taken"
    new_item(client, world, user="staff_b", shop="shop_b", barcode="6901234567892")


def test_bad_item_fields_are_refused_with_their_names(client, world, db):
    url = f"/api/v1/shops/{world['shop_a']}/items"
    now = clock.now()
    for body in ({"name": {"zh": "x"}, "points": 0}, {"name": {"en": "x"}, "points": 5},
                 {"name": {"zh": "x"}, "points": 5, "stock": -1},
                 {"name": {"zh": "x"}, "points": 5, "limit": {"period": "week", "count": 1}},
                 {"name": {"zh": "x"}, "points": 5, "limit": {"period": "month", "count": 0}},
                 {"name": {"zh": "x"}, "points": "5"}):
        response = client.post(url, json=body, headers=world.headers("staff_a"))
        assert response.status_code == 400, body
    window = client.post(url, headers=world.headers("staff_a"), json={
        "name": {"zh": "x"}, "points": 5, "available_from": now.isoformat(),
        "available_until": (now - timedelta(days=1)).isoformat()})
    assert window.status_code == 422 and window.get_json()["error"]["code"] == "invalid_item"


def test_a_shelf_photo_is_an_image_uploaded_by_staff_and_residents_may_see_it(client, world, db):
    photo = upload(client, world, "staff_a2", PNG, "rice.png").get_json()
    item = new_item(client, world, photo_evidence_id=photo["id"])
    assert item["photo_url"] == f"/api/v1/items/{item['id']}/photo"
    response = client.get(item["photo_url"], headers=world.headers("resident_a1"))
    try:
        assert response.status_code == 200 and response.data == PNG and response.mimetype == "image/png"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    finally:
        response.close()
    assert client.get(item["photo_url"], headers=world.headers("resident_b1")).status_code == 404
    document = upload(client, world, "staff_a2", PDF, "invoice.pdf").get_json()
    refused = client.post(f"/api/v1/shops/{world['shop_a']}/items", headers=world.headers("staff_a"),
                          json={"name": {"zh": "x"}, "points": 5, "photo_evidence_id": document["id"]})
    assert refused.status_code == 422
    private = upload(client, world, "resident_a1", PNG, "mine.png").get_json()
    refused = client.post(f"/api/v1/shops/{world['shop_a']}/items", headers=world.headers("staff_a"),
                          json={"name": {"zh": "x"}, "points": 5, "photo_evidence_id": private["id"]})
    assert refused.status_code == 404 and refused.get_json()["error"]["code"] == "evidence_not_found"


def test_patch_changes_an_item_from_now_on_but_never_its_stock(client, world, db):
    item = new_item(client, world, points=10, stock=4)
    response = client.patch(f"/api/v1/items/{item['id']}", headers=world.headers("staff_a"),
                            json={"points": 12, "name": {"zh": "香皂", "en": "Soap"}, "limit": {"period": "year",
                                                                                               "count": 2}})
    assert response.status_code == 200
    changed = response.get_json()
    assert (changed["points"], changed["name"]["en"], changed["limit"]) == (12, "Soap", {"period": "year", "count": 2})
    cleared = client.patch(f"/api/v1/items/{item['id']}", json={"limit": None}, headers=world.headers("staff_a"))
    assert cleared.get_json()["limit"] is None
    refused = client.patch(f"/api/v1/items/{item['id']}", json={"stock": 100}, headers=world.headers("staff_a"))
    assert refused.status_code == 400 and stock_of(item["id"]) == 4
    assert client.patch(f"/api/v1/items/{item['id']}", json={"points": 1},
                        headers=world.headers("cashier_a")).status_code == 403
    assert client.patch(f"/api/v1/items/{item['id']}", json={"points": 1},
                        headers=world.headers("staff_b")).status_code == 404


def test_residents_see_the_active_items_of_a_partner_shop_and_staff_see_all(client, world, db):
    new_item(client, world, name="肥皂")
    gone = new_item(client, world, name="毛巾")
    client.patch(f"/api/v1/items/{gone['id']}", json={"is_active": False}, headers=world.headers("staff_a"))
    url = f"/api/v1/shops/{world['shop_a']}/items"
    assert [i["name"]["zh"] for i in client.get(url, headers=world.headers("resident_a1")).get_json()] == ["肥皂"]
    assert client.get(f"/api/v1/items/{gone['id']}", headers=world.headers("resident_a1")).status_code == 404
    assert len(client.get(url, headers=world.headers("staff_a")).get_json()) == 2
    assert len(client.get(url, headers=world.headers("cashier_a")).get_json()) == 2
    assert client.get(url, headers=world.headers("resident_b1")).status_code == 404
    assert client.get(url, headers=world.headers("cashier_b")).status_code == 404


def test_a_resident_is_told_which_items_their_household_may_take_and_why_not(client, world, db):
    give(world, "a1", 50)
    soap = new_item(client, world, name="a肥皂", points=10, stock=5)
    thermos = new_item(client, world, name="b保温杯", points=120, stock=0)
    star = new_item(client, world, name="c星级礼包", points=10, min_stars=1,
                    available_from=(clock.now() + timedelta(days=1)).isoformat())
    items = {i["id"]: i for i in client.get(f"/api/v1/shops/{world['shop_a']}/items",
                                            headers=world.headers("resident_a1")).get_json()}
    assert (items[soap["id"]]["eligible"], items[soap["id"]]["reasons"]) == (True, [])
    assert items[thermos["id"]]["reasons"] == ["cannot_afford", "out_of_stock"]
    assert items[star["id"]]["reasons"] == ["stars_required", "item_unavailable"]


def test_the_limit_reason_appears_once_the_household_took_its_share(client, world, db):
    from tests.integration.helpers_redeem import issued
    from tests.integration.helpers_shelf import ring_up

    give(world, "a1", 100)
    rice = new_item(client, world, points=20, stock=5, limit={"period": "month", "count": 1})
    voucher = issued(client, world, "resident_a1", 20)
    assert ring_up(client, world.headers("cashier_a"), voucher["token"], [(rice["id"], 1)]).status_code == 201
    (listed,) = client.get(f"/api/v1/shops/{world['shop_a']}/items", headers=world.headers("resident_a1")).get_json()
    assert listed["reasons"] == ["household_limit_reached"]
    staff_view = client.get(f"/api/v1/shops/{world['shop_a']}/items?household_id={world['a2']}",
                            headers=world.headers("staff_a")).get_json()
    assert staff_view[0]["eligible"] is False and staff_view[0]["reasons"] == ["cannot_afford"]
    assert client.get(f"/api/v1/shops/{world['shop_a']}/items?household_id={world['a1']}",
                      headers=world.headers("cashier_a")).status_code == 403


def test_the_search_finds_items_by_part_of_either_name_or_by_barcode(client, world, db):
    new_item(client, world, name="大米", en="Rice")
    new_item(client, world, name="肥皂", en="Soap", barcode="123456")
    url = f"/api/v1/shops/{world['shop_a']}/items"
    assert [i["name"]["zh"] for i in client.get(f"{url}?q=ric", headers=world.headers("cashier_a")).get_json()] == ["大米"]
    assert [i["name"]["zh"] for i in client.get(f"{url}?q=米", headers=world.headers("cashier_a")).get_json()] == ["大米"]
    assert [i["name"]["zh"] for i in client.get(f"{url}?q=123456",
                                                headers=world.headers("cashier_a")).get_json()] == ["肥皂"]


def test_the_cashier_finds_an_active_item_by_its_scanned_barcode(client, world, db):
    soap = new_item(client, world, barcode="6901234567892")
    url = f"/api/v1/shops/{world['shop_a']}/items/barcode/6901234567892"
    response = client.get(url, headers=world.headers("cashier_a"))
    assert response.status_code == 200 and response.get_json()["id"] == soap["id"]
    missing = client.get(f"/api/v1/shops/{world['shop_a']}/items/barcode/000", headers=world.headers("cashier_a"))
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "item_not_found"
    assert client.get(url, headers=world.headers("cashier_b")).status_code == 404
