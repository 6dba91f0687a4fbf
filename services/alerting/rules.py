"""The supervision rule catalogue (监督规则目录), loaded from ``data/rules.yaml``.

The catalogue is data: ids are stable (Y1-Y3, R1-R8 after Xiamen art. 8 and 9; F1-F5 after
Fujian's rules; N1-N7 reminders; R9 and F6 the platform's allocation rules) and every other
module refers to rules by these ids, so a title or article can be corrected without touching
code.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

RULES_PATH = Path(__file__).parent / "data" / "rules.yaml"


class Rule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[A-Z][A-Z0-9_-]{0,15}$")
    colour: Literal["yellow", "red"] | None = Field(description="Null for reminders.")
    kind: Literal["event", "clock", "reminder"]
    title: str = Field(min_length=1, description="Chinese title.")
    article: str = Field(min_length=1, description="Source article.")
    triggers: tuple[str, ...] = Field(min_length=1)
    clears: str = Field(min_length=1, description="Clearing condition (Chinese).")
    clears_by: Literal["condition", "confirmation"]
    evaluated: bool = Field(description="False while no service publishes its trigger.")
    # R1-R5: the platform's own steps refuse what they describe (intake always issues a receipt
    # and refuses an empty upload, review enforces the signing order), so only the facts of a
    # historical import can light them.
    needs_import: bool = Field(
        default=False, description="Fires only from imported data (a historical import)."
    )
    # R7: the notice kinds whose publicity the rule times. Publication lets other kinds be
    # shorter (a 3-day 受理情况公告 is legal), so a rule with a list ignores every other kind.
    notice_kinds: tuple[str, ...] | None = Field(
        default=None, description="Notice kinds the rule covers; null: not about notices."
    )

    def covers_notice(self, kind: str) -> bool:
        return self.notice_kinds is None or kind in self.notice_kinds


class _Catalogue(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rules: tuple[Rule, ...]


@functools.cache
def catalogue() -> dict[str, Rule]:
    """Rules by id, in catalogue order; a duplicate id stops the service at start."""
    parsed = _Catalogue.model_validate(yaml.safe_load(RULES_PATH.read_text(encoding="utf-8")))
    rules: dict[str, Rule] = {}
    for rule in parsed.rules:
        if rule.id in rules:
            raise ValueError(f"rule {rule.id} defined twice in {RULES_PATH}")
        if (rule.kind == "reminder") != (rule.colour is None):
            raise ValueError(f"rule {rule.id}: reminders and only reminders have no colour")
        rules[rule.id] = rule
    return rules


def rule(rule_id: str) -> Rule:
    return catalogue()[rule_id]


def colour_of(rule_id: str) -> Literal["yellow", "red"]:
    colour = rule(rule_id).colour
    if colour is None:
        raise ValueError(f"{rule_id} is a reminder, not a light")
    return colour


def markdown_table() -> str:
    """The README table (``python -m services.alerting rules-table`` prints it)."""
    lines = [
        "| id | colour | kind | title | source | trigger | clears | evaluated "
        "| fires without imported data |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in catalogue().values():
        own = "no (import only)" if r.needs_import else ("yes" if r.evaluated else "-")
        lines.append(
            f"| {r.id} | {r.colour or '-'} | {r.kind} | {r.title} | {r.article} | "
            f"{'; '.join(r.triggers)} | {r.clears} | {'yes' if r.evaluated else 'no'} | {own} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":  # python -m services.alerting.rules > table for the README
    print(markdown_table())
