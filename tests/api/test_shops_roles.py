"""Who may call the shop, voucher, key and redemption routes: the status each role gets.

Same rules as ``test_route_roles.py`` (bodies are ``{}``: an allowed role reaches validation
(400) or the scope check (404), a refused role gets 403 before the body is read, an anonymous
caller 401). ``REDEEM_ROUTES`` holds the rows that table needs for these routes.
"""

from __future__ import annotations

import re

import pytest

from tests.api.test_route_roles import ROLES, only

ALL = {r: 200 for r in ROLES if r != "anon"}

REDEEM_ROUTES: dict[tuple[str, str], dict[str, int]] = {
    ("GET", "/api/v1/communities/{alpha}/shops"): only(200, "admin", "staff_a", admin_t2=404, staff_b=404),
    ("POST", "/api/v1/communities/{alpha}/shops"): only(400, "admin", "admin_t2", "staff_a", "staff_b"),
    ("GET", "/api/v1/shops/{shop_a}"): only(200, "admin", "staff_a", "cashier_a", admin_t2=404, staff_b=404),
    ("POST", "/api/v1/shops/{shop_a}/partners"): only(400, "admin", "admin_t2"),
    ("GET", "/api/v1/shops/{shop_a}/redemptions"): only(200, "admin", "staff_a", "cashier_a", admin_t2=404,
                                                        staff_b=404),
    ("GET", "/api/v1/keys"): ALL | {"anon": 200},
    ("POST", "/api/v1/communities/{alpha}/keys/rotate"): only(201, "admin", admin_t2=404),
    # a grid worker reaches vouchers only as a household's proxy (households): past the role check, 404 without a grant
    ("POST", "/api/v1/vouchers"): only(400, "staff_a", "grid_a", "resident_a1", "staff_b"),
    ("GET", "/api/v1/vouchers/{missing}"): only(404, "admin", "admin_t2", "staff_a", "grid_a", "resident_a1",
                                                "staff_b"),
    ("DELETE", "/api/v1/vouchers/{missing}"): only(404, "staff_a", "grid_a", "resident_a1", "staff_b"),
    ("GET", "/api/v1/vouchers/{missing}/qr.png"): only(404, "admin", "admin_t2", "staff_a", "grid_a", "resident_a1",
                                                       "staff_b"),
    ("GET", "/api/v1/vouchers/{missing}/qr.svg"): only(404, "admin", "admin_t2", "staff_a", "grid_a", "resident_a1",
                                                       "staff_b"),
    ("GET", "/api/v1/households/{a1}/vouchers"): only(200, "admin", "staff_a", "resident_a1", admin_t2=404,
                                                      grid_a=404, staff_b=404),
    ("POST", "/api/v1/redemptions"): only(400, "cashier_a"),
    ("POST", "/api/v1/redemptions/{missing}/reverse"): only(400, "admin", "admin_t2", "staff_a", "staff_b"),
}


def _template(path: str) -> str:
    return re.sub(r"\{[a-z0-9_]+\}", "{}", path)


def test_every_redeem_route_has_a_row(app):
    table = {(m, _template(p)) for m, p in REDEEM_ROUTES}
    redeem_rules = [rule for rule in app.url_map.iter_rules() if rule.endpoint.startswith("redeem.")]
    assert redeem_rules
    for rule in redeem_rules:
        path = re.sub(r"<(?:[a-z]+:)?[a-z_]+>", "{}", rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            assert (method, path) in table, f"{method} {rule.rule}: decide who may call it (add a row)"


@pytest.mark.parametrize("route", list(REDEEM_ROUTES), ids=[f"{m} {p}" for m, p in REDEEM_ROUTES])
def test_each_role_gets_the_status_the_table_gives(route, client, world):
    method, path = route
    url = path.format(missing="0" * 32 if "vouchers" in path else 999999, **world.ids)
    got = {}
    for role in ROLES:
        headers = {} if role == "anon" else world.headers(role)
        kwargs = {"json": {}} if method in {"POST", "PATCH", "PUT"} else {}
        response = client.open(url, method=method, headers=headers, **kwargs)
        got[role] = response.status_code
        assert response.is_json, f"{role}: {response.data[:200]!r}"
    assert got == REDEEM_ROUTES[route]
