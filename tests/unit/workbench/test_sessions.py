"""The session cookie: encrypted, tamper-evident, expiring, and readable across a key rotation."""

from __future__ import annotations

import time

from cryptography.fernet import Fernet

from services.workbench.sessions import Session, SessionCodec, User

USER = User(sub="demo-street-clerk", name="林晓", roles=("street_clerk",), org="350203001")


def _session(expires_in: float = 3600) -> Session:
    return Session(user=USER, token="header.payload.signature", expires_at=time.time() + expires_in)


def test_a_sealed_session_opens_to_the_same_session_and_hides_the_token() -> None:
    codec = SessionCodec([Fernet.generate_key().decode()])
    session = _session()
    value = codec.seal_session(session)
    assert "header.payload" not in value and "林晓" not in value
    assert codec.open_session(value, max_age_seconds=3600) == session


def test_a_tampered_or_foreign_cookie_is_no_session() -> None:
    codec = SessionCodec([Fernet.generate_key().decode()])
    value = codec.seal_session(_session())
    tampered = value[:-6] + ("A" if value[-6] != "A" else "B") + value[-5:]
    assert codec.open_session(tampered, max_age_seconds=3600) is None
    other = SessionCodec([Fernet.generate_key().decode()])
    assert other.open_session(value, max_age_seconds=3600) is None
    assert codec.open_session("", max_age_seconds=3600) is None
    assert codec.open_session(None, max_age_seconds=3600) is None


def test_an_expired_session_is_no_session() -> None:
    codec = SessionCodec([Fernet.generate_key().decode()])
    assert codec.open_session(codec.seal_session(_session(-1)), max_age_seconds=3600) is None


def test_a_session_older_than_the_cookie_lifetime_is_no_session() -> None:
    key = Fernet.generate_key().decode()
    old = Fernet(key.encode()).encrypt_at_time(b'{"user":{}}', int(time.time()) - 7200).decode()
    assert SessionCodec([key]).open(old, max_age_seconds=3600) is None


def test_key_rotation_new_key_first_still_reads_sessions_of_the_old_key() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    value = SessionCodec([old]).seal_session(_session())
    rotated = SessionCodec([new, old])
    assert rotated.open_session(value, max_age_seconds=3600) is not None
    resealed = rotated.seal_session(_session())
    assert SessionCodec([new]).open_session(resealed, max_age_seconds=3600) is not None
    assert SessionCodec([old]).open_session(resealed, max_age_seconds=3600) is None
