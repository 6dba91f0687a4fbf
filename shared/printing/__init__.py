"""Printable documents (打印文书): the A4 layout every service's documents share, and the HTML and
PDF answers of their print routes.

A service keeps its document templates in its own ``templates/`` folder; each extends
``document.html`` here, which holds the page (A4, margins, page numbers), the document head, the
issuing organ with its seal area (盖章处), the recipient's 签收 line and the window to go to.
Jinja2 autoescapes every value.

PDFs come from WeasyPrint (CJK text in Debian's ``fonts-noto-cjk``). WeasyPrint is imported on
the first PDF, not when a service starts (loading it and pango costs about two seconds), and a
PDF is rendered in a worker thread so the event loop keeps serving while it lays out the page;
renders are serialised because fontconfig, under pango, is not safe to call from two threads at
once. Nothing of a document's content is logged.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi.responses import HTMLResponse, Response
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined, select_autoescape

from shared.city import CityConfig
from shared.clock import SHANGHAI

TEMPLATES = Path(__file__).parent / "templates"
PDF_MEDIA_TYPE = "application/pdf"
# Documents name a person: no shared cache may keep them.
_PRIVATE = {"Cache-Control": "no-store"}

_render_lock = threading.Lock()


def day(value: date | datetime | None) -> str:
    """A date as documents write it: 2026年11月16日."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.astimezone(SHANGHAI).date()
    return f"{value.year}年{value.month}月{value.day}日"


def minute(value: datetime | None) -> str:
    """A moment as documents write it, in Xiamen time: 2026年11月16日 09:00."""
    if value is None:
        return ""
    local = value.astimezone(SHANGHAI)
    return f"{day(local)} {local:%H:%M}"


@dataclass(frozen=True, slots=True)
class Issuer:
    """Who issues a document and where its recipient goes: the organ (出具机关) that seals it
    and the window (name, address, telephone, hours) printed at its foot."""

    organ: str
    window_name: str
    window_address: str
    window_phone: str
    window_hours: str

    @classmethod
    def of(cls, city: CityConfig, unit: str | None, *, organ: str | None = None) -> Issuer:
        """The issuer for administrative unit ``unit`` (street, district or city), its window
        from the city configuration; ``organ`` overrides the organ's name (a lessor, a
        department)."""
        window = city.window_for(unit)
        return cls(
            organ=organ or city.organ_name(unit),
            window_name=window.name,
            window_address=window.address,
            window_phone=window.phone,
            window_hours=window.hours,
        )


@dataclass(frozen=True, slots=True)
class Document:
    """One rendered document: its HTML, and what names its PDF file."""

    title: str
    number: str
    html: str

    @property
    def filename(self) -> str:
        """受理回执-SL350203001-2026-000042.pdf"""
        return f"{self.title}-{self.number}.pdf"

    @property
    def ascii_filename(self) -> str:
        """SL350203001-2026-000042.pdf (document numbers are ASCII)."""
        return f"{self.number}.pdf"


class Printer:
    """The templates of one service over the shared layout."""

    def __init__(self, templates: Path) -> None:
        self.env = Environment(
            loader=ChoiceLoader([FileSystemLoader(templates), FileSystemLoader(TEMPLATES)]),
            autoescape=select_autoescape(["html"]),
            # A field left out is a bug in the route, never an empty line on paper.
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters["day"] = day
        self.env.filters["minute"] = minute

    def document(
        self, template: str, *, title: str, number: str, issuer: Issuer, **fields: Any
    ) -> Document:
        html = self.env.get_template(template).render(
            title=title, number=number, issuer=issuer, **fields
        )
        return Document(title=title, number=number, html=html)


@cache
def printer(templates: Path) -> Printer:
    return Printer(templates)


def render_pdf(html: str) -> bytes:
    """The PDF of one document (blocking: call it through :func:`pdf_bytes` from a route)."""
    # Imported here: the first PDF pays for loading pango, not every service start.
    from weasyprint import HTML

    with _render_lock:
        return HTML(string=html, base_url=str(TEMPLATES)).write_pdf()


async def pdf_bytes(html: str) -> bytes:
    return await asyncio.to_thread(render_pdf, html)


def content_disposition(filename: str, fallback: str) -> str:
    """``inline`` (the browser's viewer opens it to print), the Chinese name in ``filename*``
    (RFC 6266, RFC 8187) and an ASCII ``fallback`` for clients without it."""
    ascii_name = "".join(
        c if c.isascii() and (c.isalnum() or c in "-_.") else "_" for c in fallback
    )
    return f"inline; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"


def html_response(doc: Document) -> HTMLResponse:
    return HTMLResponse(doc.html, headers=_PRIVATE)


async def pdf_response(doc: Document) -> Response:
    body = await pdf_bytes(doc.html)
    return Response(
        body,
        media_type=PDF_MEDIA_TYPE,
        headers={
            **_PRIVATE,
            "Content-Disposition": content_disposition(doc.filename, doc.ascii_filename),
        },
    )


# WeasyPrint warns about CSS it ignores and fetches it fails; those name selectors and URLs, never
# the document's text, but quieter is safer for documents that carry personal data.
logging.getLogger("weasyprint").setLevel(logging.ERROR)
logging.getLogger("fontTools").setLevel(logging.ERROR)

# The OpenAPI description of a PDF answer, shared by every ``.pdf`` route.
PDF_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {PDF_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}},
        "description": "A4 PDF，可直接打印",
    }
}
