"""The historical import's file reader: CSV with dotted headers and JSON become the same rows."""

from __future__ import annotations

import json

import pytest

from shared.legacy import ImportFileError, legacy_application_id, legacy_case_id, read_rows


def test_csv_dotted_headers_nest_and_empty_cells_are_absent() -> None:
    text = (
        "legacy_case_no,receipt_no,members.0.name,members.1.name,materials.0.size_bytes,"
        "materials.2.size_bytes,housing.tenure\n"
        "XM-1,,张三,李四,10,0,none\n"
    )
    (row,) = read_rows(text.encode(), "text/csv")
    assert row == {
        "legacy_case_no": "XM-1",
        "members": [{"name": "张三"}, {"name": "李四"}],
        "materials": [{"size_bytes": "10"}, {"size_bytes": "0"}],
        "housing": {"tenure": "none"},
    }


def test_json_rows_or_a_bare_list() -> None:
    rows = [{"legacy_case_no": "A"}, {"legacy_case_no": "B"}]
    assert read_rows(json.dumps({"rows": rows}).encode(), "application/json") == rows
    assert read_rows(json.dumps(rows).encode(), "application/json") == rows


@pytest.mark.parametrize(
    ("content", "kind", "message"),
    [
        (b"{", "application/json", "文件不是有效的JSON"),
        (b'{"rows": [1]}', "application/json", "对象数组"),
        (b"[]", "application/json", "没有数据行"),
        (b"a,b\n", "text/csv", "没有数据行"),
        (b"\xff\xfe", "text/csv", "UTF-8"),
        (b"x", "application/xml", "仅接受"),
    ],
)
def test_unreadable_files_are_refused_as_a_whole(content: bytes, kind: str, message: str) -> None:
    with pytest.raises(ImportFileError, match=message):
        read_rows(content, kind)


def test_ids_derive_from_the_case_number_alone() -> None:
    assert legacy_application_id("XM-1") == legacy_application_id("XM-1")
    assert legacy_application_id("XM-1") != legacy_application_id("XM-2")
    assert legacy_case_id("XM-1") != legacy_application_id("XM-1")
