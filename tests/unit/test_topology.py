"""Queue bindings: AMQP topic matching and narrowing wildcard bindings to the handled types."""

from __future__ import annotations

import pytest

from shared.amqp.topology import Binding, narrow_to_handled, topic_matches


@pytest.mark.parametrize(
    ("pattern", "key", "matches"),
    [
        ("#", "application.accepted", True),
        ("application.#", "application", True),
        ("application.#", "application.accepted", True),
        ("application.#", "application.a.b", True),
        ("application.*", "application.accepted", True),
        ("application.*", "application", False),
        ("application.*", "application.a.b", False),
        ("*.accepted", "application.accepted", True),
        ("#.accepted", "accepted", True),
        ("review.#", "application.accepted", False),
        ("application.accepted", "application.accepted", True),
        ("application.accepted", "application.accepted.x", False),
    ],
)
def test_topic_matching_follows_amqp(pattern: str, key: str, matches: bool) -> None:
    assert topic_matches(pattern, key) is matches


def test_wildcards_on_the_events_exchange_narrow_to_the_handled_types() -> None:
    bindings = (
        Binding("application.#"),
        Binding("*.stage_started"),
        Binding("verification.completed"),
        Binding("response.*", exchange="verification"),
    )
    handled = {"application.accepted", "review.stage_started", "application.withdrawn"}
    assert narrow_to_handled(bindings, handled) == (
        Binding("application.accepted"),
        Binding("application.withdrawn"),
        Binding("review.stage_started"),
        Binding("verification.completed"),  # exact keys are kept as declared
        Binding("response.*", exchange="verification"),  # routing key is not the type there
    )


def test_the_catch_all_is_kept_so_every_event_type_has_a_route() -> None:
    assert narrow_to_handled((Binding("#"),), {"application.accepted"}) == (Binding("#"),)


def test_a_wildcard_admitting_no_handled_type_binds_nothing() -> None:
    assert narrow_to_handled((Binding("credit.#"),), {"application.accepted"}) == ()
