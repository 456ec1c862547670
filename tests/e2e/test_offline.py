"""End to end in Debian's Chromium, at phone width: the shop without signal (issue 16).

1. cashier_a opens ``/shop`` online once and names the phone (a device of shop_a); the service
   worker keeps the page. The browser context goes offline: a forged token (one character
   changed) and an expired one are refused on the phone; a voucher is redeemed — the receipt
   says "offline, not yet synced" and one is waiting; the page is reloaded, still offline, and
   loads from the service worker; a second voucher is redeemed (two waiting); a third is over
   the device's points cap and refused, and so is one after more than the community's hours
   without reaching the server. Back online, the queue syncs by itself: both
   redemptions are on the ledger once, balances exact, ``ledger verify`` clean.
2. The same with the phone's camera: a voucher's QR read by jsQR while offline is queued.
3. One voucher redeemed offline on two phones of two shops, both synced: one ``accepted``, one
   ``double_spend``; both shops credited, the household debited for both, the double spend on
   ``/staff/double-spends``; the same batch sent again changes nothing.

Screenshots (``artifacts/e2e/offline-*-<lang>.png``) of the offline receipt and the waiting
count in Chinese and English; every page is checked by axe; no request leaves the app's host.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.factories import PASSWORD

pytestmark = pytest.mark.e2e

CAP = 100


@pytest.fixture(scope="module")
def offline_world(e2e_server: Any) -> dict[str, Any]:
    """alpha allows offline redemption (100 points per device, 24 hours); A-001 has 300 points
    above its base; a second shop of alpha (山口小店) with its cashier ``offline_c2``."""
    from pointsbank.auth.services import create_user
    from pointsbank.extensions import db
    from pointsbank.offline import services as offline_services
    from tests.factories import PASSWORD, make_shop
    from tests.integration.helpers_redeem import give

    world = e2e_server.world
    with e2e_server.app.app_context():
        offline_services.update_settings(None, world["alpha"], {"enabled": True, "max_points_per_device": CAP,
                                                                "max_hours": 24})
        shop = make_shop(world["alpha"], "山口小店")
        create_user(None, role="cashier", username="offline_c2", password=PASSWORD, shop_id=shop.id)
        db.session.commit()
        shop_id = shop.id
        give(world, "a1", 300)
        db.session.remove()
    return {"shop2": shop_id}


def _vouchers(e2e_server: Any, *points: int, issued_at: datetime | None = None) -> list[dict[str, Any]]:
    from pointsbank.auth.models import User
    from pointsbank.extensions import db
    from pointsbank.redeem import vouchers

    app = e2e_server.app
    with app.app_context():
        app.config["CLOCK"] = issued_at
        try:
            resident = db.session.get(User, e2e_server.world.users["resident_a1"])
            made = [vouchers.issue_voucher(resident, points=p) for p in points]
            db.session.commit()
        finally:
            app.config["CLOCK"] = None
            db.session.remove()
    return made


def _ledger(e2e_server: Any, voucher_ids: list[str], shop_ids: list[int]) -> dict[str, Any]:
    import sqlalchemy as sa

    from pointsbank.extensions import db
    from pointsbank.ledger.verify import verify
    from pointsbank.offline.models import OfflineRedemption
    from pointsbank.redeem.models import Redemption
    from tests.integration.helpers_redeem import household_balance, shop_balance

    world = e2e_server.world
    with e2e_server.app.app_context():
        try:
            return {
                "redemptions": {vid: db.session.scalar(sa.select(sa.func.count()).select_from(Redemption).where(
                    Redemption.voucher_id == vid)) for vid in voucher_ids},
                "offline": sorted((row.voucher_id, row.status) for row in db.session.scalars(
                    sa.select(OfflineRedemption).where(OfflineRedemption.voucher_id.in_(voucher_ids)))),
                "household": household_balance(world, "a1"),
                "shops": [shop_balance(world["alpha"], shop) for shop in shop_ids],
                "verify": verify().ok,
            }
        finally:
            db.session.remove()


def _ready_cashier(chromium: Any, phones: Any, username: str, phone_name: str) -> Any:
    """``username`` logged in on a new phone at ``/shop``, the phone named and the worker active."""
    cashier = phones.log_in(chromium, username)
    if not cashier.url.endswith("/shop"):
        cashier.goto("/shop")
    panel = cashier.locator("#offline-panel")
    expect(panel).to_be_visible()
    cashier.fill("#offline-device-name", phone_name)
    cashier.locator("#offline-device-submit").click()
    expect(panel).to_have_attribute("data-ready", "true", timeout=20_000)
    cashier.wait_for_function("() => navigator.serviceWorker.controller !== null")
    return cashier


def _redeem_offline(cashier: Any, code: str, points: int | None = None) -> None:
    cashier.fill("#code", code)
    cashier.fill("#points", "" if points is None else str(points))
    cashier.locator("#redeem-submit").click()


def _forged(token: str) -> str:
    i = token.index(".", 4) + 5  # a character inside the payload
    return token[:i] + ("A" if token[i] != "A" else "B") + token[i + 1:]


def _served(caplog: Any) -> list[str]:
    """The requests the app served since ``caplog`` was last cleared (werkzeug's access log)."""
    return [record.getMessage() for record in caplog.records if record.name == "werkzeug"]


def test_offline_redemptions_survive_a_reload_and_sync_once_when_the_connection_returns(
        e2e_server, chromium, phones, offline_world, caplog):
    caplog.set_level(logging.INFO, logger="werkzeug")
    visits = phones.visits
    first, second, third = _vouchers(e2e_server, 40, 50, 60)
    (expired,) = _vouchers(e2e_server, 10, issued_at=datetime.now(timezone.utc) - timedelta(days=30))
    before = _ledger(e2e_server, [first["id"], second["id"]], [e2e_server.world["shop_a"]])

    cashier = _ready_cashier(chromium, phones, "cashier_a", "收银台手机")
    expect(cashier.locator("#offline-waiting")).to_have_attribute("data-count", "0")
    visits.check(cashier, "offline-ready")
    cashier.wait_for_load_state("networkidle")  # the page's own config fetch is answered
    context = cashier.context
    context.set_offline(True)
    expect(cashier.locator("#offline-panel")).to_have_attribute("data-online", "false")
    caplog.clear()

    _redeem_offline(cashier, _forged(first["token"]), 30)
    expect(cashier.locator("#offline-refusal")).to_have_attribute("data-code", re.compile(
        r"voucher_forged|voucher_code_malformed"))
    forged_sig = first["token"][:-2] + ("AA" if first["token"][-2:] != "AA" else "BA")
    _redeem_offline(cashier, forged_sig, 30)
    expect(cashier.locator("#offline-refusal")).to_have_attribute("data-code", "voucher_forged")
    _redeem_offline(cashier, expired["token"])
    expect(cashier.locator("#offline-refusal")).to_have_attribute("data-code", "voucher_expired")
    _redeem_offline(cashier, first["short_code"], 30)
    expect(cashier.locator("#offline-refusal")).to_have_attribute("data-code", "short_code_offline")
    # a household card pays only online (its PIN counter is on the server)
    _redeem_offline(cashier, "PBC1.kid.eyJrIjoxfQ.c2ln", 30)
    expect(cashier.locator("#offline-refusal")).to_have_attribute("data-code", "card_offline")
    expect(cashier.locator("#offline-refusal")).to_contain_text("积分卡需要联网")
    expect(cashier.locator("#offline-waiting")).to_have_attribute("data-count", "0")

    _redeem_offline(cashier, first["token"], 30)
    receipt = cashier.locator("#offline-receipt")
    expect(receipt).to_be_visible()
    expect(receipt).to_contain_text("离线，尚未同步")
    expect(cashier.locator("#offline-receipt-points")).to_have_text("30")
    expect(cashier.locator("#offline-waiting")).to_have_attribute("data-count", "1")
    expect(cashier.locator("#offline-waiting")).to_contain_text("1")
    visits.check(cashier, "offline-receipt", both_languages=False)

    cashier.reload()  # still offline: the service worker answers
    expect(cashier.locator("#scan-form")).to_be_visible()
    expect(cashier.locator("#offline-waiting")).to_have_attribute("data-count", "1")
    expect(cashier.locator("#offline-panel")).to_have_attribute("data-ready", "true")
    _redeem_offline(cashier, second["token"])  # the full 50
    expect(cashier.locator("#offline-receipt-points")).to_have_text("50")
    expect(cashier.locator("#offline-waiting")).to_have_attribute("data-count", "2")
    visits.check(cashier, "offline-waiting", both_languages=False)

    cashier.goto("/shop")
    expect(cashier.locator("#offline-panel")).to_have_attribute("data-ready", "true")
    _redeem_offline(cashier, third["token"], 30)  # 80 held + 30 > the cap of 100
    expect(cashier.locator("#offline-refusal")).to_have_attribute("data-code", "over_points_cap")
    _redeem_offline(cashier, second["token"], 10)
    expect(cashier.locator("#offline-refusal")).to_have_attribute("data-code", "already_on_this_phone")
    # the phone last reached the server 25 hours ago: beyond the community's 24 hours
    cashier.evaluate("""shop => localStorage.setItem(`pointsbank.offline.${shop}.online_at`,
                                                     String(Date.now() - 25 * 3600 * 1000))""",
                     e2e_server.world["shop_a"])
    _redeem_offline(cashier, third["token"], 10)  # within the points cap
    expect(cashier.locator("#offline-refusal")).to_have_attribute("data-code", "over_hours_cap")
    expect(cashier.locator("#offline-waiting")).to_have_attribute("data-count", "2")
    assert _ledger(e2e_server, [first["id"], second["id"]], [e2e_server.world["shop_a"]]) == before
    assert _served(caplog) == []  # the reloads and every asset came from the service worker's cache

    context.set_offline(False)  # the "online" event: the queue goes by itself
    expect(cashier.locator("#offline-waiting")).to_have_attribute("data-count", "0", timeout=20_000)
    expect(cashier.locator("#offline-items li[data-status=accepted]")).to_have_count(2)
    assert any("POST /shop/offline/sync" in line for line in _served(caplog))  # the log does see requests
    after = _ledger(e2e_server, [first["id"], second["id"]], [e2e_server.world["shop_a"]])
    assert after["redemptions"] == {first["id"]: 1, second["id"]: 1}
    assert after["offline"] == sorted([(first["id"], "accepted"), (second["id"], "accepted")])
    # 40 + 50 left home in the vouchers; 10 of the first came back; the shop has 30 + 50
    assert after["household"] == before["household"] + 10
    assert after["shops"] == [before["shops"][0] + 80]
    assert after["verify"]

    # the forged and the expired token forced through the sync anyway: refused there too
    forced = cashier.evaluate("""async codes => {
        const config = await (await fetch('/shop/offline.json', {headers: {Accept: 'application/json'}})).json();
        const device = JSON.parse(localStorage.getItem(`pointsbank.offline.${config.shop.id}.device`));
        const body = {device_id: device.id, redemptions: codes.map(code => ({client_id: crypto.randomUUID(), code,
                      points: 5, redeemed_at: new Date().toISOString()}))};
        const response = await fetch('/shop/offline/sync', {method: 'POST', headers: {'Content-Type': 'application/json',
                      Accept: 'application/json', 'X-CSRFToken': config.csrf_token}, body: JSON.stringify(body)});
        return (await response.json()).results.map(r => [r.status, r.reason]);
    }""", [_forged(third["token"]), third["token"][:-2] + ("AA" if third["token"][-2:] != "AA" else "BA"),
           expired["token"]])
    assert [status for status, _ in forced] == ["refused"] * 3
    assert forced[0][1] in ("voucher_code_malformed", "voucher_forged")
    assert [reason for _, reason in forced[1:]] == ["voucher_forged", "voucher_expired"]
    assert _ledger(e2e_server, [first["id"], second["id"]], [e2e_server.world["shop_a"]]) == after

    # the same in English: the page switched online, the offline receipt and the waiting count
    visits.switch_language(cashier, "en")
    expect(cashier.locator("#offline-panel")).to_have_attribute("data-ready", "true")
    cashier.reload()  # the worker keeps the English page now
    context.set_offline(True)
    cashier.reload()
    (fourth,) = _vouchers(e2e_server, 20)
    _redeem_offline(cashier, fourth["token"])
    expect(cashier.locator("#offline-receipt")).to_contain_text("Offline, not yet synced")
    expect(cashier.locator("#offline-waiting")).to_have_attribute("data-count", "1")
    visits.check(cashier, "offline-receipt", both_languages=False)
    context.set_offline(False)
    expect(cashier.locator("#offline-waiting")).to_have_attribute("data-count", "0", timeout=20_000)
    visits.switch_language(cashier, "zh_CN")

    # logged out, the kept page does not open again without signal
    with cashier.expect_navigation():
        cashier.locator("header .who form button[type=submit]").click()
    expect(cashier).to_have_url(re.compile(r"/login"))
    context.set_offline(True)
    with pytest.raises(Exception, match="ERR_INTERNET_DISCONNECTED|ERR_FAILED"):
        cashier.goto("/shop")
    context.set_offline(False)
    phones.assert_clean()


def test_one_voucher_redeemed_offline_at_two_shops_is_one_redemption_and_one_double_spend(
        e2e_server, chromium, phones, offline_world):
    world = e2e_server.world
    (voucher,) = _vouchers(e2e_server, 30)
    shops = [world["shop_a"], offline_world["shop2"]]
    before = _ledger(e2e_server, [voucher["id"]], shops)

    tills = [_ready_cashier(chromium, phones, "cashier_a", "门口手机"),
             _ready_cashier(chromium, phones, "offline_c2", "山口手机")]
    for till in tills:
        till.context.set_offline(True)
        expect(till.locator("#offline-panel")).to_have_attribute("data-online", "false")
        _redeem_offline(till, voucher["token"], 30)
        expect(till.locator("#offline-receipt")).to_contain_text("离线，尚未同步")
    for till in tills:  # shop_a first, then the mountain shop
        till.context.set_offline(False)
        expect(till.locator("#offline-waiting")).to_have_attribute("data-count", "0", timeout=20_000)
    expect(tills[0].locator("#offline-items li").first).to_have_attribute("data-status", "accepted")
    expect(tills[1].locator("#offline-items li").first).to_have_attribute("data-status", "double_spend")

    after = _ledger(e2e_server, [voucher["id"]], shops)
    assert after["redemptions"] == {voucher["id"]: 1}
    assert after["offline"] == sorted([(voucher["id"], "accepted"), (voucher["id"], "double_spend")])
    assert after["shops"] == [before["shops"][0] + 30, before["shops"][1] + 30]
    assert after["household"] == before["household"] - 30  # the voucher's 30 and the overdraft's 30
    assert after["verify"]

    # the same batch once more, from the second phone's own queue: nothing changes
    resent = tills[1].evaluate("""async () => {
        const config = await (await fetch('/shop/offline.json', {headers: {Accept: 'application/json'}})).json();
        const db = await new Promise((ok, ko) => { const r = indexedDB.open('pointsbank-offline', 1);
                                                   r.onsuccess = () => ok(r.result); r.onerror = ko; });
        const items = await new Promise((ok) => { const r = db.transaction('redemptions').objectStore('redemptions').getAll();
                                                  r.onsuccess = () => ok(r.result); });
        const body = {device_id: items[0].device_id, redemptions: items.map(i => ({client_id: i.client_id, code: i.code,
                      points: i.points, redeemed_at: i.redeemed_at}))};
        const response = await fetch('/shop/offline/sync', {method: 'POST', headers: {'Content-Type': 'application/json',
                      Accept: 'application/json', 'X-CSRFToken': config.csrf_token}, body: JSON.stringify(body)});
        return {status: response.status, body: await response.json()};
    }""")
    assert resent["status"] == 200
    assert [(r["status"], r["original_status"]) for r in resent["body"]["results"]] == [("duplicate", "double_spend")]
    assert _ledger(e2e_server, [voucher["id"]], shops) == after

    staff = phones.log_in(chromium, "staff_a")
    staff.goto("/staff/double-spends")
    row = staff.locator(f'[data-voucher-id="{voucher["id"]}"]')
    expect(row).to_be_visible()
    expect(row).to_contain_text("山口小店")
    phones.visits.check(staff, "offline-double-spends")
    staff.fill(f'#settle-note-{row.get_attribute("data-double-spend-id")}', "已与户主核对")
    with staff.expect_navigation():
        row.locator("button[type=submit]").click()
    expect(staff.locator(f'[data-voucher-id="{voucher["id"]}"]')).to_have_count(0)
    staff.goto("/staff/devices")
    expect(staff.locator(f'section[data-shop-id="{offline_world["shop2"]}"]')).to_contain_text("山口手机")
    phones.visits.check(staff, "offline-devices")
    phones.assert_clean()


def test_a_voucher_scanned_by_the_camera_without_signal_is_checked_and_queued_on_the_phone(
        e2e_server, launch_chromium, phones, offline_world, tmp_path):
    """The fake camera shows a voucher's QR; it is held until the phone is offline (so the first,
    online page load does not scan it), then started with the page's own button: jsQR reads it,
    the form is sent, and offline.js takes it: the offline receipt."""
    from pointsbank.redeem import qr
    from tests.e2e.helpers import decode_qr, write_y4m

    (voucher,) = _vouchers(e2e_server, 25)
    png = qr.render_png(voucher["token"])
    assert decode_qr(png) == [voucher["token"]]
    camera = launch_chromium(write_y4m(png, tmp_path / "offline-voucher.y4m"))
    cashier = phones.open(camera)
    cashier.add_init_script("""(() => {
        window.__holdCamera = true;
        const media = navigator.mediaDevices, real = media.getUserMedia.bind(media);
        media.getUserMedia = c => window.__holdCamera ? Promise.reject(new Error("held by the test")) : real(c);
    })()""")
    cashier.goto("/login")
    cashier.fill("#username", "cashier_a")
    cashier.fill("#password", PASSWORD)
    with cashier.expect_navigation():
        cashier.locator("main form button[type=submit]").click()
    if not cashier.url.endswith("/shop"):
        cashier.goto("/shop")
    expect(cashier.locator("#camera-start")).to_be_visible()  # the camera is held
    cashier.fill("#offline-device-name", "扫码手机")
    cashier.locator("#offline-device-submit").click()
    expect(cashier.locator("#offline-panel")).to_have_attribute("data-ready", "true", timeout=20_000)
    cashier.wait_for_function("() => navigator.serviceWorker.controller !== null")
    cashier.wait_for_load_state("networkidle")

    cashier.context.set_offline(True)
    expect(cashier.locator("#offline-panel")).to_have_attribute("data-online", "false")
    cashier.evaluate("() => { window.__holdCamera = false; }")
    cashier.locator("#camera-start").click()
    expect(cashier.locator("#offline-receipt")).to_be_visible(timeout=20_000)
    expect(cashier.locator("#offline-receipt")).to_contain_text("离线，尚未同步")
    expect(cashier.locator("#offline-receipt-points")).to_have_text("25")
    expect(cashier.locator("#code")).to_have_value(voucher["token"])  # filled by the camera, not typed
    expect(cashier.locator("#offline-waiting")).to_have_attribute("data-count", "1")

    cashier.context.set_offline(False)
    expect(cashier.locator("#offline-waiting")).to_have_attribute("data-count", "0", timeout=20_000)
    assert _ledger(e2e_server, [voucher["id"]], [e2e_server.world["shop_a"]])["offline"] == [
        (voucher["id"], "accepted")]
    phones.assert_clean()
