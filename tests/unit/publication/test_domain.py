"""Publication rules without I/O: the 7-day rule, masking checks, rate limit, push contract."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest

from services.publication import domain
from simulators.province import ProvinceReceiver
from tests.examples import resident_id


@pytest.mark.parametrize(("days", "refused"), [(1, True), (6, True), (7, False), (30, False)])
def test_qualification_publicity_needs_seven_days(days: int, refused: bool) -> None:
    reason = domain.period_problem("qualification", days, 7)
    assert (reason is not None) is refused
    if refused:
        assert reason == (
            f"资格审核结果公示期不得少于7天（厦门市办法第九条第（七）项），本次为{days}天"
        )


def test_a_city_may_require_more_than_seven_days() -> None:
    assert domain.period_problem("qualification", 9, 10) is not None
    assert domain.period_problem("qualification", 10, 10) is None


def test_announcements_have_no_minimum_but_at_least_a_day() -> None:
    assert domain.period_problem("acceptance", 3, 7) is None
    assert domain.period_problem("exit", 0, 7) == "公示天数至少为1天"


def test_a_notice_opens_now_or_waits_for_its_time() -> None:
    at = datetime(2026, 11, 21, 8, tzinfo=UTC)
    assert domain.initial_status(at, at) == "open"
    assert domain.initial_status(at + timedelta(seconds=1), at) == "scheduled"


def test_unmasked_ids_and_mobiles_are_found_even_inside_chinese() -> None:
    assert domain.has_unmasked_pii(f"身份证{resident_id()}号")
    assert domain.has_unmasked_pii("电话13812345678请回复")
    assert not domain.has_unmasked_pii("3502**********1234 张*丰 138****5678")
    assert not domain.has_unmasked_pii("编号 XM2026-000123，金额 12345678901234 元")


def test_id_tail_is_what_the_applicant_types() -> None:
    assert domain.id_tail("3502**********123x") == "123X"


def test_token_bucket_allows_a_burst_then_refills() -> None:
    bucket = domain.TokenBucket(burst=3, per_second=0.5)
    assert [bucket.take("a", 0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take("a", 0.0) == pytest.approx(2.0)
    assert bucket.take("b", 0.0) == 0.0  # another client has its own bucket
    assert bucket.take("a", 2.0) == 0.0  # one token back after two seconds
    assert bucket.take("a", 2.0) > 0


def test_token_bucket_forgets_the_oldest_clients_beyond_its_bound() -> None:
    bucket = domain.TokenBucket(burst=1, per_second=0.001, max_clients=2)
    bucket.take("a", 0.0)
    bucket.take("b", 0.0)
    bucket.take("c", 0.0)
    assert bucket.take("a", 0.0) == 0.0  # "a" was forgotten, so it starts full again
    assert bucket.take("c", 0.0) > 0


def test_stage_titles_name_the_review_level() -> None:
    assert domain.stage_title("review", "district") == "区级审核中"
    assert domain.stage_title("suspended", "street") == "街道初审（补件挂起）"
    assert domain.stage_title("publicity", None) == "公示中"


def test_the_province_never_receives_the_household() -> None:
    data = {
        "application_id": "a",
        "tracking_no": "XM-1",
        "household": {"members": [{"resident_id": resident_id(), "name": "张三丰"}]},
        "accepted_by": "clerk-1",
    }
    assert domain.push_data("application.accepted", data) == {
        "application_id": "a",
        "tracking_no": "XM-1",
    }


def test_only_red_lights_and_key_events_are_pushed() -> None:
    assert domain.is_pushed("alert.raised", {"colour": "red"})
    assert not domain.is_pushed("alert.raised", {"colour": "yellow"})
    assert domain.is_pushed("review.decided", {})
    assert not domain.is_pushed("application.materials_uploaded", {})


def test_streams_are_per_application_else_per_unit() -> None:
    assert domain.stream_key("review.decided", {"application_id": "x"}) == "application:x"
    assert domain.stream_key("alert.raised", {"application_id": None, "unit": "350203"}) == (
        "unit:350203"
    )


def test_a_lottery_round_is_its_own_stream_and_its_lists_stay_home() -> None:
    drawn = {"round_id": "r1", "pool_digest": "d", "ranking": [{"rank": 1}], "secret": "s"}
    assert domain.stream_key("allocation.round_drawn", drawn) == "round:r1"
    assert domain.push_data("allocation.round_drawn", drawn) == {
        "round_id": "r1",
        "pool_digest": "d",
        "secret": "s",
    }
    frozen = {"round_id": "r1", "household_references": ["XM-0001"], "households": 1}
    assert "household_references" not in domain.push_data("allocation.pool_frozen", frozen)
    # A result travels in its household's application stream when publication knows it.
    result = {"round_id": "r1", "application_id": "a1", "allocation_id": "x"}
    assert domain.stream_key("allocation.unit_allocated", result) == "application:a1"


def test_each_service_s_audit_checkpoints_are_one_stream_pushed_whole() -> None:
    checkpoint = {
        "service": "intake",
        "seq": 5,
        "head_hash": "a" * 64,
        "signed_at": "2026-12-02T00:00:00Z",
        "key_id": "k" * 43,
        "public_key": "x" * 43,
        "signature": "s" * 86,
    }
    assert domain.is_pushed("audit.checkpointed", checkpoint) is True
    assert domain.stream_key("audit.checkpointed", checkpoint) == "audit:intake"
    assert domain.push_data("audit.checkpointed", checkpoint) == checkpoint


def test_backoff_doubles_up_to_its_cap() -> None:
    delays = [domain.backoff(n, 2.0, 30.0).total_seconds() for n in range(1, 7)]
    assert delays == [2.0, 4.0, 8.0, 16.0, 30.0, 30.0]


def test_signature_is_hmac_sha256_over_timestamp_and_body() -> None:
    body = b'{"push_id":"p"}'
    expected = hmac.new(b"k", b"2026-11-21T00:00:00+00:00." + body, hashlib.sha256).hexdigest()
    assert domain.signature("k", "2026-11-21T00:00:00+00:00", body) == "sha256=" + expected
    assert domain.signature_valid("k", "2026-11-21T00:00:00+00:00", body, "sha256=" + expected)
    assert not domain.signature_valid("k", "2026-11-21T00:00:01+00:00", body, "sha256=" + expected)


def test_the_reference_receiver_accepts_exactly_what_the_sender_signs() -> None:
    receiver = ProvinceReceiver(secret="s3cret")
    body = b'{"push_id":"p1"}'
    good = domain.signature("s3cret", "t", body)
    assert receiver.verify("t", body, good)
    assert not receiver.verify("t", body + b" ", good)
    assert not receiver.verify("t", body, domain.signature("other", "t", body))
