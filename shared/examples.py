"""Examples assembled from a JSON Schema: the examples, defaults and constraints of its fields.

Used for the OpenAPI document (``shared.openapi``) and the AsyncAPI document
(``shared.events.asyncapi``) wherever a model gives no example of its own. It only assembles;
the contract tests validate every result against its schema and its model, so a field whose
example does not fit is caught there.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

__all__ = ["NoExample", "example_of"]


class NoExample(ValueError):
    """A schema node for which no example can be assembled (a pattern without examples)."""


_STRING_FORMATS: dict[str, str] = {
    "date": "2026-12-03",
    "date-time": "2026-12-03T09:30:00Z",
    "time": "09:30:00",
    "uuid": "3fa85f64-5717-4562-b3fc-2c963f66afa6",
    "email": "housing@example.gov.cn",
    "uri": "https://housing.example.gov.cn/",
    "binary": "",
    "duration": "P1D",
}


def example_of(
    schema: Mapping[str, Any],
    components: Mapping[str, Any],
    path: str = "",
    by_name: Mapping[str, Any] | None = None,
) -> Any:
    """An example value for ``schema``; raises ``NoExample`` naming the path it cannot fill.

    ``by_name`` gives examples of recurring field names (``tracking_no``, ``stage``) for the
    fields that carry none of their own: one table instead of the same example on forty models.
    """
    names = by_name or {}
    node = _resolve(schema, components)
    for key in ("examples", "example"):
        if key in node:
            value = node[key]
            if key == "examples":
                if isinstance(value, list) and value:
                    return copy.deepcopy(value[0])
                continue
            return copy.deepcopy(value)
    if "const" in node:
        return node["const"]
    if node.get("enum"):
        return node["enum"][0]
    for key in ("anyOf", "oneOf"):
        if key in node:
            branches = [b for b in node[key] if _resolve(b, components).get("type") != "null"]
            errors: list[str] = []
            for branch in branches or node[key]:
                try:
                    return example_of(branch, components, path, names)
                except NoExample as exc:
                    errors.append(str(exc))
            raise NoExample("; ".join(errors) or path)
    if "allOf" in node:
        merged: dict[str, Any] = {}
        for part in node["allOf"]:
            value = example_of(part, components, path, names)
            if isinstance(value, dict):
                merged.update(value)
            else:
                return value
        return merged
    if "default" in node and node["default"] is not None:
        return copy.deepcopy(node["default"])
    kind = node.get("type")
    if kind == "object" or "properties" in node:
        return {
            name: _field_example(name, prop, components, f"{path}.{name}".lstrip("."), names)
            for name, prop in node.get("properties", {}).items()
        }
    if kind == "array":
        item = example_of(node.get("items", {}), components, f"{path}.0".lstrip("."), names)
        return [copy.deepcopy(item) for _ in range(max(1, node.get("minItems", 1)))]
    if kind == "string":
        if "pattern" in node:
            raise NoExample(f"{path or '<body>'}: pattern {node['pattern']!r} without examples")
        if "format" in node and node["format"] in _STRING_FORMATS:
            return _STRING_FORMATS[node["format"]]
        text = "示例"
        return text * max(1, -(-node.get("minLength", 1) // len(text)))
    if kind in ("integer", "number"):
        low = node.get("minimum", node.get("exclusiveMinimum", 0) + (1 if kind == "integer" else 0))
        return max(low, 1) if node.get("maximum", 1) >= 1 else low
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    if not node:  # any JSON value
        return {}
    raise NoExample(f"{path or '<body>'}: no example for {node}")


def _field_example(
    name: str,
    schema: Mapping[str, Any],
    components: Mapping[str, Any],
    path: str,
    names: Mapping[str, Any],
) -> Any:
    if name in names and _free(schema, components):
        return copy.deepcopy(names[name])
    return example_of(schema, components, path, names)


def _free(schema: Mapping[str, Any], components: Mapping[str, Any]) -> bool:
    """A string with a pattern (or a list of them, optionally null) and no example, choice or
    format of its own: the only kind of field a name's example may fill (a code or number,
    never free text such as a person's name)."""
    node = _resolve(schema, components)
    if any(key in node for key in ("examples", "example", "const", "enum", "format")):
        return False
    if "anyOf" in node:
        branches = [b for b in node["anyOf"] if _resolve(b, components).get("type") != "null"]
        return bool(branches) and all(_free(b, components) for b in branches)
    if node.get("type") == "array":
        return _free(node.get("items", {}), components)
    return node.get("type") == "string" and "pattern" in node


def _resolve(schema: Mapping[str, Any], components: Mapping[str, Any]) -> Mapping[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = components.get("schemas", {}).get(name, {})
    return schema
