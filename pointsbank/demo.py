"""The demo community that ``pointsbank demo`` (and ``make run``) seeds: a county, a town, the
village 清风村 with grids, households with history, two partner shops (the first with a shelf of
goods) and one login per role.
Safe to run twice: an existing demo is left as it is."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from pointsbank import clock
from pointsbank.auth.models import User

from pointsbank.auth.services import create_user
from pointsbank.community import services as community
from pointsbank.community.models import Community, Household
from pointsbank.extensions import db
from pointsbank.ledger import services as ledger
from pointsbank.reports import periods
from pointsbank.rules import records
from pointsbank.redeem.models import Shop, ShopPartnership

LOGINS = [
    ("admin", "admin-demo-1", "admin"),
    ("staff", "staff-demo-1", "staff"),
    ("staff2", "staff-demo-2", "staff"),
    ("grid", "grid-demo-1", "grid_worker"),
    ("resident", "resident-demo-1", "resident"),
    ("cashier", "cashier-demo-1", "cashier"),
]

#: the demo's household card: 王桂兰 (QF-002) lives alone without a smartphone (README, the card walk-through)
CARD_HOUSEHOLD, CARD_PIN = "QF-002", "246810"

HOUSEHOLDS = [
    ("QF-001", "张建国", "一组", ["张建国", "李秀英", "张小明"]),
    ("QF-002", "王桂兰", "一组", ["王桂兰"]),
    ("QF-003", "李德福", "一组", ["李德福", "赵春梅"]),
    ("QF-004", "赵铁柱", "二组", ["赵铁柱", "孙丽"]),
    ("QF-005", "陈淑芬", "二组", ["陈淑芬", "陈晓东"]),
    ("QF-006", "刘长青", "二组", ["刘长青"]),
    ("QF-007", "杨玉珍", "三组", ["杨玉珍", "周建华"]),
    ("QF-008", "黄志强", "三组", ["黄志强", "吴敏", "黄一诺"]),
    ("QF-009", "周凤英", "三组", ["周凤英"]),
    ("QF-010", "吴国庆", "三组", ["吴国庆", "郑红"]),
]


def seed() -> list[tuple[str, str, str]]:
    if db.session.scalar(sa.select(Community.id).where(Community.code == "qingfeng")) is not None:
        return LOGINS
    county = community.create_region(None, code="lixian", name="黎县", kind="county")
    town = community.create_region(None, code="lixian-hexi", name="河西镇", kind="town", parent_id=county.id)
    village = community.create_community(None, code="qingfeng", name="清风村", parent_region_id=town.id,
                                         base_points=100, point_value_fen=100, voucher_ttl_hours=24,
                                         timezone="Asia/Shanghai")
    households = [community.create_household(None, village.id, number=n, head_name=h, grid=g, members=m,
                                             address=f"清风村{g}{i + 1}号",
                                             phone=f"1390000{i + 1:04d}" if i % 2 == 0 else None)  # SMS: the log
                  for i, (n, h, g, m) in enumerate(HOUSEHOLDS)]
    shops = []
    for name in ("爱心超市（村委会）", "清风便民店"):
        shop = Shop(community_id=village.id, name=name)
        db.session.add(shop)
        db.session.flush()
        db.session.add(ShopPartnership(community_id=village.id, shop_id=shop.id))
        ledger.shop_account(village.id, shop.id)
        shops.append(shop)
    staff_household = db.session.scalar(sa.select(Household).where(Household.community_id == village.id,
                                                                   Household.number == "QF-010"))
    for username, password, role in LOGINS:
        create_user(None, role=role, username=username, password=password,
                    region_code="lixian" if role == "admin" else None,
                    community_code="qingfeng" if role != "admin" and role != "cashier" else None,
                    household_id=households[0]["id"] if role == "resident" else (
                        staff_household.id if username == "staff" else None),
                    shop_id=shops[0].id if role == "cashier" else None,
                    grid_names=["一组", "二组"] if role == "grid_worker" else None,
                    display_name={"admin": "县管理员", "staff": "村干部小李", "staff2": "村干部老王", "grid": "网格员小周",
                                  "resident": "张建国", "cashier": "爱心超市收银员"}[username])
    db.session.flush()
    _history(village.id, households)
    _shelf(shops[0].id)
    _card(village.id)
    db.session.flush()
    return LOGINS


def _card(community_id: int) -> None:
    """A household card for QF-002, issued by the second staff member (print it at /staff/cards)."""
    from pointsbank.cards import services as cards

    issuer = db.session.scalar(sa.select(User).where(User.username == "staff2"))
    household_id = db.session.scalar(sa.select(Household.id).where(Household.community_id == community_id,
                                                                   Household.number == CARD_HOUSEHOLD))
    cards.issue_card(issuer, household_id, pin=CARD_PIN)


#: the village store's shelf: (zh, en, points, stock or None for unlimited, barcode, monthly limit)
SHELF = [
    ("肥皂", "Soap", 10, 40, "6901234500011", None),
    ("洗衣粉 1kg", "Washing powder 1 kg", 25, 20, "6901234500028", None),
    ("食用油 1.8L", "Cooking oil 1.8 L", 45, 12, "6901234500035", 2),
    ("大米 5kg", "Rice 5 kg", 60, 10, "6901234500042", 1),
    ("保温杯", "Thermos", 120, 3, "6901234500059", None),
    ("理发一次", "A haircut", 15, None, None, None),
]


def _shelf(shop_id: int) -> None:
    """The village store's goods, stocked by the second staff member (the first lives in QF-010)."""
    from pointsbank.shelf.services import catalogue

    manager = db.session.scalar(sa.select(User).where(User.username == "staff2"))
    for zh, en, points, stock, barcode, per_month in SHELF:
        catalogue.create_item(manager, shop_id, name={"zh": zh, "en": en}, points=points, stock=stock,
                              barcode=barcode, limit={"period": "month", "count": per_month} if per_month else None)


def _history(community_id: int, households: list[dict]) -> None:
    """Some scored history, so balances, rankings and the approval queue are not empty: records
    through the shipped rule book by the second staff member (the first lives in QF-010), a few
    waiting for approval, one deduction."""
    recorder = db.session.scalar(sa.select(User).where(User.username == "staff2"))
    today = periods.local_date(clock.now(), "Asia/Shanghai")
    plan = [("volunteer_hour", 3), ("environment_cleanup", 1), ("helping_neighbours", 1), ("volunteer_hour", 5),
            ("volunteer_event", 1), ("environment_cleanup", 1), ("volunteer_hour", 2), ("dispute_mediation", 1),
            ("volunteer_event", 1), ("volunteer_hour", 4)]
    for index, (household, (rule_code, quantity)) in enumerate(zip(households, plan)):
        for days_ago, (code, qty) in ((index % 6 + 1, (rule_code, quantity)), (index % 3 + 8, ("volunteer_hour", 1 + index % 3))):
            records.create_record(recorder, household_id=household["id"], rule_code=code,
                                  occurred_on=today - timedelta(days=days_ago), quantity=qty, note="演示数据")
    # waiting in the approval queue, and one deduction
    records.create_record(recorder, household_id=households[1]["id"], rule_code="tidy_courtyard",
                          occurred_on=today - timedelta(days=1), note="演示数据：庭院整洁检查")
    records.create_record(recorder, household_id=households[5]["id"], rule_code="littering",
                          occurred_on=today - timedelta(days=2), note="演示数据：河边倾倒垃圾")
