"""Reading a printed document back: the text of a PDF (pypdf) and the size of its pages, so a
test asserts what is on paper rather than what the HTML meant to put there."""

from __future__ import annotations

import io
import re

from pypdf import PdfReader

A4_POINTS = (595, 842)


def pdf_pages(pdf: bytes) -> list[str]:
    """The text of each page, with runs of spaces (layout gaps) folded to one."""
    reader = PdfReader(io.BytesIO(pdf))
    return [re.sub(r"[ \u3000]+", " ", page.extract_text()) for page in reader.pages]


def pdf_text(pdf: bytes) -> str:
    return "\n".join(pdf_pages(pdf))


def page_sizes(pdf: bytes) -> set[tuple[int, int]]:
    """The distinct page sizes in whole points (A4 is 595.28 × 841.89)."""
    reader = PdfReader(io.BytesIO(pdf))
    return {(round(float(p.mediabox.width)), round(float(p.mediabox.height))) for p in reader.pages}


def lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]
