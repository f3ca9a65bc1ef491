"""Raw HTTP/1.1 over TCP, for the tests of connection deadlines: what a slow client does and
when the server lets it go."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

import attrs
import trio

from robolearn.chat import ScriptedTokensModel
from robolearn.config import Settings
from robolearn.http import create_app, serve_app
from robolearn.serve import hypercorn_config
from robolearn.services import Services, open_services


@attrs.frozen
class Server:
    host: str
    port: int
    services: Services
    _opened: list[trio.SocketStream] = attrs.field(factory=list)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def connect(self) -> trio.SocketStream:
        """A new connection, closed (if the server has not) when `serving` ends."""
        stream = await trio.open_tcp_stream(self.host, self.port)
        self._opened.append(stream)
        return stream

    async def close_connections(self) -> None:
        for stream in self._opened:
            await trio.aclose_forcefully(stream)


@asynccontextmanager
async def serving(database_url: str, data_dir: Path, **deadlines: Any) -> AsyncIterator[Server]:
    """The app on a loopback port, with ``deadlines`` (Settings fields) as `serve` sets them."""
    settings = Settings(database_url=database_url, data_dir=data_dir, auth="dev", **deadlines)
    config = hypercorn_config("127.0.0.1:0")
    config.accesslog = None
    config.keep_alive_timeout = settings.keep_alive_timeout
    model = ScriptedTokensModel(tokens=4, delay=0)
    async with open_services(settings, model=model) as services, trio.open_nursery() as nursery:
        serve = partial(
            serve_app,
            create_app(services),
            config,
            shutdown_trigger=trio.sleep_forever,
            header_timeout=settings.header_timeout,
        )
        urls = await nursery.start(serve)
        host, port = urls[0].removeprefix("http://").rsplit(":", 1)
        server = Server(host, int(port), services)
        try:
            yield server
        finally:
            await server.close_connections()
            nursery.cancel_scope.cancel()


def head(method: str, path: str, *, user: str | None = "alice", length: int | None = None) -> bytes:
    """A request head; ``user`` None sends no credentials."""
    lines = [f"{method} {path} HTTP/1.1", "Host: test"]
    if user is not None:
        lines.append(f"X-User-ID: {user}")
    if length is not None:
        lines.append(f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def chatkit_request(type_: str = "threads.list", **params: Any) -> bytes:
    body = json.dumps({"type": type_, "params": params}).encode()
    return head("POST", "/chatkit", length=len(body)) + body


async def read_response(stream: trio.SocketStream) -> tuple[int, bytes]:
    """One response with a Content-Length body: its status and body."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = await stream.receive_some()
        assert chunk, f"closed before a whole head: {data!r}"
        data += chunk
    raw_head, _, body = data.partition(b"\r\n\r\n")
    lines = raw_head.decode("latin-1").split("\r\n")
    fields = dict(line.lower().split(": ", 1) for line in lines[1:])
    while len(body) < int(fields["content-length"]):
        chunk = await stream.receive_some()
        assert chunk, "closed before the whole body"
        body += chunk
    return int(lines[0].split()[1]), body


async def until_closed(stream: trio.SocketStream) -> bytes:
    """Everything the server sends until it closes the connection (a reset counts)."""
    data = b""
    while True:
        try:
            chunk = await stream.receive_some()
        except trio.BrokenResourceError:
            return data
        if not chunk:
            return data
        data += chunk


async def trickle(stream: trio.SocketStream, data: bytes, every: float) -> None:
    """Send ``data`` a byte at a time, ``every`` seconds apart, until sent or cut off."""
    try:
        for byte in data:
            await stream.send_all(bytes([byte]))
            await trio.sleep(every)
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        pass
