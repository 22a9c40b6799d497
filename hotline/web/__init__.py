"""HTTP entry points: Twilio webhooks and the health check."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register every blueprint on `app`."""
    from hotline.web.health import blueprint as health
    from hotline.web.twilio import blueprint as twilio

    app.register_blueprint(twilio)
    app.register_blueprint(health)
