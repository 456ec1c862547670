"""Every API route × every role: the status each caller gets.

The table is the decision of who may call what. A new route fails
``test_every_api_route_has_a_row_in_the_role_table`` until a row is added here, so nobody
adds a route without deciding who may call it. Bodies are empty (``{}``): an allowed role gets
past the role check to validation (400) or to the scope check (404), a refused role gets 403
before the body is read, an anonymous caller 401.
"""

from __future__ import annotations

import re

import pytest

ROLES = ("anon", "admin", "admin_t2", "staff_a", "grid_a", "resident_a1", "cashier_a", "staff_b")
ALL = {r: 200 for r in ROLES if r != "anon"} | {"anon": 401}


def only(status: int, *roles: str, **overrides: int) -> dict[str, int]:
    table = {r: 403 for r in ROLES if r != "anon"} | {"anon": 401}
    table.update({r: status for r in roles})
    table.update(overrides)
    return table


# (method, path with {placeholders} from the world, body) -> status per role
ROUTES: dict[tuple[str, str], dict[str, int]] = {
    ("POST", "/api/v1/auth/tokens"): {r: 400 for r in ROLES},
    ("DELETE", "/api/v1/auth/tokens/current"): {r: 204 for r in ROLES if r != "anon"} | {"anon": 401},
    ("GET", "/api/v1/me"): ALL,
    ("POST", "/api/v1/users"): only(400, "admin", "admin_t2", "staff_a", "staff_b"),
    ("GET", "/api/v1/regions"): only(200, "admin", "admin_t2"),
    ("POST", "/api/v1/regions"): only(400, "admin", "admin_t2"),
    ("GET", "/api/v1/communities"): ALL,
    ("POST", "/api/v1/communities"): only(400, "admin", "admin_t2"),
    ("GET", "/api/v1/communities/{alpha}"): ALL | {"admin_t2": 404, "staff_b": 404},
    ("PATCH", "/api/v1/communities/{alpha}"): only(200, "admin", admin_t2=404),
    ("GET", "/api/v1/communities/{alpha}/grids"): only(200, "admin", "staff_a", "grid_a", admin_t2=404, staff_b=404),
    ("GET", "/api/v1/communities/{alpha}/households"): only(200, "admin", "staff_a", "grid_a", admin_t2=404,
                                                            staff_b=404),
    ("POST", "/api/v1/communities/{alpha}/households"): only(400, "admin", "admin_t2", "staff_a", "staff_b"),
    ("GET", "/api/v1/households/{a1}"): only(200, "admin", "staff_a", "grid_a", "resident_a1", admin_t2=404,
                                             staff_b=404),
    ("GET", "/api/v1/households/{a1}/postings"): only(200, "admin", "staff_a", "grid_a", "resident_a1",
                                                      admin_t2=404, staff_b=404),
    ("POST", "/api/v1/households/{a1}/adjustments"): only(400, "staff_a", "staff_b"),
    ("POST", "/api/v1/adjustments/{missing}/approve"): only(404, "staff_a", "staff_b"),
    ("POST", "/api/v1/adjustments/{missing}/reject"): only(404, "staff_a", "staff_b"),
    ("GET", "/api/v1/communities/{alpha}/adjustments"): only(200, "admin", "staff_a", admin_t2=404, staff_b=404),
    ("GET", "/api/v1/audit"): only(200, "admin", "admin_t2"),
    # rules: rule books, records, objections, evidence, imports
    ("GET", "/api/v1/communities/{alpha}/rulebooks"): only(200, "admin", "staff_a", "grid_a", "resident_a1",
                                                           admin_t2=404, staff_b=404),
    # a rule book is published as YAML: a JSON body is refused as the wrong media type once allowed
    ("POST", "/api/v1/communities/{alpha}/rulebooks"): only(415, "admin", "staff_a", admin_t2=404, staff_b=404),
    ("GET", "/api/v1/communities/{alpha}/rulebooks/current"): only(200, "admin", "staff_a", "grid_a", "resident_a1",
                                                                   admin_t2=404, staff_b=404),
    # lists are filtered to the caller's scope: another region's admin gets an empty page, not a 404
    ("GET", "/api/v1/records"): only(200, "admin", "admin_t2", "staff_a", "grid_a", "resident_a1", "staff_b"),
    ("POST", "/api/v1/records"): only(400, "staff_a", "grid_a", "resident_a1", "staff_b"),
    ("POST", "/api/v1/records/evaluate"): only(400, "staff_a", "grid_a", "resident_a1", "staff_b"),
    ("POST", "/api/v1/records/group"): only(400, "staff_a", "grid_a", "staff_b"),
    ("GET", "/api/v1/records/{missing}"): only(404, "admin", "admin_t2", "staff_a", "grid_a", "resident_a1",
                                               "staff_b"),
    ("POST", "/api/v1/records/{missing}/approve"): only(404, "staff_a", "staff_b"),
    ("POST", "/api/v1/records/{missing}/reject"): only(400, "staff_a", "staff_b"),
    ("POST", "/api/v1/records/{missing}/objections"): only(400, "resident_a1"),
    ("GET", "/api/v1/objections"): only(200, "admin", "admin_t2", "staff_a", "staff_b"),
    ("POST", "/api/v1/objections/{missing}/resolve"): only(400, "staff_a", "staff_b"),
    ("POST", "/api/v1/evidence"): only(400, "staff_a", "grid_a", "resident_a1", "staff_b"),
    ("GET", "/api/v1/evidence/{missing}"): only(404, "admin", "admin_t2", "staff_a", "grid_a", "resident_a1",
                                                "staff_b"),
    ("POST", "/api/v1/communities/{alpha}/records/import"): only(400, "staff_a", "staff_b"),
    ("POST", "/api/v1/communities/{alpha}/households/import"): only(400, "admin", "admin_t2", "staff_a", "staff_b"),
    # the quarterly round: settlement is the administrators' (DESIGN.md), reports are for every login in scope
    ("POST", "/api/v1/settlements/run"): only(400, "admin", "admin_t2"),
    ("GET", "/api/v1/settlements"): only(200, "admin", "admin_t2"),
    ("GET", "/api/v1/settlements/{missing}"): only(404, "admin", "admin_t2"),
    ("POST", "/api/v1/settlements/{missing}/confirm"): only(404, "admin", "admin_t2"),
    ("POST", "/api/v1/settlements/{missing}/pay"): only(404, "admin", "admin_t2"),
    ("GET", "/api/v1/settlements/{missing}/export"): only(404, "admin", "admin_t2"),
    ("GET", "/api/v1/shops/{shop_a}/statements"): only(200, "admin", "staff_a", "cashier_a", admin_t2=404,
                                                       staff_b=404),
    ("GET", "/api/v1/communities/{alpha}/rankings"): ALL | {"admin_t2": 404, "staff_b": 404},
    ("GET", "/api/v1/communities/{alpha}/rankings/export"): ALL | {"admin_t2": 404, "staff_b": 404},
    ("GET", "/api/v1/communities/{alpha}/notice"): ALL | {"admin_t2": 404, "staff_b": 404},
    ("GET", "/api/v1/communities/{alpha}/notice/export"): ALL | {"admin_t2": 404, "staff_b": 404},
    # the shelf: staff of a partner community manage it, every login of one reads it, cashiers ring it up
    ("GET", "/api/v1/shops/{shop_a}/items"): only(200, "admin", "staff_a", "grid_a", "resident_a1", "cashier_a",
                                                  admin_t2=404, staff_b=404),
    ("POST", "/api/v1/shops/{shop_a}/items"): only(400, "admin", "admin_t2", "staff_a", "staff_b"),
    ("GET", "/api/v1/shops/{shop_a}/items/barcode/{missing}"): only(404, "admin", "admin_t2", "staff_a", "cashier_a",
                                                                    "staff_b"),
    ("GET", "/api/v1/items/{missing}"): only(404, "admin", "admin_t2", "staff_a", "grid_a", "resident_a1",
                                             "cashier_a", "staff_b"),
    ("PATCH", "/api/v1/items/{missing}"): only(404, "admin", "admin_t2", "staff_a", "staff_b"),
    ("GET", "/api/v1/items/{missing}/photo"): only(404, "admin", "admin_t2", "staff_a", "grid_a", "resident_a1",
                                                   "cashier_a", "staff_b"),
    ("GET", "/api/v1/items/{missing}/stock"): only(404, "admin", "admin_t2", "staff_a", "cashier_a", "staff_b"),
    ("POST", "/api/v1/items/{missing}/stock"): only(400, "admin", "admin_t2", "staff_a", "staff_b"),
    # the stock statement needs ?period=; without it an allowed caller gets 400
    ("GET", "/api/v1/shops/{shop_a}/stock"): only(400, "admin", "admin_t2", "staff_a", "cashier_a", "staff_b"),
    ("GET", "/api/v1/communities/{alpha}/shelf/most-redeemed"): ALL | {"admin_t2": 404, "staff_b": 404},
    ("GET", "/api/v1/reservations"): only(200, "admin", "admin_t2", "staff_a", "resident_a1", "cashier_a", "staff_b"),
    ("POST", "/api/v1/reservations"): only(400, "staff_a", "resident_a1", "staff_b"),
    ("GET", "/api/v1/reservations/{missing}"): only(404, "admin", "admin_t2", "staff_a", "resident_a1", "cashier_a",
                                                    "staff_b"),
    ("DELETE", "/api/v1/reservations/{missing}"): only(404, "staff_a", "resident_a1", "staff_b"),
    ("GET", "/api/v1/reservations/{missing}/qr.svg"): only(404, "admin", "admin_t2", "staff_a", "resident_a1",
                                                           "staff_b"),
    ("POST", "/api/v1/reservations/collect"): only(400, "cashier_a"),
    # the shop without signal: devices, offline sync, double spends
    ("GET", "/api/v1/shops/{shop_a}/devices"): only(200, "admin", "staff_a", "cashier_a", admin_t2=404, staff_b=404),
    ("POST", "/api/v1/shops/{shop_a}/devices"): only(400, "admin", "admin_t2", "staff_a", "cashier_a", "staff_b"),
    ("DELETE", "/api/v1/devices/{missing}"): only(404, "admin", "admin_t2", "staff_a", "cashier_a", "staff_b"),
    ("POST", "/api/v1/redemptions/sync"): only(400, "cashier_a"),
    ("GET", "/api/v1/communities/{alpha}/double-spends"): only(200, "admin", "staff_a", admin_t2=404, staff_b=404),
    ("POST", "/api/v1/double-spends/{missing}/settle"): only(400, "admin", "admin_t2", "staff_a", "staff_b"),
    # households: freeze and proxies are staff's; the passbook is the household's usual scope (and its proxies')
    ("POST", "/api/v1/households/{a1}/freeze"): only(400, "staff_a", "staff_b"),
    # notifications: staff set a household's phone and opt-out; the inbox is the resident's own
    ("PATCH", "/api/v1/households/{a1}"): only(200, "admin", "staff_a", admin_t2=404, staff_b=404),
    ("GET", "/api/v1/me/notifications"): only(200, "resident_a1"),
    ("POST", "/api/v1/me/notifications/{missing}/read"): only(404, "resident_a1"),
    ("POST", "/api/v1/households/{a1}/unfreeze"): only(409, "staff_a", staff_b=404),
    ("GET", "/api/v1/households/{a1}/proxies"): only(200, "admin", "staff_a", admin_t2=404, staff_b=404),
    ("POST", "/api/v1/households/{a1}/proxies"): only(400, "staff_a", "staff_b"),
    ("DELETE", "/api/v1/households/{a1}/proxies/{missing}"): only(404, "staff_a", "staff_b"),
    ("GET", "/api/v1/households/{a1}/passbook"): only(200, "admin", "staff_a", "grid_a", "resident_a1",
                                                      admin_t2=404, staff_b=404),
    # household cards are staff's (no card yet: 404 no_card; another community's household: 404)
    ("GET", "/api/v1/households/{a1}/card"): only(404, "staff_a", "staff_b"),
    ("POST", "/api/v1/households/{a1}/card"): only(400, "staff_a", "staff_b"),
    ("DELETE", "/api/v1/households/{a1}/card"): only(404, "staff_a", "staff_b"),
    ("POST", "/api/v1/households/{a1}/card/unblock"): only(404, "staff_a", "staff_b"),
    # region rankings need ?period=; without it an allowed admin gets 400
    ("GET", "/api/v1/regions/{t1}/rankings"): only(400, "admin", "admin_t2"),
    # the town and the county: the dashboard and fairness need ?period= (400 before the scope check)
    ("GET", "/api/v1/regions/{t1}/dashboard"): only(400, "admin", "admin_t2"),
    ("GET", "/api/v1/regions/{t1}/dashboard/export"): only(400, "admin", "admin_t2"),
    ("GET", "/api/v1/communities/{alpha}/fairness"): only(400, "admin", "admin_t2", "staff_a", "staff_b"),
    ("POST", "/api/v1/communities/{alpha}/spot-checks"): only(400, "admin", "admin_t2", "staff_a", "staff_b"),
    ("GET", "/api/v1/communities/{alpha}/spot-checks"): only(200, "admin", "staff_a", admin_t2=404, staff_b=404),
    ("GET", "/api/v1/spot-checks/{missing}"): only(404, "admin", "admin_t2", "staff_a", "staff_b"),
    ("POST", "/api/v1/spot-checks/{missing}/items/{missing}/confirm"): only(404, "staff_a", "staff_b"),
    ("POST", "/api/v1/spot-checks/{missing}/items/{missing}/dispute"): only(400, "staff_a", "staff_b"),
}


