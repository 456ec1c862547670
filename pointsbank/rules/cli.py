"""``pointsbank import records|households FILE --community CODE``: bulk imports from the shell.

Thin wrappers over :mod:`pointsbank.rules.importer` and :mod:`pointsbank.community.household_import`:
one unit of work, a tqdm progress bar on stderr, one line per bad row, a summary; exit 1
when a row is invalid and nothing was written.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable

import click
from flask.cli import with_appcontext

from pointsbank.cli import command_unit


class _Bars:
    """One tqdm bar per phase (score, post, create) on stderr."""

    LABELS = {"score": "checking", "post": "posting", "create": "creating"}

    def __init__(self) -> None:
        self.phase: str | None = None
        self.bar: Any = None

    def __call__(self, phase: str, done: int, total: int) -> None:
        from tqdm import tqdm

        if phase != self.phase:
            self.close()
            self.phase = phase
            self.bar = tqdm(total=total, desc=self.LABELS.get(phase, phase), unit="row", file=sys.stderr,
                            leave=True, dynamic_ncols=True)
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _run(work: Callable[..., dict[str, Any]], *args: Any, **kwargs: Any) -> dict[str, Any]:
    bars = _Bars()
    try:
        return command_unit(work)(*args, progress=bars, **kwargs)
    finally:
        bars.close()


def _report(report: dict[str, Any], written_key: str) -> None:
    for error in report["errors"]:
        click.echo(f"line {error['line']}: {error['code']}: {error['reason']}")
    click.echo(", ".join(f"{key} {report[key]}" for key in report if key != "errors"))
    if report["invalid"] and not report[written_key]:
        sys.exit(1)


def _community_id(code: str) -> int:
    from pointsbank.community.services import community_by_code

    return command_unit(lambda: community_by_code(code).id)()


def _user(username: str | None):
    if username is None:
        return None
    import sqlalchemy as sa

    from pointsbank.auth.models import User
    from pointsbank.extensions import db

    user = db.session.scalar(sa.select(User).where(User.username == username))
    if user is None:
        click.echo(f"error: no user {username}", err=True)
        sys.exit(1)
    return user


@click.group("import")
def import_group() -> None:
    """Bulk imports from CSV (UTF-8 or GB18030) or XLSX, with English or Chinese headers."""


@import_group.command("records")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--community", "community_code", required=True, help="community code")
@click.option("--post", is_flag=True, help="post the valid rows (default: check only, write nothing)")
@click.option("--as", "username", help="the staff login that records the rows (needed with --post)")
@with_appcontext
def import_records(file: Path, community_code: str, post: bool, username: str | None) -> None:
    """Check (and with --post, score and post) behaviour records.

    Columns: household_number, rule_code, occurred_on, quantity, resident, note
    (户号, 规则代码, 日期, 数量, 居民, 备注); dates as 2026-04-03 or 2026/4/3.
    """
    from pointsbank.rules.importer import import_records as run

    if post and username is None:
        raise click.UsageError("--post needs --as USERNAME: the staff login that records the rows")
    community_id, actor = _community_id(community_code), _user(username)
    report = _run(run, actor, community_id, file.read_bytes(), file.name, post=post)
    _report(report, "posted")


@import_group.command("households")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--community", "community_code", required=True, help="community code")
@click.option("--dry-run", is_flag=True, help="check only, create nothing")
@with_appcontext
def import_households(file: Path, community_code: str, dry_run: bool) -> None:
    """Register households: number, head_name, grid, address, members (户号, 户主, 网格, 地址, 成员)."""
    from pointsbank.community.household_import import import_households as run

    community_id = _community_id(community_code)
    report = _run(run, None, community_id, file.read_bytes(), file.name, dry_run=dry_run)
    _report(report, "created")


commands = [import_group]
