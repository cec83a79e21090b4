"""One camera's frames to one plate event per vehicle pass.

Per frame: the motion gate skips still frames while nothing is tracked; every
``detect_every``-th analysed frame runs the vehicle detector and norfair matches the
detections to the tracks (its Kalman filters carry each track across the frames between);
a track matched in this detection gets its plate read, at most every ``ocr_every``-th
detection and until its reads settle. A track publishes one event when it ends, or once
``max_delay_s`` after its first read if it lingers; ``finish`` ends every track.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np
from norfair import Detection as NorfairDetection
from norfair import Tracker

from edge.cameras import CameraConfig, TrackingConfig
from edge.engine.colour import vehicle_colour
from edge.engine.detections import Box, Detections
from edge.engine.geometry import overlap, pad_box
from edge.engine.pipeline import Engine, PlateRead
from edge.engine.vehicles import NoVehicleDetector
from edge.formats import PlateFormats
from edge.video.motion import MotionGate, inside
from edge.video.region import learner_for
from edge.video.source import Frame
from edge.video.tracks import Track, TrackRead, Verdict, sharpness

#: Margin around a vehicle box searched for its plate (fraction of its size): detectors box
#: vehicles tightly and a plate sits at the box's edge.
VEHICLE_MARGIN = 0.08
#: Boxes of different classes overlapping this much of the smaller one are one vehicle.
SAME_VEHICLE_OVERLAP = 0.8
#: A plate belongs to the track's vehicle when the vehicle box holds this much of it.
OWN_PLATE_OVERLAP = 0.8
#: Margin around a tracked plate box (no vehicle detector) searched for the plate again.
PLATE_MARGIN = 0.5
#: Most detections a track waits between searches for a plate that were in vain.
MAX_MISS_WAIT = 8
#: Margins of the crop a plate is read again from, at its place in the vehicle's box
#: (fractions of the plate's width and height): the vehicle box jitters by a few pixels.
REREAD_MARGIN_X = 0.15
REREAD_MARGIN_Y = 0.4
#: Padding of the plate's box read at its known place (fractions of its width, height).
REREAD_PAD_X = 0.03
REREAD_PAD_Y = 0.06
#: A read at the plate's known place counts only when at least this confident (and fitting
#: a format); otherwise the plate is searched for again.
REREAD_MIN_CONFIDENCE = 0.7


@dataclass(frozen=True)
class TrackEvent:
    """The outcome of one track: what it read, its best shot and how it moved."""

    camera_id: str
    track_id: int
    text: str
    confidence: float
    char_confidences: list[float]
    valid: bool
    format: str | None
    frames_agreed: int
    reads: int
    #: Every read of the track: (text, confidence, image quality 0..1).
    candidates: list[tuple[str, float, float]]
    captured_at: float
    plate_box: Box
    vehicle_box: Box | None
    vehicle_type: str | None
    direction: str
    plate_crop: np.ndarray
    vehicle_image: np.ndarray | None
    reason: str
    #: An early event of a track still alive (cameras with ``preview: true``); the track's
    #: final event follows and supersedes it.
    preview: bool = False
    #: Body colour of the vehicle in the best shot (``edge.engine.colour``); None without one.
    vehicle_colour: str | None = None
    #: The plate's region when the camera's layouts that its text fits tell it (see
    #: ``PlateFormats.region_of``); ``None`` when several countries' fit.
    region: str | None = None

    def as_line(self) -> str:
        """One line for people: ``track TEXT confidence agreed/reads vehicle direction``."""
        flag = "" if self.valid else "  (fits no plate format)"
        return (
            f"track {self.track_id}: {self.text}  {self.confidence:.2f}  "
            f"{self.frames_agreed}/{self.reads} reads  {self.vehicle_type or 'no vehicle'}  "
            f"{self.direction}{flag}"
        )


@dataclass
class PipelineStats:
    """Counters of one camera's pipeline; read by metrics and heartbeats."""

    frames: int = 0
    analysed: int = 0
    detections: int = 0
    plate_reads: int = 0
    #: Plate reads at the plate's place in the vehicle, without searching for it.
    rereads: int = 0
    #: Searches for a track's plate (plate localisation and OCR).
    searches: int = 0
    #: Preview events (cameras with ``preview: true``).
    previews: int = 0
    #: Detections not run because the scene had not changed since the last one.
    replayed: int = 0
    events: int = 0
    weak_tracks: int = 0
    stage_ms: dict[str, float] = field(default_factory=dict)


