#!/usr/bin/env python3
"""Re-run a published allocation lottery (摇号) and compare it with the published ranking.

Standard library only, independent of the service's code. Usage::

    python tools/verify_lottery.py DIR        # DIR holds the six published files
    python tools/verify_lottery.py --base-url http://127.0.0.1:8007 --round ROUND_ID

The files (docs/lottery.md): pool.csv, pool_digest.txt, commitment.txt, public_input.txt,
secret.txt, ranking.csv. Exit code 0 when every check passes, 1 otherwise.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import urllib.request
from pathlib import Path

FILES = (
    "pool.csv",
    "pool_digest.txt",
    "commitment.txt",
    "public_input.txt",
    "secret.txt",
    "ranking.csv",
)


def _text(data: bytes) -> str:
    return data.decode("utf-8").strip()


def verify(files: dict[str, bytes]) -> list[str]:
    """The failed checks (empty when the draw is reproduced bit for bit)."""
    failures = []
    pool = files["pool.csv"]
    pool_digest = _text(files["pool_digest.txt"])
    commitment = _text(files["commitment.txt"])
    public_input = files["public_input.txt"].decode("utf-8").rstrip("\n")
    secret = _text(files["secret.txt"])
    if hashlib.sha256(pool).hexdigest() != pool_digest:
        failures.append("pool.csv does not hash to pool_digest.txt")
    if hashlib.sha256(bytes.fromhex(secret)).hexdigest() != commitment:
        failures.append("secret.txt does not hash to commitment.txt")
    lines = pool.decode("utf-8").split("\n")
    if lines[0] != "household_reference,priority_tier" or lines[-1] != "":
        failures.append("pool.csv is not a canonical pool file")
        return failures
    seed = hashlib.sha256(
        bytes.fromhex(secret) + public_input.encode("utf-8") + bytes.fromhex(pool_digest)
    ).digest()
    keyed = []
    for line in lines[1:-1]:
        reference, tier = line.split(",")
        key = hashlib.sha256(seed + reference.encode("utf-8")).hexdigest()
        keyed.append((int(tier), key, reference))
    keyed.sort()
    out = ["rank,household_reference,priority_tier,order_key"]
    out += [f"{i},{ref},{tier},{key}" for i, (tier, key, ref) in enumerate(keyed, start=1)]
    expected = ("\n".join(out) + "\n").encode("utf-8")
    if expected != files["ranking.csv"]:
        failures.append("ranking.csv differs from the ranking recomputed from the files")
    return failures


def _load_dir(directory: Path) -> dict[str, bytes]:
    return {name: (directory / name).read_bytes() for name in FILES}


def _load_url(base_url: str, round_id: str) -> dict[str, bytes]:
    out = {}
    for name in FILES:
        url = f"{base_url.rstrip('/')}/public/rounds/{round_id}/files/{name}"
        with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 - a given URL
            out[name] = response.read()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", nargs="?", type=Path)
    parser.add_argument("--base-url")
    parser.add_argument("--round")
    args = parser.parse_args(argv)
    if args.directory is not None:
        files = _load_dir(args.directory)
    elif args.base_url and args.round:
        files = _load_url(args.base_url, args.round)
    else:
        parser.error("give a directory, or --base-url and --round")
    failures = verify(files)
    for failure in failures:
        print(f"FAIL: {failure}")
    if not failures:
        households = files["ranking.csv"].count(b"\n") - 1
        print(f"OK: ranking of {households} households reproduced bit for bit")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
