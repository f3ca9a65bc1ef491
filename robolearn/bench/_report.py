"""Figures from a load run, and the tables that print them."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import attrs

from ._load import LoadResult, VerifyResult, percentile

__all__ = ["RunStats", "format_table", "summarise"]


@attrs.frozen(kw_only=True)
class RunStats:
    """One load run against one server."""

    server: str
    concurrency: int
    threads: int
    messages: int
    pipeline: int
    wall_s: float
    ok: int
    errors: int
    http_errors: int
    error_events: int
    transport_errors: int
    events: int
    msgs_per_s: float
    events_per_s: float
    ttfe_ms: dict[str, float]
    stream_ms: dict[str, float]
    server_cpu_s: float
    server_cpu_ms_per_msg: float
    client_cpu_s: float
    rss_start_mib: float
    rss_peak_mib: float
    rss_end_mib: float
    verify: dict[str, int] | None = None

    def as_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


def _pcts(values: list[float]) -> dict[str, float]:
    return {f"p{q}": round(percentile(values, q) * 1000, 2) for q in (50, 95, 99)} | {
        "max": round(max(values, default=math.nan) * 1000, 2)
    }


def summarise(
    server: str,
    result: LoadResult,
    *,
    server_cpu_s: float,
    client_cpu_s: float,
    rss: Sequence[int],
    verified: VerifyResult | None = None,
) -> RunStats:
    messages = result.messages
    ok = [m for m in messages if m.ok]
    errors = [m for m in messages if not m.ok]
    wall = result.wall
    mib = 2**20
    return RunStats(
        server=server,
        concurrency=result.plan.concurrency,
        threads=result.plan.threads,
        messages=len(messages),
        pipeline=result.plan.pipeline,
        wall_s=round(wall, 3),
        ok=len(ok),
        errors=len(errors),
        http_errors=sum(1 for m in errors if m.status not in (0, 200)),
        error_events=sum(1 for m in errors if (m.error or "").startswith("error event")),
        transport_errors=sum(1 for m in errors if (m.error or "").startswith("transport")),
        events=sum(m.events for m in messages),
        msgs_per_s=round(len(ok) / wall, 2) if wall else 0.0,
        events_per_s=round(sum(m.events for m in messages) / wall, 1) if wall else 0.0,
        ttfe_ms=_pcts([m.ttfe for m in messages if m.ttfe is not None]),
        stream_ms=_pcts([m.total for m in ok if m.total is not None]),
        server_cpu_s=round(server_cpu_s, 3),
        server_cpu_ms_per_msg=round(server_cpu_s * 1000 / max(1, len(messages)), 3),
        client_cpu_s=round(client_cpu_s, 3),
        rss_start_mib=round(rss[0] / mib, 1) if rss else 0.0,
        rss_peak_mib=round(max(rss) / mib, 1) if rss else 0.0,
        rss_end_mib=round(rss[-1] / mib, 1) if rss else 0.0,
        verify=verified.as_dict() if verified is not None else None,
    )


def format_table(rows: Sequence[Sequence[object]], header: Sequence[str]) -> str:
    """A plain fixed-width table."""
    cells = [[str(c) for c in header], *[[_cell(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _cell(value: object) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        return f"{value:.2f}" if abs(value) < 100 else f"{value:.0f}"
    return str(value)
