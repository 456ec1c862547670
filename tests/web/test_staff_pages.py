"""The staff back office: who may open it, the dashboard's figures, households, recording."""

from __future__ import annotations

import pytest

from tests.web.helpers import actor, csrf_token, figure, login, post_form, record, redeem, text

STAFF_PAGES = ["/staff", "/staff/households", "/staff/households/{a1}", "/staff/records/new",
               "/staff/records/new?q=A-001", "/staff/approvals", "/staff/objections", "/staff/import", "/staff/shops"]


@pytest.mark.parametrize("username", ["staff_a", "admin"])
def test_every_staff_page_renders_for_staff(client, world, username):
    login(client, username)
    for url in STAFF_PAGES:
        url = url.format(a1=world["a1"])
        if username == "admin" and url.startswith(("/staff/records", "/staff/import")):
            assert client.get(url).status_code == 403, url  # recording and imports are staff work
            continue
        assert client.get(url).status_code == 200, url
    assert client.get("/staff/settlements").status_code == (200 if username == "admin" else 403)


@pytest.mark.parametrize("username", ["resident_a1", "cashier_a"])
def test_residents_and_cashiers_cannot_open_the_back_office(client, world, username):
    login(client, username)
    for url in STAFF_PAGES:
        response = client.get(url.format(a1=world["a1"]))
        assert response.status_code == 403, url
        assert "不允许" in text(response)


def test_staff_of_another_community_cannot_see_a_household(client, world):
    login(client, "staff_b")
    assert client.get(f"/staff/households/{world['a1']}").status_code == 404


def test_the_dashboard_shows_this_quarters_figures(client, world, db):
    record(world, "staff_a2", "a1", "volunteer_hour", quantity=3)           # +6, posted at once
    deduction = record(world, "staff_a2", "a2", "littering")                # -5, waits for one approval
    record(world, "staff_a2", "a1", "model_family")                         # +50, stays pending
    from pointsbank.rules import approvals, objections

    approvals.approve(actor(world, "staff_a3"), deduction.id)
    db.session.commit()
    objections.raise_objection(actor(world, "resident_a2"), deduction.id, reason="我没有乱扔垃圾")
    db.session.commit()
    redeem(world, "a1", points=6, spent=4)                                  # 4 points = ¥4.00 at 100 fen
    login(client, "staff_a")
    html = text(client.get("/staff"))
    assert figure(html, "pending-count") == "1"
    assert figure(html, "objection-count") == "1"
    assert figure(html, "quarter-records") == "2"
    assert figure(html, "quarter-awarded") == "6"
    assert figure(html, "quarter-deducted") == "5"
    assert figure(html, "quarter-redemptions") == "1"
    assert "4 分，¥4.00" in html
    assert "本季度（2026Q2）" in html


def test_a_grid_worker_sees_only_its_grids_households(client, world):
    login(client, "grid_a")
    html = text(client.get("/staff/households"))
    assert "A-001" in html and "A-002" in html and "A-003" not in html


def test_households_are_found_by_number_name_or_grid(client, world):
    login(client, "staff_a")
    assert "户主a2" in text(client.get("/staff/households?q=A-002"))
    by_name = text(client.get("/staff/households?q=户主a3"))
    assert "A-003" in by_name and "A-001" not in by_name
    by_grid = text(client.get("/staff/households?grid=二组"))
    assert "A-003" in by_grid and "A-001" not in by_grid


def test_the_household_page_shows_balance_and_history(client, world):
    record(world, "staff_a2", "a1", "volunteer_hour", quantity=3)
    login(client, "staff_a")
    html = text(client.get(f"/staff/households/{world['a1']}"))
    assert figure(html, "balance") == "106"
    assert figure(html, "redeemable") == "6"
    assert "志愿服务（每小时）" in html and "基础积分" in html


def test_the_preview_shows_what_a_record_would_score_and_records_nothing(client, world):
    login(client, "staff_a")
    page = f"/staff/records/new?household_id={world['a1']}"
    response = post_form(client, page, "/staff/records/preview", {
        "household_id": world["a1"], "rule_code": "volunteer_hour", "quantity": "2", "occurred_on": "2026-05-14"})
    assert figure(text(response), "preview-points") == "+4"
    assert 'data-state="posted"' in text(response)
    pending = post_form(client, page, "/staff/records/preview", {
        "household_id": world["a1"], "rule_code": "model_family", "quantity": "1", "occurred_on": "2026-05-14"})
    assert 'data-state="pending"' in text(pending) and "审核" in text(pending)
    assert figure(text(client.get(f"/staff/households/{world['a1']}")), "balance") == "100"


def test_the_preview_explains_a_refusal(client, world):
    login(client, "staff_a")
    response = post_form(client, "/staff/records/new", "/staff/records/preview", {
        "household_id": world["a1"], "rule_code": "volunteer_hour", "quantity": "1", "occurred_on": "2026-06-01"})
    assert 'data-state="refused"' in text(response) and "将来" in text(response)
    incomplete = post_form(client, "/staff/records/new", "/staff/records/preview", {"rule_code": "volunteer_hour"})
    assert 'data-state="incomplete"' in text(incomplete)


def test_the_record_form_posts_a_record_and_the_balance_changes(client, world):
    login(client, "staff_a")
    form = text(client.get(f"/staff/records/new?household_id={world['a1']}"))
    assert 'value="volunteer_hour"' in form and "2026-05-15" in form  # today, in the community's zone
    response = client.post("/staff/records/new", data={
        "csrf_token": csrf_token(form), "household_id": world["a1"], "rule_code": "volunteer_hour",
        "quantity": "3", "occurred_on": "2026-05-15", "note": "清扫村道"})
    assert response.status_code == 302
    assert response.headers["Location"] == f"/staff/households/{world['a1']}"
    html = text(client.get(response.headers["Location"]))
    assert "已录入：+6 分已入账。" in html
    assert figure(html, "balance") == "106"


def test_a_record_that_needs_approval_says_so_and_moves_nothing_yet(client, world):
    login(client, "staff_a")
    response = post_form(client, "/staff/records/new", "/staff/records/new", {
        "household_id": world["a2"], "rule_code": "model_family", "quantity": "1", "occurred_on": "2026-05-15"})
    html = text(client.get(response.headers["Location"]))
    assert "等待审核" in html and figure(html, "balance") == "100"


def test_staff_cannot_record_for_their_own_household(client, world):
    login(client, "staff_a")  # a member of household a3
    response = post_form(client, "/staff/records/new", "/staff/records/new", {
        "household_id": world["a3"], "rule_code": "volunteer_hour", "quantity": "1", "occurred_on": "2026-05-15"})
    assert response.status_code == 422
    assert "您不能为自己的家庭" in text(response)
    assert figure(text(client.get(f"/staff/households/{world['a3']}")), "balance") == "100"


def test_an_incomplete_record_form_shows_its_errors(client, world):
    login(client, "staff_a")
    response = post_form(client, "/staff/records/new", "/staff/records/new", {
        "rule_code": "volunteer_hour", "quantity": "0", "occurred_on": "2026-05-15"})
    assert response.status_code == 400
    assert "请先选择住户。" in text(response) and 'aria-invalid="true"' in text(response)


def test_the_record_form_finds_households_by_search(client, world):
    login(client, "staff_a")
    html = text(client.get("/staff/records/new?q=户主a"))
    assert html.count('name="household_id"') == 3
    single = text(client.get("/staff/records/new?q=A-002"))
    assert f'value="{world["a2"]}"\n          checked' in single or f'value="{world["a2"]}" checked' in single
