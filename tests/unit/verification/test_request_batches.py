"""Which departments get batches (``HOUSING_VERIFICATION_REQUEST_BATCHES``), the batch ids
derived from their items, and an answer batch read item by item."""

from __future__ import annotations

import uuid

import pytest
from pydantic import ValidationError

from services.verification.commands import request_batch_event_id
from services.verification.handlers import read_answer_batch
from services.verification.settings import VerificationSettings
from shared.events.catalogue import DepartmentAnswered

CITY = ["public_security", "tax", "vehicle"]


@pytest.mark.parametrize(
    ("value", "batched"),
    [
        ("all", set(CITY)),
        ("true", set(CITY)),
        ("none", set()),
        ("false", set()),
        ("", set()),
        ("tax, vehicle", {"tax", "vehicle"}),
        ("TAX", {"tax"}),
    ],
)
def test_the_setting_names_the_departments_that_get_batches(value: str, batched: set) -> None:
    settings = VerificationSettings(request_batches=value)
    assert settings.batched_departments(CITY) == batched


def test_an_unknown_department_in_the_setting_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown department\\(s\\) taxes"):
        VerificationSettings(request_batches="tax,taxes").batched_departments(CITY)


def test_the_default_is_batches_for_every_department() -> None:
    assert VerificationSettings().batched_departments(CITY) == set(CITY)


def test_a_batch_id_depends_on_its_items_only() -> None:
    a, b = uuid.uuid4(), uuid.uuid4()
    assert request_batch_event_id([a, b]) == request_batch_event_id([b, a])
    assert request_batch_event_id([a]) != request_batch_event_id([a, b])


def test_an_answer_batch_is_read_item_by_item() -> None:
    good = {
        "request_id": str(uuid.uuid4()),
        "department": "tax",
        "answered_at": "2026-12-04T02:10:00Z",
        "no_record": True,
    }
    read = read_answer_batch({"department": "tax", "items": [good, {"request_id": "x"}, 7]})
    assert read.department == "tax"
    assert [type(answer) for _, answer in read.items] == [
        DepartmentAnswered,
        ValidationError,
        ValidationError,
    ]
    assert read.items[1][0] == {"request_id": "x"}
    # A batch that is not even a batch is refused whole, as a malformed single answer is.
    for shell in ({"department": "tax", "items": []}, {"items": [good]}, {**good}):
        with pytest.raises(ValidationError):
            read_answer_batch(shell)
