"""Request bodies on every route: the pace they must keep, and what becomes of unread ones.

Hypercorn gives a request body no deadline: once its head is in, a request may send its body
a byte every few seconds and keep its connection, its task and what it sent so far for ever.
Here a body must keep a pace (`BodyPace`): ``grace`` seconds, plus one second for every
``min_rate`` bytes that arrived. Only the time the route spends waiting for the body counts,
not the time it spends on other work before it reads. A body that falls behind stops its
request: the route is cancelled, the client gets a 408 JSON answer and the connection is
closed. Once a route has begun its answer, the body has no pace to keep: hypercorn closes the
connection when the answer ends with the request unfinished.

A route may also answer without reading the body: a refusal on the headers alone (401, 413,
429). Hypercorn closes the connection once such an answer is out (the body is not drained),
but first puts ``http.disconnect`` into the request's queue, which holds
``max_app_queue_size`` messages: when the client had filled it, that put waited for ever, and
the answer's last write with it, so the connection and its task were held for good. So the
last message of an answer given before the body's end is sent while what else arrives of
the body meanwhile is read and dropped.
"""

from __future__ import annotations

import logging
from typing import NoReturn

import attrs
import trio
from hypercorn.typing import (
    ASGIFramework,
    ASGIReceiveCallable,
    ASGIReceiveEvent,
    ASGISendCallable,
    ASGISendEvent,
    HTTPScope,
)

from robolearn.config import Settings

from ._errors import HttpError
from ._exchange import HttpMiddleware, send_answer

__all__ = ["BodyGuard", "BodyPace"]

_log = logging.getLogger("robolearn.http")


@attrs.frozen
class BodyPace:
    """How slowly a request body may arrive: after ``grace`` seconds of waiting for it, at
    least ``min_rate`` bytes a second on average.

    A body of n bytes has ``grace + n / min_rate`` seconds in all; a client that sent part of
    it fast may pause for as long as it is ahead.
    """

    grace: float
    min_rate: float

    @classmethod
    def from_settings(cls, settings: Settings) -> BodyPace:
        return cls(grace=settings.body_timeout, min_rate=settings.min_body_rate)

    def allowance(self, received: int) -> float:
        """Seconds of waiting a body may have taken once ``received`` bytes of it are in."""
        return self.grace + received / self.min_rate


class BodyGuard(HttpMiddleware):
    """ASGI middleware: request bodies keep their `BodyPace`; an answer given before the body
    is in cannot be held up by it."""

    def __init__(self, app: ASGIFramework, pace: BodyPace) -> None:
        super().__init__(app)
        self._pace = pace

    async def http(
        self, scope: HTTPScope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        exchange = _Exchange(self._pace, receive, send)
        with exchange.cancel_scope:
            await self.app(scope, exchange.receive, exchange.send)
        if exchange.too_slow:
            await exchange.refuse()


@attrs.define
class _Exchange:
    """One request's body as it comes in, and its answer as it goes out."""

    pace: BodyPace
    _receive: ASGIReceiveCallable
    _send: ASGISendCallable
    cancel_scope: trio.CancelScope = attrs.field(factory=trio.CancelScope)
    received: int = 0
    waited: float = 0.0  # seconds spent waiting for the body
    complete: bool = False  # its last message is in
    disconnected: bool = False
    answering: bool = False  # the answer has begun
    too_slow: bool = False

    @property
    def unread(self) -> bool:
        """Part of the body may still be on its way."""
        return not (self.complete or self.disconnected)

    async def receive(self) -> ASGIReceiveEvent:
        if self.disconnected:  # taken while the end of an answer went out
            await trio.lowlevel.checkpoint()
            return {"type": "http.disconnect"}
        if not self.unread or self.answering:
            return self._note(await self._receive())
        began = trio.current_time()
        with trio.move_on_at(began + self.pace.allowance(self.received) - self.waited):
            try:
                return self._note(await self._receive())
            finally:
                self.waited += trio.current_time() - began
        await self._stop_too_slow()

    async def _stop_too_slow(self) -> NoReturn:
        self.too_slow = True
        self.cancel_scope.cancel()
        await trio.sleep_forever()  # cancelled at once

    def _note(self, message: ASGIReceiveEvent) -> ASGIReceiveEvent:
        if message["type"] == "http.request":
            self.received += len(message["body"])
            self.complete = not message["more_body"]
        elif message["type"] == "http.disconnect":
            self.disconnected = True
        return message

    async def send(self, message: ASGISendEvent) -> None:
        if message["type"] == "http.response.start":
            self.answering = True
        if self.unread and _ends_answer(message):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._drop_the_rest)
                await self._send(message)
                nursery.cancel_scope.cancel()
        else:
            await self._send(message)

    async def _drop_the_rest(self) -> None:
        while self.unread:
            self._note(await self._receive())

    async def refuse(self) -> None:
        """The answer to a body that fell behind its pace, if an answer can still be sent."""
        _log.info(
            "request body too slow: %d bytes in %.1f s, cut (%s)",
            self.received,
            self.waited,
            "connection closed" if self.answering else "answered 408",
        )
        if self.answering:  # begun in a shielded scope: it cannot be followed by ours
            return  # hypercorn closes the connection: the request is unfinished
        error = HttpError(
            408,
            "request_timeout",
            f"the request body arrived too slowly ({self.received} bytes in "
            f"{self.waited:.0f} s); send at least {self.pace.min_rate:.0f} bytes a second",
            headers={"Connection": "close"},
        )
        await send_answer(error.answer(), self.receive, self.send)


def _ends_answer(message: ASGISendEvent) -> bool:
    return message["type"] == "http.response.body" and not message.get("more_body", False)
