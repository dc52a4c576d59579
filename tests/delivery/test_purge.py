"""History older than the retention goes, by the periodic purge and by ``hookline purge``."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from hookline.clock import now
from hookline.store.postgres import asyncpg_url
from hookline.store.schema import deliveries
from tests.databases import TEST_SECRET_KEY
from tests.delivery.receivers import Receiver
from tests.delivery.test_delivery import APP_CREATED, Setup, _ended, _path
from tests.servers import RunningServer


async def _age(database_url: str, delivery_id: str, days: int) -> None:
    url = (
        database_url.replace("sqlite://", "sqlite+aiosqlite://", 1)
        if database_url.startswith("sqlite")
        else asyncpg_url(database_url)
    )
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                sa.update(deliveries)
                .where(deliveries.c.id == delivery_id)
                .values(triggered_at=now() - timedelta(days=days))
            )
    finally:
        await engine.dispose()


def test_hookline_purge_removes_history_older_than_the_retention(
    hookline: RunningServer, receiver: Receiver
) -> None:
    setup = Setup(hookline, receiver)
    hook = setup.webhook(_path())
    setup.publish({"type": APP_CREATED, "data": {"n": 1}}, {"type": APP_CREATED, "data": {"n": 2}})
    new, old = setup.settle(hook["id"], _ended(2))  # newest first
    database_url = hookline.services.settings.database_url
    asyncio.run(_age(database_url, old["id"], days=8))

    environment = {k: v for k, v in os.environ.items() if not k.startswith("HOOKLINE_")}
    environment.update(HOOKLINE_DATABASE_URL=database_url, HOOKLINE_SECRET_KEY=TEST_SECRET_KEY)
    done = subprocess.run(
        [sys.executable, "-m", "hookline", "purge"], env=environment, capture_output=True, text=True
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("purged ")
    assert [d["id"] for d in setup.deliveries(hook["id"])] == [new["id"]]
    gone = setup.admin.get(f"/api/v1/webhooks/{hook['id']}/deliveries/{old['id']}")
    assert gone.status_code == 404
