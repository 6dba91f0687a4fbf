"""HTTP route that hands out an uploaded material's file (材料原件下载).

Its own router so the download stays apart from the JSON API in ``api.py``: the same reading
rule as the application itself (the applicant, or staff whose jurisdiction holds its street:
the window's clerk, the reviewers of its street, district and city), the file verified against
its SHA-256 (``material_files``), every download on the audit chain (``material.downloaded``).
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import Response

from services.intake import queries
from services.intake.context import Ctx
from services.intake.material_files import content_disposition
from shared.auth import CurrentPrincipal
from shared.problems import PROBLEM_RESPONSES

router = APIRouter(tags=["intake"], responses=PROBLEM_RESPONSES)


@router.get(
    "/applications/{application_id}/materials/{material_id}",
    response_class=Response,
    summary="下载申请材料原件（经 SHA-256 校验，下载记入审计日志）",
    responses={200: {"content": {"application/pdf": {}, "image/jpeg": {}, "image/png": {}}}},
)
async def download_material(
    application_id: Annotated[uuid.UUID, Path(description="申请ID")],
    material_id: Annotated[uuid.UUID, Path(description="材料ID（申请详情 materials[].id）")],
    ctx: Ctx,
    principal: CurrentPrincipal,
) -> Response:
    material, content = await queries.download_material(ctx, principal, application_id, material_id)
    return Response(
        content,
        media_type=material.content_type,
        headers={
            "Content-Disposition": content_disposition(
                material.file_name, material.material_type, material.id
            ),
            "X-Content-Type-Options": "nosniff",
            # Personal documents: no shared or browser cache keeps a copy.
            "Cache-Control": "no-store",
            "X-Material-SHA256": material.sha256,
        },
    )
