"""Command line for dead letters: ``python -m shared.amqp.deadletters list|show|replay``."""

from __future__ import annotations

import argparse
import asyncio
import sys

import aio_pika
import orjson

from shared.amqp.deadletters import DeadLetter, fetch, replay, text_of
from shared.pii import scrub
from shared.settings import settings_for


async def _run(args: argparse.Namespace) -> int:
    settings = settings_for(args.service)
    queue = settings.queue_name
    dead = f"{queue}.dead"
    connection = await aio_pika.connect(settings.amqp_url)
    try:
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        try:
            messages = await fetch(channel, dead, args.limit)
        except aio_pika.exceptions.ChannelNotFoundEntity:
            print(f"no dead-letter queue {dead}: has the service ever started?", file=sys.stderr)
            return 1
        letters = [DeadLetter.of(m) for m in messages]
        if args.command == "list":
            print(f"{len(letters)} dead letter(s) in {dead}")
            for letter in letters:
                print(
                    f"{letter.message_id}  {letter.type}  {letter.reason}  "
                    f"{letter.dead_at}  {scrub(letter.error)[:120]}"
                )
        elif args.command == "show":
            match = [x for x in letters if x.message_id == args.id]
            if not match:
                print(f"no dead letter {args.id} in {dead}", file=sys.stderr)
                return 1
            letter = match[0]
            headers = {k: text_of(v) for k, v in letter.headers.items() if k != "x-death"}
            print(scrub(orjson.dumps(headers, option=orjson.OPT_INDENT_2).decode()))
            print(scrub(letter.body.decode(errors="replace")))
        else:
            ids = set(args.id) if args.id else None
            if ids is None and not args.all:
                print("replay needs --id ID (repeatable) or --all", file=sys.stderr)
                return 2
            count = await replay(channel, messages, queue, ids)
            print(f"replayed {count} message(s) to {queue}")
        await channel.close()
    finally:
        await connection.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shared.amqp.deadletters")
    parser.add_argument("command", choices=["list", "show", "replay"])
    parser.add_argument("--service", required=True)
    parser.add_argument("--id", action="append", help="message id (repeatable for replay)")
    parser.add_argument("--all", action="store_true", help="replay every dead letter")
    parser.add_argument("--limit", type=int, default=1000)
    args = parser.parse_args(argv)
    if args.command == "show":
        if not args.id or len(args.id) != 1:
            parser.error("show needs exactly one --id")
        args.id = args.id[0]
    return asyncio.run(_run(args))


if __name__ == "__main__":
    sys.exit(main())
