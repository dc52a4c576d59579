"""One tenant's requests cannot tie up the database for the others, and no answer shows the
database's own words (issue 11, item 3).

The attack: ``GET /api/v1/webhooks?eventTypes=`` with ~1,000 values, six at a time, built
one subquery per value; it held every SQLite reader for ~10 s (other tenants got 503s),
answered 503s quoting SQLite's error and the whole statement, and on PostgreSQL its
statements ran on for over an hour after hookline was killed. Now a list filter holds at
most HOOKLINE_MAX_FILTER_VALUES values (400 beyond), the query is one subquery whatever
their number, every API statement has a statement and lock timeout, a request whose client
leaves is cancelled with its statement, and 5xx answers carry a fixed sentence.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

import asyncpg
import httpx
import pytest
from structlog.testing import capture_logs

from tests.api.helpers import (
    APP_CREATED,
    APP_RELOADED,
    UNAVAILABLE,
    WEBHOOKS,
    assert_error,
    assert_no_sql,
    create,
)
from tests.attempts import Sent, busy_week, record, record_many
from tests.databases import POSTGRES_ADMIN_URL, unreachable
from tests.processes import Process, admin_key, environment
from tests.reliability.figures import report
from tests.servers import RunningServer, Tenant

T = TypeVar("T")
CAP = 50  # HOOKLINE_MAX_FILTER_VALUES's default


def _names(count: int) -> str:
    """``count`` distinct event type names, the catalog's first."""
    return ",".join([APP_CREATED] + [f"com.example.type{n}" for n in range(count - 1)])


# -- the cap on list filters ------------------------------------------------------------


