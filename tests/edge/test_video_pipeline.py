"""The per-camera pipeline's decisions with stand-in models: one event per track, when."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from edge.cameras import CameraConfig, DirectionLine, SiteConfig, TrackingConfig
from edge.config import Formats
from edge.engine.detections import Box, Detections
from edge.engine.geometry import Image
from edge.engine.ocr import PlateReader, TextRead
from edge.engine.pipeline import Engine
from edge.engine.vehicles import COCO_CLASSES, VehicleDetector
from edge.formats import PlateFormats
from edge.publish.events import plate_event_datum
from edge.video.pipeline import CameraPipeline, TrackEvent
from edge.video.region import RegionLearner
from edge.video.source import Frame
from edge.worker import Destinations, EdgeWorker
from streams.text import plate_event_text_fault
from tests.edge.fakes import FakePlates, checked

CAR, TRUCK = 2, 7
W, H = 320, 240


class ScriptedVehicles(VehicleDetector):
    """Returns the next frame's boxes from a script: [(box, class id), ...] per call."""

    def __init__(self, script: Sequence[list[tuple[Box, int]]]) -> None:
        self.script = list(script)
        self.calls = 0

    def detect(self, frame: Image, scale: float = 1.0) -> Detections:
        found = self.script[min(self.calls, len(self.script) - 1)]
        self.calls += 1
        return Detections(
            np.asarray([b for b, _ in found], np.float32).reshape(-1, 4),
            np.full(len(found), 0.9, np.float32),
            np.asarray([c for _, c in found], np.int64),
            COCO_CLASSES,
        )


class SequenceReader(PlateReader):
    """Reads the next text of a list for each call (all margins read alike)."""

    def __init__(self, texts: Sequence[str]) -> None:
        self.texts = list(texts)
        self.calls = 0

    def read(self, crops: Sequence[Image], formats: PlateFormats) -> list[TextRead]:
        text = self.texts[min(self.calls, len(self.texts) - 1)]
        self.calls += 1
        return [checked(TextRead(text, 0.9, 1), formats) for _ in crops]


def _pipeline(
    script: Sequence[list[tuple[Box, int]]],
    texts: Sequence[str],
    region: str = "cz",
    **tracking: float,
) -> tuple[CameraPipeline, ScriptedVehicles, SequenceReader]:
    vehicles = ScriptedVehicles(script)
    reader = SequenceReader(texts)
    formats = PlateFormats(Formats(region=region))
    engine = Engine(vehicles, FakePlates([((10.0, 10.0, 60.0, 25.0), 0.9)]), reader, formats)
    camera = CameraConfig(id="cam", url="x", line=DirectionLine(start=(0, 0.5), end=(1, 0.5)))
    config = TrackingConfig(motion_threshold=0.0, detect_every=1, **tracking)  # type: ignore[arg-type]
    return CameraPipeline(camera, engine, config), vehicles, reader


def _frames(count: int, start: int = 0, bgr: tuple[int, int, int] = (0, 0, 0)) -> list[Frame]:
    image = np.full((H, W, 3), bgr, np.uint8)
    return [
        Frame.from_image(image, i, i / 10, 1000.0 + i / 10) for i in range(start, start + count)
    ]


def _run(pipeline: CameraPipeline, frames: list[Frame]) -> list[TrackEvent]:
    events = []
    for frame in frames:
        events += pipeline.process(frame)
    return events


def test_a_pass_gives_one_event_with_its_vote_direction_and_majority_class() -> None:
    # A car drives down across the middle line; the detector calls it a truck now and then.
    script = [
        [((100.0, 20.0 + 10 * i, 200.0, 100.0 + 10 * i), TRUCK if i % 3 == 2 else CAR)]
        for i in range(10)
    ]
    script += [[] for _ in range(6)]  # gone
    pipeline, _, reader = _pipeline(script, ["5AU5347", "5AU5341", "5AU5341", "5AU5341"])
    events = _run(pipeline, _frames(16))
    assert len(events) == 1
    event = events[0]
    assert (event.text, event.valid, event.frames_agreed, event.reads) == ("5AU5341", True, 3, 4)
    assert (event.direction, event.vehicle_type, event.reason) == ("approaching", "car", "ended")
    assert reader.calls == 4  # three agreeing reads settle the track: no more OCR
    assert pipeline.finish() == []


def test_the_event_names_the_vehicle_colour_of_its_best_shot_and_publishes_it() -> None:
    script = [[((100.0, 20.0 + 10 * i, 200.0, 100.0 + 10 * i), CAR)] for i in range(6)]
    script += [[] for _ in range(6)]
    pipeline, _, _ = _pipeline(script, ["5AU5341"])
    (event,) = _run(pipeline, _frames(12, bgr=(30, 30, 200)))  # red paint
    assert event.vehicle_colour == "red"
    datum = plate_event_datum("site-1", event, {}, None)
    assert datum["vehicle_colour"] == "red"
    assert plate_event_text_fault(datum) is None


def test_the_event_publishes_the_region_only_when_the_camera_layouts_tell_it() -> None:
    script = [[((100.0, 20.0 + 10 * i, 200.0, 100.0 + 10 * i), CAR)] for i in range(6)]
    script += [[] for _ in range(6)]
    pipeline, _, _ = _pipeline(script, ["5AU5341"])
    (event,) = _run(pipeline, _frames(12))
    assert (event.format, event.region) == ("cz:0", "cz")
    assert plate_event_datum("site-1", event, {}, None)["region"] == "CZ"
    # A camera in Europe: MLB803 fits Belgian, Swedish, Lithuanian ... layouts alike. The
    # event names one layout it fits, and no region.
    pipeline, _, _ = _pipeline(script, ["MLB803"], region="eu")
    (event,) = _run(pipeline, _frames(12))
    assert event.valid and event.format is not None and event.region is None
    datum = plate_event_datum("site-1", event, {}, None)
    assert datum["region"] is None
    assert plate_event_text_fault(datum) is None


