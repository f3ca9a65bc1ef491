"""``robolearn bench``: drive a ChatKit server with load, or compare robolearn with the baseline.

Modes:

- ``robolearn bench --url URL [--server-pid PID]``: load an already running server.
- ``robolearn bench``: start robolearn itself (scripted model, its own embedded PostgreSQL in a
  temporary data dir) and load it.
- ``robolearn bench --compare``: start robolearn and the FastAPI + uvicorn baseline (stock
  ``ChatKitServer.process()`` and a variant that reuses one request parser) on one private
  PostgreSQL, then at each ``--levels`` concurrency run them in A B C C B A order and print
  throughput and latency ratios.
- ``robolearn bench --rss-threads N``: N threads with one message each, then the server's RSS
  once the thread actors have passivated (``--idle-timeout``).
- ``robolearn bench --soak``: 20 users x 10 turns, each turn with four 10 MB attachments;
  the server's RSS before, at the peak and after (it must come back).
- ``robolearn bench --housekeeping``: renames, votes and attachment deletes timed while their
  thread's answer streams, with ``--concurrency`` other streams running.

``--workers N`` (with any mode that starts robolearn, but ``--rss-threads``): robolearn runs as
``serve --workers N``; its CPU and RSS are those of the supervisor and the workers together.

``--model standin`` (with any mode that starts servers): the servers' model is a provider over
HTTP, the stand-in process (``robolearn.standin``), answering through the openai SDK as a real
provider would, instead of the in-process scripted model. ``--tokens``/``--delay-ms`` set its
answers either way.

Every run prints a table; ``--json out.json`` writes all figures.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import attrs
import httpx
import psycopg
import trio
from psycopg import sql

from robolearn.standin import open_standin
from robolearn.store import EmbeddedPostgres

from ._housekeeping import probe_housekeeping
from ._load import LoadPlan, run_load, verify
from ._process import ServerProcess, baseline_server, free_port, robolearn_server
from ._report import RunStats, format_table, summarise
from ._soak import SoakPlan, run_soak

__all__ = ["main"]

_ADMIN_TOKEN = "bench-admin"


@attrs.define
class Target:
    """A server under load: its URL and, when known, its process for CPU and RSS."""

    name: str
    base_url: str
    process: ServerProcess | None = None

    def rss(self) -> int:
        return self.process.rss() if self.process is not None else 0

    def cpu(self) -> float:
        return self.process.cpu_seconds() if self.process is not None else 0.0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="robolearn bench", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--url", help="load this running server instead of starting one")
    parser.add_argument("--server-pid", type=int, help="pid of --url's server, for CPU and RSS")
    parser.add_argument("--threads", type=int, default=100, help="threads (conversations)")
    parser.add_argument("--messages", type=int, default=5, help="messages per thread")
    parser.add_argument("--concurrency", type=int, default=100, help="threads active at once")
    parser.add_argument(
        "--pipeline", type=int, default=1, help="messages of one thread in flight at once"
    )
    parser.add_argument("--tokens", type=int, default=50, help="scripted answer length")
    parser.add_argument("--delay-ms", type=float, default=5.0, help="ms between scripted deltas")
    parser.add_argument("--verify", action="store_true", help="check the stored items afterwards")
    parser.add_argument("--compare", action="store_true", help="robolearn vs the baseline")
    parser.add_argument(
        "--levels", default="10,100,500", help="--compare: concurrent streams per level"
    )
    parser.add_argument(
        "--per-level-messages",
        type=int,
        default=600,
        help="--compare: about this many messages per run (at least 2 per thread)",
    )
    parser.add_argument(
        "--variants", default="stock,patched", help="--compare: baseline variants to run"
    )
    parser.add_argument("--rss-threads", type=int, help="RSS mode: this many one-message threads")
    parser.add_argument(
        "--idle-timeout", type=float, default=5.0, help="RSS mode: actor idle timeout (s)"
    )
    parser.add_argument(
        "--model",
        choices=["scripted", "standin"],
        default="scripted",
        help="the servers' model: in-process scripted, or the stand-in provider over HTTP",
    )
    parser.add_argument(
        "--housekeeping", action="store_true", help="time housekeeping beside running answers"
    )
    parser.add_argument(
        "--probes", type=int, default=200, help="--housekeeping: threads probed (10 at a time)"
    )
    parser.add_argument(
        "--soak", action="store_true", help="RSS before and after turns with big attachments"
    )
    parser.add_argument("--users", type=int, default=20, help="--soak: users at once")
    parser.add_argument("--turns", type=int, default=10, help="--soak: turns per user")
    parser.add_argument(
        "--attachment-mb", type=float, default=10.0, help="--soak: size of each attachment"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="start robolearn with `serve --workers N` (default 1: one process)",
    )
    parser.add_argument("--data-dir", type=Path, help="where started servers keep data and logs")
    parser.add_argument("--json", type=Path, help="write every figure to this JSON file")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error(f"--workers must be at least 1, got {args.workers}")
    if args.workers > 1 and args.url:
        parser.error("--workers is for the server the bench starts; --url names a running one")
    if args.workers > 1 and args.rss_threads:
        parser.error("--rss-threads reads one process's /admin/stats: use --workers 1")
    with tempfile.TemporaryDirectory(prefix="robolearn-bench-") as scratch:
        data_dir = args.data_dir or Path(scratch)
        if args.compare:
            report = trio.run(_with_model, _compare, args, data_dir)
        elif args.rss_threads:
            report = trio.run(_with_model, _rss, args, data_dir)
        elif args.soak:
            report = trio.run(_with_model, _soak, args, data_dir)
        elif args.housekeeping:
            report = trio.run(_with_model, _housekeeping, args, data_dir)
        else:
            report = trio.run(_with_model, _single, args, data_dir)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
        print(f"figures written to {args.json}")
    return 0


Mode = Callable[[argparse.Namespace, Path], Awaitable[dict[str, Any]]]


async def _with_model(mode: Mode, args: argparse.Namespace, data_dir: Path) -> dict[str, Any]:
    """Run ``mode`` with the model ``--model`` asks for (starting the stand-in if needed)."""
    if args.model == "scripted":
        args.model_env = {
            "ROBOLEARN_SCRIPTED_TOKENS": str(args.tokens),
            "ROBOLEARN_SCRIPTED_DELAY_MS": str(args.delay_ms),
        }
        return await mode(args, data_dir)
    # Tool calls off: every answer is `answer to: <text> t1 ...`, so runs can be verified.
    async with open_standin(
        tokens=args.tokens, delay_ms=args.delay_ms, tool_calls="never"
    ) as standin:
        print(f"model: the stand-in provider at {standin.base_url}", flush=True)
        args.model_env = {
            "ROBOLEARN_MODEL": "openai",
            "OPENAI_BASE_URL": standin.base_url,
            "ROBOLEARN_OPENAI_MODEL": "standin",
            # Like for like: the baseline makes no title call (robolearn's costs one per
            # new thread; ROBOLEARN_TITLES=model, the default, outside benchmarks).
            "ROBOLEARN_TITLES": "first_words",
        }
        report = await mode(args, data_dir)
    report["model"] = args.model
    return report


def _scripted_env(args: argparse.Namespace) -> dict[str, str]:
    env: dict[str, str] = args.model_env
    return env


def _full_answer(tokens: int) -> Callable[[str], str]:
    tail = "".join(f" t{n}" for n in range(1, tokens))
    return lambda text: f"answer to: {text}{tail}"


async def measure(
    target: Target,
    plan: LoadPlan,
    *,
    check: bool = False,
    full_answer: Callable[[str], str] | None = None,
) -> RunStats:
    """One load run, with the server's CPU time and RSS sampled around and during it."""
    rss = [target.rss()]
    cpu0, client0 = target.cpu(), time.process_time()

    async def sample() -> None:
        while True:
            await trio.sleep(0.25)
            rss.append(target.rss())

    async with trio.open_nursery() as nursery:
        nursery.start_soon(sample)
        result = await run_load(target.base_url, plan)
        nursery.cancel_scope.cancel()
    server_cpu, client_cpu = target.cpu() - cpu0, time.process_time() - client0
    rss.append(target.rss())
    verified = await verify(target.base_url, result, full_answer=full_answer) if check else None
    return summarise(
        target.name,
        result,
        server_cpu_s=server_cpu,
        client_cpu_s=client_cpu,
        rss=rss if target.process is not None else [],
        verified=verified,
    )


