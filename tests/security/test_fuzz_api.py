"""Schemathesis against hookline's own ``/openapi.json``: every operation, every check.

No answer may be a 5xx, and every answer must match the document (status, content type,
headers, body schema, ``Allow``), with the API's real keys: a tenant admin's for the
webhooks API, an operator's for the operator API. Runs on SQLite, with a bounded number
of examples per operation (``HOOKLINE_FUZZ_EXAMPLES``, default 10: 20-50 s a part); set
it higher for a soak, and ``HOOKLINE_FUZZ_SEED`` to replay a run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.api.helpers import APP_CREATED, create, deliveries_made
from tests.servers import RunningServer

EXAMPLES = int(os.environ.get("HOOKLINE_FUZZ_EXAMPLES", "10"))
# The operations in three parts of about the same cost, each fuzzed by a test of its own so
# that the suite's workers share them; together they are every path, whatever is added: the
# webhooks' own paths, what hangs off a webhook, and the rest (events, tenants, users,
# probes, metrics).
PARTS = {
    "webhooks": ["--include-path-regex", r"^/api/v1/webhooks(/[^/]+)?$"],
    "webhook-actions": ["--include-path-regex", r"^/api/v1/webhooks/[^/]+/"],
    "the-rest": ["--exclude-path-regex", r"^/api/v1/webhooks(/|$)"],
}
SCHEMATHESIS = Path(sys.executable).with_name("st")

# Valid values the generator draws from half of the time, so that schema-valid requests
# get past the rules a JSON Schema cannot state (URL form, header tokens, filter grammar,
# ids) and into the logic behind them.
URLS = ["https://hooks.example.com/in", "https://xn--bcher-kva.example/hook?x=1"]
FILTERS = ['id eq "a1"', 'spaceId eq "s9" or id ne "x"']

CONFIG = """
headers = {{ Authorization = {admin_authorization} }}

[checks.positive_data_acceptance]
# A schema-valid request may still break a rule that JSON Schema cannot state (a URL's
# host, a filter's grammar, a cursor): 400 is then the documented answer.
expected-statuses = ["2xx", "400", "403", "404", "409"]

[dictionaries]
webhook-ids = {{ values = {webhook_ids} }}
delivery-ids = {{ values = {delivery_ids} }}
urls = {{ values = {urls} }}
filters = {{ values = {filters} }}
tenant-ids = {{ values = {tenant_ids} }}
event-types = {{ values = {event_types} }}
task-ids = {{ values = {task_ids} }}
moments = {{ values = {moments} }}

[parameters]
"path.id" = {{ dictionary = "webhook-ids", probability = 0.5 }}
"path.deliveryId" = {{ dictionary = "delivery-ids", probability = 0.5 }}
"path.tenantId" = {{ dictionary = "tenant-ids", probability = 0.5 }}
"query.tenantId" = {{ dictionary = "tenant-ids", probability = 0.5 }}
"body.url" = {{ dictionary = "urls", probability = 0.5 }}
"body.filter" = {{ dictionary = "filters", probability = 0.5 }}
"body.type" = {{ dictionary = "event-types", probability = 0.5 }}
"path.taskId" = {{ dictionary = "task-ids", probability = 0.5 }}
"body.since" = {{ dictionary = "moments", probability = 0.5 }}

[[operations]]
include-path-regex = "^/api/v1/tenants"
headers = {{ Authorization = {operator_authorization} }}
"""


def _config(server: RunningServer, path: Path) -> Path:
    tenant = server.new_tenant()
    admin_key = tenant.key("tenant-admin")
    admin = server.client(admin_key)
    webhook = create(admin, eventTypes=[APP_CREATED], url="https://hooks.example.test/fuzz")
    admin.post("/api/v1/events", json={"type": APP_CREATED, "data": {"id": "a1"}})
    deliveries = deliveries_made(admin, webhook["id"])
    # A recover's window starts within the history's retention; a real task to read.
    moments = [(datetime.now(UTC) - timedelta(hours=1)).isoformat()]
    recovered = admin.post(
        f"/api/v1/webhooks/{webhook['id']}/actions/recover", json={"since": moments[0]}
    )
    assert recovered.status_code == 202, recovered.text
    values = {
        "admin_authorization": f"Bearer {admin_key}",
        "operator_authorization": f"Bearer {server.operator_key}",
        "webhook_ids": [webhook["id"]],
        "delivery_ids": [delivery["id"] for delivery in deliveries],
        "urls": URLS,
        "filters": FILTERS,
        "tenant_ids": [tenant.id],
        "event_types": [event_type.name for event_type in server.services.catalog.all()],
        "task_ids": [recovered.json()["id"]],
        "moments": moments,
    }
    path.write_text(CONFIG.format(**{name: json.dumps(value) for name, value in values.items()}))
    return path


def _run(
    server: RunningServer, config: Path, report: Path, part: list[str]
) -> subprocess.CompletedProcess[str]:
    """The schemathesis CLI on ``part`` of the operations, run in the report's folder so
    that its cache stays there."""
    seed = os.environ.get("HOOKLINE_FUZZ_SEED")
    command = [
        str(SCHEMATHESIS),
        "--config-file",
        str(config),
        "--no-color",
        "run",
        f"{server.url}/openapi.json",
        *part,
        "--checks",
        "all",
        "--max-examples",
        str(EXAMPLES),
        "--workers",
        "1",  # schemathesis's own generator is not thread-safe on CPython 3.11
        "--report",
        "json",
        "--report-json-path",
        str(report),
        *(["--seed", seed] if seed else []),
    ]
    return subprocess.run(
        command, capture_output=True, text=True, timeout=600, check=False, cwd=report.parent
    )


def _accepted_positive_cases(report: dict[str, Any]) -> dict[str, int]:
    """Per operation, how many schema-valid requests were accepted (2xx)."""
    return {
        operation: sum(phase.get("accepted", 0) for phase in phases.values())
        for operation, phases in report["valid_rates"].items()
    }


@pytest.mark.parametrize("part", PARTS)
def test_every_operation_answers_as_documented(
    make_server: Callable[..., RunningServer], tmp_path: Path, part: str
) -> None:
    server = make_server(rate_limit=0)
    report_path = tmp_path / "report.json"

    run = _run(server, _config(server, tmp_path / "schemathesis.toml"), report_path, PARTS[part])

    (tmp_path / "output.txt").write_text(run.stdout)
    summary = run.stdout[-6000:]
    assert run.returncode == 0, summary
    report = json.loads(report_path.read_text())
    assert report["operations"]["tested"] == report["operations"]["selected"] > 0, summary
    assert report["test_cases"]["errored"] == 0, summary
    accepted = _accepted_positive_cases(report)
    starved = [operation for operation, count in accepted.items() if count == 0]
    assert not starved, f"no schema-valid request was accepted by {starved}\n{summary}"
    print(  # the figure docs/reliability.md quotes; shown with pytest -s
        f"schemathesis: {report['test_cases']['generated']} cases over "
        f"{report['operations']['tested']} operations, seed {report['seed']}, "
        f"{sum(accepted.values())} schema-valid requests accepted"
    )
