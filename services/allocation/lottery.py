"""The lottery (摇号): canonical pool file, commitment, seed and ranking — standard library only.

Exactly what ``docs/lottery.md`` documents and ``tools/verify_lottery.py`` re-implements on
its own (the verifier does not import this module, so a reader need trust neither copy):

- pool file: UTF-8, ``\\n`` line ends, header ``household_reference,priority_tier``, one row per
  household sorted by (tier, reference); ``pool_digest = SHA-256(pool file bytes)`` (hex);
- ``commitment = SHA-256(secret)`` over the 32 secret bytes, published before the draw;
- ``seed = SHA-256(secret || UTF-8(public_input) || pool_digest bytes)``;
- within each tier (lower tier first) households sort by ``SHA-256(seed || UTF-8(reference))``;
- selection order: without quotas the ranking itself; with quotas, for each quota (lower tier
  first) the first ``floor(units × percent / 100)`` households of that tier in the ranking take
  the reserved seats, then every other household follows by ``(order_key, reference)``
  whatever its tier (the open draw).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

POOL_HEADER = "household_reference,priority_tier"
RANKING_HEADER = "rank,household_reference,priority_tier,order_key"
QUOTAS_HEADER = "units_on_offer,tier,percent,seats"
SELECTION_HEADER = "order,household_reference,priority_tier,rank,seat"


@dataclass(frozen=True)
class Ranked:
    rank: int
    reference: str
    tier: int
    key: str


def pool_file(households: Iterable[tuple[str, int]]) -> bytes:
    rows = sorted(households, key=lambda h: (h[1], h[0]))
    for reference, _ in rows:
        if "," in reference or "\n" in reference:
            raise ValueError(f"reference {reference!r} cannot go in the pool file")
    lines = [POOL_HEADER, *(f"{ref},{tier}" for ref, tier in rows)]
    return ("\n".join(lines) + "\n").encode()


def parse_pool(data: bytes) -> list[tuple[str, int]]:
    lines = data.decode().split("\n")
    if lines[0] != POOL_HEADER or lines[-1] != "":
        raise ValueError("not a pool file")
    out = []
    for line in lines[1:-1]:
        ref, tier = line.split(",")
        out.append((ref, int(tier)))
    return out


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def new_secret() -> str:
    return secrets.token_bytes(32).hex()


def commitment(secret_hex: str) -> str:
    return hashlib.sha256(bytes.fromhex(secret_hex)).hexdigest()


def seed(secret_hex: str, public_input: str, pool_digest: str) -> bytes:
    material = bytes.fromhex(secret_hex) + public_input.encode() + bytes.fromhex(pool_digest)
    return hashlib.sha256(material).digest()


def rank(pool: Iterable[tuple[str, int]], seed_bytes: bytes) -> list[Ranked]:
    keyed = [
        (tier, hashlib.sha256(seed_bytes + ref.encode()).hexdigest(), ref) for ref, tier in pool
    ]
    keyed.sort()
    return [Ranked(i, ref, tier, key) for i, (tier, key, ref) in enumerate(keyed, start=1)]


def parse_ranking(data: bytes) -> list[Ranked]:
    lines = data.decode().split("\n")
    if lines[0] != RANKING_HEADER or lines[-1] != "":
        raise ValueError("not a ranking file")
    out = []
    for line in lines[1:-1]:
        rank_, ref, tier, key = line.split(",")
        out.append(Ranked(int(rank_), ref, int(tier), key))
    return out


def ranking_file(ranking: Iterable[Ranked]) -> bytes:
    lines = [RANKING_HEADER, *(f"{r.rank},{r.reference},{r.tier},{r.key}" for r in ranking)]
    return ("\n".join(lines) + "\n").encode()


@dataclass(frozen=True)
class Quota:
    tier: int
    percent: int


@dataclass(frozen=True)
class Seat:
    order: int
    reference: str
    tier: int
    rank: int
    seat: str  # "quota" (a reserved seat of its tier) or "open"


def quota_seats(units: int, quota: Quota) -> int:
    return units * quota.percent // 100


def selection_order(ranking: list[Ranked], units: int, quotas: Iterable[Quota]) -> list[Seat]:
    quotas = sorted(quotas, key=lambda q: q.tier)
    if not quotas:
        return [Seat(r.rank, r.reference, r.tier, r.rank, "open") for r in ranking]
    reserved: list[Ranked] = []
    for quota in quotas:
        of_tier = [r for r in ranking if r.tier == quota.tier]
        reserved += of_tier[: quota_seats(units, quota)]
    taken = {r.reference for r in reserved}
    rest = sorted(
        (r for r in ranking if r.reference not in taken), key=lambda r: (r.key, r.reference)
    )
    seats = [("quota", r) for r in reserved] + [("open", r) for r in rest]
    return [
        Seat(i, r.reference, r.tier, r.rank, kind) for i, (kind, r) in enumerate(seats, start=1)
    ]


def quotas_file(units: int, quotas: Iterable[Quota]) -> bytes:
    rows = [
        f"{units},{q.tier},{q.percent},{quota_seats(units, q)}"
        for q in sorted(quotas, key=lambda q: q.tier)
    ]
    return ("\n".join([QUOTAS_HEADER, *rows]) + "\n").encode()


def selection_file(seats: Iterable[Seat]) -> bytes:
    lines = [
        SELECTION_HEADER,
        *(f"{s.order},{s.reference},{s.tier},{s.rank},{s.seat}" for s in seats),
    ]
    return ("\n".join(lines) + "\n").encode()