def _print_runs(runs: Sequence[RunStats]) -> None:
    header = [
        "server", "streams", "msgs", "ok", "err", "msg/s", "events/s", "TTFE p50", "p95",
        "p99", "stream p50", "p99", "srv CPU ms/msg", "RSS peak MiB",
    ]  # fmt: skip
    rows = [
        [
            r.server,
            r.concurrency * r.pipeline,
            r.messages,
            r.ok,
            r.errors,
            r.msgs_per_s,
            r.events_per_s,
            r.ttfe_ms["p50"],
            r.ttfe_ms["p95"],
            r.ttfe_ms["p99"],
            r.stream_ms["p50"],
            r.stream_ms["p99"],
            r.server_cpu_ms_per_msg,
            r.rss_peak_mib,
        ]
        for r in runs
    ]
    print(format_table(rows, header), flush=True)
    for r in runs:
        if r.verify is not None:
            print(f"  {r.server}: verify {r.verify}", flush=True)


async def _start(process: ServerProcess) -> ServerProcess:
    print(f"starting {process.name} on {process.base_url} ...", flush=True)
    await trio.to_thread.run_sync(process.start)
    return process


async def _stop(process: ServerProcess) -> None:
    with trio.CancelScope(shield=True):
        await trio.to_thread.run_sync(process.stop)


