"""A/B: two robolearn source trees, one server each, loaded in turns (A B B A A B ...).

    python3 -m uv run --locked --all-extras python benchmarks/ab_servers.py \\
        --a /work/main --b . --rounds 4 --threads 100 --messages 5 --concurrency 100

Each server runs one tree's code (``PYTHONPATH``) in this environment, on its own database of
one private PostgreSQL, with the scripted model; each run is ``robolearn bench``'s load
(`run_load`). Prints messages/s, server CPU ms per message and the median time to the first
SSE event (TTFE) of every run, and the means. CPU per message is the steadier figure on a
shared machine. ``--env-a``/``--env-b`` set variables for one server only, so one tree can
be compared with itself, e.g. with and without a patch::

    ... ab_servers.py --a . --b . --env-b ROBOLEARN_UNPATCHED=all
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

import psycopg
import trio
from psycopg import sql

from robolearn.bench import LoadPlan, ServerProcess, free_port, robolearn_server, run_load
from robolearn.store import EmbeddedPostgres


def _server(name: str, tree: Path, url: str, work: Path, env: dict[str, str]) -> ServerProcess:
    server = robolearn_server(
        free_port(),
        work / name,
        {"DATABASE_URL": url, "PYTHONPATH": str(tree.resolve()), **env},
        name=name,
    )
    server.start()
    return server


async def _run(server: ServerProcess, plan: LoadPlan) -> tuple[float, float, float]:
    cpu = server.cpu_seconds()
    result = await run_load(server.base_url, plan)
    failed = sum(not m.ok for m in result.messages)
    if failed:
        raise RuntimeError(f"{server.name}: {failed} messages failed")
    cpu = server.cpu_seconds() - cpu
    ttfe = statistics.median(m.ttfe for m in result.messages if m.ttfe is not None)
    return len(result.messages) / result.wall, 1000 * cpu / len(result.messages), 1000 * ttfe


def _variables(pairs: list[str]) -> dict[str, str]:
    return dict(pair.split("=", 1) for pair in pairs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--a", type=Path, required=True, help="source tree A")
    parser.add_argument("--b", type=Path, required=True, help="source tree B")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--threads", type=int, default=100)
    parser.add_argument("--messages", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--tokens", type=int, default=50)
    parser.add_argument("--delay-ms", type=float, default=5.0)
    for side in ("a", "b"):
        parser.add_argument(
            f"--env-{side}",
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help=f"an environment variable for server {side.upper()} only (repeatable)",
        )
    args = parser.parse_args()
    env = {
        "ROBOLEARN_SCRIPTED_TOKENS": str(args.tokens),
        "ROBOLEARN_SCRIPTED_DELAY_MS": str(args.delay_ms),
    }
    with tempfile.TemporaryDirectory(prefix="robolearn-ab-") as tmp:
        work = Path(tmp)
        postgres = EmbeddedPostgres.start(work / "pg")
        servers: dict[str, ServerProcess] = {}
        try:
            sides = (("A", args.a, args.env_a), ("B", args.b, args.env_b))
            for name, tree, extra in sides:
                with psycopg.connect(postgres.uri, autocommit=True) as conn:
                    conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name.lower())))
                url = postgres.uri_for(name.lower())
                servers[name] = _server(name, tree, url, work, env | _variables(extra))
            figures: dict[str, list[tuple[float, float, float]]] = {"A": [], "B": []}
            order = [name for r in range(args.rounds) for name in ("AB" if r % 2 else "BA")]
            order = ["A", "B", *order]  # a warm-up run each, not counted
            for n, name in enumerate(order):
                plan = LoadPlan(
                    threads=args.threads, messages=args.messages, concurrency=args.concurrency
                )
                rate, cpu, ttfe = trio.run(_run, servers[name], plan)
                print(
                    f"run {n:2} {name}: {rate:7.1f} msg/s  {cpu:6.2f} CPU ms/msg"
                    f"  TTFE p50 {ttfe:6.1f} ms",
                    flush=True,
                )
                if n >= 2:
                    figures[name].append((rate, cpu, ttfe))
            means: dict[str, tuple[float, ...]] = {}
            for name, runs in figures.items():
                rates, cpus, ttfes = zip(*runs, strict=True)
                means[name] = tuple(statistics.mean(f) for f in (rates, cpus, ttfes))
                label = " ".join([servers[name].env["PYTHONPATH"], *sides[name == "B"][2]])
                print(
                    f"{name} ({label}): "
                    f"{means[name][0]:.1f} msg/s (sd {statistics.pstdev(rates):.1f}), "
                    f"{means[name][1]:.2f} CPU ms/msg (sd {statistics.pstdev(cpus):.2f}), "
                    f"TTFE p50 {means[name][2]:.1f} ms (sd {statistics.pstdev(ttfes):.1f})"
                )
            a, b = means["A"], means["B"]
            print(
                f"B / A: throughput {b[0] / a[0]:.3f}, CPU per message {b[1] / a[1]:.3f},"
                f" TTFE {b[2] / a[2]:.3f}"
            )
        finally:
            for server in servers.values():
                server.stop()
            postgres.stop()


if __name__ == "__main__":
    main()
