"""The alert record on ``alpr.alerts`` (JSON until an Avro schema joins ``schemas/``).

An alert's id is derived from the rule and the reads that triggered it, so evaluating the
same reads again (a replay, a retry after a crash) yields the same id and the notifier,
which records deliveries by alert id, notifies once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import faust


def alert_id(rule: str, event_ids: Iterable[str]) -> str:
    """The deterministic id of the alert of ``rule`` triggered by ``event_ids``."""
    text = "\x1f".join([rule, *sorted(set(event_ids))])
    return hashlib.sha256(text.encode()).hexdigest()[:32]


class Alert(faust.Record, serializer="json", include_metadata=False, isodates=True):
    """A rule fired: what, where, when, and how to notify."""

    alert_id: str
    rule: str
    rule_type: str
    severity: str
    subject: str
    event_ids: list[str]
    camera_id: str
    site_id: str
    triggered_at: datetime
    raised_at: datetime
    message: str
    plate: str | None = None
    crop_key: str | None = None
    #: When the triggering read reached the core (the latency metric starts here).
    received_at: datetime | None = None
    details: dict[str, str] = {}
    actions: list[dict[str, Any]] = []
