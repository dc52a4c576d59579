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
    time, moved on by ``advance``."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def now(self) -> datetime:
        return clock.now() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)


@pytest.fixture
def store_clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """Every store's clock, for tests that let leases and quotas run out without waiting."""
    moved = Clock()
    monkeypatch.setattr("hookline.store.sql_base.now", moved.now)
    return moved
