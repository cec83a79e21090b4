"""Prometheus metrics of an edge worker, on a registry of its own (served on its port)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

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
