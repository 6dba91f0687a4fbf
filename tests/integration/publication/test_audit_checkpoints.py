"""Signed audit checkpoints, end to end: intake signs its chain head, the checkpoint crosses the
real broker to publication, which shows it on a public page and pushes it to the province; the
verify command, reading what publication published over HTTP, then names a rewritten row
(re-hashed to the end of the chain) and a cut tail, and refuses a badly signed checkpoint."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from services.publication.adapters.province import Pusher
from services.publication.tables import published_checkpoints, push_log
from shared.audit import AuditEntry, record, record_many
from shared.audit.checkpoint import Checkpoint, CheckpointKey, keys_of
from shared.events.catalogue import AuditCheckpointed
from shared.scheduler import run_once
from shared.tables import outbox
from tests.audit_support import (
    as_superuser_without_triggers,
    audit_verify,
    entry,
    rehashed_rewrite,
    restore,
    rows_of,
)
from tests.conftest import Infra
from tests.harness import handled, publish, wait_for
from tests.integration.publication.conftest import Stack, serving
from tests.services import RunningService, running_service

pytestmark = pytest.mark.integration


@dataclass
class Published:
    intake: RunningService
    rows: list[AuditEntry]
    checkpoints: list[Checkpoint]  # as signed, oldest first
    database_url: str
    # The database's owner role: the administrator who can switch the append-only triggers off
    # (the service's own role cannot; tests/integration/test_database_roles.py).
    owner: AsyncEngine
    checkpoints_url: str
    keys_url: str

    def cli(self, *extra: str) -> Any:
        return audit_verify(self.database_url, "--service", "intake", *extra)

    def against_published(self) -> Any:
        return self.cli("--checkpoints", self.checkpoints_url, "--keys", self.keys_url)


async def _sign(svc: RunningService) -> None:
    # Waits for a tick of the background job in progress (the one at start) instead of skipping.
    assert await run_once(svc.runtime, "audit-checkpoint", svc.runtime.sign_audit_head, wait=True)


async def _intake_checkpoints(stack: Stack) -> list[dict[str, Any]]:
    response = await stack.svc.client.get("/public/audit-checkpoints", params={"service": "intake"})
    assert response.status_code == 200
    return list(response.json()["items"])


@pytest.fixture(scope="module")
async def published(infra: Infra, stack: Stack) -> AsyncIterator[Published]:
    # The background tick runs hourly in tests (tests/conftest.py); these sign when they mean to.
    async with running_service(infra, "intake", system="pub") as svc:
        engine = svc.runtime.engine
        # Three checkpoints: after seq 2, 3 and 5.
        async with engine.begin() as conn:
            await record_many(conn, [entry(1), entry(2)])
        await _sign(svc)
        async with engine.begin() as conn:
            await record(conn, **entry(3))
        await _sign(svc)
        async with engine.begin() as conn:
            await record_many(conn, [entry(4), entry(5)])
        await _sign(svc)

        async def three_published() -> list[dict[str, Any]] | None:
            found = await _intake_checkpoints(stack)
            return found if len(found) == 3 else None

        items = await wait_for(three_published, what="three intake checkpoints published")
        async with engine.connect() as conn:
            signed = (
                await conn.execute(sa.text("SELECT * FROM audit_checkpoints ORDER BY seq"))
            ).all()
        checkpoints = [
            Checkpoint("intake", r.seq, r.head_hash, r.signed_at, r.key_id, r.signature)
            for r in signed
        ]
        assert [Checkpoint.from_json(i) for i in reversed(items)] == checkpoints
        owner = create_async_engine(svc.runtime.settings.migration_database_url, poolclass=NullPool)
        async with serving(stack.svc.app) as publication, serving(svc.app) as intake:
            yield Published(
                intake=svc,
                rows=await rows_of(engine),
                checkpoints=checkpoints,
                database_url=svc.runtime.settings.database_url,
                owner=owner,
                checkpoints_url=f"{publication}/public/audit-checkpoints?service=intake",
                keys_url=f"{intake}/audit/keys",
            )
        await owner.dispose()


@pytest.fixture
async def chain(published: Published) -> AsyncIterator[Published]:
    """The published chain; whatever a test does to it is undone afterwards."""
    yield published
    await restore(published.owner, published.rows)


def _accepted_line(p: Published, count: int = 3) -> str:
    latest = p.checkpoints[-1].as_json()["signed_at"]
    noun = "checkpoint" if count == 1 else "checkpoints"
    return f"{count} signed {noun} of intake accepted, latest seq 5 signed {latest}"


async def test_checkpoints_are_signed_published_and_pushed(chain: Published, stack: Stack) -> None:
    rows, checkpoints = chain.rows, chain.checkpoints
    assert [(c.seq, c.head_hash) for c in checkpoints] == [
        (2, rows[1].hash),
        (3, rows[2].hash),
        (5, rows[4].hash),
    ]
    keys = (await chain.intake.client.get("/audit/keys")).json()
    key = chain.intake.runtime.checkpoint_key
    assert keys == {
        "keys": [
            {
                "kty": "OKP",
                "crv": "Ed25519",
                "x": key.x,
                "kid": key.key_id,
                "use": "sig",
                "alg": "EdDSA",
            }
        ]
    }
    # Nothing new, nothing signed: the head did not move.
    async with chain.intake.runtime.uow() as uow:
        assert await chain.intake.runtime.sign_audit_head(uow) is None

    page = await stack.svc.client.get("/public/pages/audit-checkpoints")
    assert page.status_code == 200
    assert (
        f'<tr><td data-label="服务">intake</td><td data-label="序号">5</td>'
        f'<td data-label="链头哈希"><code>{rows[4].hash}</code></td>'
    ) in page.text

    pusher = Pusher(stack.config)
    pusher.city = "350200"
    assert await run_once(stack.svc.runtime, "province-push-test", pusher.sweep)
    pushed = [p for p in stack.receiver.received if p["stream"] == "audit:intake"]
    assert [p["type"] for p in pushed] == ["audit.checkpointed"] * 3
    # In chain order once sorted: publication may take two checkpoint events in either order
    # (they reach it on concurrent consumer workers), and each carries its own seq.
    received = sorted((Checkpoint.from_json(p["data"]) for p in pushed), key=lambda c: c.seq)
    assert received == checkpoints
    assert {p["data"]["public_key"] for p in pushed} == {key.x}


async def test_an_intact_chain_verifies_against_the_published_checkpoints(
    chain: Published,
) -> None:
    code, out = await chain.against_published()
    assert (code, out.splitlines()) == (
        0,
        [
            _accepted_line(chain),
            f"audit log intact: 5 entries checked, head seq 5 hash {chain.rows[4].hash}",
        ],
    )


async def test_a_rewritten_row_rehashed_to_the_end_is_named(
    chain: Published, tmp_path: Path
) -> None:
    engine = chain.intake.runtime.engine
    await as_superuser_without_triggers(chain.owner, *rehashed_rewrite(chain.rows, 3, {"step": 33}))
    # The chain alone no longer shows anything.
    code, out = await chain.cli()
    assert code == 0, out

    code, out = await chain.against_published()
    assert (code, out.splitlines()) == (
        1,
        [
            _accepted_line(chain),
            f"audit log BROKEN at seq 3 (id {chain.rows[2].id}): hash does not match anchor; "
            "this row was rewritten (the anchor at seq 2 agrees); 3 entries checked",
        ],
    )

    # Against the latest checkpoint alone the rewrite is caught too, located less closely.
    latest = tmp_path / "latest.json"
    latest.write_text(json.dumps(chain.checkpoints[-1].as_json()), encoding="utf-8")
    code, out = await chain.cli("--checkpoints", str(latest), "--keys", chain.keys_url)
    assert (code, out.splitlines()) == (
        1,
        [
            _accepted_line(chain, count=1),
            f"audit log BROKEN at seq 5 (id {chain.rows[4].id}): hash does not match anchor; "
            "rewritten between seq 1 and seq 5, re-hashed to the end; 5 entries checked",
        ],
    )

    # The service never signs the rewritten chain: it no longer extends its last checkpoint.
    async with engine.begin() as conn:
        await record(conn, **entry(6))
    async with chain.intake.runtime.uow() as uow:
        assert await chain.intake.runtime.sign_audit_head(uow) is None
        await uow.commit()
    async with engine.connect() as conn:
        emitted = await conn.scalar(
            sa.select(sa.func.count())
            .select_from(outbox)
            .where(outbox.c.type == "audit.checkpointed")
        )
    assert emitted == 3


async def test_a_cut_tail_is_named(chain: Published) -> None:
    await as_superuser_without_triggers(chain.owner, "DELETE FROM audit_log WHERE seq > 3")
    code, out = await chain.cli()
    assert (code, out.strip()) == (
        0,
        f"audit log intact: 3 entries checked, head seq 3 hash {chain.rows[2].hash}",
    )

    code, out = await chain.against_published()
    assert (code, out.splitlines()) == (
        1,
        [
            _accepted_line(chain),
            "audit log BROKEN at seq 4 (no such row): anchored entry is missing; "
            "the chain ends at seq 3, rows 4 to 5 were cut off; 3 entries checked",
        ],
    )


async def test_a_checkpoint_with_a_bad_signature_is_refused(
    chain: Published, tmp_path: Path
) -> None:
    genuine = chain.checkpoints[-1].as_json()
    # The administrator's forgery: the cut chain's head under the genuine signature.
    forged = {**genuine, "seq": 3, "head_hash": chain.rows[2].hash}
    path = tmp_path / "forged.json"
    path.write_text(json.dumps([chain.checkpoints[0].as_json(), forged]), encoding="utf-8")
    code, out = await chain.cli("--checkpoints", str(path), "--keys", chain.keys_url)
    assert (code, out.strip()) == (
        2,
        "audit log not verified: checkpoint refused: "
        "checkpoint of intake at seq 3: signature does not verify",
    )

    # Signed with a key of the administrator's own: not the service's published key.
    own = CheckpointKey("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8")
    path.write_text(
        json.dumps(own.sign("intake", 3, chain.rows[2].hash, datetime.now(UTC)).as_json()),
        encoding="utf-8",
    )
    code, out = await chain.cli("--checkpoints", str(path), "--keys", chain.keys_url)
    assert (code, out.strip()) == (
        2,
        "audit log not verified: checkpoint refused: "
        f"checkpoint of intake at seq 3 is signed by unknown key {own.key_id}",
    )


async def test_publication_refuses_a_badly_signed_checkpoint(
    chain: Published, stack: Stack
) -> None:
    key = chain.intake.runtime.checkpoint_key
    good = key.sign("intake", 99, "9" * 64, datetime.now(UTC))
    tampered = AuditCheckpointed(
        service="intake",
        seq=98,  # not the seq that was signed
        head_hash=good.head_hash,
        signed_at=good.signed_at,
        key_id=good.key_id,
        public_key=key.x,
        signature=good.signature,
    )
    genuine_but_not_theirs = tampered.model_copy(update={"seq": 99})
    bad = await publish(stack.svc, tampered, producer="intake", subject="audit:intake")
    foreign = await publish(
        stack.svc, genuine_but_not_theirs, producer="review", subject="audit:intake"
    )
    await handled(stack.svc, *bad, *foreign)
    async with stack.svc.runtime.engine.connect() as conn:
        kept = await conn.scalar(
            sa.select(sa.func.count())
            .select_from(published_checkpoints)
            .where(published_checkpoints.c.seq.in_([98, 99]))
        )
        logged = await conn.scalar(
            sa.select(sa.func.count())
            .select_from(push_log)
            .where(push_log.c.stream_key == "audit:intake")
        )
    assert (kept, logged) == (0, 3)


async def test_publication_checkpoints_its_own_chain_through_the_broker(stack: Stack) -> None:
    runtime = stack.svc.runtime
    async with runtime.engine.begin() as conn:
        await record(conn, **entry(1))
    head = (await rows_of(runtime.engine))[-1]
    await _sign(stack.svc)

    async def own_published() -> list[dict[str, Any]]:
        response = await stack.svc.client.get(
            "/public/audit-checkpoints", params={"service": "publication", "limit": 1}
        )
        items = response.json()["items"]
        return items if items and items[0]["seq"] == head.seq else []

    (latest,) = await wait_for(own_published, what="publication's own checkpoint published")
    assert latest["head_hash"] == head.hash
    Checkpoint.from_json(latest).check(keys_of(runtime.checkpoint_key.jwks()))
