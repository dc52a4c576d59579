from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest

from hookline import clock
from hookline.settings import load_settings
from hookline.store import Store, open_store
from tests.databases import TEST_SECRET_KEY


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    opened = open_store(load_settings(database_url=database_url, secret_key=TEST_SECRET_KEY))
    yield opened
    await opened.close()


class Clock:
    """The time the stores stamp and compare with (leases, due times, quotas): the real
    time, moved on by ``advance``; or, once ``stop`` is called, a time that moves only by
    ``advance`` (for tests whose assertions a slow machine's passing time would change)."""

    def __init__(self) -> None:
        self.offset = timedelta(0)
        self.stopped_at: datetime | None = None

    def now(self) -> datetime:
        return (self.stopped_at or clock.now()) + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)

    def stop(self) -> None:
        self.stopped_at = clock.now()


@pytest.fixture
def store_clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """Every store's clock, for tests that let leases and quotas run out without waiting."""
    moved = Clock()
    monkeypatch.setattr("hookline.store.sql_base.now", moved.now)
    return moved
