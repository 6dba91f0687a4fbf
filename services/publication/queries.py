"""Read side shared by the JSON API and the HTML pages: notices, progress, disclosures,
blacklist. Every value returned here is public: masked at the source, never unmasked."""

from __future__ import annotations

import hmac
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.publication import domain
from services.publication.schemas import (
    BlacklistEntry,
    DisclosureSection,
    DisclosureSectionInfo,
    NoticeDetail,
    NoticeEntry,
    NoticeSummary,
    Progress,
    PublicObjection,
    StaffObjection,
)
from services.publication.tables import (
    applications,
    blacklist,
    notice_entries,
    notices,
    objections,
)
from shared.audit import record
from shared.auth import DISCIPLINE_INSPECTOR, Principal, within
from shared.city import CityConfig, NotConfiguredError
from shared.clock import today_shanghai
from shared.db import UnitOfWork
from shared.pagination import Page, PageParams
from shared.problems import NotFound

PUBLIC_STATUSES = ("open", "closed")

OUTCOME_TITLES = {"sustained": "异议成立", "dismissed": "异议不成立"}
OBJECTION_STATUS_TITLES = {"pending": "核查中", "concluded": "已办结"}
BEHAVIOUR_TITLES = {
    "illegal_agency": "黑中介",
    "paid_proxy_application": "有偿代办",
    "false_income_certificate": "出具虚假收入证明",
    "other": "其他失信行为",
}


def unit_name(city: CityConfig, code: str) -> str:
    unit = city.unit(code)
    return unit.name if unit is not None else code


def category_name(city: CityConfig, code: str) -> str:
    try:
        return city.category(code).name
    except NotConfiguredError:  # an unknown code shows as itself
        return code


def summary(city: CityConfig, row: Any) -> NoticeSummary:
    return NoticeSummary(
        id=row.id,
        notice_no=row.notice_no,
        kind=row.kind,
        title=row.title,
        unit=row.unit,
        unit_name=unit_name(city, row.unit),
        batch=row.batch,
        status=row.status,
        status_title=domain.STATUS_TITLES[row.status],
        opens_at=row.opens_at,
        closes_at=row.closes_at,
        planned_days=row.planned_days,
        opened_at=row.opened_at,
        closed_at=row.closed_at,
        closed_early=row.closed_early,
        early_close_reason=row.override_reason if row.closed_early else None,
        entry_count=row.entry_count,
        accepts_objections=row.status == "open" and row.kind in domain.OBJECTABLE_KINDS,
    )


async def list_notices(
    conn: AsyncConnection,
    city: CityConfig,
    params: PageParams,
    *,
    kind: str | None = None,
    status: str | None = None,
    statuses: tuple[str, ...] = PUBLIC_STATUSES,
    unit: str | None = None,
) -> Page[NoticeSummary]:
    where = [notices.c.status.in_(statuses)]
    if kind:
        where.append(notices.c.kind == kind)
    if status:
        where.append(notices.c.status == status)
    if unit:
        where.append(within(notices.c.unit, unit))
    total = await conn.scalar(sa.select(sa.func.count()).select_from(notices).where(*where))
    rows = (
        await conn.execute(
            sa.select(notices)
            .where(*where)
            .order_by(notices.c.opens_at.desc(), notices.c.id)
            .limit(params.limit)
            .offset(params.offset)
        )
    ).all()
    return Page.of([summary(city, r) for r in rows], int(total or 0), params)


