"""Prometheus metrics of an edge worker, on a registry of its own (served on its port), and
the file that announces that port to a Prometheus by file-based service discovery.

A Prometheus with ``file_sd_configs`` watching a directory scrapes every target listed in the
JSON files there; an edge worker writes its own file (:class:`TargetFile`), so it is scraped on
whatever port and host it runs without anyone editing Prometheus's configuration, and removes
the file when it stops cleanly. The file's name, ``<pid>-<start ticks>-<port>.json``, is the
local stack's convention (``ops/scrape_targets.py``, which the edge may not import): the stack
removes the files of processes that are gone, so an edge killed before it could remove its own
is not reported down forever.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

logger = logging.getLogger(__name__)

STAGE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class EdgeMetrics:
    """fps, stage latencies, live tracks, events, spool depths and reconnects per camera."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.frames = Counter(
            "alpr_edge_frames", "Frames delivered by the camera's source", ["camera"], registry=r
        )
        self.fps = Gauge(
            "alpr_edge_fps", "Frames per second over the last heartbeat", ["camera"], registry=r
        )
        self.configured_fps = Gauge(
            "alpr_edge_configured_fps",
            "Frames per second the camera's configuration asks for (cameras.yaml `fps`)",
            ["camera"],
            registry=r,
        )
        self.dropped = Counter(
            "alpr_edge_frames_dropped",
            "Live frames dropped because analysis fell behind",
            ["camera"],
            registry=r,
        )
        self.stage = Histogram(
            "alpr_edge_stage_seconds",
            "Time per pipeline stage (decode, detect, read)",
            ["camera", "stage"],
            buckets=STAGE_BUCKETS,
            registry=r,
        )
        self.tracks = Gauge("alpr_edge_live_tracks", "Tracks alive", ["camera"], registry=r)
        self.events = Counter(
            "alpr_edge_events", "PlateEvents spooled for publishing", ["camera"], registry=r
        )
        self.published = Counter(
            "alpr_edge_published", "Items acknowledged by the receiver", ["spool"], registry=r
        )
        self.spool_depth = Gauge(
            "alpr_edge_spool_depth", "Items waiting in the disk spool", ["spool"], registry=r
        )
        self.spool_bytes = Gauge(
            "alpr_edge_spool_bytes", "Bytes waiting in the disk spool", ["spool"], registry=r
        )
        self.spool_full = Gauge(
            "alpr_edge_spool_full",
            "1 while the spool is at its cap (events: cameras hold their events back)",
            ["spool"],
            registry=r,
        )
        self.spool_dropped = Counter(
            "alpr_edge_spool_dropped",
            "Items not spooled or evicted because the spool was full, by kind",
            ["spool", "kind"],
            registry=r,
        )
        self.reconnects = Counter(
            "alpr_edge_reconnects", "Reconnections of the camera's stream", ["camera"], registry=r
        )
        self.up = Gauge(
            "alpr_edge_camera_up",
            "1 while the camera's source delivers frames",
            ["camera"],
            registry=r,
        )
        self.country = Gauge(
            "alpr_edge_camera_country",
            "1 for the country a camera spanning several countries learnt its plates are from "
            "(formats.learn_region); no series while it has learnt none",
            ["camera", "country"],
            registry=r,
        )

    def learnt_country(self, camera: str, before: str | None, now: str | None) -> None:
        """Report that ``camera``'s learnt country went from ``before`` to ``now`` (either
        ``None``: none learnt)."""
        if before == now:
            return
        if before is not None:
            self.country.remove(camera, before)
        if now is not None:
            self.country.labels(camera, now).set(1)


class TargetFile:
    """This process's ``/metrics`` as a file_sd target group, in ``directory``.

    ``write`` puts it there (atomically: Prometheus never reads half a file), ``refresh``
    writes it again when it is missing (an earlier write failed, or the file was
    removed), ``remove`` takes it away. Failures are logged, never raised: monitoring must not
    stop the cameras.
    """

    def __init__(
        self,
        directory: Path,
        port: int,
        host: str = "127.0.0.1",
        labels: Mapping[str, str] | None = None,
    ) -> None:
        if not 1 <= port <= 65535:
            raise ValueError(f"port={port}: must be in 1..65535")
        if not host or host in ("0.0.0.0", "::"):
            raise ValueError(f"host={host!r}: must be an address Prometheus can reach")
        pid, ticks = os.getpid(), _start_ticks()
        # Without a start time the stack could not tell the process is gone: a name it
        # leaves alone (its prune reads only ``<pid>-<ticks>-...`` names).
        name = f"{pid}-{ticks}-{port}.json" if ticks is not None else f"edge-{pid}-{port}.json"
        self.path = directory / name
        self.group = {"targets": [f"{host}:{port}"], "labels": dict(labels or {})}
        self._failing = False

    def write(self) -> bool:
        """Write the file; False (logged once until it works again) when it cannot be."""
        partial = self.path.with_suffix(".partial")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            partial.write_text(json.dumps([self.group], indent=1) + "\n")
            partial.rename(self.path)
        except OSError as exc:
            if not self._failing:
                logger.warning("cannot announce /metrics to Prometheus in %s: %s", self.path, exc)
            self._failing = True
            return False
        self._failing = False
        return True

    def refresh(self) -> bool:
        """Write the file again if it is missing; whether it is there now."""
        return self.path.is_file() or self.write()

    def remove(self) -> None:
        """Take the target away (a no-op when it is gone)."""
        try:
            self.path.unlink(missing_ok=True)
        except OSError as exc:
            logger.warning("cannot remove the Prometheus target %s: %s", self.path, exc)


def _start_ticks() -> int | None:
    """This process's start time in clock ticks since boot (Linux), the other half of its
    identity: a PID alone may be reused by a later process."""
    try:
        stat = Path("/proc/self/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces: split after its closing parenthesis.
    return int(stat.rsplit(")", 1)[1].split()[19])
