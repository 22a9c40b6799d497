"""Twilio's REST error responses: the exception the emulator raises and its JSON body."""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger(__name__)

MORE_INFO_BASE = "https://www.twilio.com/docs/errors"


class TwilioApiError(Exception):
    """An error the emulator answers the way Twilio does: HTTP `status`, Twilio `code`, text."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def to_json(self) -> dict[str, Any]:
        """Return Twilio's error body: code, message, more_info and status."""
        return {
            "code": self.code,
            "message": self.message,
            "more_info": f"{MORE_INFO_BASE}/{self.code}",
            "status": self.status,
        }


def bad_request(code: int, message: str) -> TwilioApiError:
    """A 400 error with Twilio error `code`."""
    return TwilioApiError(400, code, message)


def not_found(path: str) -> TwilioApiError:
    """Twilio's 404 (code 20404) for a resource path that does not exist."""
    return TwilioApiError(404, 20404, f"The requested resource {path} was not found")


def unauthorized() -> TwilioApiError:
    """Twilio's 401 (code 20003) for missing or wrong credentials."""
    return TwilioApiError(401, 20003, "Authenticate")