# -- single run ------------------------------------------------------------------------------


async def _single(args: argparse.Namespace, data_dir: Path) -> dict[str, Any]:
    plan = LoadPlan(
        threads=args.threads,
        messages=args.messages,
        concurrency=args.concurrency,
        pipeline=args.pipeline,
    )
    full = _full_answer(args.tokens)
    if args.url:
        target = Target("server", args.url.rstrip("/"))
        if args.server_pid:
            target.process = _AttachedProcess.of(args.server_pid)
        stats = await measure(target, plan, check=args.verify)
        _print_runs([stats])
        return {"runs": [stats.as_dict()]}
    process = robolearn_server(
        free_port(), data_dir / "robolearn", _scripted_env(args), workers=args.workers
    )
    await _start(process)
    try:
        stats = await measure(
            Target("robolearn", process.base_url, process),
            plan,
            check=args.verify,
            full_answer=full,
        )
    finally:
        await _stop(process)
    _print_runs([stats])
    return {"runs": [stats.as_dict()]}


class _AttachedProcess(ServerProcess):
    """A server this tool did not start: only read (CPU, RSS), never signalled."""

    @classmethod
    def of(cls, pid: int) -> _AttachedProcess:
        import psutil

        process = cls(name=f"pid {pid}", argv=[], env={}, port=0, log_path=Path("/dev/null"))
        process._pid = psutil.Process(pid).pid
        return process

    _pid: int = 0

    @property
    def pid(self) -> int:
        return self._pid

    def stop(self, timeout: float = 30.0) -> int | None:
        return None

    def kill(self) -> None:
        return None


# -- memory under attachments --------------------------------------------------------------


