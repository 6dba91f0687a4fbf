"""The audit log: append-only, hash-chained, one chain per service database (全程留痕、永久追溯).

Every operation a service performs on behalf of someone, and every read of a household's
personal data by staff, is recorded here by :func:`record` / :func:`record_many` inside the
business transaction that does the work, so "it happened" and "it was recorded" commit or roll
back together.

Two independent protections make history tamper-evident:

* The database refuses ``UPDATE``, ``DELETE`` and ``TRUNCATE`` on ``audit_log`` for every role
  (:data:`AUDIT_DDL`). The triggers are ``ENABLE ALWAYS`` so that
  ``session_replication_role = replica`` does not bypass them.
* Each row carries ``hash = sha256(prev_hash + canonical_json(row))`` where ``prev_hash`` is the
  previous row's hash. A superuser can disable the triggers, but then any edit, deletion or
  insertion shows up in :func:`verify` as the first broken link. Someone who rewrites the whole
  chain from the edit onwards produces a chain that is consistent again; that is caught only by
  comparing with a head hash recorded outside the database earlier (``verify(anchors=...)``,
  ``python -m shared.audit verify --anchor SEQ:HASH``), which is why the CLI prints the head.

``details`` must not contain raw personal data: the log can never be purged, so callers pass
masked values (张*三, 3502**********1234) or internal ids. :func:`record` refuses anything that
looks like a full resident ID number (GB 11643 with a valid check digit).
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.ext.asyncio import AsyncConnection

from shared import correlation, db
from shared.clock import now
from shared.tables import APPEND_ONLY_INFO, platform_metadata

__all__ = [
    "AUDIT_DDL",
    "AUDIT_DOWNGRADE_DDL",
    "AUDIT_LOCK_KEY",
    "GENESIS_HASH",
    "AuditEntry",
    "VerifyResult",
    "audit_log",
    "canonical_json",
    "entry_hash",
    "record",
    "record_many",
    "verify",
]

GENESIS_HASH = "0" * 64

# pg_advisory_xact_lock key that serialises audit writers: the bytes of "auditlog" read as a
# big-endian integer (fits a signed bigint). Fixed forever, because writers on different
# versions of the code must contend for the same lock or the chain could fork.
AUDIT_LOCK_KEY = int.from_bytes(b"auditlog", "big")

# ``seq`` is assigned by record() as "last seq + 1" under the advisory lock instead of by an
# identity column: sequences hand out numbers to transactions that later roll back, and those
# holes would be indistinguishable from deleted rows. Gap-free numbering lets verify() report
# a deletion as "gap in sequence", and a primary-key violation (rather than a silent fork) is
# what a writer with a stale snapshot gets.
audit_log = sa.Table(
    "audit_log",
    platform_metadata,
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("id", pg.UUID(as_uuid=True), nullable=False, unique=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    # The user's ``sub`` for staff and applicants, the service name for automatic steps.
    sa.Column("actor", sa.Text, nullable=False),
    # Sorted, comma-separated roles the actor held when acting.
    sa.Column("actor_roles", sa.Text, nullable=False, server_default=""),
    # Division code or department code of the actor's unit.
    sa.Column("actor_org", sa.Text),
    # What happened, ``<subject>.<verb>``: ``application.accepted``, ``personal_data.read``.
    sa.Column("action", sa.Text, nullable=False),
    sa.Column("subject_type", sa.Text, nullable=False),
    sa.Column("subject_id", sa.Text, nullable=False),
    sa.Column("correlation_id", sa.Text),
    # Masked values only (see module docstring); hashed in canonical form.
    sa.Column("details", pg.JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
    # Unique: two rows claiming the same predecessor would be a fork; the database refuses it.
    sa.Column("prev_hash", sa.Text, nullable=False, unique=True),
    sa.Column("hash", sa.Text, nullable=False),
    info=APPEND_ONLY_INFO,
)
sa.Index("audit_log_subject", audit_log.c.subject_type, audit_log.c.subject_id, audit_log.c.seq)
sa.Index("audit_log_actor", audit_log.c.actor, audit_log.c.seq)

_FIELDS = tuple(column.name for column in audit_log.columns)

# Statements to run after the table exists (idempotent, so a migration may run them again).
# No ':' or '%' in them, so they pass unchanged through sa.text(), exec_driver_sql() or Alembic.
# Frozen with the platform's first migration step (shared.migrations.create_platform_tables):
# a change to the guards is a new migration step, never an edit of this text.
AUDIT_DDL: list[str] = [
    """
    CREATE OR REPLACE FUNCTION audit_log_refuse_change() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION USING
            MESSAGE = 'audit_log is append-only; ' || TG_OP || ' refused',
            HINT = 'History is corrected by recording a new entry, never by editing one.';
    END
    $$
    """,
    "DROP TRIGGER IF EXISTS audit_log_no_update ON audit_log",
    """
    CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_change()
    """,
    "DROP TRIGGER IF EXISTS audit_log_no_delete ON audit_log",
    """
    CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_change()
    """,
    "DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log",
    """
    CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change()
    """,
    # Ordinary triggers do not fire under session_replication_role = replica, which any
    # superuser can set for their session; ALWAYS triggers do.
    "ALTER TABLE audit_log ENABLE ALWAYS TRIGGER audit_log_no_update",
    "ALTER TABLE audit_log ENABLE ALWAYS TRIGGER audit_log_no_delete",
    "ALTER TABLE audit_log ENABLE ALWAYS TRIGGER audit_log_no_truncate",
]

AUDIT_DOWNGRADE_DDL: list[str] = [
    "DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log",
    "DROP TRIGGER IF EXISTS audit_log_no_delete ON audit_log",
    "DROP TRIGGER IF EXISTS audit_log_no_update ON audit_log",
    "DROP FUNCTION IF EXISTS audit_log_refuse_change()",
]


# --- canonical form ------------------------------------------------------------------------

_RESIDENT_ID = re.compile(
    r"(?<![0-9])[1-9][0-9]{5}(?:18|19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])"
    r"[0-9]{3}[0-9Xx](?![0-9A-Za-z])"
)
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK_CHARS = "10X98765432"


def _contains_resident_id(text: str) -> bool:
    for match in _RESIDENT_ID.finditer(text):
        candidate = match.group(0).upper()
        total = sum(int(d) * w for d, w in zip(candidate[:17], _ID_WEIGHTS, strict=True))
        if _ID_CHECK_CHARS[total % 11] == candidate[17]:
            return True
    return False


def _refuse_personal_data(text: str, where: str) -> None:
    # The message names the field, never the value: it may end up in logs and responses.
    if _contains_resident_id(text):
        raise ValueError(
            f"audit {where} contains what looks like a full resident ID number; "
            "the audit log is permanent, pass a masked value instead"
        )


def utc_iso(value: datetime) -> str:
    if value.tzinfo is None or value.utcoffset() is None:
        raise TypeError("audit timestamps must be timezone-aware")
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def _normalise(value: Any, where: str) -> Any:
    """Turn ``details`` into plain JSON values that survive a JSONB round trip unchanged.

    JSONB keeps numbers as ``numeric`` (``1e2`` comes back as ``100``, so a float may not read
    back as the float that was hashed); floats are refused and exact types are converted to
    strings the caller can still read.
    """
    if isinstance(value, Enum):
        return _normalise(value.value, where)
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        _refuse_personal_data(value, where)
        return str.__str__(value)
    if isinstance(value, int):
        _refuse_personal_data(str(value), where)
        return int(value)
    if isinstance(value, float):
        raise TypeError(
            f"audit {where} is a float, which JSONB may not return bit for bit; "
            "pass a Decimal, a string or an integer"
        )
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return utc_iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Mapping):
        result: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"audit {where} has a non-string key")
            _refuse_personal_data(key, where)
            result[str.__str__(key)] = _normalise(item, f"{where}.{key}")
        return result
    if isinstance(value, list | tuple):
        return [_normalise(item, f"{where}[{i}]") for i, item in enumerate(value)]
    raise TypeError(f"audit {where} has a value of unsupported type {type(value).__name__}")


def canonical_json(value: Any) -> str:
    """The one textual form that is hashed: sorted keys, no whitespace, UTF-8 characters."""
    return json.dumps(
        value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False
    )


def entry_hash(prev_hash: str, fields: Mapping[str, Any]) -> str:
    """``sha256(prev_hash + canonical_json(fields))`` as 64 lowercase hex digits."""
    return hashlib.sha256((prev_hash + canonical_json(fields)).encode("utf-8")).hexdigest()


# --- entries -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One row of ``audit_log``, exactly as stored."""

    seq: int
    id: uuid.UUID
    at: datetime
    actor: str
    actor_roles: str
    actor_org: str | None
    action: str
    subject_type: str
    subject_id: str
    correlation_id: str | None
    details: dict[str, Any]
    prev_hash: str
    hash: str

    @property
    def roles(self) -> tuple[str, ...]:
        return tuple(self.actor_roles.split(",")) if self.actor_roles else ()

    def hashed_fields(self) -> dict[str, Any]:
        """Everything the hash covers besides ``prev_hash``, in JSON-ready form.

        Built from the stored values only, so verify() recomputes it from what it reads back.
        """
        return {
            "seq": self.seq,
            "id": str(self.id),
            "at": utc_iso(self.at),
            "actor": self.actor,
            "actor_roles": self.actor_roles,
            "actor_org": self.actor_org,
            "action": self.action,
            "subject_type": self.subject_type,
            "subject_id": self.subject_id,
            "correlation_id": self.correlation_id,
            "details": self.details,
        }

    def computed_hash(self) -> str:
        return entry_hash(self.prev_hash, self.hashed_fields())

    @classmethod
    def from_row(cls, row: sa.Row[Any]) -> AuditEntry:
        return cls(**row._asdict())


