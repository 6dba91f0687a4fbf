"""The AsyncAPI 3.0 document of the platform's events, generated from the payload registry.

The document is what a department system integrator reads: the broker, the two exchanges, the
envelope and every payload's JSON schema, and — for ``housing.verification`` — the operations a
department performs (receive its requests, send its answers). It is generated, never edited:
``uv run python -m shared.events asyncapi --output docs/asyncapi.yaml``. The output holds no
timestamps and follows the registry in a fixed order, so regenerating an unchanged catalogue
gives the same bytes (a unit test compares it with the committed copy).
"""

from __future__ import annotations

import copy
import inspect
import re
import typing
import uuid
from typing import Any

import yaml
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from shared.city import city_config
from shared.events import catalogue
from shared.events.base import REGISTRY, EventPayload
from shared.events.envelope import Envelope
from shared.examples import example_of

ASYNCAPI_VERSION = "3.0.0"
AMQP_BINDING_VERSION = "0.3.0"
REF_TEMPLATE = "#/components/schemas/{model}"
EXCHANGES: dict[str, str] = {"events": "housing.events", "verification": "housing.verification"}
HEADER = (
    "# Generated from shared/events/catalogue.py; do not edit by hand. Regenerate with:\n"
    "#   uv run python -m shared.events asyncapi --output docs/asyncapi.yaml\n"
)

DESCRIPTION = """\
Domain events of the public rental housing (公租房) allocation and supervision platform, and the
cross-department verification exchange (协查) that department systems connect to.

**Envelope.** Every message body is one JSON envelope (`Envelope` below): `id` (UUID),
`type`, `version`, `occurred_at` (UTC), `producer`, `correlation_id` (follows one application
end to end), `causation_id`, `subject` and `data`, the typed payload of `type` at `version`.

**Delivery guarantees.**
- Messages are persistent (delivery mode 2) and published with publisher confirms; the
  platform writes events in the same database transaction as the change that causes them
  (transactional outbox) and relays them until the broker confirms.
- Delivery is **at least once**: the same event may arrive more than once. Consumers must
  deduplicate on the envelope `id` (the platform records handled ids in the same transaction
  as their effects).
- Queues are durable (quorum); consumers ack manually after their transaction commits, with
  bounded prefetch. A message that keeps failing is retried with back-off, then moved to a
  dead-letter queue (DLQ) that an operator inspects and replays.
- Order is not guaranteed across events; use `occurred_at` and the ids.

**Who may publish.** Every platform service publishes as a RabbitMQ account of its own
(`housing_<service>`) and sets the AMQP `user_id` property, which the broker checks against
the login. A consumer believes an event type only from the account of its producer
(`x-producer` below); anything else is parked as `unexpected_producer`. Department answers
are judged by their route (`response.<department>`, the only key a department user may write).

**Compatibility.** Within a version, fields are only added, with defaults. Payloads are
validated strictly (unknown fields are refused), so an added field is rolled out to consumers
before producers send it, and a department answer sends exactly the fields documented here.
An incompatible change is a new `version`, published alongside the old one until every
consumer has moved.

**Departments.** Each department system reads requests from its own queue bound to
`request.<department>` and publishes answers with routing key `response.<department>`. The
queue is `housing.dept.<department>` (durable, quorum), declared by the verification service;
department users may not declare anything (`deploy/rabbitmq/department_users.sh`). Answer
each `request_id` once; only the first answer counts. The
operations in this document are described from the department system's point of view.
Departments without AMQP use the HTTP alternative of the verification service:
`GET /departments/{dept}/requests?status=pending` and
`POST /departments/{dept}/requests/{id}/answer` with the same payloads.

**Purpose.** A request's `purpose` says why the household is checked: `admission` (准入核查,
an application; the field is then left out, so requests look exactly as they always did) or
`re_review` (年度复核, the annual re-review of a tenant household, the same people and the
same fields). Answer both the same way: search your records as they stand today; answers are
validated identically.

**Personal data.** Requests carry names and resident ID numbers of the household members and
only the extra fields that department needs; everything else identifies people by keyed hash.
Do not log the payloads of requests.
"""