def test_a_camera_spanning_several_countries_learns_its_country_from_its_events() -> None:
    script = [[((100.0, 20.0 + 10 * i, 200.0, 100.0 + 10 * i), CAR)] for i in range(6)]
    script += [[] for _ in range(6)]
    # One country's camera has nothing to learn.
    pipeline, _, _ = _pipeline(script, ["5AU5341"])
    assert pipeline.region_learner is None
    pipeline, _, _ = _pipeline(script, ["5AU5341"], region="eu")
    assert pipeline.region_learner is not None and pipeline.formats.preferred is None
    pipeline.region_learner = RegionLearner(window=1, min_named=1, share=1.0)
    (event,) = _run(pipeline, _frames(12))
    assert event.region == "cz"
    assert pipeline.formats.preferred == "cz"
    assert pipeline.base_formats.preferred is None


def test_the_worker_reports_the_country_its_camera_learnt(tmp_path: Path) -> None:
    script = [[((100.0, 20.0 + 10 * i, 200.0, 100.0 + 10 * i), CAR)] for i in range(6)]
    script += [[] for _ in range(6)]
    scripted, _, _ = _pipeline(script, ["5AU5341"])
    camera = scripted.camera.model_copy(update={"region": "eu"})
    site = SiteConfig.model_validate(
        {"site_id": "depot", "cameras": [camera], "tracking": scripted.tracking}
    )
    worker = EdgeWorker(
        site, Destinations("127.0.0.1:9", "http://127.0.0.1:9", "r", "c", "b", {}), tmp_path
    )
    # The worker's own pipeline for the camera, on the scripted models.
    pipeline = worker._pipeline(camera, scripted.engine, None)
    pipeline.region_learner = RegionLearner(window=2, min_named=1, share=1.0)

    def learnt() -> dict[str, float]:
        return {
            s.labels["country"]: s.value
            for metric in worker.metrics.registry.collect()
            if metric.name == "alpr_edge_camera_country"
            for s in metric.samples
            if s.labels["camera"] == camera.id
        }

    assert learnt() == {}  # nothing learnt yet: no series
    (event,) = _run(pipeline, _frames(12))
    assert event.region == "cz" and learnt() == {"cz": 1.0}
    pipeline._learn_region("de")  # half the window is German now: no country holds most
    assert pipeline.formats.preferred is None and learnt() == {}


def test_a_lingering_track_publishes_once_after_the_maximum_delay() -> None:
    parked = [[((100.0, 50.0, 200.0, 150.0), CAR)]]
    pipeline, _, _ = _pipeline(parked, ["5AU5341"], max_delay_s=2.0)
    events = _run(pipeline, _frames(40))  # 4 seconds of frames
    assert [e.reason for e in events] == ["max_delay"]
    assert events[0].direction == "unknown"
    assert pipeline.finish() == []  # it published already


def test_still_frames_with_no_track_are_not_analysed() -> None:
    pipeline, vehicles, _ = _pipeline([[]], ["5AU5341"])
    gate = TrackingConfig(motion_threshold=0.01, detect_every=1)
    gated = CameraPipeline(pipeline.camera, pipeline.engine, gate)
    _run(gated, _frames(20))
    assert vehicles.calls == 1  # the first frame (nothing to compare with), then none
    assert gated.stats.analysed == 1


def test_a_preview_camera_publishes_the_first_confident_read_early_then_the_final() -> None:
    script = [[((100.0, 20.0 + 10 * i, 200.0, 100.0 + 10 * i), CAR)] for i in range(10)]
    script += [[] for _ in range(6)]
    pipeline, _, _ = _pipeline(script, ["5AU5347", "5AU5341", "5AU5341", "5AU5341"])
    previewing = CameraPipeline(
        pipeline.camera.model_copy(update={"preview": True}), pipeline.engine, pipeline.tracking
    )
    timeline = [(frame.index, e) for frame in _frames(16) for e in previewing.process(frame)]
    (first_at, preview), (final_at, final) = timeline
    assert (preview.preview, preview.reason, preview.text) == (True, "preview", "5AU5347")
    assert first_at == 0  # the first read fits the format: published at once
    assert (final.preview, final.reason, final.text) == (False, "ended", "5AU5341")
    assert final_at > first_at and final.track_id == preview.track_id
    assert previewing.stats.previews == 1 and previewing.finish() == []


def test_a_camera_without_previews_publishes_none() -> None:
    script = [[((100.0, 20.0, 200.0, 100.0), CAR)]] * 5 + [[]] * 6
    pipeline, _, _ = _pipeline(script, ["5AU5341"])
    events = _run(pipeline, _frames(11))
    assert [(e.preview, e.reason) for e in events] == [(False, "ended")]


def test_a_still_scene_replays_the_last_detection_instead_of_running_the_detector() -> None:
    parked = [[((100.0, 50.0, 200.0, 150.0), CAR)]]
    pipeline, vehicles, _ = _pipeline(parked, ["5AU5341"], max_delay_s=2.0)
    still = TrackingConfig(motion_threshold=0.01, detect_every=1, max_delay_s=2.0)
    gated = CameraPipeline(pipeline.camera, pipeline.engine, still)
    events = _run(gated, _frames(40))  # identical frames: the car is parked
    assert vehicles.calls == 1 and gated.stats.replayed == 39
    assert [e.reason for e in events] == ["max_delay"]  # tracked all along, read once
    assert gated.live_tracks == 1
