"""The texts the applicant is told: every template fills, and none lets an ID number, a mobile
or a household member's full name through."""

from __future__ import annotations

import re
import string

from services.intake.messages import render, templates

ID = "35020319900101123X"


def test_every_template_fills_from_its_named_fields() -> None:
    for kind, text in templates().items():
        fields = {f for _, f, _, _ in string.Formatter().parse(text) if f}
        rendered = render(kind, [], **dict.fromkeys(fields, "X"))
        assert "{" not in rendered and rendered.startswith("【公租房】"), kind


def test_reasons_lose_ids_mobiles_and_full_names() -> None:
    text = render(
        "rejected",
        ["张三丰", "张三"],
        tracking_no="SQ-1",
        reasons=f"张三丰（{ID}，电话13812345678）与张三名下有房",
    )
    assert ID not in text and "13812345678" not in text
    assert "张三丰" not in text and not re.search(r"张三(?!\*)", text)
    assert "张*丰（3502**********123X，电话138****5678）与张*名下有房" in text
