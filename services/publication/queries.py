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
    CreditNoticeEntry,
    DisclosureSection,
    DisclosureSectionInfo,
    LotteryCommitment,
    LotteryRanking,
    LotteryRound,
    NoticeDetail,
    NoticeEntry,
    NoticeSummary,
    Progress,
    ProgressStep,
    PublicObjection,
    PublishedCheckpoint,
    RankedEntry,
    StaffObjection,
    WaitingPosition,
    WaitingStatistics,
)
from services.publication.tables import (
    applications,
    blacklist,
    credit_notices,
    housing_units,
    lottery_commitments,
    lottery_ranks,
    lottery_rounds,
    notice_entries,
    notices,
    objections,
    published_checkpoints,
    waiting_households,
)
from shared.audit import record
from shared.auth import DISCIPLINE_INSPECTOR, Principal, within
from shared.city import CityConfig, NotConfiguredError
from shared.clock import now, today_shanghai
from shared.db import UnitOfWork
from shared.pagination import Page, PageParams
from shared.problems import NotFound

PUBLIC_STATUSES = ("open", "closed")

OUTCOME_TITLES = {"sustained": "异议成立", "dismissed": "异议不成立"}
OBJECTION_STATUS_TITLES = {"pending": "核查中", "concluded": "已办结"}
BEHAVIOUR_TITLES = {
    "concealed_housing": "隐瞒家庭住房",
    "concealed_assets": "隐瞒家庭财产",
    "false_marital_status": "假报婚姻状况",
    "false_household_members": "假报家庭成员信息",
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
    lottery = (
        await conn.execute(
            sa.select(lottery_rounds.c.round_id, lottery_rounds.c.pool_digest).where(
                lottery_rounds.c.shortlist_notice_id == notice_id
            )
        )
    ).first()
    return NoticeDetail(
        **summary(city, row).model_dump(),
        entries=Page.of(items, row.entry_count, params),
        round_id=lottery.round_id if lottery else None,
        pool_digest=lottery.pool_digest if lottery else None,
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


async def progress(
    conn: AsyncConnection, tracking_no: str, tail: str, city: CityConfig
) -> Progress | None:
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
    waiting = await waiting_position(conn, city, row.tracking_no)
    supplement = row.stage == "supplement"
    return Progress(
        tracking_no=row.tracking_no,
        stage=row.stage,
        stage_title=domain.stage_title(row.stage, row.level),
        steps=[
            ProgressStep(key=s.key, title=s.title, state=s.state)
            for s in domain.process_steps(row.stage, row.level, waiting.status if waiting else None)
        ],
        missing_materials=list(row.supplement_items or []) if supplement else [],
        supplement_deadline=row.supplement_deadline if supplement else None,
        submitted_at=row.submitted_at,
        accepted_at=row.accepted_at,
        stage_due_at=row.due_at if row.stage in ("review", "suspended") else None,
        decided_at=row.decided_at,
        publicity_opened_at=opened,
        publicity_closes_at=closes,
        updated_at=row.updated_at,
        waiting=waiting,
    )


async def waiting_position(
    conn: AsyncConnection, city: CityConfig, reference: str
) -> WaitingPosition | None:
    """The household's place among those waiting in its category, computed in one statement
    in allocation's order: priority tier (none = after every tier), qualification date,
    reference."""
    w = waiting_households.c
    own = (
        await conn.execute(
            sa.select(w.category, w.status, w.priority_tier, w.qualified_at).where(
                w.household_reference == reference, w.category.is_not(None)
            )
        )
    ).first()
    if own is None:
        return None
    tier = sa.func.coalesce(w.priority_tier, domain.NO_TIER)
    own_tier = own.priority_tier if own.priority_tier is not None else domain.NO_TIER
    ahead_or_self = sa.tuple_(tier, w.qualified_at, w.household_reference) <= sa.tuple_(
        sa.literal(own_tier), sa.literal(own.qualified_at), sa.literal(reference)
    )
    counts = (
        await conn.execute(
            sa.select(
                sa.func.count().filter(ahead_or_self).label("position"),
                sa.func.count().label("waiting"),
            ).where(w.category == own.category, w.status == "waiting")
        )
    ).one()
    return WaitingPosition(
        category=own.category,
        category_name=category_name(city, own.category),
        status=own.status,
        status_title=domain.WAITING_STATUS_TITLES.get(own.status, own.status),
        position=counts.position if own.status == "waiting" else None,
        waiting_in_category=counts.waiting,
    )


async def waiting_statistics(conn: AsyncConnection, city: CityConfig) -> list[WaitingStatistics]:
    """Per category (as Hong Kong's Housing Authority publishes each quarter): households
    waiting, their average waiting time so far, and the units and subsidies of each quarter."""
    w = waiting_households.c
    at = sa.literal(now(), sa.DateTime(timezone=True))
    waiting = w.status == "waiting"
    rows = (
        await conn.execute(
            sa.select(
                w.category,
                sa.func.count().filter(waiting).label("waiting"),
                sa.func.avg(sa.extract("epoch", at - w.qualified_at) / 86400)
                .filter(waiting)
                .label("avg_days"),
            )
            .where(w.category.is_not(None))
            .group_by(w.category)
            .order_by(w.category)
        )
    ).all()
    quarter = sa.func.to_char(sa.func.timezone("Asia/Shanghai", w.left_at), 'YYYY"Q"Q')
    per_quarter = (
        await conn.execute(
            sa.select(w.category, w.status, quarter.label("quarter"), sa.func.count().label("n"))
            .where(
                w.category.is_not(None),
                w.status.in_(("allocated", "subsidised")),
                w.left_at.is_not(None),
            )
            .group_by(w.category, w.status, quarter)
            .order_by(quarter)
        )
    ).all()
    quarters: dict[tuple[str, str], dict[str, int]] = {}
    for q in per_quarter:
        quarters.setdefault((q.category, q.status), {})[q.quarter] = q.n
    return [
        WaitingStatistics(
            category=r.category,
            category_name=category_name(city, r.category),
            households_waiting=r.waiting,
            average_waiting_days=round(float(r.avg_days or 0), 1),
            allocations_per_quarter=quarters.get((r.category, "allocated"), {}),
            subsidies_per_quarter=quarters.get((r.category, "subsidised"), {}),
        )
        for r in rows
    ]


ROUND_FILES = ("pool.csv", "pool_digest.txt")
DRAW_FILES = ("commitment.txt", "public_input.txt", "secret.txt", "ranking.csv")


def _lottery_round(city: CityConfig, row: Any, files_url: str) -> LotteryRound:
    names = ROUND_FILES + (DRAW_FILES if row.drawn_at is not None else ())
    base = f"{files_url.rstrip('/')}/public/rounds/{row.round_id}/files"
    return LotteryRound(
        round_id=row.round_id,
        category=row.category,
        category_name=category_name(city, row.category),
        households=row.households,
        pool_digest=row.pool_digest,
        cut_off=row.cut_off,
        objection_until=row.objection_until,
        shortlist_notice_id=row.shortlist_notice_id,
        commitment=row.commitment,
        public_input=row.public_input,
        secret=row.secret,
        seed=row.seed,
        drawn_at=row.drawn_at,
        files={name: f"{base}/{name}" for name in names},
    )


async def lottery_round_list(
    conn: AsyncConnection, city: CityConfig, params: PageParams, files_url: str
) -> Page[LotteryRound]:
    total = await conn.scalar(sa.select(sa.func.count()).select_from(lottery_rounds))
    rows = (
        await conn.execute(
            sa.select(lottery_rounds)
            .order_by(lottery_rounds.c.updated_at.desc(), lottery_rounds.c.round_id)
            .limit(params.limit)
            .offset(params.offset)
        )
    ).all()
    return Page.of([_lottery_round(city, r, files_url) for r in rows], int(total or 0), params)


async def lottery_ranking(
    conn: AsyncConnection,
    city: CityConfig,
    round_id: uuid.UUID,
    params: PageParams,
    files_url: str,
) -> LotteryRanking:
    """A round with its ranking (摇号结果): rank, the household masked as on every notice,
    its tier."""
    row = (
        await conn.execute(sa.select(lottery_rounds).where(lottery_rounds.c.round_id == round_id))
    ).first()
    if row is None:
        raise NotFound("摇号批次不存在或尚未公布", field="round_id")
    r = lottery_ranks.c
    total = await conn.scalar(
        sa.select(sa.func.count()).select_from(lottery_ranks).where(r.round_id == round_id)
    )
    ranks = (
        await conn.execute(
            sa.select(r.rank, r.priority_tier, applications.c.name_masked, applications.c.id_masked)
            .outerjoin(applications, applications.c.tracking_no == r.household_reference)
            .where(r.round_id == round_id)
            .order_by(r.rank)
            .limit(params.limit)
            .offset(params.offset)
        )
    ).all()
    items = [
        RankedEntry(
            rank=x.rank,
            name_masked=x.name_masked,
            id_masked=x.id_masked,
            priority_tier=x.priority_tier,
        )
        for x in ranks
    ]
    return LotteryRanking(
        **_lottery_round(city, row, files_url).model_dump(),
        ranking=Page.of(items, int(total or 0), params),
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


UNIT_STATUS_TITLES = {
    "vacant": "空置",
    "reserved": "已预订",
    "let": "已出租",
    "under_repair": "维修中",
    "recovered": "已收回",
}


async def _units_by_status(conn: AsyncConnection) -> dict[str, int]:
    rows = (
        await conn.execute(
            sa.select(housing_units.c.status, sa.func.count()).group_by(housing_units.c.status)
        )
    ).all()
    found = {status: int(n) for status, n in rows}
    return {s: found[s] for s in UNIT_STATUS_TITLES if s in found}


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
        "housing_stock": int(
            await conn.scalar(sa.select(sa.func.count()).select_from(housing_units)) or 0
        ),
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
    summary: dict[str, int] | None = None
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
        summary = await _units_by_status(conn)
        total = sum(summary.values())
        note = (
            f"共 {total} 套："
            + "、".join(f"{UNIT_STATUS_TITLES[k]} {n} 套" for k, n in summary.items())
            if total
            else "暂无公开房源。"
        )
        h = housing_units.c
        rows = (
            await conn.execute(
                sa.select(housing_units)
                .order_by(h.project_code, h.building_code, h.unit_code)
                .limit(params.limit)
                .offset(params.offset)
            )
        ).all()
        # The unit as disclosed: where it is and what it is, never who lives there.
        items = [
            {
                "unit_id": str(r.unit_id),
                "project_name": r.project_name,
                "building_code": r.building_code,
                "unit_code": r.unit_code,
                "district": r.district,
                "district_name": unit_name(city, r.district),
                "address": r.address,
                "area_m2": str(r.area_m2),
                "rooms": r.rooms,
                "floor": r.floor,
                "accessible": r.accessible,
                "base_rent_per_m2": str(r.base_rent_per_m2),
                "status": r.status,
                "status_title": UNIT_STATUS_TITLES.get(r.status, r.status),
            }
            for r in rows
        ]
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
        summary=summary,
        page=Page.of(items, total, params),
    )


def _policy(city: CityConfig, category: Any) -> dict[str, Any]:
    a = category.admission
    materials = "、".join(city.material(m).name for m in category.required_materials)
    conditions = domain.admission_conditions(
        local_hukou=a.hukou.value == "local",
        min_local_hukou_years=a.min_local_hukou_years,
        residence_permit_required=a.residence_permit_required,
        min_social_security_months=a.min_social_security_months,
        max_monthly_income_per_capita=a.max_monthly_income_per_capita,
        max_housing_area_per_capita=a.max_housing_area_per_capita,
        max_financial_assets=a.max_financial_assets,
        max_vehicle_value=a.max_vehicle_value,
        max_business_registered_capital=a.max_business_registered_capital,
    )
    return {"title": category.name, "content": f"{'；'.join(conditions)}。申请材料：{materials}。"}


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


async def public_progress(
    conn: AsyncConnection, tracking_no: str, tail: str, city: CityConfig
) -> Progress:
    found = await progress(conn, tracking_no, tail, city)
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


CREDIT_NOTICE_LABELS = {"announcement": "公告送达", "typical_case": "典型案例曝光"}


async def credit_notices_page(
    conn: AsyncConnection, params: PageParams, kind: str | None = None
) -> Page[CreditNoticeEntry]:
    """Announcements stay (they are the legal delivery); typical cases only until withdrawn."""
    where = [credit_notices.c.withdrawn_on.is_(None)]
    if kind is not None:
        where.append(credit_notices.c.kind == kind)
    total = await conn.scalar(sa.select(sa.func.count()).select_from(credit_notices).where(*where))
    rows = (
        await conn.execute(
            sa.select(credit_notices)
            .where(*where)
            .order_by(credit_notices.c.published_at.desc(), credit_notices.c.record_id)
            .limit(params.limit)
            .offset(params.offset)
        )
    ).all()
    items = [
        CreditNoticeEntry(
            record_id=r.record_id,
            kind=r.kind,
            kind_label=CREDIT_NOTICE_LABELS[r.kind],
            subject=r.subject_display,
            subject_id_masked=r.subject_id_masked,
            behaviour_title=BEHAVIOUR_TITLES.get(r.behaviour or "other", "失信行为"),
            record_no=r.record_no,
            kind_title=r.kind_title,
            text=r.text,
            correction_deadline=r.correction_deadline,
            filed_on=r.filed_on,
            ban_ends_on=r.ban_ends_on,
            published_at=r.published_at,
        )
        for r in rows
    ]
    return Page.of(items, int(total or 0), params)


def _checkpoint(row: Any) -> PublishedCheckpoint:
    return PublishedCheckpoint.model_validate(row, from_attributes=True)


async def checkpoints_page(
    conn: AsyncConnection, params: PageParams, service: str | None = None
) -> Page[PublishedCheckpoint]:
    """Published audit checkpoints, newest first (the first item of a service is its latest)."""
    where = [published_checkpoints.c.service == service] if service is not None else []
    total = await conn.scalar(
        sa.select(sa.func.count()).select_from(published_checkpoints).where(*where)
    )
    rows = (
        await conn.execute(
            sa.select(published_checkpoints)
            .where(*where)
            .order_by(
                published_checkpoints.c.seq.desc()
                if service is not None
                else published_checkpoints.c.signed_at.desc(),
                published_checkpoints.c.service,
                published_checkpoints.c.signed_at.desc(),
            )
            .limit(params.limit)
            .offset(params.offset)
        )
    ).all()
    return Page.of([_checkpoint(r) for r in rows], total or 0, params)


async def latest_checkpoints(conn: AsyncConnection) -> list[PublishedCheckpoint]:
    """Each service's latest checkpoint, for the public page."""
    rows = (
        await conn.execute(
            sa.select(published_checkpoints)
            .distinct(published_checkpoints.c.service)
            .order_by(
                published_checkpoints.c.service,
                published_checkpoints.c.seq.desc(),
                published_checkpoints.c.signed_at.desc(),
            )
        )
    ).all()
    return [_checkpoint(r) for r in rows]


async def lottery_commitment(conn: AsyncConnection, round_id: uuid.UUID) -> LotteryCommitment:
    c, d = lottery_commitments.c, lottery_rounds.c
    row = (
        await conn.execute(
            sa.select(lottery_commitments, d.commitment.label("drawn_commitment"))
            .outerjoin(lottery_rounds, d.round_id == c.round_id)
            .where(c.round_id == round_id)
        )
    ).first()
    if row is None:
        raise NotFound("该批次尚未公布承诺值", field="round_id")
    drawn = row.drawn_commitment is not None
    return LotteryCommitment(
        round_id=row.round_id,
        category=row.category,
        pool_digest=row.pool_digest,
        commitment=row.commitment,
        committed_at=row.committed_at,
        published_at=row.received_at,
        drawn=drawn,
        drawn_commitment=row.drawn_commitment,
        matches=(row.drawn_commitment == row.commitment) if drawn else None,
    )
