"""Local stand-in for the parts of Twilio's REST API the hotline uses, same paths and JSON.
Run it with `python -m hotline.emulator`; tests start it with EmulatorServer."""

from hotline.emulator.app import EmulatorState, create_emulator_app, emulator_state
from hotline.emulator.server import EmulatorServer

DEFAULT_ACCOUNT_SID = "AC00000000000000000000000000000000"
DEFAULT_AUTH_TOKEN = "dev-auth-token-0000000000000000"

__all__ = [
    "DEFAULT_ACCOUNT_SID",
    "DEFAULT_AUTH_TOKEN",
    "EmulatorServer",
    "EmulatorState",
    "create_emulator_app",
    "emulator_state",
]
