#!/usr/bin/env python3
"""Re-run a published allocation lottery (摇号) and compare it with the published ranking.

Standard library only, independent of the service's code. Usage::

    python tools/verify_lottery.py DIR        # DIR holds the six published files
    python tools/verify_lottery.py --base-url http://127.0.0.1:8007 --round ROUND_ID

The files (docs/lottery.md): pool.csv, pool_digest.txt, commitment.txt, public_input.txt,
secret.txt, ranking.csv; when present also quotas.csv and selection.csv, the selection order
recomputed from the ranking and the quotas. Exit code 0 when every check passes, 1 otherwise.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import urllib.error
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
# Published with every round drawn since quotas exist; checked when given.
SELECTION_FILES = ("quotas.csv", "selection.csv")


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
    elif all(name in files for name in SELECTION_FILES):
        failures += _verify_selection(files, keyed)
    return failures


def _verify_selection(files: dict[str, bytes], keyed: list[tuple[int, str, str]]) -> list[str]:
    """Quota seats first (lower tier first: the tier's first floor(units * percent / 100)
    households by rank), then everyone else by (order_key, reference); no quotas: the rank."""
    lines = files["quotas.csv"].decode("utf-8").split("\n")
    if lines[0] != "units_on_offer,tier,percent,seats" or lines[-1] != "":
        return ["quotas.csv is not a quotas file"]
    quotas = []
    for line in lines[1:-1]:
        units, tier, percent, seats = (int(x) for x in line.split(","))
        if seats != units * percent // 100:
            return [f"quotas.csv: tier {tier} has {seats} seats, not {units} * {percent} // 100"]
        quotas.append((tier, seats))
    ranked = [(i, tier, key, ref) for i, (tier, key, ref) in enumerate(keyed, start=1)]
    if quotas:
        reserved = []
        for tier, seats in sorted(quotas):
            reserved += [r for r in ranked if r[1] == tier][:seats]
        taken = {r[3] for r in reserved}
        rest = sorted((r for r in ranked if r[3] not in taken), key=lambda r: (r[2], r[3]))
        order = [("quota", r) for r in reserved] + [("open", r) for r in rest]
    else:
        order = [("open", r) for r in ranked]
    out = ["order,household_reference,priority_tier,rank,seat"]
    out += [f"{i},{r[3]},{r[1]},{r[0]},{seat}" for i, (seat, r) in enumerate(order, start=1)]
    if ("\n".join(out) + "\n").encode("utf-8") != files["selection.csv"]:
        return ["selection.csv differs from the order recomputed from ranking.csv and quotas.csv"]
    return []


def _load_dir(directory: Path) -> dict[str, bytes]:
    files = {name: (directory / name).read_bytes() for name in FILES}
    for name in SELECTION_FILES:
        if (directory / name).exists():
            files[name] = (directory / name).read_bytes()
    return files


def _load_url(base_url: str, round_id: str) -> dict[str, bytes]:
    out = {}
    for name in FILES + SELECTION_FILES:
        url = f"{base_url.rstrip('/')}/public/rounds/{round_id}/files/{name}"
        try:
            with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 - given URL
                out[name] = response.read()
        except urllib.error.HTTPError as error:
            if error.code != 404 or name not in SELECTION_FILES:
                raise
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
        also = " and its selection order" if all(n in files for n in SELECTION_FILES) else ""
        print(f"OK: ranking of {households} households{also} reproduced bit for bit")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