def test_a_list_filter_of_the_cap_is_served(tenant: Tenant) -> None:
    admin = tenant.client()
    both = create(admin, eventTypes=[APP_CREATED, APP_RELOADED])
    create(admin, eventTypes=[APP_CREATED])
    names = [APP_CREATED, APP_RELOADED] * (CAP // 2)

    response = admin.get(WEBHOOKS, params={"eventTypes": ",".join(names)})
    origins = admin.get(WEBHOOKS, params={"origins": ",".join(["api"] * CAP)})

    assert response.status_code == 200, response.text
    assert [webhook["id"] for webhook in response.json()["data"]] == [both["id"]]
    assert origins.status_code == 200, origins.text
    assert len(origins.json()["data"]) == 2


@pytest.mark.parametrize("count", [CAP + 1, 990, 999, 2000])
def test_more_event_types_than_the_cap_is_a_400_without_sql(tenant: Tenant, count: int) -> None:
    response = tenant.client().get(WEBHOOKS, params={"eventTypes": _names(count)})

    assert_error(
        response,
        400,
        code="invalid-input",
        parameter="eventTypes",
        detail=f"at most {CAP} values, not {count}",
    )
    assert_no_sql(response.text)


@pytest.mark.parametrize(
    ("parameter", "value"),
    [
        ("eventType", _names(CAP + 1)),
        ("origins", ",".join(["api"] * (CAP + 1))),
        ("origins", ",".join(["api", "automations"] * 500)),
    ],
)
def test_every_list_filter_has_the_cap(tenant: Tenant, parameter: str, value: str) -> None:
    response = tenant.client().get(WEBHOOKS, params={parameter: value})

    assert_error(response, 400, code="invalid-input", parameter=parameter, detail="at most")


def test_the_cap_counts_event_types_under_both_names(tenant: Tenant) -> None:
    params = {"eventTypes": _names(CAP), "eventType": APP_RELOADED}

    response = tenant.client().get(WEBHOOKS, params=params)

    assert_error(response, 400, parameter="eventTypes", detail=f"not {CAP + 1}")


@pytest.mark.parametrize("parameter", ["origins", "eventTypes"])
def test_the_cap_counts_repeated_parameters(tenant: Tenant, parameter: str) -> None:
    value = "api" if parameter == "origins" else APP_RELOADED
    params = {parameter: [value] * CAP + [f"{value},{value}"]}  # repeated, the last a list

    response = tenant.client().get(WEBHOOKS, params=params)

    assert_error(response, 400, parameter=parameter, detail=f"at most {CAP} values, not {CAP + 2}")


def test_the_cap_is_a_setting(make_server: Callable[..., RunningServer]) -> None:
    admin = make_server(max_filter_values=2).new_tenant().client()

    assert admin.get(WEBHOOKS, params={"eventTypes": _names(2)}).status_code == 200
    assert_error(admin.get(WEBHOOKS, params={"eventTypes": _names(3)}), 400, detail="at most 2")


def test_an_attackers_largest_lists_leave_other_tenants_served(server: RunningServer) -> None:
    """Six of the attacker's keys list with the most values allowed, over and over, while
    the victim tenant authenticates and lists: every request of both is answered 200."""
    attacker, victim = server.new_tenant(), server.new_tenant()
    keys = [attacker.client() for _ in range(6)]
    for _ in range(3):
        create(keys[0], eventTypes=[APP_CREATED, APP_RELOADED])
    victim_admin = victim.client()
    mine = create(victim_admin)
    largest = {"eventTypes": _names(CAP), "limit": "100"}

    def attack(client: httpx.Client) -> list[int]:
        return [client.get(WEBHOOKS, params=largest).status_code for _ in range(20)]

    with ThreadPoolExecutor(len(keys)) as pool:
        attacks = [pool.submit(attack, client) for client in keys]
        started = time.monotonic()
        victim_statuses: list[int] = []
        while not victim_statuses or not all(attack.done() for attack in attacks):
            listed = victim_admin.get(WEBHOOKS)
            victim_statuses.append(listed.status_code)
            assert listed.status_code == 200, listed.text
            assert [webhook["id"] for webhook in listed.json()["data"]] == [mine["id"]]
        attack_statuses = [status for attack in attacks for status in attack.result()]
        took = time.monotonic() - started

    assert attack_statuses == [200] * 120
    report(
        f"list bomb {server.services.settings.database_url.split(':')[0]}",
        attacker_requests=len(attack_statuses),
        victim_requests=len(victim_statuses),
        seconds=round(took, 1),
    )


# -- endpoint health over a busy history ----------------------------------------------------


def test_an_attackers_health_requests_over_a_busy_week_leave_other_tenants_served(
    server: RunningServer,
) -> None:
    """The attacker's webhook holds more of a week than one health request reads; six of
    its keys ask for that week over and over while the victim lists its webhooks and asks
    for its own webhook's health: every request of both is answered 200, the attacker's
    from a sample (what one request reads is bounded, and its requests take turns)."""
    attacker, victim = server.new_tenant(), server.new_tenant()
    keys = [attacker.client() for _ in range(6)]
    busy = create(keys[0])
    record_many(server, attacker.id, busy, busy_week(6_000))
    victim_admin = victim.client()
    mine = create(victim_admin)
    record(server, victim.id, mine, Sent(timedelta(minutes=3)))
    week = f"{WEBHOOKS}/{busy['id']}/stats?window=7d"

    def attack(client: httpx.Client) -> list[tuple[int, bool]]:
        answers = [client.get(week) for _ in range(5)]
        return [(answer.status_code, answer.json().get("sampled", False)) for answer in answers]

    with ThreadPoolExecutor(len(keys)) as pool:
        attacks = [pool.submit(attack, client) for client in keys]
        started = time.monotonic()
        victim_requests = 0
        while not victim_requests or not all(attack.done() for attack in attacks):
            listed = victim_admin.get(WEBHOOKS)
            health = victim_admin.get(f"{WEBHOOKS}/{mine['id']}/stats")
            victim_requests += 2
            assert listed.status_code == 200, listed.text
            assert health.status_code == 200, health.text
            assert (health.json()["attempts"], health.json()["sampled"]) == (1, False)
        answers = [answer for attack in attacks for answer in attack.result()]
        took = time.monotonic() - started

    assert answers == [(200, True)] * 30
    report(
        f"health storm {server.services.settings.database_url.split(':')[0]}",
        attacker_requests=len(answers),
        victim_requests=victim_requests,
        seconds=round(took, 1),
    )


# -- 5xx answers carry no database text ---------------------------------------------------


def test_an_unreachable_postgres_is_a_503_with_a_fixed_sentence(
    make_server: Callable[..., RunningServer],
) -> None:
    running = make_server("postgres")
    admin = running.new_tenant().client()
    create(admin)

    with capture_logs() as logs, unreachable(running.services.settings.database_url):
        answers = [
            admin.get(WEBHOOKS, params={"eventTypes": APP_CREATED}),
            admin.post(WEBHOOKS, json={"name": "x"}),
            running.client(None).get("/readyz"),
        ]

    for response in answers:
        [entry] = assert_error(response, 503, code="unavailable")
        trace_id = response.json()["traceId"]
        assert entry["detail"] == f"{UNAVAILABLE} (trace id {trace_id})"
        assert_no_sql(response.text)
    logged = {entry.get("trace_id"): entry for entry in logs if entry.get("status") == 503}
    first = logged[answers[0].json()["traceId"]]
    assert "not currently accepting connections" in first["error"]


# -- statement timeouts and disconnects on PostgreSQL ---------------------------------------


class WebhooksLocked:
    """Holds an ACCESS EXCLUSIVE lock on the webhooks table of a test's database, so that
    any statement reading it waits; counts hookline's statements waiting for it. Its
    connections live on a loop of its own, run only while it is asked something."""

    def __init__(self, database_url: str) -> None:
        self._database = urlsplit(database_url).path.lstrip("/")
        self._loop = asyncio.new_event_loop()
        base = POSTGRES_ADMIN_URL.rpartition("/")[0]
        self._holder = self._run(asyncpg.connect(f"{base}/{self._database}"))
        self._run(self._holder.execute("BEGIN; LOCK TABLE webhooks IN ACCESS EXCLUSIVE MODE"))
        # pg_stat_activity keeps its first answer within a transaction: ask from outside
        self._observer = self._run(asyncpg.connect(POSTGRES_ADMIN_URL))

    def _run(self, work: Awaitable[T]) -> T:
        return self._loop.run_until_complete(work)

    def waiting(self, *, listings: bool = False) -> int:
        """hookline's statements on the webhooks table that wait for the lock; with
        ``listings``, only the API's listings of webhooks, not the count of disabled ones
        that a process's metrics take at its start and every few seconds (which may come
        while the lock is held, on a slow machine)."""
        count = self._run(
            self._observer.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = $1"
                " AND state = 'active' AND wait_event_type = 'Lock'"
                " AND query ILIKE '%FROM webhooks%'"
                " AND NOT ($2 AND query ILIKE 'SELECT count(%')",
                self._database,
                listings,
            )
        )
        return int(count)

    def release(self) -> None:
        self._run(self._observer.close())
        self._run(self._holder.close())
        self._loop.close()


