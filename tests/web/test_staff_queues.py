"""Approvals, objections, imports, shops and settlements from the staff pages."""

from __future__ import annotations

from datetime import date, datetime, timezone

from tests.web.helpers import actor, csrf_token, figure, login, post_form, record, redeem, text


def test_the_recorder_sees_the_approve_button_disabled_with_the_reason(client, world):
    pending = record(world, "staff_a2", "a1", "model_family")
    login(client, "staff_a2")
    html = text(client.get("/staff/approvals"))
    assert f'id="record-{pending.id}"' in html
    assert "disabled" in html and "这是您录入的；须由其他工作人员审核。" in html


def test_another_staff_member_approves_and_the_points_are_posted(client, world):
    pending = record(world, "staff_a2", "a1", "model_family")
    login(client, "staff_a")
    response = post_form(client, "/staff/approvals", f"/staff/records/{pending.id}/approve")
    assert response.headers["Location"] == "/staff/approvals"
    html = text(client.get("/staff/approvals"))
    assert "已通过：+50 分已入账。" in html and f'id="record-{pending.id}"' not in html
    assert figure(text(client.get(f"/staff/households/{world['a1']}")), "balance") == "150"


def test_the_recorder_forcing_the_approve_button_is_refused(client, world):
    pending = record(world, "staff_a2", "a1", "model_family")
    login(client, "staff_a2")
    post_form(client, "/staff/approvals", f"/staff/records/{pending.id}/approve")
    assert "须由录入人以外的工作人员审核" in text(client.get("/staff/approvals"))
    assert figure(text(client.get(f"/staff/households/{world['a1']}")), "balance") == "100"


def test_a_rejected_record_leaves_the_queue_and_posts_nothing(client, world):
    pending = record(world, "staff_a2", "a1", "model_family")
    login(client, "staff_a")
    post_form(client, "/staff/approvals", f"/staff/records/{pending.id}/reject", {"reason": "证据不足"})
    html = text(client.get("/staff/approvals"))
    assert "已驳回" in html and "没有待审核的记录。" in html
    assert figure(text(client.get(f"/staff/households/{world['a1']}")), "balance") == "100"


def _objected(world, db):
    from pointsbank.rules import objections

    posted = record(world, "staff_a2", "a1", "volunteer_hour", quantity=3)
    objection = objections.raise_objection(actor(world, "resident_a2"), posted.id, reason="那天他不在村里")
    db.session.commit()
    return objection


def test_an_objection_reversed_from_the_queue_takes_the_points_back(client, world, db):
    objection = _objected(world, db)
    login(client, "staff_a")
    html = text(client.get("/staff/objections"))
    assert "那天他不在村里" in html and "resident_a2" in html
    post_form(client, "/staff/objections", f"/staff/objections/{objection.id}/resolve", {"outcome": "reversed"})
    assert "该记录的积分已撤回" in text(client.get("/staff/objections"))
    assert figure(text(client.get(f"/staff/households/{world['a1']}")), "balance") == "100"


def test_an_upheld_objection_keeps_the_points(client, world, db):
    objection = _objected(world, db)
    login(client, "staff_a")
    post_form(client, "/staff/objections", f"/staff/objections/{objection.id}/resolve", {"outcome": "upheld"})
    assert "没有待处理的异议。" in text(client.get("/staff/objections"))
    assert figure(text(client.get(f"/staff/households/{world['a1']}")), "balance") == "106"


def test_an_unknown_outcome_is_a_bad_request(client, world, db):
    objection = _objected(world, db)
    login(client, "staff_a")
    response = post_form(client, "/staff/objections", f"/staff/objections/{objection.id}/resolve",
                         {"outcome": "deleted"})
    assert response.status_code == 400


CSV = ("户号,规则代码,日期,数量\n"
       "A-001,volunteer_hour,2026/5/1,2\n"
       "A-999,volunteer_hour,2026-05-01,1\n"
       "A-002,no_such_rule,2026-05-01,1\n").encode("gb18030")


def _upload(client, data=CSV, name="records.csv"):
    from io import BytesIO

    token = csrf_token(text(client.get("/staff/import")))
    return client.post("/staff/import", data={"csrf_token": token, "file": (BytesIO(data), name)},
                       content_type="multipart/form-data")


