"""The browser tests' fixtures: the real app served over HTTP, and Debian's Chromium.

* ``e2e_server`` (per module): the app on its own database (a copy of the migrated SQLite
  template, or the worker's PostgreSQL database emptied — ``POINTSBANK_TEST_DB`` decides, as
  for every test), filled by :func:`seed` (``tests.factories.build_world`` and a published
  notice board of the last quarter), served by werkzeug on a free port of 127.0.0.1 in a
  background thread, with the real clock (the browser has one too) and CSRF on.
* ``chromium`` (per module): ``/usr/bin/chromium`` headless through Playwright (never
  Playwright's own browser downloads), with a fake camera. ``launch_chromium(video)`` starts
  another one whose camera plays ``video`` (a ``.y4m``): the fake capture file is a launch
  argument, so each video needs its own browser.
* ``phones``: ``phones.open(browser)`` gives a page in a new context of phone size (360×740)
  whose every request to another host than the app's is refused and fails the test;
  ``phones.log_in(browser, username)`` one on which that login has gone through the form;
  ``phones.visits`` checks pages (axe, screenshots; see ``helpers.Visits``).

Without Chromium the tests skip, unless ``CI`` is set: then they fail (``scripts/install-browser.sh``
installs it; ``.ci/run`` calls that script).

``make test`` runs the suite twice, on SQLite and on PostgreSQL; the browser tests run in the
SQLite half only (``POINTSBANK_E2E_POSTGRESQL=1`` runs them on PostgreSQL too). What they prove
— pages, scripts, camera, accessibility, no foreign hosts — does not depend on the database,
whose behaviour the rest of the suite checks on both; a second run would add a minute of
browser time to every ``make test``.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
import sqlalchemy as sa

from tests.conftest import BACKEND, fresh_database
from tests.e2e.helpers import CHROMIUM, PHONE, HostGuard, PageErrors, Visits, browser_available
from tests.factories import PASSWORD

FAKE_CAMERA = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]


class Server:
    def __init__(self, app: Any, world: Any, base_url: str, seeded: dict[str, Any]) -> None:
        self.app = app
        self.world = world
        self.base_url = base_url
        self.origin = base_url
        #: the last closed quarter (its notice board ``/notice/alpha/<board>`` is published)
        self.board = seeded["board"]
        #: the id of its settlement statement for shop_a (a draft)
        self.statement = seeded["statement"]


def seed(app: Any) -> tuple[Any, dict[str, Any]]:
    """``build_world`` in the middle of the last closed quarter, with that quarter's life in it
    — records for A-002 and A-003 (A-001 starts the flow at its base of 100), an objection by
    A-002, a voucher of A-002 redeemed at shop_a — then, the morning after the quarter closed,
    its notice board published and its settlement drafted; then the real clock again.
    Answers the world and ``{"board": "2026Q3", "statement": <id>}``."""
    from datetime import datetime, time, timedelta, timezone

    import sqlalchemy as sa

    from pointsbank.auth.models import User
    from pointsbank.extensions import db
    from pointsbank.redeem import redemptions, vouchers
    from pointsbank.reports import notice, periods, settlement
    from pointsbank.reports.models import SettlementStatement
    from pointsbank.rules import objections, records
    from tests.factories import build_world

    def login(name: str) -> User:
        return db.session.get(User, world.users[name])

    tz = "Asia/Shanghai"
    quarter = periods.last_closed("quarter", tz, datetime.now(timezone.utc))
    day = quarter.first_day() + timedelta(days=40)
    app.config["CLOCK"] = datetime.combine(day, time(2), tzinfo=timezone.utc)  # 10:00 in the village
    try:
        world = build_world(app)
        made = [records.create_record(login("staff_a2"), household_id=world[household], rule_code=rule,
                                      occurred_on=day, quantity=quantity)
                for household, rule, quantity in (("a2", "volunteer_hour", 3), ("a2", "environment_cleanup", 1),
                                                  ("a3", "helping_neighbours", 1), ("a3", "volunteer_hour", 1))]
        db.session.commit()
        objections.raise_objection(login("resident_a2"), made[1].id, reason="那天我不在村里")
        voucher = vouchers.issue_voucher(login("resident_a2"), points=6)
        redemptions.redeem(login("cashier_a"), code=voucher["short_code"], points=5)
        db.session.commit()
        app.config["CLOCK"] = periods.local_midnight(quarter.end_day(), tz) + timedelta(hours=1)  # 09:00 local
        notice.publish(world["alpha"], quarter)
        settlement.settle(world["alpha"], quarter)
        db.session.commit()
        statement = db.session.scalar(sa.select(SettlementStatement.id).where(
            SettlementStatement.community_id == world["alpha"], SettlementStatement.period == quarter.key))
    finally:
        app.config["CLOCK"] = None
    return world, {"board": quarter.key, "statement": statement}


def e2e_backend() -> None:
    """Skip in the PostgreSQL half of ``make test`` unless ``POINTSBANK_E2E_POSTGRESQL`` is set."""
    if BACKEND == "postgresql" and not os.environ.get("POINTSBANK_E2E_POSTGRESQL"):
        pytest.skip("the browser tests run in the SQLite half (set POINTSBANK_E2E_POSTGRESQL=1 to run them here)")


@pytest.fixture(scope="module")
def e2e_server(database_template: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    e2e_backend()
    browser_available()  # no server needed when the tests cannot run
    from werkzeug.serving import make_server

    from pointsbank import create_app
    from pointsbank.extensions import db

    directory = tmp_path_factory.mktemp("e2e")
    app = create_app({"DATABASE_URL": fresh_database(database_template, directory), "TESTING": True,
                      "SECRET_KEY": "e2e-secret", "WTF_CSRF_ENABLED": True,
                      "EVIDENCE_DIR": str(directory / "evidence"), "DB_POOL_SIZE": 10})
    with app.app_context():
        world, seeded = seed(app)
        db.session.remove()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield Server(app, world, f"http://127.0.0.1:{server.server_port}", seeded)
    finally:
        server.shutdown()
        thread.join(10)
        server.server_close()
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture(scope="module")
def playwright_driver() -> Iterator[Any]:
    browser_available()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def launch_chromium(playwright_driver: Any) -> Iterator[Callable[..., Any]]:
    """``launch_chromium(video=None)``: a headless Chromium whose fake camera plays ``video``
    (a ``.y4m`` file) or, without one, Chromium's own moving test pattern."""
    launched: list[Any] = []

    def launch(video: Path | None = None) -> Any:
        args = list(FAKE_CAMERA)
        if video is not None:
            args.append(f"--use-file-for-fake-video-capture={video}")
        browser = playwright_driver.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
        launched.append(browser)
        return browser

    yield launch
    for browser in launched:
        browser.close()


