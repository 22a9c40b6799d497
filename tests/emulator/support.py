"""Helpers for the emulator tests: test credentials, polling, a status-callback receiver."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from twilio.rest import Client
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

logger = logging.getLogger(__name__)

ACCOUNT_SID = "AC" + "5e1f" * 8
AUTH_TOKEN = "emulator-test-token-7d41c0"
HOTLINE_NUMBER = "+8653266661234"
CALLBACK_DELAY = 0.02
WAIT_SECONDS = 5.0


def wait_until(condition: Callable[[], bool], timeout: float = WAIT_SECONDS) -> bool:
    """Poll `condition` every 10 ms until it is true (True) or `timeout` passes (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


@dataclass(frozen=True)
class ReceivedCallback:
    """One webhook request as the receiver saw it."""

    url: str
    form: dict[str, str]
    signature: str | None


class CallbackReceiver:
    """A werkzeug server in a thread that records every POST it gets and answers 204."""

    def __init__(self) -> None:
        self._received: list[ReceivedCallback] = []
        self._lock = threading.Lock()
        self._server = make_server("127.0.0.1", 0, self._wsgi, threaded=True)
        self.base_url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    @Request.application
    def _wsgi(self, request: Request) -> Response:
        callback = ReceivedCallback(
            url=request.url,
            form=request.form.to_dict(),
            signature=request.headers.get("X-Twilio-Signature"),
        )
        with self._lock:
            self._received.append(callback)
        return Response(status=204)

    def url(self, path: str) -> str:
        """The absolute URL of `path` on this receiver."""
        return self.base_url + path

    def received(self) -> list[ReceivedCallback]:
        """A copy of the callbacks received so far, in arrival order."""
        with self._lock:
            return list(self._received)

    def wait_for(self, count: int) -> list[ReceivedCallback]:
        """Wait until `count` callbacks arrived; fails the test when they do not come."""
        assert wait_until(lambda: len(self.received()) >= count), self.received()
        return self.received()

    def stop(self) -> None:
        """Stop the server and free its port."""
        self._server.shutdown()
        self._thread.join(timeout=5)
        self._server.server_close()


def close_client(twilio_client: Client) -> None:
    """Close the pooled HTTP session of a client made by make_twilio_client."""
    session = getattr(twilio_client.http_client, "session", None)
    if session is not None:
        session.close()
