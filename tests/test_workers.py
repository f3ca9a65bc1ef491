"""The worker supervisor of ``robolearn serve --workers``, with stand-in worker processes.

A stand-in worker is a few lines of Python that behave as a worker does towards its
supervisor: it checks it inherited the listening socket, says ``ready`` on its control
socket, and exits on SIGTERM or when the supervisor is gone; or it crashes before or after
it says so, or ignores SIGTERM. The real workers are in ``tests/chaos/test_workers.py``.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
from collections.abc import Callable, Iterable, Iterator

import attrs
import psutil
import pytest
import trio
from hypercorn.config import Sockets

from robolearn.config import Settings
from robolearn.store import Backoff
from robolearn.workers import (
    READY,
    RestartPolicy,
    WorkerSpec,
    WorkerStatistics,
    WorkerSupervisor,
    serve_workers,
)
from tests.http.conftest import wait_until

_STAND_IN = f"""
import json, signal, socket, sys, time
spec, mode = json.loads(sys.argv[1]), sys.argv[2]
if mode in ("crash", "misconfigured"):
    sys.exit(3 if mode == "crash" else 2)
socket.socket(fileno=spec["http"][0]).getsockname()  # inherited, or this raises
def drain(*_):  # as hypercorn does: stop listening, finish what runs, exit
    socket.socket(fileno=spec["http"][0]).close()
    time.sleep(30)
    sys.exit(0)
stop = {{"deaf": signal.SIG_IGN, "drain": drain}}.get(mode, lambda *_: sys.exit(0))
signal.signal(signal.SIGTERM, stop)
control = socket.socket(fileno=spec["control"])
control.sendall({READY!r})
if mode == "flaky":
    sys.exit(3)
