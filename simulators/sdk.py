"""The department SDK as the platform's simulators and tests use it: the ``housing-department-
sdk`` package (``sdk/``, what a department installs) with the platform's movable clock
(``shared.clock``), so answers of simulated departments are stamped in the time of the services
they answer (tests and demos that shift time). A department uses the package itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from housing_department_sdk import (
    ANSWER_NAMESPACE,
    Answer,
    Envelope,
    Handler,
    TemporaryFailure,
    answer_batch_event_id,
    answer_event_id,
)
from housing_department_sdk import DepartmentClient as _DepartmentClient
from housing_department_sdk import answer_envelope as _answer_envelope
from housing_department_sdk.client import Clock, RequestLike

from shared.clock import now

__all__ = [
    "ANSWER_NAMESPACE",
    "Answer",
    "DepartmentClient",
    "Handler",
    "TemporaryFailure",
    "answer_batch_event_id",
    "answer_envelope",
    "answer_event_id",
]


def answer_envelope(
    department: str, request: RequestLike, answer: Answer, **options: Any
) -> Envelope:
    """:func:`housing_department_sdk.answer_envelope` stamped with the platform's clock."""
    return _answer_envelope(department, request, answer, **{"clock": now, **options})


@dataclass
class DepartmentClient(_DepartmentClient):
    clock: Clock = now
