"""Process-wide logging: structlog JSON lines, with stdlib loggers routed through the same chain.

Every line carries the service name, level, UTC timestamp and whatever the request or consumer
bound in structlog's contextvars (correlation id, user), and passes through
``shared.pii.mask_pii`` last before rendering, so that no ID or mobile number reaches the log
whether it came from our code, uvicorn, aio-pika or SQLAlchemy.
"""

from __future__ import annotations

import logging
import sys
from typing import IO, Any

import orjson
import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from shared.pii import mask_pii

__all__ = ["configure_logging"]

# Third-party loggers that install their own handlers or stop propagation; they are sent to the
# root handler instead so that their lines are JSON and masked too.
_ADOPTED_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "aio_pika", "aiormq")


class _StructlogHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Marks the handler this module installed, so a second call replaces it."""


def _orjson_dumps(value: Any, **kwargs: Any) -> str:
    # JSONRenderer passes ``default`` for objects orjson cannot serialise natively.
    return orjson.dumps(
        value, default=kwargs.get("default"), option=orjson.OPT_NON_STR_KEYS
    ).decode()


def _add_service(service: str) -> Processor:
    def add_service(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
        event_dict.setdefault("service", service)
        return event_dict

    return add_service


def configure_logging(
    service: str,
    level: str = "INFO",
    json: bool = True,
    *,
    stream: IO[str] | None = None,
) -> None:
    """Configure structlog and stdlib logging for this process; calling again reconfigures.

    ``json=False`` renders readable console lines for development (still masked). ``stream``
    defaults to stdout, where container runtimes collect logs.

    Start uvicorn with ``log_config=None`` so that it does not install its own handlers again.
    """
    numeric_level = logging.getLevelNamesMapping().get(level.upper())
    if numeric_level is None:
        raise ValueError(f"unknown log level {level!r}")

    # Used for structlog's own events and, as foreign_pre_chain, for stdlib records: both kinds
    # of line then carry the same keys.
    shared_processors: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _add_service(service),
        structlog.processors.StackInfoRenderer(),
        # Tracebacks become text here, so that mask_pii can scrub them afterwards.
        structlog.processors.format_exc_info,
    ]
    renderer: Processor = (
        structlog.processors.JSONRenderer(serializer=_orjson_dumps)
        if json
        else structlog.dev.ConsoleRenderer(colors=False)
    )

    structlog.configure(
        processors=[*shared_processors, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        # Drops events below the level before any processor runs.
        wrapper_class=structlog.make_filtering_bound_logger(numeric_level),
        cache_logger_on_first_use=True,
    )

    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared_processors,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            mask_pii,
            renderer,
        ],
    )
    handler = _StructlogHandler(stream if stream is not None else sys.stdout)
    handler.setFormatter(formatter)

    root = logging.getLogger()
    # Replace only our own handler: test runners attach capture handlers to the root logger.
    for existing in [h for h in root.handlers if isinstance(h, _StructlogHandler)]:
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(numeric_level)

    for name in _ADOPTED_LOGGERS:
        adopted = logging.getLogger(name)
        adopted.handlers.clear()
        adopted.propagate = True
    # Python warnings (SQLAlchemy's among them) become records of the "py.warnings" logger.
    logging.captureWarnings(True)
