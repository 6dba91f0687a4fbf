"""bench.profile: py-spy's folded samples counted for the library of their innermost frame."""

from __future__ import annotations

from bench.profile import OTHER, share_table, shares_of

FOLDED = "\n".join(
    [
        "run (uvloop/__init__.py:105);_handle (services/intake/api.py:40);"
        "execute (sqlalchemy/engine/base.py:1410) 7",
        "run (uvloop/__init__.py:105);fetch (shared/db.py:110);"
        "fetch (/srv/.venv/lib/python3.11/site-packages/asyncpg/connection.py:690) 3",
        "run (uvloop/__init__.py:105) 5",
        "run (uvloop/__init__.py:105);sha256 (hashlib.py:12) 2",
        "run (uvloop/__init__.py:105);_build (shared/audit/log.py:300) 4",
        "run (uvloop/__init__.py:105);submit_application (intake/commands.py:120) 1",
        "not a sample line",
    ]
)


def test_samples_count_for_the_innermost_frames_library() -> None:
    assert dict(shares_of(FOLDED)) == {
        "SQLAlchemy": 7,
        "asyncpg": 3,
        "event loop": 5,
        OTHER: 2,
        "platform code (services/, shared/)": 5,
    }


def test_the_table_gives_each_groups_share_overall_and_per_process() -> None:
    table = share_table({"intake": shares_of(FOLDED), "review": shares_of("x (asyncpg/a.py:1) 21")})
    rows = {line.split(" | ")[0].strip("| "): line for line in table.splitlines()}
    assert rows["asyncpg"] == "| asyncpg | 55.8 % | 14 % | 100 % |"
    assert rows["SQLAlchemy"] == "| SQLAlchemy | 16.3 % | 32 % | 0 % |"
    assert rows["samples"] == "| samples | 43 | 22 | 21 |"