@dataclass(frozen=True, slots=True)
class _Draft:
    actor: str
    actor_roles: str
    actor_org: str | None
    action: str
    subject_type: str
    subject_id: str
    correlation_id: str | None
    details: dict[str, Any]


def _text(name: str, value: object, *, required: bool = True) -> str | None:
    if value is None and not required:
        return None
    if isinstance(value, uuid.UUID):
        value = str(value)
    if not isinstance(value, str) or (required and not value):
        raise TypeError(f"audit {name} must be a non-empty string")
    _refuse_personal_data(value, name)
    return str.__str__(value)


def _draft(
    *,
    actor: str,
    action: str,
    subject_type: str,
    subject_id: str | uuid.UUID,
    details: Mapping[str, Any] | None = None,
    actor_roles: Iterable[str] = (),
    actor_org: str | None = None,
    correlation_id: str | None = None,
) -> _Draft:
    if isinstance(actor_roles, str):
        # A bare string would otherwise be split into characters.
        actor_roles = (actor_roles,)
    roles = sorted({str(role) for role in actor_roles})
    if any(not role or "," in role for role in roles):
        raise ValueError("audit actor_roles must be non-empty names without commas")
    if details is not None and not isinstance(details, Mapping):
        raise TypeError("audit details must be a mapping")
    if correlation_id is None:
        correlation_id = correlation.current_correlation_id()
    return _Draft(
        actor=_text("actor", actor),  # type: ignore[arg-type]
        actor_roles=",".join(roles),
        actor_org=_text("actor_org", actor_org, required=False),
        action=_text("action", action),  # type: ignore[arg-type]
        subject_type=_text("subject_type", subject_type),  # type: ignore[arg-type]
        subject_id=_text("subject_id", subject_id),  # type: ignore[arg-type]
        correlation_id=_text("correlation_id", correlation_id, required=False),
        details=_normalise(dict(details or {}), "details"),
    )


