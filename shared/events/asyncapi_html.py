"""The AsyncAPI document as one browsable HTML page (``docs/asyncapi.html``, and verification's
``GET /asyncapi``).

Why not the AsyncAPI project's renderer (``@asyncapi/cli`` with ``@asyncapi/html-template``):
it is installed from npm at generation time (several hundred packages), so regenerating the
contract would need the npm registry on every machine and in CI, and its output embeds a
JavaScript application. This page is rendered from the same document in Python, in a fixed
order (the same catalogue gives the same bytes, checked by a unit test), with no script and no
outside asset, so it opens on an intranet and prints.
"""

from __future__ import annotations

import json
from html import escape
from typing import Any

import jinja2
from markdown_it import MarkdownIt
from markupsafe import Markup

__all__ = ["render_html"]

_MARKDOWN = MarkdownIt("commonmark", {"html": False})

_TEMPLATE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ info.title }} {{ info.version }} · AsyncAPI</title>
<style>
body{margin:0;font-family:"Noto Sans CJK SC","Source Han Sans SC","Microsoft YaHei",sans-serif;
color:#1f2328;line-height:1.55}
nav{position:fixed;top:0;bottom:0;left:0;width:18rem;overflow:auto;background:#f6f8fa;
padding:1rem;box-sizing:border-box;font-size:.9rem;border-right:1px solid #d0d7de}
nav a{display:block;color:#0550ae;text-decoration:none;padding:.1rem 0}
main{margin-left:18rem;padding:1rem 2rem;max-width:60rem}
@media (max-width:800px){nav{position:static;width:auto}main{margin-left:0;padding:1rem}}
section.message,section.operation,section.schema{border-top:1px solid #d0d7de;margin-top:1.5rem}
section.message:target,section.operation:target,section.schema:target{background:#fff8c5}
pre{background:#f6f8fa;padding:.75rem;overflow:auto;font-size:.85rem}
code{background:#f6f8fa;padding:0 .2rem}
table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{border:1px solid #d0d7de;padding:.25rem .5rem;text-align:left;vertical-align:top}
.tag{display:inline-block;background:#ddf4ff;border-radius:.5rem;padding:0 .5rem;font-size:.8rem}
</style></head><body>
<nav><strong>{{ info.title }}</strong><br>v{{ info.version }}
<p><a href="#operations">Department operations</a>
{% for id in operations %}<a href="#operation-{{ id }}">· {{ id }}</a>{% endfor %}</p>
<p><a href="#messages">Messages ({{ messages|length }})</a>
{% for id, m in messages.items() %}<a href="#message-{{ id }}">{{ m.name }}</a>{% endfor %}</p>
<p><a href="#schemas">Schemas ({{ schemas|length }})</a></p>
</nav>
<main>
<h1>{{ info.title }} <span class="tag">AsyncAPI {{ asyncapi }}</span>
<span class="tag">v{{ info.version }}</span></h1>
{{ info.description|md }}
<h2 id="servers">Servers</h2>
<table><tr><th>Name</th><th>Host</th><th>Protocol</th><th>Notes</th></tr>
{% for name, s in servers.items() %}<tr><td>{{ name }}</td><td><code>{{ s.host }}</code></td>
<td>{{ s.protocol }} {{ s.protocolVersion }}</td><td>{{ s.description|md }}</td></tr>{% endfor %}
</table>
<h2 id="departments">Department codes</h2>
{{ parameters.department.description|md }}
<h2 id="operations">Department operations</h2>
{% for id, op in operations.items() %}
<section class="operation" id="operation-{{ id }}"><h3>{{ op.title }}</h3>
<p><span class="tag">{{ op.action }}</span> <code>{{ op.address }}</code></p>
<p>{{ op.summary }}</p>
<p>Messages: {% for m in op.message_ids %}<a href="#message-{{ m }}">{{ messages[m].name }}</a>
{% endfor %}</p></section>
{% endfor %}
<h2 id="messages">Messages</h2>
{% for id, m in messages.items() %}
<section class="message" id="message-{{ id }}">
<h3>{{ m.title }}</h3>
<p><span class="tag">{{ m.channel_address }}</span>
{% if m["x-producer"] %} <span class="tag">producer: {{ m["x-producer"] }}</span>{% endif %}</p>
<p><strong>{{ m.summary }}</strong></p>
{{ (m.description or "")|md }}
<h4>Payload <code>data</code> ({{ m.schema_name }})</h4>
<table><tr><th>Field</th><th>Type</th><th>Required</th><th>Description</th></tr>
{% for f in m.fields %}<tr><td><code>{{ f.name }}</code></td><td>{{ f.type }}</td>
<td>{{ "yes" if f.required else "" }}</td><td>{{ f.description|md }}</td></tr>{% endfor %}
</table>
<h4>Example message</h4>
<pre>{{ m.example }}</pre>
</section>
{% endfor %}
<h2 id="schemas">Schemas</h2>
{% for name, sch in schemas.items() %}
<section class="schema" id="schema-{{ name }}"><h3>{{ name }}</h3>
{{ (sch.description or "")|md }}
{% if sch.fields %}<table><tr><th>Field</th><th>Type</th><th>Required</th><th>Description</th></tr>
{% for f in sch.fields %}<tr><td><code>{{ f.name }}</code></td><td>{{ f.type }}</td>
<td>{{ "yes" if f.required else "" }}</td><td>{{ f.description|md }}</td></tr>{% endfor %}
</table>{% endif %}</section>
{% endfor %}
</main></body></html>
"""


def _type_of(schema: dict[str, Any]) -> str:
    """The field's type as HTML: a referenced schema links to its section."""
    if "$ref" in schema:
        name = escape(schema["$ref"].rsplit("/", 1)[-1])
        return f'<a href="#schema-{name}">{name}</a>'
    if "const" in schema:
        return escape(json.dumps(schema["const"], ensure_ascii=False))
    if "enum" in schema:
        return " | ".join(escape(json.dumps(v, ensure_ascii=False)) for v in schema["enum"])
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return " | ".join(_type_of(s) for s in schema[key])
    if schema.get("type") == "array":
        return f"list of {_type_of(schema.get('items', {}))}"
    kind = escape(str(schema.get("type", "any")))
    details = [escape(str(schema[k])) for k in ("format", "pattern") if k in schema]
    return kind + (f" ({', '.join(details)})" if details else "")


def _fields(schema: dict[str, Any]) -> list[dict[str, Any]]:
    required = set(schema.get("required", []))
    return [
        {
            "name": name,
            "type": Markup(_type_of(prop)),  # noqa: S704 - _type_of escapes every part
            "required": name in required,
            "description": prop.get("description", ""),
        }
        for name, prop in schema.get("properties", {}).items()
    ]


def render_html(document: dict[str, Any]) -> str:
    """The page for an AsyncAPI document built by ``shared.events.asyncapi.build_document``."""
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    # CommonMark with raw HTML off: markdown-it escapes whatever the docstrings contain.
    env.filters["md"] = lambda text: Markup(_MARKDOWN.render(text or ""))  # noqa: S704
    components = document["components"]
    addresses = {
        message_ref["$ref"].rsplit("/", 1)[-1]: channel["address"]
        for channel in document["channels"].values()
        for message_ref in channel["messages"].values()
    }
    messages: dict[str, dict[str, Any]] = {}
    for message_id, message in components["messages"].items():
        data_ref = message["payload"]["allOf"][1]["properties"]["data"]["$ref"]
        schema_name = data_ref.rsplit("/", 1)[-1]
        messages[message_id] = {
            **message,
            "channel_address": addresses[message_id],
            "schema_name": schema_name,
            "fields": _fields(components["schemas"][schema_name]),
            "example": json.dumps(message["examples"][0]["payload"], ensure_ascii=False, indent=2),
        }
    operations = {
        op_id: {
            **op,
            "address": document["channels"][op["channel"]["$ref"].rsplit("/", 1)[-1]]["address"],
            "message_ids": [ref["$ref"].rsplit("/", 1)[-1] for ref in op["messages"]],
        }
        for op_id, op in document["operations"].items()
    }
    return env.from_string(_TEMPLATE).render(
        asyncapi=document["asyncapi"],
        info=document["info"],
        servers=document["servers"],
        parameters=components["parameters"],
        operations=operations,
        messages=messages,
        schemas={
            name: {"description": schema.get("description", ""), "fields": _fields(schema)}
            for name, schema in components["schemas"].items()
        },
    )
