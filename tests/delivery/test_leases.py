"""A worker renews the leases of the deliveries it holds, so an attempt that waits (for a
slot, or for its outcome to be written) is never taken by another worker meanwhile; and it
hands back, unsent, a rate-limited webhook's delivery it could not start in time. Both
databases; the store's time and the worker's are moved on by the test, not waited for."""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from hookline import clock
from hookline.dispatcher import Dispatcher
from hookline.services import Services
from hookline.settings import load_settings
from tests.databases import BACKENDS, TEST_SECRET_KEY, Templates, fresh_database
from tests.delivery.receivers import FAST, HOST, Receiver, Reply
from tests.logcapture import capture_own_logs
from tests.store.factories import event
from tests.store.queueing import ROOMY, hook, only, publish, tenant

LEASE = 30.0


class Clocks:
    """The store's time (leases, due times) and the worker's (when to renew), moved on
    together by ``advance``."""

    def __init__(self) -> None:
        self.offset = 0.0

    def advance(self, seconds: float) -> None:
        self.offset += seconds

    def store_now(self) -> datetime:
        return clock.now() + timedelta(seconds=self.offset)

    def worker_now(self) -> float:
        return time.monotonic() + self.offset


@pytest.fixture
def clocks(monkeypatch: pytest.MonkeyPatch) -> Clocks:
    moved = Clocks()
    monkeypatch.setattr("hookline.store.sql_base.now", moved.store_now)
    return moved


@pytest.fixture(params=BACKENDS)
def database_url(
    request: pytest.FixtureRequest, templates: Templates, tmp_path: Path
) -> Iterator[str]:
    with fresh_database(request.param, templates, tmp_path) as url:
        yield url


@pytest.fixture
async def services(database_url: str, ca_file: Path) -> AsyncIterator[Services]:
    settings = load_settings(
        **{**FAST, "lease_seconds": LEASE, "request_timeout": 10},
        database_url=database_url,
        secret_key=TEST_SECRET_KEY,
        ca_bundle=str(ca_file),
    )
    built = Services.build(settings)
    await built.start()
    try:
        yield built
    finally:
        await built.close()


async def _until(condition: Callable[[], bool | Awaitable[bool]]) -> None:
    """Wait until ``condition`` holds: a check, or a coroutine function (the store's)."""
    deadline = time.monotonic() + 20
    while not await _holds(condition):
        assert time.monotonic() < deadline, "it never happened"
        await asyncio.sleep(0.02)


async def _holds(condition: Callable[[], bool | Awaitable[bool]]) -> bool:
    held = condition()
    return await held if inspect.isawaitable(held) else held


def _dispatcher(services: Services, clocks: Clocks) -> Dispatcher:
    return Dispatcher(
        services.store,
        services.attempter,
        dataclasses.replace(services.limits, shutdown_grace=0),
        services.history.failures,
        services.slots,
        services.history.owner,
        clock=clocks.worker_now,
    )


async def test_a_worker_renews_the_lease_of_an_attempt_it_still_holds(
    services: Services, clocks: Clocks, receiver: Receiver
) -> None:
    store = services.store
    path = f"/renew-{time.monotonic_ns()}"
    receiver.script(path, Reply(delay=60))  # answers after the test is over
    tenant_id = await tenant(store)
    target = await hook(store, tenant_id, url=f"https://{HOST}:{receiver.port}{path}")
    await publish(store, tenant_id, event(tenant_id, "e1"))
    dispatcher = _dispatcher(services, clocks)
    stopping = asyncio.Event()
    running = asyncio.create_task(dispatcher.run(stopping))
    try:
        await _until(lambda: receiver.count(path) == 1)  # the attempt is in flight
        first_lease_end = (await only(store, tenant_id, target.id)).next_attempt_at
        assert first_lease_end is not None

        clocks.advance(LEASE * 0.75)  # its lease ends within half a lease: renewed
        deadline = time.monotonic() + 20
        renewed = first_lease_end
        while renewed <= first_lease_end and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
            renewed = (await only(store, tenant_id, target.id)).next_attempt_at or renewed
        assert receiver.count(path) == 1  # still the first attempt, never taken again
        assert renewed >= clocks.store_now() + timedelta(seconds=LEASE * 0.9)

        clocks.advance(LEASE * 0.5)  # past the first lease, within the renewed one
        assert await store.claim(owner="other", limit=10, lease_seconds=LEASE, room=ROOMY) == []
    finally:
        stopping.set()
        await running
    assert receiver.count(path) == 1


async def test_a_rate_limited_delivery_that_cannot_start_in_time_goes_back_unsent(
    services: Services, clocks: Clocks, receiver: Receiver
) -> None:
    store = services.store
    path = f"/late-{time.monotonic_ns()}"
    receiver.script(path)
    tenant_id = await tenant(store)
    url = f"https://{HOST}:{receiver.port}{path}"
    target = await hook(store, tenant_id, url=url, rate_limit=5)
    # The store's time a second behind the worker's: every claim's note of its sends is
    # already more than a tenth of a second old when the worker would start them.
    clocks.advance(-1.0)
    await publish(store, tenant_id, event(tenant_id, "e1"))
    stopping = asyncio.Event()
    with capture_own_logs() as logs:
        running = asyncio.create_task(_dispatcher(services, clocks).run(stopping))
        try:
            await _until(lambda: any(line["event"].startswith("rate-limited") for line in logs))
            await asyncio.sleep(0.3)  # claimed again and handed back again, never sent
            assert receiver.count(path) == 0
            assert (await only(store, tenant_id, target.id)).attempt_count == 0

            clocks.advance(1.0)  # in time again

            async def succeeded() -> bool:
                return (await only(store, tenant_id, target.id)).status == "success"

            await _until(succeeded)
        finally:
            stopping.set()
            await running
    late = next(line for line in logs if line["event"].startswith("rate-limited"))
    assert late["webhook"] == target.id
    assert late["late_ms"] >= 800
    delivered = await only(store, tenant_id, target.id)
    assert (delivered.status, delivered.attempt_count) == ("success", 1)
    assert receiver.count(path) == 1
