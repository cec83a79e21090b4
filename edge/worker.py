"""``alpr edge``: every camera of a site, from frames to spooled, published events.

Each camera runs in a thread of its own (decoding, the ONNX models and OpenCV release the
GIL); its events are written to the disk spools there, and the asyncio loop drains the
spools to Kafka and S3, sends CameraStatus heartbeats and serves Prometheus metrics.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edge.cameras import CameraConfig, SiteConfig
from edge.config import EngineConfig
from edge.manifest import alpr_home
from edge.metrics import EdgeMetrics, TargetFile

if TYPE_CHECKING:
    from edge.engine.pipeline import Engine
    from edge.frame_trace import FrameStages
    from edge.publish.capped import CappedSpools
    from edge.publish.events import CropKeys
    from edge.publish.kafka import EventPublisher
    from edge.publish.s3 import CropUploader
    from edge.video.pipeline import CameraPipeline, TrackEvent
    from edge.video.source import VideoSource

logger = logging.getLogger(__name__)

#: The service name of an edge's spans (``streams.tracing``).
EDGE_SERVICE = "alpr-edge"

#: Seconds the worker waits at shutdown for the spools to drain before leaving them on disk.
DRAIN_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Destinations:
    """Where a worker publishes: broker, registry, topics, object store."""

    bootstrap_servers: str
    registry_url: str
    raw_topic: str
    cameras_topic: str
    bucket: str
    s3: dict[str, str]


@dataclass
class CameraRun:
    """One camera's source, pipeline and thread, and what the heartbeat reports."""

    config: CameraConfig
    source: VideoSource
    pipeline: CameraPipeline
    thread: threading.Thread | None = None
    dropped: int = 0
    events: int = 0
    last_read_at: float | None = None
    error: str | None = None
    reconnects_counted: int = 0
    last_beat: tuple[float, int] = field(default_factory=lambda: (time.monotonic(), 0))
    #: When the stages of the current frame ran, while tracing is on (``edge.frame_trace``).
    stages: FrameStages | None = None


