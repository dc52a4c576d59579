"""Prometheus metrics, served at ``/metrics``. Labels have bounded cardinality: no ids."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, disable_created_metrics

disable_created_metrics()  # type: ignore[no-untyped-call]  # *_created series are noise

ATTEMPTS = Counter(
    "hookline_attempts_total",
    "Delivery attempts by what they came to (success, retry, failed, gone, not-sent).",
    ["outcome"],
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
API_REQUESTS = Counter(
    "hookline_api_requests_total",
    "API requests by route and status.",
    ["method", "route", "status"],
)
