"""Fixtures for the emulator tests: a running emulator, a client aimed at it, a receiver."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from twilio.rest import Client

from hotline.emulator import EmulatorServer
from hotline.telephony.client import make_twilio_client

from .support import ACCOUNT_SID, AUTH_TOKEN, CALLBACK_DELAY, CallbackReceiver, close_client


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    """A fresh emulator with an empty store, fast status progressions."""
    with EmulatorServer(ACCOUNT_SID, AUTH_TOKEN, callback_delay=CALLBACK_DELAY) as server:
        yield server


@pytest.fixture
def client(emulator: EmulatorServer) -> Iterator[Client]:
    """The product's twilio client aimed at `emulator`."""
    twilio_client = make_twilio_client(ACCOUNT_SID, AUTH_TOKEN, emulator.base_url, timeout=5)
    yield twilio_client
    close_client(twilio_client)


@pytest.fixture
def receiver() -> Iterator[CallbackReceiver]:
    """A webhook receiver for status callbacks."""
    server = CallbackReceiver()
    yield server
    server.stop()
