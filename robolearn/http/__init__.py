"""HTTP front end on Hypercorn: `/chatkit` on plain ASGI, every other route on Quart-trio."""

from robolearn._patches import BurstListener, serve_app

from ._app import create_app

__all__ = ["BurstListener", "create_app", "serve_app"]
