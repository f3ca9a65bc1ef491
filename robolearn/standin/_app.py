"""The stand-in's ASGI app: the OpenAI routes under ``/v1`` and the control API.

Routes are a plain table on (method, path); each handler reads what it needs and either
answers or raises `HttpError`, which is rendered here, once, in OpenAI's error shape.
"""

from __future__ import annotations

import math
import re
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

import trio
from hypercorn.typing import ASGIReceiveCallable, ASGISendCallable, HTTPScope, Scope

from ._answer import Api, decide
from ._chat import chat_script
from ._config import ConfigError, StandInConfig
from ._faults import FaultError, fault_from_json
from ._frames import Script
from ._http import ClientGone, HttpError, header, read_body, read_json, send_json
from ._ledger import Ledger
from ._multipart import MultipartError, file_part
from ._player import play
from ._responses import responses_script

__all__ = ["StandInApp"]

Handler = Callable[[HTTPScope, ASGIReceiveCallable, ASGISendCallable], Awaitable[None]]

MODELS = {
    "object": "list",
    "data": [{"id": "standin", "object": "model", "created": 0, "owned_by": "robolearn"}],
}
_STREAM_WAIT = re.compile(r"/_standin/streams/(\d+)/wait")
_DEFAULT_WAIT = 10.0


class StandInApp:
    """An OpenAI-compatible model provider that answers deterministically from `Ledger`."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self._routes: dict[tuple[str, str], Handler] = {
            ("GET", "/v1/models"): self._models,
            ("POST", "/v1/chat/completions"): self._chat,
            ("POST", "/v1/responses"): self._responses,
            ("POST", "/v1/audio/transcriptions"): self._transcription,
            ("POST", "/_standin/reset"): self._reset,
            ("GET", "/_standin/config"): self._config,
            ("POST", "/_standin/config"): self._config,
            ("POST", "/_standin/faults"): self._faults,
            ("GET", "/_standin/requests"): self._requests,
            ("GET", "/_standin/requests/wait"): self._wait_requests,
            ("GET", "/_standin/streams"): self._streams,
        }

    async def __call__(
        self, scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return  # no websockets: Hypercorn closes the connection
        try:
            await self._route(scope)(scope, receive, send)
        except ClientGone:
            pass
        except HttpError as error:
            await send_json(send, error.status, error.body(), error.headers())

    def _route(self, scope: HTTPScope) -> Handler:
        path = scope["path"]
        handler = self._routes.get((scope["method"], path))
        if handler is not None:
            return handler
        if scope["method"] == "GET" and _STREAM_WAIT.fullmatch(path):
            return self._wait_stream
        raise HttpError(404, f"no route for {scope['method']} {path}", "not_found")

    # --- OpenAI API -------------------------------------------------------------------------

    async def _models(
        self, scope: HTTPScope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        await send_json(send, 200, MODELS)

    async def _chat(
        self, scope: HTTPScope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        await self._answer("chat", scope, receive, send)

    async def _responses(
        self, scope: HTTPScope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        await self._answer("responses", scope, receive, send)

    async def _answer(
        self, api: Api, scope: HTTPScope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        body, size = await read_json(receive)
        authorization = header(scope, b"authorization")
        exchange, fault, config = self.ledger.record(
            scope["path"], authorization, body, stream=body.get("stream") is True
        )
        try:
            script = _script(api, body, exchange.tag, size, config)
        except BaseException:
            self.ledger.finish(exchange, "error")
            raise
        await play(
            script,
            fault,
            exchange=exchange,
            ledger=self.ledger,
            delay=config.delay,
            receive=receive,
            send=send,
        )

    async def _transcription(
        self, scope: HTTPScope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        body = await read_body(receive)
        try:
            part = file_part(header(scope, b"content-type") or "", body)
        except MultipartError as exc:
            raise HttpError(400, str(exc), "invalid_multipart") from exc
        text = f"transcribed {part.size} bytes of {part.content_type}"
        await send_json(send, 200, {"text": text})

    # --- control API --------------------------------------------------------------------------

    async def _reset(
        self, scope: HTTPScope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        await read_body(receive)
        self.ledger.reset()
        await send_json(send, 200, {"config": self.ledger.config.to_json()})

    async def _config(
        self, scope: HTTPScope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        if scope["method"] == "POST":
            changes, _ = await read_json(receive)
            try:
                self.ledger.config = self.ledger.config.updated(changes)
            except ConfigError as exc:
                raise HttpError(400, str(exc), "invalid_config") from exc
        await send_json(send, 200, {"config": self.ledger.config.to_json()})

    async def _faults(
        self, scope: HTTPScope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        doc, _ = await read_json(receive)
        raw = doc.get("faults")
        if not isinstance(raw, list):
            raise HttpError(400, 'expected {"faults": [ ... ]}', "invalid_faults")
        try:
            faults = [fault_from_json(item) for item in raw]
        except FaultError as exc:
            raise HttpError(400, str(exc), "invalid_faults") from exc
        queued = self.ledger.add_faults(faults)
        await send_json(send, 200, {"queued": queued})

    async def _requests(
        self, scope: HTTPScope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        await send_json(send, 200, [request.to_json() for request in self.ledger.requests()])

    async def _streams(
        self, scope: HTTPScope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        await send_json(send, 200, [record.to_json() for record in self.ledger.streams()])

    async def _wait_requests(
        self, scope: HTTPScope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        query = _query(scope)
        count = _number(query, "count", 1.0)
        requests = None
        with trio.move_on_after(_number(query, "timeout", _DEFAULT_WAIT)):
            requests = await self.ledger.wait_requests(math.ceil(count))
        if requests is None:
            raise HttpError(408, f"fewer than {count:g} requests were recorded in time", "timeout")
        await send_json(send, 200, [request.to_json() for request in requests])

    async def _wait_stream(
        self, scope: HTTPScope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        match = _STREAM_WAIT.fullmatch(scope["path"])
        assert match is not None  # _route checked
        n = int(match.group(1))
        record = None
        with trio.move_on_after(_number(_query(scope), "timeout", _DEFAULT_WAIT)):
            record = await self.ledger.wait_ended(n)
        if record is None:
            raise HttpError(408, f"stream {n} did not end in time", "timeout")
        await send_json(send, 200, record.to_json())


def _script(api: Api, body: dict[str, Any], tag: str, size: int, config: StandInConfig) -> Script:
    answer = decide(api, body, config)
    # A deterministic stand-in for a tokenizer: about four bytes of request per token.
    prompt_tokens = max(1, size // 4)
    if api == "chat":
        always_usage = config.usage == "always"
        return chat_script(
            answer, body, tag=tag, prompt_tokens=prompt_tokens, always_usage=always_usage
        )
    return responses_script(answer, body, tag=tag, input_tokens=prompt_tokens)


def _query(scope: HTTPScope) -> dict[str, list[str]]:
    return parse_qs(scope["query_string"].decode("latin-1"))


def _number(query: dict[str, list[str]], name: str, default: float) -> float:
    values = query.get(name)
    if not values:
        return default
    try:
        value = float(values[0])
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise HttpError(400, f"{name} must be a number >= 0, got {values[0]!r}", "invalid_query")
    return value


async def _lifespan(receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
    # Nothing to start or stop: the ledger lives as long as the app object.
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
