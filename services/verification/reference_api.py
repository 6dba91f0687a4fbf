"""Public reference data of the verification exchange (no token, no personal data): the
departments of the city, what each checks, its time limit and the fields it receives."""

from __future__ import annotations

from fastapi import APIRouter, Response

from services.verification.context import Ctx
from shared.reference import CACHE_CONTROL, DepartmentOut, departments_of

router = APIRouter(prefix="/reference", tags=["reference 参考数据"])


@router.get("/departments", summary="协查部门、核查内容、答复时限及所收字段")
async def list_departments(ctx: Ctx, response: Response) -> list[DepartmentOut]:
    response.headers["Cache-Control"] = CACHE_CONTROL
    return departments_of(ctx.city)
