"""The resident's messages on /home at phone width (360 px): the unread count, a message in plain
words, mark read, the SMS choice with the phone masked. Axe in Chinese and in English, screenshots
in ``artifacts/e2e/``."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect
from pointsbank.database import row_by_id

pytestmark = pytest.mark.e2e


def test_the_resident_reads_a_message_on_home_marks_it_read_and_turns_sms_off(e2e_server: Any, chromium: Any,
                                                                              phones: Any) -> None:
    from pointsbank.community.models import Household
    from pointsbank.database import unit_of_work
    from pointsbank.extensions import db
    from pointsbank.notify import services as notify

    world = e2e_server.world
    with e2e_server.app.app_context():
        row_by_id(Household, world["a1"]).phone = "13812345678"
        db.session.commit()
        unit_of_work(notify.card_blocked)(world["alpha"], world["a1"], 1)
        db.session.remove()

    page = phones.log_in(chromium, "resident_a1")
    expect(page.locator("#unread-count")).to_contain_text("1 条未读")
    expect(page.locator("#inbox-list")).to_contain_text("积分卡因连续五次密码错误已被锁定")
    expect(page.locator("#sms")).to_contain_text("138****5678")
    assert "13812345678" not in page.content()
    phones.visits.check(page, "notify-home-inbox")
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 360, f"the page is {width} px wide at 360 px"

    with page.expect_navigation():
        page.locator("#inbox-list button[type=submit]").first.click()
    expect(page.locator("#unread-count")).to_contain_text("0 条未读")

    with page.expect_navigation():
        page.locator("#sms button[type=submit]").click()
    expect(page.locator("#sms")).to_contain_text("已关闭发往 138****5678 的短信")
    phones.visits.check(page, "notify-home-sms-off")

    page.goto("/home/notifications")
    expect(page.locator("#inbox-list")).to_contain_text("积分卡")
    phones.visits.check(page, "notify-messages")
    page.context.close()
    phones.assert_clean()
