"""The cashier's pages: scan (or type) a voucher, confirm its face value, redeem, hand over the
receipt; every refusal shown large with the redeem service's code and message."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest

from tests.integration.helpers_redeem import give, household_balance
from tests.web.helpers import actor, csrf_token, figure, login, text


@pytest.fixture
def voucher(world) -> dict[str, Any]:
    """A voucher of 40 points of household a1 (alpha), made by its resident and committed."""
    from pointsbank.extensions import db
    from pointsbank.redeem import vouchers

    give(world, "a1", 50)
    made = vouchers.issue_voucher(actor(world, "resident_a1"), points=40)
    db.session.commit()
    return made


def _refusal(response) -> tuple[str, str]:
    """(data-code, text) of the page's #refusal."""
    html = text(response)
    found = re.search(r'<div id="refusal"[^>]*data-code="([a-z_]+)">(.*?)</div>', html, re.S)
    assert found, "no #refusal on the page"
    return found.group(1), re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", found.group(2)))


def _check(client, code: str, points: str = "") -> Any:
    token = csrf_token(text(client.get("/shop")))
    return client.post("/shop/check", data={"csrf_token": token, "code": code, "points": points})


def _redeem(client, code: str, points: str) -> Any:
    confirm = _check(client, code, points)
    assert confirm.status_code == 200, _refusal(confirm)
    return client.post("/shop/redeem", data={"csrf_token": csrf_token(text(confirm)), "code": code,
                                             "points": points})


def test_a_cashier_lands_on_the_scan_page_with_camera_code_and_points(client, world):
    response = login(client, "cashier_a")
    assert response.headers["Location"] == "/shop"
    html = text(client.get("/shop"))
    assert '<video id="camera"' in html
    assert re.search(r'<input[^>]*id="code"[^>]*name="code"', html)
    assert re.search(r'<input[^>]*id="points"[^>]*name="points"', html)
    assert 'id="redeem-submit"' in html
    assert '<script src="/assets/vendor/jsQR.js" defer></script>' in html
    assert '<script src="/assets/js/scan.js" defer></script>' in html
    assert "爱心超市" in html


def test_the_scripts_of_the_scan_and_voucher_pages_are_served_by_the_app(client, world):
    for path in ("js/scan.js", "js/voucher.js", "vendor/jsQR.js"):
        with client.get(f"/assets/{path}") as response:
            assert response.status_code == 200, path
            assert response.mimetype in ("text/javascript", "application/javascript"), path


def test_a_typed_short_code_is_confirmed_with_its_face_value_before_anything_moves(client, world, voucher):
    login(client, "cashier_a")
    before = household_balance(world, "a1")
    response = _check(client, voucher["short_code"].replace(" ", "-"), "")
    html = text(response)
    assert response.status_code == 200
    assert figure(html, "face-value") == "40"
    assert "¥40.00" in html, "40 points at 100 fen each"
    assert re.search(r'<input[^>]*id="points"[^>]*value="40"', html), "the full value is proposed"
    assert 'id="redeem-submit"' in html
    assert household_balance(world, "a1") == before
    from pointsbank.redeem import vouchers

    assert vouchers.get_voucher(actor(world, "resident_a1"), voucher["id"])["status"] == "issued"


def test_the_scanned_token_redeems_and_the_receipt_names_shop_cashier_and_value(client, world, voucher):
    login(client, "cashier_a")
    before = household_balance(world, "a1")
    response = _redeem(client, voucher["token"], "30")
    assert response.status_code == 302
    assert re.fullmatch(r"/shop/receipts/\d+", response.headers["Location"])
    html = text(client.get(response.headers["Location"]))
    assert 'id="receipt"' in html
    assert figure(html, "receipt-points") == "30"
    assert "¥30.00" in html and "每分 ¥1.00" in html
    assert "爱心超市" in html and "cashier_a" in html
    assert "2026年5月15日 10:00:00" in html, "the time in the community's time zone"
    assert household_balance(world, "a1") == before + 10, "the 10 points the goods did not use came back"
    from pointsbank.redeem import vouchers

    assert vouchers.get_voucher(actor(world, "resident_a1"), voucher["id"])["status"] == "redeemed"


def test_the_receipt_in_english(client, world, voucher):
    login(client, "cashier_a")
    location = _redeem(client, voucher["short_code"], "40").headers["Location"]
    html = text(client.get(f"{location}?lang=en"))
    assert "Redeemed" in html and "¥1.00 per point" in html and "Scan the next voucher" in html


def test_a_second_scan_is_refused_as_already_used_in_both_languages(client, world, voucher):
    login(client, "cashier_a")
    assert _redeem(client, voucher["token"], "40").status_code == 302
    response = _check(client, voucher["token"])
    assert response.status_code == 409
    code, message = _refusal(response)
    assert code == "voucher_already_redeemed"
    assert "已使用" in message and "此兑换券已使用过。" in message and "爱心超市" in message
    assert 'data-refused="PB1.' in text(response), "the page will not send the same QR again by itself"
    client.get("/shop?lang=en")
    english = _check(client, voucher["token"])
    code, message = _refusal(english)
    assert code == "voucher_already_redeemed"
    assert "Already used" in message and "This voucher was already redeemed." in message


def test_redeeming_twice_from_one_confirmation_is_refused(client, world, voucher):
    login(client, "cashier_a")
    confirm = _check(client, voucher["short_code"], "40")
    data = {"csrf_token": csrf_token(text(confirm)), "code": voucher["short_code"], "points": "40"}
    assert client.post("/shop/redeem", data=data).status_code == 302
    again = client.post("/shop/redeem", data=data)
    assert again.status_code == 409 and _refusal(again)[0] == "voucher_already_redeemed"


