"""Dead letters an operator can list, inspect and replay.

``python -m shared.amqp.deadletters list|show|replay --service intake``

Messages are read with basic.get and left unacked while the command looks at them; closing the
channel returns every message it did not replay to the dead-letter queue. A replayed message
goes back to the service's main queue with its retry count and error headers removed, and is
acked in the dead-letter queue only after the broker confirmed the replay.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage

# The consumer's retry-count header (``shared.amqp.consumer.RETRY_HEADER``, checked equal by
# the CLI's tests), spelled here so the operator's command does not import the whole consumer
# (SQLAlchemy, the event catalogue): on a busy host that import took seconds.
RETRY_HEADER = "x-retry-count"
# Likewise ``shared.amqp.producers.ORIGINAL_USER_HEADER``: who published the original.
ORIGINAL_USER_HEADER = "x-original-user-id"

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
            reason=text_of(reason) or "unknown",
            error=text_of(headers.get("x-error", "")),
            dead_at=text_of(headers.get("x-dead-at", "")),
            headers=headers,
            body=message.body,
        )


def text_of(value: object) -> str:
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
    channel: AbstractChannel,
    messages: list[Any],
    target_queue: str,
    ids: set[str] | None,
    *,
    user: str,
) -> int:
    """Send the chosen dead letters back to the service's queue, under the service's own
    account ``user``; who published each original goes with it (shared.amqp.producers), so a
    replayed forgery is parked again rather than laundered by the replay."""
    replayed = 0
    for message in messages:
        if ids is not None and message.message_id not in ids:
            continue
        headers = {k: v for k, v in (message.headers or {}).items() if k not in STRIP_ON_REPLAY}
        # Parked by the consumer: the copy is ours and names the original in the header.
        # Parked by the broker (delivery limit): the message still bears its publisher's id.
        original = headers.pop(ORIGINAL_USER_HEADER, None)
        if message.user_id != user:
            original = message.user_id
        if original:
            headers[ORIGINAL_USER_HEADER] = text_of(original)
        copy = aio_pika.Message(
            body=message.body,
            headers=headers,
            user_id=user,
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
