"""The town and the county through the API: a county of three towns and nine villages, built with
the API (regions, villages, households, staff, records, vouchers and redemptions), whose region
dashboard must equal the figures this test computes itself from what it created."""

from __future__ import annotations

import csv
import io
import random
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal

import pytest
from openpyxl import load_workbook

from tests.fixtures.regions import POINTS_RULEBOOK
from tests.integration.helpers_round import at, relogin

NOW = "2026-09-15T02:00:00+00:00"        # 10:00 on 15 September in Shanghai: Q3 is running
AFTER_Q3 = "2026-10-02T02:00:00+00:00"
TOWNS = ("east", "west", "north")
PASSWORD = "county-password-1"


def _round(numerator, denominator, places):
    if not denominator:
        return 0.0
    return float((Decimal(numerator) / Decimal(denominator)).quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP))


class County:
    """What the test built, kept on the side to compute the expected figures."""

    def __init__(self, client, admin_headers):
        self.client, self.admin = client, admin_headers
        self.regions: dict[str, int] = {}
        self.villages: dict[str, dict] = {}          # code → {id, town, point_value_fen, households: [ids]}
        self.records: list[dict] = []                # {village, household, points, quarter, counted}
        self.redemptions: list[dict] = []            # {village, points}
        self.tokens: dict[str, str] = {}

    def post(self, path, body, headers=None, status=201):
        response = self.client.post(f"/api/v1{path}", json=body, headers=headers or self.admin)
        assert response.status_code == status, (path, response.get_json())
        return response.get_json()

    def login(self, username):
        token = self.post("/auth/tokens", {"username": username, "password": PASSWORD}, headers={})["token"]
        self.tokens[username] = token
        return {"Authorization": f"Bearer {token}"}

    def headers(self, username):
        return {"Authorization": f"Bearer {self.tokens[username]}"}


def _build(client, world, runner) -> County:
    county = County(client, world.headers("admin"))
    county.regions["county"] = county.post("/regions", {"code": "c17", "name": "青山县", "kind": "county"})["id"]
    rng = random.Random(17)
    for t, town in enumerate(TOWNS):
        county.regions[town] = county.post("/regions", {"code": f"t-{town}", "name": f"{town}镇", "kind": "town",
                                                        "parent_id": county.regions["county"]})["id"]
        for v in range(3):
            code = f"v-{town}-{v}"
            value = (10, 20, 50)[v]
            village = county.post("/communities", {"code": code, "name": f"{town}{v}村", "base_points": 100,
                                                   "point_value_fen": value, "voucher_ttl_hours": 24,
                                                   "timezone": "Asia/Shanghai",
                                                   "parent_region_id": county.regions[town]})
            response = client.post(f"/api/v1/communities/{village['id']}/rulebooks", data=POINTS_RULEBOOK.encode(),
                                   headers={**county.admin, "Content-Type": "application/yaml"})
            assert response.status_code == 201, response.get_json()
            county.post("/users", {"username": f"staff-{code}", "password": PASSWORD, "role": "staff",
                                   "community_id": village["id"]})
            staff = county.login(f"staff-{code}")
            households = [county.post(f"/communities/{village['id']}/households",
                                      {"number": f"{code}-{n:02d}", "head_name": f"户主{code}-{n}"}, headers=staff)["id"]
                          for n in range(3 + t * 3 + v)]
            county.villages[code] = {"id": village["id"], "town": town, "point_value_fen": value,
                                     "households": households, "staff": staff}
            for household in households:
                for quarter, day in (("2026Q2", "2026-05-10"), ("2026Q3", "2026-08-10")):
                    if rng.random() < 0.35:
                        continue
                    points = rng.choice((5, 10, 20, 40, -5, -10))
                    created = county.post("/records", {"household_id": household,
                                                       "rule_code": "point" if points > 0 else "fine",
                                                       "occurred_on": day, "quantity": abs(points)}, headers=staff)
                    assert created["status"] == "posted"
                    county.records.append({"id": created["id"], "village": code, "household": household,
                                           "points": points, "quarter": quarter, "counted": True})
    return county


def _redeem(county, code, household, points):
    village = county.villages[code]
    voucher = county.post("/vouchers", {"points": points, "household_id": household}, headers=village["staff"])
    county.post("/redemptions", {"code": voucher["short_code"], "points": points},
                headers=county.headers(village["cashier"]))
    county.redemptions.append({"village": code, "points": points})


