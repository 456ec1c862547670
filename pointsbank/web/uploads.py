"""Uploaded import files kept between "check" and "post the valid rows".

The import page checks a file first (nothing is written), then posts its valid rows when the
user presses a second button; the file is kept here in between, so nobody uploads it twice.
A kept file belongs to the user who uploaded it (its path starts with the user's id) and is
named by 128 random bits; files older than a day are removed whenever a new one is kept.
"""

from __future__ import annotations

import re
import secrets
import time
from pathlib import Path

from flask import current_app
from flask_babel import lazy_gettext as _l

from pointsbank.errors import NotFound

MAX_AGE_SECONDS = 24 * 3600
_TOKEN = re.compile(r"[0-9a-f]{32}")


class UploadGone(NotFound):
    code = "upload_gone"
    message = _l("The uploaded file is no longer kept; please upload it again.")


def _folder() -> Path:
    folder = Path(current_app.instance_path) / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _path(user_id: int, token: str) -> Path:
    if not _TOKEN.fullmatch(token or ""):
        raise UploadGone()
    return _folder() / f"{int(user_id)}-{token}"


def stash(user_id: int, data: bytes) -> str:
    """Hold an uploaded file for this login until it is confirmed (:func:`load`) or dropped
    (:func:`discard`); the token names it."""
    _sweep()
    token = secrets.token_hex(16)
    _path(user_id, token).write_bytes(data)
    return token


def load(user_id: int, token: str) -> bytes:
    path = _path(user_id, token)
    if not path.is_file():
        raise UploadGone()
    return path.read_bytes()


def discard(user_id: int, token: str) -> None:
    _path(user_id, token).unlink(missing_ok=True)


def _sweep() -> None:
    # file housekeeping against the files' own mtimes, so the real time, not the app's clock
    cutoff = time.time() - MAX_AGE_SECONDS
    for path in _folder().iterdir():
        if path.is_file() and path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)