def _template(path: str) -> str:
    return re.sub(r"\{[a-z0-9_]+\}", "{}", path)


def test_every_api_route_has_a_row_in_the_role_table(app):
    from tests.api.test_shops_roles import REDEEM_ROUTES  # the shop, voucher and redemption rows live there

    table = {(m, _template(p)) for m, p in [*ROUTES, *REDEEM_ROUTES]}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.endpoint.startswith("api-docs"):
            continue
        path = re.sub(r"<(?:[a-z]+:)?[a-z_]+>", "{}", rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            assert (method, path) in table, f"{method} {rule.rule}: decide who may call it (add a row)"


def test_every_api_method_declares_its_roles_or_is_public(app):
    from pointsbank.auth.policy import roles_of

    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.endpoint.startswith("api-docs"):
            continue
        view = app.view_functions[rule.endpoint]
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            roles, is_public = roles_of(view, method)
            assert is_public or roles, f"{method} {rule.rule} declares no roles"


@pytest.mark.parametrize("route", list(ROUTES), ids=[f"{m} {p}" for m, p in ROUTES])
def test_each_role_gets_the_status_the_table_gives(route, client, world):
    method, path = route
    url = path.format(missing=999999, **world.ids)
    got = {}
    for role in ROLES:
        headers = {} if role == "anon" else world.headers(role)
        if method == "DELETE" and role != "anon":
            from tests.factories import token_for
            from pointsbank.extensions import db

            headers = {"Authorization": f"Bearer {token_for(world.users[role])}"}
            db.session.commit()
        kwargs = {"json": {}} if method in {"POST", "PATCH", "PUT"} else {}
        response = client.open(url, method=method, headers=headers, **kwargs)
        got[role] = response.status_code
        # an export answers with its file; everything else (errors included) is JSON
        is_file = path.endswith("/export") and response.status_code == 200
        assert response.is_json or response.status_code == 204 or is_file, f"{role}: {response.data[:200]!r}"
    assert got == ROUTES[route]
