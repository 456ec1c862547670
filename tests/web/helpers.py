"""Helpers of the page tests: log in through the form, read the CSRF token off a page."""

from __future__ import annotations

import re
from typing import Any

from tests.factories import PASSWORD

_TOKEN = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')
_TOKEN_ALT = re.compile(r'id="csrf_token" name="csrf_token" type="hidden" value="([^"]+)"')


def csrf_token(html: str) -> str:
    found = _TOKEN.search(html) or _TOKEN_ALT.search(html)
    assert found, "the page has no CSRF token"
    return found.group(1)


def login(client: Any, username: str, password: str = PASSWORD, **extra: Any) -> Any:
    page = client.get("/login")
    data = {"username": username, "password": password, "csrf_token": csrf_token(page.get_data(as_text=True)), **extra}
    return client.post("/login", data=data)


def text(response: Any) -> str:
    return response.get_data(as_text=True)


def post_form(client: Any, page_url: str, action: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
    """Open ``page_url``, take its CSRF token, post ``data`` to ``action`` (as a person would)."""
    token = csrf_token(text(client.get(page_url)))
    return client.post(action, data={"csrf_token": token, **(data or {})}, **kwargs)


def actor(world: Any, username: str) -> Any:
    from pointsbank.auth.models import User
    from pointsbank.extensions import db

    return db.session.get(User, world.users[username])


def record(world: Any, recorder: str, household: str, rule_code: str, *, quantity: int = 1,
           occurred_on: Any = None) -> Any:
    """A behaviour record made through the service (committed), as another page or the API would."""
    from datetime import date

    from pointsbank.extensions import db
    from pointsbank.rules import records

    made = records.create_record(actor(world, recorder), household_id=world[household], rule_code=rule_code,
                                 occurred_on=occurred_on or date(2026, 5, 10), quantity=quantity)
    db.session.commit()
    return made


def redeem(world: Any, household: str, points: int, spent: int) -> dict[str, Any]:
    """A resident's voucher of ``points`` redeemed for ``spent`` points at shop_a (committed)."""
    from pointsbank.extensions import db
    from pointsbank.redeem import redemptions, vouchers

    voucher = vouchers.issue_voucher(actor(world, f"resident_{household}"), points=points)
    receipt = redemptions.redeem(actor(world, "cashier_a"), code=voucher["short_code"], points=spent)
    db.session.commit()
    return receipt


def figure(html: str, element_id: str) -> str:
    """The text of the element with this id (numbers on the dashboard and reports)."""
    import re

    found = re.search(rf'id="{element_id}">([^<]*)<', html)
    assert found, f"no #{element_id} on the page"
    return found.group(1).strip()
