"""The supervision documents alerting prints, from its templates over the shared A4 layout
(``shared/printing``): the 《电子监察工作联系函》 a higher unit sends a lower one about a red light
(Xiamen art. 11(3)2), and the ticket forms themselves, 《红灯预警督办单》 and 《黄灯预警督办单》
(art. 11(1)2 and 11(2)2), with the fields those articles list and the signatures they require.

Pure rendering: ``ticket_queries.py`` loads the ticket and its lights. No personal data: a
ticket names units, staff and an application's tracking number, never a family member.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from shared.city import CityConfig
from shared.printing import Document, Issuer, day, printer

TEMPLATES = Path(__file__).parent / "templates"

LETTER_TITLE = "电子监察工作联系函"
FORM_TITLES = {"red": "红灯预警督办单", "yellow": "黄灯预警督办单"}


@dataclass(frozen=True, slots=True)
class Light:
    """One light on a ticket, as its list (预警清单) prints it."""

    rule_id: str
    title: str
    raised_at: datetime


def render_letter(
    *,
    city: CityConfig,
    ticket: Any,
    rows: Sequence[tuple[str, str]],
    responsible: str,
    sender: str,
    sender_unit: str | None,
) -> Document:
    """联系函 from ``sender`` (the level above the responsible unit) to ``responsible``."""
    return printer(TEMPLATES).document(
        "letter.html",
        title=LETTER_TITLE,
        number=ticket.ticket_no,
        issuer=Issuer.of(city, sender_unit, organ=sender),
        issued_on=day(ticket.opened_at),
        responsible=responsible,
        rows=rows,
    )


def render_ticket_form(
    *,
    city: CityConfig,
    ticket: Any,
    rows: Sequence[tuple[str, str]],
    lights: Sequence[Light],
    organ: str,
) -> Document:
    """督办单 of a red or yellow ticket, held and signed by the unit that must handle it."""
    return printer(TEMPLATES).document(
        f"ticket_{ticket.colour}.html",
        title=FORM_TITLES[ticket.colour],
        number=ticket.ticket_no,
        issuer=Issuer.of(city, ticket.unit, organ=organ),
        issued_on=day(ticket.opened_at),
        rows=rows,
        lights=lights,
    )