logger = logging.getLogger(__name__)

StageObserver = Callable[[str, float], None]
#: Told when the camera's learnt country changes: (before, now), ``None`` for none.
CountryObserver = Callable[[str | None, str | None], None]
T = TypeVar("T")


class CameraPipeline:
    """Tracks, reads and decides for one camera; synchronous, one frame at a time."""

    def __init__(
        self,
        camera: CameraConfig,
        engine: Engine,
        tracking: TrackingConfig,
        formats: PlateFormats | None = None,
        observe: StageObserver | None = None,
        on_country: CountryObserver | None = None,
    ) -> None:
        self.camera = camera
        self.tracking = tracking
        self.engine = engine
        self.base_formats = formats or engine.formats
        self.formats = self.base_formats
        # A camera spanning several countries learns the one its plates are from (region.py).
        self.region_learner = learner_for(self.base_formats)
        # Plates are searched in each vehicle's crop: no second vehicle detection there.
        self.plate_engine = Engine(
            NoVehicleDetector(), engine.plates, engine.reader, engine.formats, search="frame"
        )
        self.gate = MotionGate(tracking.motion_threshold, camera.zone)
        self.tracker = Tracker(
            distance_function="iou",
            distance_threshold=1.0 - tracking.min_iou,
            hit_counter_max=tracking.lost_after,
            initialization_delay=0,
        )
        self.tracks: dict[int, Track] = {}
        self.stats = PipelineStats()
        self._observe = observe
        self._on_country = on_country
        self._since_detection = tracking.detect_every  # the first analysed frame detects
        self._hangover = 0
        self._last_objects: Detections | None = None

    @property
    def live_tracks(self) -> int:
        return len(self.tracks)

    def process(self, frame: Frame) -> list[TrackEvent]:
        """The events this frame completes (usually none)."""
        self.stats.frames += 1
        if self._timed("gate", lambda: self.gate.moving(frame)):
            # Keep looking for a while: a slow vehicle changes few pixels per frame.
            self._hangover = self.tracking.detect_every
        elif not self.tracks and self._hangover <= 0:
            return []
        self._hangover -= 1
        self.stats.analysed += 1
        self._since_detection += 1
        if self._since_detection < self.tracking.detect_every:
            return self._overdue(frame)
        self._since_detection = 0
        if self._last_objects is not None and self.gate.unchanged_since_mark():
            # A still scene (a parked car, the empty road after a pass): the detector would
            # find what it found last time, so the tracker gets that again (a track that
            # was not in it still runs out of detections and ends).
            objects = self._last_objects
            self.stats.replayed += 1
        else:
            objects = self._timed("detect", lambda: self._detect(frame))
            self._last_objects = objects
            self.gate.mark()
            self.stats.detections += 1
        hits = self._timed("track", lambda: self._track(objects, frame))
        for track, box in hits:
            if self._wants_read(track):
                started = time.perf_counter()
                self._read(track, box, frame)
                self._record("read", started)
        previews = self._previews() if self.camera.preview else []
        return previews + self._ended(frame) + self._overdue(frame)

    def finish(self) -> list[TrackEvent]:
        """End every track (end of a file, shutdown): their events."""
        events = [self._event(t, "finished") for t in self.tracks.values() if not t.emitted]
        self.tracks.clear()
        return self._count([e for e in events if e is not None])

    def _timed(self, stage: str, work: Callable[[], T]) -> T:
        started = time.perf_counter()
        result = work()
        self._record(stage, started)
        return result

    def _record(self, stage: str, started: float) -> None:
        self._add_stage(stage, (time.perf_counter() - started) * 1000.0)

    def _add_stage(self, stage: str, elapsed: float) -> None:
        self.stats.stage_ms[stage] = self.stats.stage_ms.get(stage, 0.0) + elapsed
        if self._observe is not None:
            self._observe(stage, elapsed)

    def _detect(self, frame: Frame) -> Detections:
        vehicles = self.engine.vehicles
        if isinstance(vehicles, NoVehicleDetector):
            found = self.engine.plates.locate(frame.image)
            return Detections(found.boxes, found.scores, np.zeros_like(found.class_ids), ["plate"])
        if vehicles.input_width is None or vehicles.input_width >= frame.width:
            return vehicles.detect(frame.image)
        small = frame.scaled(vehicles.input_width)
        return vehicles.detect(small, small.shape[1] / frame.width)

    def _track(self, objects: Detections, frame: Frame) -> list[tuple[Track, Box]]:
        objects = _one_box_per_vehicle(objects)
        detections = [
            NorfairDetection(
                points=np.array([[d.box[0], d.box[1]], [d.box[2], d.box[3]]], dtype=np.float64),
                scores=np.array([d.score, d.score]),
                # The class goes in data, not label: norfair never matches across labels,
                # and a detector that flips between car and truck would split the track.
                data=d.label,
            )
            for d in objects
        ]
        active = self.tracker.update(detections=detections)
        hits = []
        for tracked in active:
            detection = tracked.last_detection
            if tracked.id is None or not any(detection is d for d in detections):
                continue  # carried by the Kalman filter, not seen in this frame
            x1, y1, x2, y2 = (float(v) for v in np.asarray(detection.points).ravel())
            box: Box = (x1, y1, x2, y2)
            track = self.tracks.get(tracked.id)
            if track is None:
                track = self.tracks[tracked.id] = Track(
                    tracked.id, frame.captured_at, frame.captured_at
                )
            track.last_seen = frame.captured_at
            track.labels[str(detection.data)] += 1
            track.centres.append(((x1 + x2) / 2 / frame.width, (y1 + y2) / 2 / frame.height))
            track.detections_since_read += 1
            hits.append((track, box))
        return hits

    def _reading(self, track: Track) -> bool:
        return (
            not track.emitted
            and len(track.reads) < self.tracking.max_reads
            and not track.settled(self.tracking.settle_reads)
        )

    def _wants_read(self, track: Track) -> bool:
        if not self._reading(track):
            return False
        if track.misses:
            # Searched in vain: wait twice as many detections after each miss, as a plate
            # too small or at an angle now stays so for a while (a track with no plate at
            # all would search on every detection).
            return track.detections_since_read >= min(2**track.misses, MAX_MISS_WAIT)
        return not track.reads or track.detections_since_read >= self.tracking.ocr_every

    def _read(self, track: Track, box: Box, frame: Frame) -> None:
        if self._reread(track, box, frame):
            return
        margin = PLATE_MARGIN if track.vehicle_type is None else VEHICLE_MARGIN
        x1, y1, x2, y2 = _inside(pad_box(box, margin, margin), frame)
        if x2 - x1 < 8 or y2 - y1 < 8:
            return
        region = frame.region((x1, y1, x2, y2))
        track.detections_since_read = 0
        result = self.plate_engine.read(region, self.formats)
        self.stats.searches += 1
        self._add_stage("locate", result.timings.get("plates", 0.0))
        self._add_stage("ocr", result.timings.get("ocr", 0.0))
        plate = _main_plate(result.plates, x1, y1, box, frame, self.camera)
        if plate is None:
            track.misses += 1
            return
        track.misses = 0
        px1, py1, px2, py2 = plate.box
        plate_box: Box = (px1 + x1, py1 + y1, px2 + x1, py2 + y1)
        self._keep(track, plate.text, plate.confidence, plate_box, box, frame)
        if track.vehicle_type is not None:
            track.plate_in_vehicle = (_relative(plate_box, box), plate.box_score)

    def _reread(self, track: Track, box: Box, frame: Frame) -> bool:
        """Read the plate where it sat in the vehicle's box at the last search, without
        searching for it (OCR only); ``False`` when that read does not fit a plate format
        or is not confident, and the plate has to be searched for again."""
        if not self.tracking.reuse_plate_box or track.plate_in_vehicle is None:
            return False
        relative, score = track.plate_in_vehicle
        plate_box = _absolute(relative, box)
        if not inside(self.camera.zone, *_centre(plate_box, frame)):
            return False
        # The vehicle's box jitters from detection to detection: read a wider crop.
        x1, y1, x2, y2 = _inside(pad_box(plate_box, REREAD_MARGIN_X, REREAD_MARGIN_Y), frame)
        if x2 - x1 < 8 or y2 - y1 < 4:
            return False
        region = frame.region((x1, y1, x2, y2))
        started = time.perf_counter()
        # Read a little wider than the box found: a box shifted by the jitter cuts edge
        # characters, which the search's tight box does not.
        wide = pad_box(plate_box, REREAD_PAD_X, REREAD_PAD_Y)
        local: Box = (wide[0] - x1, wide[1] - y1, wide[2] - x1, wide[3] - y1)
        plate = self.plate_engine.read_at(region, local, score, self.formats)
        self._record("ocr", started)
        if plate is None or not plate.valid or plate.confidence < REREAD_MIN_CONFIDENCE:
            track.plate_in_vehicle = None  # search for it at the next read
            return False
        track.detections_since_read = 0
        self.stats.rereads += 1
        self._keep(track, plate.text, plate.confidence, plate_box, box, frame)
        return True

    def _keep(
        self, track: Track, text: str, confidence: float, plate_box: Box, box: Box, frame: Frame
    ) -> None:
        plate_crop = frame.region(plate_box)
        self.stats.plate_reads += 1
        vehicle = track.vehicle_type is not None
        track.reads.append(
            TrackRead(
                text=text,
                confidence=confidence,
                captured_at=frame.captured_at,
                plate_box=plate_box,
                vehicle_box=box if vehicle else None,
                plate_crop=plate_crop,
                vehicle_crop=frame.region(box) if vehicle else None,
                sharpness=sharpness(plate_crop),
            )
        )

    def _ended(self, frame: Frame) -> list[TrackEvent]:
        alive = {o.id for o in self.tracker.tracked_objects if o.id is not None}
        events = []
        for track_id in [t for t in self.tracks if t not in alive]:
            track = self.tracks.pop(track_id)
            if not track.emitted:
                events.append(self._event(track, "ended"))
        return self._count([e for e in events if e is not None])

    def _overdue(self, frame: Frame) -> list[TrackEvent]:
        events = []
        for track in self.tracks.values():
            first = track.first_read_at
            overdue = first is not None and frame.captured_at - first >= self.tracking.max_delay_s
            if overdue and not track.emitted:
                events.append(self._event(track, "max_delay"))
        return self._count([e for e in events if e is not None])

    def _count(self, events: list[TrackEvent]) -> list[TrackEvent]:
        self.stats.events += len(events)
        return events

    def _previews(self) -> list[TrackEvent]:
        """Preview events of live tracks whose reads first fit a plate format confidently."""
        events = []
        for track in self.tracks.values():
            if track.emitted or track.previewed or not track.reads:
                continue
            verdict = track.verdict(self.formats)
            if verdict is None or not verdict.valid:
                continue
            if verdict.confidence < self.tracking.min_confidence:
                continue
            track.previewed = True
            events.append(self._track_event(track, verdict, "preview", preview=True))
        self.stats.previews += len(events)
        return events

    def _event(self, track: Track, reason: str) -> TrackEvent | None:
        track.emitted = True
        verdict = track.verdict(self.formats)
        if verdict is None:
            return None
        # A previewed track always ends with its final event: it supersedes the preview
        # consumers have seen, even when the later reads made the vote less sure.
        if verdict.confidence < self.tracking.min_confidence and not track.previewed:
            self.stats.weak_tracks += 1
            return None
        event = self._track_event(track, verdict, reason)
        self._learn_region(event.region)
        return event

    def _learn_region(self, region: str | None) -> None:
        """Count a final read's region; prefer the country the camera learnt, if any."""
        if self.region_learner is None:
            return
        self.region_learner.add(region)
        country = self.region_learner.country()
        if country != self.formats.preferred:
            logger.info(
                "camera %s: %s; other countries' layouts cost %.1f",
                self.camera.id,
                f"most plates are {country}" if country else "no country holds most plates",
                self.base_formats.config.foreign_cost if country else 0.0,
            )
            if self._on_country is not None:
                self._on_country(self.formats.preferred, country)
            self.formats = self.base_formats.preferring(country)

    def _track_event(
        self, track: Track, verdict: Verdict, reason: str, preview: bool = False
    ) -> TrackEvent:
        best = track.best_shot(verdict.text)
        return TrackEvent(
            camera_id=self.camera.id,
            track_id=track.id,
            text=verdict.text,
            confidence=verdict.confidence,
            char_confidences=verdict.char_confidences,
            valid=verdict.valid,
            format=verdict.format,
            region=self.formats.region_of(verdict.text) if verdict.valid else None,
            frames_agreed=verdict.agreed,
            reads=len(track.reads),
            candidates=[(r.text, r.confidence, round(r.quality, 4)) for r in track.reads],
            captured_at=best.captured_at,
            plate_box=best.plate_box,
            vehicle_box=best.vehicle_box,
            vehicle_type=track.vehicle_type,
            direction=track.direction(self.camera.line),
            plate_crop=best.plate_crop,
            vehicle_image=best.vehicle_crop,
            reason=reason,
            preview=preview,
            vehicle_colour=_colour(best.vehicle_crop),
        )


