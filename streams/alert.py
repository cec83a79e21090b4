"""The alert record on ``alpr.alerts``, in Avro (``schemas/alert.avsc``) through the registry.

An alert's id is derived from the rule and the reads that triggered it, so evaluating the
same reads again (a replay, a retry after a crash) yields the same id and the notifier,
which records deliveries by alert id, notifies once.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import faust

from streams.codec import AvroCodec, to_datum


def alert_id(rule: str, event_ids: Iterable[str]) -> str:
    """The deterministic id of the alert of ``rule`` triggered by ``event_ids``."""
    text = "\x1f".join([rule, *sorted(set(event_ids))])
    return hashlib.sha256(text.encode()).hexdigest()[:32]


class Alert(faust.Record, include_metadata=False, isodates=True):
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


class AlertCodec(AvroCodec):
    """The Avro codec of :class:`Alert` on the topic whose value subject is ``subject``.

    An alert's actions are the rule's action settings, whose keys differ by channel: on the
    wire each is its channel and the other settings as a JSON object (``AlertAction``);
    records in this process keep them as one dict per action.
    """

    def __init__(self, subject: str, **kwargs: Any) -> None:
        super().__init__("Alert", subject=subject, **kwargs)

    def _dumps(self, obj: Any) -> bytes:
        datum = to_datum(obj)
        datum["actions"] = [_action_to_wire(action) for action in datum.get("actions") or ()]
        return super()._dumps(datum)

    def _loads(self, s: bytes) -> Any:
        datum = super()._loads(s)
        datum["actions"] = [_action_from_wire(action) for action in datum["actions"]]
        return datum


def _action_to_wire(action: dict[str, Any]) -> dict[str, str]:
    options = {key: value for key, value in action.items() if key != "channel"}
    return {"channel": str(action["channel"]), "options_json": json.dumps(options, sort_keys=True)}


def _action_from_wire(wire: dict[str, str]) -> dict[str, Any]:
    return {"channel": wire["channel"], **json.loads(wire["options_json"])}
