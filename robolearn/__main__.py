"""Command line: ``robolearn serve | migrate | ingest | eval | feedback | bench`` (also
``python -m robolearn``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import attrs
import trio

from robolearn.config import ConfigError, Settings
from robolearn.obs import configure_logging

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["bench"]:
        # The load generator has its own options (``robolearn bench --help``) and settings.
        from robolearn.bench import main as bench

        return bench(argv[1:])
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        print(f"robolearn: configuration error: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.log_format)
    try:
        if args.command == "serve":
            settings = _with_bind(settings, args, parser)
            settings.check_bind()
            return _serve(settings, args, parser)
        elif args.command == "migrate":
            trio.run(_migrate, settings)
        elif args.command in ("ingest", "eval"):
            _textbook(settings, args)
        elif args.command == "feedback":
            from robolearn import _feedback_cli

            trio.run(lambda: _feedback_cli.report(settings, since=args.since, as_json=args.json))
    except ConfigError as exc:
        print(f"robolearn: configuration error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="robolearn", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve POST /chatkit and the health endpoints")
    serve.add_argument("--host", help="interface to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default 8000)")
    serve.add_argument("--bind", metavar="HOST:PORT", help="host and port in one argument")
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="serve with N worker processes under a supervisor (default 1: this process serves)",
    )
    # How the supervisor of --workers starts each worker (robolearn.workers.WorkerSpec).
    serve.add_argument("--worker", help=argparse.SUPPRESS)
    commands.add_parser("migrate", help="apply database migrations and exit")
    commands.add_parser(
        "bench", help="load-test a server, or compare with the asyncio baseline (see --help)"
    )
    ingest = commands.add_parser(
        "ingest", help="store a Docusaurus docs tree as the textbook (changed lessons only)"
    )
    ingest.add_argument("docs", type=Path, metavar="PATH", help="the docs folder of the book")
    ingest.add_argument("--site-url", help="base URL of the published book (ROBOLEARN_SITE_URL)")
    evaluate = commands.add_parser(
        "eval", help="score retrieval and cited answers on a question set"
    )
    evaluate.add_argument(
        "--docs", type=Path, metavar="PATH", help="read this docs tree instead of the database"
    )
    evaluate.add_argument(
        "--questions",
        type=Path,
        action="append",
        help="question set, JSON lines; repeat to score several as one (default "
        "robolearn/rag/asked/fresh.jsonl, fresh2.jsonl and fresh4.jsonl, three authors' questions)",
    )
    evaluate.add_argument(
        "--split",
        choices=("dev", "test"),  # robolearn.rag.SPLITS, not imported: it loads the index
        help="score one split of the set: dev (tune on it) or test (report it); default all",
    )
    evaluate.add_argument(
        "--end-to-end", action="store_true", help="also answer each question with the tutor"
    )
    evaluate.add_argument("--misses", action="store_true", help="list the questions missed")
    feedback = commands.add_parser(
        "feedback", help="list the answers users voted down, newest first"
    )
    feedback.add_argument(
        "--since",
        type=_since,
        metavar="DATE",
        help="only votes at or after this ISO date or datetime (UTC unless it has an offset)",
    )
    feedback.add_argument("--json", action="store_true", help="print one JSON array")
    return parser


def _serve(settings: Settings, args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    if args.workers < 1:
        parser.error(f"--workers must be at least 1, got {args.workers}")
    if args.worker:
        from robolearn.workers import WorkerSpec, run_worker

        try:
            spec = WorkerSpec.decode(args.worker)
        except ValueError as exc:
            parser.error(str(exc))
        configure_logging(settings.log_level, settings.log_format, process=spec.name)
        trio.run(run_worker, settings, spec)
    elif args.workers > 1:
        from robolearn.workers import serve_workers

        configure_logging(settings.log_level, settings.log_format, process="supervisor")
        return trio.run(serve_workers, settings, args.workers)
    else:
        from robolearn.serve import serve

        trio.run(serve, settings)
    return 0


def _since(text: str) -> datetime:
    # Imported when used: the report module brings chatkit along.
    from robolearn._feedback_cli import parse_since

    return parse_since(text)


def _with_bind(
    settings: Settings, args: argparse.Namespace, parser: argparse.ArgumentParser
) -> Settings:
    host, port = settings.host, settings.port
    if args.bind:
        if args.host or args.port:
            parser.error("use --bind or --host/--port, not both")
        host, sep, raw_port = args.bind.rpartition(":")
        if not sep or not raw_port.isdigit():
            parser.error(f"--bind must look like HOST:PORT, got {args.bind!r}")
        port = int(raw_port)
    host = args.host or host
    port = args.port if args.port is not None else port
    if not 0 <= port <= 65535:
        parser.error(f"port must be from 0 to 65535, got {port}")
    return attrs.evolve(settings, host=host.strip("[]") or "127.0.0.1", port=port)


async def _migrate(settings: Settings) -> None:
    from robolearn.store import StoreUnavailable, open_store

    async with open_store(
        settings.database_url, data_dir=settings.data_dir, db_timeout=settings.db_timeout
    ) as store:
        try:
            await store.check()
        except StoreUnavailable as exc:
            raise SystemExit(f"robolearn migrate: {exc}") from None
    print("robolearn: database schema is up to date")


def _textbook(settings: Settings, args: argparse.Namespace) -> None:
    from robolearn import _textbook_cli

    if args.command == "ingest":
        if args.site_url:
            settings = attrs.evolve(settings, site_url=args.site_url.rstrip("/"))
        report = trio.run(_textbook_cli.ingest, settings, args.docs)
        print(
            f"robolearn: textbook has {report.lessons} pages: {report.written} written "
            f"({report.chunks_written} chunks), {report.unchanged} unchanged, "
            f"{report.removed} removed; version {report.version} ({report.seconds:.2f} s)"
            + (f"; {report.embedded} chunks embedded" if settings.embedding_model else "")
        )
    else:
        trio.run(
            lambda: _textbook_cli.evaluate(
                settings,
                docs=args.docs,
                questions_paths=tuple(args.questions or _textbook_cli.DEFAULT_QUESTIONS),
                split=args.split,
                end_to_end=args.end_to_end,
                misses=args.misses,
            )
        )


if __name__ == "__main__":
    sys.exit(main())