async def notice_detail(
    conn: AsyncConnection,
    city: CityConfig,
    notice_id: uuid.UUID,
    params: PageParams,
    *,
    statuses: tuple[str, ...] = PUBLIC_STATUSES,
) -> NoticeDetail:
    row = (
        await conn.execute(
            sa.select(notices).where(notices.c.id == notice_id, notices.c.status.in_(statuses))
        )
    ).first()
    if row is None:
        raise NotFound("公示不存在或尚未发布", field="notice_id")
    entries = (
        await conn.execute(
            sa.select(notice_entries)
            .where(notice_entries.c.notice_id == notice_id)
            .order_by(notice_entries.c.seq)
            .limit(params.limit)
            .offset(params.offset)
        )
    ).all()
    ids = [e.id for e in entries]
    counts: dict[uuid.UUID, int] = {}
    conclusions: dict[uuid.UUID, list[str]] = {}
    if ids:
        for o in (
            await conn.execute(
                sa.select(objections.c.entry_id, objections.c.outcome, objections.c.conclusion)
                .where(objections.c.entry_id.in_(ids))
                .order_by(objections.c.filed_at)
            )
        ).all():
            counts[o.entry_id] = counts.get(o.entry_id, 0) + 1
            if o.outcome:
                conclusions.setdefault(o.entry_id, []).append(
                    f"{OUTCOME_TITLES[o.outcome]}：{o.conclusion}"
                )
    items = [
        NoticeEntry(
            entry_id=e.id,
            seq=e.seq,
            name_masked=e.name_masked,
            id_masked=e.id_masked,
            street=e.street,
            street_name=unit_name(city, e.street),
            category=e.category,
            category_name=category_name(city, e.category),
            member_count=e.member_count,
            remark=e.remark,
            objections=counts.get(e.id, 0),
            objection_conclusions=conclusions.get(e.id, []),
        )
        for e in entries
    ]
    return NoticeDetail(
        **summary(city, row).model_dump(), entries=Page.of(items, row.entry_count, params)
    )


async def public_objection(conn: AsyncConnection, objection_id: uuid.UUID) -> PublicObjection:
    row = (await conn.execute(sa.select(objections).where(objections.c.id == objection_id))).first()
    if row is None:
        raise NotFound("异议不存在", field="objection_id")
    return PublicObjection(
        objection_id=row.id,
        notice_id=row.notice_id,
        entry_id=row.entry_id,
        status=row.status,
        status_title=OBJECTION_STATUS_TITLES[row.status],
        filed_at=row.filed_at,
        conclude_by=row.conclude_by,
        outcome=row.outcome,
        outcome_title=OUTCOME_TITLES.get(row.outcome or ""),
        conclusion=row.conclusion,
        concluded_at=row.concluded_at,
    )


# A tail nobody has: compared against when the tracking number is unknown, so both failures
# take the same path through compare_digest.
_NO_TAIL = "\x00\x00\x00\x00"


async def progress(conn: AsyncConnection, tracking_no: str, tail: str) -> Progress | None:
    """The application's public progress, or None for "unknown number" and "wrong tail" alike."""
    row = (
        await conn.execute(sa.select(applications).where(applications.c.tracking_no == tracking_no))
    ).first()
    expected = row.id_tail if row is not None else _NO_TAIL
    matches = hmac.compare_digest(expected.encode(), domain.id_tail(tail).encode())
    if row is None or not matches:
        return None
    opened = closes = None
    if row.stage in ("publicity", "publicity_closed", "confirmed"):
        notice = (
            await conn.execute(
                sa.select(notices.c.opened_at, notices.c.closes_at, notices.c.closed_at)
                .join(notice_entries, notice_entries.c.notice_id == notices.c.id)
                .where(
                    notice_entries.c.application_id == row.application_id,
                    notices.c.kind == "qualification",
                    notices.c.status.in_(PUBLIC_STATUSES),
                )
                .order_by(notices.c.opened_at.desc())
                .limit(1)
            )
        ).first()
        if notice is not None:
            opened, closes = notice.opened_at, notice.closed_at or notice.closes_at
    return Progress(
        tracking_no=row.tracking_no,
        stage=row.stage,
        stage_title=domain.stage_title(row.stage, row.level),
        submitted_at=row.submitted_at,
        accepted_at=row.accepted_at,
        stage_due_at=row.due_at if row.stage in ("review", "suspended") else None,
        decided_at=row.decided_at,
        publicity_opened_at=opened,
        publicity_closes_at=closes,
        updated_at=row.updated_at,
    )


# -- disclosures (六公开) ------------------------------------------------------------------------

SECTIONS: dict[str, tuple[str, str]] = {
    "policies": ("政策公开", "保障对象准入条件、申请材料、公示和审核时限等政策规定"),
    "housing_stock": ("房源公开", "公共租赁住房房源的数量、位置和户型"),
    "beneficiaries": ("保障对象公开", "经公示无异议（或异议不成立）取得资格的家庭（已脱敏）"),
    "process": ("流程公开", "申请、受理、联审、分级审核、公示的流程及各环节办理情况"),
    "allocation": ("分配结果公开", "配租结果公示"),
    "exits": ("退出公开", "退出保障的情况公告"),
}

