"""Prometheus metrics, served at ``/metrics``. Labels have bounded cardinality: the only id
used as a label value is the tenant's, for at most ``HOOKLINE_METRICS_TENANT_LABELS``
tenants per process (``TenantLabels``)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, disable_created_metrics

disable_created_metrics()  # type: ignore[no-untyped-call]  # *_created series are noise

OTHER_TENANTS = "other"

ATTEMPTS = Counter(
    "hookline_attempts_total",
    "Delivery attempts by what they came to (success, retry, failed, gone) and tenant.",
    ["outcome", "tenant"],
)
DELIVERIES = Counter(
    "hookline_deliveries_total",
    "Deliveries by their final outcome (success, failed: no retry left, gone: the "
    "webhook was disabled) and tenant.",
    ["outcome", "tenant"],
)
ATTEMPT_SECONDS = Histogram(
    "hookline_attempt_duration_seconds",
    "How long one delivery attempt took, connecting included.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
LAG_SECONDS = Histogram(
    "hookline_delivery_lag_seconds",
    "From publishing to a successful delivery (retries included).",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30, 60, 300, 3600, 86400),
)
PENDING = Gauge("hookline_pending_deliveries", "Deliveries with an attempt due or scheduled.")
OLDEST_PENDING_SECONDS = Gauge(
    "hookline_oldest_pending_age_seconds", "How long the most overdue delivery has been due."
)
DISABLED_WEBHOOKS = Gauge("hookline_disabled_webhooks", "Webhooks that are disabled.")
FANOUT_PENDING = Gauge(
    "hookline_fanout_pending_events", "Accepted events whose deliveries are not made yet."
)
API_REQUESTS = Counter(
    "hookline_api_requests_total",
    "API requests by route and status.",
    ["method", "route", "status"],
)


class TenantLabels:
    """Tenant ids as label values for the first ``limit`` tenants a process counts; every
    later one is ``other``, so the number of series stays bounded however many tenants
    there are (0: every tenant is ``other``)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._labelled: set[str] = set()

    def label(self, tenant_id: str) -> str:
        if tenant_id not in self._labelled and len(self._labelled) < self.limit:
            self._labelled.add(tenant_id)
        return tenant_id if tenant_id in self._labelled else OTHER_TENANTS


TENANTS = TenantLabels(limit=100)


def count_attempt(tenant_id: str, outcome: str) -> None:
    """Count an attempt, and its delivery when the attempt was the delivery's last."""
    tenant = TENANTS.label(tenant_id)
    ATTEMPTS.labels(outcome, tenant).inc()
    if outcome != "retry":
        DELIVERIES.labels(outcome, tenant).inc()
