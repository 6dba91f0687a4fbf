"""What the applicant is told (及时告知): the texts and the stored message that carries them.

A message is stored in the transaction of the decision it reports (acceptance, a notice, an
event from review, verification or allocation) and sent later by the dispatcher
(``sweeps.send_messages``), so the applicant is told exactly when the decision commits and a
redelivered event tells nobody twice (``dedupe_key``). The texts come from
``data/messages.yaml``; what fills them is scrubbed of ID and mobile numbers, and every full
name of the household is masked, whatever a reason written by staff or a department says.
"""

from __future__ import annotations

import uuid
from functools import cache
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml
from sqlalchemy.dialects.postgresql import insert

from services.intake.tables import applicant_messages, applications, members
from shared.clock import now
from shared.pii import mask_name, scrub

TEMPLATES_PATH = Path(__file__).parent / "data" / "messages.yaml"

# Reasons of the allocation's suspension, as the household reads them.
SUSPENSION_REASONS = {
    "credit_ban": "存在失信惩戒记录",
    "declines": "多次放弃选房或未到场",
    "unconfirmed": "未按期进行年度轮候确认",
}


@cache
def templates() -> dict[str, str]:
    data = yaml.safe_load(TEMPLATES_PATH.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise ValueError(f"{TEMPLATES_PATH}: expected a mapping of kind to text")
    return data


def render(kind: str, names: list[str], **fields: Any) -> str:
    """The template of ``kind`` filled with ``fields``; ID and mobile numbers scrubbed, and the
    household's full names masked (longest first, so 张三丰 is not half-masked as 张三)."""
    text = scrub(templates()[kind].format(**{k: "" if v is None else v for k, v in fields.items()}))
    for name in sorted(
        {n.strip() for n in names if n and len(n.strip()) > 1}, key=len, reverse=True
    ):
        text = text.replace(name, mask_name(name))
    return text


async def tell(
    conn: Any,
    application_id: uuid.UUID,
    kind: str,
    dedupe_key: str,
    *,
    names: list[str] | None = None,
    **fields: Any,
) -> bool:
    """Store the message (portal + pending SMS) for ``kind``; False when already told.
    ``names``: the members' names in their order, when the caller has loaded them already."""
    if names is None:
        names = list(
            (
                await conn.execute(
                    sa.select(members.c.name)
                    .where(members.c.application_id == application_id)
                    .order_by(members.c.position)
                )
            ).scalars()
        )
    stmt = (
        insert(applicant_messages)
        .values(
            id=uuid.uuid4(),
            application_id=application_id,
            kind=kind,
            dedupe_key=dedupe_key,
            text=render(kind, names, **fields),
            created_at=now(),
            sms_status="pending",
        )
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(applicant_messages.c.id)
    )
    return (await conn.execute(stmt)).first() is not None


async def application_by_tracking_no(conn: Any, tracking_no: str) -> Any:
    """The application a household reference (allocation's ``household_reference``, the
    tracking number) names, or None when this city's intake never saw it (imported)."""
    return (
        await conn.execute(
            sa.select(applications.c.id, applications.c.tracking_no).where(
                applications.c.tracking_no == tracking_no
            )
        )
    ).first()


def reasons_text(reasons: list[str]) -> str:
    return "；".join(r.strip() for r in reasons if r.strip())
