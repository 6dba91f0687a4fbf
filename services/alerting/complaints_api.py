"""HTTP API of the complaints ledger (投诉举报台账): public filing and lookup (JSON and a small
Chinese page, rate limited per client address), and the ledger for supervisors.

Public endpoints take no token: a citizen files anonymously if they wish. Every answer the
public sees carries the anti-fraud message.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, Response

from services.alerting import complaints
from services.alerting.context import Ctx
from services.alerting.schemas_complaints import (
    ANTI_FRAUD,
    AnswerIn,
    ComplaintFiled,
    ComplaintIn,
    ComplaintOut,
    PublicComplaintOut,
    TransferIn,
)
from shared.auth import ADMIN, DISCIPLINE_INSPECTOR, SUPERVISOR, Principal, require_roles
from shared.idempotency import IdempotencyDep
from shared.problems import TooManyRequests, problem_responses

router = APIRouter(tags=["complaints"])


Supervisor = Annotated[Principal, Depends(require_roles(SUPERVISOR))]
Reader = Annotated[Principal, Depends(require_roles(SUPERVISOR, DISCIPLINE_INSPECTOR, ADMIN))]
ComplaintId = Annotated[uuid.UUID, Path(description="投诉举报ID")]
ComplaintNo = Annotated[str, Path(pattern=r"^[A-Za-z0-9-]{4,40}$", description="投诉举报编号")]


@router.post(
    "/public/complaints",
    status_code=201,
    response_model=ComplaintFiled,
    summary="投诉举报（可匿名；每个地址限频）",
    responses=problem_responses(TooManyRequests),
)
async def file_complaint(
    body: ComplaintIn, request: Request, ctx: Ctx, idem: IdempotencyDep
) -> Response:
    ctx.complaint_limiter.check(request)
    return await idem.run(
        ctx.uow, lambda uow: complaints.file_complaint(ctx, uow, body), status_code=201
    )


@router.get(
    "/public/complaints/{complaint_no}",
    response_model=PublicComplaintOut,
    summary="凭编号和查询码查询投诉举报办理结果",
    responses=problem_responses(TooManyRequests),
)
async def lookup(
    complaint_no: ComplaintNo,
    request: Request,
    ctx: Ctx,
    check_code: Annotated[str, Query(min_length=4, max_length=16, description="查询码")],
) -> PublicComplaintOut:
    ctx.complaint_limiter.check(request)
    async with ctx.uow() as uow:
        return await complaints.public_lookup(ctx, uow, complaint_no, check_code)


@router.get("/public/pages/complaints", response_class=HTMLResponse, summary="投诉举报页面")
async def complaint_page() -> HTMLResponse:
    return HTMLResponse(_PAGE)


@router.get("/complaints", summary="投诉举报台账（按辖区）")
async def ledger(
    principal: Reader,
    ctx: Ctx,
    status: Annotated[Literal["open", "answered"] | None, Query(description="状态")] = None,
) -> list[ComplaintOut]:
    async with ctx.uow() as uow:
        return await complaints.ledger(uow, principal, status)


@router.post(
    "/complaints/{complaint_id}/answer", response_model=ComplaintOut, summary="答复投诉举报"
)
async def answer(
    complaint_id: ComplaintId, body: AnswerIn, ctx: Ctx, idem: IdempotencyDep, principal: Supervisor
) -> Response:
    return await idem.run(
        ctx.uow, lambda uow: complaints.answer(ctx, uow, principal, complaint_id, body)
    )


@router.post(
    "/complaints/{complaint_id}/transfers",
    response_model=ComplaintOut,
    summary="线索移送（纪委监委、公安、市场监管）",
)
async def transfer(
    complaint_id: ComplaintId,
    body: TransferIn,
    ctx: Ctx,
    idem: IdempotencyDep,
    principal: Supervisor,
) -> Response:
    return await idem.run(
        ctx.uow, lambda uow: complaints.transfer(ctx, uow, principal, complaint_id, body)
    )


@router.post(
    "/complaints/{complaint_id}/credit-referral",
    response_model=ComplaintOut,
    summary="中介投诉转入诚信档案（生成待审批失信记录）",
)
async def refer_to_credit(
    complaint_id: ComplaintId, ctx: Ctx, idem: IdempotencyDep, principal: Supervisor
) -> Response:
    return await idem.run(
        ctx.uow, lambda uow: complaints.refer_to_credit(ctx, uow, principal, complaint_id)
    )


_PAGE = (
    """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>公租房投诉举报</title>
