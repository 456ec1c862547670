"""The community setting ``shelf.board_most_redeemed`` (PATCH /communities/{id}) and what it puts
on the notice board's export: totals per good, never a household."""

import io

from openpyxl import load_workbook

from pointsbank.extensions import db
from pointsbank.redeem import redemptions, vouchers
from pointsbank.reports import notice, periods
from tests.integration.helpers_redeem import give
from tests.integration.helpers_round import at
from tests.integration.helpers_shelf import new_item
from tests.web.helpers import actor


def _setting(client, world, value, user="admin"):
    return client.patch(f"/api/v1/communities/{world['alpha']}", json={"shelf": {"board_most_redeemed": value}},
                        headers=world.headers(user))


def test_the_setting_is_off_by_default_and_only_an_admin_turns_it_on(client, world, db):
    shown = client.get(f"/api/v1/communities/{world['alpha']}", headers=world.headers("admin")).get_json()
    assert shown["shelf"] == {"board_most_redeemed": False}
    assert _setting(client, world, True, user="staff_a").status_code == 403
    response = _setting(client, world, True)
    assert response.status_code == 200 and response.get_json()["shelf"] == {"board_most_redeemed": True}
    assert _setting(client, world, "sometimes").status_code == 400
    assert client.get(f"/api/v1/communities/{world['alpha']}",
                      headers=world.headers("admin")).get_json()["shelf"]["board_most_redeemed"] is True


def test_the_board_export_lists_the_goods_taken_most_only_once_the_community_wishes_it(app, client, world, db):
    soap = new_item(client, world, name="肥皂", points=10, stock=20)
    rice = new_item(client, world, name="=大米", points=30, stock=20)
    at(app, "2026-03-20T02:00:00+00:00")
    give(world, "a1", 200)
    for items in ([{"item_id": soap["id"], "quantity": 3}], [{"item_id": rice["id"], "quantity": 1}]):
        voucher = vouchers.issue_voucher(actor(world, "resident_a1"), points=30)
        redemptions.redeem(actor(world, "cashier_a"), code=voucher["short_code"], items=items)
        db.session.commit()
    at(app, "2026-04-01T01:00:00+00:00")
    notice.publish(world["alpha"], periods.parse("2026Q1"))
    db.session.commit()
    at(app, "2026-05-15T02:00:00+00:00")
    url = f"/api/v1/communities/{world['alpha']}/notice/export?period=2026Q1&format=xlsx"
    before = load_workbook(io.BytesIO(client.get(url, headers=world.headers("staff_a")).data))
    assert "兑换最多" not in before.sheetnames
    _setting(client, world, True)
    after = load_workbook(io.BytesIO(client.get(url, headers=world.headers("staff_a")).data))
    rows = list(after["兑换最多"].iter_rows(values_only=True))
    assert rows[0] == ("名次", "商品", "Item", "商店", "数量", "积分")
    assert rows[1][:2] == (1, "肥皂") and rows[1][4:] == (3, 30)
    assert rows[2][1] == "'=大米"  # a name a spreadsheet would run is neutralised
    assert not any("A-001" in str(cell) for row in rows for cell in row)
