"""What the edge worker does when a spool is at its cap: loudly, never silently.

- Plate events (final): never dropped. The camera's thread waits until the broker takes
  some (backpressure: the camera stops analysing; a live source drops frames meanwhile and
  counts them). Only at shutdown, with the spool still full, is an event given up, and then
  it is logged in full at ERROR level.
- Previews and heartbeats: evictable. The oldest of them make room for any new item; a new
  one that still does not fit is dropped.
- Crops: a new image that does not fit is not spooled; its event goes out without that
  image's key, so no event points at a missing object.

Each case logs and counts in ``alpr_edge_spool_dropped{spool, kind}``;
``alpr_edge_spool_full{spool}`` is 1 while a spool is full.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping
from typing import Any

from edge.metrics import EdgeMetrics
from edge.publish.kafka import EventPublisher
from edge.publish.s3 import CropUploader
from edge.publish.spool import SpoolFull

logger = logging.getLogger(__name__)

#: Seconds between attempts to spool a held-back event.
RETRY_S = 0.5


class CappedSpools:
    """Puts items into the capped spools with the policy above; safe across threads."""

    def __init__(
        self,
        events: EventPublisher,
        crops: CropUploader,
        metrics: EdgeMetrics,
        stopping: threading.Event,
    ) -> None:
        self.events = events
        self.crops = crops
        self.metrics = metrics
        self.stopping = stopping

    def crop(self, key: str, body: bytes, tags: Mapping[str, str], kind: str) -> bool:
        """Spool an image; ``False`` (logged, counted) when the crops spool is full."""
        try:
            self.crops.enqueue(key, body, tags)
        except SpoolFull as exc:
            self._dropped("crops", kind, f"{kind} {key} not spooled: {exc}")
            return False
        return True

    def superseded(self, topic: str, key: str, record: str, datum: Mapping[str, Any]) -> bool:
        """Spool a heartbeat or preview (evictable); ``False`` when dropped as the spool is
        full of events that may not be evicted."""
        kind = "preview" if datum.get("preview") else record
        try:
            self.events.enqueue(topic, key, record, datum, evictable=True)
        except SpoolFull as exc:
            self._dropped("events", kind, f"{kind} of {key} not spooled: {exc}")
            return False
        return True

    def event(self, topic: str, key: str, record: str, datum: Mapping[str, Any]) -> bool:
        """Spool a final event, waiting while the spool is full; ``False`` only when the
        worker stops before there is room (the event is then logged in full)."""
        waited = False
        while True:
            try:
                self.events.enqueue(topic, key, record, datum)
            except SpoolFull as exc:
                if not waited:
                    waited = True
                    self.metrics.spool_full.labels("events").set(1)
                    logger.warning(
                        "events spool full, camera %s holds its events back until the broker "
                        "takes some: %s",
                        key,
                        exc,
                    )
                if self.stopping.wait(RETRY_S):
                    line = json.dumps(dict(datum), default=str)
                    self._dropped("events", record, f"shutting down, {record} not spooled: {line}")
                    return False
                continue
            if waited:
                logger.warning("events spool has room again; camera %s goes on", key)
            return True

    def _dropped(self, spool: str, kind: str, message: str) -> None:
        self.metrics.spool_full.labels(spool).set(1)
        self.metrics.spool_dropped.labels(spool, kind).inc()
        logger.error("%s spool full: %s", spool, message)
