"""Proxies (代办人): staff let a relative's resident login or a grid worker see and spend for a
household; every use is audited with both names; a revoked proxy is refused like a stranger."""

from __future__ import annotations

import sqlalchemy as sa

from pointsbank.audit.models import AuditEvent
from pointsbank.ledger.verify import verify
from tests.fixtures.rules import error_code, record
from tests.integration.helpers_redeem import give, household_balance, issue, redeem


def grant(client, world, household, user, who="staff_a2"):
    return client.post(f"/api/v1/households/{world[household]}/proxies", json={"user_id": world.users[user]},
                       headers=world.headers(who))


def revoke(client, world, household, user, who="staff_a2"):
    return client.delete(f"/api/v1/households/{world[household]}/proxies/{world.users[user]}",
                         headers=world.headers(who))


def _uses(db, household_id):
    return db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "proxy.use",
                                                          AuditEvent.target_id == str(household_id))
                              .order_by(AuditEvent.id)).all()


def test_without_a_grant_a_resident_of_another_household_gets_404(client, world):
    for path in ("", "/postings", "/passbook", "/vouchers"):
        assert client.get(f"/api/v1/households/{world['a1']}{path}", headers=world.headers("resident_a2")).status_code == 404
    assert issue(client, world, "resident_a2", 10, world["a1"]).status_code == 404


def test_a_granted_relative_sees_the_balance_history_and_passbook_each_use_audited_with_both_names(client, world, db):
    give(world, "a1", 40)
    response = grant(client, world, "a1", "resident_a2")
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert (body["user_id"], body["username"], body["household"]) == (world.users["resident_a2"], "resident_a2",
                                                                       "A-001 户主a1")
    headers = world.headers("resident_a2")
    seen = client.get(f"/api/v1/households/{world['a1']}", headers=headers)
    assert seen.status_code == 200 and seen.get_json()["balance"] == 140
    postings = client.get(f"/api/v1/households/{world['a1']}/postings", headers=headers)
    assert postings.status_code == 200 and postings.get_json()["items"][0]["balance_after"] == 140
    book = client.get(f"/api/v1/households/{world['a1']}/passbook?period=2026Q2", headers=headers)
    assert book.status_code == 200 and book.get_json()["closing_balance"] == 140
    uses = _uses(db, world["a1"])
    assert [u.data["request"] for u in uses] == [f"GET /api/v1/households/{world['a1']}",
                                                 f"GET /api/v1/households/{world['a1']}/postings",
                                                 f"GET /api/v1/households/{world['a1']}/passbook"]
    assert {(u.actor_id, u.data["proxy"], u.data["household"]) for u in uses} == {
        (world.users["resident_a2"], "resident_a2", "A-001 户主a1")}
    own = client.get(f"/api/v1/households/{world['a2']}", headers=headers)  # its own household: no proxy use
    assert own.status_code == 200 and len(_uses(db, world["a2"])) == 0


def test_a_proxy_issues_the_households_voucher_the_shop_redeems_it_and_the_issue_names_both(client, world, db):
    give(world, "a1", 40)
    grant(client, world, "a1", "resident_a2")
    made = issue(client, world, "resident_a2", 30, world["a1"])
    assert made.status_code == 201, made.get_json()
    voucher = made.get_json()
    assert voucher["household_id"] == world["a1"] and household_balance(world, "a1") == 110
    assert household_balance(world, "a2") == 100
    shown = client.get(f"/api/v1/vouchers/{voucher['id']}", headers=world.headers("resident_a2"))
    assert shown.status_code == 200
    assert redeem(client, world.headers("cashier_a"), voucher["token"], 20).status_code == 201
    assert household_balance(world, "a1") == 120
    issued_event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "voucher.issue"))
    assert (issued_event.actor_id, issued_event.data["household_id"]) == (world.users["resident_a2"], world["a1"])
    use = _uses(db, world["a1"])[0]
    assert (use.data["request"], use.data["status"], use.data["proxy"], use.data["household"]) == (
        "POST /api/v1/vouchers", 201, "resident_a2", "A-001 户主a1")
    assert verify().ok


