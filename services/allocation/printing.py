"""The lease contract (公共租赁住房租赁合同) as printed for signing, from allocation's template
over the shared A4 layout (``shared/printing``).

The contract's text is the one stored when it was drafted (the model contract filled in, with
its coded early-recovery clauses), so the paper says exactly what was issued; this module only
lays it out — headings, paragraphs, numbered clauses without their system codes — and adds
the parties' signature block.
Allocation knows a household by its reference, never by name: the lessee signs by hand.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from shared.city import CityConfig
from shared.printing import Document, Issuer, day, printer

TEMPLATES = Path(__file__).parent / "templates"

# "3. [changed_use] 改变…": the bracketed code is for tenancy's systems, not for the paper.
_CLAUSE_CODE = re.compile(r"^(\d+\.)\s*\[[a-z0-9_]+\]\s*")


@dataclass(frozen=True, slots=True)
class Block:
    kind: Literal["heading", "paragraph"]
    text: str


def contract_blocks(text: str) -> list[Block]:
    """The stored contract text as blocks; its own ``#`` title is the document's title."""
    blocks = []
    for line in text.splitlines():
        line = line.strip()
        if not line or (line.startswith("# ") and not blocks):
            continue
        if line.startswith("#"):
            blocks.append(Block("heading", line.lstrip("#").strip()))
        else:
            blocks.append(Block("paragraph", _CLAUSE_CODE.sub(r"\1 ", line)))
    return blocks


def contract_title(city: CityConfig) -> str:
    return f"{city.city.name}公共租赁住房租赁合同"


def render_contract(
    *, city: CityConfig, contract: Any, unit: Any, household_reference: str, lessor: str
) -> Document:
    return printer(TEMPLATES).document(
        "contract.html",
        title=contract_title(city),
        number=str(contract.id),
        # The lessor seals for the city; the family goes to the housing centre's window.
        issuer=Issuer.of(city, city.city.code, organ=lessor),
        issued_on=day(contract.created_at),
        contract=contract,
        unit=unit,
        household_reference=household_reference,
        lessor=lessor,
        blocks=contract_blocks(contract.text),
    )
