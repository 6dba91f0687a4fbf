"""A consumer process for test (b): it dies (os._exit) in the middle of handling a crash event.

Run as ``python -m tests.integration.crash_consumer DB_URL AMQP_URL PREFIX SERVICE``.
"""

from __future__ import annotations

import asyncio
import sys

from tests.integration.eventlayer import Layer


async def main(database_url: str, amqp_url: str, prefix: str, service: str) -> None:
    layer = Layer(service=service, database_url=database_url, amqp_url=amqp_url, prefix=prefix)
    await layer.connect()
    await layer.consumer(prefetch=1).start()
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
