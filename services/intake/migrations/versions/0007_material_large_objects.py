"""Uploaded materials' files move out of the row into PostgreSQL large objects.

``materials.content`` (bytea) becomes ``materials.content_oid`` (oid of a large object, see
``services/intake/material_files.py``); every existing file is copied into a large object in
this migration's transaction, historical imports without a file (empty content) keep NULL. The
SHA-256 column stays and is verified at every read.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("materials", sa.Column("content_oid", pg.OID(), nullable=True))
    op.execute(
        "UPDATE materials SET content_oid = lo_from_bytea(0, content) "
        "WHERE octet_length(content) > 0"
    )
    op.drop_column("materials", "content")


def downgrade() -> None:
    op.add_column(
        "materials",
        sa.Column("content", sa.LargeBinary(), server_default=sa.text("''::bytea"), nullable=False),
    )
    op.execute("UPDATE materials SET content = lo_get(content_oid) WHERE content_oid IS NOT NULL")
    # Only the owner of a large object may unlink it: those the running service wrote belong
    # to the application role and stay behind for `vacuumlo` (run as a superuser).
    op.execute(
        "SELECT lo_unlink(m.content_oid) FROM materials m "
        "JOIN pg_largeobject_metadata l ON l.oid = m.content_oid "
        "WHERE l.lomowner = (SELECT oid FROM pg_roles WHERE rolname = current_user)"
    )
    op.alter_column("materials", "content", server_default=None)
    op.drop_column("materials", "content_oid")
