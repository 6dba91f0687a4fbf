"""The append-only, hash-chained audit log every service writes (全程留痕、永久追溯).

``from shared.audit import record, record_many, verify, audit_log, AUDIT_DDL``; importing this
package registers ``audit_log`` on ``shared.tables.platform_metadata``. The implementation and
its reasoning are in :mod:`shared.audit.log`; ``python -m shared.audit verify`` checks a chain.
"""

from shared.audit.log import (
    ANCHOR_MISMATCH,
    ANCHOR_MISSING,
    AUDIT_DDL,
    AUDIT_DOWNGRADE_DDL,
    AUDIT_LOCK_KEY,
    GAP,
    GENESIS_HASH,
    HASH_MISMATCH,
    PREV_HASH_MISMATCH,
    AuditEntry,
    VerifyResult,
    audit_log,
    canonical_json,
    entry_hash,
    record,
    record_many,
    verify,
)

__all__ = [
    "ANCHOR_MISMATCH",
    "ANCHOR_MISSING",
    "AUDIT_DDL",
    "AUDIT_DOWNGRADE_DDL",
    "AUDIT_LOCK_KEY",
    "GAP",
    "GENESIS_HASH",
    "HASH_MISMATCH",
    "PREV_HASH_MISMATCH",
    "AuditEntry",
    "VerifyResult",
    "audit_log",
    "canonical_json",
    "entry_hash",
    "record",
    "record_many",
    "verify",
]
