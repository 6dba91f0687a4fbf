"""Pure review rules: opinions, the signature sequence, working-day clocks."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from services.review import domain
from services.review.domain import SignedRole
from services.review.workflow import OpinionRules, Role
from shared.clock import SHANGHAI
from shared.problems import Conflict, ValidationProblem
from shared.workdays import WorkdayCalendar

RULES = OpinionRules(min_length=10, empty_phrases=("同意", "不同意", "符合条件", "经审核", "无"))
CAL = WorkdayCalendar()  # library years only: 2027 falls back to Monday-Friday
H, R, L = Role.HANDLER, Role.REVIEWER, Role.LEADER


@pytest.mark.parametrize(
    ("text", "quality"),
    [
        ("", "empty"),
        (" 。。， ", "empty"),
        ("同意", "boilerplate"),
        ("经审核，符合条件，同意。", "boilerplate"),
        ("不同意", "boilerplate"),
        ("同意，材料齐全", "boilerplate"),
        ("经核查，家庭人均月收入2100元，名下无住房，符合条件，同意。", "specific"),
    ],
)
def test_opinion_quality(text: str, quality: str) -> None:
    assert domain.opinion_quality(text, RULES) == quality


def test_boilerplate_opinion_is_refused_naming_the_field() -> None:
    with pytest.raises(ValidationProblem) as caught:
        domain.require_specific_opinion("同意。", RULES)
    assert caught.value.field == "opinion"
    assert "过于笼统" in caught.value.detail
    with pytest.raises(ValidationProblem, match="不能为空"):
        domain.require_specific_opinion("   ", RULES)


def test_reviewer_before_handler_is_refused_naming_the_missing_signature() -> None:
    with pytest.raises(Conflict) as caught:
        domain.check_may_sign([H, R], [], R, "u2")
    assert caught.value.extra == {"missing_signatures": ["handler"]}
    assert caught.value.detail == "须先由经办人签字，复核人不能提前签字。"


def test_leader_before_reviewer_is_refused() -> None:
    with pytest.raises(Conflict) as caught:
        domain.check_may_sign([H, R, L], [SignedRole(H, "u1")], L, "u3")
    assert caught.value.extra == {"missing_signatures": ["reviewer"]}


def test_one_person_signs_once_per_stage_and_each_role_once() -> None:
    with pytest.raises(Conflict, match="同一人不能在同一环节签字两次"):
        domain.check_may_sign([H, R], [SignedRole(H, "u1")], R, "u1")
    with pytest.raises(Conflict, match="经办人已签字"):
        domain.check_may_sign([H, R], [SignedRole(H, "u1")], H, "u9")
    with pytest.raises(ValidationProblem):
        domain.check_may_sign([H, R], [SignedRole(H, "u1")], L, "u9")
    domain.check_may_sign([H, R], [SignedRole(H, "u1")], R, "u2")  # in order: allowed
    assert domain.next_role([H, R, L], [H]) is R
    assert domain.next_role([H, R], [H, R]) is None


def test_deadline_crossing_into_2027_shows_the_fallback() -> None:
    started = datetime(2026, 12, 21, 9, 0, tzinfo=SHANGHAI)
    clock = domain.stage_clock(CAL, started, 15)
    # 2026-12-22..31 are 8 working days; then 2027 Monday-Friday (1 Jan counted: no calendar).
    assert clock.due.date == date(2027, 1, 11)
    assert clock.due.fallback_years == (2027,)
    assert clock.yellow_at == datetime(2027, 1, 8, tzinfo=SHANGHAI)  # Friday morning


def test_suspension_over_the_spring_festival_ends_on_the_right_day() -> None:
    # 2026: 15-23 Feb off, Saturdays 14 and 28 Feb are make-up working days.
    suspended = datetime(2026, 2, 12, 10, 0, tzinfo=SHANGHAI)
    end = domain.suspension_end(CAL, suspended, 10)
    assert end.date == date(2026, 3, 4)
    assert end.fallback_years == ()
    assert domain.suspended_working_days(CAL, suspended, end.at) == 10


def test_suspended_days_move_the_deadline() -> None:
    started = datetime(2026, 2, 12, 1, 0, tzinfo=UTC)
    assert domain.stage_clock(CAL, started, 15).due.date == date(2026, 3, 11)
    assert domain.stage_clock(CAL, started, 15, suspended_days=10).due.date == date(2026, 3, 25)


def test_working_days_left_is_negative_after_the_deadline() -> None:
    assert domain.working_days_left(CAL, date(2026, 3, 2), date(2026, 3, 4)) == 2
    assert domain.working_days_left(CAL, date(2026, 3, 4), date(2026, 3, 4)) == 0
    assert domain.working_days_left(CAL, date(2026, 3, 6), date(2026, 3, 4)) == -2


def test_priority_groups_follow_the_city_rules() -> None:
    from services.review.domain import priority_groups
    from shared.city import city_config

    city = city_config()
    names = {d.code: d.name for d in city.departments}
    findings = [
        {"kind": "disability", "value": "2", "department": "disabled_persons_federation"},
        {"kind": "disability", "value": "4", "department": "disabled_persons_federation"},
        {"kind": "age", "value": "60", "department": "health"},
        {"kind": "assistance", "value": "low_income", "department": "civil_affairs"},
    ]
    assert priority_groups(city.priority_groups, findings, names) == [
        {"code": "disability", "reason": "残疾人家庭：市残疾人联合会核实家庭成员持2级残疾人证"},
        {
            "code": "elderly",
            "reason": "老年人家庭（60周岁以上）：市卫生健康委员会核实家庭成员年满60周岁",
        },
    ]
    assert priority_groups(city.priority_groups, [], names) == []
