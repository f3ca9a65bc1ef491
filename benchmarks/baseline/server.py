"""The conventional way, for comparison: FastAPI + uvicorn + a plain ``ChatKitServer`` subclass.

One asyncio process, no actors: every request runs inside its own HTTP handler, streams and
persists exactly as chatkit's ``process()`` does it. Same schema and migrations as robolearn
(``robolearn.store.apply_migrations``), the same deterministic model
(``robolearn.chat.ScriptedTokensModel``, configured by the same environment variables), the
same prompt shape (last 10 items of history) and the same fresh item ids.

With ``OPENAI_BASE_URL`` set (``robolearn bench --model standin``) its model is that
provider's, through the Agents SDK's Chat Completions model, with the conventional fix for
follow-ups: earlier replies are handed to the model as plain assistant text (chatkit's own
converter replays them in a shape the Chat Completions converter rejects).

Variants (``--variant``):
  stock    ``ChatKitServer.process()`` as shipped: it builds a pydantic ``TypeAdapter`` for
           every request (~3 ms of CPU).
  patched  the request parsed with one adapter built at startup, then chatkit's own
           streaming/non-streaming paths, so only the architecture differs from robolearn.

    python benchmarks/baseline/server.py --port 8791 --variant stock   # needs DATABASE_URL
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import types
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import aclosing, asynccontextmanager
from typing import Any, TypeVar, cast

_T = TypeVar("_T")


def _install_asyncio_only_bridge() -> None:
    """Stand in for ``robolearn._aio`` before anything imports it.

    The real module imports trio_asyncio, and importing trio_asyncio installs an event-loop
    policy under which even ``asyncio.run`` runs on a trio-backed loop: the baseline would
    silently not be plain asyncio. The model only needs ``sleep`` and ``loop_time``, the chat
    module ``new_queue`` (at import), the store helpers ``run_sync_in_thread`` (imported,
    never called here), the coalescing model ``stream_is_held`` and ``stream_released``.
    """

    async def run_sync_in_thread(fn: Callable[[], _T]) -> _T:
        return await asyncio.get_running_loop().run_in_executor(None, fn)

    def unavailable(*_args: object, **_kwargs: object) -> Any:
        raise RuntimeError("the baseline has no trio bridge")

    stub = types.ModuleType("robolearn._aio")
    stub.sleep = asyncio.sleep  # type: ignore[attr-defined]
    stub.loop_time = lambda: asyncio.get_running_loop().time()  # type: ignore[attr-defined]
    stub.new_queue = asyncio.Queue  # type: ignore[attr-defined]
    stub.run_sync_in_thread = run_sync_in_thread  # type: ignore[attr-defined]
    # No pump here: the coalescing model (imported with the chat package) merges nothing.
    stub.stream_is_held = lambda: False  # type: ignore[attr-defined]
    stub.stream_released = lambda: None  # type: ignore[attr-defined]
    for name in (
        "AioStream",
        "open_aio_stream",
        "open_asyncio_loop",
        "pending_asyncio_tasks",
        "run_aio",
        "run_aio_stream",
        "spawn",
        "wait_at_most",
    ):
        setattr(stub, name, unavailable)
    sys.modules["robolearn._aio"] = stub


_install_asyncio_only_bridge()

# ruff: noqa: E402  (the stub above must exist before these imports)
import psycopg
import uvicorn
from agents import Agent, RunConfig, Runner
from agents.items import TResponseInputItem
from agents.models.interface import Model
from agents.models.openai_chatcompletions import OpenAIChatCompletionsModel
from chatkit.agents import AgentContext, ThreadItemConverter, stream_agent_response
from chatkit.server import ChatKitServer, StreamingResult
from chatkit.types import (
    AssistantMessageItem,
    ChatKitReq,
    HiddenContextItem,
    SDKHiddenContextItem,
    ThreadMetadata,
    ThreadStreamEvent,
    UserMessageItem,
    UserMessageTextContent,
    is_streaming_req,
)
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from openai import AsyncOpenAI
from psycopg_pool import AsyncConnectionPool
from pydantic import TypeAdapter, ValidationError

from robolearn.chat._ids import with_fresh_item_ids
from robolearn.chat._text_model import ScriptedTokensModel
from robolearn.store import apply_migrations

try:  # run as a script (python benchmarks/baseline/server.py) or as a module
    from .store import AsyncPostgresStore, Context
except ImportError:
    from store import AsyncPostgresStore, Context  # type: ignore[no-redef,import-not-found]

assert "trio_asyncio" not in sys.modules, "the baseline must run on plain asyncio"

_HISTORY_LIMIT = 10
_REQUEST_ADAPTER = TypeAdapter[ChatKitReq](ChatKitReq)


class PlainTextHistory(ThreadItemConverter):
    """chatkit's converter with earlier replies as plain assistant text (the usual fix)."""

    async def assistant_message_to_input(self, item: AssistantMessageItem) -> TResponseInputItem:
        return {"role": "assistant", "content": "".join(part.text for part in item.content)}


