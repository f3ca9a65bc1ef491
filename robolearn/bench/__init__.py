"""Load generation and fault injection against real server processes.

``robolearn bench`` (see :mod:`robolearn.bench._cli`) drives a ChatKit server with N threads x
M messages and reports throughput, time to first event, stream time, errors and server RSS;
``--compare`` runs the same load against a FastAPI + uvicorn baseline
(``benchmarks/baseline/``). The chaos suite (``tests/chaos``) reuses the process helpers and
the client here.
"""

from ._cli import main
from ._load import (
    LoadPlan,
    LoadResult,
    MessageResult,
    SseParser,
    VerifyResult,
    chatkit_body,
    check_thread,
    item_text,
    list_items,
    run_load,
    stream_message,
    user_input,
    verify,
)
from ._process import (
    ServerProcess,
    baseline_server,
    free_port,
    pg_ctl,
    robolearn_server,
    stop_embedded_postgres,
)

__all__ = [
    "LoadPlan",
    "LoadResult",
    "MessageResult",
    "ServerProcess",
    "SseParser",
    "VerifyResult",
    "baseline_server",
    "chatkit_body",
    "check_thread",
    "free_port",
    "item_text",
    "list_items",
    "main",
    "pg_ctl",
    "robolearn_server",
    "run_load",
    "stop_embedded_postgres",
    "stream_message",
    "user_input",
    "verify",
]