SERVER_NOTE = """\
RabbitMQ (AMQP 0-9-1). Each department system has its own user whose permissions on the vhost
allow it to read only its own request queue (bound to `request.<department>` on
`housing.verification`) and to write only to `housing.verification`, with topic authorisation
limited to the routing key `response.<department>`. It cannot read `housing.events`.
Internal services have their own users. Publish with publisher confirms and `mandatory`.
"""


def _camel(*parts: str) -> str:
    words = [w for p in parts for w in re.split(r"[._{}]+", p) if w]
    return words[0].lower() + "".join(w[:1].upper() + w[1:] for w in words[1:])


def _address(cls: type[EventPayload]) -> str:
    return getattr(cls, "routing_key_template", cls.event_type)


def _channel_id(cls: type[EventPayload]) -> str:
    if cls.exchange == "events":
        return _camel(cls.event_type)
    # "request.{department}" on the verification exchange -> "verificationRequest"
    static = re.sub(r"\.?\{[^}]+\}", "", _address(cls))
    return _camel(cls.exchange, static)


def _message_id(cls: type[EventPayload]) -> str:
    return f"{_camel(cls.event_type)}V{cls.event_version}"


def _markdown(docstring: str) -> str:
    """A docstring as a CommonMark description (reST ``code`` becomes `code`)."""
    return inspect.cleandoc(docstring).replace("``", "`")


def _asyncapi_schema(node: Any) -> Any:
    """Turn pydantic's JSON Schema into AsyncAPI Schema Objects.

    The difference that matters: pydantic writes OpenAPI's ``discriminator`` object
    (``propertyName`` and ``mapping``), AsyncAPI expects the property name as a string.
    Descriptions, taken from docstrings, are made CommonMark.
    """
    if isinstance(node, dict):
        out = {k: _asyncapi_schema(v) for k, v in node.items()}
        disc = out.get("discriminator")
        if isinstance(disc, dict):
            out["discriminator"] = disc["propertyName"]
        if isinstance(out.get("description"), str):
            out["description"] = _markdown(out["description"])
        return out
    if isinstance(node, list):
        return [_asyncapi_schema(v) for v in node]
    return node


def _schemas(payloads: list[type[EventPayload]]) -> tuple[dict[str, Any], dict[type, str]]:
    models: list[type[BaseModel]] = [Envelope, *payloads]
    refs, top = models_json_schema([(m, "validation") for m in models], ref_template=REF_TEMPLATE)
    names: dict[type, str] = {}
    for model in models:
        ref = refs[(model, "validation")]["$ref"]
        names[model] = ref.rsplit("/", 1)[-1]
    defs = top.get("$defs", {})
    ordered = {name: _asyncapi_schema(defs[name]) for name in sorted(defs)}
    return ordered, names


def _payload_schema(cls: type[EventPayload], schema_name: str) -> dict[str, Any]:
    return {
        "allOf": [
            {"$ref": "#/components/schemas/Envelope"},
            {
                "type": "object",
                "properties": {
                    "type": {"const": cls.event_type},
                    "version": {"const": cls.event_version},
                    "data": {"$ref": f"#/components/schemas/{schema_name}"},
                },
            },
        ]
    }


def _message(cls: type[EventPayload], schema_name: str) -> dict[str, Any]:
    description = _markdown(cls.__doc__ or "")
    producer = getattr(cls, "producer", None)
    message: dict[str, Any] = {
        "name": cls.event_type,
        "title": f"{cls.event_type} v{cls.event_version}",
        "summary": cls.summary,
    }
    if description:
        message["description"] = description
    message.update(
        {
            "contentType": "application/json",
            "correlationId": {
                "description": "Follows one application end to end.",
                "location": "$message.payload#/correlation_id",
            },
            "payload": _payload_schema(cls, schema_name),
            "bindings": {
                "amqp": {
                    "contentEncoding": "utf-8",
                    "messageType": cls.event_type,
                    "bindingVersion": AMQP_BINDING_VERSION,
                }
            },
        }
    )
    if producer:
        message["x-producer"] = producer
    message["examples"] = [
        {
            "name": f"{_message_id(cls)}Example",
            "summary": cls.summary,
            "payload": message_example(cls),
        }
    ]
    return message


