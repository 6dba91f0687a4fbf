"""Signed checkpoints of a service's audit chain head (审计日志签名检查点).

The hash chain (:mod:`shared.audit.log`) shows an edit, but not an edit whose author recomputed
every later hash, nor a cut tail. Like Certificate Transparency's signed tree heads, a
checkpoint fixes ``(service, seq, head_hash, signed_at)`` with an Ed25519 signature made with a
key the database never holds (``HOUSING_AUDIT_CHECKPOINT_KEY``, read from the environment), and
is published outside the database: the ``audit.checkpointed`` event, which publication keeps on
a public page and forwards to the provincial supervision platform. ``python -m shared.audit
verify --checkpoints`` then checks the chain against what was published; see docs/audit.md.

The key is the base64url (unpadded) 32-byte Ed25519 seed. Its public half is published as a
JWK (RFC 8037, ``kty`` OKP, ``crv`` Ed25519) under its RFC 7638 thumbprint, the ``key_id``.
"""

from __future__ import annotations

import binascii
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
import structlog
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.audit.log import (
    GENESIS_HASH,
    AuditEntry,
    audit_log,
    canonical_json,
    utc_iso,
)
from shared.clock import now
from shared.db import UnitOfWork
from shared.events.catalogue import AuditCheckpointed
from shared.jwk import b64url, jwks, key_id, public_key_from_jwk, public_x, unb64url
from shared.tables import platform_metadata

log = structlog.get_logger(__name__)

CHECKPOINT_REFUSED = Counter(
    "audit_checkpoint_refused_total",
    "Ticks that found the audit chain no longer extending its last signed checkpoint",
    ["service"],
)

__all__ = [
    "Checkpoint",
    "CheckpointKey",
    "CheckpointRefused",
    "audit_checkpoints",
    "checkpoint_statement",
    "jwks",
    "key_id",
    "public_key_from_jwk",
]

# Signed in front of every statement, so a checkpoint signature can never be passed off as a
# signature over anything else made with the same key.
_DOMAIN = b"housing-platform audit checkpoint v1\n"

# The checkpoints this service signed, newest last: the signing job's memory of where it left
# off. Only a convenience: deleting rows here loses nothing (the published copies count), and
# no row can be forged without the key.
audit_checkpoints = sa.Table(
    "audit_checkpoints",
    platform_metadata,
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("head_hash", sa.Text, nullable=False),
    sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("key_id", sa.Text, nullable=False),
    sa.Column("signature", sa.Text, nullable=False),
)


class CheckpointKey:
    """The signing half, built from the secret setting; never stored, never logged."""

    def __init__(self, secret: str) -> None:
        try:
            seed = unb64url(secret.strip())
        except (ValueError, binascii.Error) as exc:
            raise ValueError("the audit checkpoint key is not base64url") from exc
        if len(seed) != 32:
            raise ValueError("the audit checkpoint key must be a 32-byte Ed25519 seed")
        self._private = Ed25519PrivateKey.from_private_bytes(seed)
        self.x = public_x(self._private.public_key())
        self.key_id = key_id(self.x)

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        return jwks([self.x])

    def sign(self, service: str, seq: int, head_hash: str, signed_at: datetime) -> Checkpoint:
        unsigned = Checkpoint(service, seq, head_hash, signed_at, self.key_id, "")
        signature = self._private.sign(unsigned.statement())
        return Checkpoint(service, seq, head_hash, signed_at, self.key_id, b64url(signature))


def checkpoint_statement(service: str, seq: int, head_hash: str, signed_at: datetime) -> bytes:
    """The bytes an Ed25519 signature covers: a fixed prefix and the canonical JSON of the
    four facts (sorted keys, no whitespace; ``signed_at`` in UTC with microseconds)."""
    facts = {
        "head_hash": head_hash,
        "seq": seq,
        "service": service,
        "signed_at": utc_iso(signed_at),
    }
    return _DOMAIN + canonical_json(facts).encode("utf-8")


