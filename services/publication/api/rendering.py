"""The Jinja2 environment of the public pages (autoescaped) and its filters: dates in Beijing
time, money and areas as notices write them (30万元、15平方米)."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from services.publication import domain
from services.publication.context import PublicationContext
from shared.clock import SHANGHAI

TEMPLATES = Path(__file__).parent.parent / "data" / "templates"


def _day(value: datetime | None) -> str:
    if value is None:
        return ""
    return value.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def _date(value: date | str | None) -> str:
    """``2026年12月18日``, as a notice writes a deadline (a date or its ISO text)."""
    if not value:
        return ""
    if isinstance(value, str):
        value = date.fromisoformat(value[:10])
    return f"{value.year}年{value.month}月{value.day}日"


def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["day"] = _day
    env.filters["cn_date"] = _date
    env.filters["yuan"] = domain.yuan
    env.filters["m2"] = domain.square_metres
    return env


_env = environment()


def render(
    ctx: PublicationContext, name: str, title: str, status: int = 200, **context: Any
) -> HTMLResponse:
    html = _env.get_template(name).render(title=title, city_name=ctx.city.city.name, **context)
    return HTMLResponse(html, status_code=status)
