"""Command line for parked outbox rows: ``python -m shared.amqp.outbox list|release``.

The relay parks an outbox row after ``HOUSING_OUTBOX_MAX_ATTEMPTS`` failed publishes (most
often an event nobody is bound to receive, so the broker returns it as unroutable): it stays in
the service's database, unsent and no longer tried, and /metrics counts it as
``outbox_parked``. Once the cause is fixed (the consumer's queue declared again), ``release``
gives the rows their attempts back and the relay publishes them at its next round.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import uuid
from typing import Any

import orjson
import sqlalchemy as sa

from shared.db import create_engine
from shared.settings import SERVICES, ServiceSettings, settings_for
from shared.tables import outbox

DESCRIPTION = """\
List and release the parked outbox rows of one service: events its relay could not publish
after HOUSING_OUTBOX_MAX_ATTEMPTS tries, kept unsent in the service's database. The database
comes from the service's settings (HOUSING_<SERVICE>_DATABASE_URL or the template)."""

EPILOG = """\
examples:
  python -m shared.amqp.outbox list --service allocation
  python -m shared.amqp.outbox release --service allocation --id <event-id>
  python -m shared.amqp.outbox release --service allocation --all
exit status: 0 done, 1 nothing parked or nothing released, 2 usage error."""


def _parked(max_attempts: int) -> sa.ColumnElement[bool]:
    return sa.and_(outbox.c.sent_at.is_(None), outbox.c.attempts >= max_attempts)


async def parked_rows(settings: ServiceSettings) -> list[dict[str, Any]]:
    engine = create_engine(settings.database_url, pool_size=1)
    try:
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    sa.select(
                        outbox.c.id,
                        outbox.c.type,
                        outbox.c.routing_key,
                        outbox.c.attempts,
                        outbox.c.created_at,
                        outbox.c.last_error,
                    )
                    .where(_parked(settings.outbox_max_attempts))
                    .order_by(outbox.c.seq)
                )
            ).all()
    finally:
        await engine.dispose()
    return [
        {
            "id": str(r.id),
            "type": r.type,
            "routing_key": r.routing_key,
            "attempts": r.attempts,
            "created_at": r.created_at.isoformat(),
            # Errors name exchanges and routing keys, never a payload's fields.
            "last_error": r.last_error,
        }
        for r in rows
    ]


async def release(settings: ServiceSettings, ids: list[uuid.UUID] | None) -> list[str]:
    """Give parked rows (those of ``ids``, or all) their attempts back; which were released."""
    where = _parked(settings.outbox_max_attempts)
    if ids is not None:
        where = sa.and_(where, outbox.c.id.in_(ids))
    engine = create_engine(settings.database_url, pool_size=1)
    try:
        async with engine.begin() as conn:
            released = (
                await conn.execute(
                    outbox.update()
                    .where(where)
                    .values(attempts=0, next_attempt_at=sa.func.now())
                    .returning(outbox.c.id)
                )
            ).all()
    finally:
        await engine.dispose()
    return [str(r.id) for r in released]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m shared.amqp.outbox",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (("list", "list the parked rows"), ("release", "try them again")):
        command = commands.add_parser(name, help=text)
        command.add_argument("--service", required=True, choices=SERVICES)
        command.add_argument("--json", action="store_true", help="print JSON")
        if name == "release":
            which = command.add_mutually_exclusive_group(required=True)
            which.add_argument("--id", action="append", type=uuid.UUID, help="an event id")
            which.add_argument("--all", action="store_true", help="every parked row")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    settings = settings_for(args.service, run_workers=False)
    if args.command == "list":
        rows = asyncio.run(parked_rows(settings))
        if args.json:
            print(orjson.dumps({"count": len(rows), "rows": rows}).decode())
        else:
            print(f"{len(rows)} parked outbox row(s) in {args.service}")
            for row in rows:
                print(
                    f"{row['id']}  {row['type']}  {row['attempts']} attempts  {row['last_error']}"
                )
        return 0 if rows else 1
    released = asyncio.run(release(settings, None if args.all else args.id))
    if args.json:
        print(orjson.dumps({"released": released}).decode())
    else:
        print(f"released {len(released)} outbox row(s) of {args.service}")
    return 0 if released else 1


if __name__ == "__main__":
    sys.exit(main())
