"""Demo data for allocation in development: import the demo city's housing stock.

    uv run python -m tools.demo_allocation [--csv deploy/demo/allocation_stock.csv]

Run by ``scripts/run.sh`` once allocation answers ``/readyz`` (``HOUSING_ENVIRONMENT`` must be
``development``; set ``HOUSING_DEMO=0`` to skip). It calls ``POST /stock/import`` with a
development housing-officer token, as an office would upload its CSV; a stock already
imported is left as it is (the import is all or nothing and refuses existing unit codes).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import httpx

from tools.walkthrough_allocation import OFFICER, service_urls

DEMO_STOCK = Path(__file__).resolve().parents[1] / "deploy" / "demo" / "allocation_stock.csv"


def import_stock(client: httpx.Client, csv: bytes) -> str:
    response = client.post(
        "/stock/import",
        content=csv,
        headers={**OFFICER, "Content-Type": "text/csv"},
    )
    if response.status_code == 201:
        return f"imported {response.json()['imported']} demo units"
    errors = response.json().get("errors", []) if response.status_code == 422 else []
    if errors and all(e["message"] == "房号已存在" for e in errors):
        return "demo stock already present"
    raise RuntimeError(f"stock import answered {response.status_code}: {response.text[:300]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", type=Path, default=DEMO_STOCK)
    parser.add_argument("--wait", type=float, default=120.0, help="seconds to wait for /readyz")
    args = parser.parse_args(argv)
    if os.environ.get("HOUSING_ENVIRONMENT") != "development":
        print("[demo] not development: no demo data", file=sys.stderr)
        return 0
    with httpx.Client(base_url=service_urls()["allocation"], timeout=30) as client:
        deadline = time.monotonic() + args.wait
        while True:
            try:
                if client.get("/readyz").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                print("[demo] allocation not ready; demo stock not imported", file=sys.stderr)
                return 1
            time.sleep(1)
        print(f"[demo] {import_stock(client, args.csv.read_bytes())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
