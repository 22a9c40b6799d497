"""Twilio request signatures, checked against the public URL Twilio actually requested."""

from __future__ import annotations

import functools
import hmac
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from flask import Request, abort, current_app, request
from twilio.request_validator import RequestValidator, get_signature_algorithm

logger = logging.getLogger(__name__)

DEFAULT_PORTS = {"https": 443, "http": 80}


def public_url(req: Request, public_base_url: str) -> str:
    """The URL Twilio signed: the configured public origin plus the path and query it hit.

    Host, scheme and port of the request itself are ignored: behind a proxy they are the
    proxy's internal ones, never what Twilio saw.
    """
    query = req.query_string.decode("latin-1")
    return f"{public_base_url}{req.path}" + (f"?{query}" if query else "")


def signed_forms(url: str) -> list[str]:
    """The spellings of `url` Twilio may have signed: with and without the scheme's default
    port (`https://host/…` and `https://host:443/…`); a non-default port is kept as is."""
    parts = urlsplit(url)
    default = DEFAULT_PORTS[parts.scheme]
    host = parts.hostname or ""

    if parts.port not in (None, default):
        return [url]
    bare = urlunsplit(parts._replace(netloc=host))
    with_port = urlunsplit(parts._replace(netloc=f"{host}:{default}"))
    return [bare, with_port]


def is_signed(req: Request, auth_token: str, public_base_url: str) -> bool:
    """True when the request carries a valid X-Twilio-Signature for its public URL and form.

    The signature is computed by the `twilio` library for each spelling of the URL that
    `signed_forms` allows and compared in constant time.
    """
    signature = req.headers.get("X-Twilio-Signature", "")
    if not signature:
        return False

    algorithm = get_signature_algorithm(req.headers.get("X-Twilio-Webhooks-Signature-Settings"))
    validator = RequestValidator(auth_token)
    try:
        expected = [
            validator.compute_signature(url, req.form, algorithm)
            for url in signed_forms(public_url(req, public_base_url))
        ]
    except ValueError:
        logger.warning("unsupported signature algorithm %r", algorithm)
        return False
    return any(hmac.compare_digest(candidate, signature) for candidate in expected)


def twilio_signed(view: Callable[..., Any]) -> Callable[..., Any]:
    """Refuse (403, nothing written) a request that Twilio did not sign."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        settings = current_app.extensions["hotline"].settings
        if not is_signed(request, settings.twilio_auth_token, settings.public_base_url):
            logger.warning("refused request without a valid signature path=%s", request.path)
            abort(403)
        return view(*args, **kwargs)

    return wrapper
