"""Rate limits and ordered delivery end to end: hookline on each database delivering over
real HTTPS to a receiver that measures what it gets (hookline.pacing)."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.delivery.receivers import Receiver, Reply, most_within_a_second
from tests.delivery.test_delivery import APP_CREATED, Setup, _ended
from tests.servers import RunningServer


@pytest.fixture
def setup(hookline: RunningServer, receiver: Receiver) -> Setup:
    return Setup(hookline, receiver)


def _event(event_id: str) -> dict[str, object]:
    return {"id": event_id, "type": APP_CREATED, "source": "tests", "data": {}}


def _event_ids(setup: Setup, path: str) -> list[str]:
    return [json.loads(got.body)["eventId"] for got in setup.receiver.received(path)]


def test_a_fifo_webhook_sends_in_publish_order_and_a_failure_holds_the_rest(
    setup: Setup,
) -> None:
    path = f"/fifo-{uuid.uuid4().hex[:8]}"  # the receiver serves every database's run
    # The third event fails twice, then succeeds on its last retry.
    setup.receiver.script(path, Reply(), Reply(), Reply(500), Reply(500), Reply())
    webhook = setup.webhook(path, ordering="fifo")
    assert webhook["ordering"] == "fifo"
    names = [f"fifo-{n:02d}" for n in range(1, 11)]
    setup.publish(*(_event(name) for name in names[:6]))
    setup.publish(*(_event(name) for name in names[6:]))

    setup.receiver.wait_for(path, 12)
    setup.quiet(webhook["id"])
    assert _event_ids(setup, path) == names[:3] + [names[2]] * 2 + names[3:]
    assert setup.receiver.most_in_flight(path) == 1


def test_a_rate_limited_webhook_is_never_sent_more_than_its_limit_in_any_second(
    setup: Setup,
) -> None:
    path = f"/limited-{uuid.uuid4().hex[:8]}"
    webhook = setup.webhook(path, rateLimit=4)
    assert webhook["rateLimit"] == 4
    # Connections first: the window's margin is for the usual spread of arrival times,
    # not for four TLS handshakes on a machine this busy.
    setup.publish(*(_event(f"warm-{n}") for n in range(4)))
    setup.receiver.wait_for(path, 4)
    setup.publish(*(_event(f"limited-{n:02d}") for n in range(14)))

    got = setup.receiver.wait_for(path, 18)[4:]
    assert most_within_a_second([item.at for item in got]) <= 4
    assert len(set(_event_ids(setup, path))) == 18


def test_a_resend_of_a_rate_limited_webhook_that_waited_for_a_slot_goes_with_the_queue(
    setup: Setup,
) -> None:
    path = f"/late-resend-{uuid.uuid4().hex[:8]}"
    # The first event at once; the next sixteen (the endpoint's bound) after a while.
    setup.receiver.script(path, Reply(), *[Reply(delay=1.5)] * 16, Reply())
    webhook = setup.webhook(path, rateLimit=100)
    setup.publish(_event("first"))
    [first] = setup.settle(webhook["id"], _ended(1))
    setup.publish(*(_event(f"busy-{n:02d}") for n in range(16)))
    setup.receiver.wait_for(path, 17)  # every slot of the endpoint taken

    resend = f"/api/v1/webhooks/{webhook['id']}/deliveries/{first['id']}/actions/resend"
    response = setup.admin.post(resend)

    # It got a slot once one came free, too late for the note its rate limit had made:
    # answered pending, and sent from the queue.
    assert response.status_code == 201, response.text
    resent = response.json()
    assert (resent["status"], resent["attempts"]) == ("pending", [])
    found = setup.settle(
        webhook["id"],
        lambda found: len(found) == 18 and all(d["status"] == "success" for d in found),
    )
    again = next(d for d in found if d["id"] == resent["id"])
    assert len(again["attempts"]) == 1
    assert [item.body for item in setup.receiver.received(path)].count(
        setup.receiver.received(path)[0].body
    ) == 2
