"""The product's factory for the real `twilio` REST client, aimed at Twilio or the emulator."""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote, urlsplit

from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from hotline.phones import mask

logger = logging.getLogger(__name__)

TWILIO_API_BASE = "https://api.twilio.com"

# The twilio library logs each request's URL and query (list filters hold phone numbers)
# at INFO on the logger it is given; this one masks them first.
_PHONE_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])(?:\+|%2B)?\d{7,15}(?![0-9A-Za-z])")


class PhoneMaskingFilter(logging.Filter):
    """Rewrites a record's message so every phone-number-like digit run is masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Mask the rendered message in place; always keeps the record."""
        text = record.getMessage()
        masked = _PHONE_IN_TEXT.sub(lambda match: mask(unquote(match.group(0))), text)
        if masked != text:
            record.msg, record.args = masked, None
        return True


http_logger = logging.getLogger(f"{__name__}.http")
http_logger.addFilter(PhoneMaskingFilter())


def make_twilio_client(
    account_sid: str, auth_token: str, api_base: str | None, timeout: float = 10.0
) -> Client:
    """Return the real twilio REST client for `account_sid`, its HTTP calls timing out.

    With `api_base` (e.g. `http://127.0.0.1:5055`, the emulator) every request of the
    `api` domain (Messages, Calls: `client.messages`, `client.calls`, paging included)
    goes to that base instead of https://api.twilio.com, and TWILIO_EDGE/TWILIO_REGION
    are not applied to it; None means Twilio itself. Raises ValueError when `timeout`
    is not positive, `api_base` is not an http(s) URL (a path prefix is kept; no query or
    fragment), or the credentials are empty.
    """
    if not account_sid or not auth_token:
        raise ValueError("account_sid and auth_token must not be empty")
    if timeout <= 0:
        raise ValueError("timeout must be positive")
    base = _checked_api_base(api_base) if api_base is not None else None

    http_client = TwilioHttpClient(timeout=timeout, logger=http_logger)
    client = Client(account_sid, auth_token, http_client=http_client)

    if base is not None:
        client.api.base_url = base
        client.edge = None
        client.region = None
        logger.info("Twilio REST client for %s uses API base %s", account_sid, base)
    return client


def _checked_api_base(api_base: str) -> str:
    parts = urlsplit(api_base)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"api_base must be an http(s) URL, got {api_base!r}")
    if parts.query or parts.fragment:
        raise ValueError(f"api_base must not have a query or fragment: {api_base!r}")
    return api_base.rstrip("/")
