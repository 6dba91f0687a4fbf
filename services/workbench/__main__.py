"""``python -m services.workbench [serve|openapi|keygen]``.

serve (default): the workbench on HOUSING_WORKBENCH_PORT (8000). openapi: write every
service's OpenAPI document to services/workbench/openapi/ (the web build generates its typed
client from them; no service needs to run). keygen: print a new session key.
"""

from __future__ import annotations

import argparse

import uvicorn
from cryptography.fernet import Fernet

from services.workbench.bootstrap import create_app
from services.workbench.openapi import OPENAPI_DIR, write_documents
from services.workbench.settings import WorkbenchSettings


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m services.workbench")
    parser.add_argument(
        "command", nargs="?", default="serve", choices=["serve", "openapi", "keygen"]
    )
    parser.add_argument("--output", default=str(OPENAPI_DIR), help="openapi: the folder to write")
    args = parser.parse_args()
    if args.command == "keygen":
        print(f'HOUSING_WORKBENCH_SESSION_KEYS=["{Fernet.generate_key().decode()}"]')
        return
    if args.command == "openapi":
        for path in write_documents(args.output):
            print(path)
        return
    settings = WorkbenchSettings()
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        lifespan="on",
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
    )


main()