def payload_example(cls: type[EventPayload]) -> dict[str, Any]:
    """The ``data`` of an example message: the model's own example (``json_schema_extra``
    ``examples``, written next to the model in the catalogue) or one assembled from the
    examples and constraints of its fields. ``tests/unit/test_asyncapi_examples.py`` validates
    each against the model and the document's schema."""
    extra = cls.model_config.get("json_schema_extra")
    own = extra.get("examples") if isinstance(extra, dict) else None
    if own:
        return copy.deepcopy(own[0])  # type: ignore[no-any-return]
    schema = cls.model_json_schema(ref_template=REF_TEMPLATE)
    example: dict[str, Any] = example_of(
        schema, {"schemas": schema.get("$defs", {})}, by_name=catalogue.FIELD_EXAMPLES
    )
    return example


def message_example(cls: type[EventPayload]) -> dict[str, Any]:
    """A whole envelope carrying ``payload_example(cls)``; ids are derived from the type so the
    generated document stays byte-for-byte stable."""
    key = f"{cls.event_type}/{cls.event_version}"
    subject = str(uuid.uuid5(uuid.NAMESPACE_URL, f"subject/{key}"))
    return {
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"event/{key}")),
        "type": cls.event_type,
        "version": cls.event_version,
        "occurred_at": "2026-12-03T01:30:00Z",
        "producer": _producer_account(cls),
        "correlation_id": subject,
        "causation_id": None,
        "subject": subject,
        "data": payload_example(cls),
    }


def _producer_account(cls: type[EventPayload]) -> str:
    """The envelope's ``producer``: the service, ``department:<code>`` for an answer, and
    intake for the events every service writes."""
    producer: str = getattr(cls, "producer", "intake")
    if producer == "department systems":
        return "department:real_estate"
    return "intake" if producer == "every service" else producer


def _channel_binding(exchange: str) -> dict[str, Any]:
    return {
        "amqp": {
            "is": "routingKey",
            "exchange": {
                "name": EXCHANGES[exchange],
                "type": "topic",
                "durable": True,
                "autoDelete": False,
                "vhost": "/",
            },
            "bindingVersion": AMQP_BINDING_VERSION,
        }
    }


