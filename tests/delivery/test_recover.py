"""Recover and replay end to end over real HTTPS, on both databases: an endpoint that was
down gets back exactly what it missed, once each."""

from __future__ import annotations

import json
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.delivery.receivers import Receiver, Reply
from tests.delivery.test_delivery import APP_CREATED, Setup, _path
from tests.servers import RunningServer, eventually

APP_DELETED = "com.qlik.v1.app.deleted"


@pytest.fixture
def setup(hookline: RunningServer, receiver: Receiver) -> Setup:
    return Setup(hookline, receiver)


def _moment() -> str:
    """Now, as the API writes times, a millisecond back (a window's end is excluded)."""
    at = datetime.now(UTC) - timedelta(milliseconds=1)
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _event(n: int, event_type: str = APP_CREATED) -> dict[str, Any]:
    return {"type": event_type, "data": {"n": n}}


def _recovered(setup: Setup, webhook_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """Recover, wait for the task to finish and for what it queued to be sent; the task."""
    response = setup.admin.post(f"/api/v1/webhooks/{webhook_id}/actions/recover", json=body)
    assert response.status_code == 202, response.text
    path = f"/api/v1/webhooks/{webhook_id}/tasks/{response.json()['id']}"
    deadline = time.monotonic() + 30
    while (task := setup.admin.get(path).json())["finishedAt"] is None:
        assert time.monotonic() < deadline, task
        time.sleep(0.05)
    setup.quiet(webhook_id)
    return dict(task)


def _ids_since(setup: Setup, path: str, start: int) -> Counter[str]:
    """How many times each event reached ``path`` from its ``start``-th request on."""
    return Counter(json.loads(got.body)["eventId"] for got in setup.receiver.received(path)[start:])


def _switch(setup: Setup, webhook_id: str, *, enabled: bool) -> None:
    patched = setup.admin.patch(
        f"/api/v1/webhooks/{webhook_id}",
        json=[{"op": "replace", "path": "/enabled", "value": enabled}],
    )
    assert patched.status_code == 204, patched.text


def test_after_an_outage_recover_sends_the_failed_events_again_once_each(setup: Setup) -> None:
    path = _path()
    hook = setup.webhook(path)
    since = _moment()
    [delivered] = setup.publish(_event(0))
    setup.receiver.wait_for(path, 1)
    setup.receiver.script(path, Reply(500))  # the outage: every attempt fails
    failed = setup.publish(*(_event(n) for n in range(1, 6)))
    deliveries = setup.quiet(hook["id"])
    assert {d["eventId"] for d in deliveries if d["status"] == "fail"} == set(failed)
    _switch(setup, hook["id"], enabled=False)  # its owner stops it meanwhile
    [never_sent] = setup.publish(_event(6))  # while disabled: no delivery at all
    # (The webhooks an event reaches are decided when it is fanned out, just after.)
    assert eventually(setup.hookline.fanned_out), "events never fanned out"
    setup.receiver.script(path, Reply(200))  # the endpoint is back
    _switch(setup, hook["id"], enabled=True)
    before = setup.receiver.count(path)

    task = _recovered(setup, hook["id"], {"since": since})

    assert _ids_since(setup, path, before) == Counter(dict.fromkeys(failed, 1))
    assert (task["status"], task["only"]) == ("done", "failed")
    # The window holds the 7 events published and the hookline.delivery.exhausted event
    # the outage raised (a webhook of this test subscribes to none, so it has no delivery).
    assert (task["total"], task["done"], task["recovered"]) == (8, 8, 5)
    made = [d for d in setup.deliveries(hook["id"]) if d["taskId"] == task["id"]]
    assert sorted(d["eventId"] for d in made) == sorted(failed)
    assert {d["status"] for d in made} == {"success"}
    assert _ids_since(setup, path, 0)[delivered] == 1
    assert never_sent not in _ids_since(setup, path, 0)

    # Recovering the same window again finds nothing failed any more.
    again = _recovered(setup, hook["id"], {"since": since})
    # (and by now hookline.webhook.recovered: the recovered deliveries ended the run)
    assert (again["total"], again["recovered"]) == (9, 0)
    assert setup.receiver.count(path) == before + len(failed)


def test_recover_missing_sends_what_the_webhook_matches_now_and_never_got(setup: Setup) -> None:
    path = _path()
    hook = setup.webhook(path, enabled=False, filter="data.n ne 2")
    since = _moment()
    missed = setup.publish(_event(1), _event(2), _event(3), _event(4, APP_DELETED))
    assert eventually(setup.hookline.fanned_out), "events never fanned out"
    _switch(setup, hook["id"], enabled=True)
    [live] = setup.publish(_event(5))
    setup.receiver.wait_for(path, 1)
    setup.quiet(hook["id"])

    task = _recovered(setup, hook["id"], {"since": since, "until": _moment(), "only": "missing"})

    # n=2 is filtered out, n=4 is of a type it does not subscribe to, n=5 was delivered.
    assert _ids_since(setup, path, 0) == Counter({missed[0]: 1, missed[2]: 1, live: 1})
    assert (task["total"], task["recovered"]) == (5, 2)


def test_recover_all_sends_the_succeeded_ones_again_too(setup: Setup) -> None:
    path = _path()
    hook = setup.webhook(path)
    since = _moment()
    sent = setup.publish(_event(1), _event(2))
    setup.receiver.wait_for(path, 2)
    setup.quiet(hook["id"])

    task = _recovered(setup, hook["id"], {"since": since, "only": "all"})

    assert _ids_since(setup, path, 0) == Counter(dict.fromkeys(sent, 2))
    assert task["recovered"] == 2
