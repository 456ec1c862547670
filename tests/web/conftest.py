"""The page tests run as a browser would: with CSRF protection on (the root fixture turns it off
for the API tests, which authenticate with bearer tokens)."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return {**app_config, "WTF_CSRF_ENABLED": True}
