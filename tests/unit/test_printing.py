"""The shared A4 layout (shared/printing): issuers from the city file, the PDF's page size and
page numbers, the download name."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.city import city_config
from shared.printing import Issuer, Printer, content_disposition, day, render_pdf
from tests.printed import A4_POINTS, page_sizes, pdf_pages


def test_the_issuer_is_the_unit_as_documents_name_it_with_its_window() -> None:
    city = city_config()
    street = Issuer.of(city, "350203001")
    assert street.organ == "思明区厦港街道办事处"
    assert street.window_name == "厦港街道便民服务中心住房保障受理窗口"
    assert street.window_address == "厦门市思明区民族路127号厦港街道便民服务中心一楼"
    assert street.window_phone == "0592-2100001"
    # A town is a people's government; a street without its own window prints the centre's.
    town = Issuer.of(city, "350211102")
    assert town.organ == "集美区灌口镇人民政府"
    assert town.window_name == "厦门市住房保障管理中心"
    assert town.window_address == city.offices.housing_centre.address
    assert Issuer.of(city, "350205").organ == "海沧区住房保障行政管理部门"
    assert Issuer.of(city, "350200").organ == "厦门市住房保障管理中心"
    assert Issuer.of(city, "350200", organ="厦门市住房保障中心").organ == "厦门市住房保障中心"


def test_a_long_document_numbers_its_a4_pages(tmp_path: Path) -> None:
    (tmp_path / "long.html").write_text(
        '{% extends "document.html" %}{% block body %}'
        "{% for i in range(70) %}<p>第{{ i }}行</p>{% endfor %}{% endblock %}",
        encoding="utf-8",
    )
    doc = Printer(tmp_path).document(
        "long.html",
        title="测试文书",
        number="CS-2026-000001",
        issuer=Issuer.of(city_config(), "350203001"),
        issued_on="2026年11月16日",
    )
    pdf = render_pdf(doc.html)
    pages = pdf_pages(pdf)
    assert len(pages) >= 2
    assert page_sizes(pdf) == {A4_POINTS}
    for n, text in enumerate(pages, start=1):
        assert f"第 {n} 页 共 {len(pages)} 页" in text
    assert "测试文书" in pages[0] and "编号：CS-2026-000001" in pages[0]
    # Seal area, signature line and window close the last page.
    assert "（盖章处）" in pages[-1] and "签收人：" in pages[-1]
    assert "厦门市思明区民族路127号厦港街道便民服务中心一楼" in pages[-1]


def test_a_field_the_route_forgot_is_an_error_not_a_blank_on_paper(tmp_path: Path) -> None:
    (tmp_path / "bad.html").write_text(
        '{% extends "document.html" %}{% block body %}{{ missing }}{% endblock %}',
        encoding="utf-8",
    )
    with pytest.raises(Exception, match="missing"):
        Printer(tmp_path).document(
            "bad.html",
            title="测试",
            number="X",
            issuer=Issuer.of(city_config(), "350200"),
            issued_on="",
        )


def test_the_download_name_is_chinese_with_an_ascii_fallback() -> None:
    assert content_disposition(
        "受理回执-SL350203001-2026-000042.pdf", "SL350203001-2026-000042.pdf"
    ) == (
        'inline; filename="SL350203001-2026-000042.pdf"; '
        "filename*=UTF-8''%E5%8F%97%E7%90%86%E5%9B%9E%E6%89%A7-SL350203001-2026-000042.pdf"
    )


def test_dates_are_written_the_chinese_way() -> None:
    from datetime import UTC, date, datetime

    assert day(date(2026, 3, 5)) == "2026年3月5日"
    # 23:30 UTC is the next morning in Xiamen.
    assert day(datetime(2026, 3, 5, 23, 30, tzinfo=UTC)) == "2026年3月6日"
    assert day(None) == ""
