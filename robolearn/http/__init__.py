"""HTTP front end: a Quart-trio app served by Hypercorn."""

from ._app import create_app
from ._listener import BurstListener, serve_app

__all__ = ["BurstListener", "create_app", "serve_app"]