async def _soak(args: argparse.Namespace, data_dir: Path) -> dict[str, Any]:
    plan = SoakPlan(
        users=args.users, turns=args.turns, attachment_bytes=int(args.attachment_mb * 1_000_000)
    )
    env = {
        **_scripted_env(args),
        "ROBOLEARN_MAX_ATTACHMENT_BYTES": str(plan.attachment_bytes),
        "ROBOLEARN_ACTOR_IDLE_TIMEOUT": str(args.idle_timeout),
    }
    process = robolearn_server(free_port(), data_dir / "robolearn", env, workers=args.workers)
    await _start(process)
    mib = 2**20
    try:
        await run_load(process.base_url, LoadPlan(threads=20, messages=2, concurrency=20))
        before = process.rss()
        peak = [before]

        async def sample() -> None:
            while True:
                await trio.sleep(0.25)
                peak.append(process.rss())

        async with trio.open_nursery() as nursery:
            nursery.start_soon(sample)
            print(
                f"soak: {plan.users} users x {plan.turns} turns x {plan.per_message} "
                f"attachments of {plan.attachment_bytes / 1e6:g} MB ...",
                flush=True,
            )
            outcome = await run_soak(process.base_url, plan)
            # Idle actors passivate and the idle collection runs (every 10 s): nothing of
            # the load should be left holding memory.
            await trio.sleep(max(args.idle_timeout, 10) + 5)
            nursery.cancel_scope.cancel()
        after = process.rss()
    finally:
        await _stop(process)
    report = {
        "users": plan.users,
        "turns": plan.turns,
        "attachments_per_message": plan.per_message,
        "attachment_bytes": plan.attachment_bytes,
        "answered": outcome.answered,
        "failures": outcome.failures[:20],
        "rss_before_mib": round(before / mib, 1),
        "rss_peak_mib": round(max(peak) / mib, 1),
        "rss_after_mib": round(after / mib, 1),
        "rss_after_vs_before": round(after / before, 3) if before else None,
    }
    print(json.dumps(report, indent=2), flush=True)
    return report


# -- housekeeping beside running answers ----------------------------------------------------


async def _housekeeping(args: argparse.Namespace, data_dir: Path) -> dict[str, Any]:
    process = robolearn_server(
        free_port(), data_dir / "robolearn", _scripted_env(args), workers=args.workers
    )
    await _start(process)
    background = LoadPlan(
        threads=args.concurrency, messages=args.messages, concurrency=args.concurrency
    )
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(run_load, process.base_url, background)
            stats = await probe_housekeeping(process.base_url, probes=args.probes)
            nursery.cancel_scope.cancel()
    finally:
        await _stop(process)
    report = stats.as_dict()
    print(
        format_table(
            [
                [kind, figures["n"], figures["p50_ms"], figures["p95_ms"], figures["p99_ms"],
                 figures["max_ms"]]
                for kind, figures in report.items()
                if isinstance(figures, dict)
            ],
            ["request", "n", "p50 ms", "p95", "p99", "max"],
        ),
        flush=True,
    )  # fmt: skip
    print(
        f"answered while their answer streamed: {report['answered_while_streaming']} of "
        f"{args.probes} probes; failures: {len(stats.failures)}",
        flush=True,
    )
    return {"streams": args.concurrency, "probes": args.probes, "housekeeping": report}


# -- comparison ------------------------------------------------------------------------------


@attrs.define
class _Fleet:
    """robolearn and the baseline variants, on databases of one private PostgreSQL."""

    postgres: EmbeddedPostgres
    targets: list[Target]


