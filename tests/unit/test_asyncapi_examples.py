"""Every AsyncAPI message carries a complete example that its own model and the document's
schema both accept; department codes come from the city file."""

from __future__ import annotations

from typing import Any

import jsonschema_rs
import pytest

from shared.city import city_config
from shared.events import REGISTRY, catalogue
from shared.events.asyncapi import _message_id, build_document
from shared.events.envelope import Envelope

DOCUMENT = build_document()
KEYS = sorted(REGISTRY)


def _properties(schema: dict[str, Any], components: dict[str, Any]) -> set[str]:
    while "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[-1]]
    return set(schema.get("properties", {}))


@pytest.mark.parametrize("key", KEYS, ids=[f"{t}.v{v}" for t, v in KEYS])
def test_every_message_has_an_example_its_model_and_schema_accept(key: tuple[str, int]) -> None:
    cls = REGISTRY[key]
    message = DOCUMENT["components"]["messages"][_message_id(cls)]
    [example] = message["examples"]
    envelope = example["payload"]
    # The envelope is complete and its data is this event's payload, accepted strictly.
    assert Envelope.model_validate(envelope).type == cls.event_type
    assert envelope["version"] == cls.event_version
    payload = cls.model_validate(envelope["data"])
    # Complete: every field of the payload appears in the example (optional ones too).
    assert set(envelope["data"]) == set(type(payload).model_fields), cls.__name__
    # And the AsyncAPI's own schema for the message accepts it.
    root = {**message["payload"], "components": DOCUMENT["components"]}
    errors = [
        f"{'/'.join(map(str, e.instance_path))}: {e.message}"
        for e in jsonschema_rs.validator_for(root).iter_errors(envelope)
    ]
    assert errors == []
    schemas = DOCUMENT["components"]["schemas"]
    assert set(envelope) == _properties({"$ref": "#/components/schemas/Envelope"}, schemas)


def test_a_wrong_example_would_be_refused_by_the_schema() -> None:
    cls = REGISTRY[("department.answered", 1)]
    message = DOCUMENT["components"]["messages"][_message_id(cls)]
    envelope = message["examples"][0]["payload"]
    broken = {**envelope, "data": {**envelope["data"], "surprise": 1}}
    root = {**message["payload"], "components": DOCUMENT["components"]}
    assert not jsonschema_rs.validator_for(root).is_valid(broken)


def test_department_codes_come_from_the_city_file() -> None:
    city = [d.code for d in city_config().departments]
    assert list(catalogue.DEPARTMENTS) == city
    assert list(catalogue.DEPARTMENT_SUBJECT_FIELDS) == city
    parameter = DOCUMENT["components"]["parameters"]["department"]
    assert parameter["examples"] == city
    assert "disabled_persons_federation" in city
    assert "disabled_federation" not in str(DOCUMENT) and "power_company" not in str(DOCUMENT)


def test_committed_html_page_is_current_and_lists_every_message() -> None:
    from pathlib import Path

    from shared.events.asyncapi_html import render_html

    page = render_html(DOCUMENT)
    committed = Path(__file__).resolve().parents[2] / "docs" / "asyncapi.html"
    assert committed.read_text(encoding="utf-8") == page, "run `make asyncapi`"
    for message_id in DOCUMENT["components"]["messages"]:
        assert f'id="message-{message_id}"' in page
    assert "http://" not in page.replace("http://www.w3.org", "")
    assert "<script" not in page
