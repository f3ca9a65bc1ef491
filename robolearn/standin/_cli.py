"""``python -m robolearn.standin``: run the stand-in model server in the foreground.

Its stdout carries exactly one line, ``standin listening on http://HOST:PORT``, so a parent
that passed ``--port 0`` learns the port. Right after that line, file descriptor 1 is
pointed at stderr: whatever else is written later (a stray print, a library) goes there,
and a parent that stops reading the pipe can neither block the server nor break it.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from functools import partial

import trio

from ._config import TOOL_CALL_POLICIES, USAGE_POLICIES, ConfigError, StandInConfig
from ._serve import serve_standin

__all__ = ["LISTENING_PREFIX", "main"]

LISTENING_PREFIX = "standin listening on "


def parser() -> argparse.ArgumentParser:
    defaults = StandInConfig()
    parser = argparse.ArgumentParser(
        prog="python -m robolearn.standin",
        description=(
            "An OpenAI-compatible model stand-in (chat completions, responses, models, "
            "transcriptions) with a control API under /_standin/ for tests and benchmarks."
        ),
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument(
        "--port", type=int, default=0, help="port (0: any free one; the listening line says)"
    )
    parser.add_argument("--tokens", type=int, default=defaults.tokens, help="deltas per answer")
    parser.add_argument(
        "--delay-ms", type=float, default=defaults.delay_ms, help="milliseconds between deltas"
    )
    parser.add_argument(
        "--tool-calls",
        choices=TOOL_CALL_POLICIES,
        default=defaults.tool_calls,
        help="when to call the search tool (marker: when the user text says 'search')",
    )
    parser.add_argument(
        "--usage",
        choices=USAGE_POLICIES,
        default=defaults.usage,
        help="send the chat-completions usage chunk when requested, or always",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        config = StandInConfig(
            tokens=args.tokens,
            delay_ms=args.delay_ms,
            tool_calls=args.tool_calls,
            usage=args.usage,
        )
    except ConfigError as exc:
        parser().error(str(exc))
    trio.run(partial(_serve_and_announce, config, args.host, args.port))
    return 0


async def _serve_and_announce(config: StandInConfig, host: str, port: int) -> None:
    async with trio.open_nursery() as nursery:
        url = await nursery.start(serve_standin, config, host, port)
        print(f"{LISTENING_PREFIX}{url}", flush=True)
        sys.stdout = sys.stderr
        os.dup2(2, 1)
