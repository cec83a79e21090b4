"""Prometheus metrics of the alert engine and the notifier (served at ``/metrics``)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

RULES_EVALUATED = Counter("alpr_rules_evaluated_total", "Rule evaluations on reads")
LATE_READS = Counter(
    "alpr_rules_late_reads_total", "Reads later than the lateness bound (windowed rules skip them)"
)
ALERTS = Counter("alpr_alerts_total", "Alerts raised, by rule and severity", ["rule", "severity"])
NOTIFICATIONS = Counter(
    "alpr_notifications_total",
    "Notification attempts by channel and outcome (sent, retried, failed, duplicate, refused)",
    ["channel", "outcome"],
)
ALERT_LATENCY = Histogram(
    "alpr_alert_latency_seconds",
    "From the triggering read's arrival in Kafka to the notification being delivered",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
