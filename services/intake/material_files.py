"""Uploaded materials' files (扫描件) as PostgreSQL large objects, outside the ``materials`` row.

Why large objects rather than a file directory: the file is written in the same transaction as
its row (an upload that rolls back leaves no file, a row never points at a missing one), and
``pg_dump`` of intake's database carries the files with the rows in one consistent snapshot,
so ``scripts/backup.sh``/``restore.sh`` need no second store. The row keeps the SHA-256 taken
at upload; every read recomputes it and refuses to hand out a file that no longer matches.

Large objects have their own privileges: one written by the running service belongs to the
application role; one written by a migration or a restore belongs to the owner role, and
``shared.migrations.grant_application_privileges`` grants the application role SELECT on those
at every ``migrate``. Materials are an archive: no code deletes them (``vacuumlo`` finds large
objects no row points at, should an operator ever delete rows by hand).
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
import structlog
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.problems import NotFound, Problem, problem_type

log = structlog.get_logger(__name__)


class MaterialDamaged(Problem):
    """The stored file no longer has the SHA-256 recorded at upload: never handed out."""

    status = 500
    type = problem_type("material-damaged")
    title = "材料文件校验失败"


def write(content: bytes) -> sa.ColumnElement[Any]:
    """The SQL expression that stores ``content`` as a new large object and yields its oid;
    used as a column value of the ``materials`` insert, so it runs in that statement."""
    return sa.func.lo_from_bytea(
        sa.cast(0, pg.OID), sa.bindparam(None, content, type_=sa.LargeBinary), type_=pg.OID
    )


async def read(conn: AsyncConnection, material: Any) -> bytes:
    """The file of one ``materials`` row, verified against its SHA-256.

    NotFound for a historical import (the file stayed in the old system's archive);
    MaterialDamaged when the bytes differ from the digest taken at upload.
    """
    if material.content_oid is None:
        raise NotFound(
            "该材料为历史数据导入，原件保存在原系统档案中，本平台无电子文件",
            field="material_id",
        )
    stored = sa.func.lo_get(material.content_oid, type_=sa.LargeBinary)
    content = await conn.scalar(sa.select(stored))
    if content is None or hashlib.sha256(content).hexdigest() != material.sha256:
        log.error(
            "material_sha256_mismatch",
            material_id=str(material.id),
            application_id=str(material.application_id),
        )
        raise MaterialDamaged(
            "材料文件与上传时记录的 SHA-256 不一致，已停止下载并记录；请联系运维人员从备份恢复",
            field="material_id",
            extra={"material_id": str(material.id)},
        )
    return bytes(content)


def content_disposition(file_name: str, material_type: str, material_id: uuid.UUID) -> str:
    """``attachment`` with the uploaded name (RFC 6266/5987: UTF-8 for Chinese names) and an
    ASCII fallback for old clients."""
    suffix = file_name.rsplit(".", 1)[-1] if "." in file_name else ""
    fallback = material_type if material_type.isascii() else f"material-{material_id}"
    if suffix.isascii() and suffix.isalnum():
        fallback += f".{suffix}"
    fallback = "".join(c for c in fallback if c.isalnum() or c in "._-")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(file_name, safe='')}"
