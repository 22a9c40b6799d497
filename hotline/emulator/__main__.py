"""Command line: `python -m hotline.emulator [--host 127.0.0.1] [--port 5055]`.
Credentials come from TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN, with development defaults."""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Mapping, Sequence

from hotline.emulator import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, create_emulator_app
from hotline.emulator.server import make_emulator_server

logger = logging.getLogger("hotline.emulator")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5055


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse the command line; argparse exits with status 2 on bad arguments."""
    parser = argparse.ArgumentParser(
        prog="python -m hotline.emulator",
        description="Local emulator of Twilio's Messages and Calls REST API.",
    )
    parser.add_argument("--host", default=DEFAULT_HOST, help="address to bind (%(default)s)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="port (%(default)s)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> None:
    """Serve the emulator until interrupted.

    Raises ValueError when TWILIO_ACCOUNT_SID is not a valid account SID, OSError when
    the address cannot be bound.
    """
    args = parse_args(argv)
    env = os.environ if environ is None else environ
    account_sid = env.get("TWILIO_ACCOUNT_SID") or DEFAULT_ACCOUNT_SID
    auth_token = env.get("TWILIO_AUTH_TOKEN") or DEFAULT_AUTH_TOKEN

    app = create_emulator_app(account_sid, auth_token)
    server = make_emulator_server(app, args.host, args.port)
    logger.info(
        "Twilio emulator for account %s listening on http://%s:%s",
        account_sid,
        args.host,
        server.server_port,
    )

    try:
        server.serve_forever()
    except KeyboardInterrupt:
        logger.info("Twilio emulator stopped")
    finally:
        server.server_close()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    main()
