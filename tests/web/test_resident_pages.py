"""A resident's pages: the household's points and history in plain words, vouchers made,
shown full-screen, watched until the shop redeems them, and cancelled."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from tests.web.helpers import actor, csrf_token, figure, login, post_form, record, redeem, text


def _voucher_id(location: str) -> str:
    found = re.fullmatch(r"/home/vouchers/([0-9a-f]{32})", location)
    assert found, location
    return found.group(1)


def _make_voucher(client, points: int) -> str:
    response = post_form(client, "/home", "/home/vouchers", {"points": str(points)})
    assert response.status_code == 302
    return _voucher_id(response.headers["Location"])


def _switch(client, username: str) -> None:
    """Log out (the header's form) and log in as someone else."""
    client.post("/logout", data={"csrf_token": csrf_token(text(client.get("/login", follow_redirects=True)))})
    login(client, username)


def _status(html: str) -> str:
    found = re.search(r'id="voucher-status"[^>]*data-status="([a-z]+)"', html)
    assert found, "no #voucher-status on the page"
    return found.group(1)


@pytest.fixture
def earned(world):
    """Household a1 has earned 6 points above its base of 100 (3 volunteer hours)."""
    record(world, "staff_a2", "a1", "volunteer_hour", quantity=3)
    return world


def test_a_resident_lands_on_home_and_sees_balance_and_redeemable_points(client, earned):
    response = login(client, "resident_a1")
    assert response.headers["Location"] == "/home"
    html = text(client.get("/home"))
    assert figure(html, "balance") == "106"
    assert figure(html, "redeemable") == "6"
    assert 'id="voucher-form"' in html and 'name="points"' in html


def test_the_history_explains_each_posting_in_the_pages_language(client, earned):
    login(client, "resident_a1")
    chinese = text(client.get("/home"))
    assert "志愿服务（每小时） × 3" in chinese and "加分" in chinese and "基础积分" in chinese
    english = text(client.get("/home/history?lang=en"))
    assert "Volunteer service, per hour × 3" in english
    assert "Points awarded" in english and "Opening balance" in english


def test_the_history_names_the_shop_where_a_voucher_was_used(client, earned):
    redeem(earned, "a1", points=6, spent=4)
    login(client, "resident_a1")
    html = text(client.get("/home/history?lang=en"))
    assert "Voucher created" in html
    assert "4 points spent at 爱心超市; the rest of the voucher came back." in html


def test_creating_a_voucher_leads_to_its_full_screen_page(client, earned):
    login(client, "resident_a1")
    voucher_id = _make_voucher(client, 5)
    html = text(client.get(f"/home/vouchers/{voucher_id}"))
    from pointsbank.redeem import vouchers

    shown = vouchers.get_voucher(actor(earned, "resident_a1"), voucher_id)
    assert figure(html, "voucher-points") == "5"
    assert figure(html, "voucher-code") == shown["short_code"]
    assert re.fullmatch(r"\d{4} \d{4} \d{4} \d{4}", shown["short_code"])
    assert _status(html) == "issued"
    assert f'id="voucher-qr" class="voucher-qr" src="/home/vouchers/{voucher_id}/qr.png"' in html
    assert 'data-seconds-left="86400"' in html, "the countdown starts from the 24 hours left"
    assert "有效期至" in html, "the expiry time is rendered for pages without JavaScript"
    assert figure(text(client.get("/home")), "redeemable") == "1"


def test_the_qr_image_carries_the_vouchers_signed_token(client, earned):
    login(client, "resident_a1")
    voucher_id = _make_voucher(client, 5)
    response = client.get(f"/home/vouchers/{voucher_id}/qr.png")
    assert response.status_code == 200 and response.mimetype == "image/png"
    from pointsbank.redeem import qr, vouchers

    token = vouchers.get_voucher(actor(earned, "resident_a1"), voucher_id)["token"]
    assert token.startswith("PB1.")
    assert response.data == qr.render_png(token)


def test_a_voucher_redeemed_at_the_shop_shows_as_used_with_its_receipt(client, earned):
    login(client, "resident_a1")
    voucher_id = _make_voucher(client, 6)
    assert client.get(f"/home/vouchers/{voucher_id}/status").get_json() == {"status": "issued"}
    from pointsbank.extensions import db
    from pointsbank.redeem import redemptions, vouchers

    code = vouchers.get_voucher(actor(earned, "resident_a1"), voucher_id)["short_code"]
    redemptions.redeem(actor(earned, "cashier_a"), code=code, points=4)
    db.session.commit()
    assert client.get(f"/home/vouchers/{voucher_id}/status").get_json() == {"status": "redeemed"}
    html = text(client.get(f"/home/vouchers/{voucher_id}"))
    assert _status(html) == "redeemed"
    assert "已使用" in html and "在爱心超市使用" in html
    assert 'id="voucher-qr"' not in html, "a used voucher shows no QR code any more"
    assert 'id="voucher-receipt"' in html and "¥4.00" in html
    english = text(client.get(f"/home/vouchers/{voucher_id}?lang=en"))
    assert "Used at 爱心超市" in english and ">Used<" in english


def test_an_expired_voucher_says_so(client, earned, app):
    login(client, "resident_a1")
    voucher_id = _make_voucher(client, 5)
    from pointsbank import clock

    app.config["CLOCK"] = clock.now() + timedelta(hours=25)
    html = text(client.get(f"/home/vouchers/{voucher_id}"))
    assert _status(html) == "expired"
    assert 'id="voucher-qr"' not in html
    assert client.get(f"/home/vouchers/{voucher_id}/qr.png").status_code == 410


def test_a_resident_cancels_a_voucher_and_gets_the_points_back(client, earned):
    login(client, "resident_a1")
    voucher_id = _make_voucher(client, 5)
    page = f"/home/vouchers/{voucher_id}"
    response = post_form(client, page, f"{page}/cancel", follow_redirects=True)
    html = text(response)
    assert _status(html) == "cancelled"
    assert "兑换券已作废" in html
    assert figure(text(client.get("/home")), "redeemable") == "6"
    again = post_form(client, "/home/vouchers", f"{page}/cancel", follow_redirects=True)
    assert "此兑换券已作废；积分已退回该户。" in text(again), "a second cancel is refused with the service's message"


def test_cancelling_without_the_csrf_token_changes_nothing(client, earned):
    login(client, "resident_a1")
    voucher_id = _make_voucher(client, 5)
    response = client.post(f"/home/vouchers/{voucher_id}/cancel")
    assert response.status_code == 400 and "csrf_failed" in text(response)
    assert _status(text(client.get(f"/home/vouchers/{voucher_id}"))) == "issued"


def test_making_a_voucher_without_the_csrf_token_is_refused(client, earned):
    login(client, "resident_a1")
    response = client.post("/home/vouchers", data={"points": "5"})
    assert response.status_code == 400
    assert figure(text(client.get("/home")), "redeemable") == "6"


def test_more_points_than_redeemable_are_refused_with_the_services_message(client, earned, db):
    import sqlalchemy as sa

    from pointsbank.redeem.models import Voucher
    from tests.integration.helpers_redeem import escrow_balance, household_balance

    login(client, "resident_a1")
    response = post_form(client, "/home", "/home/vouchers", {"points": "7"})
    assert response.status_code == 422
    assert "可兑换积分不足：仅有 6 分。" in text(response)
    # nothing moved: the household keeps its points, the escrow holds none, no voucher exists
    db.session.expire_all()
    assert household_balance(earned, "a1") == 106 and escrow_balance(earned["alpha"]) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Voucher)) == 0
    assert figure(text(client.get("/home")), "redeemable") == "6"
    english = post_form(client, "/home?lang=en", "/home/vouchers", {"points": "7"})
    assert "Not enough redeemable points: 6 available." in text(english)