class CheckpointRefused(ValueError):
    """A checkpoint that may not be relied on: unknown key or a signature that does not
    verify. The message names the checkpoint, never key material."""


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """``seq`` 0 with :data:`GENESIS_HASH` is the checkpoint of an empty chain."""

    service: str
    seq: int
    head_hash: str
    signed_at: datetime
    key_id: str
    signature: str

    def statement(self) -> bytes:
        return checkpoint_statement(self.service, self.seq, self.head_hash, self.signed_at)

    def check(self, keys: Mapping[str, Ed25519PublicKey]) -> None:
        """Raise :class:`CheckpointRefused` unless signed by one of ``keys`` (by key id)."""
        where = f"checkpoint of {self.service} at seq {self.seq}"
        public = keys.get(self.key_id)
        if public is None:
            raise CheckpointRefused(f"{where} is signed by unknown key {self.key_id}")
        try:
            public.verify(unb64url(self.signature), self.statement())
        except (InvalidSignature, ValueError, binascii.Error):
            raise CheckpointRefused(f"{where}: signature does not verify") from None

    def as_json(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "seq": self.seq,
            "head_hash": self.head_hash,
            "signed_at": utc_iso(self.signed_at),
            "key_id": self.key_id,
            "signature": self.signature,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Checkpoint:
        """From a published checkpoint (or an ``audit.checkpointed`` payload); other keys, such
        as the ``public_key`` it names, are ignored: trust comes from the verifier's keys."""
        try:
            signed_at = data["signed_at"]
            if not isinstance(signed_at, datetime):
                signed_at = datetime.fromisoformat(str(signed_at))
            checkpoint = cls(
                service=str(data["service"]),
                seq=int(data["seq"]),
                head_hash=str(data["head_hash"]).lower(),
                signed_at=signed_at,
                key_id=str(data["key_id"]),
                signature=str(data["signature"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointRefused(f"malformed checkpoint: {type(exc).__name__}") from None
        if signed_at.tzinfo is None or checkpoint.seq < 0 or len(checkpoint.head_hash) != 64:
            raise CheckpointRefused("malformed checkpoint: seq, head_hash or signed_at")
        return checkpoint


def keys_of(document: Mapping[str, Any]) -> dict[str, Ed25519PublicKey]:
    """Key id -> public key of a JWK Set; the key id is recomputed, never taken on trust."""
    found: dict[str, Ed25519PublicKey] = {}
    for jwk in document.get("keys", []):
        public = public_key_from_jwk(jwk)
        found[key_id(public_x(public))] = public
    if not found:
        raise ValueError("the key set holds no Ed25519 key")
    return found


# --- the signing step ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChainHead:
    seq: int
    hash: str


async def chain_head(conn: AsyncConnection) -> ChainHead:
    last = (
        await conn.execute(
            sa.select(audit_log.c.seq, audit_log.c.hash).order_by(audit_log.c.seq.desc()).limit(1)
        )
    ).first()
    return ChainHead(last.seq, last.hash) if last is not None else ChainHead(0, GENESIS_HASH)


async def last_checkpoint(conn: AsyncConnection) -> sa.Row[Any] | None:
    return (
        await conn.execute(
            sa.select(audit_checkpoints).order_by(audit_checkpoints.c.seq.desc()).limit(1)
        )
    ).first()


async def extends(conn: AsyncConnection, since: ChainHead, head: ChainHead) -> str | None:
    """None when the rows after ``since`` up to ``head`` chain on from it, else why not.

    Run before every signature: the job must never certify a chain that was rewritten behind
    the last checkpoint it signed. Reads only the rows added since, so a tick stays cheap.
    """
    if since.seq > 0:
        stored = await conn.scalar(sa.select(audit_log.c.hash).where(audit_log.c.seq == since.seq))
        if stored is None:
            return f"seq {since.seq} of the last checkpoint is missing"
        if stored != since.hash:
            return f"seq {since.seq} no longer has the hash of the last checkpoint"
    prev_seq, prev_hash = since.seq, since.hash
    result = await conn.stream(
        sa.select(audit_log)
        .where(audit_log.c.seq > since.seq, audit_log.c.seq <= head.seq)
        .order_by(audit_log.c.seq)
        .execution_options(yield_per=1000)
    )
    try:
        async for row in result:
            entry = AuditEntry.from_row(row)
            if (
                entry.seq != prev_seq + 1
                or entry.prev_hash != prev_hash
                or entry.computed_hash() != entry.hash
            ):
                return f"seq {entry.seq} does not chain on from seq {prev_seq}"
            prev_seq, prev_hash = entry.seq, entry.hash
    finally:
        await result.close()
    if prev_seq != head.seq:
        return f"rows between seq {prev_seq} and seq {head.seq} are missing"
    return None


async def sign_head(uow: UnitOfWork, service: str, key: CheckpointKey) -> Checkpoint | None:
    """One tick of the checkpoint job: sign the chain head if it moved, keep the checkpoint
    and emit ``audit.checkpointed`` in the same transaction; None when there was nothing new
    or the chain no longer extends the last checkpoint (which is logged and never signed)."""
    conn = uow.conn
    # No audit lock: the head read is a committed row, and no writer can later commit a row at
    # or below it (seq is gap-free, assigned under that lock), so writers never wait for this.
    head = await chain_head(conn)
    previous = await last_checkpoint(conn)
    since = ChainHead(previous.seq, previous.head_hash) if previous else ChainHead(0, GENESIS_HASH)
    if head == since:
        return None
    problem = await extends(conn, since, head)
    if problem is not None:
        log.error("audit_chain_not_checkpointed", service=service, reason=problem)
        CHECKPOINT_REFUSED.labels(service).inc()
        return None
    checkpoint = key.sign(service, head.seq, head.hash, now())
    facts = asdict(checkpoint)
    # No service column: the table is in the service's own database.
    kept = {name: value for name, value in facts.items() if name != "service"}
    await conn.execute(audit_checkpoints.insert().values(kept))
    uow.emit(AuditCheckpointed(**facts, public_key=key.x), subject=f"audit:{service}")
    return checkpoint
