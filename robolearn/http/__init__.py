"""HTTP front end on Hypercorn: `/chatkit` on plain ASGI, every other route on Quart-trio."""

from ._app import create_app
from ._listener import BurstListener, serve_app

__all__ = ["BurstListener", "create_app", "serve_app"]