def _colour(vehicle: np.ndarray | None) -> str | None:
    """The colour name of a vehicle crop (the detector's box, nothing around it)."""
    if vehicle is None:
        return None
    height, width = vehicle.shape[:2]
    return vehicle_colour(vehicle, (0, 0, width, height))


def _one_box_per_vehicle(objects: Detections) -> Detections:
    """Drop boxes mostly inside a better-scored box of another class (a car also boxed as a
    truck), which would otherwise start a second track reading the same plate."""
    order = np.argsort(-objects.scores)
    kept: list[int] = []
    for i in order:
        if all(
            objects.class_ids[i] == objects.class_ids[k]
            or overlap(_box(objects.boxes[i]), _box(objects.boxes[k])) < SAME_VEHICLE_OVERLAP
            for k in kept
        ):
            kept.append(int(i))
    return objects.select(np.array(sorted(kept), dtype=np.intp))


def _box(row: np.ndarray) -> Box:
    x1, y1, x2, y2 = (float(v) for v in row)
    return x1, y1, x2, y2


def _inside(box: Box, frame: Frame) -> Box:
    """``box`` clipped to the frame."""
    return (
        max(0.0, box[0]),
        max(0.0, box[1]),
        min(float(frame.width), box[2]),
        min(float(frame.height), box[3]),
    )


