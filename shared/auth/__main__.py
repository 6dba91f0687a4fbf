"""Development tokens: ``python -m shared.auth token --role street_clerk --org 350203001``.

Signs with ``HOUSING_SIGNING_KEY`` when set, else with the development key, so that the tokens
work against services started with the same environment.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import timedelta

from shared.auth.principal import is_known_role
from shared.auth.tokens import DEV_SIGNING_KEY, issue_token
from shared.auth.units import is_unit_code

KEY_ENV_VAR = "HOUSING_SIGNING_KEY"
ALGORITHM_ENV_VAR = "HOUSING_JWT_ALGORITHM"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m shared.auth")
    commands = parser.add_subparsers(dest="command", required=True)
    token = commands.add_parser("token", help="print a signed development token")
    token.add_argument("--role", action="append", required=True, help="repeat for more roles")
    token.add_argument("--org", required=True, help="division code, e.g. 350203001")
    token.add_argument("--sub", help="subject id (default: dev-<first role>-<org>)")
    token.add_argument("--name", default="开发测试用户", help="display name")
    token.add_argument("--ttl-hours", type=float, default=12.0)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    unknown = [r for r in args.role if not is_known_role(r)]
    if unknown:
        print(f"unknown role(s): {', '.join(unknown)}", file=sys.stderr)
        return 2
    if not is_unit_code(args.org):
        print(f"--org must be a 6- or 9-digit division code, got {args.org!r}", file=sys.stderr)
        return 2
    if args.ttl_hours <= 0:
        print("--ttl-hours must be positive", file=sys.stderr)
        return 2
    key = os.environ.get(KEY_ENV_VAR) or DEV_SIGNING_KEY
    if key == DEV_SIGNING_KEY:
        print(f"note: signed with the development key ({KEY_ENV_VAR} not set)", file=sys.stderr)
    token = issue_token(
        sub=args.sub or f"dev-{args.role[0].replace(':', '-')}-{args.org}",
        name=args.name,
        roles=args.role,
        org=args.org,
        key=key,
        algorithm=os.environ.get(ALGORITHM_ENV_VAR) or "HS256",
        ttl=timedelta(hours=args.ttl_hours),
    )
    print(token)
    return 0


if __name__ == "__main__":
    sys.exit(main())
