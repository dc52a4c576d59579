"""Structured logs on stderr, one event per line: JSON (the default), or ``console`` lines
for people reading them in a terminal."""

from __future__ import annotations

import logging
import sys

import structlog

from hookline.settings import LogFormat


def configure(log_format: LogFormat = "json", level: int = logging.INFO) -> None:
    logging.basicConfig(format="%(message)s", stream=sys.stderr, level=level)
    logging.getLogger("alembic").setLevel(logging.WARNING)  # its INFO is chatter about itself
    renderer: structlog.typing.Processor = (
        structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
        if log_format == "console"
        else structlog.processors.JSONRenderer()
    )
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )
