"""Tables every service database has: the outbox, the inbox and the audit log.

They live in their own ``MetaData`` so that each service's first migration creates them next to
its own tables, and the shared code that reads and writes them needs no service import.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

platform_metadata = sa.MetaData()

# ``sa.Table(..., info=APPEND_ONLY_INFO)``: rows are never updated or deleted (a trigger refuses
# it); the application role gets SELECT and INSERT only (shared.migrations).
APPEND_ONLY = "append_only"
APPEND_ONLY_INFO = {APPEND_ONLY: True}

# Events waiting to be published. Written in the business transaction; the relay marks a row
# sent only after the broker confirmed it.
outbox = sa.Table(
    "outbox",
    platform_metadata,
    sa.Column("seq", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("id", pg.UUID(as_uuid=True), nullable=False, unique=True),
    sa.Column("type", sa.Text, nullable=False),
    sa.Column("exchange", sa.Text, nullable=False),
    sa.Column("routing_key", sa.Text, nullable=False),
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("correlation_id", sa.Text, nullable=False),
    # The serialised envelope, published byte for byte.
    sa.Column("body", sa.LargeBinary, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("sent_at", sa.DateTime(timezone=True)),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column(
        "next_attempt_at",
        sa.DateTime(timezone=True),
        nullable=False,
        server_default=sa.func.now(),
    ),
    sa.Column("last_error", sa.Text),
)
sa.Index(
    "outbox_pending",
    outbox.c.next_attempt_at,
    outbox.c.seq,
    postgresql_where=outbox.c.sent_at.is_(None),
)

# The retention purge deletes published rows by age.
sa.Index("outbox_sent", outbox.c.sent_at, postgresql_where=outbox.c.sent_at.is_not(None))

# Event ids this service has handled; inserted in the handler's transaction, so a redelivered
# event finds its id here and changes nothing.
inbox = sa.Table(
    "inbox",
    platform_metadata,
    sa.Column("event_id", pg.UUID(as_uuid=True), primary_key=True),
    sa.Column("type", sa.Text, nullable=False),
    sa.Column("handled_at", sa.DateTime(timezone=True), nullable=False),
)
sa.Index("inbox_handled_at", inbox.c.handled_at)