@pytest.fixture(scope="module")
def chromium(launch_chromium: Callable[..., Any]) -> Any:
    return launch_chromium()


class Phones:
    """Pages in fresh browser contexts (one per person), each the size of a phone."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.guard = HostGuard(server.origin)
        self.errors = PageErrors()
        self.visits = Visits(server.base_url)
        self.contexts: list[Any] = []

    def open(self, browser: Any) -> Any:
        context = browser.new_context(base_url=self.server.base_url, viewport=PHONE, locale="zh-CN",
                                      timezone_id="Asia/Shanghai", device_scale_factor=1, is_mobile=True,
                                      has_touch=True)
        context.set_default_timeout(10_000)
        context.route("**/*", self.guard)
        context.grant_permissions(["camera"], origin=self.server.origin)
        self.contexts.append(context)
        return self.errors.watch(context.new_page())

    def log_in(self, browser: Any, username: str, *, check: bool = False) -> Any:
        """A new phone on which ``username`` logs in through the login form."""
        page = self.open(browser)
        page.goto("/login")
        if check:
            self.visits.check(page, "login")
        page.fill("#username", username)
        page.fill("#password", PASSWORD)
        with page.expect_navigation():
            page.locator("main form button[type=submit]").click()
        return page

    def close(self) -> None:
        for context in self.contexts:
            context.close()
        self.contexts.clear()

    def assert_clean(self) -> None:
        """No request to another host, no script error, no blocking axe violation on any page."""
        self.guard.check()
        self.errors.check()
        self.visits.assert_clean()


@pytest.fixture
def phones(e2e_server: Server) -> Iterator[Phones]:
    made = Phones(e2e_server)
    yield made
    made.close()
    made.guard.check()  # even when the test failed earlier: say which foreign requests happened