class BaselineChatKitServer(ChatKitServer[Context]):
    """chatkit's server with the tutor's turn shape: history + new message → agent → stream."""

    def __init__(self, store: AsyncPostgresStore, model: Model) -> None:
        super().__init__(store)
        self._model = model
        self._converter = (
            ThreadItemConverter() if isinstance(model, ScriptedTokensModel) else PlainTextHistory()
        )

    async def respond(
        self, thread: ThreadMetadata, input_user_message: UserMessageItem | None, context: Context
    ) -> AsyncIterator[ThreadStreamEvent]:
        if thread.title is None and input_user_message is not None:
            thread.title = " ".join(
                p.text for p in input_user_message.content if isinstance(p, UserMessageTextContent)
            )[:60]
        page = await self.store.load_thread_items(
            thread.id, None, _HISTORY_LIMIT + 1, "desc", context
        )
        skip = input_user_message.id if input_user_message is not None else None
        history = [
            item
            for item in page.data
            if item.id != skip and not isinstance(item, HiddenContextItem | SDKHiddenContextItem)
        ][:_HISTORY_LIMIT]
        new = [input_user_message] if input_user_message is not None else []
        agent_input = await self._converter.to_agent_input([*reversed(history), *new])
        agent = Agent[AgentContext[Context]](
            name="RoboLearn Assistant", instructions="You are a tutor.", model=self._model
        )
        agent_context = AgentContext[Context](
            thread=thread, store=self.store, request_context=context
        )
        result = Runner.run_streamed(
            agent, agent_input, context=agent_context, run_config=RunConfig(tracing_disabled=True)
        )
        try:
            converted = cast(
                AsyncGenerator[ThreadStreamEvent, None],
                stream_agent_response(agent_context, result),
            )
            # Without fresh ids every scripted answer would overwrite the previous one.
            minted = with_fresh_item_ids(
                converted, lambda: self.store.generate_item_id("message", thread, context)
            )
            async with aclosing(converted), aclosing(minted):
                async for event in minted:
                    yield event
        finally:
            result.cancel()


def _model() -> Model:
    base_url = os.environ.get("OPENAI_BASE_URL")
    if base_url:
        client = AsyncOpenAI(base_url=base_url, api_key=os.environ.get("OPENAI_API_KEY") or "x")
        return OpenAIChatCompletionsModel(
            os.environ.get("ROBOLEARN_OPENAI_MODEL", "gpt-4.1-mini"), client
        )
    return ScriptedTokensModel(
        int(os.environ.get("ROBOLEARN_SCRIPTED_TOKENS", "50")),
        float(os.environ.get("ROBOLEARN_SCRIPTED_DELAY_MS", "5")) / 1000,
    )


def create_app(database_url: str, variant: str) -> FastAPI:
    model = _model()
    pool_max = int(os.environ.get("ROBOLEARN_DB_POOL_MAX", "10"))
    state: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        with psycopg.connect(database_url, autocommit=False) as conn:
            apply_migrations(conn)
        pool = AsyncConnectionPool(database_url, min_size=2, max_size=pool_max, open=False)
        await pool.open(wait=True)
        state["server"] = BaselineChatKitServer(AsyncPostgresStore(pool), model)
        try:
            yield
        finally:
            await pool.close()

    app = FastAPI(lifespan=lifespan)

    @app.post("/chatkit")
    async def chatkit(request: Request) -> Response:
        user_id = request.headers.get("X-User-ID")
        if not user_id:
            return JSONResponse({"error": "send X-User-ID"}, status_code=401)
        server: BaselineChatKitServer = state["server"]
        body = await request.body()
        context: Context = {"user_id": user_id}
        try:
            if variant == "stock":
                result = await server.process(body, context)
                if isinstance(result, StreamingResult):
                    return StreamingResponse(result, media_type="text/event-stream")
                return Response(result.json, media_type="application/json")
            parsed = _REQUEST_ADAPTER.validate_json(body)
            if is_streaming_req(parsed):
                return StreamingResponse(
                    server._process_streaming(parsed, context), media_type="text/event-stream"
                )
            return Response(
                await server._process_non_streaming(parsed, context),
                media_type="application/json",
            )
        except ValidationError as exc:
            return JSONResponse({"error": str(exc)[:200]}, status_code=400)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz() -> dict[str, str]:
        return {"status": "ready"}

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description="FastAPI + uvicorn ChatKit baseline")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8791)
    parser.add_argument("--variant", choices=["stock", "patched"], default="stock")
    args = parser.parse_args()
    database_url = os.environ.get("DATABASE_URL")
    if not database_url:
        raise SystemExit("baseline: set DATABASE_URL")
    app = create_app(database_url, args.variant)
    # The stock deployment: one worker, default loop and HTTP implementations, no access log
    # (robolearn's benchmark server logs at WARNING too).
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
