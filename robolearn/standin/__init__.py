"""A stand-in for an OpenAI-compatible model provider, in its own process, on loopback.

The product's tests and load benchmark point the ``openai`` SDK (and so ``openai-agents``)
at it exactly as at OpenAI, vLLM or Ollama, over real HTTP. Any ``Authorization: Bearer``
is accepted (and recorded). It answers deterministically:

- ``POST /v1/chat/completions`` and ``POST /v1/responses`` (streamed or not) answer
  ``answer to: <last user text>`` and then `` t1`` ... in ``tokens`` deltas paced
  ``delay_ms`` apart; with a tool result after the last user message, the first delta
  adds `` [tool said: <first 60 chars>]``. If the request offers a function tool named
  ``search`` and has no tool result yet, and the ``tool_calls`` policy agrees (default:
  the user text has the word "search"), the answer is a ``search`` call with
  ``{"query": "<user text>"}`` instead.
- ``GET /v1/models``; ``POST /v1/audio/transcriptions`` (says how many bytes it got).
- Anything else: 404 with OpenAI's error JSON.

Control API, JSON in and out (`StandIn` wraps it):

- ``POST /_standin/reset``: forget requests, answers and faults; back to the start config.
- ``GET|POST /_standin/config``: read or change ``tokens``, ``delay_ms``, ``tool_calls``
  (``never|always|marker``), ``usage`` (``requested|always``).
- ``POST /_standin/faults`` ``{"faults": [...]}``: a FIFO; each model request takes the
  next one: ``{"status": 429, "retry_after": 2}``, ``{"stall": s}``, ``{"cut_after": n}``,
  ``{"hang_after": n}`` (see `Status`, `Stall`, `CutAfter`, `HangAfter`).
- ``GET /_standin/requests`` and ``GET /_standin/streams``: `RecordedRequest` and
  `StreamRecord` lists; request ``n`` and stream ``n`` are the same exchange.
- ``GET /_standin/requests/wait?count=K&timeout=S`` and
  ``GET /_standin/streams/{n}/wait?timeout=S``: long-polls (408 on timeout), so a test
  waits for an event instead of sleeping.

Run it with ``python -m robolearn.standin [--host H] [--port P] [--tokens N] [--delay-ms
MS] [--tool-calls POLICY] [--usage POLICY]``: it prints one line, ``standin listening on
http://H:PORT`` (``--port 0``, the default, picks a free port). From trio, `open_standin`
runs it as a child process and yields a `StandIn` handle; `connect_standin` makes a handle
for a server started elsewhere; `serve_standin` serves in the calling trio loop.
"""

from ._client import StandIn, StandInError, connect_standin, open_standin
from ._config import ConfigError, StandInConfig, ToolCallPolicy, UsagePolicy
from ._faults import CutAfter, Fault, FaultError, HangAfter, Stall, Status, fault_from_json
from ._records import Outcome, RecordedRequest, StreamRecord
from ._serve import serve_standin

__all__ = [
    "ConfigError",
    "CutAfter",
    "Fault",
    "FaultError",
    "HangAfter",
    "Outcome",
    "RecordedRequest",
    "Stall",
    "StandIn",
    "StandInConfig",
    "StandInError",
    "Status",
    "StreamRecord",
    "ToolCallPolicy",
    "UsagePolicy",
    "connect_standin",
    "fault_from_json",
    "open_standin",
    "serve_standin",
]
