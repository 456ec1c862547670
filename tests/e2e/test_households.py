"""Households without smartphones, in Chromium at phone width: staff freeze a household from its
page (the reason shows), print its passbook, grant a relative's login as its proxy; the relative
switches /home to that household. Every page passes axe in Chinese and in English, screenshots
in ``artifacts/e2e/``."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


def test_staff_freeze_print_the_passbook_and_grant_a_proxy_who_switches_home(e2e_server: Any, chromium: Any,
                                                                               phones: Any) -> None:
    world = e2e_server.world
    page = phones.log_in(chromium, "staff_a2")
    page.goto(f"/staff/households/{world['a2']}")
    page.select_option("#reason", "under_review")
    page.fill("#note", "核实户籍")
    with page.expect_navigation():
        page.locator("#freeze-form button[type=submit]").click()
    expect(page.locator("#frozen")).to_contain_text("核查中")
    phones.visits.check(page, "households-frozen-household")

    page.goto(f"/staff/households/{world['a2']}/passbook?period={e2e_server.board}")
    expect(page.locator("#passbook-lines")).to_be_visible()
    expect(page.locator("#frozen")).to_be_visible()
    phones.visits.check(page, "households-passbook")
    page.emulate_media(media="print")
    page.screenshot(path=str(phones.visits.directory / "households-passbook-print.png"), full_page=True)
    expect(page.locator("#passbook-period")).to_be_hidden()
    page.emulate_media(media="screen")

    page.goto(f"/staff/households/{world['a2']}")
    page.fill("#username", "resident_a1")
    with page.expect_navigation():
        page.locator("#proxy-form button[type=submit]").click()
    expect(page.locator("#proxy-list")).to_contain_text("resident_a1")
    page.context.close()

    relative = phones.log_in(chromium, "resident_a1")
    expect(relative.locator("#proxy-switch")).to_be_visible()
    relative.select_option("#switch-household", str(world["a2"]))
    with relative.expect_navigation():
        relative.locator("#proxy-switch button[type=submit]").click()
    expect(relative.locator("#acting-for")).to_contain_text("A-002")
    expect(relative.locator("#frozen")).to_be_visible()
    phones.visits.check(relative, "households-proxy-home")
    relative.context.close()
    phones.assert_clean()
