"""End to end in Debian's Chromium: points travel from a staff member's record to a voucher
redeemed at the shop by scanning its QR code with the (fake) camera.

Every page reached is checked by axe-core (no serious or critical violation) and
photographed at phone width in Chinese and English (``artifacts/e2e/<name>-<lang>.png``);
every browser context refuses requests to any host but the app's, and the test fails on one.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.helpers import decode_qr, read_y4m_frame, write_y4m

pytestmark = pytest.mark.e2e

HOUSEHOLD = "A-001"            # household a1 of community alpha, base 100 points
RULE = "model_family"          # +50, approval "staff": one approval by another staff member
VOUCHER_POINTS = 30
NUMBER = re.compile(r"-?\d[\d,]*")


def number_in(page: Any, selector: str) -> int:
    """The number shown in an element (``1,234 分`` → 1234)."""
    found = NUMBER.search(page.locator(selector).inner_text())
    assert found, f"no number in {selector} on {page.url}"
    return int(found.group(0).replace(",", ""))


def current_quarter() -> str:
    today = datetime.now(timezone.utc)
    return f"{today.year}Q{(today.month - 1) // 3 + 1}"


# --- the steps ----------------------------------------------------------------------------

def staff_records_a_behaviour(phones: Any, chromium: Any, household_id: int) -> Any:
    """staff_a finds the household by its number, picks the rule, sees the dry run (+50,
    needs approval) and saves; nothing is posted yet. Answers staff_a's page."""
    visits = phones.visits
    page = phones.log_in(chromium, "staff_a", check=True)
    expect(page).to_have_url(re.compile(r"/staff$"))
    visits.check(page, "staff-dashboard")

    page.get_by_role("link", name="录入行为").first.click()
    expect(page).to_have_url(re.compile(r"/staff/records/new"))
    page.fill("#q", HOUSEHOLD)
    with page.expect_navigation():
        page.locator("form[role=search] button[type=submit]").click()
    expect(page.locator(f'input[name="household_id"][value="{household_id}"]')).to_be_checked()
    visits.check(page, "staff-record")

    page.select_option("#rule_code", RULE)
    expect(page.locator("#preview [data-state]")).to_have_attribute("data-state", "pending")
    expect(page.locator("#preview-points")).to_have_text("+50")
    visits.check(page, "staff-record-preview", both_languages=False)
    with page.expect_navigation():
        page.locator("#record-form button[type=submit]").click()
    expect(page).to_have_url(re.compile(rf"/staff/households/{household_id}$"))
    expect(page.locator(".flash-success")).to_contain_text("已录入：+50 分，等待审核。")
    assert number_in(page, "#balance") == 100, "a record waiting for approval must not move points"
    visits.check(page, "staff-household")

    # the recorder cannot approve their own record: the button is there, disabled, with the reason
    page.goto("/staff/approvals")
    mine = page.locator("#approvals > li").filter(has_text=HOUSEHOLD)
    expect(mine.get_by_role("button", name="通过")).to_be_disabled()
    expect(mine).to_contain_text("这是您录入的；须由其他工作人员审核。")
    return page


def second_staff_approves(phones: Any, chromium: Any, household_id: int) -> None:
    """staff_a2 approves it in the queue; the 50 points are posted to the household."""
    visits = phones.visits
    page = phones.log_in(chromium, "staff_a2")
    page.goto("/staff/approvals")
    waiting = page.locator("#approvals > li").filter(has_text=HOUSEHOLD)
    expect(waiting).to_have_count(1)
    expect(waiting).to_contain_text("+50")
    visits.check(page, "staff-approvals")
    with page.expect_navigation():
        waiting.get_by_role("button", name="通过").click()
    expect(page.locator(".flash-success")).to_contain_text("已通过：+50 分已入账。")
    expect(page.locator("#approvals")).to_have_count(0)
    page.goto(f"/staff/households/{household_id}")
    assert number_in(page, "#balance") == 150
    assert number_in(page, "#redeemable") == 50


