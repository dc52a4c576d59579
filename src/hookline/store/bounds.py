"""How long one statement may run, for the code running now.

The API sets a bound for each request (``HOOKLINE_STATEMENT_TIMEOUT``); the stores apply it
to every statement run under it: PostgreSQL as the transaction's ``statement_timeout`` and
``lock_timeout``, SQLite's readers through a progress handler that interrupts a read past
its deadline. Code that sets no bound (the delivery workers, the purge, migrations, the
CLI) runs unbounded, as before: its statements have fixed shapes and bounded batches.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_statement_timeout: ContextVar[float | None] = ContextVar("statement_timeout", default=None)


def statement_timeout() -> float | None:
    """Seconds a statement may run here, or None for no bound."""
    return _statement_timeout.get()


@contextmanager
def bounded(seconds: float) -> Iterator[None]:
    """Bound every statement run within (tasks started within included) to ``seconds``."""
    token = _statement_timeout.set(seconds)
    try:
        yield
    finally:
        _statement_timeout.reset(token)
