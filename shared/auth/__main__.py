"""Tokens and token keys for development and for an identity provider's operator.

``python -m shared.auth token --role street_clerk --org 350203001`` prints a token signed with
``HOUSING_TOKEN_SIGNING_KEY`` when set (a base64url Ed25519 seed or a PEM private key), else
with the development key, for every service (or those named with ``--audience``).
``python -m shared.auth keygen`` prints a new Ed25519 signing key and the JWK Set the services
are given as ``HOUSING_TOKEN_JWKS`` (docs/operations.md, "Token signing keys").
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
from datetime import timedelta

from shared.auth.principal import is_known_role
from shared.auth.tokens import (
    ALL_AUDIENCES,
    DEV_SIGNING_KEY,
    SERVICE_NAMES,
    audience_of,
    issue_token,
    public_jwks_of,
)
from shared.auth.units import is_unit_code
from shared.jwk import b64url

KEY_ENV_VAR = "HOUSING_TOKEN_SIGNING_KEY"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m shared.auth")
    commands = parser.add_subparsers(dest="command", required=True)
    token = commands.add_parser("token", help="print a signed token")
    token.add_argument("--role", action="append", required=True, help="repeat for more roles")
    token.add_argument("--org", required=True, help="division code, e.g. 350203001")
    token.add_argument("--sub", help="subject id (default: dev-<first role>-<org>)")
    token.add_argument("--name", default="开发测试用户", help="display name")
    token.add_argument("--ttl-hours", type=float, default=12.0)
    token.add_argument(
        "--audience",
        action="append",
        choices=SERVICE_NAMES,
        help="a service the token is for; repeat for more (default: every service)",
    )
    commands.add_parser("keygen", help="print a new signing key and its public JWK Set")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "keygen":
        seed = b64url(secrets.token_bytes(32))
        print(f"{KEY_ENV_VAR}={seed}")
        print(f"HOUSING_TOKEN_JWKS={json.dumps(public_jwks_of(seed), separators=(',', ':'))}")
        return 0
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
    try:
        token = issue_token(
            sub=args.sub or f"dev-{args.role[0].replace(':', '-')}-{args.org}",
            name=args.name,
            roles=args.role,
            org=args.org,
            key=key,
            ttl=timedelta(hours=args.ttl_hours),
            audience=[audience_of(a) for a in args.audience] if args.audience else ALL_AUDIENCES,
        )
    except ValueError as exc:
        print(f"{KEY_ENV_VAR}: {exc}", file=sys.stderr)
        return 2
    print(token)
    return 0


if __name__ == "__main__":
    sys.exit(main())
