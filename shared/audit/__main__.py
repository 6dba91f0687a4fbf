"""``python -m shared.audit verify``: recompute a service's audit chain.

Exit status: 0 the chain is intact, 1 it is broken (the line names the first broken link),
2 the check could not run (bad arguments, database unreachable). Operators record the printed
head hash somewhere outside the database and pass it back later with ``--anchor SEQ:HASH``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from shared.audit.log import verify
from shared.settings import SERVICES, settings_for

EXIT_INTACT = 0
EXIT_BROKEN = 1
EXIT_ERROR = 2


def _anchor(text: str) -> tuple[int, str]:
    seq, sep, digest = text.partition(":")
    if not sep or not seq.isdigit() or len(digest) != 64:
        raise argparse.ArgumentTypeError("expected SEQ:HASH with a 64-digit hex hash")
    return int(seq), digest.lower()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m shared.audit", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("verify", help="recompute the hash chain of one database")
    check.add_argument("--service", choices=SERVICES, help="read the URL from its settings")
    check.add_argument("--database-url", help="overrides the service's database URL")
    check.add_argument(
        "--anchor",
        type=_anchor,
        action="append",
        default=[],
        metavar="SEQ:HASH",
        help="a head recorded earlier outside the database; repeatable",
    )
    return parser


async def _verify(url: str, anchors: dict[int, str]) -> int:
    # NullPool: one connection for one check, nothing left open when the process exits.
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            # The checker has no business writing; make that a property of its transaction.
            await conn.exec_driver_sql("SET TRANSACTION READ ONLY")
            result = await verify(conn, anchors=anchors)
    finally:
        await engine.dispose()
    print(result.summary())
    return EXIT_INTACT if result.ok else EXIT_BROKEN


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not (args.service or args.database_url):
        parser.error("give --service or --database-url")
    url = args.database_url or settings_for(args.service).database_url
    try:
        return asyncio.run(_verify(url, dict(args.anchor)))
    except Exception as exc:
        # Unreachable database, missing table, no permission: "could not check" must never be
        # mistaken for "checked and broken", hence its own exit status.
        first_line = str(exc).splitlines()[0] if str(exc) else ""
        print(f"audit log not verified: {type(exc).__name__}: {first_line}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
