"""A TCP relay between a process and the real RabbitMQ that a test can break the way networks
break: silently. Nothing here imitates the broker; every byte the client sends reaches the real
one until the test says otherwise.

* ``sever_broker_side(name)``: the broker's half of the connections whose AMQP connection name
  contains ``name`` is reset (the broker drops the connection and its consumers), the client's
  half stays open and hears nothing: a half-open connection, as a NAT or firewall that forgot
  the flow leaves it. The client believes it still consumes.
* ``freeze(name)``: nothing more passes either way, both halves stay open: a link that accepts
  writes and never answers (no confirm, no reply).
* ``refuse = True``: new connections are closed at once (the broker unreachable).
* ``stall_new_after = n``: new connections pass the broker's first ``n`` reads (3 is the AMQP
  handshake: Start, Tune, Open-Ok), then freeze: a broker that lets the client in and never
  answers what comes next (a restore that waits for ever).
* ``drop(name)``: both halves closed, as ``rabbitmqctl close_connection`` would (the client
  reconnects).

Connections opened after a sever or a freeze pass normally (unless refused): a rebuilt link
works.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

# The client's connection name travels in Connection.Start-Ok, within its first few hundred
# bytes; sniffing that much is enough to tell ``<name>:publish`` from ``<name>:consume``.
SNIFF_BYTES = 4096


@dataclass
class _Pair:
    client: asyncio.StreamWriter
    broker: asyncio.StreamWriter
    head: bytearray = field(default_factory=bytearray)
    severed: bool = False
    frozen: bool = False
    stall_after: int | None = None

    def named(self, part: str) -> bool:
        return part.encode() in self.head


class BrokerLink:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.refuse = False
        self.stall_new_after: int | None = None
        self.pairs: list[_Pair] = []
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    def url(self, port: int) -> str:
        return f"amqp://guest:guest@127.0.0.1:{port}/"

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.refuse:
            writer.transport.abort()
            return
        up_reader, up_writer = await asyncio.open_connection(self.host, self.port)
        pair = _Pair(client=writer, broker=up_writer, stall_after=self.stall_new_after)
        self.pairs.append(pair)
        await asyncio.gather(
            self._pipe(reader, up_writer, pair, sniff=True),
            self._pipe(up_reader, writer, pair, sniff=False),
        )

    async def _pipe(
        self,
        src: asyncio.StreamReader,
        dst: asyncio.StreamWriter,
        pair: _Pair,
        *,
        sniff: bool,
    ) -> None:
        try:
            while data := await src.read(65536):
                if sniff and len(pair.head) < SNIFF_BYTES:
                    pair.head += data[:SNIFF_BYTES]
                if not sniff and pair.stall_after is not None:
                    if pair.stall_after == 0:
                        pair.frozen = True
                    pair.stall_after -= 1
                if pair.frozen or pair.severed:
                    continue  # swallowed: the other side never hears of it
                dst.write(data)
                await dst.drain()
        except (OSError, RuntimeError):
            pass
        finally:
            # A severed or frozen pair keeps the client's half open: that is the fault.
            if not (pair.severed or pair.frozen):
                dst.close()

    def _matching(self, part: str) -> list[_Pair]:
        found = [p for p in self.pairs if p.named(part) and not (p.severed or p.frozen)]
        assert found, f"no open connection named *{part}*"
        return found

    def sever_broker_side(self, part: str) -> None:
        for pair in self._matching(part):
            pair.severed = True
            pair.broker.transport.abort()  # a reset, as the broker sees a vanished peer

    def drop(self, part: str) -> None:
        for pair in self._matching(part):
            pair.broker.transport.abort()
            pair.client.transport.abort()

    def freeze(self, part: str) -> None:
        for pair in self._matching(part):
            pair.frozen = True

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
        for pair in self.pairs:
            for writer in (pair.client, pair.broker):
                with contextlib.suppress(Exception):
                    writer.transport.abort()
