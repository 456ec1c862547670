"""End to end in Debian's Chromium: points travel from a staff member's record to a voucher
redeemed at the shop by scanning its QR code with the (fake) camera.

The story: staff_a records "named a model family" (+50, needs one approval) for A-001;
staff_a2 approves it; resident_a1 sees 150 points (50 redeemable) and draws a voucher of 30;
Chromium's fake camera plays a video of the voucher's QR to cashier_a's scan page, which reads
it, confirms and redeems 25 points; the resident's voucher page turns to "used" by itself;
scanning the QR again is refused as already used. Then the public notice board.

Every page reached is checked by axe-core (no serious or critical violation) and
photographed at phone width in Chinese and English (``artifacts/e2e/<name>-<lang>.png``);
every browser context refuses requests to any host but the app's, and the test fails on one.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.helpers import decode_qr, read_y4m_frame, write_y4m

pytestmark = pytest.mark.e2e

HOUSEHOLD = "A-001"            # household a1 of community alpha, base 100 points
RULE = "model_family"          # +50, approval "staff": one approval by another staff member
VOUCHER_POINTS = 30            # drawn by the resident
SPENT = 25                     # the goods' points at the till: 5 come back to the household
NUMBER = re.compile(r"-?\d[\d,]*")


def number_in(page: Any, selector: str) -> int:
    """The number shown in an element (``1,234 分`` → 1234)."""
    found = NUMBER.search(page.locator(selector).inner_text())
    assert found, f"no number in {selector} on {page.url}"
    return int(found.group(0).replace(",", ""))


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

    for lang in ("en", "zh_CN"):  # the dry run in each language; the record is saved in Chinese
        visits.switch_language(page, lang)
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
    expect(page.locator("#voucher-code")).to_have_text(re.compile(r"\d{4}"))
    expect(page.locator("#voucher-qr")).to_be_visible()
    visits.check(page, "resident-voucher")
    return page, found.group(1)


def camera_video_of_the_voucher(resident: Any, directory: Path) -> Path:
    """The QR image the voucher page shows, fetched from the app with the resident's session,
    made into the fake camera's video. What a phone's screenshot of the page reads must be the
    same token, and so must the video's frames."""
    qr = resident.locator("#voucher-qr")
    source = qr.get_attribute("src")
    assert source, "#voucher-qr should be an <img> with the QR image"
    response = resident.context.request.get(source)
    assert response.ok, f"the voucher's QR image {source}: HTTP {response.status}"
    png = response.body()
    token = decode_qr(png)
    assert len(token) == 1 and token[0].startswith("PB1."), f"the QR should hold the signed token, not {token}"
    assert decode_qr(qr.screenshot()) == token, "the QR as shown on the phone's screen should read the same"

    video = write_y4m(png, directory / "voucher.y4m")
    frame = io.BytesIO()
    read_y4m_frame(video).save(frame, format="PNG")
    assert decode_qr(frame.getvalue()) == token, "the fake camera's frames should show the QR"
    return video


def cashier_scans_and_redeems(phones: Any, camera: Any) -> Any:
    """cashier_a opens the scan page; the camera reads the QR and the page goes on to the
    confirmation by itself (30 points); the cashier rings up 25 and redeems: the receipt."""
    visits = phones.visits
    page = phones.log_in(camera, "cashier_a")
    confirm = page.locator("#confirm")
    expect(confirm).to_be_visible(timeout=20_000)  # decoded from the camera and checked
    expect(page).to_have_url(re.compile(r"/shop/check$"))
    assert number_in(page, "#face-value") == VOUCHER_POINTS
    visits.check(page, "cashier-confirm", both_languages=False)
    page.goto("/shop?lang=en")                      # the same voucher, in English this time
    expect(confirm).to_be_visible(timeout=20_000)
    visits.check(page, "cashier-confirm", both_languages=False)

    page.locator("#redeem-form input[name=points]").fill(str(SPENT))
    with page.expect_navigation():
        page.locator("#redeem-submit").click()
    expect(page).to_have_url(re.compile(r"/shop/receipts/\d+$"))
    receipt = page.locator("#receipt")
    expect(receipt).to_be_visible()
    expect(receipt).to_contain_text(str(SPENT))
    visits.check(page, "cashier-receipt")
    return page


def cashier_scans_again(phones: Any, page: Any, lang: str) -> None:
    """The same QR in front of the camera again: refused, in large letters, as already used."""
    page.goto(f"/shop?lang={lang}")
    refusal = page.locator("#refusal")
    expect(refusal).to_be_visible(timeout=20_000)
    expect(refusal).to_have_attribute("data-code", "voucher_already_redeemed")
    expect(refusal).to_contain_text("已使用" if lang == "zh_CN" else "Already used")
    phones.visits.check(page, "cashier-refusal", both_languages=False)


# --- the test -------------------------------------------------------------------------------

def test_a_recorded_good_deed_becomes_a_voucher_redeemed_by_scanning_its_qr(
        e2e_server: Any, chromium: Any, launch_chromium: Any, phones: Any, tmp_path: Path) -> None:
    household_id = e2e_server.world["a1"]
    staff_records_a_behaviour(phones, chromium, household_id)
    second_staff_approves(phones, chromium, household_id)
    resident, voucher_id = resident_creates_a_voucher(phones, chromium)

    # the scan page itself, with a camera that shows no QR (Chromium's own test pattern)
    idle = phones.log_in(chromium, "cashier_a")
    expect(idle.locator("video#camera")).to_be_attached()
    phones.visits.check(idle, "cashier-scan")
    idle.context.close()

    camera = launch_chromium(camera_video_of_the_voucher(resident, tmp_path))
    cashier = cashier_scans_and_redeems(phones, camera)

    # the voucher page polls its status and shows the result without a reload by hand
    expect(resident.locator("#voucher-status")).to_have_attribute("data-status", "redeemed", timeout=15_000)
    expect(resident.locator("#voucher-receipt")).to_contain_text(str(SPENT))
    phones.visits.check(resident, "resident-voucher-used")
    resident.goto("/home")
    assert number_in(resident, "#balance") == 150 - SPENT
    assert number_in(resident, "#redeemable") == 50 - SPENT

    for lang in ("zh_CN", "en"):
        cashier_scans_again(phones, cashier, lang)

    board = phones.open(chromium)  # anyone, without a login
    board.goto(f"/notice/alpha/{e2e_server.board}")
    expect(board.locator("#ranking")).to_be_visible()
    expect(board.locator("#champion")).to_contain_text("A-002")
    expect(board.locator("svg#category-chart")).to_be_visible()
    phones.visits.check(board, "notice-board")

    phones.assert_clean()