def build_document() -> dict[str, Any]:
    """The AsyncAPI document as plain data, in a fixed order."""
    payloads = [REGISTRY[key] for key in sorted(REGISTRY)]
    schemas, names = _schemas(payloads)

    messages: dict[str, Any] = {}
    channels: dict[str, Any] = {}
    for cls in payloads:
        message_id = _message_id(cls)
        messages[message_id] = _message(cls, names[cls])
        channel_id = _channel_id(cls)
        channel = channels.get(channel_id)
        if channel is None:
            address = _address(cls)
            channel = {"address": address, "title": f"{EXCHANGES[cls.exchange]}: {address}"}
            if cls.exchange == "events":
                producer = getattr(cls, "producer", "the platform")
                channel["description"] = (
                    f"{cls.summary} Published by {producer} on `housing.events` with routing "
                    f"key `{address}`. Internal: department users cannot read it."
                )
                placeholders = re.findall(r"\{([^}]+)\}", address)
                if placeholders:
                    # A key that names a field's value (``alert.raised.{colour}``): consumers
                    # bind only the values they handle.
                    channel["parameters"] = {
                        name: {
                            "enum": list(typing.get_args(cls.model_fields[name].annotation)),
                            "description": f"The event's `{name}`.",
                        }
                        for name in placeholders
                    }
            else:
                channel["description"] = (
                    f"{cls.summary} Exchange `housing.verification`, routing key `{address}`."
                )
                channel["parameters"] = {
                    "department": {"$ref": "#/components/parameters/department"}
                }
            channel["messages"] = {}
            channel["bindings"] = _channel_binding(cls.exchange)
            channels[channel_id] = channel
        channel["messages"][message_id] = {"$ref": f"#/components/messages/{message_id}"}

    operations: dict[str, Any] = {}
    # A department first receives its requests, then sends answers: list them in that order.
    for channel_id, channel in sorted(
        channels.items(), key=lambda item: not item[1]["address"].startswith("request.")
    ):
        if not channel["address"].startswith(("request.", "response.")):
            continue
        receive = channel["address"].startswith("request.")
        action = "receive" if receive else "send"
        op_binding: dict[str, Any] = (
            {"ack": True} if receive else {"deliveryMode": 2, "mandatory": True}
        )
        operations[_camel(action, channel_id)] = {
            "action": action,
            "channel": {"$ref": f"#/channels/{channel_id}"},
            "title": (
                "Receive the verification requests for your department"
                if receive
                else "Send your department's answer"
            ),
            "summary": (
                "Consume from your own queue; ack only after your system stored the request."
                if receive
                else "Publish with routing key response.<your department>, persistent, confirmed."
            ),
            "messages": [
                {"$ref": f"#/channels/{channel_id}/messages/{m}"} for m in channel["messages"]
            ],
            "bindings": {"amqp": {**op_binding, "bindingVersion": AMQP_BINDING_VERSION}},
        }

    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "公租房 platform events",
            "version": catalogue.CATALOGUE_VERSION,
            "description": DESCRIPTION,
        },
        "defaultContentType": "application/json",
        "servers": {
            "production": {
                "host": "{broker_host}:5671",
                "protocol": "amqps",
                "protocolVersion": "0.9.1",
                "description": SERVER_NOTE,
                "variables": {
                    "broker_host": {"description": "The city's RabbitMQ cluster host name."}
                },
                "security": [{"$ref": "#/components/securitySchemes/brokerUser"}],
            },
            "development": {
                "host": "localhost:5672",
                "protocol": "amqp",
                "protocolVersion": "0.9.1",
                "description": "Local broker of a development machine (guest/guest).",
                "security": [{"$ref": "#/components/securitySchemes/brokerUser"}],
            },
        },
        "channels": channels,
        "operations": operations,
        "components": {
            "schemas": schemas,
            "messages": messages,
            "parameters": {"department": _department_parameter()},
            "securitySchemes": {
                "brokerUser": {
                    "type": "userPassword",
                    "description": "One RabbitMQ user per department system and per service.",
                }
            },
        },
    }


def _department_parameter() -> dict[str, Any]:
    """The department codes of the demo city file (``deploy/cities/xiamen.yaml``), the one
    source of department codes; the catalogue's own table is checked against it by a test."""
    departments = city_config().departments
    listing = "\n".join(f"- `{d.code}`: {d.name}（{d.checks}）" for d in departments)
    return {
        "description": (
            "Department code, as configured in the city file (`departments[].code`); a city "
            "may add or drop departments. Your broker user may use only its own code. The demo "
            f"city's departments:\n\n{listing}"
        ),
        "examples": [d.code for d in departments],
    }


class _Dumper(yaml.SafeDumper):
    """Never write anchors and aliases: readers should see each schema where it is used."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    # Multi-line descriptions as literal blocks, so the document reads like the docstrings.
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _represent_str)


def render(document: dict[str, Any]) -> str:
    body = yaml.dump(
        copy.deepcopy(document),
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        width=100,
        default_flow_style=False,
    )
    return HEADER + body


def generate() -> str:
    """The YAML text of the document; the same catalogue always gives the same text."""
    return render(build_document())
