"""The documents intake hands to a family at the window, rendered from its templates over the
shared A4 layout (``shared/printing``): the acceptance receipt (受理回执) and the one-time
supplementary-materials notice (补件通知单).

Pure rendering: ``queries.py`` loads the rows (and audits a staff read); these functions only
turn them into a :class:`~shared.printing.Document`. The family is the reader, so the page names
the applicant in full but shows the resident ID masked and no mobile number.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from shared.city import CityConfig
from shared.pii import mask_resident_id
from shared.printing import Document, Issuer, day, printer

TEMPLATES = Path(__file__).parent / "templates"

RECEIPT_TITLE = "受理回执"
NOTICE_TITLE = "补件通知单"


def receipt_document(
    *,
    city: CityConfig,
    application: Any,
    applicant: Any,
    received: Sequence[tuple[str, int]],
    missing: Sequence[str],
) -> Document:
    """受理回执 of an accepted application. ``received``: (material code, number of files) as
    held at acceptance; ``missing``: required material codes not received then."""
    return printer(TEMPLATES).document(
        "receipt.html",
        title=RECEIPT_TITLE,
        number=application.receipt_no,
        issuer=Issuer.of(city, application.accepted_org),
        issued_on=day(application.accepted_at),
        city_name=city.city.name,
        application=application,
        applicant_name=applicant.name,
        applicant_id=mask_resident_id(applicant.resident_id),
        category=city.category(application.category).name,
        received=[(city.material(code).name, files) for code, files in received],
        missing=[city.material(code).name for code in missing],
        time_limit_days=city.acceptance.time_limit_working_days,
    )


def notice_document(
    *, city: CityConfig, application: Any, applicant_name: str, notice: Any
) -> Document:
    """补件通知单 as printed for the family: every missing item, the deadline, the window."""
    return printer(TEMPLATES).document(
        "supplement_notice.html",
        title=NOTICE_TITLE,
        number=notice.notice_no,
        issuer=Issuer.of(city, notice.requested_org),
        issued_on=day(notice.requested_at),
        city_name=city.city.name,
        application=application,
        applicant_name=applicant_name,
        notice=notice,
    )
