"""WSGI entry point of the web app, for gunicorn: `gunicorn wsgi:app`."""

from hotline import create_app
from hotline.logs import configure_logging

configure_logging()

app = create_app()
