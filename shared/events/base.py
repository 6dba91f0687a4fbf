"""Base class and registry for typed event payloads.

Each payload model declares its event type, version and exchange; registering it makes it part
of the catalogue that consumers validate against and the AsyncAPI document is generated from.
"""

from __future__ import annotations

from typing import ClassVar, Literal, TypeVar

from pydantic import BaseModel, ConfigDict

ExchangeName = Literal["events", "verification"]


class EventPayload(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    event_type: ClassVar[str]
    event_version: ClassVar[int] = 1
    # "events" -> housing.events (routing key = type, or its ``routing_key_template`` filled
    # in); "verification" -> housing.verification.
    exchange: ClassVar[ExchangeName] = "events"
    summary: ClassVar[str] = ""

    def routing_key(self) -> str:
        return self.event_type

    @classmethod
    def routing_pattern(cls) -> str:
        """The topic pattern of every routing key this type is published under: the type
        itself, or its key template with ``*`` for each placeholder (``response.*``)."""
        template: str = getattr(cls, "routing_key_template", None) or cls.event_type
        return ".".join("*" if "{" in part else part for part in template.split("."))


REGISTRY: dict[tuple[str, int], type[EventPayload]] = {}

P = TypeVar("P", bound=type[EventPayload])


def register(cls: P) -> P:
    key = (cls.event_type, cls.event_version)
    if key in REGISTRY and REGISTRY[key] is not cls:
        raise ValueError(f"event {key} registered twice")
    REGISTRY[key] = cls
    return cls


def payload_model(event_type: str, version: int = 1) -> type[EventPayload] | None:
    return REGISTRY.get((event_type, version))