def test_an_expired_voucher_is_refused(client, world, voucher, app):
    from pointsbank import clock

    login(client, "cashier_a")
    app.config["CLOCK"] = clock.now() + timedelta(hours=25)
    response = _check(client, voucher["token"])
    code, message = _refusal(response)
    assert response.status_code == 410 and code == "voucher_expired"
    assert "已过期" in message and "2026/5/16 10:00" in message


def test_a_cancelled_voucher_is_refused(client, world, voucher, db):
    from pointsbank.redeem import vouchers

    vouchers.cancel_voucher(actor(world, "resident_a1"), voucher["id"])
    db.session.commit()
    login(client, "cashier_a")
    response = _check(client, voucher["short_code"])
    assert response.status_code == 409 and _refusal(response)[0] == "voucher_cancelled"


def test_a_forged_token_is_refused(client, world, voucher):
    head, signature = voucher["token"].rsplit(".", 1)
    forged = head + "." + ("A" if signature[0] != "A" else "B") + signature[1:]
    login(client, "cashier_a")
    response = _check(client, forged)
    code, message = _refusal(response)
    assert response.status_code == 422 and code == "voucher_forged"
    assert "签名无效" in message


def test_a_shop_of_another_community_is_told_the_voucher_is_unknown(client, world, voucher):
    login(client, "cashier_b")
    for code in (voucher["token"], voucher["short_code"]):
        response = _check(client, code)
        assert response.status_code == 404 and _refusal(response)[0] == "voucher_not_found"


def test_more_points_than_the_face_value_are_refused_on_the_confirmation(client, world, voucher):
    login(client, "cashier_a")
    confirm = _check(client, voucher["short_code"], "40")
    response = client.post("/shop/redeem", data={"csrf_token": csrf_token(text(confirm)),
                                                 "code": voucher["short_code"], "points": "41"})
    assert response.status_code == 422
    code, message = _refusal(response)
    assert code == "points_exceed_voucher" and "40" in message and "41" in message
    assert figure(text(response), "face-value") == "40", "the confirmation stays, to correct the points"
    from pointsbank.redeem import vouchers

    assert vouchers.get_voucher(actor(world, "resident_a1"), voucher["id"])["status"] == "issued"


@pytest.mark.parametrize("code", ["hello", "1234 5678 9012 3457", "PB1.abc"])
def test_a_malformed_code_is_refused(client, world, code):
    login(client, "cashier_a")
    response = _check(client, code)
    assert response.status_code == 400
    refused, message = _refusal(response)
    assert refused == "voucher_code_malformed" and "这不是兑换券码" in message


def test_an_empty_code_is_a_form_error_not_a_lookup(client, world):
    login(client, "cashier_a")
    response = _check(client, "  ")
    assert response.status_code == 400
    assert 'id="refusal"' not in text(response)
    assert "请扫描二维码或输入 16 位数字码。" in text(response)


def test_too_many_wrong_short_codes_are_throttled(client, world, voucher, app):
    from pointsbank.redeem import shortcode

    app.config["REDEEM_GUESSES_PER_CASHIER"] = 2
    login(client, "cashier_a")
    wrong = "12345678901234" + "0"
    wrong += shortcode.check_digit(wrong)
    for _ in range(2):
        assert _refusal(_check(client, wrong))[0] == "voucher_not_found"
    response = _check(client, voucher["short_code"])
    code, message = _refusal(response)
    assert response.status_code == 429 and code == "too_many_attempts"
    assert "秒后再试" in message
    assert _check(client, voucher["token"]).status_code == 200, "a scanned QR is not a guess"


def test_the_forms_need_their_csrf_token(client, world, voucher):
    login(client, "cashier_a")
    for action in ("/shop/check", "/shop/redeem"):
        response = client.post(action, data={"code": voucher["short_code"], "points": "40"})
        assert response.status_code == 400 and "csrf_failed" in text(response), action
    from pointsbank.redeem import vouchers

    assert vouchers.get_voucher(actor(world, "resident_a1"), voucher["id"])["status"] == "issued"


def test_the_receipts_list_shows_the_shops_redemptions_only(client, world, voucher):
    login(client, "cashier_a")
    location = _redeem(client, voucher["short_code"], "25").headers["Location"]
    html = text(client.get("/shop/receipts"))
    assert f'href="{location}"' in html and "¥25.00" in html
    assert f'href="{location}"' in text(client.get("/shop")), "the scan page lists the latest ones"
    client.post("/logout", data={"csrf_token": csrf_token(html)})
    login(client, "cashier_b")
    assert client.get(location).status_code == 404
    assert location not in text(client.get("/shop/receipts"))


@pytest.mark.parametrize("username", ["resident_a1", "staff_a", "admin"])
def test_only_cashiers_open_the_shop_pages(client, world, username):
    login(client, username)
    for url in ("/shop", "/shop/receipts"):
        assert client.get(url).status_code == 403, url


def test_shop_pages_are_self_contained(client, world, voucher):
    login(client, "cashier_a")
    location = _redeem(client, voucher["short_code"], "10").headers["Location"]
    for url in ("/shop", "/shop/receipts", location):
        response = client.get(url)
        assert response.status_code == 200, url
        html = text(response)
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), url
        assert " style=" not in html and "<style" not in html, url
        for link in re.findall(r"""(?:href|src|action)=["']([^"']+)""", html):
            assert not re.match(r"^(https?:)?//", link), f"{url} links to {link}"
