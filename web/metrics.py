"""Prometheus metrics of the web views (served with the rest at ``/metrics``)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

REQUESTS = Counter(
    "alpr_web_requests_total", "API and page requests answered, by view and status",
    ["view", "status"],
)  # fmt: skip
LATENCY = Histogram(
    "alpr_web_request_seconds",
    "Time to answer an API or page request, by view",
    ["view"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
AUDITED = Counter(
    "alpr_web_audited_lookups_total",
    "Reads of plate data written to the audit log, by kind (refusals as <kind>_refused)",
    ["kind"],
)  # fmt: skip