def _create_database(postgres: EmbeddedPostgres, name: str) -> str:
    with psycopg.connect(postgres.uri, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return postgres.uri_for(name)


async def _open_fleet(
    args: argparse.Namespace, data_dir: Path, variants: Sequence[str], env: dict[str, str]
) -> _Fleet:
    postgres = await trio.to_thread.run_sync(EmbeddedPostgres.start, data_dir / "pg")
    fleet = _Fleet(postgres, [])
    try:
        url = await trio.to_thread.run_sync(_create_database, postgres, "bench_robolearn")
        rl = robolearn_server(
            free_port(),
            data_dir / "robolearn",
            {"DATABASE_URL": url, "ROBOLEARN_ADMIN_TOKEN": _ADMIN_TOKEN, **env},
            workers=args.workers,
        )
        fleet.targets.append(Target("robolearn", rl.base_url, await _start(rl)))
        for variant in variants:
            url = await trio.to_thread.run_sync(_create_database, postgres, f"bench_{variant}")
            base = baseline_server(free_port(), url, variant, data_dir / "logs", env)
            fleet.targets.append(Target(f"baseline-{variant}", base.base_url, await _start(base)))
    except BaseException:
        await _close_fleet(fleet)
        raise
    return fleet


async def _close_fleet(fleet: _Fleet) -> None:
    for target in fleet.targets:
        if target.process is not None:
            await _stop(target.process)
    with trio.CancelScope(shield=True):
        await trio.to_thread.run_sync(fleet.postgres.stop)


def _levels(raw: str) -> list[int]:
    levels = [int(part) for part in raw.split(",") if part.strip()]
    if not levels or min(levels) < 1:
        raise SystemExit("robolearn bench: --levels must be positive integers, e.g. 10,100,500")
    return levels


async def _compare(args: argparse.Namespace, data_dir: Path) -> dict[str, Any]:
    variants = [v for v in args.variants.split(",") if v]
    fleet = await _open_fleet(args, data_dir, variants, _scripted_env(args))
    full = _full_answer(args.tokens)
    report: dict[str, Any] = {
        "config": {
            "tokens": args.tokens,
            "delay_ms": args.delay_ms,
            "pipeline": args.pipeline,
            "levels": _levels(args.levels),
            "order": "A B C C B A per level (robolearn, baselines, then reversed)",
        },
        "levels": {},
    }
    try:
        print("warming up ...", flush=True)
        for target in fleet.targets:
            await run_load(target.base_url, LoadPlan(threads=20, messages=2, concurrency=20))
        for level in _levels(args.levels):
            messages = max(2, math.ceil(args.per_level_messages / level))
            order = [*fleet.targets, *reversed(fleet.targets)]
            runs: list[RunStats] = []
            print(
                f"\n== {level} concurrent streams: {level} threads x {messages} messages",
                flush=True,
            )
            for target in order:
                plan = LoadPlan(
                    threads=level, messages=messages, concurrency=level, pipeline=args.pipeline
                )
                runs.append(await measure(target, plan, check=True, full_answer=full))
                _print_runs(runs[-1:])
            report["levels"][str(level)] = {
                "runs": [r.as_dict() for r in runs],
                "summary": _level_summary(runs, [t.name for t in fleet.targets]),
            }
    finally:
        await _close_fleet(fleet)
    _print_ratios(report, [t.name for t in fleet.targets])
    return report


def _level_summary(runs: Sequence[RunStats], names: Sequence[str]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for name in names:
        mine = [r for r in runs if r.server == name]
        summary[name] = {
            "msgs_per_s": statistics.mean(r.msgs_per_s for r in mine),
            "msgs_per_s_runs": [r.msgs_per_s for r in mine],
            "events_per_s": statistics.mean(r.events_per_s for r in mine),
            "ttfe_p50_ms": statistics.mean(r.ttfe_ms["p50"] for r in mine),
            "ttfe_p99_ms": statistics.mean(r.ttfe_ms["p99"] for r in mine),
            "stream_p99_ms": statistics.mean(r.stream_ms["p99"] for r in mine),
            "errors": sum(r.errors for r in mine),
            "server_cpu_ms_per_msg": statistics.mean(r.server_cpu_ms_per_msg for r in mine),
            "rss_peak_mib": max(r.rss_peak_mib for r in mine),
            "lost": sum((r.verify or {}).get("lost", 0) for r in mine),
            "duplicated": sum((r.verify or {}).get("duplicated", 0) for r in mine),
            "out_of_order": sum((r.verify or {}).get("out_of_order", 0) for r in mine),
            "incomplete": sum((r.verify or {}).get("incomplete_answers", 0) for r in mine),
        }
    return summary


def _print_ratios(report: dict[str, Any], names: Sequence[str]) -> None:
    ours, baselines = names[0], names[1:]
    header = ["streams", "server", "msg/s (runs)", "TTFE p50", "TTFE p99", "stream p99",
              "CPU ms/msg", "RSS MiB", "err", "lost/dup/ooo"]  # fmt: skip
    rows: list[list[object]] = []
    ratio_rows: list[list[object]] = []
    for level, data in report["levels"].items():
        summary = data["summary"]
        for name in names:
            s = summary[name]
            runs = "/".join(f"{v:.0f}" for v in s["msgs_per_s_runs"])
            rows.append([
                level, name, f"{s['msgs_per_s']:.1f} ({runs})", s["ttfe_p50_ms"],
                s["ttfe_p99_ms"], s["stream_p99_ms"], s["server_cpu_ms_per_msg"],
                s["rss_peak_mib"], s["errors"],
                f"{s['lost']}/{s['duplicated']}/{s['out_of_order']}",
            ])  # fmt: skip
        for base in baselines:
            b, o = summary[base], summary[ours]
            ratio_rows.append([
                level, base, o["msgs_per_s"] / b["msgs_per_s"] if b["msgs_per_s"] else math.nan,
                o["ttfe_p99_ms"] - b["ttfe_p99_ms"],
                b["server_cpu_ms_per_msg"] / o["server_cpu_ms_per_msg"]
                if o["server_cpu_ms_per_msg"] else math.nan,
            ])  # fmt: skip
    print("\n== summary (mean of the 2 runs per server)", flush=True)
    print(format_table(rows, header))
    print(f"\n== {ours} vs each baseline", flush=True)
    print(
        format_table(
            ratio_rows,
            ["streams", "baseline", "throughput x", "added TTFE p99 ms", "CPU/msg x"],
        ),
        flush=True,
    )
    report["ratios"] = [
        dict(zip(["streams", "baseline", "throughput_ratio", "added_ttfe_p99_ms",
                  "cpu_per_msg_ratio"], row, strict=True))
        for row in ratio_rows
    ]  # fmt: skip


# -- RSS with passivated threads -------------------------------------------------------------


async def _admin_stats(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/admin/stats", headers={"X-Admin-Token": _ADMIN_TOKEN})
    response.raise_for_status()
    stats: dict[str, Any] = response.json()
    return stats


async def _rss(args: argparse.Namespace, data_dir: Path) -> dict[str, Any]:
    env = {**_scripted_env(args), "ROBOLEARN_ACTOR_IDLE_TIMEOUT": str(args.idle_timeout)}
    variants = [v for v in args.variants.split(",") if v] if args.compare else []
    fleet = await _open_fleet(args, data_dir, variants, env)
    mib = 2**20
    report: dict[str, Any] = {"threads": args.rss_threads, "idle_timeout": args.idle_timeout}
    try:
        for target in fleet.targets:
            await run_load(target.base_url, LoadPlan(threads=20, messages=1, concurrency=20))
            before = target.rss()
            plan = LoadPlan(
                threads=args.rss_threads, messages=1, concurrency=args.concurrency, timeout=300
            )
            print(f"{target.name}: {args.rss_threads} threads x 1 message ...", flush=True)
            stats = await measure(target, plan)
            entry: dict[str, Any] = {
                "rss_before_mib": round(before / mib, 1),
                "rss_peak_mib": stats.rss_peak_mib,
                "rss_after_load_mib": round(target.rss() / mib, 1),
                "errors": stats.errors,
                "msgs_per_s": stats.msgs_per_s,
            }
            if target.name == "robolearn":
                async with httpx.AsyncClient(base_url=target.base_url) as client:
                    entry["live_actors_after_load"] = (await _admin_stats(client))["actors"][
                        "live_actors"
                    ]
                    # Polled from outside: the server's state is not ours to wait on.
                    with trio.move_on_after(args.idle_timeout * 3 + 30):
                        while (await _admin_stats(client))["actors"]["live_actors"]:  # noqa: ASYNC110
                            await trio.sleep(0.5)
                    final = await _admin_stats(client)
                entry["live_actors_after_idle"] = final["actors"]["live_actors"]
                entry["passivations"] = final["actors"]["passivations"]
                entry["asyncio_tasks"] = final["asyncio_tasks"]
                entry["trio_tasks"] = final["trio_tasks"]
            else:
                await trio.sleep(args.idle_timeout + 1)
            entry["rss_idle_mib"] = round(target.rss() / mib, 1)
            report[target.name] = entry
            print(f"  {entry}", flush=True)
    finally:
        await _close_fleet(fleet)
    return report


if __name__ == "__main__":
    sys.exit(main())