_WORKFLOW_STEPS = (
    ("申请", "申请家庭通过网上、移动端或任一街道窗口提交申请（一窗受理、全城通办）"),
    ("受理", "街道（镇）受理并出具受理回执，材料不全的一次性告知补件"),
    ("联审联查", "同步推送公安、民政、不动产、人社、税务等部门限时核查"),
    ("分级审核", "街道初审、区级审核、市级复核认定，各级经办人、复核人实名签署"),
    ("公示", "资格审核结果公示，公示期不少于7天，任何人可在公示期内提出异议"),
    ("异议核查", "对异议逐件核查并公开核查结论"),
    ("轮候", "公示期满无异议或异议不成立的家庭取得轮候资格"),
)


def _beneficiary_query() -> sa.Select[Any]:
    sustained = sa.select(objections.c.application_id).where(objections.c.outcome == "sustained")
    return (
        sa.select(
            notice_entries.c.application_id,
            notice_entries.c.name_masked,
            notice_entries.c.id_masked,
            notice_entries.c.street,
            notice_entries.c.category,
            notice_entries.c.member_count,
            notices.c.closed_at,
        )
        .join(notices, notices.c.id == notice_entries.c.notice_id)
        .where(
            notices.c.kind == "qualification",
            notices.c.status == "closed",
            notice_entries.c.application_id.not_in(sustained),
        )
    )


async def section_counts(conn: AsyncConnection, city: CityConfig) -> list[DisclosureSectionInfo]:
    beneficiaries = await conn.scalar(
        sa.select(sa.func.count()).select_from(_beneficiary_query().subquery())
    )
    kinds = dict(
        (
            await conn.execute(
                sa.select(notices.c.kind, sa.func.count())
                .where(notices.c.status.in_(PUBLIC_STATUSES))
                .group_by(notices.c.kind)
            )
        ).all()
    )
    counts = {
        "policies": len(city.categories) + 1,
        "housing_stock": 0,
        "beneficiaries": int(beneficiaries or 0),
        "process": len(_WORKFLOW_STEPS),
        "allocation": int(kinds.get("allocation", 0)),
        "exits": int(kinds.get("exit", 0)),
    }
    return [
        DisclosureSectionInfo(section=s, title=t, description=d, count=counts[s])
        for s, (t, d) in SECTIONS.items()
    ]


async def section(
    conn: AsyncConnection, city: CityConfig, name: str, params: PageParams
) -> DisclosureSection:
    if name not in SECTIONS:
        raise NotFound("没有该公开栏目", field="section")
    title, description = SECTIONS[name]
    note: str | None = None
    items: list[dict[str, Any]]
    if name == "policies":
        items = [_policy(city, c) for c in city.categories] + [
            {
                "title": "资格审核结果公示",
                "content": f"资格审核结果公示期不少于{city.publicity.min_days}天，"
                f"公示期内任何单位和个人均可提出异议；异议核查结论予以公开。",
            }
        ]
        total = len(items)
        items = items[params.offset : params.offset + params.limit]
    elif name == "housing_stock":
        # The allocation and tenancy service (房源、配租) is not built yet; say so rather than
        # publish an empty list that looks like "no housing".
        note = "房源信息由配租管理模块提供，该模块尚未上线，上线后在此公开。"
        items, total = [], 0
    elif name == "beneficiaries":
        query = _beneficiary_query()
        total = int(
            await conn.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0
        )
        rows = (
            await conn.execute(
                query.order_by(notices.c.closed_at.desc(), notice_entries.c.seq)
                .limit(params.limit)
                .offset(params.offset)
            )
        ).all()
        items = [
            {
                "name_masked": r.name_masked,
                "id_masked": r.id_masked,
                "street_name": unit_name(city, r.street),
                "category_name": category_name(city, r.category),
                "member_count": r.member_count,
                "qualified_on": r.closed_at.date().isoformat() if r.closed_at else None,
            }
            for r in rows
        ]
    elif name == "process":
        stage_counts = dict(
            (
                await conn.execute(
                    sa.select(applications.c.stage, sa.func.count()).group_by(applications.c.stage)
                )
            ).all()
        )
        steps = [{"title": t, "content": c} for t, c in _WORKFLOW_STEPS]
        in_progress = "；".join(
            f"{domain.STAGE_TITLES.get(s, s)} {n} 件" for s, n in sorted(stage_counts.items())
        )
        note = f"当前办理情况：{in_progress}" if in_progress else "当前暂无办理中的申请。"
        total = len(steps)
        items = steps[params.offset : params.offset + params.limit]
    else:
        kind = "allocation" if name == "allocation" else "exit"
        page = await list_notices(conn, city, params, kind=kind)
        items = [s.model_dump(mode="json") for s in page.items]
        total = page.total
    return DisclosureSection(
        section=name,
        title=title,
        description=description,
        note=note,
        page=Page.of(items, total, params),
    )


