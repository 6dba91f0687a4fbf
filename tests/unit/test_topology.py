"""Queue bindings: AMQP topic matching and narrowing wildcard bindings to the handled types."""

from __future__ import annotations

import pytest

from services.alerting.handlers import HANDLERS as ALERTING
from services.publication.handlers import HANDLERS as PUBLICATION
from shared.amqp.topology import Binding, narrow_to_handled, topic_matches
from shared.events.catalogue import AlertCleared, AlertRaised
from shared.handlers import derive_bindings, handles


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


def test_the_catch_all_is_kept_as_declared() -> None:
    assert narrow_to_handled((Binding("#"),), {"application.accepted"}) == (Binding("#"),)


def test_a_wildcard_admitting_no_handled_type_binds_nothing() -> None:
    assert narrow_to_handled((Binding("credit.#"),), {"application.accepted"}) == ()


def test_a_wildcard_admitting_a_keyed_type_binds_its_key_pattern() -> None:
    # alert.raised travels as alert.raised.<colour>: a binding to "alert.raised" would get none.
    assert narrow_to_handled((Binding("alert.#"),), {"alert.raised"}) == (
        Binding("alert.raised.*"),
    )


def _alert(colour: str) -> AlertRaised:
    return AlertRaised.model_validate(
        {
            "alert_id": "00000000-0000-0000-0000-000000000001",
            "rule_id": "R1",
            "colour": colour,
            "unit": "350203",
            "raised_at": "2026-12-03T08:00:00Z",
        }
    )


def test_lights_travel_under_their_colour() -> None:
    assert [_alert(c).routing_key() for c in ("red", "yellow")] == [
        "alert.raised.red",
        "alert.raised.yellow",
    ]
    assert AlertCleared.routing_pattern() == "alert.cleared.*"


def test_publication_binds_only_the_red_lights_it_pushes() -> None:
    bindings = derive_bindings(PUBLICATION)
    alerts = [b.routing_key for b in bindings if b.routing_key.startswith("alert.")]
    assert alerts == ["alert.cleared.red", "alert.raised.red"]


def test_alerting_binds_exactly_the_types_it_handles() -> None:
    bindings = derive_bindings(ALERTING)
    assert Binding("#") not in bindings
    assert sorted(b.routing_key for b in bindings) == sorted(ALERTING)


def test_a_handler_cannot_name_a_key_its_type_is_never_published_under() -> None:
    with pytest.raises(ValueError, match=r"never published with key 'alert\.raised'"):
        handles(AlertRaised, routing_keys=("alert.raised",))
