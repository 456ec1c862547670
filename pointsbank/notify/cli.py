"""``pointsbank notifications send`` and ``pointsbank notifications scan``: thin wrappers over the jobs."""

from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext


@click.group("notifications")
def notifications_group() -> None:
    """The notifications outbox (inbox and SMS)."""


@notifications_group.command("send")
@click.option("--limit", type=int, default=None, help="send at most this many messages")
@with_appcontext
def send(limit: int | None) -> None:
    """Send every due SMS once (claimed with FOR UPDATE SKIP LOCKED; safe beside the scheduler)."""
    from pointsbank.notify.sender import ProviderNotConfigured, send_due

    try:
        report = send_due(limit=limit)
    except ProviderNotConfigured as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(2)
    click.echo(f"sent {report['sent']}, retrying {report['retrying']}, failed {report['failed']}, "
               f"skipped {report['skipped']}")


@notifications_group.command("scan")
@with_appcontext
def scan() -> None:
    """Enqueue the messages of vouchers and reservations about to expire (each item once)."""
    from pointsbank.database import unit_of_work
    from pointsbank.notify.jobs import enqueue_expiring

    found = unit_of_work(enqueue_expiring)()
    click.echo(f"expiring: {found['vouchers']} vouchers, {found['reservations']} reservations")


commands = [notifications_group]