control.recv(1)  # the end of the stream: the supervisor is gone
"""

# Restarts within a test's time: 20 ms, 40 ms, 80 ms ...
_QUICK = RestartPolicy(backoff=Backoff(initial=0.02, factor=2.0, maximum=0.2, reset_after=30.0))


def _stand_in(mode: str) -> Callable[[WorkerSpec], list[str]]:
    """The command line of a stand-in worker: ``serve``, ``crash`` (before it serves),
    ``misconfigured`` (exits 2 before it serves), ``flaky`` (crash once it serves),
    ``deaf`` (to SIGTERM) or ``drain`` (stops listening on SIGTERM, exits 30 s later)."""
    return lambda spec: [sys.executable, "-c", _STAND_IN, spec.encode(), mode]


@pytest.fixture
def sockets() -> Iterator[Sockets]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    yield Sockets(secure_sockets=[], insecure_sockets=[sock], quic_sockets=[])
    sock.close()


def _supervisor(
    sockets: Sockets,
    mode: str = "serve",
    *,
    workers: int = 2,
    policy: RestartPolicy = _QUICK,
    stop_timeout: float = 30.0,
) -> WorkerSupervisor:
    return WorkerSupervisor(
        _stand_in(mode), sockets, workers, policy=policy, stop_timeout=stop_timeout
    )


def _all_ready(stats: WorkerStatistics) -> bool:
    return stats.ready == stats.workers


def _gone(pids: Iterable[int]) -> bool:
    return not any(psutil.pid_exists(pid) for pid in pids)


async def test_workers_start_say_ready_and_stop_on_request(sockets: Sockets) -> None:
    supervisor = _supervisor(sockets)
    async with trio.open_nursery() as nursery:
        outcome: list[bool] = []
        nursery.start_soon(lambda: _run(supervisor, outcome))
        with trio.fail_after(30):
            await supervisor.wait_until(_all_ready)
        pids = dict(supervisor.statistics().pids)
        assert sorted(pids) == ["worker-1", "worker-2"]
        supervisor.stop()
    assert outcome == [True]
    stats = supervisor.statistics()
    assert (stats.pids, stats.ready, stats.restarts, stats.gave_up) == ({}, 0, 0, False)
    assert _gone(pids.values())


async def test_once_stopped_new_connections_are_refused_while_the_workers_drain(
    sockets: Sockets,
) -> None:
    address = sockets.insecure_sockets[0].getsockname()
    supervisor = _supervisor(sockets, "drain", workers=1, stop_timeout=0.5)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(lambda: _run(supervisor, []))
        with trio.fail_after(30):
            await supervisor.wait_until(_all_ready)
        (pid,) = supervisor.statistics().pids.values()
        supervisor.stop()
        # The worker closes its listener when it gets SIGTERM, and keeps running.
        await wait_until(lambda: not psutil.Process(pid).net_connections(kind="tcp"))
        assert psutil.pid_exists(pid)
        try:
            stream = await trio.open_tcp_stream(*address)
        except OSError:
            pass  # refused
        else:
            await stream.aclose()
            pytest.fail("a connection was queued for nobody to accept")


async def test_a_killed_worker_is_restarted_under_its_name(sockets: Sockets) -> None:
    supervisor = _supervisor(sockets)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(supervisor.run, os.environ)
        with trio.fail_after(30):
            await supervisor.wait_until(_all_ready)
            victim = supervisor.statistics().pids["worker-1"]
            os.kill(victim, signal.SIGKILL)
            await supervisor.wait_until(lambda s: s.restarts == 1 and _all_ready(s))
        stats = supervisor.statistics()
        assert stats.pids["worker-1"] != victim
        assert not psutil.pid_exists(victim)
        supervisor.stop()


async def test_a_crash_loop_makes_the_supervisor_give_up(
    sockets: Sockets, caplog: pytest.LogCaptureFixture
) -> None:
    policy = attrs.evolve(_QUICK, intensity=3)
    supervisor = _supervisor(sockets, "flaky", workers=1, policy=policy)
    with trio.fail_after(30):
        assert await supervisor.run(os.environ) is False
    stats = supervisor.statistics()
    assert (stats.restarts, stats.gave_up, stats.pids) == (3, True, {})
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert (
        errors[0].startswith("worker-1 (pid ") and "exited with status 3; restarting" in errors[0]
    )
    assert "more than 3 restarts within 60 s, giving up" in errors[-1]


async def test_a_worker_that_never_serves_is_given_up_on_however_slowly_it_fails(
    sockets: Sockets, caplog: pytest.LogCaptureFixture
) -> None:
    # No window is short enough to hold two deaths: only the failed starts in a row count.
    policy = attrs.evolve(_QUICK, intensity=2, period=0.0)
    supervisor = _supervisor(sockets, "crash", workers=1, policy=policy)
    with trio.fail_after(30):
        assert await supervisor.run(os.environ) is False
    assert supervisor.statistics().restarts == 2
    assert "died before it served 3 times in a row, giving up" in caplog.text


async def test_a_worker_with_a_configuration_error_is_given_up_on_at_once(
    sockets: Sockets, caplog: pytest.LogCaptureFixture
) -> None:
    supervisor = _supervisor(sockets, "misconfigured", workers=2, policy=_QUICK)
    with trio.fail_after(30):
        assert await supervisor.run(os.environ) is False
    stats = supervisor.statistics()
    assert (stats.restarts, stats.gave_up, stats.configuration_error) == (0, True, True)
    assert "a configuration error (see its log); no restart mends that" in caplog.text


async def test_a_worker_deaf_to_sigterm_is_killed_after_the_stop_timeout(
    sockets: Sockets, caplog: pytest.LogCaptureFixture
) -> None:
    supervisor = _supervisor(sockets, "deaf", stop_timeout=0.5)
    async with trio.open_nursery() as nursery:
        outcome: list[bool] = []
        nursery.start_soon(lambda: _run(supervisor, outcome))
        with trio.fail_after(30):
            await supervisor.wait_until(_all_ready)
        pids = supervisor.statistics().pids.values()
        supervisor.stop()
        stopped = trio.current_time()
    assert outcome == [True]
    assert trio.current_time() - stopped >= 0.5
    assert _gone(pids)
    assert "still running 0.5 s after SIGTERM: killing it" in caplog.text


async def test_a_worker_that_cannot_be_spawned_counts_as_a_crash(sockets: Sockets) -> None:
    supervisor = WorkerSupervisor(
        lambda spec: ["/nonexistent/python"], sockets, 1, policy=attrs.evolve(_QUICK, intensity=1)
    )
    with trio.fail_after(30):
        assert await supervisor.run(os.environ) is False


def test_a_worker_spec_survives_its_command_line() -> None:
    spec = WorkerSpec("worker-3", 9, http=(5, 6), https=(7,))
    assert WorkerSpec.decode(spec.encode()) == spec
    assert spec.fds == (9, 5, 6, 7)
    for text in ("", "{}", '{"name": "w", "control": "x", "http": [], "https": []}'):
        with pytest.raises(ValueError, match="not a worker spec"):
            WorkerSpec.decode(text)


async def test_serve_workers_exits_1_when_its_workers_crash_loop(database_url: str) -> None:
    settings = attrs.evolve(Settings.from_env({}), database_url=database_url, port=0)
    with trio.fail_after(60):
        status = await serve_workers(
            settings,
            2,
            policy=attrs.evolve(_QUICK, intensity=2),
            command=_stand_in("crash"),
        )
    assert status == 1


async def test_serve_workers_exits_2_when_a_worker_is_misconfigured(database_url: str) -> None:
    settings = attrs.evolve(Settings.from_env({}), database_url=database_url, port=0)
    with trio.fail_after(60):
        status = await serve_workers(settings, 2, command=_stand_in("misconfigured"))
    assert status == 2


async def _run(supervisor: WorkerSupervisor, outcome: list[bool]) -> None:
    outcome.append(await supervisor.run(os.environ))