@pytest.fixture
def county(app, client, world, runner):
    relogin(app, world, NOW)
    county = _build(client, world, runner)
    for code in ("v-east-0", "v-west-2", "v-north-1"):
        village = county.villages[code]
        shop = county.post(f"/communities/{village['id']}/shops", {"name": f"{code}超市"})
        county.post("/users", {"username": f"cashier-{code}", "password": PASSWORD, "role": "cashier",
                               "shop_id": shop["id"]})
        county.login(f"cashier-{code}")
        village["cashier"] = f"cashier-{code}"
    # a redemption needs points above the base: give two households enough, then redeem
    for code in ("v-east-0", "v-west-2", "v-north-1"):
        village = county.villages[code]
        for household in village["households"][:2]:
            created = county.post("/records", {"household_id": household, "rule_code": "point",
                                               "occurred_on": "2026-09-01", "quantity": 60}, headers=village["staff"])
            county.records.append({"id": created["id"], "village": code, "household": household, "points": 60,
                                   "quarter": "2026Q3", "counted": True})
            _redeem(county, code, household, 15)
    # a record reversed through an objection counts nothing
    reversed_one = next(r for r in county.records if r["village"] == "v-west-1" and r["quarter"] == "2026Q3")
    _reverse(app, county, world, runner, reversed_one)
    for name in ("east", "west"):
        result = runner.invoke(args=["user", "create", "--role", "admin", "--username", f"admin-{name}",
                                     "--password", PASSWORD, "--region", f"t-{name}"])
        assert result.exit_code == 0, result.output
        county.login(f"admin-{name}")
    return county


def _reverse(app, county, world, runner, entry):
    village = county.villages[entry["village"]]
    household = entry["household"]
    result = runner.invoke(args=["user", "create", "--role", "resident", "--username", f"resident-{household}",
                                 "--password", PASSWORD, "--household", str(household)])
    assert result.exit_code == 0, result.output
    resident = county.login(f"resident-{household}")
    county.post("/users", {"username": f"staff2-{entry['village']}", "password": PASSWORD, "role": "staff",
                           "community_id": village["id"]}, headers=village["staff"])
    second = county.login(f"staff2-{entry['village']}")
    objection = county.post(f"/records/{entry['id']}/objections", {"reason": "没有这回事"}, headers=resident)
    county.post(f"/objections/{objection['id']}/resolve", {"outcome": "reversed"}, headers=second, status=200)
    entry["counted"] = False


def _expected(county, period, codes=None):
    """The dashboard figures, from what the test created (and each household's redeemable points)."""
    rows = {}
    for code, village in county.villages.items():
        if codes is not None and code not in codes:
            continue
        counted = [r for r in county.records if r["village"] == code and r["quarter"].startswith(period)
                   and r["counted"]]
        awarded = sum(r["points"] for r in counted if r["points"] > 0)
        deducted = -sum(r["points"] for r in counted if r["points"] < 0)
        participants = len({r["household"] for r in counted})
        households = len(village["households"])
        redemptions = [r for r in county.redemptions if r["village"] == code] if period in ("2026Q3", "2026") else []
        outstanding = sum(county.client.get(f"/api/v1/households/{h}", headers=county.admin).get_json()["redeemable"]
                          for h in village["households"])
        rows[code] = {"community_id": village["id"], "households": households, "participants": participants,
                      "participation": _round(participants, households, 4), "points_awarded": awarded,
                      "points_deducted": deducted, "points_per_household": _round(awarded - deducted, households, 2),
                      "redemptions": len(redemptions), "redemption_points": sum(r["points"] for r in redemptions),
                      "points_outstanding": outstanding, "liability_fen": outstanding * village["point_value_fen"]}
    return rows


def _figures(entry):
    return {key: entry[key] for key in ("community_id", "households", "participants", "participation",
                                        "points_awarded", "points_deducted", "points_per_household", "redemptions",
                                        "redemption_points", "points_outstanding", "liability_fen")}


def _dashboard(client, county, region, period="2026Q3", headers=None):
    return client.get(f"/api/v1/regions/{county.regions[region]}/dashboard?period={period}",
                      headers=headers or county.admin)


def test_the_county_dashboard_equals_the_figures_computed_from_the_records_and_redemptions(client, county):
    response = _dashboard(client, county, "county")

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    got = {c["code"]: _figures(c) for c in body["communities"]}
    assert got == _expected(county, "2026Q3")
    assert len(got) == 9 and sum(c["redemptions"] for c in got.values()) == 6
    assert body["totals"]["households"] == sum(len(v["households"]) for v in county.villages.values())
    assert body["totals"]["liability_fen"] == sum(c["liability_fen"] for c in got.values())


def test_the_trend_gives_the_county_quarter_by_quarter(client, county):
    body = _dashboard(client, county, "county").get_json()
    households = sum(len(v["households"]) for v in county.villages.values())

    assert [t["period"] for t in body["trend"]] == ["2025Q4", "2026Q1", "2026Q2", "2026Q3"]
    for entry in body["trend"]:
        counted = [r for r in county.records if r["quarter"] == entry["period"] and r["counted"]]
        awarded = sum(r["points"] for r in counted if r["points"] > 0)
        deducted = -sum(r["points"] for r in counted if r["points"] < 0)
        assert (entry["points_awarded"], entry["points_deducted"]) == (awarded, deducted), entry["period"]
        assert entry["participation"] == _round(len({r["household"] for r in counted}), households, 4)
        assert entry["redemptions"] == (6 if entry["period"] == "2026Q3" else 0)


