"""Serve the emulator with werkzeug's threaded server, blocking or in a background thread."""

from __future__ import annotations

import logging
import threading
from types import TracebackType

from flask import Flask
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from hotline.emulator.app import EXTENSION_KEY, EmulatorState, create_emulator_app

logger = logging.getLogger(__name__)

LOCALHOST = "127.0.0.1"
SHUTDOWN_POLL_SECONDS = 0.05


class QuietRequestHandler(WSGIRequestHandler):
    """werkzeug's request handler, logging the path without its query string.

    List filters such as `?To=+8613800138000` carry phone numbers, which must not reach
    the logs; werkzeug's default access line would print them whole.
    """

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Log one access line: method, path without query, status."""
        path = self.path.split("?", 1)[0]
        logger.info("%s %s %s", self.command, path, code)


def make_emulator_server(app: Flask, host: str, port: int) -> BaseWSGIServer:
    """Bind werkzeug's threaded server for `app` on `host`:`port` (0 picks a free port).

    Raises OSError when the address cannot be bound.
    """
    return make_server(host, port, app, threaded=True, request_handler=QuietRequestHandler)


class EmulatorServer:
    """The emulator running in a daemon thread on 127.0.0.1 and a free port.

    Usable as a context manager; `base_url` is the value to give the Twilio client as its
    API base, `app` the Flask app served (its store: `emulator_state(app).store`).
    """

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        *,
        callback_delay: float = 0.2,
        deliver_callbacks: bool = True,
        app: Flask | None = None,
    ) -> None:
        """Create and start the server; `app`, when given, is served instead of a new one.

        Raises ValueError for arguments create_emulator_app rejects, OSError when no
        port can be bound.
        """
        if app is None:
            app = create_emulator_app(account_sid, auth_token, callback_delay=callback_delay)
        self.app = app
        self._server = make_emulator_server(self.app, LOCALHOST, 0)
        self.base_url = f"http://{LOCALHOST}:{self._server.server_port}"

        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": SHUTDOWN_POLL_SECONDS},
            name=f"twilio-emulator-{self._server.server_port}",
            daemon=True,
        )
        self._thread.start()
        logger.info("Twilio emulator serving at %s", self.base_url)

    def stop(self) -> None:
        """Stop serving, end status progressions and release the port; safe to call twice."""
        state = self.app.extensions.get(EXTENSION_KEY)
        if isinstance(state, EmulatorState):
            state.store.stopping.set()
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()
        logger.info("Twilio emulator at %s stopped", self.base_url)

    def __enter__(self) -> EmulatorServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
