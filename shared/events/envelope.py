"""The event envelope: one JSON schema for every event on the broker."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field


class Envelope(BaseModel):
    """What travels on the wire. ``id`` is the idempotency key consumers deduplicate on."""

    model_config = ConfigDict(frozen=True)

    id: uuid.UUID = Field(description="Event id; the idempotency key.")
    type: str = Field(description="Event type, also the routing key on housing.events.")
    version: int = Field(ge=1, description="Version of the payload schema.")
    occurred_at: datetime = Field(description="When it happened, UTC ISO-8601.")
    producer: str = Field(description="The service that wrote it.")
    correlation_id: str = Field(description="Follows one application end to end.")
    causation_id: str | None = Field(default=None, description="The event that caused it.")
    subject: str = Field(description="The application or case id the event is about.")
    data: dict[str, Any] = Field(description="The typed payload, see the event catalogue.")

    def to_bytes(self) -> bytes:
        return orjson.dumps(self.model_dump(mode="json"))

    @classmethod
    def from_bytes(cls, body: bytes) -> Envelope:
        return cls.model_validate_json(body)