@pytest.mark.parametrize("points", ["", "0", "abc"])
def test_a_missing_or_invalid_number_of_points_is_a_form_error(client, earned, points):
    login(client, "resident_a1")
    response = post_form(client, "/home", "/home/vouchers", {"points": points})
    assert response.status_code == 400
    assert 'aria-invalid="true"' in text(response)
    assert figure(text(response), "redeemable") == "6"


def test_a_household_without_spendable_points_cannot_make_a_voucher(client, world):
    login(client, "resident_a2")
    html = text(client.get("/home"))
    assert figure(html, "redeemable") == "0"
    assert "还没有可以使用的积分" in html and 'disabled aria-disabled="true"' in html


def test_another_households_voucher_is_not_found(client, earned):
    login(client, "resident_a1")
    voucher_id = _make_voucher(client, 5)
    _switch(client, "resident_a2")
    for url in (f"/home/vouchers/{voucher_id}", f"/home/vouchers/{voucher_id}/qr.png",
                f"/home/vouchers/{voucher_id}/status"):
        assert client.get(url).status_code == 404, url
    response = post_form(client, "/home", f"/home/vouchers/{voucher_id}/cancel")
    assert response.status_code == 404
    _switch(client, "resident_b1")
    assert client.get(f"/home/vouchers/{voucher_id}").status_code == 404
    from pointsbank.redeem import vouchers

    assert vouchers.get_voucher(actor(earned, "resident_a1"), voucher_id)["status"] == "issued"