def _policy(city: CityConfig, category: Any) -> dict[str, Any]:
    a = category.admission
    materials = "、".join(city.material(m).name for m in category.required_materials)
    hukou = "本市户籍" if a.hukou.value == "local" else "不限户籍"
    return {
        "title": category.name,
        "content": (
            f"{hukou}；家庭人均月收入不高于{a.max_monthly_income_per_capita}元；"
            f"人均住房建筑面积不高于{a.max_housing_area_per_capita}平方米；"
            f"家庭金融资产不高于{a.max_financial_assets}元；"
            f"车辆价值不高于{a.max_vehicle_value}元。申请材料：{materials}。"
        ),
    }


async def blacklist_page(conn: AsyncConnection, params: PageParams) -> Page[BlacklistEntry]:
    today = today_shanghai()
    where = sa.or_(blacklist.c.until.is_(None), blacklist.c.until >= today)
    total = await conn.scalar(sa.select(sa.func.count()).select_from(blacklist).where(where))
    rows = (
        await conn.execute(
            sa.select(blacklist)
            .where(where)
            .order_by(blacklist.c.listed_on.desc(), blacklist.c.record_id)
            .limit(params.limit)
            .offset(params.offset)
        )
    ).all()
    items = [
        BlacklistEntry(
            record_id=r.record_id,
            agency_name=r.agency_name,
            org_credit_code=r.org_credit_code,
            behaviour=r.behaviour,
            behaviour_title=BEHAVIOUR_TITLES.get(r.behaviour, "失信行为"),
            listed_on=r.listed_on,
            until=r.until,
        )
        for r in rows
    ]
    return Page.of(items, int(total or 0), params)


async def public_progress(conn: AsyncConnection, tracking_no: str, tail: str) -> Progress:
    found = await progress(conn, tracking_no, tail)
    if found is None:
        # One answer for "no such application" and "wrong tail": the endpoint must not
        # confirm that a tracking number exists.
        raise NotFound("未查询到相符的申请，请核对查询编号和身份证号后四位", field="tracking_no")
    return found


async def staff_objections(
    uow: UnitOfWork, principal: Principal, page: PageParams, status: str | None
) -> Page[StaffObjection]:
    """Objections in the reader's jurisdiction (all for inspectors and admins); the read is
    audited in ``uow``, which the caller commits."""
    where = []
    if not principal.has_role(DISCIPLINE_INSPECTOR) and not principal.is_admin:
        where.append(within(objections.c.unit, principal.org))
    if status:
        where.append(objections.c.status == status)
    total = await uow.conn.scalar(sa.select(sa.func.count()).select_from(objections).where(*where))
    rows = (
        await uow.conn.execute(
            sa.select(objections)
            .where(*where)
            .order_by(objections.c.filed_at, objections.c.id)
            .limit(page.limit)
            .offset(page.offset)
        )
    ).all()
    # Objection texts are about a household: reading them is recorded.
    await record(
        uow.conn,
        **principal.audit_actor(),
        action="objections.read",
        subject_type="objection",
        subject_id="list",
        details={"ids": [str(r.id) for r in rows], "status": status},
    )
    items = [
        StaffObjection(
            objection_id=r.id,
            notice_id=r.notice_id,
            entry_id=r.entry_id,
            application_id=r.application_id,
            unit=r.unit,
            contact_masked=r.contact_masked,
            content=r.content,
            filed_at=r.filed_at,
            conclude_by=r.conclude_by,
            status=r.status,
            outcome=r.outcome,
            conclusion=r.conclusion,
            concluded_at=r.concluded_at,
        )
        for r in rows
    ]
    return Page.of(items, int(total or 0), page)
