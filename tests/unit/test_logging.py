import io
import logging
import re
from collections.abc import Iterator

import orjson
import pytest
import structlog

from shared.logging import configure_logging

RESIDENT_ID = "350203199003071519"
MASKED_ID = "3502**********1519"
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")


@pytest.fixture
def output() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure_logging("test-service", "INFO", stream=stream)
    structlog.contextvars.clear_contextvars()
    yield stream
    structlog.contextvars.clear_contextvars()
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, "stream", None) is stream]:
        root.removeHandler(handler)


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in stream.getvalue().splitlines()]


def test_structlog_event_is_json_and_masked(output: io.StringIO) -> None:
    structlog.contextvars.bind_contextvars(correlation_id="c-1", user="u-7")
    structlog.get_logger("test.app").info(
        f"checking {RESIDENT_ID}",
        household={"members": [{"id": RESIDENT_ID, "phones": ("13812345678",)}]},
        area=42.5,
    )
    [line] = lines(output)
    timestamp = line.pop("timestamp")
    assert isinstance(timestamp, str) and TIMESTAMP.match(timestamp)
    assert line == {
        "event": f"checking {MASKED_ID}",
        "household": {"members": [{"id": MASKED_ID, "phones": ["138****5678"]}]},
        "area": 42.5,
        "correlation_id": "c-1",
        "user": "u-7",
        "level": "info",
        "logger": "test.app",
        "service": "test-service",
    }
    assert RESIDENT_ID not in output.getvalue()


def test_contextvars_come_first_so_explicit_values_win(output: io.StringIO) -> None:
    structlog.contextvars.bind_contextvars(user="from-context")
    structlog.get_logger("t").info("e", user="explicit")
    assert lines(output)[0]["user"] == "explicit"


def test_stdlib_records_are_json_and_masked(output: io.StringIO) -> None:
    structlog.contextvars.bind_contextvars(correlation_id="c-2")
    logging.getLogger("uvicorn.error").warning("bad request from %s", "13812345678")
    [line] = lines(output)
    del line["timestamp"]
    assert line == {
        "event": "bad request from 138****5678",
        "correlation_id": "c-2",
        "level": "warning",
        "logger": "uvicorn.error",
        "service": "test-service",
    }


def test_exceptions_are_formatted_and_masked(output: io.StringIO) -> None:
    log = structlog.get_logger("t")
    try:
        raise ValueError(f"no household for {RESIDENT_ID}")
    except ValueError:
        log.exception("lookup_failed")
    try:
        raise KeyError(RESIDENT_ID)
    except KeyError:
        logging.getLogger("sqlalchemy.pool").error("pool error", exc_info=True)
    structured, foreign = lines(output)
    assert structured["event"] == "lookup_failed"
    assert structured["level"] == "error"
    assert isinstance(structured["exception"], str)
    assert structured["exception"].startswith("Traceback")
    assert f"ValueError: no household for {MASKED_ID}" in structured["exception"]
    assert foreign["event"] == "pool error"
    assert isinstance(foreign["exception"], str)
    assert f"KeyError: '{MASKED_ID}'" in foreign["exception"]
    assert RESIDENT_ID not in output.getvalue()


def test_level_filters(output: io.StringIO) -> None:
    stream = io.StringIO()
    configure_logging("test-service", "WARNING", stream=stream)
    structlog.get_logger("t").info("quiet")
    logging.getLogger("aio_pika").info("quiet too")
    structlog.get_logger("t").warning("loud")
    assert [line["event"] for line in lines(stream)] == ["loud"]
    configure_logging("test-service", "INFO", stream=output)


def test_configure_twice_keeps_one_handler(output: io.StringIO) -> None:
    configure_logging("test-service", "INFO", stream=output)
    configure_logging("test-service", "INFO", stream=output)
    structlog.get_logger("t").info("once")
    logging.getLogger("uvicorn.access").info("once too")
    assert [line["event"] for line in lines(output)] == ["once", "once too"]


def test_unknown_level_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown log level"):
        configure_logging("test-service", "LOUD")


def test_console_renderer_is_masked_too() -> None:
    stream = io.StringIO()
    try:
        configure_logging("test-service", "INFO", json=False, stream=stream)
        structlog.get_logger("t").info("dev", id=RESIDENT_ID)
        text = stream.getvalue()
        assert MASKED_ID in text
        assert RESIDENT_ID not in text
    finally:
        configure_logging("test-service", "INFO", stream=io.StringIO())
