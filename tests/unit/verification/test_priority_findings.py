"""The verified circumstances verification reports for priority in allocation."""

from __future__ import annotations

from datetime import date

from services.verification.domain import Answer, priority_findings

A, B = "a" * 64, "b" * 64


def test_each_circumstance_once_without_member_identity() -> None:
    answers = {
        "civil_affairs": Answer.from_json(
            "civil_affairs",
            False,
            [
                {"member_ref": A, "kind": "assistance", "status": "minimum_living"},
                {"member_ref": B, "kind": "assistance", "status": "minimum_living"},
                {"member_ref": A, "kind": "marriage", "status": "married"},
            ],
        ),
        "health": Answer.from_json(
            "health",
            False,
            [
                {"member_ref": A, "kind": "vital", "event": "birth", "on": "1960-12-02"},
                {"member_ref": B, "kind": "vital", "event": "birth", "on": "1950-01-01"},
                {"member_ref": B, "kind": "vital", "event": "death", "on": "2025-01-01"},
            ],
        ),
        "veterans_affairs": Answer.from_json(
            "veterans_affairs", False, [{"member_ref": B, "kind": "veteran", "status": "veteran"}]
        ),
    }
    found = [f.model_dump() for f in priority_findings(answers, date(2026, 12, 1))]
    # Born 1960-12-02: still 65 on 2026-12-01; the deceased member's age is not counted.
    assert found == [
        {"kind": "age", "value": "65", "department": "health"},
        {"kind": "assistance", "value": "minimum_living", "department": "civil_affairs"},
        {"kind": "veteran", "value": "veteran", "department": "veterans_affairs"},
    ]
    assert priority_findings({}, date(2026, 12, 1)) == []
