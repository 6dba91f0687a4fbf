"""The development clock tool's command line: offsets, service addresses, refusals."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tools.dev_clock import main, parse_offset, service_url


@pytest.mark.parametrize(
    ("text", "delta"),
    [
        ("+3d", timedelta(days=3)),
        ("-2h", timedelta(hours=-2)),
        ("+90s", timedelta(seconds=90)),
        ("+30m", timedelta(minutes=30)),
        ("+1w", timedelta(days=7)),
        ("+1.5d", timedelta(hours=36)),
    ],
)
def test_offsets(text: str, delta: timedelta) -> None:
    assert parse_offset(text) == delta


@pytest.mark.parametrize("text", ["3d", "+3", "+3y", "tomorrow", ""])
def test_bad_offsets_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not an offset"):
        parse_offset(text)


def test_service_urls_follow_the_port_settings() -> None:
    assert service_url("review", {}) == "http://127.0.0.1:8002"
    assert service_url("review", {"HOUSING_REVIEW_PORT": "9102"}) == "http://127.0.0.1:9102"
    assert (
        service_url("alerting", {"HOUSING_ALERTING_URL": "http://alerting:8004/"})
        == "http://alerting:8004"
    )


def test_exactly_one_change_is_asked_for(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as none:
        main([])
    assert none.value.code == 2
    with pytest.raises(SystemExit):
        main(["+1d", "--reset"])
    with pytest.raises(SystemExit):
        main(["--set", "2026-12-07T09:00:00"])  # no timezone
    assert "--set needs a timezone" in capsys.readouterr().err


def test_an_unknown_service_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["+1d", "leasing"]) == 2
    assert "unknown service(s): leasing" in capsys.readouterr().err
