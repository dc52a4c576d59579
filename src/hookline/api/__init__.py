"""The HTTP API."""

from hookline.api.app import create_app

__all__ = ["create_app"]
