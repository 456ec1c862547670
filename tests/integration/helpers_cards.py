"""Helpers for household-card tests: issue a card through the API, pay with it."""

from __future__ import annotations

from typing import Any

PIN = "042917"


def issue_card(client: Any, world: Any, household: str = "a1", pin: str = PIN, who: str = "staff_a2") -> Any:
    return client.post(f"/api/v1/households/{world[household]}/card", json={"pin": pin}, headers=world.headers(who))


def issued_card(client: Any, world: Any, household: str = "a1", pin: str = PIN, who: str = "staff_a2") -> dict:
    response = issue_card(client, world, household, pin, who)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def pay(client: Any, headers: dict[str, str], card: str, pin: str, points: int | None = None, **body: Any) -> Any:
    payload: dict[str, Any] = {"card": card, "pin": pin, **body}
    if points is not None:
        payload["points"] = points
    return client.post("/api/v1/redemptions", json=payload, headers=headers)
