"""Events: the envelope, the typed payloads and their registry.

Importing this package imports :mod:`shared.events.catalogue`, so every payload is registered
before a consumer calls :func:`payload_model`.
"""

from shared.events import catalogue
from shared.events.base import REGISTRY, EventPayload, payload_model, register
from shared.events.envelope import Envelope

__all__ = ["REGISTRY", "Envelope", "EventPayload", "catalogue", "payload_model", "register"]
