"""Serve the stand-in with Hypercorn's trio worker."""

from __future__ import annotations

import signal
import threading
from functools import partial

import trio
from hypercorn.config import Config
from hypercorn.trio import serve

from ._app import StandInApp
from ._config import StandInConfig
from ._ledger import Ledger

__all__ = ["serve_standin"]

# A load benchmark opens hundreds of connections at once; Hypercorn's default backlog (100)
# would drop SYNs of a burst, and the client would retry only after a second.
_BACKLOG = 4096
# Seconds running answers get after SIGTERM/SIGINT before they are cancelled. Hung answers
# never finish by themselves, so keep this short: a test's teardown waits for it.
_GRACE = 0.5


def _hypercorn_config(host: str, port: int) -> Config:
    config = Config()
    config.bind = [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"]
    config.backlog = _BACKLOG
    config.graceful_timeout = _GRACE
    config.accesslog = None
    config.errorlog = "-"  # stderr: stdout is for the CLI's listening line
    config.loglevel = "WARNING"
    return config


async def serve_standin(
    config: StandInConfig,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve a stand-in until cancelled, or SIGTERM or SIGINT in the main thread (then
    running answers get a short grace).

    Start it with ``url = await nursery.start(serve_standin, config)``: ``url`` is
    ``http://HOST:PORT`` once the socket listens (the chosen port when ``port`` is 0).
    """
    app = StandInApp(Ledger(config))
    async with trio.open_nursery() as nursery:
        binds: list[str] = await nursery.start(
            partial(serve, app, _hypercorn_config(host, port), shutdown_trigger=_terminated)
        )
        task_status.started(binds[0])


async def _terminated() -> None:
    if threading.current_thread() is not threading.main_thread():
        await trio.sleep_forever()  # signals reach only the main thread: cancel to stop
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async for _ in signals:
            return
