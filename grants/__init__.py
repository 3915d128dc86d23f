"""Cascade: the Flask application that runs cascade-funding voucher programmes."""

from grants.app import create_app

__all__ = ["create_app"]
