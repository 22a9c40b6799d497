"""Twilio request signatures, checked against the public URL Twilio actually requested."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from flask import Request, abort, current_app, request
from twilio.request_validator import RequestValidator, get_signature_algorithm

logger = logging.getLogger(__name__)


def public_url(req: Request, public_base_url: str) -> str:
    """The URL Twilio signed: the configured public origin plus the path and query it hit.

    Host, scheme and port of the request itself are ignored: behind a proxy they are the
    proxy's internal ones, never what Twilio saw.
    """
    query = req.query_string.decode("latin-1")
    return f"{public_base_url}{req.path}" + (f"?{query}" if query else "")


def is_signed(req: Request, auth_token: str, public_base_url: str) -> bool:
    """True when the request carries a valid X-Twilio-Signature for its public URL and form."""
    signature = req.headers.get("X-Twilio-Signature", "")
    if not signature:
        return False

    algorithm = get_signature_algorithm(req.headers.get("X-Twilio-Webhooks-Signature-Settings"))
    validator = RequestValidator(auth_token)
    return validator.validate(public_url(req, public_base_url), req.form, signature, algorithm)


def twilio_signed(view: Callable[..., Any]) -> Callable[..., Any]:
    """Refuse (403, nothing written) a request that Twilio did not sign."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        settings = current_app.extensions["hotline"].settings
        if not is_signed(request, settings.twilio_auth_token, settings.public_base_url):
            logger.warning("refused unsigned request path=%s", request.path)
            abort(403)
        return view(*args, **kwargs)

    return wrapper
