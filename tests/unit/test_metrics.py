"""Tenant label values are bounded: the first tenants a process counts, then ``other``; and
each attempt is counted under the same names and labels as always."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import REGISTRY

from hookline import metrics
from hookline.metrics import OTHER_TENANTS, AttemptCounters, TenantLabels
from hookline.telemetry import AttemptObserver
from tests.unit.test_attempt_log import _claimed, _result


def test_the_first_tenants_keep_their_ids_and_later_ones_are_other() -> None:
    labels = TenantLabels(limit=2)
    assert [labels.label(t) for t in ("a", "b", "c", "a", "d", "b")] == [
        "a",
        "b",
        OTHER_TENANTS,
        "a",
        OTHER_TENANTS,
        "b",
    ]


def test_no_tenant_label_at_all_with_a_limit_of_zero() -> None:
    labels = TenantLabels(limit=0)
    assert {labels.label(t) for t in ("a", "b")} == {OTHER_TENANTS}


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_attempts_and_final_outcomes_are_counted_per_tenant_label() -> None:
    first, second, third = (f"tenant-{uuid.uuid4().hex}" for _ in range(3))
    counters = AttemptCounters(TenantLabels(limit=2))
    outcomes = ("success", "retry", "failed", "gone")
    before = {
        (name, outcome, tenant): _value(name, outcome=outcome, tenant=tenant)
        for name in ("hookline_attempts_total", "hookline_deliveries_total")
        for outcome in outcomes
        for tenant in (first, second, OTHER_TENANTS)
    }
    for tenant_id, outcome in [
        (first, "retry"),
        (first, "retry"),
        (first, "success"),
        (second, "failed"),
        (third, "gone"),  # past the limit: other
        (third, "success"),
        (first, "success"),
    ]:
        counters.count(tenant_id, outcome)

    def added(name: str, outcome: str, tenant: str) -> float:
        return _value(name, outcome=outcome, tenant=tenant) - before[name, outcome, tenant]

    attempts, deliveries = "hookline_attempts_total", "hookline_deliveries_total"
    assert added(attempts, "retry", first) == 2
    assert added(attempts, "success", first) == 2
    assert added(deliveries, "success", first) == 2
    assert added(deliveries, "retry", first) == 0  # a retry is not the delivery's end
    assert added(attempts, "failed", second) == 1
    assert added(deliveries, "failed", second) == 1
    assert added(attempts, "gone", OTHER_TENANTS) == 1
    assert added(deliveries, "gone", OTHER_TENANTS) == 1
    assert added(attempts, "success", OTHER_TENANTS) == 1
    assert _value(attempts, outcome="gone", tenant=third) == 0


def test_observe_counts_the_attempt_its_duration_and_a_success_s_lag(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # its own tenant label, however many tenants earlier tests in this process counted
    monkeypatch.setattr(metrics.TENANTS, "limit", 10**9)
    tenant_id = f"tenant-{uuid.uuid4().hex}"
    claimed = _claimed(tenant_id=tenant_id, triggered_at=datetime.now(UTC) - timedelta(seconds=2))
    names = (
        "hookline_attempt_duration_seconds_count",
        "hookline_attempt_duration_seconds_sum",
        "hookline_delivery_lag_seconds_count",
        "hookline_delivery_lag_seconds_sum",
    )
    before = {name: _value(name) for name in names}
    observer = AttemptObserver("none")
    observer.observe(claimed, _result(claimed, 500, duration_ms=250.0, retry=True))
    observer.observe(claimed, _result(claimed, 200, duration_ms=50.0, number=2))
    added = {name: _value(name) - before[name] for name in names}
    assert _value("hookline_attempts_total", outcome="retry", tenant=tenant_id) == 1
    assert _value("hookline_attempts_total", outcome="success", tenant=tenant_id) == 1
    assert _value("hookline_deliveries_total", outcome="success", tenant=tenant_id) == 1
    assert added["hookline_attempt_duration_seconds_count"] == 2
    assert added["hookline_attempt_duration_seconds_sum"] == pytest.approx(0.3)
    assert added["hookline_delivery_lag_seconds_count"] == 1
    assert 2 <= added["hookline_delivery_lag_seconds_sum"] < 60