def test_a_revoked_proxy_is_refused_like_a_stranger_and_the_list_is_empty(client, world, db):
    give(world, "a1", 40)
    grant(client, world, "a1", "resident_a2")
    voucher = issue(client, world, "resident_a2", 10, world["a1"]).get_json()
    listed = client.get(f"/api/v1/households/{world['a1']}/proxies", headers=world.headers("staff_a2")).get_json()
    assert [p["username"] for p in listed] == ["resident_a2"]
    assert revoke(client, world, "a1", "resident_a2").status_code == 204
    headers = world.headers("resident_a2")
    assert client.get(f"/api/v1/households/{world['a1']}", headers=headers).status_code == 404
    assert client.get(f"/api/v1/households/{world['a1']}/passbook", headers=headers).status_code == 404
    assert client.get(f"/api/v1/vouchers/{voucher['id']}", headers=headers).status_code == 404
    assert issue(client, world, "resident_a2", 10, world["a1"]).status_code == 404
    assert household_balance(world, "a1") == 130
    assert client.get(f"/api/v1/households/{world['a1']}/proxies", headers=world.headers("staff_a2")).get_json() == []
    again = revoke(client, world, "a1", "resident_a2")
    assert again.status_code == 404 and error_code(again) == "proxy_not_found"
    actions = db.session.scalars(sa.select(AuditEvent.action).where(AuditEvent.action.in_(["proxy.grant", "proxy.revoke"]))
                                 .order_by(AuditEvent.id)).all()
    assert actions == ["proxy.grant", "proxy.revoke"]


def test_a_grid_worker_spends_only_for_a_household_it_is_the_proxy_of(client, world, db):
    give(world, "a1", 40)
    give(world, "a3", 40)
    assert issue(client, world, "grid_a", 10, world["a1"]).status_code == 404  # its grid, but no grant
    assert client.get(f"/api/v1/households/{world['a3']}", headers=world.headers("grid_a")).status_code == 404
    assert grant(client, world, "a3", "grid_a").status_code == 201  # a3 is outside its grid
    assert client.get(f"/api/v1/households/{world['a3']}", headers=world.headers("grid_a")).status_code == 200
    made = issue(client, world, "grid_a", 10, world["a3"])
    assert made.status_code == 201 and household_balance(world, "a3") == 130
    assert client.get(f"/api/v1/households/{world['a3']}/vouchers", headers=world.headers("grid_a")).status_code == 200


def test_a_proxy_may_not_record_points_for_the_household(client, world):
    from tests.fixtures.rules import publish

    publish(client, world)
    grant(client, world, "a3", "grid_a")
    assert record(client, world, "grid_a", "a3", "good_deed").status_code == 404
    assert household_balance(world, "a3") == 100


def test_who_may_be_a_proxy(client, world):
    own = grant(client, world, "a1", "resident_a1")
    assert own.status_code == 422 and error_code(own) == "proxy_not_allowed"
    staff = grant(client, world, "a1", "staff_a3")
    assert staff.status_code == 422 and error_code(staff) == "proxy_not_allowed"
    assert grant(client, world, "a1", "resident_b1").status_code == 404  # another community's login
    assert grant(client, world, "a1", "resident_a2").status_code == 201
    twice = grant(client, world, "a1", "resident_a2")
    assert twice.status_code == 409 and error_code(twice) == "proxy_exists"
    assert grant(client, world, "a1", "resident_a2", who="staff_b").status_code == 404
    assert grant(client, world, "a1", "resident_a2", who="resident_a1").status_code == 403


def test_a_frozen_household_is_frozen_for_its_proxy_too(client, world):
    give(world, "a1", 40)
    grant(client, world, "a1", "resident_a2")
    client.post(f"/api/v1/households/{world['a1']}/freeze", json={"reason": "deceased"},
                headers=world.headers("staff_a2"))
    refused = issue(client, world, "resident_a2", 10, world["a1"])
    assert refused.status_code == 422 and error_code(refused) == "household_frozen"
    seen = client.get(f"/api/v1/households/{world['a1']}", headers=world.headers("resident_a2")).get_json()
    assert seen["frozen"]["reason"] == "deceased" and seen["balance"] == 140
