from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from hookline.settings import load_settings
from hookline.store import Store, open_store
from tests.databases import TEST_SECRET_KEY


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    opened = open_store(load_settings(database_url=database_url, secret_key=TEST_SECRET_KEY))
    yield opened
    await opened.close()
