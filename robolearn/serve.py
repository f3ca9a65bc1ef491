"""Run the server: services, app and Hypercorn under one trio nursery."""

from __future__ import annotations

import gc
import logging
import signal

import trio
from hypercorn.config import Sockets

from robolearn._hypercorn import drain_seconds, hypercorn_config
from robolearn._memory import tune_malloc
from robolearn._patches import install as install_patches
from robolearn.config import Settings
from robolearn.http import create_app, serve_app
from robolearn.services import Services, open_services

__all__ = ["hypercorn_config", "serve", "tune_gc_for_serving"]

_log = logging.getLogger("robolearn")

# (allocations before a young collection, young collections before a middle one, middle
# ones before a full one); Python's defaults are (700, 10, 10). See tune_gc_for_serving.
GC_THRESHOLDS = (50_000, 4, 10)


def tune_gc_for_serving() -> int:
    """Set the collector up for serving; returns how many startup objects were frozen.

    After startup the heap holds a few hundred thousand objects that live as long as the
    process (modules, pydantic schemas, the textbook index). Every full collection walked all
    of them: 200-300 ms pauses, each one a stall of every open stream. Frozen, they are never
    scanned again, and a full collection only walks what requests allocated.

    What is left to walk is mostly the state of the streams in flight, and it is alive: a
    collection every 700 allocations (Python's default) scans the same in-flight objects
    again and again and frees little, and promotes them, so the older generations walk them
    too. Collecting 70x less often frees about as much (turns are short; most of what they
    allocate is freed by reference counting anyway) for a fraction of the scanning. A middle
    collection still comes every 200,000 net allocations, as it did with (10_000, 20), so its
    pauses are no longer. Measured with the scripted model (50 tokens x 5 ms), collection time
    was 19% of the CPU at 100 streams and 44% at 500 with Python's defaults; 10-11% and 16%
    with (10_000, 20, 10); 4-5% and 7% with these. The longest pause stayed 250-330 ms.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    return gc.get_freeze_count()


async def serve(
    settings: Settings,
    *,
    process: str = "main",
    sockets: Sockets | None = None,
    stop: trio.Event | None = None,
    task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve until SIGINT/SIGTERM (or until ``stop`` is set), then shut down gracefully;
    reports bound URLs via task_status.

    ``process`` names this process in ``/metrics`` (``main`` unless it is one of the workers
    of ``robolearn serve --workers``); ``sockets`` are listening sockets inherited from the
    workers' supervisor, served instead of binding ``settings.host:port``.
    """
    settings.check_bind()
    for name, value in settings.describe().items():
        _log.info("setting %s=%s", name, value)
    # Before anything opens: a patched library that is not a verified version stops startup.
    patches = install_patches(settings)
    config = hypercorn_config(f"{settings.host}:{settings.port}")
    # In-flight answers get the grace period to finish after SIGTERM; then the actors cancel
    # whatever still runs (chatkit persists those answers as partial ones), and each stream
    # still open ends with an error event saying the server is restarting. Hypercorn cuts
    # what is left only after that, a moment later (drain_seconds).
    config.graceful_timeout = drain_seconds(settings)
    config.keep_alive_timeout = settings.keep_alive_timeout
    stop = trio.Event() if stop is None else stop
    async with (
        open_services(settings, process=process) as services,
        trio.open_nursery() as nursery,
    ):
        app = create_app(services)
        _log.info("froze %d startup objects", tune_gc_for_serving())
        if tune_malloc():
            _log.info("big allocations each get their own mapping (returned when freed)")
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:

            async def stop_on_signal() -> None:
                async for signum in signals:
                    _log.info("received %s, shutting down", signal.Signals(signum).name)
                    stop.set()
                    return

            async def shutdown_trigger() -> None:
                await stop.wait()
                # Running answers get the grace period; queued ones are told at once
                # (503 shutting_down) rather than started only to be cut.
                services.actors.stop_accepting()
                nursery.start_soon(_end_turns_after, settings.shutdown_grace, services)

            nursery.start_soon(stop_on_signal)
            await serve_app(
                app,
                config,
                shutdown_trigger=shutdown_trigger,
                header_timeout=settings.header_timeout,
                sockets=sockets,
                patches=patches,
                task_status=task_status,
            )
            nursery.cancel_scope.cancel()  # every stream ended within the grace period


async def _end_turns_after(grace: float, services: Services) -> None:
    await trio.sleep(grace)
    _log.info("grace period over: cancelling the answers still running")
    services.actors.shutdown_now()
