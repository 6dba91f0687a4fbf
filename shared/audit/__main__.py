"""``python -m shared.audit verify``: recompute a service's audit chain.

Exit status: 0 the chain is intact, 1 it is broken (the line names the first broken link),
2 the check could not run (bad arguments, database unreachable, a checkpoint that is refused).

``--checkpoints SRC`` (a file, or an ``http(s)`` URL such as publication's
``/public/audit-checkpoints?service=intake``, whose pages are all read) checks the chain
against the signed checkpoints published outside the database (docs/audit.md): each must
verify with a key of ``--keys`` (a JWK Set file or URL, such as the service's ``/audit/keys``;
by default the public half of the service's own ``HOUSING_AUDIT_CHECKPOINT_KEY``), and each
becomes an anchor. A rewritten row re-hashed to the end disagrees with the first checkpoint
after it; a cut tail leaves the latest checkpoint beyond the chain's end. ``--anchor SEQ:HASH``
adds a head recorded by hand.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from shared.audit.checkpoint import Checkpoint, CheckpointKey, CheckpointRefused, keys_of
from shared.audit.log import verify
from shared.settings import SERVICES, settings_for

EXIT_INTACT = 0
EXIT_BROKEN = 1
EXIT_ERROR = 2

# Publication's page size limit (shared.pagination.MAX_LIMIT).
_PAGE = 200


def _anchor(text: str) -> tuple[int, str]:
    seq, sep, digest = text.partition(":")
    if not sep or not seq.isdigit() or len(digest) != 64:
        raise argparse.ArgumentTypeError("expected SEQ:HASH with a 64-digit hex hash")
    return int(seq), digest.lower()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m shared.audit", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("verify", help="recompute the hash chain of one database")
    check.add_argument("--service", choices=SERVICES, help="read the URL from its settings")
    check.add_argument("--database-url", help="overrides the service's database URL")
    check.add_argument(
        "--anchor",
        type=_anchor,
        action="append",
        default=[],
        metavar="SEQ:HASH",
        help="a head recorded earlier outside the database; repeatable",
    )
    check.add_argument(
        "--checkpoints",
        action="append",
        default=[],
        metavar="FILE|URL",
        help="signed checkpoints published outside the database; repeatable",
    )
    check.add_argument(
        "--keys",
        metavar="FILE|URL",
        help="JWK Set the checkpoints must be signed with (default: the service's own key)",
    )
    return parser


def _is_url(source: str) -> bool:
    return urlsplit(source).scheme in ("http", "https")


def _with_page(url: str, offset: int) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k not in ("limit", "offset")]
    query += [("limit", str(_PAGE)), ("offset", str(offset))]
    return urlunsplit(parts._replace(query=urlencode(query)))


def _items(document: Any) -> list[Any]:
    """A checkpoint, a list of them, or a page of them (``{"items": [...]}``)."""
    if isinstance(document, list):
        return document
    if isinstance(document, Mapping) and isinstance(document.get("items"), list):
        return list(document["items"])
    if isinstance(document, Mapping):
        return [document]
    raise CheckpointRefused("a checkpoint document is an object, a list or a page")


async def _read(client: httpx.AsyncClient, source: str) -> Any:
    if not _is_url(source):
        # A small local file read once by a command-line tool; no event loop is kept waiting.
        return json.loads(Path(source).read_text(encoding="utf-8"))  # noqa: ASYNC240
    response = await client.get(source)
    response.raise_for_status()
    return response.json()


async def _read_checkpoints(client: httpx.AsyncClient, source: str) -> list[Any]:
    if not _is_url(source):
        return _items(await _read(client, source))
    # Every page: the older checkpoints are anchors as much as the latest one.
    found: list[Any] = []
    while True:
        page = await _read(client, _with_page(source, len(found)))
        items = _items(page)
        found += items
        # Anything but a page (one checkpoint, a list) is the whole answer.
        if not items or not isinstance(page, Mapping) or len(found) >= int(page.get("total", 0)):
            return found


def _own_keys(service: str | None) -> dict[str, Ed25519PublicKey]:
    # The public half only is kept; the operator running this holds the service's settings.
    settings = settings_for(service or "audit")
    own = CheckpointKey(settings.audit_checkpoint_key.get_secret_value())
    return keys_of(own.jwks())


def _anchors_of(
    checkpoints: list[Checkpoint], service: str | None
) -> tuple[dict[int, str], list[str]]:
    """Seq -> hash of the checkpoints, and notes for the report."""
    named = {c.service for c in checkpoints}
    chain = service or (next(iter(named)) if len(named) == 1 else None)
    if named != {chain}:
        listed = ", ".join(sorted(named))
        raise CheckpointRefused(f"the checkpoints are of {listed}, not of one chain {chain}")
    anchors: dict[int, Checkpoint] = {}
    notes: list[str] = []
    # Two signatures over one seq with different hashes mean the chain was rewritten and
    # re-signed: the one signed first describes the original chain.
    for checkpoint in sorted(checkpoints, key=lambda c: c.signed_at):
        first = anchors.setdefault(checkpoint.seq, checkpoint)
        if first.head_hash != checkpoint.head_hash:
            notes.append(
                f"checkpoints disagree at seq {checkpoint.seq}: the one signed first is used"
            )
    latest = max(anchors.values(), key=lambda c: c.seq)
    count = (
        "1 signed checkpoint" if len(checkpoints) == 1 else f"{len(checkpoints)} signed checkpoints"
    )
    notes.insert(
        0,
        f"{count} of {chain} accepted, latest seq {latest.seq} "
        f"signed {latest.as_json()['signed_at']}",
    )
    return {seq: c.head_hash for seq, c in anchors.items()}, notes


async def _checkpoint_anchors(
    sources: list[str], keys_source: str | None, service: str | None
) -> tuple[dict[int, str], list[str]]:
    async with httpx.AsyncClient(timeout=30, follow_redirects=False) as client:
        raw: list[Any] = []
        for source in sources:
            raw += await _read_checkpoints(client, source)
        keys = keys_of(await _read(client, keys_source)) if keys_source else _own_keys(service)
    if not raw:
        raise CheckpointRefused("no checkpoint found in " + ", ".join(sources))
    checkpoints = [Checkpoint.from_json(item) for item in raw]
    for checkpoint in checkpoints:
        checkpoint.check(keys)
    return _anchors_of(checkpoints, service)


async def _verify(url: str, anchors: dict[int, str], notes: list[str]) -> int:
    # NullPool: one connection for one check, nothing left open when the process exits.
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            # The checker has no business writing; make that a property of its transaction.
            await conn.exec_driver_sql("SET TRANSACTION READ ONLY")
            result = await verify(conn, anchors=anchors)
    finally:
        await engine.dispose()
    for note in notes:
        print(note)
    print(result.summary())
    return EXIT_INTACT if result.ok else EXIT_BROKEN


async def _run(args: argparse.Namespace, url: str) -> int:
    anchors: dict[int, str] = {}
    notes: list[str] = []
    if args.checkpoints:
        try:
            anchors, notes = await _checkpoint_anchors(args.checkpoints, args.keys, args.service)
        except CheckpointRefused as exc:
            # Refused, not "broken": a forged or corrupted checkpoint says nothing about the
            # chain, and must never be silently dropped either.
            print(f"audit log not verified: checkpoint refused: {exc}", file=sys.stderr)
            return EXIT_ERROR
    for seq, digest in args.anchor:
        if anchors.get(seq, digest) != digest:
            message = f"audit log not verified: --anchor {seq} contradicts a checkpoint"
            print(message, file=sys.stderr)
            return EXIT_ERROR
        anchors[seq] = digest
    return await _verify(url, anchors, notes)


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not (args.service or args.database_url):
        parser.error("give --service or --database-url")
    url = args.database_url or settings_for(args.service).database_url
    try:
        return asyncio.run(_run(args, url))
    except Exception as exc:
        # Unreachable database, missing table, no permission: "could not check" must never be
        # mistaken for "checked and broken", hence its own exit status.
        first_line = str(exc).splitlines()[0] if str(exc) else ""
        print(f"audit log not verified: {type(exc).__name__}: {first_line}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
