"""``pointsbank keys rotate`` and ``pointsbank vouchers expire``: thin wrappers over services."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from pointsbank.cli import command_unit


@click.group("keys")
def keys_group() -> None:
    """Voucher-signing keys."""


@keys_group.command("rotate")
@click.option("--community", "community_code", required=True, help="community code")
@with_appcontext
@command_unit
def keys_rotate(community_code: str) -> None:
    """Make a new signing key for a community; the old one retires but verifies its tokens until they expire."""
    from pointsbank.community.services import community_by_code
    from pointsbank.redeem import keys

    key = keys.rotate(None, community_by_code(community_code).id)
    click.echo(f"community {community_code}: new signing key {key['kid']}")


@click.group("vouchers")
def vouchers_group() -> None:
    """Vouchers."""


@vouchers_group.command("expire")
@click.option("--batch", default=500, show_default=True, type=click.IntRange(1, 10_000), help="vouchers per commit")
@with_appcontext
def vouchers_expire(batch: int) -> None:
    """Return the points of every voucher past its expiry (safe to run at any time, and twice)."""
    from pointsbank.redeem.jobs import expire_vouchers

    click.echo(f"expired {expire_vouchers(batch=batch)} voucher(s)")


commands = [keys_group, vouchers_group]