@pytest.mark.parametrize("username", ["staff_a", "cashier_a", "grid_a"])
def test_only_residents_open_the_resident_pages(client, world, username):
    login(client, username)
    for url in ("/home", "/home/history", "/home/vouchers"):
        assert client.get(url).status_code == 403, url


def test_the_voucher_list_shows_each_vouchers_status(client, earned):
    login(client, "resident_a1")
    kept = _make_voucher(client, 2)
    cancelled = _make_voucher(client, 3)
    post_form(client, f"/home/vouchers/{cancelled}", f"/home/vouchers/{cancelled}/cancel")
    html = text(client.get("/home/vouchers"))
    assert f'href="/home/vouchers/{kept}"' in html and f'href="/home/vouchers/{cancelled}"' in html
    assert html.count('data-status="issued"') == 1 and html.count('data-status="cancelled"') == 1
    only_open = text(client.get("/home/vouchers?status=issued"))
    assert kept in only_open and cancelled not in only_open
    assert f'href="/home/vouchers/{kept}"' in text(client.get("/home")), "open vouchers are linked from home"


def test_the_start_page_warns_before_a_quarterly_reset(client, earned, db):
    from pointsbank.community.models import Community

    community = db.session.get(Community, earned["alpha"])
    community.points_reset = "quarter"
    db.session.commit()
    login(client, "resident_a1")
    html = text(client.get("/home?lang=en"))
    assert 'id="reset-notice"' in html
    assert "Use your points before Jun 30, 2026." in html
    assert "6 points above it will go" in html


def test_no_reset_notice_when_points_are_kept(client, earned):
    login(client, "resident_a1")
    assert 'id="reset-notice"' not in text(client.get("/home"))


def test_resident_pages_are_self_contained(client, earned):
    login(client, "resident_a1")
    voucher_id = _make_voucher(client, 5)
    for url in ("/home", "/home/history", "/home/vouchers", f"/home/vouchers/{voucher_id}"):
        response = client.get(url)
        assert response.status_code == 200, url
        html = text(response)
        assert '<html lang="zh-CN">' in html
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), url
        assert " style=" not in html and "<style" not in html, url
        for link in re.findall(r"""(?:href|src|action)=["']([^"']+)""", html):
            assert not re.match(r"^(https?:)?//", link), f"{url} links to {link}"
        assert response.headers["Cache-Control"] == "no-store"
