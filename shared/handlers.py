"""Typed event handlers: every handler receives its service context and its payload model.

A service's ``handlers.py`` writes each event entrypoint as::

    @handles(CreditBanImposed)
    async def on_ban_imposed(ctx: IntakeContext, uow: UnitOfWork, ban: CreditBanImposed,
                             envelope: Envelope) -> None: ...

    HANDLERS = handler_map(on_ban_imposed, on_ban_lifted, ...)

The event type comes from the payload model, so a handler cannot be registered under another
type's name; the runtime binds the service context once (``bind_handlers``) and derives the
queue's bindings from the same map (``derive_bindings``), so a handler never lacks a route.
For events applied as a crowd (department answers) ``handles_batch`` gives the handler the
whole run of consecutive new events at once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from shared.amqp.consumer import BatchHandler, Delivery, Handler, current_delivery
from shared.amqp.topology import Binding, topic_matches
from shared.db import UnitOfWork
from shared.events.base import EventPayload, payload_model
from shared.events.envelope import Envelope

P = TypeVar("P", bound=EventPayload)

TypedFn = Callable[[Any, UnitOfWork, Any, Envelope], Awaitable[None]]
BatchFn = Callable[[Any, UnitOfWork, list[tuple[Any, Envelope, Delivery | None]]], Awaitable[None]]
PrepareFn = Callable[[Any, UnitOfWork, list[Envelope]], Awaitable[None]]


@dataclass(frozen=True)
class TypedHandler(Generic[P]):
    """One event type's entrypoint: validates the payload model, then calls ``fn``."""

    model: type[P]
    fn: TypedFn
    batch: BatchFn | None = None
    # The routing keys to bind when only some of the type's keys are wanted (the red lights of
    # ``alert.raised.{colour}``); empty: every key the type is published under.
    routing_keys: tuple[str, ...] = ()
    # Reads the payload instead of the model's strict validation (a batch whose items are
    # validated one by one); the model still names the type, its route and its schema.
    parse: Callable[[dict[str, Any]], Any] | None = None
    # ``prepare(ctx, uow, envelopes)``: run once per micro-batch before its events are handled,
    # with the new events of every handler that names the same function (see BatchHandler).
    prepare: PrepareFn | None = None

    @property
    def event_type(self) -> str:
        return self.model.event_type

    def bind(self, context: Any) -> Handler | BatchHandler:
        fn, batch = self.fn, self.batch
        read = self.parse or self.model.model_validate
        if batch is not None:

            async def many(uow: UnitOfWork, run: list[tuple[Envelope, Delivery | None]]) -> None:
                items = [(read(e.data), e, d) for e, d in run]
                await batch(context, uow, items)

            prepare = self.prepare
            if prepare is None:
                return BatchHandler(many)

            async def first(uow: UnitOfWork, envelopes: list[Envelope]) -> None:
                await prepare(context, uow, envelopes)

            return BatchHandler(many, prepare=first, prepare_key=prepare)

        async def one(uow: UnitOfWork, envelope: Envelope) -> None:
            await fn(context, uow, read(envelope.data), envelope)

        one.__name__ = getattr(fn, "__name__", "handler")
        return one


def handles(
    model: type[P], *, routing_keys: tuple[str, ...] = ()
) -> Callable[[TypedFn], TypedHandler[P]]:
    """Declare ``fn(ctx, uow, payload, envelope)`` the entrypoint of ``model``'s event type;
    ``routing_keys`` narrows the binding to some of the keys of its template."""
    for key in routing_keys:
        if not topic_matches(model.routing_pattern(), key):
            raise ValueError(f"{model.event_type!r} is never published with key {key!r}")

    def wrap(fn: TypedFn) -> TypedHandler[P]:
        return TypedHandler(model, fn, routing_keys=routing_keys)

    return wrap


def handles_batch(
    model: type[P],
    *,
    parse: Callable[[dict[str, Any]], Any] | None = None,
    prepare: PrepareFn | None = None,
) -> Callable[[BatchFn], TypedHandler[P]]:
    """Declare ``fn(ctx, uow, [(payload, envelope, delivery), ...])`` for runs of ``model``;
    ``parse`` reads each payload instead of ``model``'s validation; ``prepare(ctx, uow,
    envelopes)`` runs once per micro-batch first, for all handlers naming it."""

    def wrap(fn: BatchFn) -> TypedHandler[P]:
        async def single(ctx: Any, uow: UnitOfWork, payload: Any, envelope: Envelope) -> None:
            await fn(ctx, uow, [(payload, envelope, current_delivery())])

        return TypedHandler(model, single, batch=fn, parse=parse, prepare=prepare)

    return wrap


def handler_map(*handlers: TypedHandler[Any]) -> dict[str, TypedHandler[Any]]:
    """The handler map of a service, keyed by event type; a type named twice is refused."""
    mapping: dict[str, TypedHandler[Any]] = {}
    for handler in handlers:
        if handler.event_type in mapping:
            raise ValueError(f"two handlers for {handler.event_type!r}")
        mapping[handler.event_type] = handler
    return mapping


def bind_handlers(
    handlers: Mapping[str, TypedHandler[Any] | Handler | BatchHandler], context: Any
) -> dict[str, Handler | BatchHandler]:
    """What the consumer calls: typed handlers bound to the service context once."""
    return {
        event_type: h.bind(context) if isinstance(h, TypedHandler) else h
        for event_type, h in handlers.items()
    }


def derive_bindings(
    handlers: Mapping[str, object], extra: Iterable[Binding] = ()
) -> tuple[Binding, ...]:
    """One binding per handled event type, where its payload model says it is published, plus
    the ``extra`` bindings a service declares for a real reason (a catch-all, say).

    On ``housing.events`` the routing key is the event type; an event published under a
    template (``response.{department}``, ``alert.raised.{colour}``) is bound with ``*`` for
    each placeholder, or with the keys its handler names (``handles(..., routing_keys=...)``).
    """
    derived: list[Binding] = []
    for event_type in sorted(handlers):
        handler = handlers[event_type]
        model = handler.model if isinstance(handler, TypedHandler) else payload_model(event_type)
        if model is None:
            bindings = [Binding(event_type)]
        elif isinstance(handler, TypedHandler) and handler.routing_keys:
            bindings = [Binding(key, exchange=model.exchange) for key in handler.routing_keys]
        else:
            bindings = [Binding(model.routing_pattern(), exchange=model.exchange)]
        derived += [b for b in bindings if b not in derived]
    for binding in extra:
        if binding not in derived:
            derived.append(binding)
    return tuple(derived)