@contextmanager
def _webhooks_locked(database_url: str) -> Iterator[WebhooksLocked]:
    locked = WebhooksLocked(database_url)
    try:
        yield locked
    finally:
        locked.release()


def test_a_postgres_statement_past_the_timeout_is_a_503_and_logged(
    make_server: Callable[..., RunningServer],
) -> None:
    running = make_server("postgres", statement_timeout=1)
    admin = running.new_tenant().client()

    with _webhooks_locked(running.services.settings.database_url):
        with capture_logs() as logs:
            started = time.monotonic()
            response = admin.get(WEBHOOKS)
            waited = time.monotonic() - started
        other = admin.get("/api/v1/users/me")

    [entry] = assert_error(response, 503, code="unavailable")
    trace_id = response.json()["traceId"]
    assert entry["detail"] == f"{UNAVAILABLE} (trace id {trace_id})"
    assert_no_sql(response.text)
    assert 1 <= waited < 30
    assert other.status_code == 200  # the rest of the API was served meanwhile
    [logged] = [entry for entry in logs if entry.get("trace_id") == trace_id]
    assert "canceling statement due to" in logged["error"]
    assert "FROM webhooks" in logged["error"]  # the statement goes to the log
    report("database postgres statement timeout 1 s", answered_503_after_seconds=round(waited, 2))


def test_a_client_that_leaves_cancels_its_postgres_statement(
    make_server: Callable[..., RunningServer],
) -> None:
    """With a minute's timeout, only the client's leaving can end the waiting statement."""
    running = make_server("postgres", statement_timeout=60)
    key = running.new_tenant().key("tenant-admin")
    address = urlsplit(running.url)
    request = (
        f"GET {WEBHOOKS} HTTP/1.1\r\nHost: {address.netloc}\r\nAuthorization: Bearer {key}\r\n\r\n"
    ).encode()

    with _webhooks_locked(running.services.settings.database_url) as locked:
        client = socket.create_connection((address.hostname, address.port))
        client.sendall(request)
        assert _eventually(lambda: locked.waiting(listings=True) == 1)
        started = time.monotonic()
        client.close()
        assert _eventually(lambda: locked.waiting(listings=True) == 0)
        gone_after = time.monotonic() - started

    assert running.client(key).get(WEBHOOKS).status_code == 200
    report("database postgres client left", statement_gone_after_seconds=round(gone_after, 2))


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_a_killed_process_leaves_no_statement_running(
    database_url: str, ca_file: Path, processes: list[Process]
) -> None:
    """The issue's worst case: statements that ran on for an hour once hookline was gone."""
    serve = Process(environment(database_url, ca_file, statement_timeout="600"), "serve")
    processes.append(serve)
    url = urlsplit(serve.url())
    key = admin_key(database_url)
    request = (
        f"GET {WEBHOOKS} HTTP/1.1\r\nHost: {url.netloc}\r\nAuthorization: Bearer {key}\r\n\r\n"
    ).encode()

    with _webhooks_locked(database_url) as locked:
        clients = [socket.create_connection((url.hostname, url.port)) for _ in range(3)]
        for client in clients:
            client.sendall(request)
        assert _eventually(lambda: locked.waiting(listings=True) == 3)
        started = time.monotonic()
        serve.kill()
        assert _eventually(lambda: locked.waiting() == 0)
        gone_after = time.monotonic() - started
        for client in clients:
            client.close()

    report("database postgres process killed", statements_gone_after_seconds=round(gone_after, 2))


def _eventually(check: Callable[[], bool], within: float = 20) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False
