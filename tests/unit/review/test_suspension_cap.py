"""Xiamen art. 7: the supplement suspension limit is a stage's total, not each suspension's."""

from __future__ import annotations

import pytest

from services.review.domain import suspension_remaining


@pytest.mark.parametrize(
    ("limit", "used", "left"), [(10, 0, 10), (10, 4, 6), (10, 10, 0), (5, 7, 0)]
)
def test_what_a_stage_has_left(limit: int, used: int, left: int) -> None:
    assert suspension_remaining(limit, used) == left
