"""What the publication service's commands, queries, handlers and sweeps need, built once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends

from services.publication.adapters.limiter import ProgressLimiter
from services.publication.adapters.province import Pusher
from services.publication.settings import PublicationSettings
from shared.app import get_context
from shared.context import ServiceContext


@dataclass(frozen=True)
class PublicationContext(ServiceContext):
    settings: PublicationSettings
    pusher: Pusher  # the provincial push: log writer's endpoints and the sender
    limiter: ProgressLimiter  # the progress query's token bucket
    objection_limiter: ProgressLimiter  # objection filing's


Ctx = Annotated[PublicationContext, Depends(get_context)]
