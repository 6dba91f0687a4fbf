"""``python -m simulators.province [--host H] [--port P] [--fail-first N]``.

The secret comes from ``HOUSING_PROVINCE_SECRET`` (default: the development secret, which the
publication service also uses by default in development).
"""

from __future__ import annotations

import argparse
import os

import uvicorn

from simulators.province.app import DEV_SECRET, ProvinceReceiver, create_app


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m simulators.province")
    parser.add_argument("--host", default=os.environ.get("HOUSING_PROVINCE_HOST", "127.0.0.1"))
    parser.add_argument(
        "--port", type=int, default=int(os.environ.get("HOUSING_PROVINCE_PORT", "8090"))
    )
    parser.add_argument(
        "--fail-first", type=int, default=0, help="answer 503 to the first N pushes"
    )
    args = parser.parse_args()
    receiver = ProvinceReceiver(
        secret=os.environ.get("HOUSING_PROVINCE_SECRET") or DEV_SECRET, fail_next=args.fail_first
    )
    uvicorn.run(create_app(receiver), host=args.host, port=args.port, access_log=False)


if __name__ == "__main__":
    main()
