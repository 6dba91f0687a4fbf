"""Who may publish which event: each service's broker account and the check a consumer makes.

Every service logs in to RabbitMQ with an account of its own and stamps each message it
publishes with the AMQP ``user_id`` property. RabbitMQ refuses a message whose ``user_id`` is
not the login of the connection that sends it (PRECONDITION_FAILED), so ``user_id`` is proof
of the sender that the body's ``producer`` field is not. A consumer admits an internal event
type only from the account of the service the catalogue names as its producer: a forged
``credit.ban_lifted`` from another client, however well-formed, is parked as
``unexpected_producer``. Department answers are not checked here: their proof is the route
(a department account may publish only its own ``response.<department>`` key).

Copies that come back through the default exchange (our own retries, dead letters and
replays) are published by the consuming service itself, so their ``user_id`` is our own
account and the original publisher travels in ``ORIGINAL_USER_HEADER``; that header is
believed only on such a copy, never on a message from anyone else.
"""

from __future__ import annotations

from dataclasses import dataclass

from aio_pika.abc import AbstractIncomingMessage

from shared.events.base import payload_model
from shared.events.envelope import Envelope
from shared.settings import login_of

__all__ = ["ORIGINAL_USER_HEADER", "ProducerAccounts", "UnexpectedProducer", "login_of"]

ORIGINAL_USER_HEADER = "x-original-user-id"

# The catalogue's producer of events every service emits (``audit.checkpointed``): the
# envelope's own producer field then names the service, whose account must have sent it.
EVERY_SERVICE = "every service"


class UnexpectedProducer(ValueError):
    """An internal event type sent by an account other than its producer's."""


@dataclass(frozen=True)
class ProducerAccounts:
    """The broker account of every service (``broker_user_template``) and this one's own."""

    own: str
    template: str
    services: tuple[str, ...]

    def of(self, service: str) -> str:
        return self.template.format(service=service)

    def publisher(self, message: AbstractIncomingMessage) -> str | None:
        """The account that published the event, as the broker vouches for it."""
        if not message.exchange:
            # Only we publish to our queues through the default exchange; a copy that says
            # otherwise is not ours, and its header says nothing.
            if message.user_id != self.own:
                return None
            original = (message.headers or {}).get(ORIGINAL_USER_HEADER)
            return str(original) if original else None
        return message.user_id

    def owner(self, envelope: Envelope) -> str | None:
        """The producer whose account must have sent this event (for ``audit.checkpointed``
        the service the envelope names, which may be no service at all); None when no account
        is checked: uncatalogued types (judged by the route and the handler map alone) and
        outside parties (department answers: the route is the proof)."""
        model = payload_model(envelope.type, envelope.version)
        owner = getattr(model, "producer", None)
        if owner == EVERY_SERVICE:
            return envelope.producer
        return owner if owner in self.services else None

    def refusal(self, message: AbstractIncomingMessage, envelope: Envelope) -> str | None:
        """Why the publisher may not send this event; None when it may."""
        owner = self.owner(envelope)
        if owner is None:
            return None
        if owner not in self.services:
            return f"type {envelope.type!r} names producer {owner!r}, which is no service"
        expected = self.of(owner)
        sender = self.publisher(message)
        if sender == expected:
            return None
        who = repr(sender) if sender else "a client that did not identify itself"
        return f"type {envelope.type!r} is published by {owner} ({expected!r}), not by {who}"
