"""A hostile tenant, with only its own keys, cannot slow, starve or fill up another
(issue 11): the filter bomb, the fan-out flood and the resend storm, each beside a victim
tenant whose publishes, reads and deliveries must go on, on both databases."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.databases import BACKENDS, Templates, fresh_database
from tests.delivery.receivers import FAST, HOST, Receiver, Reply
from tests.servers import Client, RunningServer, eventually, start_server

APP_CREATED = "com.qlik.v1.app.created"
WEBHOOKS = "/api/v1/webhooks"
EVENTS = "/api/v1/events"
PER_ENDPOINT = 4
PER_TENANT = 8


@pytest.fixture(scope="module", params=BACKENDS)
def hookline(
    request: pytest.FixtureRequest,
    templates: Templates,
    tmp_path_factory: pytest.TempPathFactory,
    ca_file: Path,
) -> Iterator[RunningServer]:
    with fresh_database(request.param, templates, tmp_path_factory.mktemp("fair")) as url:
        running = start_server(
            url,
            ca_bundle=str(ca_file),
            endpoint_concurrency=PER_ENDPOINT,
            tenant_concurrency=PER_TENANT,
            publish_events_per_second=10,
            publish_burst_seconds=10,
            max_webhooks_per_tenant=100,
            # The hanging endpoints hold their slots for this long an attempt: the storms
            # make their point in half the time FAST's 2 s would take.
            **{**FAST, "request_timeout": 1},
        )
        yield running
        running.stop()


def _path() -> str:
    return f"/{uuid.uuid4().hex[:12]}"


def _url(receiver: Receiver, path: str) -> str:
    return f"https://{HOST}:{receiver.port}{path}"


def _webhook(client: Client, url: str, **fields: object) -> str:
    body = {"name": "w", "url": url, "eventTypes": [APP_CREATED], **fields}
    response = client.post(WEBHOOKS, json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _publish(client: Client, *events: Mapping[str, object]) -> httpx.Response:
    return client.post(EVENTS, json=list(events))


def test_a_filter_bomb_costs_its_own_tenant_only(
    hookline: RunningServer, receiver: Receiver
) -> None:
    attacker, victim = hookline.new_tenant().client(), hookline.new_tenant().client()
    bomb_path, victim_path = _path(), _path()
    clauses = " or ".join(f"data.a eq {n % 10}" for n in range(270))
    _webhook(attacker, _url(receiver, bomb_path), filter=clauses)
    _webhook(victim, _url(receiver, victim_path))
    bomb = {"type": APP_CREATED, "data": {"a": list(range(100, 200_100))}}

    with ThreadPoolExecutor(2) as pool:
        bombing = pool.submit(_publish, attacker, bomb)
        published = [_publish(victim, {"type": APP_CREATED, "data": {"n": n}}) for n in range(5)]
        created = victim.post(
            WEBHOOKS,
            json={"name": "x", "url": _url(receiver, _path()), "eventTypes": [APP_CREATED]},
        )

    assert bombing.result().status_code == 202
    assert [response.status_code for response in published] == [202] * 5
    assert created.status_code == 201
    receiver.wait_for(victim_path, 5)
    assert eventually(hookline.fanned_out)
    assert receiver.count(bomb_path) == 0  # matched as "no": too costly to evaluate


def test_a_fan_out_flood_neither_blocks_nor_starves_another_tenant(
    hookline: RunningServer, receiver: Receiver
) -> None:
    attacker, victim = hookline.new_tenant().client(), hookline.new_tenant().client()
    hanging, victim_path = _path(), _path()
    receiver.script(hanging, Reply(delay=30))  # the flood's endpoints never answer in time
    for _ in range(100):
        _webhook(attacker, _url(receiver, hanging))
    _webhook(victim, _url(receiver, victim_path))
    pad = "x" * 7000
    flood = [{"type": APP_CREATED, "data": {"n": n, "pad": pad}} for n in range(100)]

    assert _publish(attacker, *flood).status_code == 202  # 10,000 deliveries
    published = [_publish(victim, {"type": APP_CREATED, "data": {"n": n}}) for n in range(3)]
    again = _publish(attacker, *(flood * 10))  # over the tenant's quota of events

    assert [response.status_code for response in published] == [202] * 3
    assert again.status_code == 429
    assert int(again.headers["Retry-After"]) >= 1
    receiver.wait_for(victim_path, 3)  # not behind the attacker's 10,000
    assert receiver.most_in_flight(hanging) <= PER_TENANT


# A resend storm soon disables its webhook (the resends' failures count), after which each
# resend ends at once; test sends are sent to a disabled webhook too and never disable it,
# so each one waits out the request timeout: fewer of them make the same point.
@pytest.mark.parametrize(("action", "count"), [("resend", 120), ("test", 40)])
def test_a_resend_or_test_storm_stays_within_the_endpoint_bound(
    hookline: RunningServer, receiver: Receiver, action: str, count: int
) -> None:
    attacker, victim = hookline.new_tenant().client(), hookline.new_tenant().client()
    hanging, victim_path = _path(), _path()
    receiver.script(hanging, Reply(delay=30))
    hook = _webhook(attacker, _url(receiver, hanging))
    _webhook(victim, _url(receiver, victim_path))
    assert _publish(attacker, {"type": APP_CREATED, "data": {}}).status_code == 202
    receiver.wait_for(hanging, 1)
    [delivery] = attacker.get(f"{WEBHOOKS}/{hook}/deliveries").json()["data"]
    paths = {
        "resend": f"{WEBHOOKS}/{hook}/deliveries/{delivery['id']}/actions/resend",
        "test": f"{WEBHOOKS}/{hook}/actions/test",
    }

    async def storm() -> list[int]:
        # Every request at once (no wait in the client's pool), and time for the key's
        # turns on a machine running the rest of the suite beside it.
        async with httpx.AsyncClient(
            base_url=hookline.url,
            headers=attacker.headers,
            timeout=180,
            limits=httpx.Limits(max_connections=count),
        ) as client:
            answers = await asyncio.gather(*(client.post(paths[action]) for _ in range(count)))
        return [answer.status_code for answer in answers]

    with ThreadPoolExecutor(1) as pool:
        storming = pool.submit(asyncio.run, storm())
        published = _publish(victim, {"type": APP_CREATED, "data": {}})
        receiver.wait_for(victim_path, 1)
        answers = storming.result()

    assert published.status_code == 202
    assert set(answers) == {201}
    assert receiver.most_in_flight(hanging) <= PER_ENDPOINT
