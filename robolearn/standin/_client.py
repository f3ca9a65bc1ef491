"""Run the stand-in as a child process from trio code, and drive it through its control API.

`open_standin` owns the process: it starts ``python -m robolearn.standin --port 0``, reads
the port from the listening line, and stops the process when the block ends (SIGTERM, then
SIGKILL after a short grace), also when the block is cancelled or raises.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import attrs
import httpx
import trio

from ._cli import LISTENING_PREFIX
from ._config import StandInConfig, ToolCallPolicy, UsagePolicy
from ._faults import Fault
from ._records import RecordedRequest, StreamRecord

__all__ = ["StandIn", "StandInError", "connect_standin", "open_standin"]

# Seconds the child gets to exit after SIGTERM before it is killed. Its own grace for
# running answers is shorter (see ``_serve``), so a kill means it was stuck.
_STOP_GRACE = 5.0
# Extra seconds an HTTP call to a long-poll endpoint may take beyond the wait itself.
_POLL_MARGIN = 5.0


class StandInError(RuntimeError):
    """The stand-in did not start, or refused a control request (the message says why)."""


@attrs.frozen
class StandIn:
    """A running stand-in: its URLs, and async calls to its control API.

    Attributes:
        base_url: what an OpenAI client takes as ``base_url`` (``http://127.0.0.1:PORT/v1``).
        root_url: the server root (``http://127.0.0.1:PORT``); the control API is under
            ``/_standin/``.
        pid: the child process id, or None for a server `connect_standin` found running.
    """

    base_url: str
    root_url: str
    pid: int | None
    _http: httpx.AsyncClient = attrs.field(repr=False)

    async def reset(self) -> None:
        """Forget recorded requests, answers and queued faults; restore the start config."""
        await self._call("POST", "/_standin/reset")

    async def configure(
        self,
        *,
        tokens: int | None = None,
        delay_ms: float | None = None,
        tool_calls: ToolCallPolicy | None = None,
        usage: UsagePolicy | None = None,
    ) -> StandInConfig:
        """Change how later requests are answered (until `reset`); returns the new config."""
        changes = {
            name: value
            for name, value in (
                ("tokens", tokens),
                ("delay_ms", delay_ms),
                ("tool_calls", tool_calls),
                ("usage", usage),
            )
            if value is not None
        }
        doc = await self._call("POST", "/_standin/config", json=changes)
        return StandInConfig(**doc["config"])

    async def inject(self, *faults: Fault | Mapping[str, Any]) -> None:
        """Queue faults; each later model request takes the next one (FIFO)."""
        payload = [f if isinstance(f, Mapping) else f.to_json() for f in faults]
        await self._call("POST", "/_standin/faults", json={"faults": payload})

    async def requests(self) -> list[RecordedRequest]:
        """The model requests recorded since the last reset, in arrival order."""
        docs = await self._call("GET", "/_standin/requests")
        return [RecordedRequest.from_json(doc) for doc in docs]

    async def streams(self) -> list[StreamRecord]:
        """How each recorded request's answer went (or is going)."""
        docs = await self._call("GET", "/_standin/streams")
        return [StreamRecord.from_json(doc) for doc in docs]

    # The timeouts below are the server's long-poll limit (it answers 408), not a local
    # deadline: the HTTP call is given a little longer, so the 408 is what the caller sees.
    async def wait_stream(self, n: int, timeout: float = 10.0) -> StreamRecord:  # noqa: ASYNC109
        """Wait until answer ``n`` has ended; raises `TimeoutError` after ``timeout`` s."""
        doc = await self._poll(f"/_standin/streams/{n}/wait", {"timeout": timeout}, timeout)
        return StreamRecord.from_json(doc)

    async def wait_requests(
        self,
        count: int,
        timeout: float = 10.0,  # noqa: ASYNC109
    ) -> list[RecordedRequest]:
        """Wait until at least ``count`` requests are recorded; returns all of them."""
        params = {"count": count, "timeout": timeout}
        docs = await self._poll("/_standin/requests/wait", params, timeout)
        return [RecordedRequest.from_json(doc) for doc in docs]

    async def _poll(self, path: str, params: Mapping[str, float], wait: float) -> Any:
        try:
            return await self._call("GET", path, params=params, http_timeout=wait + _POLL_MARGIN)
        except _Timeout as exc:
            raise TimeoutError(str(exc)) from None

    async def _call(self, method: str, path: str, http_timeout: float = 10.0, **kw: Any) -> Any:
        response = await self._http.request(method, path, timeout=http_timeout, **kw)
        if response.status_code == 408:
            raise _Timeout(_message(response))
        if response.is_error:
            raise StandInError(f"{method} {path}: {response.status_code} {_message(response)}")
        return response.json()


class _Timeout(Exception):
    pass


def _message(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return response.text[:200]


@asynccontextmanager
async def open_standin(
    *,
    tokens: int = 20,
    delay_ms: float = 5.0,
    tool_calls: ToolCallPolicy = "marker",
    usage: UsagePolicy = "requested",
    startup_timeout: float = 30.0,
) -> AsyncIterator[StandIn]:
    """Start a stand-in on 127.0.0.1 (a free port) in a child process; stop it on exit.

    The keyword arguments are its start config, which `StandIn.reset` returns to.
    """
    config = StandInConfig(tokens=tokens, delay_ms=delay_ms, tool_calls=tool_calls, usage=usage)
    argv = [
        sys.executable,
        "-m",
        "robolearn.standin",
        "--host=127.0.0.1",
        "--port=0",
        f"--tokens={config.tokens}",
        f"--delay-ms={config.delay_ms}",
        f"--tool-calls={config.tool_calls}",
        f"--usage={config.usage}",
    ]
    process = await trio.lowlevel.open_process(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE
    )
    try:
        assert process.stdout is not None
        root_url = None
        async with process.stdout:  # the child writes nothing to it after the first line
            with trio.move_on_after(startup_timeout):
                root_url = await _listening_url(process)
        if root_url is None:
            raise StandInError(f"the stand-in did not listen within {startup_timeout}s")
        async with connect_standin(root_url, pid=process.pid) as standin:
            yield standin
    finally:
        with trio.CancelScope(shield=True):
            await _stop(process)


@asynccontextmanager
async def connect_standin(root_url: str, *, pid: int | None = None) -> AsyncIterator[StandIn]:
    """A `StandIn` handle for a stand-in already listening at ``root_url``.

    For a server started elsewhere (the CLI, another thread's trio loop): the handle's HTTP
    client belongs to the calling trio loop and is closed when the block ends; the server
    is left running.
    """
    root_url = root_url.rstrip("/")
    # trust_env=False: proxy variables must never route loopback control calls elsewhere.
    async with httpx.AsyncClient(base_url=root_url, trust_env=False) as http:
        yield StandIn(f"{root_url}/v1", root_url, pid, http)


async def _listening_url(process: trio.Process) -> str:
    """Read the child's one stdout line (``standin listening on URL``) and return URL."""
    assert process.stdout is not None
    seen = b""
    while b"\n" not in seen:
        chunk = await process.stdout.receive_some()
        if not chunk:
            code = await process.wait()
            raise StandInError(
                f"the stand-in exited with status {code} before listening (its stderr says "
                f"why); stdout: {seen!r}"
            )
        seen += chunk
    line = seen.split(b"\n", 1)[0].decode()
    if not line.startswith(LISTENING_PREFIX):
        raise StandInError(f"unexpected first line from the stand-in: {line!r}")
    return line.removeprefix(LISTENING_PREFIX)


async def _stop(process: trio.Process) -> None:
    """SIGTERM, then SIGKILL if the child is still there after a grace; reap it either way."""
    if process.returncode is None:
        process.terminate()
        with trio.move_on_after(_STOP_GRACE):
            await process.wait()
    if process.returncode is None:
        process.kill()
    await process.wait()
