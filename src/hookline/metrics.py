"""Prometheus metrics, served at ``/metrics``. Labels have bounded cardinality: the only id
used as a label value is the tenant's, for at most ``HOOKLINE_METRICS_TENANT_LABELS``
tenants per process (``TenantLabels``)."""

from __future__ import annotations

from collections.abc import Callable

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


class AttemptCounters:
    """``hookline_attempts_total`` and ``hookline_deliveries_total`` for one attempt: the
    labelled children are resolved once per (tenant label, outcome) and kept, so counting
    is a dict lookup and an increment or two. The tenant label comes from ``tenants`` as
    always, so the children kept are as bounded as the series: 4 outcomes x (limit + 1)."""

    def __init__(self, tenants: TenantLabels) -> None:
        self._tenants = tenants
        self._children: dict[tuple[str, str], tuple[Callable[[], None], ...]] = {}

    def count(self, tenant_id: str, outcome: str) -> None:
        """Count an attempt, and its delivery when the attempt was the delivery's last."""
        key = (self._tenants.label(tenant_id), outcome)
        try:
            increments = self._children[key]
        except KeyError:
            increments = self._children[key] = self._resolve(*key)
        for increment in increments:
            increment()

    @staticmethod
    def _resolve(tenant: str, outcome: str) -> tuple[Callable[[], None], ...]:
        children = [ATTEMPTS.labels(outcome, tenant)]
        if outcome != "retry":
            children.append(DELIVERIES.labels(outcome, tenant))
        return tuple(child.inc for child in children)


TENANTS = TenantLabels(limit=100)
count_attempt = AttemptCounters(TENANTS).count