class EdgeWorker:
    """Runs a site's enabled cameras until stopped, or until every file source ends."""

    def __init__(
        self,
        site: SiteConfig,
        destinations: Destinations,
        spool_dir: Path | None = None,
        metrics: EdgeMetrics | None = None,
        engine: Engine | None = None,
        target: TargetFile | None = None,
    ) -> None:
        self.site = site
        self.to = destinations
        self.spool_dir = spool_dir or site.publish.spool_dir or alpr_home() / "spool" / site.site_id
        self.metrics = metrics or EdgeMetrics()
        self.engine = engine
        #: This process's Prometheus target file, written again by the heartbeat if it goes.
        self.target = target
        for camera in site.enabled_cameras:
            # Beside the measured fps, so an alert can compare a camera with its setting.
            self.metrics.configured_fps.labels(camera.id).set(camera.fps)
        self.cameras: list[CameraRun] = []
        self.model_versions: dict[str, str] = {}
        self._events: EventPublisher | None = None
        self._crops: CropUploader | None = None
        self._spools: CappedSpools
        self._published_counted: dict[str, int] = {}
        self._evicted_counted: dict[str, int] = {}
        self._stopping = threading.Event()
        #: Whether this process traces (``tracing.endpoint``): set when it runs.
        self._traced = False
        #: Event ids of the previews of live tracks, by (camera, track): their final
        #: events name them. Written by the cameras' threads, one key each.
        self._previews: dict[tuple[str, int], str] = {}

    async def run(self, stop: asyncio.Event) -> int:
        """Run until ``stop`` is set or all sources end; the number of events published."""
        from config.settings import get_settings
        from edge.publish.capped import CappedSpools
        from edge.publish.kafka import EventPublisher
        from edge.publish.s3 import CropUploader
        from edge.publish.spool import Spool
        from streams import tracing

        # The plate events' traces start at the frames that complete them (``edge.frame_trace``;
        # off unless tracing.endpoint is set).
        self._traced = tracing.configure_once(get_settings().tracing, EDGE_SERVICE)
        caps = self.site.publish
        self._events = EventPublisher(
            Spool(
                self.spool_dir / "events.db",
                caps.events_spool_max_bytes,
                caps.events_spool_max_items,
            ),
            self.to.bootstrap_servers,
            self.to.registry_url,
        )
        self._crops = CropUploader(
            Spool(
                self.spool_dir / "crops.db", caps.crops_spool_max_bytes, caps.crops_spool_max_items
            ),
            self.to.bucket,
            self.to.s3,
        )
        self._spools = CappedSpools(self._events, self._crops, self.metrics, self._stopping)
        if self.engine is None:
            from edge.engine.factory import build_engine

            self.engine = await asyncio.to_thread(build_engine, engine_config(self.site))
        self.model_versions = _model_versions()
        senders_stop = asyncio.Event()
        senders = [asyncio.create_task(s.run(senders_stop)) for s in (self._events, self._crops)]
        self._start_cameras(self.engine)
        try:
            await self._beat_until(stop)
        finally:
            for run in self.cameras:
                run.source.stop()
            for run in self.cameras:
                if run.thread is not None:
                    # A camera holding events back for a full spool gets the drain's time
                    # for the broker to take some, then gives them up (logged in full).
                    await asyncio.to_thread(run.thread.join, DRAIN_TIMEOUT_S)
            self._stopping.set()
            for run in self.cameras:
                if run.thread is not None:
                    await asyncio.to_thread(run.thread.join)
            self._heartbeat(final=True)
            await self._drain(DRAIN_TIMEOUT_S)
            senders_stop.set()
            await asyncio.gather(*senders)
            for sender in (self._events, self._crops):
                await sender.close()
                sender.spool.close()
        return sum(run.events for run in self.cameras)

    def _start_cameras(self, engine: Engine) -> None:
        from edge.frame_trace import FrameStages
        from edge.video.source import VideoSource

        for camera in self.site.enabled_cameras:
            stages = FrameStages() if self._traced else None
            pipeline = self._pipeline(camera, engine, stages)
            source = VideoSource(camera.url, camera.fps, loop=camera.loop)
            run = CameraRun(camera, source, pipeline, stages=stages)
            run.thread = threading.Thread(
                target=self._camera_loop, args=(run,), name=f"camera-{camera.id}", daemon=True
            )
            self.cameras.append(run)
            run.thread.start()

    def _pipeline(
        self, camera: CameraConfig, engine: Engine, stages: FrameStages | None
    ) -> CameraPipeline:
        """The camera's pipeline, reporting its stages' times and the country it learns
        (``alpr_edge_camera_country``) to this worker's metrics."""
        from edge.formats import PlateFormats
        from edge.video.pipeline import CameraPipeline

        return CameraPipeline(
            camera,
            engine,
            self.site.tracking,
            PlateFormats(self.site.engine.formats, camera.region),
            observe=self._observer(camera.id, stages),
            on_country=functools.partial(self.metrics.learnt_country, camera.id),
        )

    def _observer(self, camera: str, stages: FrameStages | None) -> Callable[[str, float], None]:
        def observe(stage: str, ms: float) -> None:
            self.metrics.stage.labels(camera, stage).observe(ms / 1000.0)
            if stages is not None:
                stages.observe(stage, ms)

        return observe

    def _camera_loop(self, run: CameraRun) -> None:
        from edge.frame_trace import frame_trace
        from edge.video.handoff import latest_frames
        from edge.video.source import SourceError

        camera = run.config.id
        frames = self.metrics.frames.labels(camera)
        dropped = self.metrics.dropped.labels(camera)

        def drop() -> None:
            run.dropped += 1
            dropped.inc()

        try:
            for frame in latest_frames(run.source, drop):
                frames.inc()
                if run.stages is not None:
                    run.stages.begin()
                events = run.pipeline.process(frame)
                if events:
                    number = run.pipeline.stats.frames
                    with frame_trace(run.stages, camera, number, len(events)):
                        for event in events:
                            self._publish(run, event)
                self.metrics.tracks.labels(camera).set(run.pipeline.live_tracks)
        except SourceError as exc:
            run.error = str(exc)
            logger.error("camera %s stopped: %s", camera, exc)
        except Exception as exc:
            # One camera's failure must not stop the site: the others go on, and its
            # heartbeat reports it offline with the error.
            run.error = f"{type(exc).__name__}: {exc}"
            logger.exception("camera %s failed", camera)
        events = run.pipeline.finish()
        if events:
            with frame_trace(run.stages, camera, None, len(events)):
                for event in events:
                    self._publish(run, event)
        self.metrics.tracks.labels(camera).set(0)

    def _publish(self, run: CameraRun, event: TrackEvent) -> None:
        """Spool the event's crops and then the event (called in the camera's thread), in
        a span of its frame's trace when tracing is on."""
        from edge.frame_trace import spool_span

        event_id = str(uuid.uuid4())
        with spool_span(event_id, event.camera_id, event.preview):
            self._spool(run, event, event_id)

    def _spool(self, run: CameraRun, event: TrackEvent, event_id: str) -> None:
        from edge.publish.events import crop_keys, plate_event_datum

        assert self._events is not None and self._crops is not None
        track = (event.camera_id, event.track_id)
        supersedes = None
        if not event.preview:
            supersedes = self._previews.pop(track, None)
        # A preview carries no crops: the final event's best shot follows within seconds.
        keys = (
            crop_keys(self.site.site_id, event, event_id)
            if self.site.publish.upload_crops and not event.preview
            else None
        )
        if keys is not None:
            keys = self._spool_crops(event, keys)
        datum = plate_event_datum(
            self.site.site_id, event, self.model_versions, keys, event_id, supersedes
        )
        if event.preview:
            if self._spools.superseded(self.to.raw_topic, event.camera_id, "PlateEvent", datum):
                self._previews[track] = event_id
            return
        if not self._spools.event(self.to.raw_topic, event.camera_id, "PlateEvent", datum):
            return
        run.events += 1
        run.last_read_at = event.captured_at
        self.metrics.events.labels(event.camera_id).inc()

    def _spool_crops(self, event: TrackEvent, keys: CropKeys) -> CropKeys:
        """Spool the event's images; the keys of those that were (the crops spool may be
        full)."""
        from edge.publish.events import CropKeys, jpeg

        tags = {"camera": event.camera_id, "track": str(event.track_id), "plate": event.text}
        plate, vehicle = keys.plate, keys.vehicle
        if plate is not None:
            if not self._spools.crop(plate, jpeg(event.plate_crop), tags, "plate"):
                plate = None
        if vehicle is not None and event.vehicle_image is not None:
            if not self._spools.crop(vehicle, jpeg(event.vehicle_image), tags, "vehicle"):
                vehicle = None
        return CropKeys(plate, vehicle)

    async def _beat_until(self, stop: asyncio.Event) -> None:
        interval = self.site.publish.heartbeat_s
        next_beat = time.monotonic()
        while not stop.is_set():
            if time.monotonic() >= next_beat:
                self._heartbeat()
                next_beat += interval
            if all(run.thread is not None and not run.thread.is_alive() for run in self.cameras):
                return  # every source ended (files)
            try:
                await asyncio.wait_for(stop.wait(), min(0.5, interval))
            except TimeoutError:
                pass

    def _heartbeat(self, final: bool = False) -> None:
        from edge.publish.events import camera_status_datum

        assert self._events is not None and self._crops is not None
        if self.target is not None and not final:
            self.target.refresh()
        now = time.monotonic()
        for run in self.cameras:
            stats = run.source.stats
            then, delivered_then = run.last_beat
            fps = (stats.delivered - delivered_then) / max(1e-3, now - then)
            run.last_beat = (now, stats.delivered)
            self.metrics.fps.labels(run.config.id).set(fps)
            self.metrics.up.labels(run.config.id).set(1 if stats.connected else 0)
            if stats.reconnects > run.reconnects_counted:
                self.metrics.reconnects.labels(run.config.id).inc(
                    stats.reconnects - run.reconnects_counted
                )
                run.reconnects_counted = stats.reconnects
            state = _state(run, fps, final)
            datum = camera_status_datum(
                self.site.site_id,
                run.config.id,
                state,
                name=run.config.name,
                fps=round(fps, 2),
                frames_dropped=run.dropped,
                last_read_at=run.last_read_at,
                message=run.error or stats.last_error,
                reported_at=time.time(),
            )
            self._spools.superseded(self.to.cameras_topic, run.config.id, "CameraStatus", datum)
        for name, sender in (("events", self._events), ("crops", self._crops)):
            spool = sender.spool
            self.metrics.spool_depth.labels(name).set(spool.depth())
            self.metrics.spool_bytes.labels(name).set(spool.size())
            if spool.fits(0):
                self.metrics.spool_full.labels(name).set(0)
            evicted, self._evicted_counted[name] = (
                spool.evicted - self._evicted_counted.get(name, 0),
                spool.evicted,
            )
            if evicted:
                logger.warning("%s spool full: evicted %d heartbeats or previews", name, evicted)
                self.metrics.spool_dropped.labels(name, "evicted").inc(evicted)
            counted = self._published_counted.get(name, 0)
            self.metrics.published.labels(name).inc(sender.stats.sent - counted)
            self._published_counted[name] = sender.stats.sent

    async def _drain(self, timeout_s: float) -> None:
        assert self._events is not None and self._crops is not None
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._events.spool.depth() == 0 and self._crops.spool.depth() == 0:
                return
            await asyncio.sleep(0.2)
        logger.warning(
            "spools not drained after %.0f s: %d events and %d crops stay on disk for the next "
            "start",
            timeout_s,
            self._events.spool.depth(),
            self._crops.spool.depth(),
        )


