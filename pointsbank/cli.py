"""The ``pointsbank`` command: a Flask CLI group whose commands are thin wrappers over services.

Each command is one unit of work (commit once, roll back on error) and prints plain
messages; refusals exit non-zero with the translated reason.
"""

from __future__ import annotations

import functools
import sys
from typing import Any, Callable

import click
from flask import Flask
from flask.cli import FlaskGroup, with_appcontext
from flask_migrate import cli as migrate_cli

from pointsbank.errors import DomainError


def _create_app() -> Flask:
    from pointsbank import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_default_commands=False, load_dotenv=False)
def main() -> None:
    """pointsbank — the community moral bank (道德银行)."""


def command_unit(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Run a command as one unit of work and turn refusals into a message and exit code 1."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from pointsbank.database import unit_of_work

        try:
            return unit_of_work(fn)(*args, **kwargs)
        except DomainError as error:
            click.echo(f"error: {error.code}: {error.render_message()}", err=True)
            sys.exit(1)

    return wrapper


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--debug/--no-debug", default=False)
@with_appcontext
def serve(host: str, port: int, debug: bool) -> None:
    """Serve the app (development server; production runs gunicorn "pointsbank:create_app()")."""
    from flask import current_app
    from werkzeug.serving import run_simple

    run_simple(host, port, current_app._get_current_object(), use_debugger=debug, threaded=True)


@main.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--no-serve", is_flag=True, help="seed only")
@with_appcontext
def demo(host: str, port: int, no_serve: bool) -> None:
    """Create and migrate the database, seed a demo community, print the logins, and serve."""
    from flask import current_app
    from flask_migrate import upgrade

    from pointsbank import demo as demo_data
    from pointsbank.database import unit_of_work

    upgrade(revision="heads")
    logins = unit_of_work(demo_data.seed)()
    click.echo("Demo logins (username / password / role):")
    for username, password, role in logins:
        click.echo(f"  {username:12} {password:14} {role}")
    click.echo(f"Household card: {demo_data.CARD_HOUSEHOLD}, PIN {demo_data.CARD_PIN} "
               "(staff print it at /staff/cards; the cashier scans it at /shop)")
    if not no_serve:
        from werkzeug.serving import run_simple

        click.echo(f"Serving on http://{host}:{port}/")
        run_simple(host, port, current_app._get_current_object(), threaded=True)


@main.group("user")
def user_group() -> None:
    """Logins."""


@user_group.command("create")
@click.option("--role", required=True, type=click.Choice(["admin", "staff", "grid_worker", "resident", "cashier"]))
@click.option("--username", required=True)
@click.option("--password", required=True)
@click.option("--community", "community_code", help="community code (staff, grid_worker, resident)")
@click.option("--household", "household_id", type=int, help="household id (resident; staff's own household)")
@click.option("--shop", "shop_id", type=int, help="shop id (cashier)")
@click.option("--region", "region_code", help="region code (admin of a region subtree)")
@click.option("--grid", "grids", multiple=True, help="grid name (grid_worker; repeatable)")
@with_appcontext
@command_unit
def user_create(role: str, username: str, password: str, community_code: str | None, household_id: int | None,
                shop_id: int | None, region_code: str | None, grids: tuple[str, ...]) -> None:
    """Create a login."""
    from pointsbank.auth.services import create_user

    user = create_user(None, role=role, username=username, password=password, community_code=community_code,
                       household_id=household_id, shop_id=shop_id, region_code=region_code, grid_names=list(grids))
    click.echo(f"created {role} {username} (id {user.id})")


@main.group("ledger")
def ledger_group() -> None:
    """The ledger."""


@ledger_group.command("verify")
@click.option("--community", "community_code", help="only this community")
@with_appcontext
def ledger_verify(community_code: str | None) -> None:
    """Check hash chains, cached balances and zero sums; exit 1 on any difference."""
    from pointsbank.community.services import community_by_code
    from pointsbank.ledger.verify import verify

    community_id = None
    if community_code:
        try:
            community_id = community_by_code(community_code).id
        except DomainError as error:
            click.echo(f"error: {error.render_message()}", err=True)
            sys.exit(2)
    report = verify(community_id, progress=lambda n: click.echo(f"  … {n} postings", err=True))
    for difference in report.differences:
        click.echo(f"DIFFERENCE {difference}")
    click.echo(f"checked {report.transactions} transactions, {report.postings} postings, {report.accounts} accounts: "
               + ("OK" if report.ok else f"{len(report.differences)} difference(s)"))
    sys.exit(0 if report.ok else 1)


@click.command("distribute")
@click.option("--dry-run", is_flag=True, help="print the steps without changing anything")
@with_appcontext
def db_distribute(dry_run: bool) -> None:
    """Lay the migrated schema out on a Citus coordinator (see pointsbank.tenancy); idempotent."""
    from pointsbank import distribute
    from pointsbank.database import is_postgresql
    from pointsbank.extensions import db

    if not is_postgresql():
        click.echo("error: pointsbank db distribute needs a Citus coordinator (PostgreSQL with the citus "
                   "extension); POINTSBANK_DATABASE_URL is not PostgreSQL. Nothing was changed.", err=True)
        sys.exit(1)
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        try:
            if dry_run:
                refusal = distribute.citus_refusal(connection) or distribute.migration_refusal(connection)
                if refusal:
                    raise distribute.Refused([refusal])
                steps = distribute.plan(distribute.read_catalog(connection))
                for step in steps:
                    click.echo(f"{step.message}\n    would run: {step.sql}" if step.sql else step.message)
                return
            steps = distribute.distribute(connection, click.echo)
        except distribute.Refused as refused:
            for problem in refused.problems:
                click.echo(f"error: {problem}", err=True)
            click.echo("error: pointsbank db distribute refused; nothing was changed.", err=True)
            sys.exit(1)
        changed = sum(1 for step in steps if step.sql is not None)
        click.echo(f"{changed} change(s)" if changed else "nothing to do: the schema was already laid out")
        for line in distribute.summary(connection):
            click.echo(line)


# Flask-Migrate's ``db`` group (``pointsbank db upgrade`` …) is a plugin command that the CLI
# resolves before any app exists, so the command joins it here, at import, not in register().
migrate_cli.db.add_command(db_distribute)


#: modules whose ``commands`` (a list of click commands) join the ``pointsbank`` group
COMMAND_MODULES = ("pointsbank.rules.cli", "pointsbank.redeem.cli", "pointsbank.reports.cli", "pointsbank.jobs",
                   "pointsbank.shelf.cli", "pointsbank.notify.cli")


def register(app: Flask) -> None:
    """Commands reachable through ``flask --app pointsbank`` and ``pointsbank`` alike."""
    import importlib

    commands = [serve, demo, user_group, ledger_group]
    for name in COMMAND_MODULES:
        commands.extend(importlib.import_module(name).commands)
    for command in commands:
        app.cli.add_command(command)
