"""Structured logs on stderr, one event per line: JSON lines, or for people, console."""

from __future__ import annotations

import atexit
import logging
import sys

import orjson
import structlog

from hookline import telemetry
from hookline.settings import LogFormat


def configure(log_format: LogFormat = "auto", level: int = logging.INFO) -> None:
    """Log lines on stderr as ``log_format`` says; ``auto``: for people when stderr is a
    terminal, JSON lines otherwise (a file, a pipe, a log collector)."""
    logging.basicConfig(format="%(message)s", stream=sys.stderr, level=level)
    logging.getLogger("alembic").setLevel(logging.WARNING)  # its INFO is chatter about itself
    if log_format == "auto":
        log_format = "console" if sys.stderr.isatty() else "json"
    if log_format == "console":
        renderer: structlog.typing.Processor = structlog.dev.ConsoleRenderer(
            colors=sys.stderr.isatty()
        )
        factory: structlog.typing.WrappedLogger = structlog.PrintLoggerFactory(sys.stderr)
    else:
        # orjson renders bytes, written as they are: the attempt lines are the hottest
        # log there is (structlog's own advice for speed).
        renderer = structlog.processors.JSONRenderer(serializer=orjson.dumps)
        factory = structlog.BytesLoggerFactory(sys.stderr.buffer)
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=factory,
        cache_logger_on_first_use=True,
    )
    # The last summary of successful attempts, should the process end without flushing it.
    atexit.unregister(telemetry.flush)
    atexit.register(telemetry.flush)