def engine_config(site: SiteConfig) -> EngineConfig:
    """The site's engine settings; with several cameras in one process and ``threads: 0``,
    one ONNX Runtime thread per model: the cameras' threads run models side by side, and
    several threads per call would only contend with them for the same cores."""
    config = site.engine
    if config.threads == 0 and len(site.enabled_cameras) > 1:
        return config.model_copy(update={"threads": 1})
    return config


def _state(run: CameraRun, fps: float, final: bool) -> str:
    """online (frames flowing), degraded (slower than half the target), offline."""
    if final or not run.source.stats.connected:
        return "offline"
    return "online" if fps >= 0.5 * run.config.fps else "degraded"


def _model_versions() -> dict[str, str]:
    from edge.manifest import ModelStore

    manifest = ModelStore().manifest
    return {name: f"{e.package}=={e.version}/{e.file}" for name, e in manifest.models.items()}


def destinations_from_settings() -> Destinations:
    """The broker, registry, topics and bucket of the process's ALPR_* settings."""
    from config.settings import get_settings

    settings = get_settings()
    topics = settings.topics
    return Destinations(
        bootstrap_servers=settings.kafka.bootstrap_servers,
        registry_url=settings.schema_registry.url,
        raw_topic=topics.raw,
        cameras_topic=topics.cameras,
        bucket=settings.s3.bucket,
        s3=settings.s3.client_kwargs(),
    )


def serve_metrics(metrics: EdgeMetrics, port: int) -> Any:
    """Serve /metrics on ``port`` (loopback and all interfaces); the server, to shut down."""
    from prometheus_client import start_http_server

    server, _thread = start_http_server(port, registry=metrics.registry)
    return server


def metrics_target(site: SiteConfig, port: int) -> TargetFile | None:
    """The target file announcing ``/metrics`` on ``port`` to a Prometheus, labelled with
    the site; None when the site names no target directory."""
    directory = site.publish.targets_dir()
    if directory is None:
        return None
    return TargetFile(directory, port, site.publish.metrics_target_host, {"site": site.site_id})


async def run_site(site: SiteConfig, processes: int = 1, index: int | None = None) -> int:
    """Run a site until SIGINT/SIGTERM or until every file source ends; events published.

    With ``processes`` > 1 the cameras are dealt round-robin to that many processes, each
    with its own spool directory and metrics port (the configured port plus its index).
    """
    if processes > 1:
        return await _run_processes(site, processes)
    import signal

    port = site.publish.metrics_port
    spool_dir = site.publish.spool_dir or alpr_home() / "spool" / site.site_id
    if index is not None:
        port = port + index if port else 0
        spool_dir = spool_dir / f"p{index}"
    target = metrics_target(site, port) if port else None
    worker = EdgeWorker(site, destinations_from_settings(), spool_dir, target=target)
    server = serve_metrics(worker.metrics, port) if port else None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        if target is not None:
            target.write()
        return await worker.run(stop)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        if target is not None:
            target.remove()  # first: Prometheus stops looking before the endpoint goes
        if server is not None:
            server.shutdown()


async def _run_processes(site: SiteConfig, processes: int) -> int:
    import multiprocessing

    cameras = site.enabled_cameras
    groups = [cameras[i::processes] for i in range(min(processes, len(cameras)))]
    context = multiprocessing.get_context("spawn")
    children = [
        context.Process(
            target=_process_main,
            args=(site.model_copy(update={"cameras": group}).model_dump_json(), i),
            name=f"alpr-edge-{i}",
        )
        for i, group in enumerate(groups)
    ]
    for child in children:
        child.start()
    for child in children:
        await asyncio.to_thread(child.join)
    failed = [c.name for c in children if c.exitcode != 0]
    if failed:
        raise RuntimeError(f"edge processes failed: {', '.join(failed)}")
    return -1  # counted by each process, which logs its own


def _process_main(site_json: str, index: int) -> None:
    from config.settings import get_settings
    from streams.log_format import install

    # A spawned process has no logging of its own: the same format as the parent's lines.
    install(get_settings().log_format, logging.WARNING)
    site = SiteConfig.model_validate_json(site_json)
    events = asyncio.run(run_site(site, 1, index))
    logger.info("edge process %d: %d plate events", index, events)