def resident_creates_a_voucher(phones: Any, chromium: Any) -> tuple[Any, str]:
    """resident_a1 sees 150 points (50 redeemable above the base of 100) and draws a voucher
    of 30. Answers the resident's page (on the voucher) and the voucher's id."""
    visits = phones.visits
    page = phones.log_in(chromium, "resident_a1")
    expect(page).to_have_url(re.compile(r"/home$"))
    assert number_in(page, "#balance") == 150
    assert number_in(page, "#redeemable") == 50
    visits.check(page, "resident-home")

    page.locator('#voucher-form input[name="points"]').fill(str(VOUCHER_POINTS))
    with page.expect_navigation():
        page.locator("#voucher-form [type=submit]").click()
    found = re.search(r"/home/vouchers/([^/?#]+)$", page.url)
    assert found, f"creating a voucher should lead to its page, not {page.url}"
    expect(page.locator("#voucher-status")).to_have_attribute("data-status", "issued")
    assert number_in(page, "#voucher-points") == VOUCHER_POINTS
    expect(page.locator("#voucher-code")).to_have_text(re.compile(r"\d"))
    expect(page.locator("#voucher-qr")).to_be_visible()
    visits.check(page, "resident-voucher")
    return page, found.group(1)


def camera_video_of_the_voucher(phones: Any, resident_page: Any, voucher_id: str, directory: Path) -> Path:
    """The voucher's QR as the app serves it (``/api/v1/vouchers/<id>/qr.png``), made into the
    fake camera's video. The QR the resident's page shows must carry the same token."""
    server = phones.server
    response = resident_page.context.request.get(
        f"/api/v1/vouchers/{voucher_id}/qr.png", headers=server.world.headers("resident_a1"))
    assert response.ok, f"the voucher's QR image: HTTP {response.status}"
    png = response.body()
    token = decode_qr(png)
    assert len(token) == 1 and token[0].startswith("PB"), f"the served QR image should hold the token, not {token}"
    shown = decode_qr(resident_page.locator("#voucher-qr").screenshot())
    assert shown == token, "the QR on the resident's page should carry the voucher's token (as read by a phone)"

    video = write_y4m(png, directory / f"voucher-{voucher_id}.y4m")
    frame = read_y4m_frame(video)
    import io

    buffer = io.BytesIO()
    frame.save(buffer, format="PNG")
    assert decode_qr(buffer.getvalue()) == token, "the fake camera's frames should show the QR"
    return video


def cashier_scans_and_redeems(phones: Any, browser: Any) -> Any:
    """cashier_a's scan page reads the QR off the camera stream, takes the goods' points and
    redeems: a receipt. Answers the cashier's page."""
    visits = phones.visits
    page = phones.log_in(browser, "cashier_a")
    expect(page).to_have_url(re.compile(r"/shop$"))
    expect(page.locator("video#camera")).to_be_attached()
    page.locator("#points").fill(str(VOUCHER_POINTS))
    expect(page.locator("#code")).not_to_have_value("", timeout=15_000)  # decoded from the camera
    submit = page.locator("#redeem-submit")
    if page.locator("#receipt").count() == 0 and submit.count() and submit.is_visible():
        submit.click()
    expect(page.locator("#receipt")).to_be_visible(timeout=15_000)
    expect(page.locator("#receipt")).to_contain_text(str(VOUCHER_POINTS))
    visits.check(page, "cashier-receipt", both_languages=False)
    return page


def cashier_scans_again(phones: Any, page: Any, lang: str) -> None:
    """The same QR scanned a second time: the page says clearly that it is already used."""
    page.goto(f"/shop?lang={lang}")
    page.locator("#points").fill(str(VOUCHER_POINTS))
    expect(page.locator("#code")).not_to_have_value("", timeout=15_000)
    submit = page.locator("#redeem-submit")
    if page.locator("#refusal").count() == 0 and submit.count() and submit.is_visible():
        submit.click()
    refusal = page.locator("#refusal")
    expect(refusal).to_be_visible(timeout=15_000)
    expect(refusal).to_have_attribute("data-code", "already_redeemed")
    phones.visits.check(page, "cashier-refusal", both_languages=False)


# --- the tests ------------------------------------------------------------------------------

def test_staff_record_a_behaviour_and_a_second_staff_member_approves_it(
        e2e_server: Any, chromium: Any, phones: Any) -> None:
    household_id = e2e_server.world["a1"]
    staff_records_a_behaviour(phones, chromium, household_id)
    second_staff_approves(phones, chromium, household_id)
    phones.assert_clean()
