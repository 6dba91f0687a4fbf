"""The notice letter (告知函) the credit service prints, from its template over the shared A4
layout (``shared/printing``): the first step of the notice procedure (Taizhou's measures,
seeds/003), telling the person or organisation what behaviour is to be recorded, by when it can
be corrected from delivery, and what follows if it is not.

Pure rendering: ``queries.py`` loads the record and its ``notice_issued`` step. The registry
holds a person only as masked name and masked resident ID, so the letter addresses them so; the
officer who delivers it knows whom it is for, and the 签收 line is the delivery receipt (送达回证).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from services.credit import domain
from shared.city import CityConfig
from shared.printing import Document, Issuer, day, printer

TEMPLATES = Path(__file__).parent / "templates"

NOTICE_LETTER_TITLE = "告知函"


def render_notice_letter(
    *,
    city: CityConfig,
    record: Any,
    step: Any,
    kind_title: str,
    correction_days: int,
    ban_years: int,
) -> Document:
    person = record.category not in ("employer", "agency")
    return printer(TEMPLATES).document(
        "notice_letter.html",
        title=NOTICE_LETTER_TITLE,
        number=step.document_no or record.record_no,
        issuer=Issuer.of(city, record.unit),
        issued_on=day(step.taken_at),
        record=record,
        person=person,
        addressee=(record.subject_name_masked if person else record.org_name) or "当事人",
        kind_title=kind_title,
        severity=domain.SEVERITY_TITLES.get(record.severity, record.severity),
        correction_days=correction_days,
        ban_years=ban_years,
    )
