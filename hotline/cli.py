"""The `hotline` command: migrate, seed the demo data, check flows, and play Twilio."""

from __future__ import annotations

import logging
import sys

import click
from flask import Flask

from hotline.cli_simulator import call_command, sms_command
from hotline.logs import configure_logging
from hotline.services import Services
from hotline.settings import SettingsError

logger = logging.getLogger(__name__)


def init_app(app: Flask) -> None:
    """Make the commands available as `flask --app wsgi …` too."""
    for command in (migrate_command, seed_command, sweep_command, check_flows_command):
        app.cli.add_command(command)


def _services() -> Services:
    """The services of an app built from the environment; a bad variable ends the command
    with its message rather than a traceback."""
    from hotline import create_app

    try:
        return create_app().extensions["hotline"]
    except SettingsError as error:
        raise click.ClickException(str(error)) from error


@click.command("migrate")
def migrate_command() -> None:
    """Bring the case store's schema up to date (Alembic upgrade to head)."""
    from hotline.migrate import upgrade

    services = _services()
    upgrade(services.settings.database_url)
    click.echo("schema up to date")


@click.command("seed")
def seed_command() -> None:
    """Load the Laoshan demo data (idempotent: a second run changes nothing)."""
    from hotline.demo.seed import seed_demo

    services = _services()
    with services.db.session() as session:
        report = seed_demo(session)
    click.echo(f"demo data loaded: {report}")


@click.command("sweep")
def sweep_command() -> None:
    """Queue again the callbacks and SMS whose jobs were lost (the worker does this every
    minute; this runs one sweep now)."""
    from hotline.dispatch.sweeper import sweep

    services = _services()
    with services.db.session() as session:
        report = sweep(session, services)
    click.echo(f"queued again: {len(report.callbacks)} callbacks, {len(report.messages)} SMS")


@click.command("check-flows")
def check_flows_command() -> None:
    """Load and check the residents' flow (ivr_flows/main.yaml); exit 1 on a problem."""
    from hotline.flows.conversations import resident_flow
    from hotline.flows.schema import FlowError

    try:
        flow = resident_flow()
    except (FlowError, OSError) as error:
        click.echo(f"flow check failed: {error}", err=True)
        sys.exit(1)
    click.echo(f"flow {flow.name} v{flow.version}: {len(flow.nodes)} nodes, all references good")


@click.group()
def main() -> None:
    """Laoshan community hotline: 崂山区社区一站式服务热线."""
    configure_logging(logging.WARNING)


for _command in (
    migrate_command,
    seed_command,
    sweep_command,
    check_flows_command,
    call_command,
    sms_command,
):
    main.add_command(_command)
