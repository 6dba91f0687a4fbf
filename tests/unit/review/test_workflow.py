"""Workflow presets: the three shipped presets, validation that names the field, diagrams."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from services.review import bootstrap, workflow
from services.review.workflow import (
    Role,
    WorkflowError,
    load_workflow,
    load_workflows,
    mermaid,
    parse_workflow,
    presets,
    staff_role,
)

# The project README shows the presets (issue 5); checked against the YAML here.
README = Path(workflow.__file__).resolve().parents[2] / "README.md"


def xiamen_data() -> dict:
    return yaml.safe_load((workflow.WORKFLOWS_DIR / "xiamen.yaml").read_text(encoding="utf-8"))


def test_three_presets_with_the_stage_names_of_the_sources() -> None:
    wfs = presets()
    assert sorted(wfs) == ["fujian", "pinghu", "xiamen"]
    xiamen = wfs["xiamen"]
    assert [(s.code, s.name, s.level, s.signatures) for s in xiamen.stages] == [
        ("street_initial", "街道初审", "street", (Role.HANDLER, Role.REVIEWER)),
        (
            "district_review",
            "区住房保障行政管理部门审核",
            "district",
            (Role.HANDLER, Role.REVIEWER),
        ),
        (
            "city_confirmation",
            "市住房保障管理中心复核认定",
            "city",
            (Role.HANDLER, Role.REVIEWER, Role.LEADER),
        ),
    ]
    assert xiamen.publicity.name == "全市公示"
    assert [s.requires_verification for s in xiamen.stages] == [True, False, False]
    fujian, pinghu = wfs["fujian"], wfs["pinghu"]
    # Fujian: 4 stages (acceptance, joint review, confirmation, publicity) within 60 days.
    assert [p.name for p in fujian.external_phases if p.parallel_with is None] == ["申请受理"]
    assert [s.name for s in fujian.stages] == ["联合审核", "资格审核认定"]
    assert fujian.publicity.name == "保障资格审核结果公示"
    assert (fujian.total_limit_working_days, fujian.budget_used()) == (60, 55)
    # Pinghu: 申请受理, 项目核查, 街道审核, 联审公示 in 40 working days.
    assert [p.name for p in pinghu.external_phases] == ["申请受理", "项目核查"]
    assert [s.name for s in pinghu.stages] == ["街道审核", "联审"]
    assert pinghu.publicity.name == "联审公示"
    assert (pinghu.total_limit_working_days, pinghu.budget_used()) == (40, 40)


def test_token_roles_per_level() -> None:
    assert staff_role("street", Role.HANDLER) == "street_clerk"
    assert staff_role("district", Role.REVIEWER) == "district_reviewer"
    assert staff_role("city", Role.LEADER) == "city_leader"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda d: d["stages"][0].update(signatures=["reviewer", "handler"]),
            "xiamen.yaml: stages.0: signatures: the handler (经办人) signs first",
        ),
        (
            lambda d: d["stages"][1].update(signatures=["handler", "reviewer", "leader"]),
            "stages.1: signatures: a leader's approval exists at city level only",
        ),
        (
            lambda d: d["stages"][0].update(suspension_limit_working_days=11),
            "stages.0.suspension_limit_working_days: Input should be less than or equal to 10",
        ),
        (lambda d: d["stages"][2].update(time_limt=3), "stages.2.time_limt: unknown key"),
        (lambda d: d["stages"][0].update(level="province"), "stages.0.level: Input should be"),
        (
            lambda d: d.update(total_limit_working_days=40),
            "total_limit_working_days: stages, phases and publicity need 50 working days, "
            "more than 40",
        ),
        (
            lambda d: d["opinion_rules"].pop("min_length"),
            "opinion_rules.min_length: Field required",
        ),
    ],
)
def test_a_bad_definition_is_refused_naming_the_field(change, message: str) -> None:
    data = xiamen_data()
    change(data)
    with pytest.raises(WorkflowError) as caught:
        parse_workflow(data, source="xiamen.yaml")
    assert message.removeprefix("xiamen.yaml: ") in str(caught.value)
    assert str(caught.value).startswith("xiamen.yaml: ")


def test_a_bad_preset_stops_start_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = xiamen_data()
    data["stages"][0]["signatures"] = ["leader"]
    (tmp_path / "xiamen.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    monkeypatch.setattr(workflow, "WORKFLOWS_DIR", tmp_path)
    with pytest.raises(WorkflowError, match=r"^xiamen.yaml: stages.0: .*signatures"):
        bootstrap.definition()


def test_the_file_name_is_the_preset_name(tmp_path: Path) -> None:
    path = tmp_path / "amoy.yaml"
    path.write_text(yaml.safe_dump(xiamen_data(), allow_unicode=True), "utf-8")
    with pytest.raises(WorkflowError, match=r"amoy\.yaml: name: must match the file name 'amoy'"):
        load_workflow(path)
    with pytest.raises(WorkflowError, match="no workflow presets"):
        load_workflows(tmp_path / "empty")


def test_readme_shows_every_preset_as_generated_from_its_yaml() -> None:
    text = README.read_text(encoding="utf-8")
    for wf in presets().values():
        assert f"```mermaid\n{mermaid(wf)}\n```" in text, wf.name


def test_diagram_follows_the_yaml() -> None:
    diagram = mermaid(presets()["xiamen"])
    assert diagram.splitlines()[0] == "flowchart LR"
    assert "street_initial --> district_review" in diagram
    assert "district_review --> city_confirmation" in diagram
    assert "经办人 → 复核人 → 领导" in diagram
    assert "publicity -. 异议成立 .-> city_confirmation" in diagram
