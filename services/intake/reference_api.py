"""Public reference data of the application form (no token, no personal data): the streets
that accept applications and the categories with the materials each requires."""

from __future__ import annotations

from fastapi import APIRouter, Response

from services.intake.context import Ctx
from shared.reference import (
    CACHE_CONTROL,
    CategoryOut,
    StreetsOut,
    categories_of,
    streets_of,
)

router = APIRouter(prefix="/reference", tags=["reference 参考数据"])


@router.get("/streets", summary="本市区、街道（镇）及其代码（受理单位）")
async def list_streets(ctx: Ctx, response: Response) -> StreetsOut:
    response.headers["Cache-Control"] = CACHE_CONTROL
    return streets_of(ctx.city)


@router.get("/categories", summary="申请类别及每类须提交的材料")
async def list_categories(ctx: Ctx, response: Response) -> list[CategoryOut]:
    response.headers["Cache-Control"] = CACHE_CONTROL
    return categories_of(ctx.city)
