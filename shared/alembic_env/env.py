"""The Alembic environment of every service (``script_location``); each service keeps only its
revisions, in ``services/<name>/migrations/versions``. The service's name comes from the
config that ``shared.migrations.alembic_config`` builds."""

import importlib

from alembic import context

from shared.migrations import run_env

service = context.config.attributes["service"]
run_env(importlib.import_module(f"services.{service}.tables").metadata)
