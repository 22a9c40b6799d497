"""WSGI entry point of the web app, for gunicorn: `gunicorn wsgi:app`."""

from hotline import create_app

app = create_app()
