"""The command line of every service: ``python -m services.<name> [serve|migrate]``."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable

import uvicorn

from shared.app import create_app
from shared.logging import configure_logging
from shared.migrations import migrate
from shared.runtime import ServiceDefinition
from shared.settings import settings_for


def main(service: str, definition: Callable[[], ServiceDefinition]) -> None:
    parser = argparse.ArgumentParser(prog=f"python -m services.{service}")
    parser.add_argument(
        "command",
        nargs="?",
        default="serve",
        choices=["serve", "migrate"],
        help="serve: run the HTTP API and workers (default); migrate: create the database "
        "if missing and apply migrations",
    )
    args = parser.parse_args()
    settings = settings_for(service)
    if args.command == "migrate":
        configure_logging(service, settings.log_level, json=settings.log_json)
        asyncio.run(migrate(settings))
        return
    app = create_app(definition(), settings)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,  # structlog owns logging
        access_log=False,
        lifespan="on",
        # The citizen's address, not the workbench's, for the public rate limits.
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
    )
