"""HTTP front end: a Quart-trio app served by Hypercorn."""

from ._app import create_app

__all__ = ["create_app"]
