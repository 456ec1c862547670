"""Every page the flow test does not reach, as its usual visitor sees it: axe-core finds no
serious or critical violation in Chinese or in English, no request leaves the app's host, and
a phone-width screenshot of each goes to ``artifacts/e2e/``.

The server's world has a closed quarter behind it (see ``conftest.seed``): records, an open
objection, a redeemed voucher, a published notice board and a draft settlement statement.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

#: who visits (None: nobody logged in), the pages — (artifact name, path, HTTP status, an element it must show)
TOUR = [
    (None, [("notice-boards", "/notice/alpha", 200, "main h1"),
            ("notice-missing", "/notice/alpha/1999Q1", 404, "main h1"),
            ("region-board", "/notice/region/county/{board}", 200, "#region-ranking")]),
    ("staff_a", [("staff-households", "/staff/households", 200, "main table"),
                 ("staff-household-history", "/staff/households/{a2}", 200, "#history"),
                 ("staff-objections", "/staff/objections", 200, "main h1"),
                 ("staff-import", "/staff/import", 200, "input[type=file]"),
                 ("staff-shops", "/staff/shops", 200, "main h1"),
                 ("staff-fairness", "/staff/fairness?period={board}", 200, "#recorders")]),
    ("admin", [("staff-settlements", "/staff/settlements?period={board}", 200, "#statement-{statement}"),
               ("staff-statement", "/staff/settlements/{statement}", 200, "main h1"),
               ("staff-region", "/staff/region?period={board}&region_id={county}", 200, "#region-communities")]),
    ("resident_a2", [("resident-history", "/home/history", 200, "main h1"),
                     ("resident-vouchers", "/home/vouchers", 200, "main h1"),
                     ("error-forbidden", "/staff", 403, "main h1")]),
    ("cashier_a", [("cashier-receipts", "/shop/receipts", 200, "main h1")]),
]


def test_every_other_page_is_accessible_in_both_languages(e2e_server: Any, chromium: Any, phones: Any) -> None:
    names = {**e2e_server.world.ids, "board": e2e_server.board, "statement": e2e_server.statement}
    for username, pages in TOUR:
        page = phones.log_in(chromium, username) if username else phones.open(chromium)
        for name, path, status, shown in pages:
            response = page.goto(path.format(**names))
            assert response is not None and response.status == status, f"{path}: HTTP {response and response.status}"
            expect(page.locator(shown.format(**names)).first).to_be_visible()
            phones.visits.check(page, name)
        page.context.close()

    # a refused login shows its error next to the field (a POST's answer: each language in turn)
    page = phones.open(chromium)
    for lang in ("zh_CN", "en"):
        page.goto(f"/login?lang={lang}")
        page.fill("#username", "staff_a")
        page.fill("#password", "not-the-password")
        with page.expect_navigation():
            page.locator("main form button[type=submit]").click()
        expect(page.locator("#password")).to_have_attribute("aria-invalid", "true")
        phones.visits.check(page, "login-refused", both_languages=False)

    phones.assert_clean()
