"""Real `hookline serve` and `hookline worker` processes, seen as an operator sees them:
their log lines, and the worker's metrics and probes."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.databases import Templates, fresh_database, unreachable
from tests.delivery.receivers import HOST, Receiver, Reply
from tests.processes import APP_CREATED, Process, cli, create_webhook
from tests.processes import environment as hookline_environment
from tests.servers import eventually


def _wait_for_line(log: Path, fragment: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in log.read_text().splitlines():
            if fragment in line:
                return line
        time.sleep(0.05)
    raise AssertionError(f"{log.name} never said {fragment!r}:\n{log.read_text()}")


def test_serve_logs_one_json_line_per_attempt_and_never_a_secret(
    templates: Templates,
    tmp_path: Path,
    receiver: Receiver,
    ca_file: Path,
    processes: list[Process],
) -> None:
    path = f"/logs-{uuid.uuid4().hex}"
    receiver.script(path, Reply(500), Reply(200))
    secret = f"secret-{uuid.uuid4().hex}"
    token = f"token-{uuid.uuid4().hex}"
    log = tmp_path / "serve.log"
    with fresh_database("sqlite", templates, tmp_path) as database_url:
        environment = hookline_environment(database_url, ca_file)
        tenant_id = cli(environment, "tenant", "create", "acme")
        key = cli(environment, "key", "create", "--tenant", "acme", "--role", "tenant-admin")
        serve = Process(environment, "serve", log=log)
        processes.append(serve)
        api = httpx.Client(base_url=serve.url(), headers={"Authorization": f"Bearer {key}"})
        hook = {
            "name": "logged",
            "url": f"https://{HOST}:{receiver.port}{path}",
            "eventTypes": [APP_CREATED],
            "secret": secret,
            "encryptedHeaders": {"X-Token": token},
        }
        webhook_id = api.post("/api/v1/webhooks", json=hook).json()["id"]
        published = api.post("/api/v1/events", json={"type": APP_CREATED, "data": {}})
        event_id = published.json()["data"][0]["id"]
        receiver.wait_for(path, 2)
        _wait_for_line(log, '"status_code":200')
        serve.terminate()

    lines = [json.loads(line) for line in log.read_text().splitlines()]  # JSON, every one
    attempts = [line for line in lines if line["event"] == "attempt"]
    assert [(a["attempt"], a["outcome"], a["status_code"]) for a in attempts] == [
        (1, "retry", 500),
        (2, "success", 200),
    ]
    [delivery_id] = {a["delivery"] for a in attempts}
    for attempt in attempts:
        assert attempt["tenant"] == tenant_id
        assert attempt["webhook"] == webhook_id
        assert attempt["event_id"] == event_id
        assert isinstance(attempt["duration_ms"], float)
        assert attempt["level"] == "info"
        assert attempt["timestamp"]
    assert delivery_id
    assert serve.popen.stdout is not None
    everything = log.read_text() + serve.popen.stdout.read()
    assert secret not in everything
    assert token not in everything
    assert key not in log.read_text()


def _metrics(probes: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    text = httpx.get(f"{probes}/metrics").text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _sample(probes: str, name: str, **labels: str) -> float:
    return _metrics(probes).get((name, frozenset(labels.items())), 0.0)


def _wait_for_sample(probes: str, value: float, name: str, **labels: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if _sample(probes, name, **labels) == value:
            return
        time.sleep(0.1)
    raise AssertionError(f"{name}{labels} never reached {value}: {_metrics(probes)}")


def test_a_worker_serves_metrics_and_probes_and_logs_for_people(
    templates: Templates,
    tmp_path: Path,
    receiver: Receiver,
    ca_file: Path,
    processes: list[Process],
) -> None:
    succeeding, failing = f"/ok-{uuid.uuid4().hex}", f"/fail-{uuid.uuid4().hex}"
    receiver.script(failing, Reply(500))
    log = tmp_path / "worker.log"
    with fresh_database("postgres", templates, tmp_path) as database_url:
        # One tenant label: the first tenant the worker delivers for; the second is "other".
        environment = {
            **hookline_environment(database_url, ca_file),
            "HOOKLINE_METRICS_TENANT_LABELS": "1",
        }
        first = _tenant_with_webhook(environment, "first", receiver, succeeding)
        _tenant_with_webhook(environment, "second", receiver, failing)
        worker = Process(
            environment, "worker", "--metrics-port", "0", "--log-format", "console", log=log
        )
        processes.append(worker)
        probes = _wait_for_line(log, "probes at").split("probes at ")[1].split("/metrics")[0]

        cli(environment, "emit", "--tenant", "first", APP_CREATED)
        _wait_for_sample(probes, 1, "hookline_deliveries_total", outcome="success", tenant=first)
        cli(environment, "emit", "--tenant", "second", APP_CREATED)
        _wait_for_sample(probes, 1, "hookline_deliveries_total", outcome="failed", tenant="other")

        samples = _metrics(probes)
        assert _sample(probes, "hookline_attempts_total", outcome="retry", tenant="other") == 2
        assert _sample(probes, "hookline_attempts_total", outcome="failed", tenant="other") == 1
        assert _sample(probes, "hookline_attempts_total", outcome="success", tenant=first) == 1
        assert _sample(probes, "hookline_attempt_duration_seconds_count") == 4
        assert _sample(probes, "hookline_delivery_lag_seconds_count") == 1
        assert ("hookline_pending_deliveries", frozenset()) in samples
        assert ("hookline_oldest_pending_age_seconds", frozenset()) in samples
        assert ("hookline_disabled_webhooks", frozenset()) in samples

        assert httpx.get(f"{probes}/healthz").json() == {"status": "ok"}
        assert httpx.get(f"{probes}/readyz").status_code == 200
        with unreachable(database_url):
            down = httpx.get(f"{probes}/readyz")
            assert down.status_code == 503
            assert down.json()["errors"][0]["code"] == "unavailable"
            assert httpx.get(f"{probes}/healthz").status_code == 200
        assert eventually(lambda: httpx.get(f"{probes}/readyz").status_code == 200)
        assert httpx.get(f"{probes}/api/v1/webhooks").status_code == 404  # probes only
        worker.terminate()

    attempt_lines = [line for line in log.read_text().splitlines() if " attempt " in line]
    assert len(attempt_lines) == 4
    assert all(not line.startswith("{") for line in attempt_lines)
    assert any("outcome=success" in line and "status_code=200" in line for line in attempt_lines)


def _tenant_with_webhook(
    environment: dict[str, str], name: str, receiver: Receiver, path: str
) -> str:
    tenant_id = cli(environment, "tenant", "create", name)
    key = cli(environment, "key", "create", "--tenant", name, "--role", "tenant-admin")
    url = f"https://{HOST}:{receiver.port}{path}"
    create_webhook(environment["HOOKLINE_DATABASE_URL"], key, url)
    return tenant_id
