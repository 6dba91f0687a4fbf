"""Exchanges and queues, declared the same way by every process.

For a service queue ``Q``:

* ``Q`` — durable quorum queue bound to the routing keys the service listens to, narrowed to
  the event types it handles (:func:`narrow_to_handled`). The broker
  dead-letters a message to ``Q.dead`` by itself once it has been redelivered
  ``delivery_limit`` times (a handler that crashes the process, not one that raises).
* ``Q.retry.<n>`` — one per retry delay; holds a failed message for that delay, then the
  broker dead-letters it back to ``Q`` through the default exchange. One queue per delay
  because a queue only expires messages at its head: mixed delays in one queue would block.
* ``Q.dead`` — durable quorum queue of dead letters, kept until an operator replays them.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractQueue

from shared.events.base import payload_model


@dataclass(frozen=True)
class Binding:
    """Route messages with ``routing_key`` (topic pattern) from a logical exchange."""

    routing_key: str
    exchange: str = "events"  # "events" or "verification"


def topic_matches(pattern: str, key: str) -> bool:
    """AMQP topic matching: ``*`` is exactly one word, ``#`` zero or more."""

    def match(p: list[str], k: list[str]) -> bool:
        if not p:
            return not k
        if p[0] == "#":
            return any(match(p[1:], k[i:]) for i in range(len(k) + 1))
        return bool(k) and p[0] in ("*", k[0]) and match(p[1:], k[1:])

    return match(pattern.split("."), key.split("."))


def _pattern_of(event_type: str) -> str:
    """The routing keys ``event_type`` travels under on the events exchange: the type itself,
    or its key template (``alert.raised.{colour}``) with ``*`` for each placeholder."""
    model = payload_model(event_type)
    return model.routing_pattern() if model is not None else event_type


def narrow_to_handled(bindings: Iterable[Binding], handled: Collection[str]) -> tuple[Binding, ...]:
    """Replace each wildcard binding on the events exchange by one binding per handled event
    type it admits (there the routing key is the event type).

    A service that binds ``review.#`` but handles three review events would otherwise receive
    every review event only to claim it in its inbox and drop it: each such delivery costs the
    broker a quorum-log write and the service a transaction's worth of work. Kept as declared:
    exact keys, bindings on the verification exchange (``response.*``: there the routing key is
    not the type) and the catch-all ``#``. No service binds ``#`` since the events exchange has
    an alternate exchange (:func:`declare_exchanges`): an event nobody binds is kept in the
    unrouted queue, not returned to the relay.
    """
    narrowed: list[Binding] = []
    for binding in bindings:
        key = binding.routing_key
        if binding.exchange != "events" or key == "#" or not ({"*", "#"} & set(key.split("."))):
            candidates = [binding]
        else:
            candidates = [Binding(_pattern_of(t)) for t in sorted(handled) if topic_matches(key, t)]
        narrowed += [b for b in candidates if b not in narrowed]
    return tuple(narrowed)


@dataclass(frozen=True)
class QueueSpec:
    name: str
    bindings: tuple[Binding, ...]
    delivery_limit: int = 10
    retry_delays_ms: tuple[int, ...] = (1000, 5000, 30000)
    extra_arguments: dict[str, object] = field(default_factory=dict)

    @property
    def dead_letter_queue(self) -> str:
        return f"{self.name}.dead"

    def retry_queue(self, attempt: int) -> str:
        return f"{self.name}.retry.{attempt}"


QUORUM = {"x-queue-type": "quorum"}

# Broker-side dead-lettering (delivery limit, retry delay expiry) is at-most-once by default:
# a message could vanish if the target queue is briefly unavailable. At-least-once needs the
# reject-publish overflow mode (RabbitMQ >= 3.10 with the stream_queue feature flag).
AT_LEAST_ONCE = {"x-dead-letter-strategy": "at-least-once", "x-overflow": "reject-publish"}


def unrouted_name(events_exchange: str) -> str:
    """The alternate exchange of ``events_exchange``, and the queue that keeps what it gets."""
    return f"{events_exchange}.unrouted"


# The unrouted queue keeps the newest events of types no service binds (catalogued for the
# province or for consumers to come); every one of them is also in its producer's outbox table
# for the retention period, so dropping the oldest beyond this bound loses no record.
UNROUTED_MAX_LENGTH = 100_000


async def declare_exchanges(
    channel: AbstractChannel, names: dict[str, str], *, unrouted: bool = False
) -> dict[str, AbstractExchange]:
    """The topic exchanges, by logical name. With ``unrouted`` the events exchange gets an
    alternate exchange (:func:`unrouted_name`, fanout) bound to a durable queue of the same
    name: an event no queue is bound for is kept there instead of coming back to its publisher
    as unroutable, so no service needs a catch-all binding to give every type a route.

    A mandatory publish that reaches the alternate exchange's queue counts as routed (no
    return); one that reaches no queue at all, the alternate's included, still returns. Every
    process that declares the events exchange must say the same about ``unrouted``: RabbitMQ
    refuses a redeclaration with another alternate exchange (PRECONDITION_FAILED).
    """
    exchanges = {}
    for logical, name in names.items():
        arguments: dict[str, object] = {}
        if unrouted and logical == "events":
            alternate = unrouted_name(name)
            ae = await channel.declare_exchange(
                alternate, aio_pika.ExchangeType.FANOUT, durable=True
            )
            kept = await channel.declare_queue(
                alternate,
                durable=True,
                arguments={
                    **QUORUM,
                    "x-max-length": UNROUTED_MAX_LENGTH,
                    "x-overflow": "drop-head",
                },
            )
            await kept.bind(ae)
            arguments["alternate-exchange"] = alternate
        exchanges[logical] = await channel.declare_exchange(
            name, aio_pika.ExchangeType.TOPIC, durable=True, arguments=arguments or None
        )
    return exchanges


async def declare_queue(
    channel: AbstractChannel, spec: QueueSpec, exchanges: dict[str, AbstractExchange]
) -> AbstractQueue:
    await channel.declare_queue(spec.dead_letter_queue, durable=True, arguments=dict(QUORUM))
    for attempt, delay in enumerate(spec.retry_delays_ms):
        await channel.declare_queue(
            spec.retry_queue(attempt),
            durable=True,
            arguments={
                **QUORUM,
                **AT_LEAST_ONCE,
                "x-message-ttl": delay,
                "x-dead-letter-exchange": "",
                "x-dead-letter-routing-key": spec.name,
            },
        )
    queue = await channel.declare_queue(
        spec.name,
        durable=True,
        arguments={
            **QUORUM,
            **AT_LEAST_ONCE,
            "x-delivery-limit": spec.delivery_limit,
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": spec.dead_letter_queue,
            **spec.extra_arguments,
        },
    )
    for binding in spec.bindings:
        await queue.bind(exchanges[binding.exchange], routing_key=binding.routing_key)
    return queue


async def delete_queue_family(channel: AbstractChannel, spec: QueueSpec) -> None:
    """Remove a queue with its retry and dead-letter queues (tests clean up with it)."""
    names = [spec.name, spec.dead_letter_queue] + [
        spec.retry_queue(i) for i in range(len(spec.retry_delays_ms))
    ]
    for name in names:
        await channel.queue_delete(name)
