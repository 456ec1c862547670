"""The shop without signal in the pages: the service worker's script and scope, what the phone
caches (/shop/offline.json), naming the phone and syncing its queue with the session and CSRF
token, and the staff pages of devices and double spends (zh_CN and en)."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

from pointsbank import clock
from pointsbank.extensions import db
from pointsbank.offline import services as offline_services
from pointsbank.redeem import redemptions, vouchers
from tests.integration.helpers_redeem import give, household_balance, new_shop, shop_balance
from tests.web.helpers import actor, csrf_token, login, post_form, text


def _enable(world, **caps):
    offline_services.update_settings(None, world["alpha"], {"enabled": True, "max_points_per_device": 300,
                                                            "max_hours": 12, **caps})
    db.session.commit()


def _json_post(client, url, body, token):
    return client.post(url, data=json.dumps(body), content_type="application/json",
                       headers={"Accept": "application/json", "X-CSRFToken": token})


def _cashier(client):
    login(client, "cashier_a")
    return csrf_token(text(client.get("/shop")))


def _user(username):
    import sqlalchemy as sa

    from pointsbank.auth.models import User
    return db.session.scalar(sa.select(User).where(User.username == username))


def _item(code, points, minutes=5):
    return {"client_id": str(uuid.uuid4()), "code": code, "points": points,
            "redeemed_at": (clock.now() - timedelta(minutes=minutes)).isoformat()}


def test_the_service_worker_is_served_under_shop_with_its_scope_and_the_pages_assets(client):
    response = client.get("/shop/sw.js")
    assert response.status_code == 200 and response.mimetype == "text/javascript"
    assert response.headers["Service-Worker-Allowed"] == "/shop"
    body = text(response)
    for asset in ("/assets/css/app.css", "/assets/vendor/jsQR.js", "/assets/js/scan.js", "/assets/js/offline.js"):
        assert f'"{asset}"' in body
    assert "http://" not in body and "https://" not in body  # no CDN


def test_the_scan_page_carries_the_offline_panel_in_the_pages_language(client, world):
    _cashier(client)
    zh = text(client.get("/shop"))
    assert 'id="offline-panel"' in zh and "/assets/js/offline.js" in zh
    assert 'data-t-status-waiting="离线，尚未同步"' in zh and "没有信号时" in zh
    en = text(client.get("/shop?lang=en"))
    assert 'data-t-status-waiting="Offline, not yet synced"' in en
    assert "A typed short code cannot be checked without a connection" in en


def test_offline_json_gives_the_partner_communities_keys_value_and_caps_and_the_named_phone(client, world):
    _enable(world, max_points_per_device=80)
    give(world, "a1", 20)
    made = vouchers.issue_voucher(actor(world, "resident_a1"), points=20)
    db.session.commit()
    token = _cashier(client)
    config = client.get("/shop/offline.json").get_json()
    assert config["device"] is None and config["shop"]["id"] == world["shop_a"]
    (alpha,) = [c for c in config["communities"] if c["id"] == world["alpha"]]
    assert alpha["offline"] == {"enabled": True, "max_points_per_device": 80, "max_hours": 12}
    assert alpha["point_value_fen"] > 0
    kid = made["token"].split(".")[1]
    assert kid in {k["kid"] for k in config["keys"] if k["community_id"] == world["alpha"] and k["crv"] == "Ed25519"}
    assert world["beta"] not in {k["community_id"] for k in config["keys"]}  # not a partner of shop_a
    assert config["csrf_token"]

    named = _json_post(client, "/shop/offline/device", {"name": "收银台手机"}, token)
    assert named.status_code == 201 and named.get_json()["shop_id"] == world["shop_a"]
    device_id = named.get_json()["id"]
    again = client.get(f"/shop/offline.json?device_id={device_id}").get_json()
    assert again["device"] == {"id": device_id, "name": "收银台手机", "revoked": False}
    offline_services.revoke_device(actor(world, "staff_a"), device_id)
    db.session.commit()
    revoked = client.get(f"/shop/offline.json?device_id={device_id}").get_json()
    assert revoked["device"]["revoked"] is True  # the page then says so and redeems nothing offline

    # another shop's cashier does not see it
    shop2, _ = new_shop(world["alpha"], "别家店")
    other = client.application.test_client()
    login(other, f"c{shop2}_0")
    assert other.get(f"/shop/offline.json?device_id={device_id}").get_json()["device"] is None


def test_naming_the_phone_needs_the_csrf_token_and_a_name(client, world):
    token = _cashier(client)
    forged = client.post("/shop/offline/device", data=json.dumps({"name": "x"}), content_type="application/json",
                         headers={"Accept": "application/json"})
    assert forged.status_code == 400 and forged.get_json()["error"]["code"] == "csrf_failed"
    empty = _json_post(client, "/shop/offline/device", {"name": ""}, token)
    assert empty.status_code == 400 and empty.get_json()["error"]["code"] == "validation_error"
    assert empty.get_json()["error"]["message"] == "部分字段无效：name"  # in the page's language
    resident = client.application.test_client()
    login(resident, "resident_a1")
    assert resident.get("/shop/offline.json", headers={"Accept": "application/json"}).status_code == 403


def test_the_pages_sync_answers_as_the_api_does_and_a_resend_changes_nothing(client, world):
    _enable(world)
    give(world, "a1", 50)
    made = vouchers.issue_voucher(actor(world, "resident_a1"), points=50)
    db.session.commit()
    token = _cashier(client)
    device_id = _json_post(client, "/shop/offline/device", {"name": "收银台手机"}, token).get_json()["id"]
    batch = {"device_id": device_id, "redemptions": [_item(made["token"], 30)]}
    first = _json_post(client, "/shop/offline/sync", batch, token)
    assert first.status_code == 200
    assert [(r["status"], r["reason"]) for r in first.get_json()["results"]] == [("accepted", None)]
    assert first.get_json()["counts"]["accepted"] == 1
    assert household_balance(world, "a1") == 120 and shop_balance(world["alpha"], world["shop_a"]) == 30
    again = _json_post(client, "/shop/offline/sync", batch, token)
    assert [(r["status"], r["original_status"]) for r in again.get_json()["results"]] == [("duplicate", "accepted")]
    assert household_balance(world, "a1") == 120 and shop_balance(world["alpha"], world["shop_a"]) == 30
    bad = _json_post(client, "/shop/offline/sync", {"device_id": device_id, "redemptions": [
        {**_item(made["token"], 1), "client_id": "nope"}]}, token)
    assert bad.status_code == 400 and bad.get_json()["error"]["code"] == "validation_error"
    stranger = _json_post(client, "/shop/offline/sync", {"device_id": 999999, "redemptions": []}, token)
    assert stranger.status_code == 404 and stranger.get_json()["error"]["code"] == "device_not_found"


def test_staff_register_and_revoke_a_shops_phone_on_the_devices_page(client, world):
    login(client, "staff_a")
    zh = text(client.get("/staff/devices"))
    assert "收银手机" in zh and "本社区未开启离线兑换" in zh
    response = post_form(client, "/staff/devices", f"/staff/shops/{world['shop_a']}/devices", {"name": "门口手机"})
    assert response.status_code == 302
    page = text(client.get("/staff/devices"))
    assert "门口手机" in page and "手机已登记" in page and 'data-revoked="false"' in page
    (device,) = offline_services.list_devices(actor(world, "staff_a"), world["shop_a"])
    post_form(client, "/staff/devices", f"/staff/devices/{device['id']}/revoke")
    en = text(client.get("/staff/devices?lang=en"))
    assert 'data-revoked="true"' in en and "revoked" in en and "Revoke this phone" not in en
    again = post_form(client, "/staff/devices", f"/staff/devices/{device['id']}/revoke")
    assert again.status_code == 302 and "already revoked" in text(client.get("/staff/devices"))
    other = client.application.test_client()
    login(other, "staff_b")
    assert "门口手机" not in text(other.get("/staff/devices"))


def test_staff_see_a_double_spend_with_both_receipts_and_settle_it(client, world):
    from pointsbank.offline import sync

    _enable(world)
    give(world, "a1", 30)
    made = vouchers.issue_voucher(actor(world, "resident_a1"), points=30)
    shop2, _ = new_shop(world["alpha"], "山口小店")
    db.session.commit()
    redemptions.redeem(_user(f"c{shop2}_0"), code=made["token"], points=30)
    device = offline_services.register_device(actor(world, "cashier_a"), world["shop_a"], name="收银台手机")
    db.session.commit()
    answer = sync.sync(actor(world, "cashier_a"), device_id=device["id"], redemptions=[
        {**_item(made["token"], 20), "redeemed_at": clock.now()}])
    db.session.commit()
    assert answer["results"][0]["status"] == "double_spend"
    login(client, "staff_a")
    html = text(client.get("/staff/double-spends"))
    assert f'data-voucher-id="{made["id"]}"' in html and "山口小店" in html and "爱心超市" in html
    assert "收银台手机" in html and "在线" in html and "A-001" in html
    en = text(client.get("/staff/double-spends?lang=en"))
    assert "First receipt" in en and "Second receipt" in en and "online" in en
    spend_id = answer["results"][0]["offline_redemption_id"]
    empty = post_form(client, "/staff/double-spends", f"/staff/double-spends/{spend_id}/settle", {"note": ""})
    assert empty.status_code == 302
    assert f'data-voucher-id="{made["id"]}"' in text(client.get("/staff/double-spends"))
    post_form(client, "/staff/double-spends", f"/staff/double-spends/{spend_id}/settle", {"note": "户主已补"})
    assert f'data-voucher-id="{made["id"]}"' not in text(client.get("/staff/double-spends"))
    settled = text(client.get("/staff/double-spends?status=settled"))
    assert f'data-voucher-id="{made["id"]}"' in settled and "户主已补" in settled
    till = client.application.test_client()
    login(till, "cashier_a")
    assert till.get("/staff/double-spends").status_code == 403
