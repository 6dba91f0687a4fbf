"""The rule catalogue covers architecture.md §5 with stable ids, and the README table matches it."""

from __future__ import annotations

from pathlib import Path

from services.alerting.rules import catalogue, markdown_table

README = Path(__file__).resolve().parents[3] / "README.md"


def test_catalogue_has_every_design_rule_with_its_colour() -> None:
    rules = catalogue()
    assert {r: rules[r].colour for r in ("Y1", "Y2", "Y3")} == dict.fromkeys(
        ("Y1", "Y2", "Y3"), "yellow"
    )
    assert {f"R{i}" for i in range(1, 9)} <= set(rules)
    assert all(rules[f"R{i}"].colour == "red" for i in range(1, 9))
    # Fujian: opinion, parameters, three publication rules, and the reminders.
    assert "具体审核意见" in rules["F1"].title
    assert "准入条件" in rules["F2"].title
    assert [
        "资格认定结果" in rules["F3"].title,
        "配租结果" in rules["F4"].title,
        "异议调查结论" in rules["F5"].title,
    ] == [True, True, True]
    reminders = [r for r in rules.values() if r.kind == "reminder"]
    assert [r.id for r in reminders] == ["N1", "N2", "N3", "N4", "N5", "N6", "N7"]
    assert all(r.colour is None for r in reminders)


def test_every_evaluated_rule_of_xiamen_cites_its_article() -> None:
    rules = catalogue()
    for i, rid in enumerate(("Y1", "Y2", "Y3"), start=1):
        assert f"第八条（{'一二三'[i - 1]}）" in rules[rid].article
    for i in range(1, 9):
        assert f"第九条（{'一二三四五六七八'[i - 1]}）" in rules[f"R{i}"].article


def test_readme_table_is_generated_from_the_catalogue() -> None:
    assert markdown_table() in README.read_text(encoding="utf-8")
