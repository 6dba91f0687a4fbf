"""Audit checkpoints: keys, key ids and signatures, with the RFC 8037 test key (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.audit.checkpoint import Checkpoint, CheckpointKey, CheckpointRefused, key_id, keys_of
from shared.dev_keys import DEV_AUDIT_CHECKPOINT_KEY

# RFC 8037 appendix A.1 and A.3: the Ed25519 key and its RFC 7638 thumbprint.
RFC_D = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
RFC_X = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
RFC_KID = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
AT = datetime(2026, 12, 2, tzinfo=UTC)
HEAD = "a" * 64


def test_key_and_key_id_follow_rfc_8037_and_7638() -> None:
    key = CheckpointKey(RFC_D)
    assert (key.x, key.key_id, key_id(RFC_X)) == (RFC_X, RFC_KID, RFC_KID)
    assert key.jwks() == {
        "keys": [
            {
                "kty": "OKP",
                "crv": "Ed25519",
                "x": RFC_X,
                "kid": RFC_KID,
                "use": "sig",
                "alg": "EdDSA",
            }
        ]
    }


def test_the_signed_statement_is_fixed_bytes_and_the_signature_deterministic() -> None:
    checkpoint = CheckpointKey(RFC_D).sign("intake", 5, HEAD, AT)
    assert checkpoint.statement() == (
        b"housing-platform audit checkpoint v1\n"
        b'{"head_hash":"' + HEAD.encode() + b'","seq":5,"service":"intake",'
        b'"signed_at":"2026-12-02T00:00:00.000000+00:00"}'
    )
    assert checkpoint.signature == (
        "XqsJPMnt4ESoiq-cQsHwn48lOSvhwwOTUoKui0MNFRXaoFA71zbN1UpQrSxL-WXZcOrK-PS3eHmG6NqhW3LYDA"
    )
    # The same instant in China time is the same statement.
    same = Checkpoint.from_json({**checkpoint.as_json(), "signed_at": "2026-12-02T08:00:00+08:00"})
    assert same.signed_at.utcoffset() == timedelta(hours=8)
    same.check(keys_of(CheckpointKey(RFC_D).jwks()))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"seq": 6}, "checkpoint of intake at seq 6: signature does not verify"),
        ({"head_hash": "b" * 64}, "checkpoint of intake at seq 5: signature does not verify"),
        ({"service": "review"}, "checkpoint of review at seq 5: signature does not verify"),
        (
            {"signed_at": "2026-12-02T00:00:01+00:00"},
            "checkpoint of intake at seq 5: signature does not verify",
        ),
        ({"signature": "A" * 86}, "checkpoint of intake at seq 5: signature does not verify"),
        ({"signature": "!!"}, "checkpoint of intake at seq 5: signature does not verify"),
        (
            {"key_id": "x" * 43},
            f"checkpoint of intake at seq 5 is signed by unknown key {'x' * 43}",
        ),
        ({"seq": "five"}, "malformed checkpoint: ValueError"),
        ({"signed_at": "2026-12-02T00:00:00"}, "malformed checkpoint: seq, head_hash or signed_at"),
    ],
    ids=["seq", "head", "service", "time", "signature", "garbage", "key", "bad-seq", "naive-time"],
)
def test_a_changed_checkpoint_is_refused(change: dict[str, object], message: str) -> None:
    published = CheckpointKey(RFC_D).sign("intake", 5, HEAD, AT).as_json()
    with pytest.raises(CheckpointRefused) as refused:
        Checkpoint.from_json({**published, **change}).check(keys_of(CheckpointKey(RFC_D).jwks()))
    assert str(refused.value) == message


def test_a_checkpoint_signed_by_another_key_is_refused() -> None:
    forged = CheckpointKey(DEV_AUDIT_CHECKPOINT_KEY).sign("intake", 5, HEAD, AT)
    trusted = keys_of(CheckpointKey(RFC_D).jwks())
    with pytest.raises(CheckpointRefused, match="signed by unknown key"):
        forged.check(trusted)
    # Claiming the trusted key's id does not help: the signature is checked with that key.
    with pytest.raises(CheckpointRefused, match="signature does not verify"):
        Checkpoint.from_json({**forged.as_json(), "key_id": RFC_KID}).check(trusted)


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        ("c2hvcnQ", "the audit checkpoint key must be a 32-byte Ed25519 seed"),
        ("not base64 at all!", "the audit checkpoint key is not base64url"),
    ],
)
def test_a_malformed_key_is_refused(secret: str, message: str) -> None:
    with pytest.raises(ValueError) as refused:
        CheckpointKey(secret)
    assert str(refused.value) == message


def test_a_key_set_without_ed25519_keys_is_refused() -> None:
    with pytest.raises(ValueError, match="not an Ed25519 public key"):
        keys_of({"keys": [{"kty": "RSA", "n": "x", "e": "AQAB"}]})
    with pytest.raises(ValueError, match="holds no Ed25519 key"):
        keys_of({"keys": []})
