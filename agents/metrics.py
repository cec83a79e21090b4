"""Prometheus metrics of the event core, on prometheus_client's default registry.

Served at ``/metrics`` by ``agents.metrics_view``.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

EVENTS_IN = Counter("alpr_events_in_total", "Messages consumed, by topic", ["topic"])
EVENTS_OUT = Counter("alpr_events_out_total", "Messages produced, by topic", ["topic"])
DEAD_LETTERS = Counter(
    "alpr_dead_letters_total", "Messages dead-lettered, by reason and stage", ["reason", "stage"]
)
REDELIVERED = Counter(
    "alpr_router_redelivered_total",
    "Raw messages Kafka delivered again after the router had routed them (skipped)",
)
ROUTER_RETRIES = Counter(
    "alpr_router_retries_total",
    "Batches the router sent again because Kafka did not take every read, letter or mark",
)
ROUTER_LATENCY = Histogram(
    "alpr_router_latency_seconds",
    "From a raw event's Kafka timestamp to its read or dead letter being sent",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
