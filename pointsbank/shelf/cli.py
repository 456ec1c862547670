"""``pointsbank stock verify`` and ``pointsbank reservations expire``: thin wrappers over services."""

from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext

from pointsbank.errors import DomainError


@click.group("stock")
def stock_group() -> None:
    """The shelf's stock ledger."""


@stock_group.command("verify")
@click.option("--community", "community_code", help="only this community's items")
@with_appcontext
def stock_verify(community_code: str | None) -> None:
    """Check that every item's cached stock equals the sum of its movements; exit 1 on any difference."""
    from pointsbank.community.services import community_by_code
    from pointsbank.shelf.services.stock import verify_stock

    community_id = None
    if community_code:
        try:
            community_id = community_by_code(community_code).id
        except DomainError as error:
            click.echo(f"error: {error.render_message()}", err=True)
            sys.exit(2)
    report = verify_stock(community_id)
    for difference in report.differences:
        click.echo(f"DIFFERENCE {difference}")
    click.echo(f"checked {report.items} items, {report.movements} movements: "
               + ("OK" if report.ok else f"{len(report.differences)} difference(s)"))
    sys.exit(0 if report.ok else 1)


@click.group("reservations")
def reservations_group() -> None:
    """Shelf reservations."""


@reservations_group.command("expire")
@click.option("--batch", default=200, show_default=True, type=click.IntRange(1, 10_000),
              help="reservations per commit")
@with_appcontext
def reservations_expire(batch: int) -> None:
    """Give back the points and goods of every held reservation past its time (safe at any time, and twice)."""
    from pointsbank.shelf.jobs import expire_reservations

    click.echo(f"expired {expire_reservations(batch=batch)} reservation(s)")


commands = [stock_group, reservations_group]
