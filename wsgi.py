"""WSGI entry point for production servers: `gunicorn wsgi:app`."""

from grants import create_app

app = create_app()
