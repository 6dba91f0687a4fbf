"""The lottery is deterministic, tier-ordered, and the standalone verifier reproduces it."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from services.allocation import lottery
from tools import verify_lottery

REPO = Path(__file__).resolve().parents[3]
POOL = [(f"XM-2026-{i:05d}", 1 if i % 7 == 0 else 9) for i in range(500)]


def published(public_input: str = "07 12 19 23 31 + 05") -> dict[str, bytes]:
    secret = "ab" * 32
    data = lottery.pool_file(POOL)
    digest = lottery.digest(data)
    ranking = lottery.rank(lottery.parse_pool(data), lottery.seed(secret, public_input, digest))
    return {
        "pool.csv": data,
        "pool_digest.txt": f"{digest}\n".encode(),
        "commitment.txt": f"{lottery.commitment(secret)}\n".encode(),
        "public_input.txt": f"{public_input}\n".encode(),
        "secret.txt": f"{secret}\n".encode(),
        "ranking.csv": lottery.ranking_file(ranking),
    }


def test_pool_file_is_canonical_whatever_the_input_order() -> None:
    assert lottery.pool_file(POOL) == lottery.pool_file(list(reversed(POOL)))
    assert lottery.parse_pool(lottery.pool_file(POOL)) == sorted(POOL, key=lambda h: (h[1], h[0]))


def test_seed_and_order_follow_the_documented_formula() -> None:
    secret, public_input = "01" * 32, "12345"
    digest = lottery.digest(lottery.pool_file(POOL))
    seed = lottery.seed(secret, public_input, digest)
    assert (
        seed
        == hashlib.sha256(
            bytes.fromhex(secret) + public_input.encode() + bytes.fromhex(digest)
        ).digest()
    )
    ranking = lottery.rank(POOL, seed)
    assert [r.rank for r in ranking] == list(range(1, len(POOL) + 1))
    tiers = [r.tier for r in ranking]
    assert tiers == sorted(tiers)  # a priority tier draws before the next
    first = ranking[0]
    assert first.key == hashlib.sha256(seed + first.reference.encode()).hexdigest()


def test_same_inputs_same_ranking_other_input_other_ranking() -> None:
    a, b, c = published(), published(), published("99")
    assert a["ranking.csv"] == b["ranking.csv"]
    assert a["ranking.csv"] != c["ranking.csv"]


def test_verifier_reproduces_a_draw() -> None:
    assert verify_lottery.verify(published()) == []


@pytest.mark.parametrize(
    ("name", "change"),
    [
        ("pool.csv", lambda b: b.replace(b"XM-2026-00001,9", b"XM-2026-99999,9")),
        ("secret.txt", lambda b: b"cd" * 32 + b"\n"),
        ("public_input.txt", lambda b: b"1\n"),
        ("ranking.csv", lambda b: b.replace(b"\n1,", b"\n1,X", 1)),
    ],
)
def test_verifier_catches_a_tampered_file(name: str, change: object) -> None:
    files = published()
    files[name] = change(files[name])  # type: ignore[operator]
    assert verify_lottery.verify(files) != []


def test_verifier_runs_standalone(tmp_path: Path) -> None:
    for name, content in published().items():
        (tmp_path / name).write_bytes(content)
    result = subprocess.run(
        [sys.executable, "-I", str(REPO / "tools" / "verify_lottery.py"), str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "reproduced bit for bit" in result.stdout


def test_verifier_imports_only_the_standard_library() -> None:
    source = (REPO / "tools" / "verify_lottery.py").read_text()
    imports = {
        line.split()[1].split(".")[0]
        for line in source.splitlines()
        if line.startswith(("import ", "from "))
    }
    assert imports <= set(sys.stdlib_module_names) | {"__future__"}


def _ranked() -> list[lottery.Ranked]:
    files = published()
    return lottery.parse_ranking(files["ranking.csv"])


def test_without_quotas_the_selection_order_is_the_ranking() -> None:
    ranking = _ranked()
    seats = lottery.selection_order(ranking, 50, [])
    assert [s.reference for s in seats] == [r.reference for r in ranking]
    assert {s.seat for s in seats} == {"open"}


def test_quota_seats_go_first_then_everyone_by_order_key() -> None:
    ranking = _ranked()
    tier1 = [r for r in ranking if r.tier == 1]
    # 20 % of 50 units: 10 seats for tier 1, its first ten by rank.
    seats = lottery.selection_order(ranking, 50, [lottery.Quota(1, 20)])
    assert [s.reference for s in seats[:10]] == [r.reference for r in tier1[:10]]
    assert [s.seat for s in seats[:11]] == ["quota"] * 10 + ["open"]
    rest = sorted((r for r in ranking if r not in tier1[:10]), key=lambda r: (r.key, r.reference))
    assert [s.reference for s in seats[10:]] == [r.reference for r in rest]
    # Tier 1 households beyond the quota draw with everyone else, not ahead of them.
    assert {s.tier for s in seats[10:20]} != {1}
    assert [s.order for s in seats] == list(range(1, len(ranking) + 1))


def test_a_quota_larger_than_its_tier_leaves_the_rest_open() -> None:
    ranking = _ranked()
    tier1 = sum(1 for r in ranking if r.tier == 1)
    seats = lottery.selection_order(ranking, 1000, [lottery.Quota(1, 50)])
    assert sum(1 for s in seats if s.seat == "quota") == tier1
    assert lottery.quotas_file(1000, [lottery.Quota(1, 50)]) == (
        b"units_on_offer,tier,percent,seats\n1000,1,50,500\n"
    )


def _with_selection(quotas: list[lottery.Quota], units: int = 50) -> dict[str, bytes]:
    files = published()
    seats = lottery.selection_order(lottery.parse_ranking(files["ranking.csv"]), units, quotas)
    return {
        **files,
        "quotas.csv": lottery.quotas_file(units, quotas),
        "selection.csv": lottery.selection_file(seats),
    }


@pytest.mark.parametrize("quotas", [[], [lottery.Quota(1, 20)], [lottery.Quota(1, 10)]])
def test_verifier_reproduces_the_selection_order(quotas: list[lottery.Quota]) -> None:
    assert verify_lottery.verify(_with_selection(quotas)) == []


def test_verifier_catches_a_reordered_selection() -> None:
    files = _with_selection([lottery.Quota(1, 20)])
    lines = files["selection.csv"].decode().split("\n")
    lines[1], lines[12] = lines[12], lines[1]
    files["selection.csv"] = "\n".join(lines).encode()
    assert verify_lottery.verify(files) == [
        "selection.csv differs from the order recomputed from ranking.csv and quotas.csv"
    ]
    files = _with_selection([lottery.Quota(1, 20)])
    files["quotas.csv"] = b"units_on_offer,tier,percent,seats\n50,1,20,11\n"
    assert verify_lottery.verify(files) == ["quotas.csv: tier 1 has 11 seats, not 50 * 20 // 100"]
