"""Historical import (历史数据导入): what intake's and review's imports share.

A migrating city's old system names each case by its own case number (原系统案卷号). Both
imports derive the platform's ids from it, so review's file of signatures finds the application
intake's file created without asking intake, and the same file loaded twice lands on the same
rows (idempotence keys on the case number).

Files are JSON (``{"rows": [...]}`` or a bare list) or CSV. A CSV header names nested fields
with dots and list positions with numbers (``members.0.resident_id``, ``materials.1.size_bytes``);
an empty cell is an absent field. Rows are numbered from 1 in file order (a CSV's row 1 is the
line after the header), and the report names that number.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import re
import uuid
from typing import Any, Literal

from pydantic import BaseModel, Field

# Fixed namespace: the same case number gives the same id in every deployment and every run.
_NAMESPACE = uuid.UUID("5b0c7f0e-0d6e-4c55-9a57-4f1c3e2d8a10")

LEGACY_CASE_NO = r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,59}$"
MAX_ROWS = 5000


class ImportFieldError(BaseModel):
    field: str
    detail: str


class ImportRowOut(BaseModel):
    row: int = Field(description="行号（从1起；CSV为表头后的第几行）")
    legacy_case_no: str | None
    # imported: stored now | unchanged: the same case was imported before | rejected: nothing
    # stored for this row, see errors
    outcome: Literal["imported", "unchanged", "rejected"]
    application_id: uuid.UUID | None = None
    tracking_no: str | None = None
    errors: list[ImportFieldError] = Field(default_factory=list)


class ImportReport(BaseModel):
    """导入报告: every row with its outcome; personal data never quoted."""

    file_sha256: str
    rows: int
    imported: int
    unchanged: int
    rejected: int
    report: list[ImportRowOut]


class ImportFileError(ValueError):
    """The file as a whole cannot be read (not JSON / CSV, too many rows)."""


def legacy_application_id(case_no: str) -> uuid.UUID:
    return uuid.uuid5(_NAMESPACE, f"application:{case_no}")


def legacy_case_id(case_no: str) -> uuid.UUID:
    return uuid.uuid5(_NAMESPACE, f"case:{case_no}")


def read_rows(content: bytes, content_type: str) -> list[dict[str, Any]]:
    """The file's rows as dicts, in order; raises ``ImportFileError`` with a Chinese message."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ImportFileError("文件不是UTF-8编码") from None
    if content_type == "text/csv":
        rows = [_unflatten(r) for r in csv.DictReader(io.StringIO(text))]
    elif content_type == "application/json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            raise ImportFileError("文件不是有效的JSON") from None
        rows = data.get("rows") if isinstance(data, dict) else data
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise ImportFileError('JSON须为对象数组，或含 "rows" 数组的对象')
    else:
        raise ImportFileError("仅接受 text/csv 或 application/json")
    if not rows:
        raise ImportFileError("文件中没有数据行")
    if len(rows) > MAX_ROWS:
        raise ImportFileError(f"单个文件最多{MAX_ROWS}行，请分批导入")
    return rows


_INDEX = re.compile(r"^[0-9]{1,3}$")


def _unflatten(flat: dict[str | None, Any]) -> dict[str, Any]:
    """``{"a.0.b": "x"}`` -> ``{"a": [{"b": "x"}]}``; empty cells are left out."""
    root: dict[str, Any] = {}
    for key, value in flat.items():
        if key is None or value is None or value == "":
            continue  # None key: more cells than header columns; pydantic reports what's missing
        parts = key.strip().split(".")
        node: Any = root
        for part, nxt in itertools.pairwise(parts):
            child_is_list = bool(_INDEX.match(nxt))
            if isinstance(node, list):
                i = int(part)
                while len(node) <= i:
                    node.append(None)
                if node[i] is None:
                    node[i] = [] if child_is_list else {}
                node = node[i]
            else:
                node = node.setdefault(part, [] if child_is_list else {})
        last = parts[-1]
        if isinstance(node, list):
            i = int(last)
            while len(node) <= i:
                node.append(None)
            node[i] = value
        else:
            node[last] = value
    _drop_holes(root)
    return root


def _drop_holes(node: Any) -> None:
    # materials.0 and materials.2 without materials.1: positions are only an ordering.
    if isinstance(node, dict):
        for v in node.values():
            _drop_holes(v)
    elif isinstance(node, list):
        node[:] = [v for v in node if v is not None]
        for v in node:
            _drop_holes(v)


def main(argv: list[str] | None = None) -> int:
    """``python -m shared.legacy FILE --url http://intake:8000/imports/applications``: post a
    CSV or JSON file to an import endpoint with the data steward's token
    (``HOUSING_IMPORT_TOKEN``) and print the report; exit status 1 when a row was rejected."""
    import argparse
    import os
    import sys
    from pathlib import Path

    import httpx

    parser = argparse.ArgumentParser(prog="python -m shared.legacy", description=main.__doc__)
    parser.add_argument("file", type=Path)
    parser.add_argument("--url", required=True, help=".../imports/applications or /signatures")
    parser.add_argument("--token", default=os.environ.get("HOUSING_IMPORT_TOKEN"))
    args = parser.parse_args(argv)
    if not args.token:
        parser.error("--token or HOUSING_IMPORT_TOKEN is required")
    kind = "text/csv" if args.file.suffix.lower() == ".csv" else "application/json"
    response = httpx.post(
        args.url,
        content=args.file.read_bytes(),
        headers={"Content-Type": kind, "Authorization": f"Bearer {args.token}"},
        timeout=600,
    )
    sys.stdout.write(json.dumps(response.json(), ensure_ascii=False, indent=2) + "\n")
    if response.status_code != 200:
        return 2
    return 1 if response.json().get("rejected") else 0


if __name__ == "__main__":
    raise SystemExit(main())
