"""Workflow definitions (审核流程): the stage layouts a city chooses, as YAML data in the repo.

``services/review/data/workflows/<name>.yaml`` holds one preset each (xiamen, fujian, pinghu); the
city file's ``workflow`` names the one in force. Every preset is validated when the service
starts, so a bad definition stops start-up with the offending field named, e.g.
``fujian.yaml: stages.1.signatures: the handler signs first``.

The layout says, per stage: the administrative level that works on it (street / district /
city), the signature sequence (handler 经办人 -> reviewer 复核人 -> leader 领导), the time
limit in working days, how long a supplement suspension may last, and whether verification
must be complete before the handler signs. Phases owned by other services (acceptance,
department verification) are listed for the time budget and the diagram only.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal, Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from shared.auth import CITY_LEADER
from shared.city import MAX_SUPPLEMENT_WORKING_DAYS

WORKFLOWS_DIR = Path(__file__).resolve().parent / "data" / "workflows"

Level = Literal["street", "district", "city"]
Code = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
Text = Annotated[str, Field(min_length=1, max_length=200)]


class Role(StrEnum):
    """Who signs a stage, in this order (Xiamen art. 9(3)-(5))."""

    HANDLER = "handler"  # 经办人
    REVIEWER = "reviewer"  # 复审人 / 复核人
    LEADER = "leader"  # 领导审批

    @property
    def title(self) -> str:
        return {"handler": "经办人", "reviewer": "复核人", "leader": "领导"}[self.value]


ROLE_ORDER: tuple[Role, ...] = (Role.HANDLER, Role.REVIEWER, Role.LEADER)


def staff_role(level: str, role: Role) -> str:
    """The token role that may give ``role``'s signature at ``level`` (architecture.md §4 roles)."""
    if role is Role.LEADER:
        return CITY_LEADER
    return f"{level}_{'clerk' if role is Role.HANDLER else 'reviewer'}"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class OpinionRules(_Model):
    """What makes an opinion too empty to sign (Fujian rule: 未出具具体审核意见)."""

    min_length: int = Field(ge=1, le=200)
    empty_phrases: tuple[Text, ...] = Field(min_length=1)


class ExternalPhase(_Model):
    """A phase another service runs; listed for the time budget and the diagram."""

    code: Code
    name: Text
    owner: Literal["intake", "verification"]
    time_limit_working_days: int = Field(ge=1, le=200)
    # A phase that runs at the same time as a review stage does not add to the budget.
    parallel_with: Code | None = None


class Stage(_Model):
    code: Code
    name: Text
    level: Level
    signatures: tuple[Role, ...] = Field(min_length=1)
    time_limit_working_days: int = Field(ge=1, le=200)
    suspension_limit_working_days: int = Field(ge=1, le=MAX_SUPPLEMENT_WORKING_DAYS)
    requires_verification: bool = False

    @model_validator(mode="after")
    def _sequence(self) -> Self:
        if self.signatures[0] is not Role.HANDLER:
            raise ValueError("signatures: the handler (经办人) signs first")
        positions = [ROLE_ORDER.index(r) for r in self.signatures]
        if positions != sorted(set(positions)):
            raise ValueError("signatures: must follow handler -> reviewer -> leader, once each")
        if Role.LEADER in self.signatures and self.level != "city":
            raise ValueError("signatures: a leader's approval exists at city level only")
        return self

    def staff_role(self, role: Role) -> str:
        return staff_role(self.level, role)


class Publicity(_Model):
    name: Text
    level: Level
    # Working days the publicity and its objections take, for the overall budget.
    working_days_allowance: int = Field(ge=1, le=100)


class Workflow(_Model):
    name: Code
    version: int = Field(ge=1)
    title: Text
    source: str = Field(min_length=1, max_length=500)
    total_limit_working_days: int | None = Field(default=None, ge=1, le=1000)
    opinion_rules: OpinionRules
    external_phases: tuple[ExternalPhase, ...] = ()
    stages: tuple[Stage, ...] = Field(min_length=1)
    publicity: Publicity

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        codes = [s.code for s in self.stages]
        if len(set(codes)) != len(codes):
            raise ValueError("stages: stage codes must be unique")
        for i, phase in enumerate(self.external_phases):
            if phase.parallel_with is not None and phase.parallel_with not in codes:
                raise ValueError(
                    f"external_phases.{i}.parallel_with: unknown stage {phase.parallel_with!r}"
                )
        if self.total_limit_working_days is not None:
            used = self.budget_used()
            if used > self.total_limit_working_days:
                raise ValueError(
                    f"total_limit_working_days: stages, phases and publicity need {used} "
                    f"working days, more than {self.total_limit_working_days}"
                )
        return self

    def budget_used(self) -> int:
        serial = sum(
            p.time_limit_working_days for p in self.external_phases if p.parallel_with is None
        )
        return (
            serial
            + sum(s.time_limit_working_days for s in self.stages)
            + self.publicity.working_days_allowance
        )

    def stage(self, code: str) -> Stage | None:
        return next((s for s in self.stages if s.code == code), None)

    def index(self, code: str) -> int:
        return next(i for i, s in enumerate(self.stages) if s.code == code)


