"""Event handlers: the public progress read model, the agency blacklist, and the push log.

Each handler runs in the consumer's transaction (inbox claim included), so a redelivered event
changes nothing; the upserts are idempotent by effect as well. Stage changes carry the event's
``occurred_at``: an older event that arrives late does not move an application's stage back.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from services.publication import domain
from services.publication.config import PublicationConfig
from services.publication.pushlog import record_pushes
from services.publication.tables import applications, blacklist
from shared.db import UnitOfWork
from shared.events.base import payload_model
from shared.events.envelope import Envelope
from shared.pii import mask_name, mask_resident_id

log = structlog.get_logger(__name__)

Handler = Callable[[UnitOfWork, Envelope], Awaitable[None]]


def typed(env: Envelope) -> dict[str, Any]:
    """The payload validated against the catalogue, with dates and ids as Python objects."""
    model = payload_model(env.type, env.version)
    if model is None:
        raise LookupError(f"no catalogue model for {env.type} v{env.version}")
    return model.model_validate(env.data).model_dump()


async def set_stage(
    conn: AsyncConnection,
    application_id: uuid.UUID | str | Sequence[uuid.UUID],
    stage: str | sa.ColumnElement[str],
    at: datetime,
    *,
    level: str | None = None,
    **columns: Any,
) -> int:
    """Move one application (or a list, in one statement) to ``stage`` unless a newer event
    already moved it; ``columns`` (dates, outcome) are written in any case. Returns the rows
    touched."""
    newer = applications.c.stage_at <= at
    which = (
        applications.c.application_id.in_(list(application_id))
        if isinstance(application_id, list | tuple)
        else applications.c.application_id == application_id
    )
    result = await conn.execute(
        applications.update()
        .where(which)
        .values(
            stage=sa.case((newer, stage), else_=applications.c.stage),
            level=sa.case((newer, level), else_=applications.c.level),
            stage_at=sa.func.greatest(applications.c.stage_at, at),
            updated_at=sa.func.greatest(applications.c.updated_at, at),
            **columns,
        )
    )
    return result.rowcount


async def _upsert_application(
    conn: AsyncConnection, values: dict[str, Any], stage: str, at: datetime
) -> None:
    """Insert the read-model row or fill in what this event knows (masked data, dates)."""
    statement = insert(applications).values(**values, stage=stage, stage_at=at, updated_at=at)
    fill = {k: statement.excluded[k] for k in values if k != "application_id"}
    newer = applications.c.stage_at <= at
    fill["stage"] = sa.case((newer, statement.excluded.stage), else_=applications.c.stage)
    fill["stage_at"] = sa.func.greatest(applications.c.stage_at, at)
    fill["updated_at"] = sa.func.greatest(applications.c.updated_at, at)
    await conn.execute(
        statement.on_conflict_do_update(index_elements=[applications.c.application_id], set_=fill)
    )


async def on_submitted(uow: UnitOfWork, env: Envelope) -> None:
    d = typed(env)
    await _upsert_application(
        uow.conn,
        {
            "application_id": d["application_id"],
            "tracking_no": d["tracking_no"],
            "id_tail": domain.id_tail(d["applicant_id_masked"]),
            "name_masked": d["applicant_name_masked"],
            "id_masked": d["applicant_id_masked"],
            "city": d["city"],
            "district": d["district"],
            "street": d["street"],
            "category": d["category"],
            "member_count": d["member_count"],
            "submitted_at": d["submitted_at"],
        },
        "submitted",
        env.occurred_at,
    )


async def on_accepted(uow: UnitOfWork, env: Envelope) -> None:
    d = typed(env)
    applicant = next(m for m in d["household"]["members"] if m["relationship"] == "applicant")
    # Masked here, on receipt: the full name and number are never stored by publication.
    masked_id = mask_resident_id(applicant["resident_id"])
    await _upsert_application(
        uow.conn,
        {
            "application_id": d["application_id"],
            "tracking_no": d["tracking_no"],
            "id_tail": domain.id_tail(masked_id),
            "name_masked": mask_name(applicant["name"]),
            "id_masked": masked_id,
            "city": d["city"],
            "district": d["district"],
            "street": d["street"],
            "category": d["category"],
            "member_count": len(d["household"]["members"]),
            "accepted_at": d["accepted_at"],
        },
        "accepted",
        env.occurred_at,
    )


def _stage_handler(
    stage: str | Callable[[dict[str, Any]], str],
    *,
    level: bool = False,
    columns: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> Handler:
    async def handle(uow: UnitOfWork, env: Envelope) -> None:
        d = typed(env)
        name = stage(d) if callable(stage) else stage
        touched = await set_stage(
            uow.conn,
            d["application_id"],
            name,
            env.occurred_at,
            level=d.get("level") if level else None,
            **(columns(d) if columns else {}),
        )
        if not touched:
            log.info("progress_unknown_application", event_type=env.type)

    return handle


async def on_qualified(uow: UnitOfWork, env: Envelope) -> None:
    """Review confirms qualification after the publicity closed (轮候资格).

    Arriving after the family's notice, it is the final stage ``confirmed`` and must not send
    the public progress back to "awaiting publicity"; arriving before any notice (a workflow
    that publishes later), it marks the application ready for a qualification notice.
    """
    d = typed(env)
    after_publicity = applications.c.stage.in_(("publicity", "publicity_closed"))
    touched = await set_stage(
        uow.conn,
        d["application_id"],
        sa.case((after_publicity, "confirmed"), else_="qualified"),
        env.occurred_at,
        qualified_at=d["qualified_at"],
        outcome="qualified",
        member_count=d["member_count"],
    )
    if not touched:
        log.info("progress_unknown_application", event_type=env.type)


async def on_agency_blacklisted(uow: UnitOfWork, env: Envelope) -> None:
    d = typed(env)
    statement = insert(blacklist).values(
        record_id=d["record_id"],
        agency_name=d["agency_name"],
        org_credit_code=d.get("org_credit_code"),
        behaviour=d["behaviour"],
        listed_on=d["listed_on"],
        until=d.get("until"),
    )
    await uow.conn.execute(
        statement.on_conflict_do_update(
            index_elements=[blacklist.c.record_id],
            set_={"agency_name": statement.excluded.agency_name, "until": statement.excluded.until},
        )
    )


async def on_ban_lifted(uow: UnitOfWork, env: Envelope) -> None:
    # A lifted agency record leaves the public list; other bans are not ours to show.
    await uow.conn.execute(
        blacklist.update()
        .where(blacklist.c.record_id == env.data["record_id"])
        .values(until=typed(env)["lifted_on"])
    )


PROJECTIONS: dict[str, Handler] = {
    "application.submitted": on_submitted,
    "application.accepted": on_accepted,
    "application.supplement_requested": _stage_handler("supplement"),
    "application.withdrawn": _stage_handler("withdrawn"),
    "verification.completed": _stage_handler("verified"),
    "review.stage_started": _stage_handler(
        "review", level=True, columns=lambda d: {"due_at": d["due_at"]}
    ),
    "review.stage_suspended": _stage_handler("suspended", level=True),
    "review.stage_resumed": _stage_handler(
        "review", level=True, columns=lambda d: {"due_at": d["due_at"]}
    ),
    "review.decided": _stage_handler(
        lambda d: "qualified" if d["outcome"] == "qualified" else "rejected",
        columns=lambda d: {"decided_at": d["decided_at"], "outcome": d["outcome"]},
    ),
    "application.qualified": on_qualified,
    "application.rejected": _stage_handler(
        "rejected", columns=lambda d: {"outcome": "rejected", "decided_at": d["rejected_at"]}
    ),
    "credit.agency_blacklisted": on_agency_blacklisted,
    "credit.ban_lifted": on_ban_lifted,
}


def build_handlers(config: PublicationConfig) -> Mapping[str, Handler]:
    """Every handled type: its projection (if any), then its push to the province (if key)."""

    def with_push(projection: Handler | None) -> Handler:
        async def handle(uow: UnitOfWork, env: Envelope) -> None:
            if projection is not None:
                await projection(uow, env)
            if domain.is_pushed(env.type, env.data):
                await record_pushes(
                    uow.conn,
                    config.province_endpoints,
                    event_id=env.id,
                    event_type=env.type,
                    occurred_at=env.occurred_at,
                    items=[env.data],
                )

        handle.__name__ = f"handle_{projection.__name__ if projection else 'push'}"
        return handle

    types = set(PROJECTIONS) | set(domain.PUSHED_FIELDS)
    # publicity.* and objection.* are this service's own: they are logged for the province
    # where they are emitted, not consumed back.
    types -= {t for t in types if t.startswith(("publicity.", "objection."))}
    return {t: with_push(PROJECTIONS.get(t)) for t in sorted(types)}
