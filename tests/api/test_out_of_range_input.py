"""Values PostgreSQL cannot take answer 400 or 404, never 500 (found by schemathesis in
``make check-reliability``): ids beyond an ``integer`` column, NUL characters in text."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from pointsbank.ledger.models import Posting

pytestmark = pytest.mark.postgres_only


def test_an_id_in_the_path_beyond_the_column_range_is_not_found(client, world):
    for path in ("/api/v1/households/1756571896371", "/api/v1/communities/222260070175/shops",
                 "/api/v1/households/1756571896371/postings"):
        response = client.get(path, headers=world.headers("staff_a"))
        assert response.status_code == 404, path
        assert response.get_json()["error"]["code"] == "not_found"


def test_a_nul_character_in_a_text_is_refused_and_moves_nothing(client, world, db):
    before = db.session.scalar(sa.select(sa.func.count()).select_from(Posting))
    response = client.post(f"/api/v1/households/{world['a1']}/adjustments", json={"points": 5, "reason": "a\u0000b"},
                           headers=world.headers("staff_a", **{"Idempotency-Key": "nul-1"}))
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_value"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Posting)) == before


def test_an_id_in_a_body_beyond_the_column_range_is_bad_input(client, world):
    response = client.post("/api/v1/users", json={"role": "resident", "username": "big-id", "password": "long-enough-1",
                                                  "household_id": 9007199254740991},
                           headers=world.headers("staff_a"))
    assert response.status_code in (400, 404)
    assert response.get_json()["error"]["code"] in ("invalid_value", "not_found")
