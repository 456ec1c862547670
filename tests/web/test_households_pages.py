"""Pages for frozen households, proxies and the passbook: the freeze shown with its reason on the
staff household page and list, on /home and at the cashier's check; staff freeze, unfreeze and
grant proxies from the household page; the passbook printable on A4 and A5; a proxy switches
/home to the household it helps."""

from __future__ import annotations

import re

from pointsbank.community import freeze, proxies
from pointsbank.extensions import db
from pointsbank.redeem import vouchers
from tests.integration.helpers_redeem import give, household_balance
from tests.web.helpers import actor, csrf_token, figure, login, post_form, text


def _freeze(world, household="a1", reason="moved_away", note=None):
    freeze.freeze_household(actor(world, "staff_a2"), world[household], reason=reason, note=note)
    db.session.commit()


def test_staff_freeze_from_the_household_page_and_it_shows_the_reason_there_and_in_the_list(client, world):
    login(client, "staff_a2")
    page = f"/staff/households/{world['a1']}"
    response = post_form(client, page, f"{page}/freeze", {"reason": "deceased", "note": "2026年5月"})
    assert response.status_code == 302
    html = text(client.get(page))
    assert 'id="frozen"' in html and "已冻结：已故" in html and "2026年5月" in html
    assert "解冻该户" in html
    listed = text(client.get("/staff/households"))
    assert "badge-frozen" in listed and "已冻结：已故" in listed
    post_form(client, page, f"{page}/unfreeze")
    assert 'id="frozen"' not in text(client.get(page))


def test_a_frozen_household_shows_it_on_home_in_english_too_and_the_voucher_button_is_off(client, world):
    give(world, "a1", 40)
    _freeze(world, reason="under_review", note="核查户籍")
    login(client, "resident_a1")
    html = text(client.get("/home?lang=en"))
    assert 'id="frozen"' in html and "Frozen: under review" in html and "核查户籍" in html
    assert "no vouchers until staff unfreeze it" in html
    assert re.search(r'<button type="submit" class="btn btn-primary btn-block" disabled', html)


def test_the_cashiers_check_of_a_frozen_households_voucher_says_frozen_with_the_reason(client, world):
    give(world, "a1", 40)
    made = vouchers.issue_voucher(actor(world, "resident_a1"), points=30)
    db.session.commit()
    _freeze(world, reason="deceased")
    login(client, "cashier_a")
    token = csrf_token(text(client.get("/shop")))
    response = client.post("/shop/check", data={"csrf_token": token, "code": made["token"], "points": ""})
    html = text(response)
    assert response.status_code == 422
    assert 'data-code="household_frozen"' in html and "该户已冻结" in html and "已故" in html
    assert "A-001" not in html and "户主a1" not in html  # the cashier never learns whose it is
    assert household_balance(world, "a1") == 110


def test_staff_add_and_end_a_proxy_from_the_household_page(client, world):
    login(client, "staff_a2")
    page = f"/staff/households/{world['a1']}"
    post_form(client, page, f"{page}/proxies", {"username": "resident_a2"})
    html = text(client.get(page))
    assert 'id="proxy-list"' in html and "resident_a2" in html
    post_form(client, page, f"{page}/proxies/{world.users['resident_a2']}/end")
    assert 'id="proxy-list"' not in text(client.get(page))
    refused = post_form(client, page, f"{page}/proxies", {"username": "resident_b1"}, follow_redirects=True)
    assert "本社区没有登录账号 resident_b1。" in text(refused)  # another community's login: as if none
    assert 'id="proxy-list"' not in text(refused)


def test_the_passbook_page_prints_on_a4_or_a5_with_the_running_balance(client, world):
    give(world, "a1", 40)
    login(client, "staff_a2")
    html = text(client.get(f"/staff/households/{world['a1']}/passbook?period=2026Q2"))
    assert "passbook-a4" in html and "存折" in html and "A-001" in html
    assert figure(html, "opening") == "0" and figure(html, "closing") == "140"
    assert len(re.findall(r'<tr data-posting="\d+">', html)) == 2
    assert "data-print" in html and "js/print.js" in html
    a5 = text(client.get(f"/staff/households/{world['a1']}/passbook?period=2026&size=a5&lang=en"))
    assert "passbook-a5" in a5 and "Passbook" in a5 and "Carried forward" in a5
    css = client.get("/assets/css/app.css").get_data(as_text=True)
    assert "@page a5" in css and "size: A5" in css


def test_a_proxy_switches_home_to_the_household_it_helps_and_makes_its_voucher(client, world):
    give(world, "a1", 40)
    proxies.grant_proxy(actor(world, "staff_a2"), world["a1"], user_id=world.users["resident_a2"])
    db.session.commit()
    login(client, "resident_a2")
    html = text(client.get("/home"))
    assert 'id="proxy-switch"' in html and "A-001" in html and figure(html, "balance") == "100"
    post_form(client, "/home", "/home/switch", {"household_id": str(world["a1"])})
    html = text(client.get("/home"))
    assert 'id="acting-for"' in html and figure(html, "balance") == "140"
    made = post_form(client, "/home", "/home/vouchers", {"points": "15"})
    assert made.status_code == 302 and household_balance(world, "a1") == 125
    assert household_balance(world, "a2") == 100
    book = text(client.get("/home/passbook?period=2026Q2"))
    assert figure(book, "closing") == "125"
    proxies.revoke_proxy(actor(world, "staff_a2"), world["a1"], world.users["resident_a2"])
    db.session.commit()
    html = text(client.get("/home"))  # the grant ended: back to its own household
    assert figure(html, "balance") == "100" and 'id="acting-for"' not in html