def test_a_past_quarter_counts_its_own_records_and_no_redemption(client, county):
    body = _dashboard(client, county, "county", "2026Q2").get_json()

    assert {c["code"]: _figures(c) for c in body["communities"]} == _expected(county, "2026Q2")


def test_a_years_dashboard_counts_each_household_once_over_its_quarters(client, county):
    body = _dashboard(client, county, "county", "2026").get_json()

    assert {c["code"]: _figures(c) for c in body["communities"]} == _expected(county, "2026")
    assert [t["period"] for t in body["trend"]] == ["2026Q1", "2026Q2", "2026Q3", "2026Q4"]


def test_a_town_admin_sees_only_its_villages_and_another_towns_region_is_not_found(client, county):
    own = _dashboard(client, county, "east", headers=county.headers("admin-east"))
    other = _dashboard(client, county, "west", headers=county.headers("admin-east"))
    above = _dashboard(client, county, "county", headers=county.headers("admin-east"))
    west = _dashboard(client, county, "west", headers=county.headers("admin-west"))

    assert own.status_code == 200
    assert [c["code"] for c in own.get_json()["communities"]] == ["v-east-0", "v-east-1", "v-east-2"]
    assert {c["code"]: _figures(c) for c in own.get_json()["communities"]} == _expected(
        county, "2026Q3", {"v-east-0", "v-east-1", "v-east-2"})
    assert other.status_code == 404 and above.status_code == 404
    assert other.get_json()["error"]["code"] == "not_found"
    assert [c["code"] for c in west.get_json()["communities"]] == ["v-west-0", "v-west-1", "v-west-2"]


def test_staff_of_a_village_may_not_open_a_dashboard(client, county):
    response = _dashboard(client, county, "east", headers=county.villages["v-east-0"]["staff"])

    assert response.status_code == 403


def test_the_dashboard_exports_as_csv_and_xlsx_with_the_same_figures(client, county):
    url = f"/api/v1/regions/{county.regions['east']}/dashboard/export?period=2026Q3"
    text = client.get(url + "&format=csv", headers=county.headers("admin-east"))
    xlsx = client.get(url + "&format=xlsx", headers=county.headers("admin-east"))
    expected = _expected(county, "2026Q3", {"v-east-0", "v-east-1", "v-east-2"})

    rows = list(csv.reader(io.StringIO(text.data.decode("utf-8-sig"))))
    assert rows[1][:3] == ["代码", "社区", "所属"]
    by_code = {row[0]: row for row in rows[2:5]}
    assert set(by_code) == set(expected)
    for code, row in by_code.items():
        assert int(row[6]) == expected[code]["points_awarded"] and int(row[11]) == expected[code]["points_outstanding"]
        assert Decimal(row[12]) == Decimal(expected[code]["liability_fen"]).scaleb(-2)
    book = load_workbook(io.BytesIO(xlsx.data))
    assert book.sheetnames == ["区域看板", "季度趋势"]
    sheet = book["区域看板"]
    assert [sheet.cell(row=r, column=1).value for r in range(2, 5)] == ["v-east-0", "v-east-1", "v-east-2"]
    assert sheet.cell(row=5, column=1).value == "合计"
    assert sheet.cell(row=5, column=4).value == sum(e["households"] for e in expected.values())
    other = client.get(f"/api/v1/regions/{county.regions['west']}/dashboard/export?period=2026Q3",
                       headers=county.headers("admin-east"))
    assert other.status_code == 404


def test_a_bad_period_is_refused_with_400(client, county):
    response = client.get(f"/api/v1/regions/{county.regions['east']}/dashboard?period=2026Q5",
                          headers=county.headers("admin-east"))

    assert response.status_code == 400


def test_the_public_region_board_ranks_villages_per_household_without_households(app, client, county):
    expected = _expected(county, "2026Q3")
    at(app, AFTER_Q3)
    page = client.get("/notice/region/c17/2026Q3")
    html = page.get_data(as_text=True)

    assert page.status_code == 200
    order = sorted(expected, key=lambda c: (-Decimal(expected[c]["points_awarded"] - expected[c]["points_deducted"])
                                            / expected[c]["households"],
                                            -Decimal(expected[c]["participants"]) / expected[c]["households"], c))
    names = [f"{c.split('-')[1]}{c.split('-')[2]}村" for c in order]
    positions = [html.index(name) for name in names]
    assert positions == sorted(positions)
    assert "户主" not in html and "-00" not in html
    total = sum(e["points_awarded"] for e in expected.values())
    assert f">{total}<" not in html and f">{total:,}<" not in html


def test_the_region_board_of_a_running_quarter_or_unknown_region_is_not_found(app, client, county):
    running = client.get("/notice/region/c17/2026Q3")
    unknown = client.get("/notice/region/nowhere/2026Q2")

    assert running.status_code == 404 and unknown.status_code == 404