def _centre(box: Box, frame: Frame) -> tuple[float, float]:
    """The box's centre as fractions of the frame's width and height."""
    return (box[0] + box[2]) / 2 / frame.width, (box[1] + box[3]) / 2 / frame.height


def _relative(inner: Box, outer: Box) -> Box:
    """``inner`` in fractions of ``outer``'s width and height, from its top left corner."""
    width, height = max(outer[2] - outer[0], 1e-6), max(outer[3] - outer[1], 1e-6)
    return (
        (inner[0] - outer[0]) / width,
        (inner[1] - outer[1]) / height,
        (inner[2] - outer[0]) / width,
        (inner[3] - outer[1]) / height,
    )


def _absolute(relative: Box, outer: Box) -> Box:
    """The inverse of ``_relative``: fractions of ``outer`` back to pixels."""
    width, height = outer[2] - outer[0], outer[3] - outer[1]
    return (
        outer[0] + relative[0] * width,
        outer[1] + relative[1] * height,
        outer[0] + relative[2] * width,
        outer[1] + relative[3] * height,
    )


def _main_plate(
    plates: list[PlateRead], x0: float, y0: float, vehicle: Box, frame: Frame, camera: CameraConfig
) -> PlateRead | None:
    """The track's plate among those found in its crop: in the zone, inside the vehicle's
    box rather than a neighbour's showing in the margin, then the most confident."""
    candidates = []
    for plate in plates:
        box: Box = (plate.box[0] + x0, plate.box[1] + y0, plate.box[2] + x0, plate.box[3] + y0)
        centre = ((box[0] + box[2]) / 2 / frame.width, (box[1] + box[3]) / 2 / frame.height)
        if inside(camera.zone, *centre):
            candidates.append((overlap(box, vehicle) >= OWN_PLATE_OVERLAP, plate))
    best = max(candidates, key=lambda c: (c[0], c[1].valid, c[1].confidence), default=None)
    return None if best is None else best[1]
