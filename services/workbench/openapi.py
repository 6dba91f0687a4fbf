"""The services' OpenAPI documents, written to JSON for the web build's typed client.

Each service's app is built (not started: no database, broker or port is touched) and asked
for ``openapi()``; ``web/scripts/api-types.mjs`` turns the files into TypeScript types, and
``vue-tsc`` then fails the build when a screen uses a field or route a service no longer has.
"""

from __future__ import annotations

import importlib
import json
import os
from pathlib import Path

OPENAPI_DIR = Path(__file__).resolve().parent / "web" / "openapi"


def write_documents(output: str | Path = OPENAPI_DIR) -> list[Path]:
    # Building a service app reads its settings; development ones need no real keys.
    os.environ.setdefault("HOUSING_ENVIRONMENT", "development")
    os.environ["HOUSING_RUN_WORKERS"] = "false"
    from shared.app import create_app
    from shared.settings import SERVICES, settings_for

    folder = Path(output)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for service in SERVICES:
        definition = importlib.import_module(f"services.{service}.bootstrap").definition
        document = create_app(definition(), settings_for(service)).openapi()
        path = folder / f"{service}.json"
        text = json.dumps(document, ensure_ascii=False, indent=1, sort_keys=True) + "\n"
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
