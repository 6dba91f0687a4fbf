"""Intake's printed documents, rendered to PDF and read back: the acceptance receipt (受理回执)
and the supplementary-materials notice (补件通知单)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from types import SimpleNamespace

from services.intake.printing import notice_document, receipt_document
from shared.city import city_config
from shared.printing import render_pdf
from tests.printed import A4_POINTS, page_sizes, pdf_pages

CITY = city_config()
WINDOW = "厦门市思明区民族路127号厦港街道便民服务中心一楼"
RESIDENT_ID = "350203197001011234"
APPLICATION = SimpleNamespace(
    receipt_no="SL350203001-2026-000042",
    tracking_no="SQ350200-20261116-000001",
    accepted_at=datetime(2026, 11, 16, 1, 30, tzinfo=UTC),  # 09:30 in Xiamen
    accepted_org="350203001",
    accepted_by_name="王经办",
    category="low_income_family",
    incomplete_reason="户口簿由家属次日补交",
)
NOTICE = SimpleNamespace(
    notice_no="BJ350203001-2026-000007",
    items=[
        {"code": "id_card", "name": "居民身份证", "note": "正反面复印件"},
        {"code": "household_register", "name": "居民户口簿"},
    ],
    deadline=date(2026, 11, 30),
    deadline_fallback=False,
    requested_by_name="王经办",
    requested_org="350203001",
    requested_at=datetime(2026, 11, 16, 2, 0, tzinfo=UTC),
)


def _receipt() -> object:
    return receipt_document(
        city=CITY,
        application=APPLICATION,
        applicant=SimpleNamespace(name="张三丰", resident_id=RESIDENT_ID),
        received=[("id_card", 2), ("application_form", 1)],
        missing=["household_register"],
    )


def test_the_receipt_pdf_is_one_a4_page_with_everything_the_family_keeps() -> None:
    doc = _receipt()
    pdf = render_pdf(doc.html)
    assert page_sizes(pdf) == {A4_POINTS}
    [text] = pdf_pages(pdf)
    assert text.splitlines()[0] == "受理回执"
    for expected in (
        "编号：SL350203001-2026-000042",
        "申请查询编号 SQ350200-20261116-000001",
        "申请类别 城市中等偏下收入住房困难家庭",
        "受理时间 2026年11月16日 09:30",
        "1 居民身份证 2",
        "2 公共租赁住房申请表 1",
        "尚缺材料：居民户口簿。容缺受理理由：户口簿由家属次日补交。",
        "出具机关：思明区厦港街道办事处",
        "（盖章处）",
        "申请人签收：",
        f"地址：{WINDOW}",
        "电话：0592-2100001",
        "第 1 页 共 1 页",
    ):
        assert expected in text, expected
    # The family holds it: the name in full, the resident ID masked, no mobile.
    assert "身份证号 3502**********1234" in text
    assert RESIDENT_ID not in text and RESIDENT_ID not in doc.html


def test_the_receipt_html_is_the_same_document() -> None:
    html = _receipt().html
    assert "<h1>受理回执</h1>" in html
    assert "<title>受理回执 SL350203001-2026-000042</title>" in html
    assert "<tr><th>受理单位</th><td>思明区厦港街道办事处</td></tr>" in html
    assert "size: A4;" in html and "（盖章处）" in html
    assert _receipt().filename == "受理回执-SL350203001-2026-000042.pdf"


def test_the_notice_pdf_lists_every_missing_item_and_the_deadline() -> None:
    doc = notice_document(
        city=CITY, application=APPLICATION, applicant_name="张三丰", notice=NOTICE
    )
    pdf = render_pdf(doc.html)
    assert page_sizes(pdf) == {A4_POINTS}
    [text] = pdf_pages(pdf)
    assert text.splitlines()[0] == "补件通知单"
    for expected in (
        "编号：BJ350203001-2026-000007",
        "张三丰（申请查询编号：SQ350200-20261116-000001）：",
        "1 居民身份证 正反面复印件",
        "2 居民户口簿",
        "2026年11月30日",
        "出具机关：思明区厦港街道办事处",
        "申请人签收：",
        f"地址：{WINDOW}",
    ):
        assert expected in text, expected
    # The fallback-calendar remark only when the deadline was counted without holidays.
    assert "法定节假日" not in text


def test_the_notice_html_says_when_the_deadline_ignores_holidays() -> None:
    fallback = SimpleNamespace(**{**vars(NOTICE), "deadline_fallback": True})
    html = notice_document(
        city=CITY, application=APPLICATION, applicant_name="张三丰", notice=fallback
    ).html
    assert "<h1>补件通知单</h1>" in html
    assert "<tr><td>1</td><td>居民身份证</td><td>正反面复印件</td></tr>" in html
    assert "如遇法定节假日调整以受理窗口通知为准" in html
