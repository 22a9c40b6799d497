"""Laoshan community hotline: the telephone and SMS front end of one-stop pre-acceptance."""

from __future__ import annotations

import logging

from flask import Flask

from hotline.services import Services, install
from hotline.settings import Settings, load_settings

logger = logging.getLogger(__name__)

MAX_REQUEST_BYTES = 256 * 1024


def create_app(settings: Settings | None = None) -> Flask:
    """Build the web app: settings, services, blueprints and the CLI commands.

    `settings` defaults to the process environment. The app's services become the
    process's current services, which RQ jobs and CLI commands use.
    """
    settings = settings or load_settings()
    services = Services(settings)
    install(services)

    app = Flask(__name__)
    app.config["SECRET_KEY"] = settings.secret_key
    # Twilio's webhook bodies are a few kilobytes; refuse anything far larger unread.
    app.config["MAX_CONTENT_LENGTH"] = MAX_REQUEST_BYTES
    app.extensions["hotline"] = services

    # A broken flow file stops the app here, not on a resident's first call.
    from hotline.flows.conversations import resident_flow

    resident_flow()

    from hotline.web import init_app as init_web

    init_web(app)

    from hotline.cli import init_app as init_cli

    init_cli(app)

    @app.teardown_appcontext
    def _end_session(exc: BaseException | None) -> None:
        services.db.remove_scoped(exc)

    return app


def services_of(app: Flask) -> Services:
    """The services an app was built with."""
    return app.extensions["hotline"]
