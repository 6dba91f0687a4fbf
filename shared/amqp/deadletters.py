"""Dead letters an operator can list, inspect and replay.

``python -m shared.amqp.deadletters list|show|replay --service intake``

Messages are read with basic.get and left unacked while the command looks at them; closing the
channel returns every message it did not replay to the dead-letter queue. A replayed message
goes back to the service's main queue with its retry count and error headers removed, and is
acked in the dead-letter queue only after the broker confirmed the replay.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import dataclass
from typing import Any

import aio_pika
import orjson
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage

from shared.amqp.consumer import RETRY_HEADER
from shared.pii import scrub
from shared.settings import settings_for

STRIP_ON_REPLAY = {
    RETRY_HEADER,
    "x-error",
    "x-error-trace",
    "x-dead-reason",
    "x-dead-at",
    "x-death",
    "x-first-death-exchange",
    "x-first-death-queue",
    "x-first-death-reason",
    "x-last-death-exchange",
    "x-last-death-queue",
    "x-last-death-reason",
    "x-delivery-count",
}


@dataclass(frozen=True)
class DeadLetter:
    message_id: str | None
    type: str | None
    reason: str
    error: str
    dead_at: str
    headers: dict[str, Any]
    body: bytes

    @classmethod
    def of(cls, message: AbstractIncomingMessage) -> DeadLetter:
        headers = dict(message.headers or {})
        reason = str(headers.get("x-dead-reason") or headers.get("x-first-death-reason") or "")
        return cls(
            message_id=message.message_id,
            type=message.type,
            # A message the broker dead-lettered by itself (delivery limit) has no x-error.
            reason=_text(reason) or "unknown",
            error=_text(headers.get("x-error", "")),
            dead_at=_text(headers.get("x-dead-at", "")),
            headers=headers,
            body=message.body,
        )


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


async def fetch(channel: AbstractChannel, queue_name: str, limit: int) -> list[Any]:
    """Up to ``limit`` messages, unacked (they return to the queue when the channel closes)."""
    queue = await channel.get_queue(queue_name, ensure=True)
    messages = []
    for _ in range(limit):
        message = await queue.get(no_ack=False, fail=False)
        if message is None:
            break
        messages.append(message)
    return messages


async def replay(
    channel: AbstractChannel, messages: list[Any], target_queue: str, ids: set[str] | None
) -> int:
    replayed = 0
    for message in messages:
        if ids is not None and message.message_id not in ids:
            continue
        headers = {k: v for k, v in (message.headers or {}).items() if k not in STRIP_ON_REPLAY}
        copy = aio_pika.Message(
            body=message.body,
            headers=headers,
            message_id=message.message_id,
            correlation_id=message.correlation_id,
            type=message.type,
            content_type=message.content_type,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            app_id=message.app_id,
        )
        await channel.default_exchange.publish(copy, routing_key=target_queue, mandatory=True)
        await message.ack()
        replayed += 1
    return replayed


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
            headers = {k: _text(v) for k, v in letter.headers.items() if k != "x-death"}
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
