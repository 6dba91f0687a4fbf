"""Command line for dead letters: ``python -m shared.amqp.deadletters list|show|replay``."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any, TextIO

import aio_pika
import orjson

from shared.amqp.deadletters import DeadLetter, fetch, replay, text_of
from shared.pii import scrub
from shared.settings import SERVICES, login_of, settings_for

DESCRIPTION = """\
Inspect and replay the dead letters of one service: messages its handlers kept failing on
(after every retry delay) or that crashed the process too often, parked in the queue
<prefix>.<service>.dead with the error in their headers. Reading leaves them in place;
only replay moves them back to the service's queue (after the broker confirmed the copy).
The queue prefix and broker come from HOUSING_QUEUE_PREFIX and HOUSING_AMQP_URL (or the
per-service HOUSING_<SERVICE>_* variables). Personal data in errors and bodies is masked."""

EPILOG = """\
examples:
  python -m shared.amqp.deadletters list --service intake
  python -m shared.amqp.deadletters show --service intake --id <message-id> --json
  python -m shared.amqp.deadletters replay --service intake --id <message-id>
  python -m shared.amqp.deadletters replay --service intake --all --yes
exit status: 0 done, 1 nothing found or replay declined, 2 usage error."""


def _letter_summary(letter: DeadLetter) -> dict[str, Any]:
    return {
        "message_id": letter.message_id,
        "type": letter.type,
        "reason": letter.reason,
        "dead_at": letter.dead_at,
        "error": scrub(letter.error),
    }


def _body_json(body: bytes) -> Any:
    text = scrub(body.decode(errors="replace"))
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text


def _emit(data: Any) -> None:
    print(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())


def confirmed(question: str, stdin: TextIO) -> bool:
    """Asks on stderr; only an explicit yes from the terminal (or a pipe) replays."""
    print(f"{question} [y/N] ", end="", file=sys.stderr, flush=True)
    answer = stdin.readline().strip().lower()
    return answer in ("y", "yes")


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
            if args.json:
                _emit(
                    {
                        "queue": dead,
                        "count": len(letters),
                        "dead_letters": [_letter_summary(x) for x in letters],
                    }
                )
            else:
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
            if args.json:
                _emit(
                    {
                        "queue": dead,
                        **_letter_summary(letter),
                        "headers": orjson.loads(scrub(orjson.dumps(headers).decode())),
                        "body": _body_json(letter.body),
                    }
                )
            else:
                print(scrub(orjson.dumps(headers, option=orjson.OPT_INDENT_2).decode()))
                print(scrub(letter.body.decode(errors="replace")))
        else:
            ids = set(args.id) if args.id else None
            if ids is None and letters and not args.yes:
                question = f"replay all {len(letters)} dead letter(s) from {dead} to {queue}?"
                if not confirmed(question, sys.stdin):
                    print("nothing replayed", file=sys.stderr)
                    return 1
            chosen = [m for m in messages if ids is None or m.message_id in ids]
            count = await replay(channel, messages, queue, ids, user=login_of(settings.amqp_url))
            if args.json:
                _emit(
                    {
                        "queue": queue,
                        "replayed": count,
                        "message_ids": [m.message_id for m in chosen],
                    }
                )
            else:
                print(f"replayed {count} message(s) to {queue}")
        await channel.close()
    finally:
        await connection.close()
    return 0


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="python -m shared.amqp.deadletters",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--service",
        required=True,
        help=f"the service whose dead letters to read ({', '.join(SERVICES)})",
    )
    common.add_argument(
        "--limit",
        type=int,
        default=1000,
        help="read at most this many dead letters, oldest first (default 1000)",
    )
    common.add_argument("--json", action="store_true", help="print JSON instead of text")
    commands = root.add_subparsers(dest="command", required=True, metavar="command")
    commands.add_parser(
        "list",
        parents=[common],
        help="list the dead letters: id, type, reason, when, error",
        description="List the dead letters of a service, oldest first: message id, event "
        "type, why it was parked (retries_exhausted, delivery_limit, unparseable, ...), when, "
        "and the start of the error. Nothing is moved.",
    )
    show = commands.add_parser(
        "show",
        parents=[common],
        help="print one dead letter: its headers and its body",
        description="Print one dead letter: every header (error, trace, retry count) and "
        "the message body, with personal data masked. Nothing is moved.",
    )
    show.add_argument("--id", required=True, help="message id (from list)")
    replay_cmd = commands.add_parser(
        "replay",
        parents=[common],
        help="put dead letters back on the service's queue",
        description="Put dead letters back on the service's queue, once the cause is fixed, "
        "without their retry count and error headers; each is removed from the dead-letter "
        "queue only after the broker confirmed the copy. The inbox makes replaying an "
        "already handled event harmless. --all asks for confirmation unless --yes is given.",
    )
    which = replay_cmd.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "--id", action="append", help="message id to replay (repeatable)", metavar="ID"
    )
    which.add_argument("--all", action="store_true", help="replay every dead letter")
    replay_cmd.add_argument(
        "--yes", "-y", action="store_true", help="do not ask before replaying --all"
    )
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return asyncio.run(_run(args))


if __name__ == "__main__":
    sys.exit(main())