def test_an_import_reports_every_bad_row_then_posts_the_valid_ones(client, world):
    login(client, "staff_a")
    report = text(_upload(client))
    assert figure(report, "report-rows") == "3"
    assert figure(report, "report-valid") == "1"
    assert figure(report, "report-invalid") == "2"
    assert "A-999" in report and ">3<" in report and ">4<" in report  # the bad rows' lines
    assert figure(text(client.get(f"/staff/households/{world['a1']}")), "balance") == "100"  # nothing yet
    token = report.split('name="token" value="')[1].split('"')[0]
    response = client.post("/staff/import/post", data={"csrf_token": csrf_token(report), "token": token,
                                                       "filename": "records.csv"})
    assert "已导入：1 条已入账，0 条待审核。" in text(response)
    assert figure(text(client.get(f"/staff/households/{world['a1']}")), "balance") == "104"
    again = client.post("/staff/import/post", data={"csrf_token": csrf_token(report), "token": token})
    assert again.status_code == 302  # the kept file is gone once posted
    assert "请重新上传" in text(client.get("/staff/import"))


def test_another_user_cannot_post_someone_elses_upload(app, client, world):
    login(client, "staff_a")
    report = text(_upload(client))
    token = report.split('name="token" value="')[1].split('"')[0]
    other = app.test_client()
    login(other, "staff_a2")
    page = text(other.get("/staff/import"))
    other.post("/staff/import/post", data={"csrf_token": csrf_token(page), "token": token})
    assert figure(text(other.get(f"/staff/households/{world['a1']}")), "balance") == "100"


def test_an_unreadable_file_is_a_clear_message(client, world):
    login(client, "staff_a")
    response = _upload(client, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1rest", "old.xls")
    assert response.status_code in (400, 422)
    assert "无法按 CSV" in text(response) or "CSV 或 XLSX" in text(response)


def test_shops_are_listed_and_added(client, world):
    login(client, "staff_a")
    assert "爱心超市" in text(client.get("/staff/shops"))
    response = post_form(client, "/staff/shops", "/staff/shops", {"name": "新风小卖部", "address": "村口"})
    assert response.status_code == 302
    html = text(client.get("/staff/shops"))
    assert "已添加商店 新风小卖部。" in html and "村口" in html
    twice = post_form(client, "/staff/shops", "/staff/shops", {"name": "新风小卖部"})
    assert twice.status_code == 409 and "已有名为 新风小卖部 的商店" in text(twice)


def test_an_administrator_settles_confirms_and_pays_a_quarter(app, client, world):
    record(world, "staff_a2", "a1", "volunteer_hour", quantity=8, occurred_on=date(2026, 3, 1))
    app.config["CLOCK"] = datetime(2026, 3, 10, 2, 0, tzinfo=timezone.utc)
    redeem(world, "a1", points=10, spent=7)  # in 2026Q1: 7 points × 100 fen
    app.config["CLOCK"] = datetime(2026, 5, 15, 2, 0, tzinfo=timezone.utc)
    login(client, "admin")
    post_form(client, "/staff/settlements?period=2026Q1", "/staff/settlements/run", {"period": "2026Q1"})
    html = text(client.get("/staff/settlements?period=2026Q1"))
    assert "爱心超市" in html and figure(html, "total-amount") == "¥7.00"
    statement_id = html.split('id="statement-')[1].split('"')[0]
    post_form(client, "/staff/settlements?period=2026Q1", f"/staff/settlements/{statement_id}/confirm",
              {"period": "2026Q1"})
    assert "结算单已确认。" in text(client.get("/staff/settlements?period=2026Q1"))
    post_form(client, "/staff/settlements?period=2026Q1", f"/staff/settlements/{statement_id}/pay",
              {"period": "2026Q1"})
    html = text(client.get("/staff/settlements?period=2026Q1"))
    assert "结算单已标记为已付款。" in html and "badge-paid" in html
    statement = text(client.get(f"/staff/settlements/{statement_id}?lang=en"))
    assert figure(statement, "statement-amount") == "CN¥7.00"


def test_paying_a_draft_statement_is_refused_with_a_message(app, client, world):
    app.config["CLOCK"] = datetime(2026, 3, 10, 2, 0, tzinfo=timezone.utc)
    record(world, "staff_a2", "a1", "volunteer_hour", quantity=8, occurred_on=date(2026, 3, 1))
    redeem(world, "a1", points=10, spent=7)
    app.config["CLOCK"] = datetime(2026, 5, 15, 2, 0, tzinfo=timezone.utc)
    login(client, "admin")
    post_form(client, "/staff/settlements", "/staff/settlements/run", {"period": "2026Q1"})
    html = text(client.get("/staff/settlements?period=2026Q1"))
    statement_id = html.split('id="statement-')[1].split('"')[0]
    post_form(client, "/staff/settlements", f"/staff/settlements/{statement_id}/pay", {"period": "2026Q1"})
    assert "请先确认结算单再付款。" in text(client.get("/staff/settlements?period=2026Q1"))
