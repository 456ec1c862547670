"""Household cards in Chromium: staff issue a card from the household page (PIN twice) and print
the A4 sheet; a screenshot of the sheet at 300 % decodes with an independent QR decoder (OpenCV,
not the app's qrcode nor the cashier's jsQR) to the credential, which pays through the API; a
cashier's phone whose fake camera sees the printed card goes to the PIN pad, the PIN is tapped
on it, the points typed, the receipt shows. Screenshots at 360 px in zh_CN and en."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.helpers import read_y4m_frame, write_y4m
from tests.factories import PASSWORD

pytestmark = pytest.mark.e2e

PIN = "246810"
A4 = {"width": 794, "height": 1123}  # CSS pixels of an A4 page at 96 dpi


def opencv_decode(png: bytes) -> list[str]:
    """Every QR text OpenCV finds in an image: a decoder independent of the app's and the page's."""
    import cv2
    import numpy as np

    image = cv2.imdecode(np.frombuffer(png, dtype=np.uint8), cv2.IMREAD_GRAYSCALE)
    detector = cv2.QRCodeDetector()
    found, texts, _, _ = detector.detectAndDecodeMulti(image)
    if found:
        return [t for t in texts if t]
    text, _, _ = detector.detectAndDecode(image)
    return [text] if text else []


def staff_issue_the_card(phones: Any, chromium: Any, household_id: int) -> Any:
    page = phones.log_in(chromium, "staff_a2")
    page.goto(f"/staff/households/{household_id}")
    expect(page.locator("#card-status")).to_have_attribute("data-status", "none")
    page.fill("#card-form input[name=pin]", PIN)
    page.fill("#card-form input[name=pin_repeat]", PIN)
    with page.expect_navigation():
        page.locator("#card-issue").click()
    expect(page.locator("#card-status")).to_have_attribute("data-status", "live")
    phones.visits.check(page, "cards-household")
    page.goto("/staff/cards")
    expect(page.locator("#cards-choose")).to_be_visible()
    phones.visits.check(page, "cards-choose")
    page.goto(f"/staff/households/{household_id}")
    with page.expect_navigation():
        page.locator("#card-print").click()
    expect(page.locator(".household-card")).to_have_count(1)
    expect(page.locator(".card-number")).to_have_text("A-001")
    phones.visits.check(page, "cards-print")
    return page


def print_sheet_at_300_percent(chromium: Any, staff: Any, directory: Path) -> bytes:
    """The print page as printed (print CSS, A4 width) in a browser at device scale 3: a PNG."""
    context = chromium.new_context(base_url=staff.url.split("/staff/")[0], viewport=A4, device_scale_factor=3,
                                   storage_state=staff.context.storage_state())
    try:
        page = context.new_page()
        page.goto(staff.url)
        page.emulate_media(media="print")
        png = page.screenshot(full_page=True)
        (directory / "cards-print-300.png").write_bytes(png)
        return png
    finally:
        context.close()


def test_staff_issue_and_print_a_card_and_a_cashier_scans_it_and_takes_the_pin_on_the_pad(
        e2e_server: Any, chromium: Any, launch_chromium: Any, phones: Any, tmp_path: Path) -> None:
    from pointsbank.extensions import db
    from tests.integration.helpers_ledger import award

    world = e2e_server.world
    with e2e_server.app.app_context():
        award(world["alpha"], world["a1"], 100)  # 100 redeemable above the base
        db.session.commit()
        db.session.remove()

    staff = staff_issue_the_card(phones, chromium, world["a1"])

    # the sheet at 300 %, read by OpenCV: the credential, which pays through the API
    sheet = print_sheet_at_300_percent(chromium, staff, phones.visits.directory)
    decoded = opencv_decode(sheet)
    assert len(decoded) == 1 and decoded[0].startswith("PBC1."), decoded
    token = decoded[0]
    with e2e_server.app.app_context():
        client = e2e_server.app.test_client()
        login = client.post("/api/v1/auth/tokens", json={"username": "cashier_a", "password": PASSWORD})
        assert login.status_code == 201, login.get_json()
        headers = {"Authorization": f"Bearer {login.get_json()['token']}"}
        paid = client.post("/api/v1/redemptions", json={"card": token, "pin": PIN, "points": 10}, headers=headers)
        assert paid.status_code == 201, paid.get_json()
        assert paid.get_json()["points"] == 10
        db.session.remove()

    # the fake camera sees the card as printed (its QR cut from a screenshot of the sheet)
    qr_png = staff.locator(".household-card .card-qr").first.screenshot()
    video = write_y4m(qr_png, tmp_path / "card.y4m")
    frame_png = tmp_path / "frame.png"
    read_y4m_frame(video).save(frame_png)
    assert opencv_decode(frame_png.read_bytes()) == [token]
    camera = launch_chromium(video)
    cashier = phones.log_in(camera, "cashier_a")
    pad = cashier.locator("#pinpad")
    expect(pad).to_be_visible(timeout=20_000)  # scanned, and the PIN pad instead of a voucher's confirmation
    expect(cashier).to_have_url(re.compile(r"/shop/check$"))
    phones.visits.check(cashier, "cards-pin-pad", both_languages=False)
    cashier.goto("/shop?lang=en")                # the same card, in English this time
    expect(pad).to_be_visible(timeout=20_000)
    phones.visits.check(cashier, "cards-pin-pad", both_languages=False)

    for digit in "246811":                       # a wrong PIN first: refused with the attempts left
        cashier.locator(f"#pinpad [data-digit='{digit}']").click()
    expect(cashier.locator("#pin-dots")).to_have_text("●●●●●●")
    with cashier.expect_navigation():
        cashier.locator("#pin-ok").click()
    expect(cashier.locator("#refusal")).to_have_attribute("data-code", "wrong_pin")
    expect(cashier.locator("#refusal")).to_contain_text("4")
    for digit in PIN:
        cashier.locator(f"#pinpad [data-digit='{digit}']").click()
    with cashier.expect_navigation():
        cashier.locator("#pin-ok").click()
    expect(cashier.locator("#card-pay-form")).to_be_visible()
    phones.visits.check(cashier, "cards-points", both_languages=False)

    cashier.locator("#card-pay-form input[name=points]").fill("25")
    with cashier.expect_navigation():
        cashier.locator("#card-pay-submit").click()
    expect(cashier).to_have_url(re.compile(r"/shop/receipts/\d+$"))
    expect(cashier.locator("#receipt-points")).to_have_text("25")
    phones.visits.check(cashier, "cards-receipt")

    staff.goto(f"/staff/households/{world['a1']}")
    assert staff.locator("#redeemable").inner_text().strip() == "65"
    phones.assert_clean()
