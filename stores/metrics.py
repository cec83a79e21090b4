"""Prometheus metrics of the projections, on prometheus_client's default registry.

Served at ``/metrics`` with the rest of the core's metrics. ``store`` is ``pg`` or ``es``.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

EVENTS = Counter(
    "alpr_projection_events_total", "Reads consumed by a projection, by store", ["store"]
)
WRITTEN = Counter(
    "alpr_projection_written_total",
    "Rows (pg) or documents (es) newly written; replays of stored reads add nothing",
    ["store"],
)
BATCH = Histogram(
    "alpr_projection_batch_events",
    "Reads per projection batch",
    ["store"],
    buckets=(1, 10, 50, 100, 250, 500, 1000, 2000, 5000, 10000, 50000),
)
WRITE_SECONDS = Histogram(
    "alpr_projection_write_seconds",
    "Time to store one batch, retries included",
    ["store"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
RETRIES = Counter(
    "alpr_projection_retries_total", "Failed write attempts that were retried", ["store"]
)
DEAD_LETTERS = Counter(
    "alpr_projection_dead_letters_total",
    "Reads a projection could not store and sent to the dead-letter topic",
    ["store", "reason"],
)
LAG = Gauge(
    "alpr_projection_lag_messages",
    "Messages on the topic after the last batch a projection took, summed over its partitions",
    ["store"],
)
