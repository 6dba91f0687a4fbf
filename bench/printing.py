"""Render time of the printed documents (issue 19, item 4): each document rendered to an A4 PDF
N times after one warm-up render, in this process, with the templates and fonts the services
use. The receipt is rendered on request (GET .../receipt.pdf), never on the accept path; this
measures what such a request costs.

    uv run python -m bench.printing [-n 20]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from types import SimpleNamespace

from services.alerting.printing import Light, render_ticket_form
from services.allocation.printing import render_contract
from services.credit.printing import render_notice_letter
from services.intake.printing import notice_document, receipt_document
from shared.city import city_config
from shared.printing import Document, render_pdf

CITY = city_config()
AT = datetime(2026, 11, 16, 1, 30, tzinfo=UTC)
APPLICATION = SimpleNamespace(
    receipt_no="SL350203001-2026-000042",
    tracking_no="SQ350200-20261116-000001",
    accepted_at=AT,
    accepted_org="350203001",
    accepted_by_name="王经办",
    category="low_income_family",
    incomplete_reason=None,
)


def _documents() -> dict[str, Callable[[], Document]]:
    materials = [m.code for m in CITY.required_materials("low_income_family")]
    notice = SimpleNamespace(
        notice_no="BJ350203001-2026-000007",
        items=[{"code": c, "name": CITY.material(c).name} for c in materials],
        deadline=date(2026, 11, 30),
        deadline_fallback=False,
        requested_by_name="王经办",
        requested_org="350203001",
        requested_at=AT,
    )
    record = SimpleNamespace(
        record_no="XY-2026-000001",
        category="family",
        severity="serious",
        subject_name_masked="王*明",
        subject_id_masked="3502**********1234",
        org_name=None,
        org_credit_code=None,
        facts="申请时隐瞒名下住房一套（87.5平方米）",
        unit="350200",
    )
    ticket = SimpleNamespace(
        ticket_no="DB-2026-000001", colour="red", unit="350212107", opened_at=AT
    )
    clauses = "\n".join(f"{i}. [c{i}] 提前收回情形第{i}项" for i in range(1, 15))
    contract = SimpleNamespace(
        id="0b9a4a4e-7f7d-4c55-9d1f-3c6c2f0b8e11",
        text=f"# 合同\n\n出租人：厦门市住房保障中心\n\n## 提前收回情形\n\n{clauses}",
        monthly_rent="540.00",
        starts_on=date(2026, 11, 24),
        sign_by=date(2026, 11, 23),
        signed_at=None,
        created_at=AT,
    )
    return {
        "受理回执": lambda: receipt_document(
            city=CITY,
            application=APPLICATION,
            applicant=SimpleNamespace(name="张三丰", resident_id="350203197001011234"),
            received=[(c, 1) for c in materials],
            missing=[],
        ),
        "补件通知单": lambda: notice_document(
            city=CITY, application=APPLICATION, applicant_name="张三丰", notice=notice
        ),
        "告知函": lambda: render_notice_letter(
            city=CITY,
            record=SimpleNamespace(**vars(record)),
            step=SimpleNamespace(document_no="GZH-2026-001", taken_at=AT),
            kind_title="隐报、瞒报、假报家庭住房",
            correction_days=15,
            ban_years=3,
        ),
        "红灯预警督办单": lambda: render_ticket_form(
            city=CITY,
            ticket=ticket,
            rows=[("督办单编号", ticket.ticket_no), ("责任单位", "洪塘镇")],
            lights=[Light("R1", "受理时材料不全", AT)],
            organ="洪塘镇",
        ),
        "租赁合同": lambda: render_contract(
            city=CITY,
            contract=contract,
            unit=SimpleNamespace(address="厦门市湖里区金山路1号1栋101", code="JS-1-101"),
            household_reference="HH-0001",
            lessor="厦门市住房保障中心",
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=20, help="renders per document (after 1 warm-up)")
    args = parser.parse_args()
    started = time.perf_counter()
    render_pdf(_documents()["受理回执"]().html)
    first = time.perf_counter() - started
    print(f"first PDF in the process (WeasyPrint import, fonts): {first:.2f} s")
    print("| document | HTML ms p50 | PDF ms p50 | PDF ms p95 | PDF KiB |")
    print("|---|---|---|---|---|")
    for name, build in _documents().items():
        html_ms, pdf_ms = [], []
        size = 0
        for _ in range(args.n):
            t0 = time.perf_counter()
            doc = build()
            t1 = time.perf_counter()
            size = len(render_pdf(doc.html))
            t2 = time.perf_counter()
            html_ms.append((t1 - t0) * 1000)
            pdf_ms.append((t2 - t1) * 1000)
        p95 = statistics.quantiles(pdf_ms, n=20)[-1] if len(pdf_ms) >= 2 else pdf_ms[0]
        print(
            f"| {name} | {statistics.median(html_ms):.1f} | {statistics.median(pdf_ms):.0f} "
            f"| {p95:.0f} | {size / 1024:.0f} |"
        )


if __name__ == "__main__":
    main()
