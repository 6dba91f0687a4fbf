"""The department request queues on ``housing.verification`` — declared by verification.

Each department system reads its requests from ``<queue_prefix>.dept.<department>``, a durable
quorum queue bound to ``request.<department>``: requests wait there while the department's
system is offline, and survive broker restarts. Verification declares them when it starts
(and re-checks them periodically) because it is the publisher: the relay publishes with
``mandatory``, so a request with no queue to go to would stay in the outbox rather than be
lost, and department users have no configure permission (they cannot declare anything; see
``deploy/rabbitmq/department_users.sh``). A request that a department system rejects or
crashes on ``delivery_limit`` times is parked in ``<queue>.dead`` for an operator.
"""

from __future__ import annotations

from collections.abc import Iterable

from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractQueue

from shared.amqp.topology import QUORUM


def request_routing_key(department: str) -> str:
    return f"request.{department}"


def response_routing_key(department: str) -> str:
    return f"response.{department}"


def department_queue_name(queue_prefix: str, department: str) -> str:
    return f"{queue_prefix}.dept.{department}"


async def declare_department_queues(
    channel: AbstractChannel,
    exchange: AbstractExchange,
    *,
    queue_prefix: str,
    departments: Iterable[str],
    delivery_limit: int,
) -> dict[str, AbstractQueue]:
    queues: dict[str, AbstractQueue] = {}
    for department in departments:
        name = department_queue_name(queue_prefix, department)
        await channel.declare_queue(f"{name}.dead", durable=True, arguments=dict(QUORUM))
        queue = await channel.declare_queue(
            name,
            durable=True,
            arguments={
                **QUORUM,
                "x-delivery-limit": delivery_limit,
                "x-dead-letter-exchange": "",
                "x-dead-letter-routing-key": f"{name}.dead",
            },
        )
        await queue.bind(exchange, routing_key=request_routing_key(department))
        queues[department] = queue
    return queues
