"""Hypercorn's configuration for robolearn: ``hypercorn.toml``, the bind, the drain period.

``robolearn/hypercorn.toml`` ships inside the package (read with importlib.resources), so an
installed wheel serves with the same hypercorn settings as the source tree.

Apart from `robolearn.serve`, which imports the whole app, so that the supervisor of
``robolearn serve --workers`` binds the sockets a single server would bind, the same way,
without loading an app it never runs.
"""

from __future__ import annotations

import logging
import tomllib
from importlib import resources
from pathlib import Path

from hypercorn.config import Config, Sockets
from hypercorn.utils import repr_socket_addr

from robolearn.config import Settings

__all__ = ["bound_urls", "drain_seconds", "hypercorn_config"]

_HYPERCORN_TOML = "hypercorn.toml"

# Seconds between the end of the grace period and hypercorn's hard cut: time for the
# cancelled turns to checkpoint their answers (bounded by their own timeouts) and for
# their streams' error events to go out.
_LAST_WORDS = 2.0


def hypercorn_config(bind: str, config_file: Path | None = None) -> Config:
    """Hypercorn settings from ``config_file`` (default: the package's ``hypercorn.toml``),
    bound to ``bind``."""
    if config_file is None:
        text = resources.files("robolearn").joinpath(_HYPERCORN_TOML).read_text("utf-8")
        config = Config.from_mapping(tomllib.loads(text))
    else:
        config = Config.from_toml(config_file)
    config.bind = [bind]
    # Through our handlers, so access and server logs are JSON lines like the rest. Hypercorn
    # builds each request's log fields before the logger looks at its level: with access
    # lines off (a level above INFO), it is given no access logger at all.
    access = logging.getLogger("hypercorn.access")
    config.accesslog = access if access.isEnabledFor(logging.INFO) else None
    config.errorlog = logging.getLogger("hypercorn.error")
    return config


def drain_seconds(settings: Settings) -> float:
    """Seconds from SIGTERM until the connections still open are cut: the grace period for
    in-flight answers, then the last words of those it cut short."""
    return settings.shutdown_grace + _LAST_WORDS


def bound_urls(sockets: Sockets) -> list[str]:
    """The URLs ``sockets`` are bound to, with their real ports (``--port 0``)."""
    return [
        f"{scheme}://{repr_socket_addr(sock.family, sock.getsockname())}"
        for scheme, group in (("https", sockets.secure_sockets), ("http", sockets.insecure_sockets))
        for sock in group
    ]
