"""What the review service's commands, queries, handlers and sweeps need: the validated
workflow presets, the city's choice among them, the working-day calendar.

Built once by ``bootstrap.build_context`` from the runtime's city when the service starts; a
city naming no shipped preset stops start-up there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends

from services.review.settings import ReviewSettings
from services.review.workflow import Workflow
from shared.app import get_context
from shared.context import ServiceContext


@dataclass(frozen=True)
class ReviewContext(ServiceContext):
    settings: ReviewSettings
    workflows: Mapping[str, Workflow]

    @property
    def workflow(self) -> Workflow:
        """The preset in force: the one the city file names (new cases open with it)."""
        return self.workflows[self.city.workflow.value]

    def workflow_of(self, case: Any) -> Workflow:
        """The preset a case was opened with (a case keeps its layout if the city switches)."""
        return self.workflows[case.workflow]

    @property
    def publicity_min_days(self) -> int:
        return self.city.publicity.min_days


Ctx = Annotated[ReviewContext, Depends(get_context)]