# The append's statements, fixed text on the driver: every audited request runs them while it
# holds the chain's lock, so their client cost is the length of the queue behind it.
_LOCK_CHAIN = f"SELECT pg_advisory_xact_lock({AUDIT_LOCK_KEY})"
_CHAIN_HEAD = "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1"
_APPEND = f"""
INSERT INTO audit_log ({", ".join(_FIELDS)})
SELECT seq, id, at, actor, actor_roles, actor_org, action, subject_type, subject_id,
       correlation_id, details::jsonb, prev_hash, hash
FROM unnest($1::bigint[], $2::uuid[], $3::timestamptz[], $4::text[], $5::text[], $6::text[],
            $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[],
            $13::text[])
    AS entry({", ".join(_FIELDS)})
"""


async def _append(conn: AsyncConnection, drafts: Sequence[_Draft]) -> list[AuditEntry]:
    # The lock is held until the caller's transaction ends, so the next writer reads the last
    # row only after this one committed (or rolled back) and the chain cannot fork. Its cost is
    # that audit writers queue behind each other: record late in the business transaction.
    await db.fetch(conn, _LOCK_CHAIN)
    # A separate statement: under READ COMMITTED its snapshot is taken after the lock was
    # granted, so it sees the previous holder's rows.
    head = await db.fetch(conn, _CHAIN_HEAD)
    seq, prev_hash = (head[0]["seq"], head[0]["hash"]) if head else (0, GENESIS_HASH)
    # Taken under the lock so that timestamps never go backwards along the chain.
    at = now()
    entries: list[AuditEntry] = []
    for draft in drafts:
        seq += 1
        unsigned = AuditEntry(
            seq=seq,
            id=uuid.uuid4(),
            at=at,
            actor=draft.actor,
            actor_roles=draft.actor_roles,
            actor_org=draft.actor_org,
            action=draft.action,
            subject_type=draft.subject_type,
            subject_id=draft.subject_id,
            correlation_id=draft.correlation_id,
            details=draft.details,
            prev_hash=prev_hash,
            hash="",
        )
        prev_hash = unsigned.computed_hash()
        entries.append(replace(unsigned, hash=prev_hash))
    columns = [
        [
            json.dumps(e.details, ensure_ascii=False) if f == "details" else getattr(e, f)
            for e in entries
        ]
        for f in _FIELDS
    ]
    await db.fetch(conn, _APPEND, *columns)
    return entries