<style>
body{font-family:-apple-system,"PingFang SC","Microsoft YaHei",sans-serif;margin:0;color:#222;
background:#f6f6f6;line-height:1.6}
header{background:#b71c1c;color:#fff;padding:12px 16px}
main{padding:12px 16px;max-width:720px;margin:auto}
.card{background:#fff;border-radius:6px;padding:12px;margin-bottom:12px}
.warn{color:#b71c1c;font-weight:bold}
input,select,textarea,button{font-size:16px;padding:6px;margin:4px 0;width:100%;
box-sizing:border-box}
</style></head><body>
<header>公租房投诉举报</header>
<main>
<p class="card warn">"""
    + ANTI_FRAUD
    + """。发现转租转借、有偿代办、弄虚作假或工作人员违规，
请在此投诉举报；可匿名，我们在规定工作日内答复。</p>
<form class="card" id="file">
<h2>我要投诉举报</h2>
<label>类型<select name="kind">
<option value="sublet">承租人转租转借</option><option value="agency">中介或有偿代办</option>
<option value="fraud">弄虚作假骗取保障资格</option><option value="staff">工作人员违规违纪</option>
</select></label>
<label>被投诉举报对象<input name="about" required maxlength="200"></label>
<label>中介或代办名称（举报中介时填写）<input name="agency_name" maxlength="200"></label>
<label>具体情况<textarea name="content" required maxlength="2000" rows="5"></textarea></label>
<label><input type="checkbox" name="anonymous" checked style="width:auto"> 匿名</label>
<label>姓名（实名时填写）<input name="name" maxlength="50"></label>
<label>联系电话（实名时填写）<input name="mobile" maxlength="11"></label>
<button>提交</button>
<p id="filed"></p>
</form>
<form class="card" id="lookup">
<h2>查询办理结果</h2>
<label>投诉举报编号<input name="no" required></label>
<label>查询码<input name="code" required></label>
<button>查询</button>
<p id="found"></p>
</form>
</main>
<script>
function text(el, s){ document.getElementById(el).textContent = s; }
document.getElementById("file").onsubmit = async function(ev){
  ev.preventDefault();
  const f = new FormData(ev.target), body = {};
  for (const k of ["kind","about","content","agency_name","name","mobile"])
    if (f.get(k)) body[k] = f.get(k);
  body.anonymous = f.get("anonymous") === "on";
  if (body.anonymous) { delete body.name; delete body.mobile; }
  const r = await fetch("/public/complaints",
    {method:"POST", headers:{"Content-Type":"application/json"}, body: JSON.stringify(body)});
  const j = await r.json();
  text("filed", r.ok ? "已受理。编号：" + j.complaint_no + "，查询码：" + j.check_code +
    "（请妥善保存，仅显示一次），答复期限：" + j.due_at.slice(0,10) : (j.detail || "提交失败"));
};
document.getElementById("lookup").onsubmit = async function(ev){
  ev.preventDefault();
  const f = new FormData(ev.target);
  const r = await fetch("/public/complaints/" + encodeURIComponent(f.get("no")) +
    "?check_code=" + encodeURIComponent(f.get("code")));
  const j = await r.json();
  text("found", r.ok ? ({open:"办理中",answered:"已答复"}[j.status]) + "；答复期限：" +
    j.due_at.slice(0,10) + (j.response ? "；答复：" + j.response : "") : (j.detail || "查询失败"));
};
</script>
</body></html>
"""
)
