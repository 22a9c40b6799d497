"""Click commands `hotline call` and `hotline sms`: play Twilio against a running hotline.

Defaults come from PUBLIC_BASE_URL, TWILIO_AUTH_TOKEN, TWILIO_ACCOUNT_SID, TWILIO_PHONE_NUMBER.
"""

import logging
import os

import click

from hotline.settings import DEV_ACCOUNT_SID, DEV_AUTH_TOKEN, DEV_PHONE_NUMBER
from hotline.simulator import TwilioPlayer

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "http://127.0.0.1:5000"
DEFAULT_AUTH_TOKEN = DEV_AUTH_TOKEN
DEFAULT_ACCOUNT_SID = DEV_ACCOUNT_SID
DEFAULT_PHONE_NUMBER = DEV_PHONE_NUMBER

_BASE_URL_HELP = (
    "Server base URL; it is both requested and signed, so it must equal the server's "
    "PUBLIC_BASE_URL. [default: $PUBLIC_BASE_URL or " + DEFAULT_BASE_URL + "]"
)


def parse_presses(value: str | None) -> list[str]:
    """Split a --press value such as "4,,1" into presses; an empty item means a timeout.

    None (option not given) gives no presses at all. Never raises.
    """
    if value is None:
        return []
    return [item.strip() for item in value.split(",")]


def _env(name: str, default: str) -> str:
    return os.environ.get(name) or default


def _make_player(base_url: str | None) -> TwilioPlayer:
    url = base_url or _env("PUBLIC_BASE_URL", DEFAULT_BASE_URL)
    logger.debug("simulator talking to %s", url)

    try:
        return TwilioPlayer(
            url,
            _env("TWILIO_AUTH_TOKEN", DEFAULT_AUTH_TOKEN),
            _env("TWILIO_ACCOUNT_SID", DEFAULT_ACCOUNT_SID),
            _env("TWILIO_PHONE_NUMBER", DEFAULT_PHONE_NUMBER),
        )
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--base-url") from exc


@click.command("call")
@click.option("--from", "from_number", required=True, help="Caller's number, e.g. +86138...")
@click.option(
    "--press",
    "press",
    default=None,
    metavar="KEYS",
    help="Comma-separated entries for successive Gathers, e.g. 4,1,2; an empty item "
    "(4,,1) or 'timeout' means no input.",
)
@click.option("--base-url", default=None, help=_BASE_URL_HELP)
@click.option(
    "--max-steps",
    default=60,
    show_default=True,
    type=click.IntRange(min=1),
    help="Cut the call after this many TwiML verbs.",
)
@click.pass_context
def call_command(
    ctx: click.Context,
    from_number: str,
    press: str | None,
    base_url: str | None,
    max_steps: int,
) -> None:
    """Simulate an incoming call and print its transcript; exit 1 if the server misbehaved."""
    with _make_player(base_url) as player:
        transcript = player.play_call(from_number, parse_presses(press), max_steps=max_steps)

    click.echo(transcript.render())

    if not transcript.ok:
        ctx.exit(1)


@click.command("sms")
@click.option("--from", "from_number", required=True, help="Sender's number, e.g. +86138...")
@click.option("--base-url", default=None, help=_BASE_URL_HELP)
@click.argument("text", nargs=-1, required=True)
@click.pass_context
def sms_command(
    ctx: click.Context, from_number: str, base_url: str | None, text: tuple[str, ...]
) -> None:
    """Simulate an incoming SMS (words of TEXT are joined by spaces) and print the replies;
    exit 1 if the server misbehaved."""
    with _make_player(base_url) as player:
        transcript = player.send_sms(from_number, " ".join(text))

    click.echo(transcript.render())

    if not transcript.ok:
        ctx.exit(1)