class WorkflowError(ValueError):
    """A workflow file cannot be used; the message names the file and field."""


def _messages(error: ValidationError) -> list[str]:
    out = []
    for item in error.errors():
        loc = ".".join(str(p) for p in item["loc"])
        msg = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            msg = "unknown key"
        out.append(f"{loc}: {msg}" if loc else msg)
    return out


def parse_workflow(data: Any, *, source: str = "workflow") -> Workflow:
    if not isinstance(data, dict):
        raise WorkflowError(f"{source}: expected a mapping at the top level")
    try:
        return Workflow.model_validate(data)
    except ValidationError as error:
        raise WorkflowError(f"{source}: " + "; ".join(_messages(error))) from None


def load_workflow(path: Path) -> Workflow:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise WorkflowError(f"{path.name}: cannot read: {error}") from None
    workflow = parse_workflow(data, source=path.name)
    if workflow.name != path.stem:
        raise WorkflowError(f"{path.name}: name: must match the file name {path.stem!r}")
    return workflow


def load_workflows(directory: Path | None = None) -> dict[str, Workflow]:
    """Every preset in ``directory`` (default: the repo's presets); raises
    :class:`WorkflowError` on the first bad one."""
    directory = directory or WORKFLOWS_DIR
    found = {wf.name: wf for wf in (load_workflow(p) for p in sorted(directory.glob("*.yaml")))}
    if not found:
        raise WorkflowError(f"{directory}: no workflow presets (*.yaml)")
    return found


@functools.cache
def presets() -> dict[str, Workflow]:
    return load_workflows()


# -- diagrams -------------------------------------------------------------------------------


def mermaid(workflow: Workflow) -> str:
    """A mermaid flowchart of the preset, generated from its YAML (the README embeds these)."""
    level_names = {"street": "街道", "district": "区", "city": "市"}
    lines = ["flowchart LR"]
    previous: str | None = None
    nodes: list[tuple[str, str]] = []
    for phase in workflow.external_phases:
        if phase.parallel_with is None:
            label = f"{phase.name}<br/>{phase.owner}，{phase.time_limit_working_days}个工作日"
            nodes.append((phase.code, label))
    for stage in workflow.stages:
        chain = " → ".join(r.title for r in stage.signatures)
        extra = "<br/>须先完成核查" if stage.requires_verification else ""
        nodes.append(
            (
                stage.code,
                f"{stage.name}（{level_names[stage.level]}级）<br/>{chain}<br/>"
                f"{stage.time_limit_working_days}个工作日，补件挂起≤"
                f"{stage.suspension_limit_working_days}{extra}",
            )
        )
    nodes.append(
        (
            "publicity",
            f"{workflow.publicity.name}<br/>≥7天，异议处理<br/>"
            f"{workflow.publicity.working_days_allowance}个工作日",
        )
    )
    nodes.append(("qualified", "取得轮候资格"))
    for code, label in nodes:
        lines.append(f'    {code}["{label}"]')
        if previous is not None:
            lines.append(f"    {previous} --> {code}")
        previous = code
    for phase in workflow.external_phases:
        if phase.parallel_with is not None:
            label = f"{phase.name}<br/>{phase.owner}，{phase.time_limit_working_days}个工作日"
            lines.append(f'    {phase.code}["{label}"]')
            lines.append(f"    {phase.code} -. 并联 .-> {phase.parallel_with}")
    for i, stage in enumerate(workflow.stages):
        if i > 0:
            lines.append(f"    {stage.code} -. 退回 .-> {workflow.stages[i - 1].code}")
    lines.append(f"    publicity -. 异议成立 .-> {workflow.stages[-1].code}")
    if workflow.total_limit_working_days is not None:
        lines.append(f"    %% total limit: {workflow.total_limit_working_days} working days")
    return "\n".join(lines)


def mermaid_all(names: Iterable[str] | None = None) -> str:
    wfs = presets()
    parts = []
    for name in names or sorted(wfs):
        wf = wfs[name]
        parts.append(f"### {wf.name}: {wf.title}\n\n```mermaid\n{mermaid(wf)}\n```\n")
    return "\n".join(parts)


if __name__ == "__main__":
    print(mermaid_all())
