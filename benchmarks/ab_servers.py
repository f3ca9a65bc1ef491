"""A/B: two robolearn source trees, one server each, loaded in turns (A B B A A B ...).

    python3 -m uv run --locked --all-extras python benchmarks/ab_servers.py \\
        --a /work/main --b . --rounds 4 --threads 100 --messages 5 --concurrency 100

One tree with two environments A/Bs a setting, e.g. a library patch left out against all
patches installed (``--a-env``/``--b-env`` KEY=VALUE, repeatable)::

    python3 -m uv run --locked --all-extras python benchmarks/ab_servers.py \\
        --a . --b . --b-env ROBOLEARN_UNPATCHED=merge --rounds 4 --concurrency 100

Each server runs one tree's code (``PYTHONPATH``) in this environment, on its own database of
one private PostgreSQL, with the scripted model; each run is ``robolearn bench``'s load
(`run_load`). Prints messages/s and server CPU ms per message of every run, and the means.
CPU per message is the steadier figure on a shared machine.
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


def _assignment(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, not {text!r}")
    return key, value


def _server(name: str, tree: Path, url: str, work: Path, env: dict[str, str]) -> ServerProcess:
    server = robolearn_server(
        free_port(),
        work / name,
        {"DATABASE_URL": url, "PYTHONPATH": str(tree.resolve()), **env},
        name=name,
    )
    server.start()
    return server


async def _run(server: ServerProcess, plan: LoadPlan) -> tuple[float, float]:
    cpu = server.cpu_seconds()
    result = await run_load(server.base_url, plan)
    failed = sum(not m.ok for m in result.messages)
    if failed:
        raise RuntimeError(f"{server.name}: {failed} messages failed")
    cpu = server.cpu_seconds() - cpu
    return len(result.messages) / result.wall, 1000 * cpu / len(result.messages)


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
            f"--{side}-env",
            action="append",
            type=_assignment,
            default=[],
            metavar="KEY=VALUE",
            help=f"environment of server {side.upper()} only (repeatable)",
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
            for name, tree, own in (("A", args.a, args.a_env), ("B", args.b, args.b_env)):
                with psycopg.connect(postgres.uri, autocommit=True) as conn:
                    conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name.lower())))
                url = postgres.uri_for(name.lower())
                servers[name] = _server(name, tree, url, work, {**env, **dict(own)})
            figures: dict[str, list[tuple[float, float]]] = {"A": [], "B": []}
            order = [name for r in range(args.rounds) for name in ("AB" if r % 2 else "BA")]
            order = ["A", "B", *order]  # a warm-up run each, not counted
            for n, name in enumerate(order):
                plan = LoadPlan(
                    threads=args.threads, messages=args.messages, concurrency=args.concurrency
                )
                rate, cpu = trio.run(_run, servers[name], plan)
                print(f"run {n:2} {name}: {rate:7.1f} msg/s  {cpu:6.2f} CPU ms/msg", flush=True)
                if n >= 2:
                    figures[name].append((rate, cpu))
            for name, runs in figures.items():
                rates, cpus = [r for r, _ in runs], [c for _, c in runs]
                own = " ".join(f"{k}={v}" for k, v in (args.a_env if name == "A" else args.b_env))
                print(
                    f"{name} ({servers[name].env['PYTHONPATH']} {own}): "
                    f"{statistics.mean(rates):.1f} msg/s (sd {statistics.pstdev(rates):.1f}), "
                    f"{statistics.mean(cpus):.2f} CPU ms/msg (sd {statistics.pstdev(cpus):.2f})"
                )
            rate = {name: statistics.mean(r for r, _ in runs) for name, runs in figures.items()}
            cpu = {name: statistics.mean(c for _, c in runs) for name, runs in figures.items()}
            print(
                f"B / A: throughput {rate['B'] / rate['A']:.3f},"
                f" CPU per message {cpu['B'] / cpu['A']:.3f}"
            )
        finally:
            for server in servers.values():
                server.stop()
            postgres.stop()


if __name__ == "__main__":
    main()
