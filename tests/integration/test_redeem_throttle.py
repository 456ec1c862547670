"""Short-code guessing is throttled per cashier and per shop; a scanned QR is never throttled."""

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from pointsbank import clock
from pointsbank.auth.models import ThrottleEvent, User
from pointsbank.database import unit_of_work
from pointsbank.errors import DomainError
from pointsbank.redeem import redemptions, shortcode
from tests.integration.helpers_redeem import give, issued, new_shop, redeem

THREADS = 8


@pytest.fixture
def lookups(monkeypatch):
    """Counts the short codes actually looked up in the database."""
    seen = []
    real = redemptions.lookup_short_code

    def counting(digits, shop_id):
        seen.append(digits)
        return real(digits, shop_id)

    monkeypatch.setattr(redemptions, "lookup_short_code", counting)
    return seen


def test_ten_thousand_guesses_from_one_cashier_find_nothing_and_are_throttled_early(app, world, db, lookups):
    """Eight tills of the same cashier guess at once; the throttle still lets no more than the
    limit through to the database."""
    limit = app.config["REDEEM_GUESSES_PER_CASHIER"]
    cashier_id = world.users["cashier_a"]
    started = time.monotonic()

    def guess(thread):
        answers = []
        with app.app_context():
            cashier = db.session.get(User, cashier_id)
            db.session.expunge(cashier)  # a plain snapshot: no reload after every commit
            for i in range(thread, 10_000, THREADS):
                code = shortcode.generate()
                if i % 3 == 1:  # a third of them typed wrong: refused by the check digit, still counted
                    code = code[:-1] + str((int(code[-1]) + 1) % 10)
                try:
                    unit_of_work(redemptions.redeem)(cashier, code=code, points=1)
                    answers.append(201)
                except DomainError as error:
                    answers.append(error.status)
            db.session.remove()
        return answers

    with ThreadPoolExecutor(THREADS) as pool:
        answers = [a for thread in pool.map(guess, range(THREADS)) for a in thread]
    elapsed = time.monotonic() - started
    assert len(answers) == 10_000 and 201 not in answers
    assert answers.count(429) == 10_000 - limit and answers.count(400) + answers.count(404) == limit
    assert len(lookups) <= limit
    assert db.session.query(ThrottleEvent).filter_by(scope="shortcode:cashier", key=str(cashier_id)).count() == limit
    print(f"10,000 guesses in {elapsed:.1f} s; {len(lookups)} looked up")


def test_after_the_limit_every_answer_is_429(app, world, db):
    limit = app.config["REDEEM_GUESSES_PER_CASHIER"]
    cashier = db.session.get(User, world.users["cashier_a"])
    answers = []
    for _ in range(limit * 3):
        try:
            unit_of_work(redemptions.redeem)(cashier, code=shortcode.generate(), points=1)
        except DomainError as error:
            answers.append(error.status)
    assert answers == [404] * limit + [429] * (limit * 2)


def test_a_throttled_cashier_gets_429_with_retry_after_and_may_guess_again_after_the_window(app, client, world, db):
    headers = world.headers("cashier_a")
    for _ in range(app.config["REDEEM_GUESSES_PER_CASHIER"]):
        assert redeem(client, headers, shortcode.generate(), 1).status_code == 404
    refused = redeem(client, headers, shortcode.generate(), 1)
    assert refused.status_code == 429 and refused.get_json()["error"]["code"] == "too_many_attempts"
    assert 0 < int(refused.headers["Retry-After"]) <= 600 + 1  # the window, rounded up
    app.config["CLOCK"] = clock.now() + timedelta(minutes=app.config["REDEEM_GUESS_WINDOW_MINUTES"], seconds=1)
    assert redeem(client, headers, shortcode.generate(), 1).status_code == 404


def test_guesses_are_counted_per_shop_across_its_cashiers(app, client, world, db):
    per_cashier, per_shop = app.config["REDEEM_GUESSES_PER_CASHIER"], app.config["REDEEM_GUESSES_PER_SHOP"]
    _, cashiers = new_shop(world["alpha"], "猜码店", cashiers=per_shop // per_cashier + 1)
    for headers in cashiers[:-1]:
        for _ in range(per_cashier):
            assert redeem(client, headers, shortcode.generate(), 1).status_code == 404
    assert redeem(client, cashiers[-1], shortcode.generate(), 1).status_code == 429
    assert redeem(client, world.headers("cashier_a"), shortcode.generate(), 1).status_code == 404  # another shop


def _failures_of(db, scope: str, key: int) -> int:
    return db.session.query(ThrottleEvent).filter_by(scope=scope, key=str(key)).count()


def test_a_throttled_cashier_still_redeems_a_scanned_qr_and_a_real_short_code_is_not_a_failure(app, client, world, db):
    give(world, "a1", 20)
    first, second = issued(client, world, "resident_a1", 10), issued(client, world, "resident_a1", 10)
    headers, limit = world.headers("cashier_a"), app.config["REDEEM_GUESSES_PER_CASHIER"]
    assert redeem(client, headers, first["short_code"], 10).status_code == 201
    # the real code left no failure behind, for the cashier nor for the shop
    assert _failures_of(db, "shortcode:cashier", world.users["cashier_a"]) == 0
    assert _failures_of(db, "shortcode:shop", world["shop_a"]) == 0
    # so the whole limit of wrong guesses is still there: had the real code counted, the last is 429
    assert [redeem(client, headers, shortcode.generate(), 1).status_code for _ in range(limit)] == [404] * limit
    assert _failures_of(db, "shortcode:cashier", world.users["cashier_a"]) == limit
    assert redeem(client, headers, second["short_code"], 10).status_code == 429
    assert redeem(client, headers, second["token"], 10).status_code == 201


def test_letters_are_not_a_guess_and_do_not_count(app, client, world, db):
    for _ in range(app.config["REDEEM_GUESSES_PER_CASHIER"] + 5):
        assert redeem(client, world.headers("cashier_a"), "not a code", 1).status_code == 400
    assert db.session.query(ThrottleEvent).count() == 0
