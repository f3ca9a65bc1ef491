"""The HTTP fixtures (a real server on loopback) for tutor conversation tests."""

from tests.http.conftest import alice, http, model, services, settings

__all__ = ["alice", "http", "model", "services", "settings"]