async def record(
    conn: AsyncConnection,
    *,
    actor: str,
    action: str,
    subject_type: str,
    subject_id: str | uuid.UUID,
    details: Mapping[str, Any] | None = None,
    actor_roles: Iterable[str] = (),
    actor_org: str | None = None,
    correlation_id: str | None = None,
) -> AuditEntry:
    """Append one entry inside the caller's (READ COMMITTED) transaction.

    ``details`` holds masked values only; floats and full resident ID numbers are refused.
    ``correlation_id`` defaults to the one bound for the current request or message.
    """
    draft = _draft(
        actor=actor,
        action=action,
        subject_type=subject_type,
        subject_id=subject_id,
        details=details,
        actor_roles=actor_roles,
        actor_org=actor_org,
        correlation_id=correlation_id,
    )
    return (await _append(conn, [draft]))[0]


async def record_many(
    conn: AsyncConnection, entries: Sequence[Mapping[str, Any]]
) -> list[AuditEntry]:
    """Append several entries with one lock and one INSERT; each mapping takes record()'s
    keyword arguments. The entries are chained in the order given."""
    drafts = [_draft(**entry) for entry in entries]
    if not drafts:
        return []
    return await _append(conn, drafts)


# --- verification --------------------------------------------------------------------------

HASH_MISMATCH = "hash mismatch"
PREV_HASH_MISMATCH = "prev_hash does not match previous row"
GAP = "gap in sequence"
ANCHOR_MISMATCH = "hash does not match anchor"
ANCHOR_MISSING = "anchored entry is missing"


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """Outcome of :func:`verify`.

    ``checked`` counts the rows examined, including the first broken one. ``head_seq`` and
    ``head_hash`` describe the last row read; record them outside the database to use as an
    anchor in a later verification (signed checkpoints do that: ``shared.audit.checkpoint``).
    A missing anchored row is reported at the first row missing after the chain's end.
    """

    ok: bool
    checked: int
    first_broken_seq: int | None = None
    first_broken_id: uuid.UUID | None = None
    reason: str | None = None
    head_seq: int | None = None
    head_hash: str | None = None
    # The last anchor that matched before the first broken link (an anchor mismatch lies after
    # it), and the anchor that a cut-off chain does not reach.
    agreed_seq: int | None = None
    anchor_seq: int | None = None

    def summary(self) -> str:
        if self.ok:
            if self.head_seq is None:
                return "audit log intact: empty"
            return (
                f"audit log intact: {self.checked} entries checked, "
                f"head seq {self.head_seq} hash {self.head_hash}"
            )
        where = f"seq {self.first_broken_seq}"
        where += f" (id {self.first_broken_id})" if self.first_broken_id else " (no such row)"
        reason = self.reason
        if self.reason == ANCHOR_MISMATCH:
            # The chain itself is consistent here, so the edit lies after the last anchor that
            # still agrees; with an anchor on the row before, this very row was rewritten.
            if self.agreed_seq is not None and self.agreed_seq + 1 == self.first_broken_seq:
                reason += f"; this row was rewritten (the anchor at seq {self.agreed_seq} agrees)"
            else:
                after = self.agreed_seq or 0
                reason += (
                    f"; rewritten between seq {after + 1} and seq {self.first_broken_seq}, "
                    "re-hashed to the end"
                )
        elif self.reason == ANCHOR_MISSING:
            end = self.head_seq or 0
            cut = (
                f"row {end + 1} was"
                if self.anchor_seq == end + 1
                else (f"rows {end + 1} to {self.anchor_seq} were")
            )
            reason += f"; the chain ends at seq {end}, {cut} cut off"
        return f"audit log BROKEN at {where}: {reason}; {self.checked} entries checked"


