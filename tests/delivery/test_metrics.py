"""/metrics tells an operator what the engine does."""

from __future__ import annotations

import re
from collections.abc import Callable

from prometheus_client.parser import text_string_to_metric_families

from tests.databases import unreachable
from tests.delivery.receivers import Receiver
from tests.delivery.test_delivery import APP_CREATED, Setup, _ended, _path
from tests.servers import RunningServer, eventually


def _samples(text: str) -> dict[str, float]:
    return {
        f"{sample.name}{sorted(sample.labels.items())}": sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _total(text: str, name: str, **labels: str) -> float:
    """The sum of ``name``'s samples with these labels, whatever their other labels."""
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and labels.items() <= sample.labels.items()
    )


def test_metrics_count_attempts_requests_and_lag(
    hookline: RunningServer, receiver: Receiver
) -> None:
    setup = Setup(hookline, receiver)
    hook = setup.webhook(_path())
    setup.publish({"type": APP_CREATED, "data": {}})
    setup.settle(hook["id"], _ended(1))

    response = hookline.client(None).get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = _samples(response.text)
    assert _total(response.text, "hookline_attempts_total", outcome="success") >= 1
    assert _total(response.text, "hookline_deliveries_total", outcome="success") >= 1
    assert samples["hookline_delivery_lag_seconds_count[]"] >= 1
    assert samples["hookline_attempt_duration_seconds_count[]"] >= 1
    assert "hookline_pending_deliveries[]" in samples
    assert "hookline_disabled_webhooks[]" in samples
    published = (
        "hookline_api_requests_total"
        "[('method', 'POST'), ('route', '/api/v1/events'), ('status', '202')]"
    )
    assert samples[published] >= 1
    assert not re.search(r"hlk_|Bearer", response.text)


def test_readyz_fails_while_the_database_is_unreachable_and_recovers(
    make_server: Callable[..., RunningServer],
) -> None:
    running = make_server("postgres")
    probe = running.client(None)
    assert probe.get("/readyz").status_code == 200
    with unreachable(running.services.settings.database_url):
        response = probe.get("/readyz")
        assert response.status_code == 503
        assert response.json()["errors"][0]["code"] == "unavailable"
        assert probe.get("/healthz").status_code == 200
    assert eventually(lambda: probe.get("/readyz").status_code == 200)


def test_requests_are_counted_by_route_behind_a_public_url_too(
    make_server: Callable[..., RunningServer],
) -> None:
    server = make_server(public_url="https://hooks.example.com/")
    admin = server.new_tenant().client()
    metrics = server.client(None)
    route = {"method": "GET", "route": "/api/v1/webhooks", "status": "200"}
    before = _total(metrics.get("/metrics").text, "hookline_api_requests_total", **route)

    for _ in range(3):
        admin.get("/api/v1/webhooks").raise_for_status()

    after = _total(metrics.get("/metrics").text, "hookline_api_requests_total", **route)
    assert after - before == 3