async def verify(
    conn: AsyncConnection,
    *,
    anchors: Mapping[int, str] | None = None,
    batch_size: int = 1000,
) -> VerifyResult:
    """Recompute every hash and link in ``seq`` order and name the first broken link.

    Rows are streamed through a server-side cursor, so memory stays flat however long the log
    is; the single SELECT sees one consistent snapshot while writers carry on. ``anchors`` maps
    seq -> hash recorded earlier outside the database; they catch a chain rewritten from some
    point onwards and a truncated tail, which the chain alone cannot reveal.
    """
    pending = dict(anchors or {})
    prev_seq, prev_hash = 0, GENESIS_HASH
    checked = 0
    agreed: int | None = None

    def broken(entry: AuditEntry, reason: str) -> VerifyResult:
        return VerifyResult(
            ok=False,
            checked=checked,
            first_broken_seq=entry.seq,
            first_broken_id=entry.id,
            reason=reason,
            head_seq=prev_seq or None,
            head_hash=prev_hash if prev_seq else None,
            agreed_seq=agreed,
        )

    result = await conn.stream(
        sa.select(audit_log).order_by(audit_log.c.seq).execution_options(yield_per=batch_size)
    )
    try:
        async for row in result:
            entry = AuditEntry.from_row(row)
            checked += 1
            if entry.seq != prev_seq + 1:
                # Reported before the link: "rows are missing here" says more than "the link
                # is wrong", which follows from it.
                return broken(entry, GAP)
            if entry.prev_hash != prev_hash:
                return broken(entry, PREV_HASH_MISMATCH)
            if entry.computed_hash() != entry.hash:
                return broken(entry, HASH_MISMATCH)
            expected = pending.pop(entry.seq, None)
            if expected is not None:
                if expected != entry.hash:
                    return broken(entry, ANCHOR_MISMATCH)
                agreed = entry.seq
            prev_seq, prev_hash = entry.seq, entry.hash
    finally:
        await result.close()

    if pending:
        # Every row was read and chained, so an anchor not reached lies beyond the chain's end:
        # the tail was cut, and the first row missing is the one after the end.
        return VerifyResult(
            ok=False,
            checked=checked,
            first_broken_seq=prev_seq + 1,
            reason=ANCHOR_MISSING,
            head_seq=prev_seq or None,
            head_hash=prev_hash if prev_seq else None,
            agreed_seq=agreed,
            anchor_seq=max(pending),
        )
    return VerifyResult(
        ok=True,
        checked=checked,
        head_seq=prev_seq or None,
        head_hash=prev_hash if prev_seq else None,
    )
